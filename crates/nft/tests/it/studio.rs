//! The whole path on every backend: a prompt generated, stored (image, model, manifest,
//! metadata) and minted by commit–reveal with its audit entry; verified by regenerating the
//! image; refused when the prompt, the stored image or the audit entry does not match; the
//! metadata and manifest schemas; and a resale paying the artist.

use std::time::Duration;

use alara_audit::{AuditTrail, TrailConfig};
use alara_chain::testing::{backends, TestChain};
use alara_nft::chain::{Collection, Market};
use alara_nft::provenance::{self, Manifest, Metadata};
use alara_nft::studio::{self, PromptSource};
use alara_nft::Cppn;
use alara_store::{AddOptions, FsOptions, Store};
use alloy::primitives::{Address, U256};
use sha2::{Digest, Sha256};

fn trail(dir: &std::path::Path) -> AuditTrail {
    let mut c = TrailConfig::new(dir.join("audit"), "test passphrase");
    c.key_work_factor = 10;
    AuditTrail::open(c).unwrap()
}

fn store(dir: &std::path::Path) -> Store<alara_store::FsBlockstore> {
    Store::open_with(dir.join("store"), FsOptions { sync: false }).unwrap()
}

/// The metadata has the common NFT fields and ERC-7007's, pointing at the stored image; the
/// manifest has `c2pa.actions` (`c2pa.created`, trainedAlgorithmicMedia, the model's CID as
/// softwareAgent) and a `c2pa.hash.data` of the image bytes.
#[test]
fn metadata_and_manifest_follow_their_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let cppn = Cppn::shipped().unwrap();
    let d = studio::prepare(&s, &cppn, "a lighthouse in a storm", 7, [3; 32], 1000, true).unwrap();
    let meta: serde_json::Value = serde_json::from_slice(&d.metadata).unwrap();
    for key in [
        "name",
        "description",
        "image",
        "attributes",
        "prompt",
        "aigc_type",
        "aigc_data",
        "proof_type",
    ] {
        assert!(meta.get(key).is_some(), "metadata lacks {key}: {meta}");
    }
    assert_eq!(meta["image"], format!("ipfs://{}", d.image_cid));
    assert_eq!(meta["aigc_data"], format!("ipfs://{}", d.image_cid));
    assert_eq!(meta["aigc_type"], "image");
    assert_eq!(meta["proof_type"], "reproducible");
    assert_eq!(meta["prompt"], "a lighthouse in a storm");
    assert!(meta["attributes"].as_array().unwrap().iter().all(|a| a["trait_type"].is_string()));
    let m = Manifest::from_bytes(&d.manifest).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&d.manifest).unwrap();
    assert_eq!(json["assertions"][0]["label"], "c2pa.actions");
    assert_eq!(json["assertions"][0]["data"]["actions"][0]["action"], "c2pa.created");
    assert_eq!(m.digital_source_type(), Some(provenance::TRAINED_ALGORITHMIC_MEDIA));
    assert_eq!(m.software_agent(), Some(d.model_cid.as_str()));
    assert_eq!(json["assertions"][1]["label"], "c2pa.hash.data");
    assert_eq!(m.image_hash(), Some(<[u8; 32]>::from(Sha256::digest(&d.png))));
    // Stored where they say, with Kubo's CIDs (CIDv1, raw leaves).
    let model_cid = s.add_reader(cppn.bytes(), &AddOptions::v1()).unwrap().cid.to_string();
    assert_eq!(model_cid, d.model_cid);
    assert_eq!(studio::fetch(&s, &d.image_cid).unwrap(), d.png);
    assert_eq!(
        Metadata::from_bytes(&studio::fetch(&s, &d.metadata_cid).unwrap()).unwrap().provenance.seed,
        7
    );
    // Without publishing, the metadata carries no prompt (the commitment is in provenance).
    let hidden = studio::prepare(&s, &cppn, "a secret", 7, [4; 32], 1000, false).unwrap();
    let meta = Metadata::from_bytes(&hidden.metadata).unwrap();
    assert_eq!(meta.prompt, "");
    assert!(!String::from_utf8(hidden.metadata.clone()).unwrap().contains("a secret"));
    assert!(
        studio::prepare(&s, &cppn, "ok", 1, [0; 32], 2501, true).is_ok(),
        "prepare does not judge royalties"
    );
    assert!(studio::check_royalty(2501).is_err());
}

/// Generate, store, commit, mint, reveal, audit; `verify` passes every check. Then each
/// tampering fails its check: a wrong prompt, a wrong salt, a store missing the image, a
/// trail without the entry. Finally a resale pays the artist 10%.
#[tokio::test]
async fn minted_art_verifies_and_tampering_does_not() {
    let cppn = Cppn::shipped().unwrap();
    for backend in backends() {
        let chain = TestChain::start(backend).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (s, t) = (store(dir.path()), trail(dir.path()));
        let artist = alara_chain::dev::dev_addresses()[1];
        let nft = Collection::deploy(chain.provider(1)).await.unwrap();
        let salt = provenance::random_salt();
        let d = studio::prepare(&s, &cppn, "a lighthouse in a storm", 7, salt, 1000, true).unwrap();
        let r =
            studio::mint(&nft, artist, &d, true, Some((&t, "artist-1")), Duration::from_secs(30))
                .await
                .unwrap();
        let token = r.minted.token_id;
        assert!(r.reveal_tx.is_some());
        assert!(
            r.minted.mint.block_number > r.minted.commit.block_number,
            "[{backend}] mint in a later block"
        );
        // The prompt's opening is in the vault, under the artist's subject.
        let (_, index) = r.audit.clone().unwrap();
        assert_eq!(index, 0);

        let v = studio::verify(
            &nft,
            token,
            &s,
            &cppn,
            PromptSource::Revealed { from_block: 0 },
            Some(&t),
        )
        .await
        .unwrap();
        assert!(v.ok, "[{backend}] {:#?}", v.checks);
        assert_eq!(v.checks.len(), 7);
        assert_eq!(v.prompt.as_deref(), Some("a lighthouse in a storm"));
        let given = PromptSource::Given { prompt: "a lighthouse in a storm".into(), salt };
        assert!(studio::verify(&nft, token, &s, &cppn, given, None).await.unwrap().ok);

        let failed = |v: &studio::Verdict| -> Vec<&str> {
            v.checks.iter().filter(|c| !c.ok).map(|c| c.name).collect()
        };
        let wrong = PromptSource::Given { prompt: "a lighthouse in a calm".into(), salt };
        let v = studio::verify(&nft, token, &s, &cppn, wrong, None).await.unwrap();
        assert_eq!(failed(&v), ["prompt", "regenerated image"], "[{backend}]");
        let bad_salt =
            PromptSource::Given { prompt: "a lighthouse in a storm".into(), salt: [0; 32] };
        assert!(!studio::verify(&nft, token, &s, &cppn, bad_salt, None).await.unwrap().ok);
        let other = tempfile::tempdir().unwrap();
        let (empty_store, empty_trail) = (store(other.path()), trail(other.path()));
        let v = studio::verify(
            &nft,
            token,
            &empty_store,
            &cppn,
            PromptSource::Revealed { from_block: 0 },
            Some(&empty_trail),
        )
        .await
        .unwrap();
        assert_eq!(
            failed(&v),
            ["stored image", "regenerated image", "metadata", "manifest", "audit entry"],
            "[{backend}]"
        );

        // A token minted without revealing: verify asks for the prompt.
        let d2 = studio::prepare(&s, &cppn, "kept secret", 8, salt, 1000, false).unwrap();
        let r2 =
            studio::mint(&nft, artist, &d2, false, None, Duration::from_secs(30)).await.unwrap();
        let v = studio::verify(
            &nft,
            r2.minted.token_id,
            &s,
            &cppn,
            PromptSource::Revealed { from_block: 0 },
            None,
        )
        .await
        .unwrap();
        assert!(!v.ok);
        assert_eq!(failed(&v), ["prompt", "regenerated image"]);
        let v = studio::verify(
            &nft,
            r2.minted.token_id,
            &s,
            &cppn,
            PromptSource::Given { prompt: "kept secret".into(), salt },
            None,
        )
        .await
        .unwrap();
        assert!(v.ok, "[{backend}] {:#?}", v.checks);

        // Resold on the market: 10% to the artist.
        let market = Market::deploy(chain.provider(0)).await.unwrap();
        nft.approve(market.address(), token).await.unwrap();
        let l = market
            .as_(chain.provider(1))
            .list(nft.address(), token, Address::ZERO, U256::from(1000))
            .await
            .unwrap();
        market.as_(chain.provider(2)).buy(l, U256::from(1000)).await.unwrap();
        let b = Collection::at(chain.provider(2), nft.address());
        b.approve(market.address(), token).await.unwrap();
        let l = market
            .as_(chain.provider(2))
            .list(nft.address(), token, Address::ZERO, U256::from(5000))
            .await
            .unwrap();
        let sale = market.as_(chain.provider(3)).buy(l, U256::from(5000)).await.unwrap();
        assert_eq!((sale.sold.royaltyReceiver, sale.sold.royalty), (artist, U256::from(500)));
        let seller = alara_chain::dev::dev_addresses()[2];
        assert_eq!(
            market.owed(seller, Address::ZERO).await.unwrap(),
            U256::from(4500),
            "[{backend}]"
        );
    }
}
