//! The anchoring client against the attacks of the security review, on every backend:
//! receipts that name a contract or log id of the attacker's choosing, a log key squatted
//! on another account or contract, pre-binding (v1) anchors, and an anchor whose stated
//! size the proof does not bind.

use std::time::Duration;

use alloy::primitives::B256;

use alara_audit::anchor::{
    self, anchor_calldata, anchor_hashes, AnchorPolicy, AnchorRecord, AnchorState, Anchorer, Pins,
};
use alara_audit::receipt::SCHEMA_V1;
use alara_audit::Receipt;
use alara_chain::testing::backends;
use alara_contracts::AuditAnchor;

use crate::chain::{anchor_ok, b, dev_address, payouts, start, trail};

fn policy() -> AnchorPolicy {
    AnchorPolicy {
        every_entries: 1,
        every: Duration::from_secs(3600),
        pending_timeout: Duration::from_secs(5),
    }
}

/// H-2 on the client: `verify_onchain` trusts only the pinned contract and key. A receipt
/// rewritten to name another contract or log id, a receipt checked against a contract
/// where the attacker squatted the log's key, and the log's key on a second account are
/// all refused.
#[tokio::test]
async fn onchain_verification_trusts_only_the_pinned_contract_and_key() {
    for backend in backends() {
        let Some(chain) = start(backend).await else { continue };
        let (p, me) = (chain.provider(0), dev_address(0));
        let (attacker_p, attacker) = (chain.provider(1), dev_address(1));
        let dir = tempfile::tempdir().unwrap();
        let t = trail(dir.path());
        let contract = anchor::ensure_deployed(&p, dir.path()).await.unwrap();
        let mut a =
            Anchorer::setup(p.clone(), me, t.log(), dir.path(), contract, policy()).await.unwrap();
        t.append_batch(&payouts(6)).unwrap();
        a.tick(t.log(), true).await.unwrap().expect("anchored");
        let mut r = t.receipt(3).unwrap();
        assert!(anchor::upgrade_receipt(&mut r, t.log(), a.state()).unwrap());
        let pins = Pins { contract, key: t.verifier().clone() };
        anchor::verify_onchain(&p, &r, &pins, None).await.unwrap();

        // The attacker's own AuditAnchor, where it registers the victim's key (squatting)
        // and anchors the victim's own checkpoint under its account.
        let evil = AuditAnchor::deploy(attacker_p.clone()).await.unwrap();
        let key = B256::from(t.verifier().public_key());
        assert!(evil.registerLog(key).send().await.unwrap().get_receipt().await.unwrap().status());
        let root = t.log().root_at(6).unwrap();
        let tx = anchor_ok(
            &attacker_p,
            *evil.address(),
            anchor_calldata(0, 6, &anchor_hashes(0, &root, &root, &[])),
        )
        .await;
        let mut evil_receipt = r.clone();
        {
            let an = evil_receipt.anchor.as_mut().unwrap();
            an.contract = evil.address().to_string();
            an.log_id = attacker.to_string();
            an.tx_hash = tx.transaction_hash.to_string();
            an.block_number = tx.block_number.unwrap();
        }
        // Named in the receipt: refused offline already (the key signed another binding).
        let e = evil_receipt.verify_offline(Some(t.verifier())).unwrap_err().to_string();
        assert!(e.contains("signed for chain"), "[{backend}] {e}");
        let e = anchor::verify_onchain(&p, &evil_receipt, &pins, None).await.unwrap_err();
        assert!(e.to_string().contains("signed for chain"), "[{backend}] {e}");
        // Only the transaction swapped (fields still consistent with the signed binding):
        // the pinned contract emitted no such event.
        let mut swapped = r.clone();
        swapped.anchor.as_mut().unwrap().tx_hash = tx.transaction_hash.to_string();
        swapped.anchor.as_mut().unwrap().block_number = tx.block_number.unwrap();
        let e = anchor::verify_onchain(&p, &swapped, &pins, None).await.unwrap_err().to_string();
        assert!(e.contains("no Anchored"), "[{backend}] {e}");
        // A verifier talked into pinning the attacker's contract: the key's account there
        // is the attacker's, which the log's key never signed for.
        let evil_pins = Pins { contract: *evil.address(), key: t.verifier().clone() };
        let e = anchor::verify_onchain(&p, &r, &evil_pins, None).await.unwrap_err().to_string();
        assert!(e.contains("not the pinned AuditAnchor"), "[{backend}] {e}");
        // A pinned key other than the log's: refused (offline, with the pinned key).
        let other_dir = tempfile::tempdir().unwrap();
        let other = trail(other_dir.path());
        let wrong = Pins { contract, key: other.verifier().clone() };
        assert!(anchor::verify_onchain(&p, &r, &wrong, None).await.is_err());

        // The same key on a second account of the real contract (a split view): refused by
        // the contract, and the client says what to do.
        let dir2 = tempfile::tempdir().unwrap();
        let e =
            Anchorer::setup(attacker_p.clone(), attacker, t.log(), dir2.path(), contract, policy())
                .await
                .err()
                .expect("a second account cannot register the key");
        assert!(e.to_string().contains(&format!("for account {me}")), "[{backend}] {e}");
        // And an account that already anchors a log cannot take a second one.
        let e = Anchorer::setup(p.clone(), me, other.log(), dir2.path(), contract, policy())
            .await
            .err()
            .expect("one log per account");
        assert!(e.to_string().contains("already anchors another log"), "[{backend}] {e}");

        // A v1 anchor (no binding line) still verifies offline but not on-chain; a v2
        // receipt without the binding does not even verify offline.
        let mut v1 = r.clone();
        let bare = t.log().sign_checkpoint(6, &[]).unwrap();
        v1.anchor.as_mut().unwrap().checkpoint = bare.note;
        let e = v1.verify_offline(Some(t.verifier())).unwrap_err().to_string();
        assert!(e.contains("names no chain"), "[{backend}] {e}");
        v1.schema = SCHEMA_V1.into();
        let v1 = Receipt::from_json(v1.to_json().as_bytes()).unwrap();
        assert!(v1.verify_offline(Some(t.verifier())).unwrap().binding.is_none());
        let e = anchor::verify_onchain(&p, &v1, &pins, None).await.unwrap_err().to_string();
        assert!(e.contains("receipt/v2"), "[{backend}] {e}");
        println!("[{backend}] on-chain verification pins the contract and the key");
    }
}

/// Review I-1 on the client: the contract accepts the honest (1, 3) consistency proof
/// stated as (1, 4) and records size 4 with the root of 3 leaves. No receipt verifies
/// against that anchor: the recorded size is not the log's signed checkpoint of that root,
/// and the earlier anchor is not consistent with it.
#[tokio::test]
async fn an_anchor_whose_size_the_proof_does_not_bind_verifies_nothing() {
    for backend in backends() {
        let Some(chain) = start(backend).await else { continue };
        let (p, me) = (chain.provider(0), dev_address(0));
        let dir = tempfile::tempdir().unwrap();
        let t = trail(dir.path());
        let contract = anchor::ensure_deployed(&p, dir.path()).await.unwrap();
        anchor::register(&p, contract, me, B256::from(t.verifier().public_key())).await.unwrap();
        t.append_batch(&payouts(1)).unwrap();
        let r0 = t.receipt(0).unwrap();
        t.append_batch(&payouts(3)).unwrap();
        let log = t.log();
        let root = |n: u64| log.root_at(n).unwrap();
        let first = anchor_ok(&p, contract, anchor_calldata(0, 1, &[root(1)])).await;
        let path = log.prove_consistency(1, 3).unwrap().path;
        let lie = anchor_ok(
            &p,
            contract,
            anchor_calldata(1, 4, &anchor_hashes(1, &root(1), &root(3), &path)),
        )
        .await;
        let c = AuditAnchor::new(contract, p.clone());
        assert!(
            c.isLatest(me, 4, b(&root(3))).call().await.unwrap(),
            "[{backend}] accepted as (1, 4)"
        );

        let record =
            |size: u64, root: alara_audit::Hash, tx: &alloy::rpc::types::TransactionReceipt| {
                AnchorRecord {
                    size,
                    root,
                    tx_hash: tx.transaction_hash.to_string(),
                    block_number: tx.block_number.unwrap(),
                    gas_used: tx.gas_used,
                }
            };
        let pins = Pins { contract, key: t.verifier().clone() };
        let state = |records: Vec<AnchorRecord>| AnchorState {
            chain_id: chain.chain_id(),
            contract,
            log_id: me,
            anchored: records,
            pending: None,
        };
        // The receipt anchored at size 1 is superseded by (4, root(3)): the log's proof from
        // size 1 to its size 4 does not lead to root(3).
        let mut r1 = r0.clone();
        assert!(anchor::upgrade_receipt(&mut r1, log, &state(vec![record(1, root(1), &first)]))
            .unwrap());
        let e = anchor::verify_onchain(&p, &r1, &pins, Some(log)).await.unwrap_err().to_string();
        assert!(e.contains("not consistent"), "[{backend}] {e}");
        // A receipt pointing at the lying anchor with the log's signed checkpoint of 3
        // leaves (the root the chain holds): the event says size 4.
        let mut r3 = r0.clone();
        assert!(
            anchor::upgrade_receipt(&mut r3, log, &state(vec![record(3, root(3), &lie)])).unwrap()
        );
        r3.verify_offline(Some(t.verifier())).unwrap();
        let e = anchor::verify_onchain(&p, &r3, &pins, Some(log)).await.unwrap_err().to_string();
        assert!(e.contains("no Anchored"), "[{backend}] {e}");
        // The anchoring service refuses to go on from such a state, too.
        let mut a =
            Anchorer::setup(p.clone(), me, log, dir.path(), contract, policy()).await.unwrap();
        let e = a.tick(log, true).await.unwrap_err().to_string();
        assert!(e.contains("forked"), "[{backend}] {e}");
        println!("[{backend}] an unbound new size verifies no receipt");
    }
}
