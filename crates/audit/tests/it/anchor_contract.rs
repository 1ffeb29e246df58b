//! `AuditAnchor` against the attacks of its security review, on every backend: a log that
//! tries to move and start over, a key registered twice, and the proof checks at their
//! edges (`verifyInclusion` and the RFC 9162 consistency check of `anchor`).

use alloy::primitives::{Address, Bytes, B256};
use alloy::providers::DynProvider;
use alloy::sol_types::SolValue;

use alara_audit::anchor::{anchor_calldata, anchor_hashes};
use alara_audit::hash::Hash;
use alara_audit::proof::{prove_consistency, prove_inclusion};
use alara_audit::tree::{MemoryTree, Subtrees};
use alara_chain::testing::backends;
use alara_contracts::AuditAnchor::{self, AuditAnchorErrors, AuditAnchorInstance};

use crate::chain::{anchor_err, anchor_ok, b, dev_address, start};

fn tree(n: u32, salt: &[u8]) -> MemoryTree {
    MemoryTree::new(
        (0..n).map(|i| alara_audit::leaf_hash(&[salt, &i.to_be_bytes()].concat())).collect(),
    )
}

/// The packed anchor from `m` to `n` of `t` (honest proof).
fn step(t: &MemoryTree, m: u64, n: u64) -> Bytes {
    anchor_calldata(m, n, &hashes(t, m, n))
}

fn hashes(t: &MemoryTree, m: u64, n: u64) -> Vec<Hash> {
    let zero = Hash([0; 32]);
    if m == 0 {
        return anchor_hashes(0, &zero, &t.root(n).unwrap(), &[]);
    }
    let path = prove_consistency(t, m, n).unwrap().path;
    anchor_hashes(m, &t.root(m).unwrap(), &t.root(n).unwrap(), &path)
}

/// The named error of a reverted typed call.
fn named(e: &alloy::contract::Error) -> AuditAnchorErrors {
    e.as_decoded_interface_error::<AuditAnchorErrors>()
        .unwrap_or_else(|| panic!("revert without a named AuditAnchor error: {e}"))
}

/// A fresh AuditAnchor with a log of `p`'s account registered under a random-free key.
async fn fresh(p: &DynProvider, key: u8) -> AuditAnchorInstance<DynProvider> {
    let c = AuditAnchor::deploy(p.clone()).await.unwrap();
    let r =
        c.registerLog(B256::repeat_byte(key)).send().await.unwrap().get_receipt().await.unwrap();
    assert!(r.status());
    c
}

/// H-1: a log can neither move to another account nor start over from a first anchor, so
/// its account can never re-register and anchor a rewritten history under the same id.
#[tokio::test]
async fn a_log_can_neither_move_nor_restart_and_rewrite() {
    for backend in backends() {
        let Some(chain) = start(backend).await else { continue };
        let (p, me) = (chain.provider(0), dev_address(0));
        let c = fresh(&p, 1).await;
        let addr = *c.address();
        let t = tree(20, b"honest");
        let rewritten = tree(20, b"rewritten");
        let r = anchor_ok(&p, addr, step(&t, 0, 5)).await;
        // The anchor event is filterable by the log's account: its only topic.
        let logs = r.inner.logs();
        assert_eq!(logs.len(), 1, "[{backend}] one event per anchor");
        assert_eq!(logs[0].topics(), &[me.into_word()], "[{backend}] topic0 is the signer");
        let e = logs[0].log_decode::<AuditAnchor::Anchored>().unwrap().inner.data;
        assert_eq!((e.signer, e.treeSize, e.rootHash), (me, 5, b(&t.root(5).unwrap())));
        anchor_ok(&p, addr, step(&t, 5, 12)).await;

        // Moving the log: there is no transferLog any more (its selector reaches the
        // fallback, which refuses it as malformed anchor calldata).
        let transfer = [
            &alloy::primitives::keccak256("transferLog(address)")[..4],
            &dev_address(1).abi_encode()[..],
        ]
        .concat();
        let err = anchor_err(&p, me, addr, transfer.into()).await;
        assert!(matches!(err, AuditAnchorErrors::BadCalldata(_)), "[{backend}] {err:?}");

        // Re-registering, with the same key or another one.
        for key in [B256::repeat_byte(1), B256::repeat_byte(2)] {
            let e = c.registerLog(key).call().await.unwrap_err();
            assert!(
                matches!(named(&e), AuditAnchorErrors::LogExists(ref x) if x.signer == me),
                "[{backend}] {e}"
            );
        }

        // Starting over with a "first anchor" (old size 0) of a rewritten history, or even
        // of the honest root: only a fresh log takes a first anchor.
        for root in [rewritten.root(12).unwrap(), t.root(20).unwrap()] {
            let err = anchor_err(&p, me, addr, anchor_calldata(0, 12, &[root])).await;
            assert!(
                matches!(err, AuditAnchorErrors::InconsistentCheckpoint(ref x) if x.anchoredSize == 0 && x.treeSize == 12),
                "[{backend}] {err:?}"
            );
        }
        // A rewrite from the anchored size with the rewritten tree's own proof.
        let err = anchor_err(&p, me, addr, step(&rewritten, 12, 20)).await;
        assert!(matches!(err, AuditAnchorErrors::InconsistentCheckpoint(_)), "[{backend}] {err:?}");
        assert!(c.isLatest(me, 12, b(&t.root(12).unwrap())).call().await.unwrap());
        anchor_ok(&p, addr, step(&t, 12, 20)).await;
        println!("[{backend}] no transfer, no re-registration, no restart: the history stays");
    }
}

/// H-2: a key names at most one log, so one key cannot anchor two histories (a split view)
/// on two accounts of the same contract, and a key is found by `logOfKey`.
#[tokio::test]
async fn a_key_is_registered_for_one_account_only() {
    for backend in backends() {
        let Some(chain) = start(backend).await else { continue };
        let (p0, p1) = (chain.provider(0), chain.provider(1));
        let (a0, a1) = (dev_address(0), dev_address(1));
        let c0 = fresh(&p0, 7).await;
        let key = B256::repeat_byte(7);
        assert_eq!(c0.logOfKey(key).call().await.unwrap(), a0);
        assert_eq!(c0.logOfKey(B256::repeat_byte(8)).call().await.unwrap(), Address::ZERO);
        let c1 = AuditAnchor::new(*c0.address(), p1.clone());
        let e = c1.registerLog(key).call().await.unwrap_err();
        assert!(
            matches!(named(&e), AuditAnchorErrors::KeyTaken(ref x) if x.noteKey == key && x.signer == a0),
            "[{backend}] {e}"
        );
        let e = c1.registerLog(B256::ZERO).call().await.unwrap_err();
        assert!(matches!(named(&e), AuditAnchorErrors::ZeroKey(_)), "[{backend}] {e}");
        // The second account can still register a key of its own.
        let other = B256::repeat_byte(9);
        assert!(c1.registerLog(other).send().await.unwrap().get_receipt().await.unwrap().status());
        assert_eq!(c1.logOfKey(other).call().await.unwrap(), a1);
        assert_eq!(c1.noteKeyOf(a1).call().await.unwrap(), other);
        assert_eq!(c1.logOfKey(key).call().await.unwrap(), a0, "the first holder keeps it");
        println!("[{backend}] one key, one log");
    }
}

/// `verifyInclusion` accepts every honest proof and refuses an index outside the tree, a
/// short or long proof, a stale root, a tree size of 0 and internal nodes posing as leaves.
#[tokio::test]
async fn verify_inclusion_refuses_bad_proofs() {
    for backend in backends() {
        let Some(chain) = start(backend).await else { continue };
        let (p, me) = (chain.provider(0), dev_address(0));
        let c = fresh(&p, 3).await;
        let t = tree(20, b"incl");
        let size = 13u64;
        anchor_ok(&p, *c.address(), step(&t, 0, size)).await;
        let root = t.root(size).unwrap();
        let leaf = |i: u64| t.complete(0, i).unwrap();
        let verify = |leaf: Hash, index: u64, n: u64, root: Hash, path: Vec<Hash>| {
            let c = c.clone();
            async move {
                c.verifyInclusion(me, b(&leaf), index, n, b(&root), path.iter().map(b).collect())
                    .call()
                    .await
                    .unwrap()
            }
        };
        for i in 0..size {
            let path = prove_inclusion(&t, i, size).unwrap().path;
            assert!(verify(leaf(i), i, size, root, path.clone()).await, "[{backend}] leaf {i}");
            if !path.is_empty() {
                let mut short = path.clone();
                short.pop();
                assert!(!verify(leaf(i), i, size, root, short).await, "[{backend}] short {i}");
            }
            let mut long = path.clone();
            long.push(leaf(0));
            assert!(!verify(leaf(i), i, size, root, long).await, "[{backend}] long {i}");
            // The same proof at an index outside the tree.
            for index in [size, size + i, u64::MAX] {
                assert!(
                    !verify(leaf(i), index, size, root, path.clone()).await,
                    "[{backend}] index {index}"
                );
            }
        }
        let last = prove_inclusion(&t, size - 1, size).unwrap().path;
        assert!(
            !verify(leaf(size - 1), size - 1, 0, root, last.clone()).await,
            "[{backend}] size 0"
        );
        // Internal nodes posing as leaves: each subtree root with the rest of a path of its
        // first leaf, at its own index and at its position among nodes of its level.
        for (start, width) in [(0u64, 2u64), (4, 4), (8, 4), (0, 8), (10, 2)] {
            let levels = width.trailing_zeros();
            let node = t.complete(levels, start >> levels).unwrap();
            let levels = levels as usize;
            let path = prove_inclusion(&t, start, size).unwrap().path;
            let rest = path[levels.min(path.len())..].to_vec();
            for (index, n) in
                [(start, size), (start / width, size), (start / width, size.div_ceil(width))]
            {
                assert!(
                    !verify(node, index, n, root, rest.clone()).await,
                    "[{backend}] node {start}+{width} at {index}/{n}"
                );
            }
        }
        // A stale root: a later anchor supersedes it, even for an honest proof.
        let path = prove_inclusion(&t, 2, size).unwrap().path;
        anchor_ok(&p, *c.address(), step(&t, size, 20)).await;
        assert!(!verify(leaf(2), 2, size, root, path).await, "[{backend}] stale root");
        let path = prove_inclusion(&t, 2, 20).unwrap().path;
        assert!(verify(leaf(2), 2, 20, t.root(20).unwrap(), path).await, "[{backend}] new root");
        println!("[{backend}] verifyInclusion: honest proofs pass, every bad one fails");
    }
}

/// The RFC 9162 consistency check of `anchor` at its edges.
#[tokio::test]
async fn anchor_consistency_edge_cases() {
    for backend in backends() {
        let Some(chain) = start(backend).await else { continue };
        let (p, me) = (chain.provider(0), dev_address(0));
        let t = tree(40, b"cons");
        let root = |n: u64| t.root(n).unwrap();
        let refused = |err: AuditAnchorErrors, m: u64, n: u64| matches!(err, AuditAnchorErrors::InconsistentCheckpoint(ref x) if x.anchoredSize == m && x.treeSize == n);

        // m = 1 (a power of two: the old root travels first) to several sizes, and n = m + 1
        // from sizes of every shape, each from a fresh log.
        for (m, n) in [
            (1u64, 2u64),
            (1, 3),
            (1, 5),
            (1, 8),
            (1, 13),
            (2, 3),
            (3, 4),
            (5, 6),
            (6, 7),
            (7, 8),
            (8, 9),
            (31, 32),
            (32, 33),
        ] {
            let c = fresh(&p, 4).await;
            let addr = *c.address();
            anchor_ok(&p, addr, step(&t, 0, m)).await;
            if m == 1 {
                // Without the old root the proof is one hash short.
                let path = prove_consistency(&t, 1, n).unwrap().path;
                let err = anchor_err(&p, me, addr, anchor_calldata(1, n, &path)).await;
                assert!(
                    refused(err.clone(), 1, n),
                    "[{backend}] m=1 without old root {n}: {err:?}"
                );
            }
            anchor_ok(&p, addr, step(&t, m, n)).await;
            assert!(c.isLatest(me, n, b(&root(n))).call().await.unwrap(), "[{backend}] {m}->{n}");
        }

        let c = fresh(&p, 5).await;
        let addr = *c.address();
        // A first anchor carries exactly one hash (the root).
        for extra in [vec![root(5), root(5)], vec![root(5), root(3), root(2)]] {
            let err = anchor_err(&p, me, addr, anchor_calldata(0, 5, &extra)).await;
            assert!(
                refused(err.clone(), 0, 5),
                "[{backend}] first anchor {}: {err:?}",
                extra.len()
            );
        }
        anchor_ok(&p, addr, step(&t, 0, 4)).await;
        // Power-of-two old size without the old root in front.
        let path = prove_consistency(&t, 4, 11).unwrap().path;
        let err = anchor_err(&p, me, addr, anchor_calldata(4, 11, &path)).await;
        assert!(refused(err.clone(), 4, 11), "[{backend}] 4 without its root: {err:?}");
        // A trailing extra hash after an honest proof.
        for extra in [root(4), Hash([0; 32]), path[0]] {
            let mut long = hashes(&t, 4, 11);
            long.push(extra);
            let err = anchor_err(&p, me, addr, anchor_calldata(4, 11, &long)).await;
            assert!(refused(err.clone(), 4, 11), "[{backend}] trailing hash: {err:?}");
        }
        // A proof one hash short.
        let mut short = hashes(&t, 4, 11);
        short.pop();
        let err = anchor_err(&p, me, addr, anchor_calldata(4, 11, &short)).await;
        assert!(refused(err.clone(), 4, 11), "[{backend}] short proof: {err:?}");
        anchor_ok(&p, addr, step(&t, 4, 11)).await;
        // Old size 0 after earlier anchors (a "first anchor" again), honest root or not.
        for r in [root(20), tree(20, b"other").root(20).unwrap()] {
            let err = anchor_err(&p, me, addr, anchor_calldata(0, 20, &[r])).await;
            assert!(refused(err.clone(), 0, 20), "[{backend}] restart: {err:?}");
        }

        // The proof does not bind the new size (review I-1): the honest (1, 3) proof is
        // also accepted stated as (1, 4), and the contract then records size 4 with the
        // root of 3 leaves. The contract cannot tell (it checks no signature); the client
        // compares the recorded size with the log's signed checkpoint (see the anchoring
        // service tests), so such an anchor never verifies a receipt.
        let c = fresh(&p, 6).await;
        let addr = *c.address();
        anchor_ok(&p, addr, step(&t, 0, 1)).await;
        anchor_ok(&p, addr, anchor_calldata(1, 4, &hashes(&t, 1, 3))).await;
        assert!(c.isLatest(me, 4, b(&root(3))).call().await.unwrap(), "[{backend}] (1,3) as (1,4)");
        assert!(!c.isLatest(me, 4, b(&root(4))).call().await.unwrap());
        println!("[{backend}] consistency: edge sizes pass, malformed proofs fail by name");
    }
}
