//! `AuditAnchor` and the anchoring service on every backend of
//! `alara_chain::testing::backends()` (the embedded node and anvil from `node_modules`).

use std::time::Duration;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, B256};
use alloy::providers::ext::AnvilApi;
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionRequest;

use alara_audit::anchor::{
    self, anchor_calldata, anchor_hashes, AnchorBinding, AnchorPolicy, Anchorer, Pins,
};
use alara_audit::entry::{Entry, EntryBody, Payout};
use alara_audit::hash::Hash;
use alara_audit::proof::prove_consistency;
use alara_audit::tree::Subtrees;
use alara_audit::{AuditTrail, TrailConfig};
use alara_chain::testing::{backends, spawn_anvil, Backend, TestChain};
use alara_chain::{Hardfork, NodeConfig};
use alara_contracts::AuditAnchor::{self, AuditAnchorErrors};

/// Set to `1` to let the chain tests run without anvil (its binary missing from
/// `node_modules`); the suite never sets it, so a missing anvil fails the tests.
pub(crate) const ALLOW_NO_ANVIL: &str = "ALARA_ALLOW_NO_ANVIL";

/// Whether a failure to start anvil may skip a test (only when [`ALLOW_NO_ANVIL`] says so).
pub(crate) fn anvil_may_be_missing(backend: Backend) -> bool {
    backend == Backend::Anvil && std::env::var(ALLOW_NO_ANVIL).is_ok_and(|v| v == "1")
}

/// Starts `backend`. A start failure fails the test, except anvil's when
/// `ALARA_ALLOW_NO_ANVIL=1` explicitly allows running without it.
pub(crate) async fn start(backend: Backend) -> Option<TestChain> {
    match TestChain::start(backend).await {
        Ok(c) => Some(c),
        Err(e) if anvil_may_be_missing(backend) => {
            eprintln!("anvil did not start ({e}); skipped because {ALLOW_NO_ANVIL}=1");
            None
        }
        Err(e) => panic!(
            "{backend} did not start: {e} (anvil comes from node_modules: run `npm ci`; only {ALLOW_NO_ANVIL}=1 lets the tests run without anvil)"
        ),
    }
}

pub(crate) fn trail(dir: &std::path::Path) -> AuditTrail {
    let mut c = TrailConfig::new(dir, "pw");
    c.key_work_factor = 10;
    AuditTrail::open(c).unwrap()
}

pub(crate) fn payouts(n: usize) -> Vec<Entry> {
    (0..n)
        .map(|i| {
            Entry::now(EntryBody::Payout(Payout {
                context: format!("t/{i}"),
                recipient: "0x1".into(),
                token: "ALR".into(),
                amount: i as u128,
                tx: None,
            }))
        })
        .collect()
}

pub(crate) fn b(h: &Hash) -> B256 {
    B256::from(h.0)
}

pub(crate) fn dev_address(i: usize) -> Address {
    alara_chain::dev::dev_signer(i).address()
}

/// Sends a packed anchor and waits for it; panics if it reverts.
pub(crate) async fn anchor_ok(
    p: &DynProvider,
    contract: Address,
    input: Bytes,
) -> alloy::rpc::types::TransactionReceipt {
    let tx = TransactionRequest::default().with_to(contract).with_input(input);
    let r = p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(r.status(), "anchor reverted");
    r
}

/// `eth_call`s a packed anchor and returns the custom error it reverts with.
pub(crate) async fn anchor_err(
    p: &DynProvider,
    from: Address,
    contract: Address,
    input: Bytes,
) -> AuditAnchorErrors {
    let tx = TransactionRequest::default().with_from(from).with_to(contract).with_input(input);
    let e = match p.call(tx.clone()).await {
        Ok(out) => panic!("the anchor should revert, returned {out} for {tx:?}"),
        Err(e) => e,
    };
    e.as_error_resp()
        .and_then(|r| r.as_decoded_interface_error::<AuditAnchorErrors>())
        .unwrap_or_else(|| panic!("revert without a named AuditAnchor error: {e}"))
}

#[tokio::test]
async fn contract_refuses_wrong_signer_inconsistent_root_shrinking_tree_and_replay() {
    for backend in backends() {
        let Some(chain) = start(backend).await else { continue };
        let (p, me) = (chain.provider(0), dev_address(0));
        let c = AuditAnchor::deploy(p.clone()).await.unwrap();
        let addr = *c.address();
        assert_eq!(c.ANCHOR_TAG().call().await.unwrap().0, anchor::anchor_tag());
        let key = B256::repeat_byte(1);
        c.registerLog(key).send().await.unwrap().get_receipt().await.unwrap();
        let e = c.registerLog(key).call().await.unwrap_err();
        assert!(
            matches!(
                e.as_decoded_interface_error::<AuditAnchorErrors>(),
                Some(AuditAnchorErrors::LogExists(_))
            ),
            "[{backend}] double registration: {e}"
        );

        let leaves: Vec<Hash> =
            (0..20u32).map(|i| alara_audit::leaf_hash(&i.to_be_bytes())).collect();
        let tree = alara_audit::tree::MemoryTree::new(leaves.clone());
        let root = |n: u64| tree.root(n).unwrap();
        let zero = Hash([0; 32]);
        let step = |m: u64, n: u64| {
            let path = if m == 0 { vec![] } else { prove_consistency(&tree, m, n).unwrap().path };
            anchor_calldata(
                m,
                n,
                &anchor_hashes(m, &if m == 0 { zero } else { root(m) }, &root(n), &path),
            )
        };

        // Wrong signer: an account without a registered log cannot anchor anything.
        let stranger = chain.provider(1);
        let err = anchor_err(&stranger, dev_address(1), addr, step(0, 5)).await;
        assert!(
            matches!(err, AuditAnchorErrors::NotSigner(ref x) if x.caller == dev_address(1)),
            "[{backend}] {err:?}"
        );

        anchor_ok(&p, addr, step(0, 5)).await;
        assert!(c.isLatest(me, 5, b(&root(5))).call().await.unwrap());

        // Inconsistent root: a proof from a rewritten history does not reach the anchored root.
        let mut other = leaves.clone();
        other[2] = alara_audit::leaf_hash(b"rewritten");
        let forked = alara_audit::tree::MemoryTree::new(other);
        let fpath = prove_consistency(&forked, 5, 12).unwrap().path;
        let forked_call = anchor_calldata(
            5,
            12,
            &anchor_hashes(5, &forked.root(5).unwrap(), &forked.root(12).unwrap(), &fpath),
        );
        let err = anchor_err(&p, me, addr, forked_call).await;
        assert!(
            matches!(err, AuditAnchorErrors::InconsistentCheckpoint(ref x) if x.anchoredSize == 5 && x.treeSize == 12),
            "[{backend}] {err:?}"
        );
        // A flipped bit in a proof hash that covers the anchored prefix is refused the same
        // way. (Hashes covering only the new leaves decide the new root; the contract keeps
        // whatever extension the log's signer states, and emits it.)
        let mut bad =
            anchor_hashes(5, &root(5), &root(12), &prove_consistency(&tree, 5, 12).unwrap().path);
        bad[3].0[0] ^= 1;
        let err = anchor_err(&p, me, addr, anchor_calldata(5, 12, &bad)).await;
        assert!(matches!(err, AuditAnchorErrors::InconsistentCheckpoint(_)), "[{backend}] {err:?}");

        anchor_ok(&p, addr, step(5, 12)).await;
        assert!(c.isLatest(me, 12, b(&root(12))).call().await.unwrap());
        assert!(!c.isLatest(me, 5, b(&root(5))).call().await.unwrap());

        // Replayed anchor: the same transaction data again.
        let err = anchor_err(&p, me, addr, step(5, 12)).await;
        assert!(
            matches!(err, AuditAnchorErrors::AlreadyAnchored(ref x) if x.treeSize == 12),
            "[{backend}] {err:?}"
        );
        // Shrinking tree (and the same size again).
        let err = anchor_err(&p, me, addr, anchor_calldata(12, 6, &[root(6)])).await;
        assert!(
            matches!(err, AuditAnchorErrors::NotNewer(ref x) if x.anchoredSize == 12 && x.treeSize == 6),
            "[{backend}] {err:?}"
        );
        let err = anchor_err(&p, me, addr, anchor_calldata(12, 12, &[root(12)])).await;
        assert!(matches!(err, AuditAnchorErrors::NotNewer(_)), "[{backend}] {err:?}");
        // A stale old size (the log moved on) cannot be used to re-anchor from an older state.
        let err = anchor_err(&p, me, addr, step(5, 13)).await;
        assert!(matches!(err, AuditAnchorErrors::InconsistentCheckpoint(_)), "[{backend}] {err:?}");
        // Malformed calldata and unknown calls.
        let mut short = step(12, 13).to_vec();
        short.pop();
        let err = anchor_err(&p, me, addr, short.into()).await;
        assert!(matches!(err, AuditAnchorErrors::BadCalldata(_)), "[{backend}] {err:?}");
        let err = anchor_err(&p, me, addr, Bytes::from_static(&[1, 2, 3, 4, 5])).await;
        assert!(matches!(err, AuditAnchorErrors::BadCalldata(_)), "[{backend}] {err:?}");

        // Power-of-two old size: the old root travels with the proof.
        anchor_ok(&p, addr, step(12, 16)).await;
        anchor_ok(&p, addr, step(16, 20)).await;
        assert!(c.isLatest(me, 20, b(&root(20))).call().await.unwrap());

        // The stranger still cannot touch this log, nor the view lie about it.
        let err =
            anchor_err(&stranger, dev_address(1), addr, anchor_calldata(20, 21, &[root(20)])).await;
        assert!(matches!(err, AuditAnchorErrors::NotSigner(_)), "[{backend}] {err:?}");
        let e = c.isLatest(dev_address(1), 20, b(&root(20))).call().await.unwrap_err();
        assert!(
            matches!(
                e.as_decoded_interface_error::<AuditAnchorErrors>(),
                Some(AuditAnchorErrors::UnknownLog(_))
            ),
            "[{backend}] {e}"
        );
        println!("[{backend}] wrong signer, inconsistent root, shrinking tree, replay: all refused with named errors");
    }
}

/// The gas of a whole anchor transaction carrying a 30-hash consistency proof, and of
/// `verifyInclusion` at 2^30 leaves, under Cancun and Prague (EIP-7623 floor), on the
/// embedded node and on anvil.
#[tokio::test]
async fn anchor_and_verify_inclusion_gas_at_2_pow_30() {
    for backend in backends() {
        for hardfork in [Hardfork::Cancun, Hardfork::Prague] {
            for (label, from) in [("typical", 0x2aaa_aaaa_u64), ("cheap", 1 << 29)] {
                let (p, _guard): (DynProvider, Box<dyn std::any::Any>) = match backend {
                    Backend::Embedded => {
                        let node = alara_chain::Node::open(NodeConfig {
                            hardfork,
                            ..NodeConfig::ephemeral()
                        })
                        .unwrap();
                        let h =
                            alara_chain::serve(node, "127.0.0.1:0".parse().unwrap()).await.unwrap();
                        let p = alara_chain::client::provider_for(
                            &h.url(),
                            alara_chain::dev::dev_signer(0),
                        )
                        .unwrap();
                        (p, Box::new(h))
                    }
                    Backend::Anvil => match spawn_anvil(&["--hardfork", &hardfork.to_string()]) {
                        Ok((child, url)) => {
                            struct Kill(std::process::Child);
                            impl Drop for Kill {
                                fn drop(&mut self) {
                                    let _ = self.0.kill();
                                    let _ = self.0.wait();
                                }
                            }
                            let p = alara_chain::client::provider_for(
                                &url,
                                alara_chain::dev::dev_signer(0),
                            )
                            .unwrap();
                            (p, Box::new(Kill(child)))
                        }
                        Err(e) if anvil_may_be_missing(backend) => {
                            eprintln!(
                                "anvil did not start ({e}); skipped because {ALLOW_NO_ANVIL}=1"
                            );
                            continue;
                        }
                        Err(e) => panic!("anvil did not start: {e}"),
                    },
                };
                let g = alara_audit::bench::anchor_gas(&p, dev_address(0), from).await.unwrap();
                assert_eq!(g.proof_hashes, 30);
                println!(
                    "GAS [{backend} {hardfork} {label}] anchor {:#x} -> {:#x}, 30 hashes, {} SHA-256 calls: total {} = 21000 intrinsic + {} calldata ({} bytes) + {} execution (of which 5000 storage); EIP-7623 floor {}",
                    g.old_size, g.new_size, g.sha_calls, g.anchor_total, g.anchor_calldata, g.anchor_calldata_bytes,
                    g.anchor_execution.map_or("floor charged".to_string(), |x| x.to_string()), g.anchor_floor
                );
                println!(
                    "GAS [{backend} {hardfork} {label}] verifyInclusion (30 hashes, 2^30 leaves): {} as a transaction = 21000 + {} calldata + execution; eth_call execution {}",
                    g.verify_as_tx, g.verify_calldata,
                    g.verify_execution.map_or("hidden by the floor".to_string(), |x| x.to_string())
                );
                // Regression guards at the goal: a whole anchor with a 30-hash proof stays
                // within 60k gas under both rule sets.
                assert!(
                    g.anchor_total <= 60_000,
                    "[{backend} {hardfork}] anchor used {} gas",
                    g.anchor_total
                );
                if let Some(x) = g.verify_execution {
                    assert!(x <= 60_000, "verifyInclusion executed {x} gas");
                }
            }
        }
    }
}

#[tokio::test]
async fn anchoring_service_batches_survives_restart_and_upgrades_receipts() {
    for backend in backends() {
        let Some(chain) = start(backend).await else { continue };
        service_case(&chain).await;
    }
}

async fn service_case(chain: &TestChain) {
    let backend = chain.backend();
    let (p, me) = (chain.provider(0), dev_address(0));
    let dir = tempfile::tempdir().unwrap();
    let trail = trail(dir.path());
    let policy = AnchorPolicy {
        every_entries: 10,
        every: Duration::from_secs(3600),
        pending_timeout: Duration::from_secs(1),
    };
    let contract = anchor::ensure_deployed(&p, dir.path()).await.unwrap();
    assert_eq!(anchor::ensure_deployed(&p, dir.path()).await.unwrap(), contract, "recorded once");
    assert_eq!(anchor::recorded(&p, dir.path()).await.unwrap(), Some(contract));
    let pins = Pins { contract, key: trail.verifier().clone() };
    let mut a =
        Anchorer::setup(p.clone(), me, trail.log(), dir.path(), contract, policy).await.unwrap();

    trail.append_batch(&payouts(5)).unwrap();
    assert_eq!(
        a.tick(trail.log(), false).await.unwrap(),
        None,
        "[{backend}] 5 entries are below the batch size"
    );
    let early = trail.receipt(2).unwrap();
    trail.append_batch(&payouts(10)).unwrap();
    let first = a.tick(trail.log(), false).await.unwrap().expect("anchored");
    assert_eq!(first.size, 15);
    assert_eq!(a.tick(trail.log(), true).await.unwrap(), None, "nothing new: never anchors twice");
    assert_eq!(a.onchain_latest().await.unwrap(), (15, trail.log().root_at(15).unwrap()));

    // Upgrade a receipt issued before anchoring, and verify it offline and on-chain.
    let mut r = early.clone();
    assert!(r.anchor.is_none());
    assert!(anchor::upgrade_receipt(&mut r, trail.log(), a.state()).unwrap());
    let off = r.verify_offline(Some(trail.verifier())).unwrap();
    assert_eq!(
        off.binding,
        Some(AnchorBinding { chain_id: chain.chain_id(), contract, account: me }),
        "the anchored checkpoint is signed for this chain, contract and account"
    );
    let v = anchor::verify_onchain(&p, &r, &pins, None).await.unwrap();
    assert!(v.latest && v.contract_inclusion && v.log_id == me);
    let mut forged = r.clone();
    forged.anchor.as_mut().unwrap().tx_hash = format!("{}", B256::repeat_byte(9));
    assert!(anchor::verify_onchain(&p, &forged, &pins, None).await.is_err());

    // Restart of the service: same contract, remembers its anchors; with the state file
    // gone it finds the latest anchor from the contract's events.
    drop(a);
    let mut a =
        Anchorer::setup(p.clone(), me, trail.log(), dir.path(), contract, policy).await.unwrap();
    assert_eq!(a.state().anchored.len(), 1);
    trail.append_batch(&payouts(20)).unwrap();
    if backend == Backend::Anvil {
        // A dropped transaction is resubmitted; the anchor lands once (anvil can drop
        // pool transactions on request; the embedded node has no such call).
        p.anvil_set_auto_mine(false).await.unwrap();
        assert_eq!(a.tick(trail.log(), false).await.unwrap(), None, "sent, not mined");
        let dropped = a.state().pending.clone().expect("pending");
        p.anvil_drop_all_transactions().await.unwrap();
        assert_eq!(a.tick(trail.log(), false).await.unwrap(), None, "resubmitted, not mined");
        let resent = a.state().pending.clone().expect("pending again");
        assert_eq!(resent.nonce, dropped.nonce);
        let hash: B256 = resent.tx_hash.parse().unwrap();
        assert!(
            p.get_transaction_by_hash(hash).await.unwrap().is_some(),
            "resubmitted transaction is in the pool"
        );
        p.evm_mine(None).await.unwrap();
        let second = a.tick(trail.log(), false).await.unwrap().expect("mined");
        assert_eq!(second.size, 35);
        p.anvil_set_auto_mine(true).await.unwrap();
    } else {
        let second = a.tick(trail.log(), false).await.unwrap().expect("mined");
        assert_eq!(second.size, 35);
    }
    let sizes: Vec<u64> = a.state().anchored.iter().map(|x| x.size).collect();
    assert_eq!(sizes, vec![15, 35]);

    // The earlier anchor is superseded: it verifies only with a consistency proof from it
    // to the current anchor (made by the log), never on the strength of its event alone.
    let e = anchor::verify_onchain(&p, &r, &pins, None).await.unwrap_err();
    assert!(
        matches!(e, alara_audit::Error::Superseded { anchored: 15, current: 35 }),
        "[{backend}] {e}"
    );
    let v = anchor::verify_onchain(&p, &r, &pins, Some(trail.log())).await.unwrap();
    assert_eq!((v.latest, v.consistent_with_current, v.current.0), (false, true, 35));
    // A refreshed receipt is checked by the contract again.
    assert!(anchor::upgrade_receipt(&mut r, trail.log(), a.state()).unwrap());
    assert!(anchor::verify_onchain(&p, &r, &pins, None).await.unwrap().latest);

    // State file lost: the latest anchor is recovered from the chain.
    std::fs::remove_file(dir.path().join(anchor::STATE_FILE)).unwrap();
    let a =
        Anchorer::setup(p.clone(), me, trail.log(), dir.path(), contract, policy).await.unwrap();
    assert!(a.state().anchored.is_empty());
    assert_eq!(a.onchain_latest().await.unwrap(), (35, trail.log().root_at(35).unwrap()));
    println!("[{backend}] anchoring service: batches, restart, upgrade and on-chain verification");
}
