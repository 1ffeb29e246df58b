//! `ModelLicense` on every backend: buying a licence (ETH and ERC-20), the exact split,
//! withdrawal, transfer, `holds` for exactly one version, the licensed-call digest against
//! the Rust one, and each refusal with its named error (not for sale, deprecated, wrong
//! payment, fee-on-transfer, re-entry from a token hook on withdraw).

use alara_chain::testing::backends;
use alara_contracts::ModelLicense::{self, ModelLicenseErrors as E};
use alara_contracts::ModelRegistry::ModelRegistryErrors;
use alara_contracts::{FeeOnTransferToken, HookedToken, ReentrantPayee};
use alara_market::model::chain::{license_id, ParentKind, ParentRef, Payer};
use alara_market::model::voucher::{license_domain, LicensedCall};
use alara_market::Token;
use alloy::primitives::{B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolInterface};

use crate::assert_err;
use crate::model_fixture::*;
use crate::support::addr;

#[tokio::test]
async fn a_licence_is_bought_split_exactly_and_held_for_one_version() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let base =
            t.c(BASE_OWNER).publish("base", Token::Eth, &version(1), &[]).await.unwrap().value;
        let base_b =
            t.c(STRANGER).publish("base b", Token::Eth, &version(2), &[]).await.unwrap().value;
        let parents = [
            ParentRef { kind: ParentKind::Dataset, id: t.listing, bps: 700 },
            ParentRef { kind: ParentKind::Model, id: base, bps: 1_100 },
            ParentRef { kind: ParentKind::Model, id: base_b, bps: 3 },
        ];
        let model = t.publish(3, Token::Eth, &parents).await;
        t.c(OWNER).publish_version(model, &version(4), &parents).await.unwrap();
        let client = t.c(CLIENT);
        assert_eq!(
            client.license().licenseId(U256::from(model), 1).call().await.unwrap(),
            license_id(model, 1)
        );

        let bought = client.buy_license(model, 1).await.unwrap();
        assert_eq!(bought.value, license_id(model, 1), "{backend}");
        assert!(client.holds(addr(CLIENT), model, 1).await.unwrap(), "{backend}");
        // A licence of version 1 is no licence of version 2.
        assert!(!client.holds(addr(CLIENT), model, 2).await.unwrap(), "{backend}");
        assert!(!client.holds(addr(STRANGER), model, 1).await.unwrap());

        let price = 10 * PRICE;
        let shares = [price * 700 / 10_000, price * 1_100 / 10_000, price * 3 / 10_000];
        let rest = price - shares.iter().sum::<u64>();
        for (who, owed) in [
            (DATA_SELLER, shares[0]),
            (BASE_OWNER, shares[1]),
            (STRANGER, shares[2]),
            (OWNER, rest),
        ] {
            assert_eq!(
                t.c(0).owed(Payer::Licenses, addr(who), Token::Eth).await.unwrap(),
                U256::from(owed),
                "{backend}"
            );
        }
        assert_eq!(t.eth(t.addresses.license).await, U256::from(price), "{backend}");
        assert_eq!(
            t.c(OWNER).withdraw(Payer::Licenses, Token::Eth).await.unwrap().value,
            U256::from(rest)
        );
        assert_err!(
            license_err(t.c(OWNER).withdraw(Payer::Licenses, Token::Eth).await, backend),
            E::NothingToWithdraw(_),
            backend
        );

        // Licences are transferable ERC-1155 tokens: the holder is whoever has it.
        let transfer = client.license().safeTransferFrom(
            addr(CLIENT),
            addr(STRANGER),
            license_id(model, 1),
            U256::from(1),
            Default::default(),
        );
        send("safeTransferFrom", &transfer).await.unwrap();
        assert!(!client.holds(addr(CLIENT), model, 1).await.unwrap(), "{backend}");
        assert!(client.holds(addr(STRANGER), model, 1).await.unwrap(), "{backend}");
    }
}

#[tokio::test]
async fn licences_refuse_what_is_not_for_sale_deprecated_or_wrongly_paid() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let mut free = version(1);
        free.license_price = U256::ZERO;
        let not_for_sale =
            t.c(OWNER).publish("calls only", Token::Eth, &free, &[]).await.unwrap().value;
        assert_err!(
            license_err(t.c(CLIENT).buy_license(not_for_sale, 1).await, backend),
            E::NotForSale(_),
            backend
        );
        let model = t.publish(2, Token::Eth, &[]).await;
        let buy = t.c(CLIENT).license().buy(U256::from(model), 1);
        assert_err!(
            license_err(send("buy", &buy.clone().value(U256::from(10 * PRICE - 1))).await, backend),
            E::WrongPayment(_),
            backend
        );
        assert_err!(
            registry_err(t.c(CLIENT).buy_license(model, 2).await, backend),
            ModelRegistryErrors::UnknownVersion(_),
            backend
        );
        t.c(OWNER).deprecate(model, 1).await.unwrap();
        assert_err!(
            license_err(send("buy", &buy.value(U256::from(10 * PRICE))).await, backend),
            E::VersionDeprecated(_),
            backend
        );
        assert!(!t.c(CLIENT).holds(addr(CLIENT), model, 1).await.unwrap());
    }
}

#[tokio::test]
async fn licences_in_tokens_arrive_whole_or_not_at_all() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let model = t.publish(1, Token::Erc20(t.m.token), &[]).await;
        let buy = t.c(CLIENT).license().buy(U256::from(model), 1);
        assert_err!(
            license_err(send("buy", &buy.value(U256::from(1))).await, backend),
            E::WrongPayment(_),
            backend
        );
        t.c(CLIENT).buy_license(model, 1).await.unwrap();
        let before = t.m.token_balance(addr(OWNER)).await;
        t.c(OWNER).withdraw(Payer::Licenses, Token::Erc20(t.m.token)).await.unwrap();
        assert_eq!(
            t.m.token_balance(addr(OWNER)).await - before,
            U256::from(10 * PRICE),
            "{backend}"
        );

        let fot = FeeOnTransferToken::deploy(
            t.p(CLIENT).clone(),
            U256::from(100),
            U256::from(10u64).pow(U256::from(24)),
        )
        .await
        .unwrap();
        let fot_model = t.publish(2, Token::Erc20(*fot.address()), &[]).await;
        assert_err!(
            license_err(t.c(CLIENT).buy_license(fot_model, 1).await, backend),
            E::FeeOnTransfer(_),
            backend
        );
    }
}

#[tokio::test]
async fn the_licensed_call_digest_is_the_contracts() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let call = LicensedCall {
            licenseId: license_id(3, 2),
            request: B256::repeat_byte(0x42),
            issuedAt: 1_700_000_000,
        };
        let c = t.c(CLIENT);
        let on_chain = c
            .license()
            .callDigest(call.licenseId, call.request, call.issuedAt)
            .call()
            .await
            .unwrap();
        assert_eq!(on_chain, call.digest(&c.license_domain()), "{backend}");
        assert_eq!(c.license_domain(), license_domain(c.chain_id(), t.addresses.license));
        let holder = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x77)).unwrap();
        let signed = call.sign(&holder, &c.license_domain()).unwrap();
        assert_eq!(signed.signer(&c.license_domain()).unwrap(), holder.address());
    }
}

/// A payee whose token calls back into it during `withdraw` (a hooked token) re-enters
/// `withdraw` and gets `ReentrancyGuardReentrantCall`; it is paid once.
#[tokio::test]
async fn withdraw_cannot_be_reentered_from_a_token_hook() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let hooked = HookedToken::deploy(t.p(OWNER).clone(), U256::from(10u64).pow(U256::from(24)))
            .await
            .unwrap();
        let token = *hooked.address();
        let payee = ReentrantPayee::deploy(t.p(OWNER).clone()).await.unwrap();
        // The payee owns the model, so the licence price is credited to it.
        let publish = alara_contracts::ModelRegistry::publishCall {
            name: "hooked".into(),
            token,
            v: alara_contracts::ModelRegistry::VersionInput {
                fileHash: B256::repeat_byte(9),
                cardHash: B256::ZERO,
                cid: "bafkreihooked".into(),
                format: 0,
                pricePerCall: U256::from(PRICE),
                licensePrice: U256::from(10 * PRICE),
            },
            parents_: vec![],
        };
        send("execute", &payee.execute(t.addresses.registry, publish.abi_encode().into()))
            .await
            .unwrap();
        let model = 1;
        send("transfer", &hooked.transfer(addr(CLIENT), U256::from(100 * PRICE))).await.unwrap();
        let client_token = HookedToken::new(token, t.p(CLIENT).clone());
        send("approve", &client_token.approve(t.addresses.license, U256::MAX)).await.unwrap();
        t.c(CLIENT).buy_license(model, 1).await.unwrap();

        let withdraw = ModelLicense::withdrawCall { token }.abi_encode();
        send("arm", &payee.arm(t.addresses.license, withdraw.clone().into())).await.unwrap();
        let reenter = alara_contracts::ReentrantPayee::reenterCall {}.abi_encode();
        send("arm", &hooked.arm(*payee.address(), reenter.into())).await.unwrap();
        send("execute", &payee.execute(t.addresses.license, withdraw.into())).await.unwrap();
        assert_eq!(hooked.hookCalls().call().await.unwrap(), U256::from(1), "{backend}");
        assert_eq!(payee.reentries().call().await.unwrap(), U256::from(1), "{backend}");
        assert!(!payee.reentrySucceeded().call().await.unwrap(), "{backend}");
        let data = payee.reentryRevertData().call().await.unwrap();
        assert_err!(E::abi_decode(&data), Ok(E::ReentrancyGuardReentrantCall(_)), backend);
        assert_eq!(
            hooked.balanceOf(*payee.address()).call().await.unwrap(),
            U256::from(10 * PRICE),
            "{backend}: paid once"
        );
        assert_eq!(hooked.balanceOf(t.addresses.license).call().await.unwrap(), U256::ZERO);
    }
}
