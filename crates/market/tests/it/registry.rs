//! `ModelRegistry` on every backend: publish, versions, parents with payees resolved at
//! publication, deprecation, two-step ownership, the views, and each refusal with its named
//! error (empty name or CID, zero or duplicate file hash, too many parents, zero or excessive
//! shares, unknown listings and models, a model naming itself, strangers).

use alara_chain::testing::backends;
use alara_contracts::ModelRegistry::ModelRegistryErrors as E;
use alara_market::model::chain::{self, Format, Parent, ParentKind, ParentRef};
use alara_market::Token;
use alloy::primitives::{Address, B256, U256};

use crate::assert_err;
use crate::model_fixture::*;
use crate::support::addr;

#[tokio::test]
async fn publish_and_publish_version_record_versions_and_parents() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let (owner, base_owner) = (t.c(OWNER), t.c(BASE_OWNER));
        assert_eq!(owner.registry().modelCount().call().await.unwrap(), U256::ZERO);
        let base = base_owner.publish("base", Token::Eth, &version(1), &[]).await.unwrap();
        assert_eq!(base.value, 1, "{backend}: model ids start at 1");
        let m = owner.model(1).await.unwrap();
        assert_eq!(
            (m.owner, m.token, m.versions, m.name.as_str()),
            (addr(BASE_OWNER), Token::Eth, 1, "base")
        );
        let v = owner.version(1, 1).await.unwrap();
        assert_eq!(v.file_hash, B256::repeat_byte(1));
        assert_eq!(v.card_hash, version(1).card_hash);
        assert_eq!(v.cid, version(1).cid);
        assert_eq!(v.format, Format::Safetensors);
        assert_eq!(
            (v.price_per_call, v.license_price),
            (U256::from(PRICE), U256::from(10 * PRICE))
        );
        assert_eq!(v.published_at, t.m.block_time(base.block).await, "{backend}");
        assert!(!v.deprecated);
        assert!(owner.parents(1, 1).await.unwrap().is_empty());

        let parents = [
            ParentRef { kind: ParentKind::Dataset, id: t.listing, bps: 1_000 },
            ParentRef { kind: ParentKind::Model, id: base.value, bps: 9_000 },
        ];
        let model = owner
            .publish("fine-tuned", Token::Erc20(t.m.token), &version(2), &parents)
            .await
            .unwrap()
            .value;
        assert_eq!(model, 2);
        assert_eq!(
            owner.parents(model, 1).await.unwrap(),
            vec![
                Parent {
                    kind: ParentKind::Dataset,
                    id: t.listing,
                    payee: addr(DATA_SELLER),
                    bps: 1_000
                },
                Parent {
                    kind: ParentKind::Model,
                    id: base.value,
                    payee: addr(BASE_OWNER),
                    bps: 9_000
                },
            ],
            "{backend}: payees resolved at publication"
        );
        let v2 = owner.publish_version(model, &version(3), &parents[..1]).await.unwrap();
        assert_eq!(v2.value, 2, "{backend}");
        assert_eq!(owner.model(model).await.unwrap().versions, 2);
        assert_eq!(owner.model(model).await.unwrap().token, Token::Erc20(t.m.token));
        assert_eq!(owner.parents(model, 2).await.unwrap().len(), 1);
        assert_eq!(owner.by_file_hash(B256::repeat_byte(3)).await.unwrap(), Some((model, 2)));
        assert_eq!(owner.by_file_hash(B256::repeat_byte(2)).await.unwrap(), Some((model, 1)));
        assert_eq!(owner.by_file_hash(B256::repeat_byte(9)).await.unwrap(), None);
        assert_eq!(owner.registry().modelCount().call().await.unwrap(), U256::from(2));
        assert_eq!(owner.registry().DATA_MARKET().call().await.unwrap(), t.m.address);
    }
}

#[tokio::test]
async fn bad_publications_are_refused_by_name() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let owner = t.c(OWNER);
        let model = t.publish(1, Token::Eth, &[]).await;
        let v = version(2);
        let r = |kind, id, bps| ParentRef { kind, id, bps };

        assert_err!(
            registry_err(owner.publish("", Token::Eth, &v, &[]).await, backend),
            E::EmptyName(_),
            backend
        );
        let mut no_cid = v.clone();
        no_cid.cid.clear();
        assert_err!(
            registry_err(owner.publish("m", Token::Eth, &no_cid, &[]).await, backend),
            E::EmptyCid(_),
            backend
        );
        let mut no_hash = v.clone();
        no_hash.file_hash = B256::ZERO;
        assert_err!(
            registry_err(owner.publish("m", Token::Eth, &no_hash, &[]).await, backend),
            E::ZeroFileHash(_),
            backend
        );
        match registry_err(owner.publish("m", Token::Eth, &version(1), &[]).await, backend) {
            E::AlreadyPublished(e) => {
                assert_eq!((e.modelId, e.version), (U256::from(model), 1), "{backend}")
            }
            e => panic!("{backend}: expected AlreadyPublished, got {e:?}"),
        }
        assert_err!(
            registry_err(owner.publish_version(model, &version(1), &[]).await, backend),
            E::AlreadyPublished(_),
            backend
        );

        let nine = vec![r(ParentKind::Dataset, t.listing, 1); 9];
        assert_err!(
            registry_err(owner.publish("m", Token::Eth, &v, &nine).await, backend),
            E::TooManyParents(_),
            backend
        );
        let eight = vec![r(ParentKind::Dataset, t.listing, 1); 8];
        owner.publish("eight parents", Token::Eth, &version(7), &eight).await.unwrap();
        assert_err!(
            registry_err(
                owner.publish("m", Token::Eth, &v, &[r(ParentKind::Dataset, t.listing, 0)]).await,
                backend
            ),
            E::ZeroShare(_),
            backend
        );
        let over = [r(ParentKind::Dataset, t.listing, 5_000), r(ParentKind::Model, model, 5_001)];
        assert_err!(
            registry_err(owner.publish("m", Token::Eth, &v, &over).await, backend),
            E::SharesAboveWhole(_),
            backend
        );
        let whole = [r(ParentKind::Dataset, t.listing, 5_000), r(ParentKind::Model, model, 5_000)];
        owner.publish("all to parents", Token::Eth, &version(8), &whole).await.unwrap();

        assert_err!(
            registry_err(
                owner.publish("m", Token::Eth, &v, &[r(ParentKind::Dataset, 99, 10)]).await,
                backend
            ),
            E::UnknownListing(_),
            backend
        );
        assert_err!(
            registry_err(
                owner.publish("m", Token::Eth, &v, &[r(ParentKind::Model, 99, 10)]).await,
                backend
            ),
            E::UnknownModel(_),
            backend
        );
        assert_err!(
            registry_err(
                owner.publish_version(model, &v, &[r(ParentKind::Model, model, 10)]).await,
                backend
            ),
            E::SelfParent(_),
            backend
        );
        // A new model naming the id it is about to get.
        let next = owner.registry().modelCount().call().await.unwrap().to::<u64>() + 1;
        assert_err!(
            registry_err(
                owner.publish("m", Token::Eth, &v, &[r(ParentKind::Model, next, 10)]).await,
                backend
            ),
            E::SelfParent(_),
            backend
        );
        assert_err!(
            registry_err(t.c(STRANGER).publish_version(model, &v, &[]).await, backend),
            E::NotOwner(_),
            backend
        );
        assert_err!(
            registry_err(owner.publish_version(99, &v, &[]).await, backend),
            E::UnknownModel(_),
            backend
        );
        assert_err!(registry_err(owner.model(99).await, backend), E::UnknownModel(_), backend);
        assert_err!(
            registry_err(owner.version(model, 2).await, backend),
            E::UnknownVersion(_),
            backend
        );
        assert_err!(
            registry_err(owner.parents(model, 0).await, backend),
            E::UnknownVersion(_),
            backend
        );
    }
}

#[tokio::test]
async fn deprecation_is_for_the_owner_and_happens_once() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let model = t.publish(1, Token::Eth, &[]).await;
        assert_err!(
            registry_err(t.c(STRANGER).deprecate(model, 1).await, backend),
            E::NotOwner(_),
            backend
        );
        assert_err!(
            registry_err(t.c(OWNER).deprecate(model, 2).await, backend),
            E::UnknownVersion(_),
            backend
        );
        t.c(OWNER).deprecate(model, 1).await.unwrap();
        assert!(t.c(OWNER).version(model, 1).await.unwrap().deprecated, "{backend}");
        assert_err!(
            registry_err(t.c(OWNER).deprecate(model, 1).await, backend),
            E::AlreadyDeprecated(_),
            backend
        );
    }
}

#[tokio::test]
async fn ownership_moves_in_two_steps() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let model = t.publish(1, Token::Eth, &[]).await;
        let (owner, next, stranger) = (t.c(OWNER), t.c(BASE_OWNER), t.c(STRANGER));
        assert_err!(
            registry_err(stranger.transfer_ownership(model, addr(STRANGER)).await, backend),
            E::NotOwner(_),
            backend
        );
        assert_err!(
            registry_err(next.accept_ownership(model).await, backend),
            E::NotPendingOwner(_),
            backend
        );
        owner.transfer_ownership(model, addr(BASE_OWNER)).await.unwrap();
        assert_eq!(
            owner.registry().pendingOwner(U256::from(model)).call().await.unwrap(),
            addr(BASE_OWNER)
        );
        assert_eq!(
            owner.model(model).await.unwrap().owner,
            addr(OWNER),
            "{backend}: nothing changes yet"
        );
        assert_err!(
            registry_err(stranger.accept_ownership(model).await, backend),
            E::NotPendingOwner(_),
            backend
        );
        next.accept_ownership(model).await.unwrap();
        assert_eq!(owner.model(model).await.unwrap().owner, addr(BASE_OWNER), "{backend}");
        assert_eq!(
            owner.registry().pendingOwner(U256::from(model)).call().await.unwrap(),
            Address::ZERO
        );
        assert_err!(
            registry_err(owner.publish_version(model, &version(2), &[]).await, backend),
            E::NotOwner(_),
            backend
        );
        next.publish_version(model, &version(2), &[]).await.unwrap();
        // A proposal can be cancelled.
        next.transfer_ownership(model, addr(OWNER)).await.unwrap();
        next.transfer_ownership(model, Address::ZERO).await.unwrap();
        assert_err!(
            registry_err(owner.accept_ownership(model).await, backend),
            E::NotPendingOwner(_),
            backend
        );
        assert_err!(
            registry_err(owner.accept_ownership(99).await, backend),
            E::UnknownModel(_),
            backend
        );
    }
}

#[tokio::test]
async fn the_registry_needs_a_data_market_contract() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let r = chain::deploy_registry(t.p(0), addr(7)).await;
        assert_err!(registry_err(r, backend), E::NotAContract(_), backend);
    }
}
