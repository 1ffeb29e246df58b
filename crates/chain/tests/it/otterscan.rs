//! Otterscan's `ots_*` namespace and `erigon_getHeaderByNumber` against anvil's answers for
//! the same signed transactions on the same genesis, field by field: contract creations, a
//! contract fanning value out to an EOA and into children it creates (CREATE and CREATE2),
//! a contract calling another, reverts with a reason string and with a custom error, a
//! creation undone by a caught revert, a self-destruct, and plain transfers around empty
//! blocks for paging through address histories. Where the embedded node answers as erigon
//! (the node Otterscan was written for) and anvil does not, the comparison says why and
//! checks everything else.
//!
//! Then what only the embedded node can show: a block of several transactions paged as
//! erigon pages it, the index after a restart and after `evm_revert`, and clear errors.

use std::collections::BTreeMap;

use alara_chain::dev;
use alara_chain::testing::{backends, Backend, TestChain};
use alara_chain::{serve, Mining, Node, NodeConfig};
use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolError};
use serde_json::{json, Value};

use crate::support::{receipt, rpc};

alloy::sol!(OtsProbe, "tests/contracts/OtsProbe.json");
alloy::sol!(OtsChild, "tests/contracts/OtsChild.json");

/// The committed artifacts of `tests/contracts` are exactly what solc makes of the sources.
#[test]
fn test_contract_artifacts_are_fresh() {
    let root = alara_chain::tools::repo_root().expect("repository root");
    let out = std::process::Command::new("node")
        .arg("crates/chain/tests/contracts/build.js")
        .arg("--check")
        .current_dir(&root)
        .output()
        .expect("node is installed (the test command installs the npm tools first)");
    assert!(
        out.status.success(),
        "stale artifacts:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn signed(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: TxKind,
    input: Vec<u8>,
    value: u64,
    gas: u64,
) -> (B256, Bytes) {
    let mut tx = TxEip1559 {
        chain_id: 31337,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::from(value),
        input: input.into(),
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx).unwrap();
    let envelope = TxEnvelope::from(tx.into_signed(sig));
    (*envelope.tx_hash(), envelope.encoded_2718().into())
}

/// One step of the scenario.
enum Step {
    /// A signed transaction: its name, sender, hash and bytes.
    Tx { name: &'static str, from: Address, hash: B256, raw: Bytes },
    /// `anvil_mine` of this many empty blocks.
    Mine(u64),
}

/// The scenario's transactions and the addresses they involve, the same on every backend.
struct Scenario {
    steps: Vec<Step>,
    me: Address,
    other: Address,
    probe: Address,
    relay: Address,
    child: Address,
    child2: Address,
    create2_child: Address,
    undone_child: Address,
    beneficiary: Address,
    heir: Address,
    payee: Address,
}

impl Scenario {
    fn new() -> Self {
        let signer = dev::dev_signer(0);
        let me = signer.address();
        let other_signer = dev::dev_signer(1);
        let other = other_signer.address();
        let probe = me.create(0);
        let relay = me.create(1);
        // A contract's nonce starts at 1; each fanOut creates two children, and the creation
        // `attempt` makes is undone with its frame (the nonce too).
        let child = probe.create(1);
        let child2 = probe.create(3);
        let undone_child = probe.create(5);
        let create2_child =
            probe.create2(B256::from(U256::from(1)), keccak256(OtsChild::BYTECODE.as_ref()));
        let beneficiary = Address::repeat_byte(0x77);
        let heir = Address::repeat_byte(0x66);
        let payee = Address::repeat_byte(0x55);
        let mut nonce = 0;
        let mut steps = Vec::new();
        let mut tx = |name, to: TxKind, input: Vec<u8>, value: u64, gas: u64| {
            let (hash, raw) = signed(&signer, nonce, to, input, value, gas);
            nonce += 1;
            Step::Tx { name, from: me, hash, raw }
        };
        steps.push(tx("create probe", TxKind::Create, OtsProbe::BYTECODE.to_vec(), 0, 3_000_000));
        steps.push(tx("create relay", TxKind::Create, OtsProbe::BYTECODE.to_vec(), 0, 3_000_000));
        let fan_out = OtsProbe::fanOutCall { to: beneficiary }.abi_encode();
        steps.push(tx("fanOut", TxKind::Call(probe), fan_out, 1000, 600_000));
        let relayed = OtsProbe::relayCall { other: probe, to: beneficiary }.abi_encode();
        steps.push(tx("relay", TxKind::Call(relay), relayed, 1000, 700_000));
        let fail = OtsProbe::failCall { reason: "boom".into() }.abi_encode();
        steps.push(tx("revert with reason", TxKind::Call(probe), fail, 0, 100_000));
        let refuse = OtsProbe::refuseCall { code: U256::from(7) }.abi_encode();
        steps.push(tx("custom error", TxKind::Call(probe), refuse, 0, 100_000));
        let attempt = OtsProbe::attemptCall { to: beneficiary }.abi_encode();
        steps.push(tx("undone creation", TxKind::Call(probe), attempt, 1000, 500_000));
        let vanish = OtsChild::vanishCall { to: heir }.abi_encode();
        steps.push(tx("selfdestruct", TxKind::Call(child), vanish, 0, 100_000));
        for i in 0..5u64 {
            if i == 3 {
                steps.push(Step::Mine(2));
            }
            steps.push(tx("transfer", TxKind::Call(payee), Vec::new(), 10 + i, 21_000));
        }
        let (hash, raw) = signed(&other_signer, 0, TxKind::Call(me), Vec::new(), 5, 21_000);
        steps.push(Step::Tx { name: "transfer back", from: other, hash, raw });
        Scenario {
            steps,
            me,
            other,
            probe,
            relay,
            child,
            child2,
            create2_child,
            undone_child,
            beneficiary,
            heir,
            payee,
        }
    }

    fn txs(&self) -> impl Iterator<Item = (&'static str, Address, B256)> + '_ {
        self.steps.iter().filter_map(|s| match s {
            Step::Tx { name, from, hash, .. } => Some((*name, *from, *hash)),
            Step::Mine(_) => None,
        })
    }

    fn hash(&self, name: &str) -> B256 {
        self.txs().find(|t| t.0 == name).map(|t| t.2).expect("a transaction of that name")
    }

    /// Everything searched for, by name.
    fn searched(&self) -> Vec<(&'static str, Address)> {
        vec![
            ("me", self.me),
            ("other", self.other),
            ("probe", self.probe),
            ("relay", self.relay),
            ("child", self.child),
            ("beneficiary", self.beneficiary),
            ("payee", self.payee),
            ("heir", self.heir),
        ]
    }
}

async fn call(url: &str, method: &str, params: Value) -> Value {
    let r = rpc(url, method, params.clone()).await;
    assert!(r.get("error").is_none(), "{url} {method} {params}: {r}");
    r["result"].clone()
}

/// Runs the scenario on `backend` and records every answer, keyed by what was asked.
async fn answers_on(backend: Backend, s: &Scenario) -> BTreeMap<String, Value> {
    let chain = match backend {
        // anvil's first block keeps the genesis base fee; EIP-1559 (and this node) lowers
        // it by an eighth after the empty genesis, so anvil is started on the derived fee
        // and every later block's fees agree.
        Backend::Anvil => TestChain::anvil_with(&["--block-base-fee-per-gas", "875000000"]),
        Backend::Embedded => TestChain::embedded().await,
    }
    .unwrap();
    let url = chain.url().to_string();
    for step in &s.steps {
        match step {
            Step::Tx { name, hash, raw, .. } => {
                let sent = call(&url, "eth_sendRawTransaction", json!([raw])).await;
                assert_eq!(sent, json!(hash), "[{backend}] {name}");
                let r = receipt(&url, hash).await;
                let failed = matches!(*name, "revert with reason" | "custom error");
                assert_eq!(r["status"] == "0x0", failed, "[{backend}] {name}: {r}");
            }
            Step::Mine(n) => {
                chain.mine_blocks(*n).await.unwrap();
            }
        }
    }
    let head = quantity(&call(&url, "eth_blockNumber", json!([])).await);
    assert_eq!(head, 16, "[{backend}] one block per transaction and two empty ones");
    let mut a = BTreeMap::new();
    a.insert("apiLevel".into(), call(&url, "ots_getApiLevel", json!([])).await);
    for n in 0..=head {
        // Otterscan sends block numbers as JSON numbers.
        a.insert(format!("header {n}"), call(&url, "erigon_getHeaderByNumber", json!([n])).await);
        let details = call(&url, "ots_getBlockDetails", json!([n])).await;
        let hash = details["block"]["hash"].clone();
        a.insert(format!("details {n}"), details);
        a.insert(
            format!("details by hash {n}"),
            call(&url, "ots_getBlockDetailsByHash", json!([hash])).await,
        );
        a.insert(
            format!("block txs {n} page 0"),
            call(&url, "ots_getBlockTransactions", json!([n, 0, 10])).await,
        );
    }
    a.insert(
        "block txs 3 page 1".into(),
        call(&url, "ots_getBlockTransactions", json!([3, 1, 10])).await,
    );
    a.insert(
        "header latest".into(),
        call(&url, "erigon_getHeaderByNumber", json!(["latest"])).await,
    );
    for (name, _, hash) in s.txs() {
        let h = json!([hash]);
        a.insert(format!("trace {name}"), call(&url, "ots_traceTransaction", h.clone()).await);
        a.insert(format!("ops {name}"), call(&url, "ots_getInternalOperations", h.clone()).await);
        a.insert(format!("error {name}"), call(&url, "ots_getTransactionError", h).await);
    }
    for (name, addr) in s.searched() {
        // Page through the whole history both ways, two at a time.
        let mut block = 0u64;
        for page in 0.. {
            let r = call(&url, "ots_searchTransactionsBefore", json!([addr, block, 2])).await;
            let last = r["lastPage"] == true;
            let oldest =
                r["txs"].as_array().and_then(|t| t.last()).map(|t| t["blockNumber"].clone());
            a.insert(format!("before {name} page {page}"), r);
            match oldest {
                Some(n) if !last => block = quantity(&n),
                _ => break,
            }
            assert!(page < 20, "[{backend}] {name}: no last page");
        }
        block = 0;
        for page in 0.. {
            let r = call(&url, "ots_searchTransactionsAfter", json!([addr, block, 2])).await;
            let first = r["firstPage"] == true;
            let newest =
                r["txs"].as_array().and_then(|t| t.first()).map(|t| t["blockNumber"].clone());
            a.insert(format!("after {name} page {page}"), r);
            match newest {
                Some(n) if !first => block = quantity(&n),
                _ => break,
            }
            assert!(page < 20, "[{backend}] {name}: no first page");
        }
    }
    for nonce in [0u64, 1, 7, 12, 13, 99] {
        a.insert(
            format!("sender me nonce {nonce}"),
            call(&url, "ots_getTransactionBySenderAndNonce", json!([s.me, nonce])).await,
        );
    }
    for nonce in [0u64, 1] {
        a.insert(
            format!("sender other nonce {nonce}"),
            call(&url, "ots_getTransactionBySenderAndNonce", json!([s.other, nonce])).await,
        );
    }
    for (name, addr) in [
        ("me", s.me),
        ("payee", s.payee),
        ("probe", s.probe),
        ("relay", s.relay),
        ("child", s.child),
        ("child2", s.child2),
        ("create2 child", s.create2_child),
        ("undone child", s.undone_child),
    ] {
        a.insert(
            format!("creator {name}"),
            call(&url, "ots_getContractCreator", json!([addr])).await,
        );
    }
    for (name, addr, block) in [
        ("probe", s.probe, json!(0)),
        ("probe", s.probe, json!(1)),
        ("probe", s.probe, json!("latest")),
        ("child", s.child, json!(2)),
        ("child", s.child, json!("0x3")),
        ("me", s.me, json!("latest")),
        ("undone child", s.undone_child, json!("latest")),
    ] {
        a.insert(
            format!("hasCode {name} {block}"),
            call(&url, "ots_hasCode", json!([addr, block])).await,
        );
    }
    a
}

fn quantity(v: &Value) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("a quantity, found {v}"));
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// `v` without what the two nodes legitimately differ in for the same transactions:
/// - block hashes (`hash` of a block, `parentHash`, `blockHash`): anvil draws each block's
///   prevrandao (`mixHash`) at random and stamps blocks with its own clock, so headers —
///   and their hashes — differ although every transaction is the same;
/// - `timestamp` and `blockTimestamp`: each node's clock;
/// - `stateRoot`: under Prague anvil's genesis holds the EIP-2935 history contract, which
///   writes each parent hash, so the two states differ (the README and `proofs.rs` compare
///   roots under Cancun, where they are equal);
/// - `blobGasPrice` in receipts: anvil reports the blob base fee (1) on every receipt;
///   geth leaves it out for transactions without blobs, and so does this node;
/// - a block's `size`: this node, as geth, counts the RLP of the whole block, its (empty)
///   withdrawals list included; anvil's is one byte less.
fn comparable(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let is_block = o.contains_key("parentHash");
            Value::Object(
                o.iter()
                    .filter(|(k, _)| {
                        let differs = matches!(
                            k.as_str(),
                            "parentHash"
                                | "blockHash"
                                | "mixHash"
                                | "timestamp"
                                | "blockTimestamp"
                                | "stateRoot"
                                | "blobGasPrice"
                        );
                        let block_only = is_block && matches!(k.as_str(), "hash" | "size");
                        !differs && !block_only
                    })
                    .map(|(k, v)| (k.clone(), comparable(v)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(comparable).collect()),
        other => other.clone(),
    }
}

/// Compares `ours` with `theirs` key by key, recursively, naming the path of a difference.
fn same(path: &str, ours: &Value, theirs: &Value) {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let (x, y) = (a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null));
                same(&format!("{path}.{k}"), x, y);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{path}: length\nours:   {ours}\ntheirs: {theirs}");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                same(&format!("{path}[{i}]"), x, y);
            }
        }
        _ => assert_eq!(ours, theirs, "{path}"),
    }
}

/// Sets `key` to null in `v` and in every object below it.
fn null_everywhere(v: &mut Value, key: &str) {
    match v {
        Value::Object(o) => {
            if let Some(x) = o.get_mut(key) {
                *x = Value::Null;
            }
            o.values_mut().for_each(|x| null_everywhere(x, key));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| null_everywhere(x, key)),
        _ => {}
    }
}

#[tokio::test]
async fn otterscan_answers_match_anvil() {
    let s = Scenario::new();
    let mut all = Vec::new();
    for backend in backends() {
        all.push((backend, answers_on(backend, &s).await));
    }
    let (ours, theirs) = match all.as_slice() {
        [(Backend::Embedded, a), (Backend::Anvil, b)] => (a, b),
        other => panic!("expected the embedded node and anvil, got {}", other.len()),
    };
    // Blocks first: a block that differs explains every later difference.
    let mut keys: Vec<&String> = ours.keys().chain(theirs.keys()).collect();
    keys.sort_by_key(|k| (!k.starts_with("header "), !k.starts_with("details "), *k));
    keys.dedup();
    for key in keys {
        let search = search_page(key);
        if let (Some((dir, name, page)), None) = (&search, ours.get(key)) {
            // The page after one that ends exactly at the oldest (or newest) match: see below.
            let b = &theirs[key];
            assert_eq!(b["txs"], json!([]), "{key}: {b}");
            assert_eq!(b[end_flag(dir)], true, "{key}: {b}");
            let ours_before = &ours[&format!("{dir} {name} page {}", page - 1)];
            assert_eq!(ours_before[end_flag(dir)], true, "{key}");
            continue;
        }
        let (Some(a), Some(b)) = (ours.get(key), theirs.get(key)) else {
            panic!("{key}: asked on one backend only");
        };
        let (mut a, mut b) = (comparable(a), comparable(b));
        if key.ends_with(" 0") || key.ends_with(" 0 page 0") {
            // The genesis header's extraData names the node ("alara"); anvil's is empty.
            // Its base fee is anvil's start-up setting (above).
            for v in [&mut a, &mut b] {
                for at in ["", "/block", "/fullblock"] {
                    if let Some(Value::Object(o)) = v.pointer_mut(at) {
                        for field in ["extraData", "baseFeePerGas"] {
                            o.remove(field);
                        }
                    }
                }
            }
        }
        if key.starts_with("details ") {
            // Otterscan's documentation and erigon answer a block's logsBloom with null
            // ("rarely used, so we cap it"); anvil sends it.
            assert_eq!(a["block"]["logsBloom"], Value::Null, "{key}");
            b["block"]["logsBloom"] = Value::Null;
        }
        if key.starts_with("block txs ") {
            // As erigon, the receipts of a block page carry no logs or bloom, nor does the
            // block; anvil sends them.
            for r in a["receipts"].as_array().into_iter().flatten() {
                assert!(r["logs"].is_null() && r["logsBloom"].is_null(), "{key}: {r}");
            }
            assert!(a["fullblock"]["logsBloom"].is_null(), "{key}");
            null_everywhere(&mut b["receipts"], "logs");
            null_everywhere(&mut b["receipts"], "logsBloom");
            b["fullblock"]["logsBloom"] = Value::Null;
            // `transactionCount` is the whole block's here, as erigon's (Otterscan pages
            // with it); anvil counts the transactions of the page.
            if key.ends_with("page 1") {
                assert_eq!(a["fullblock"]["transactionCount"], 1, "{key}");
                b["fullblock"]["transactionCount"] = json!(1);
            }
        }
        if key.starts_with("trace ") {
            // Otterscan's documentation (and erigon) list creations and self-destructs in
            // the call tree; anvil lists only calls. The rest must be equal.
            a = a
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| {
                    !matches!(e["type"].as_str(), Some("CREATE" | "CREATE2" | "SELFDESTRUCT"))
                })
                .cloned()
                .collect();
        }
        if let Some(name) = key.strip_prefix("ops ") {
            // anvil also lists the transaction's own value transfer or creation; erigon and
            // reth (revm-inspectors' InternalOperationsInspector, which this node runs) list
            // only what happened inside it: Otterscan shows the transaction's own value
            // beside this list.
            let own = matches!(
                name,
                "create probe"
                    | "create relay"
                    | "fanOut"
                    | "relay"
                    | "undone creation"
                    | "transfer"
                    | "transfer back"
            );
            if own {
                let first = b.as_array_mut().map(|ops| ops.remove(0));
                let from = if name == "transfer back" { s.other } else { s.me };
                assert_eq!(first.as_ref().map(|o| o["from"].clone()), Some(json!(from)), "{key}");
            }
        }
        if key == "creator undone child" {
            // Created inside a call that reverted, so it never existed (no code): erigon
            // answers null for an address without code, as this node does; anvil finds the
            // creation in the trace and answers it.
            assert_eq!(a, Value::Null, "{key}");
            assert_eq!(b["creator"], json!(s.probe), "{key}: {b}");
            continue;
        }
        if key.starts_with("before heir") || key.starts_with("after heir") {
            // The heir only receives a self-destruct's balance: erigon's index counts a
            // self-destruct's beneficiary, as this node does; anvil's search does not.
            let vanish = json!(s.hash("selfdestruct"));
            assert_eq!(a["txs"].as_array().map(|t| t.len()), Some(1), "{key}: {a}");
            assert_eq!(a["txs"][0]["hash"], vanish, "{key}");
            assert_eq!(b["txs"], json!([]), "{key}: {b}");
            assert_eq!((a["firstPage"].clone(), a["lastPage"].clone()), (json!(true), json!(true)));
            continue;
        }
        if let Some((dir, name, page)) = &search {
            // When a page ends exactly at the address's oldest match (searching back) or
            // newest (searching forward), erigon's index knows nothing is left and says so
            // (lastPage or firstPage true), as this node does; anvil walks block by block and
            // says so only on the next, empty, page. Everything else is equal.
            let flag = end_flag(dir);
            if a[flag] == true && b[flag] == false {
                let next = &theirs[&format!("{dir} {name} page {}", page + 1)];
                assert_eq!(next["txs"], json!([]), "{key}: anvil's next page");
                b[flag] = json!(true);
            }
        }
        same(key, &a, &b);
    }

    // What the comparison alone would not show: the answers hold what they should.
    let trace = &ours["trace fanOut"];
    let types: Vec<&str> =
        trace.as_array().unwrap().iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types, ["CALL", "CALL", "CREATE", "CALL", "CREATE2"], "{trace}");
    assert_eq!(trace[2]["to"], json!(s.child));
    assert_eq!(trace[4]["to"], json!(s.create2_child));
    let relayed = &ours["trace relay"];
    assert_eq!(relayed[1]["depth"], 1, "{relayed}");
    assert_eq!(relayed[2]["depth"], 2, "{relayed}");
    let vanish = &ours["trace selfdestruct"];
    assert_eq!(vanish[1]["type"], "SELFDESTRUCT", "{vanish}");
    assert_eq!(vanish[1]["to"], json!(s.heir), "{vanish}");
    let ops = &ours["ops fanOut"];
    assert_eq!(ops.as_array().map(Vec::len), Some(4), "{ops}");
    assert_eq!(ops[0], json!({"type": 0, "from": s.probe, "to": s.beneficiary, "value": "0x1f4"}));
    // Error(string) with "boom", and Refused(7, me) by its selector.
    let reason = ours["error revert with reason"].as_str().unwrap();
    assert!(reason.starts_with("0x08c379a0") && reason.contains("626f6f6d"), "{reason}");
    let refused = OtsProbe::Refused::SELECTOR;
    let custom = ours["error custom error"].as_str().unwrap();
    assert!(custom.starts_with(&format!("0x{}", hex(&refused))), "{custom}");
    assert_eq!(ours["error fanOut"], "0x");
    assert_eq!(ours["creator me"], Value::Null);
    assert_eq!(ours["creator probe"], json!({"hash": s.hash("create probe"), "creator": s.me}));
    assert_eq!(ours["creator child"], json!({"hash": s.hash("fanOut"), "creator": s.probe}));
    assert_eq!(ours["creator child2"], json!({"hash": s.hash("relay"), "creator": s.probe}));
    assert_eq!(ours["sender me nonce 7"], json!(s.hash("selfdestruct")));
    assert_eq!(ours["sender me nonce 13"], Value::Null);
    assert_eq!(ours["sender other nonce 0"], json!(s.hash("transfer back")));
    // The payee's history spans the empty blocks: 5 transfers, newest first, in 3 pages.
    let payee: Vec<Value> = (0..3)
        .flat_map(|p| ours[&format!("before payee page {p}")]["txs"].as_array().unwrap().clone())
        .map(|t| t["value"].clone())
        .collect();
    assert_eq!(payee, ["0xe", "0xd", "0xc", "0xb", "0xa"].map(Value::from));
    assert!(!ours.contains_key("before payee page 3"));
    let beneficiary = &ours["before beneficiary page 0"];
    assert_eq!(beneficiary["txs"][0]["hash"], json!(s.hash("undone creation")), "{beneficiary}");
    assert_eq!(ours["block txs 3 page 0"]["fullblock"]["transactions"][0]["input"], "0x4a1af295");
}

/// `("before" | "after", address name, page)` of a search answer's key.
fn search_page(key: &str) -> Option<(String, String, u64)> {
    let (dir, rest) = key.split_once(' ')?;
    if dir != "before" && dir != "after" {
        return None;
    }
    let (name, page) = rest.rsplit_once(" page ")?;
    Some((dir.to_string(), name.to_string(), page.parse().ok()?))
}

/// The flag that ends a search walked in `dir`.
fn end_flag(dir: &str) -> &'static str {
    if dir == "before" {
        "lastPage"
    } else {
        "firstPage"
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A node whose blocks are mined only when asked (`evm_mine`), so one block can hold
/// several transactions.
async fn manual_node(
    config: NodeConfig,
) -> (std::sync::Arc<Node>, alara_chain::ServerHandle, String) {
    let node = Node::open(NodeConfig {
        mining: Mining::Interval(std::time::Duration::from_secs(3600)),
        ..config
    })
    .unwrap();
    let server = serve(node.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = server.url();
    (node, server, url)
}

/// Erigon pages a block's transactions from its last: page 0 holds the last `pageSize`,
/// and `transactionCount` is the whole block's (anvil mines one transaction per block here,
/// so the comparison above cannot show it). Searches list a block's transactions newest
/// first too, and a page never splits a block.
#[tokio::test]
async fn a_block_of_several_transactions_pages_from_its_last() {
    let (_node, _server, url) = manual_node(NodeConfig::ephemeral()).await;
    let signer = dev::dev_signer(2);
    let payee = Address::repeat_byte(0x42);
    let mut hashes = Vec::new();
    for nonce in 0..5u64 {
        let (hash, raw) =
            signed(&signer, nonce, TxKind::Call(payee), vec![1, 2, 3, 4, 5], nonce, 30_000);
        call(&url, "eth_sendRawTransaction", json!([raw])).await;
        hashes.push(hash);
    }
    call(&url, "evm_mine", json!([])).await;
    receipt(&url, hashes[4]).await;
    let page = |p: u64| {
        let url = url.clone();
        async move { call(&url, "ots_getBlockTransactions", json!([1, p, 2])).await }
    };
    let hashes_of = |v: &Value| -> Vec<Value> {
        v["fullblock"]["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["hash"].clone())
            .collect()
    };
    let p0 = page(0).await;
    assert_eq!(hashes_of(&p0), [json!(hashes[3]), json!(hashes[4])]);
    assert_eq!(p0["fullblock"]["transactionCount"], 5);
    assert_eq!(p0["fullblock"]["transactions"][0]["input"], "0x01020304", "cut to the selector");
    let receipts: Vec<Value> =
        p0["receipts"].as_array().unwrap().iter().map(|r| r["transactionHash"].clone()).collect();
    assert_eq!(receipts, hashes_of(&p0), "receipts in the order of the transactions");
    assert_eq!(hashes_of(&page(1).await), [json!(hashes[1]), json!(hashes[2])]);
    assert_eq!(hashes_of(&page(2).await), [json!(hashes[0])]);
    assert_eq!(hashes_of(&page(3).await), Vec::<Value>::new());
    assert_eq!(
        hashes_of(&call(&url, "ots_getBlockTransactions", json!([1, u64::MAX, u64::MAX])).await),
        Vec::<Value>::new()
    );

    // All five in one block: a page of 2 takes the whole block, newest first.
    let r = call(&url, "ots_searchTransactionsBefore", json!([payee, 0, 2])).await;
    let found: Vec<Value> =
        r["txs"].as_array().unwrap().iter().map(|t| t["hash"].clone()).collect();
    let newest_first: Vec<Value> = hashes.iter().rev().map(|h| json!(h)).collect();
    assert_eq!(found, newest_first);
    assert_eq!((r["firstPage"].clone(), r["lastPage"].clone()), (json!(true), json!(true)));
    let r = call(&url, "ots_searchTransactionsAfter", json!([payee, 0, 2])).await;
    let found: Vec<Value> =
        r["txs"].as_array().unwrap().iter().map(|t| t["hash"].clone()).collect();
    assert_eq!(found, newest_first);
    let details = call(&url, "ots_getBlockDetails", json!([1])).await;
    assert_eq!(details["block"]["transactionCount"], 5);
    let mut fees = U256::ZERO;
    for h in &hashes {
        let r = receipt(&url, h).await;
        fees += U256::from(quantity(&r["gasUsed"])) * U256::from(quantity(&r["effectiveGasPrice"]));
    }
    assert_eq!(details["totalFees"], json!(fees));
}

/// Every search of `addresses` from both ends, whole histories at page size 2.
async fn histories(url: &str, addresses: &[Address]) -> Vec<Value> {
    let mut out = Vec::new();
    for addr in addresses {
        for method in ["ots_searchTransactionsBefore", "ots_searchTransactionsAfter"] {
            for block in [0u64, 2, 3, 5] {
                out.push(call(url, method, json!([addr, block, 2])).await);
            }
        }
        out.push(call(url, "ots_getContractCreator", json!([addr])).await);
        out.push(call(url, "ots_getTransactionBySenderAndNonce", json!([addr, 1])).await);
    }
    out
}

/// The index is in the database: a node reopened on the same directory answers the same
/// searches, creators and nonces, and goes on indexing new blocks.
#[tokio::test]
async fn the_index_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = Scenario::new();
    let addresses: Vec<Address> =
        s.searched().into_iter().map(|(_, a)| a).chain([s.child, s.create2_child]).collect();
    let before = {
        let node = Node::open(NodeConfig::persistent(dir.path())).unwrap();
        let server = serve(node.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let url = server.url();
        for step in &s.steps {
            match step {
                Step::Tx { hash, raw, .. } => {
                    call(&url, "eth_sendRawTransaction", json!([raw])).await;
                    receipt(&url, hash).await;
                }
                Step::Mine(n) => {
                    call(&url, "anvil_mine", json!([n])).await;
                }
            }
        }
        let answers = histories(&url, &addresses).await;
        drop(node);
        server.stop().await;
        answers
    };
    assert!(before.iter().any(|a| a["txs"].as_array().is_some_and(|t| t.len() >= 2)));

    let node = Node::open(NodeConfig::persistent(dir.path())).unwrap();
    let server = serve(node.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = server.url();
    let after = histories(&url, &addresses).await;
    assert_eq!(after.len(), before.len());
    for (i, (a, b)) in after.iter().zip(&before).enumerate() {
        assert_eq!(a, b, "answer {i} changed across the restart");
    }
    // New blocks are indexed on top of the old ones.
    let (hash, raw) = signed(&dev::dev_signer(1), 1, TxKind::Call(s.payee), Vec::new(), 1, 21_000);
    call(&url, "eth_sendRawTransaction", json!([raw])).await;
    receipt(&url, hash).await;
    let r = call(&url, "ots_searchTransactionsBefore", json!([s.payee, 0, 1])).await;
    assert_eq!(r["txs"][0]["hash"], json!(hash));
    assert_eq!(r["lastPage"], false);
    let r = call(&url, "ots_getTransactionBySenderAndNonce", json!([s.other, 1])).await;
    assert_eq!(r, json!(hash));
}

/// `evm_revert` removes the reverted blocks' index entries with the blocks: nothing found
/// points at a transaction that no longer exists, and the reverted creation has no creator.
#[tokio::test]
async fn evm_revert_takes_the_index_entries_with_the_blocks() {
    let chain = TestChain::embedded().await.unwrap();
    let url = chain.url();
    let s = Scenario::new();
    let mut steps = s.steps.iter();
    for step in steps.by_ref().take(2) {
        if let Step::Tx { hash, raw, .. } = step {
            call(url, "eth_sendRawTransaction", json!([raw])).await;
            receipt(url, hash).await;
        }
    }
    let kept = histories(url, &[s.me, s.probe, s.beneficiary, s.child]).await;
    let snapshot = call(url, "evm_snapshot", json!([])).await;
    for step in steps.by_ref().take(2) {
        if let Step::Tx { hash, raw, .. } = step {
            call(url, "eth_sendRawTransaction", json!([raw])).await;
            receipt(url, hash).await;
        }
    }
    let grown = call(url, "ots_searchTransactionsBefore", json!([s.beneficiary, 0, 10])).await;
    assert_eq!(grown["txs"].as_array().map(Vec::len), Some(2), "{grown}");
    assert_eq!(
        call(url, "ots_getContractCreator", json!([s.child])).await["creator"],
        json!(s.probe)
    );
    assert_eq!(call(url, "evm_revert", json!([snapshot])).await, true);
    assert_eq!(histories(url, &[s.me, s.probe, s.beneficiary, s.child]).await, kept);
    assert_eq!(call(url, "ots_getContractCreator", json!([s.child])).await, Value::Null);
    assert_eq!(
        call(url, "ots_getTransactionBySenderAndNonce", json!([s.me, 2])).await,
        Value::Null
    );
    // The same transactions mined again are found again, in their new blocks.
    for step in s.steps.iter().skip(2).take(2) {
        if let Step::Tx { hash, raw, .. } = step {
            call(url, "eth_sendRawTransaction", json!([raw])).await;
            receipt(url, hash).await;
        }
    }
    let again = call(url, "ots_searchTransactionsBefore", json!([s.beneficiary, 0, 10])).await;
    assert_eq!(comparable(&again), comparable(&grown));
}

#[tokio::test]
async fn unknown_transactions_blocks_and_bad_params_are_clear() {
    let chain = TestChain::embedded().await.unwrap();
    let url = chain.url();
    let missing = B256::repeat_byte(9);
    for method in ["ots_traceTransaction", "ots_getInternalOperations", "ots_getTransactionError"] {
        let r = rpc(url, method, json!([missing])).await;
        assert_eq!(r["error"]["code"], -32602, "{method}: {r}");
        assert!(r["error"]["message"].as_str().unwrap().contains("not found"), "{method}: {r}");
    }
    // Missing blocks are null, as erigon answers and Otterscan expects ("block not found").
    assert_eq!(call(url, "ots_getBlockDetails", json!([99])).await, Value::Null);
    assert_eq!(call(url, "ots_getBlockDetailsByHash", json!([missing])).await, Value::Null);
    assert_eq!(call(url, "ots_getBlockTransactions", json!([99, 0, 10])).await, Value::Null);
    assert_eq!(call(url, "erigon_getHeaderByNumber", json!([99])).await, Value::Null);
    let me = dev::dev_addresses()[0];
    let r = rpc(url, "ots_searchTransactionsBefore", json!([me, 0, 100_000])).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("page size"), "{r}");
    let r = rpc(url, "ots_searchTransactionsAfter", json!(["0x12", 0, 10])).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("address"), "{r}");
    let r = rpc(url, "ots_getTransactionBySenderAndNonce", json!([me])).await;
    assert!(r["error"]["message"].as_str().unwrap().contains("nonce"), "{r}");
    let r = rpc(url, "ots_getApiLevel", json!([1])).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    let r = rpc(url, "ots_getBlockDetails", json!([99])).await;
    assert!(r["result"].is_null(), "{r}");
    // An empty chain: nothing before, nothing after, both ends reached.
    let r = call(url, "ots_searchTransactionsBefore", json!([me, 0, 25])).await;
    assert_eq!(r, json!({"txs": [], "receipts": [], "firstPage": true, "lastPage": true}));
    let r = call(url, "ots_searchTransactionsAfter", json!([me, 0, 25])).await;
    assert_eq!(r, json!({"txs": [], "receipts": [], "firstPage": true, "lastPage": true}));
}
