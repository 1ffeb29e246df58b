//! Contract and anchoring tests against anvil from `node_modules` (spawned per test).
//!
//! These use anvil directly: the embedded node's crate (alara-chain) was not buildable when
//! they were written, and anvil is the reference the embedded node is compared against.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256};
use alloy::providers::ext::AnvilApi;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;

use alara_audit::anchor::{self, AnchorPolicy, Anchorer};
use alara_audit::entry::{Entry, EntryBody, Payout};
use alara_audit::hash::Hash;
use alara_audit::proof::{consistency_path_len, prove_consistency, prove_inclusion};
use alara_audit::tree::Subtrees;
use alara_audit::{AuditTrail, TrailConfig};
use alara_contracts::AuditAnchor;

/// anvil's dev account 0 (public test key).
const DEV_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

struct Anvil {
    child: Child,
    url: String,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn anvil_bin() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    p.exists().then_some(p)
}

fn start_anvil() -> Option<Anvil> {
    start_anvil_with(&[])
}

fn start_anvil_with(extra: &[&str]) -> Option<Anvil> {
    let Some(bin) = anvil_bin() else {
        eprintln!(
            "SKIPPED: anvil not found under node_modules (run `npm ci` in the repository root)"
        );
        return None;
    };
    let mut child = Command::new(bin)
        .args(["--port", "0", "--host", "127.0.0.1"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn anvil");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(addr) = line.trim().strip_prefix("Listening on ") {
            let url = format!("http://{}", addr.trim());
            std::thread::spawn(move || for _ in lines.by_ref() {});
            return Some(Anvil { child, url });
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("anvil did not start");
}

fn provider(url: &str) -> (DynProvider, Address) {
    let signer: PrivateKeySigner = DEV_KEY.parse().unwrap();
    let addr = signer.address();
    let p = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url.parse().unwrap())
        .erased();
    (p, addr)
}

fn trail(dir: &std::path::Path) -> AuditTrail {
    let mut c = TrailConfig::new(dir, "pw");
    c.key_work_factor = 10;
    AuditTrail::open(c).unwrap()
}

fn payouts(n: usize) -> Vec<Entry> {
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

fn b(h: &Hash) -> B256 {
    B256::from(h.0)
}

fn calldata_gas(input: &[u8]) -> u64 {
    input.iter().map(|b| if *b == 0 { 4 } else { 16 }).sum()
}

/// SHA-256 calls the RFC 9162 consistency check makes for sizes `m → n`.
fn consistency_hashes(m: u64, n: u64) -> u64 {
    let (mut fnode, mut snode) = (m - 1, n - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut hashes = 0;
    let steps = consistency_path_len(m, n) - usize::from(!m.is_power_of_two());
    for _ in 0..steps {
        if fnode & 1 == 1 || fnode == snode {
            hashes += 2;
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            hashes += 1;
        }
        fnode >>= 1;
        snode >>= 1;
    }
    hashes
}

/// Gas under Cancun rules and under Prague's calldata floor (EIP-7623), for a typical
/// older size (about half its bits set) and for the cheapest one (a power of two).
#[tokio::test]
async fn anchor_and_verify_inclusion_gas_at_2_pow_30() {
    for hardfork in ["cancun", "prague"] {
        for typical in [true, false] {
            gas_case(hardfork, typical).await;
        }
    }
}

async fn gas_case(hardfork: &str, typical: bool) {
    let Some(anvil) = start_anvil_with(&["--hardfork", hardfork]) else { return };
    let (p, me) = provider(&anvil.url);
    let c = AuditAnchor::deploy(p.clone()).await.unwrap();
    let key = B256::repeat_byte(7);
    c.registerLog(key).send().await.unwrap().get_receipt().await.unwrap();
    let log_id = c.logIdOf(me, key).call().await.unwrap();

    let t = alara_audit::tree::UniformTree::new(alara_audit::leaf_hash(b"uniform"));
    // From a typical older size (about half its bits set) to exactly 2^30 leaves.
    let n: u64 = 1 << 30;
    let from = if typical { 0x2aaa_aaaa } else { 1 << 29 };
    let m =
        (from..n).find(|m| consistency_path_len(*m, n) == 30).expect("a size with a 30-hash proof");
    let (rm, rn) = (t.root(m).unwrap(), t.root(n).unwrap());
    c.anchor(log_id, m, b(&rm), vec![]).send().await.unwrap().get_receipt().await.unwrap();
    let proof = prove_consistency(&t, m, n).unwrap();
    assert_eq!(proof.path.len(), 30);
    proof.verify(&rm, &rn).unwrap();
    let call = c.anchor(log_id, n, b(&rn), proof.path.iter().map(b).collect());
    let input = call.calldata().clone();
    let receipt = call.send().await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    let total = receipt.gas_used;
    let cd = calldata_gas(&input);
    println!(
        "GAS [{hardfork}] anchor(30-hash consistency proof, sizes {m:#x} -> {n:#x}, {} SHA-256 calls): total {total} = 21000 base + {cd} calldata ({} bytes) + {} execution (or the EIP-7623 floor)",
        consistency_hashes(m, n),
        input.len(),
        total as i64 - 21000 - cd as i64
    );

    // verifyInclusion in the anchored 2^30-leaf tree (30 hashes): eth_estimateGas of the view.
    let anchored_root = t.root(n).unwrap();
    let incl_n = prove_inclusion(&t, 123_456_789, n).unwrap();
    assert_eq!(incl_n.path.len(), 30);
    let (size, root) = (m, rm);
    let incl = prove_inclusion(&t, 123_456_789, size).unwrap();
    let vcall = c.verifyInclusion(
        log_id,
        b(&t.leaf()),
        123_456_789,
        n,
        b(&anchored_root),
        incl_n.path.iter().map(b).collect(),
    );
    assert!(vcall.call().await.unwrap());
    let est = vcall.estimate_gas().await.unwrap();
    let vcd = calldata_gas(vcall.calldata());
    println!(
        "GAS [{hardfork}] verifyInclusion({} hashes, tree {n:#x}): {est} as a transaction = 21000 + {vcd} calldata + {} execution (or the EIP-7623 floor)",
        incl_n.path.len(),
        est as i64 - 21000 - vcd as i64
    );
    // A wrong proof is refused, and a root that is not the anchored one too.
    let mut bad = incl_n.path.clone();
    bad[3].0[0] ^= 1;
    assert!(!c
        .verifyInclusion(
            log_id,
            b(&t.leaf()),
            123_456_789,
            n,
            b(&anchored_root),
            bad.iter().map(b).collect()
        )
        .call()
        .await
        .unwrap());
    assert!(!c
        .verifyInclusion(
            log_id,
            b(&t.leaf()),
            123_456_789,
            size,
            b(&root),
            incl.path.iter().map(b).collect()
        )
        .call()
        .await
        .unwrap());

    // Regression guards at the measured figures (the 60k goal is met only where noted in
    // the README: calldata and the Prague floor dominate).
    assert!(total <= 68_000, "anchor with a 30-hash proof used {total} gas");
    assert!(est <= 65_000, "verifyInclusion at 2^30 used {est} gas");
}

#[tokio::test]
async fn contract_refuses_forks_replays_and_strangers() {
    let Some(anvil) = start_anvil() else { return };
    let (p, me) = provider(&anvil.url);
    let c = AuditAnchor::deploy(p.clone()).await.unwrap();
    let key = B256::repeat_byte(1);
    c.registerLog(key).send().await.unwrap().get_receipt().await.unwrap();
    let id = c.logIdOf(me, key).call().await.unwrap();
    assert!(c.registerLog(key).call().await.is_err(), "double registration");

    let leaves: Vec<Hash> = (0..20u32).map(|i| alara_audit::leaf_hash(&i.to_be_bytes())).collect();
    let tree = alara_audit::tree::MemoryTree::new(leaves.clone());
    let r = |n: u64| b(&tree.root(n).unwrap());
    assert!(
        c.anchor(id, 5, r(5), vec![B256::ZERO]).call().await.is_err(),
        "first anchor takes no proof"
    );
    c.anchor(id, 5, r(5), vec![]).send().await.unwrap().get_receipt().await.unwrap();
    let proof: Vec<B256> = prove_consistency(&tree, 5, 12).unwrap().path.iter().map(b).collect();
    // A forked root for size 12 is refused; so is the same checkpoint twice, and a smaller one.
    let mut other = leaves.clone();
    other[7] = alara_audit::leaf_hash(b"rewritten");
    let forked = alara_audit::tree::MemoryTree::new(other);
    assert!(c.anchor(id, 12, b(&forked.root(12).unwrap()), proof.clone()).call().await.is_err());
    c.anchor(id, 12, r(12), proof.clone()).send().await.unwrap().get_receipt().await.unwrap();
    assert!(c.anchor(id, 12, r(12), proof).call().await.is_err(), "same checkpoint twice");
    assert!(c.anchor(id, 6, r(6), vec![]).call().await.is_err());
    let latest = c.latest(id).call().await.unwrap();
    assert_eq!((latest.treeSize, latest.rootHash), (12, r(12)));

    // Only the registered signer may anchor.
    let stranger: PrivateKeySigner =
        "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d".parse().unwrap();
    let sp = ProviderBuilder::new()
        .wallet(EthereumWallet::from(stranger))
        .connect_http(anvil.url.parse().unwrap())
        .erased();
    let cs = AuditAnchor::new(*c.address(), sp);
    let p13: Vec<B256> = prove_consistency(&tree, 12, 13).unwrap().path.iter().map(b).collect();
    assert!(cs.anchor(id, 13, r(13), p13).call().await.is_err());
}

#[tokio::test]
async fn anchoring_service_batches_survives_restart_and_resubmits_dropped_tx() {
    let Some(anvil) = start_anvil() else { return };
    let (p, me) = provider(&anvil.url);
    let dir = tempfile::tempdir().unwrap();
    let trail = trail(dir.path());
    let policy = AnchorPolicy {
        every_entries: 10,
        every: Duration::from_secs(3600),
        pending_timeout: Duration::from_secs(1),
    };
    let mut a =
        Anchorer::setup(p.clone(), me, trail.log(), dir.path(), None, policy).await.unwrap();

    trail.append_batch(&payouts(5)).unwrap();
    assert_eq!(
        a.tick(trail.log(), false).await.unwrap(),
        None,
        "5 entries are below the batch size"
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
    r.verify_offline(Some(trail.verifier())).unwrap();
    let v = anchor::verify_onchain(&p, &r).await.unwrap();
    assert_eq!(v.contract_inclusion, Some(true));
    let mut forged = r.clone();
    forged.anchor.as_mut().unwrap().tx_hash = format!("{}", B256::repeat_byte(9));
    assert!(anchor::verify_onchain(&p, &forged).await.is_err());

    // Restart of the service: same contract, remembers its anchors.
    drop(a);
    let mut a =
        Anchorer::setup(p.clone(), me, trail.log(), dir.path(), None, policy).await.unwrap();
    assert_eq!(a.state().anchored.len(), 1);

    // A dropped transaction is resubmitted; the anchor lands once.
    p.anvil_set_auto_mine(false).await.unwrap();
    trail.append_batch(&payouts(20)).unwrap();
    assert_eq!(a.tick(trail.log(), false).await.unwrap(), None, "sent, not mined");
    let dropped = a.state().pending.clone().expect("pending");
    p.anvil_drop_all_transactions().await.unwrap();
    assert_eq!(a.tick(trail.log(), false).await.unwrap(), None, "resubmitted, not mined");
    let resent = a.state().pending.clone().expect("pending again");
    // Same nonce and content: the resubmission may well have the same hash; what matters
    // is that the node has it again.
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
    let sizes: Vec<u64> = a.state().anchored.iter().map(|x| x.size).collect();
    assert_eq!(sizes, vec![15, 35]);

    // The earlier anchor is superseded: the event still proves it; a refreshed receipt
    // is checked by the contract again.
    let v = anchor::verify_onchain(&p, &r).await.unwrap();
    assert_eq!((v.contract_inclusion, v.latest_size), (None, 35));
    assert!(anchor::upgrade_receipt(&mut r, trail.log(), a.state()).unwrap());
    assert_eq!(anchor::verify_onchain(&p, &r).await.unwrap().contract_inclusion, Some(true));
}
