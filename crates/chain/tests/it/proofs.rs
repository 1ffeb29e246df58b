//! State roots and `eth_getProof`, checked by code that is not ours: `scripts/verify_proofs.py`
//! verifies every proof with py-trie (Ethereum's reference trie) against the header's
//! stateRoot, on the embedded node and on anvil — anvil's passing shows the checker right.

use std::path::PathBuf;
use std::process::Command;

use alara_chain::testing::{backends, spawn_anvil, Backend, TestChain};
use alara_chain::{dev, tools, NodeConfig};
use alara_contracts::AlaraToken;
use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use serde_json::{json, Value};

use crate::support::rpc;

/// Set to `1` to let these tests run without anvil; the suite never sets it.
const ALLOW_NO_ANVIL: &str = "ALARA_ALLOW_NO_ANVIL";

fn anvil_may_be_missing(backend: Backend) -> bool {
    backend == Backend::Anvil && std::env::var(ALLOW_NO_ANVIL).is_ok_and(|v| v == "1")
}

async fn start(backend: Backend) -> Option<TestChain> {
    match TestChain::start(backend).await {
        Ok(c) => Some(c),
        Err(e) if anvil_may_be_missing(backend) => {
            eprintln!("anvil did not start ({e}); skipped because {ALLOW_NO_ANVIL}=1");
            None
        }
        Err(e) => panic!(
            "{backend} did not start: {e} (anvil comes from node_modules: run `npm ci`; only \
             {ALLOW_NO_ANVIL}=1 lets the tests run without anvil)"
        ),
    }
}

fn python() -> PathBuf {
    let python = std::env::var("ALARA_PYTHON").map(PathBuf::from).unwrap_or_else(|_| {
        tools::repo_root().expect("inside the repository").join(".venv/bin/python")
    });
    assert!(
        python.exists(),
        "{} missing: run scripts/test.sh, which installs py-trie into .venv (or set ALARA_PYTHON)",
        python.display()
    );
    python
}

/// Runs the checker (off the runtime, which serves the embedded node); returns what it checked.
async fn verify(url: &str, block: u64, addresses: &[Address], slots: &[B256]) -> Value {
    let (url, addresses, slots) = (url.to_string(), addresses.to_vec(), slots.to_vec());
    tokio::task::spawn_blocking(move || verify_now(&url, block, &addresses, &slots)).await.unwrap()
}

fn verify_now(url: &str, block: u64, addresses: &[Address], slots: &[B256]) -> Value {
    let script =
        tools::repo_root().expect("inside the repository").join("scripts/verify_proofs.py");
    let addresses: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
    let slots: Vec<String> = slots.iter().map(|s| s.to_string()).collect();
    let out = Command::new(python())
        .arg(script)
        .arg(url)
        .arg(block.to_string())
        .arg(addresses.join(","))
        .arg(slots.join(","))
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "verify_proofs.py failed at block {block} of {url}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the checker prints JSON")
}

/// The slot of `holder` in a Solidity `mapping(address => _)` declared at slot `index`.
fn mapping_slot(holder: Address, index: u64) -> B256 {
    let mut buf = [0u8; 64];
    buf[12..32].copy_from_slice(holder.as_slice());
    buf[32..].copy_from_slice(&U256::from(index).to_be_bytes::<32>());
    keccak256(buf)
}

fn fresh(i: u8) -> Address {
    Address::with_last_byte(i).create(7)
}

#[tokio::test]
async fn proofs_verify_with_the_reference_trie_on_every_backend() {
    for backend in backends() {
        let Some(chain) = start(backend).await else { continue };
        let p = chain.provider(0);
        let me = dev::dev_addresses()[0];
        let token =
            AlaraToken::deploy(&p, me, U256::from(10u64).pow(U256::from(24))).await.unwrap();
        let first = p.get_block_number().await.unwrap();
        let mut holders = vec![me, dev::dev_addresses()[1]];
        for i in 1..=4u8 {
            holders.push(fresh(i));
        }
        for (k, h) in holders.iter().skip(1).enumerate() {
            token
                .transfer(*h, U256::from(1000 + k))
                .send()
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap();
        }
        // A holder that gives everything back: its slot is cleared again.
        AlaraToken::new(*token.address(), chain.provider(1))
            .transfer(me, U256::from(1000))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let latest = p.get_block_number().await.unwrap();

        let absent = Address::repeat_byte(0xde);
        let mut addresses = vec![*token.address(), absent];
        addresses.extend(&holders);
        let mut slots: Vec<B256> = (0..6u64).map(|i| B256::from(U256::from(i))).collect();
        for h in holders.iter().chain([&absent]) {
            for index in 0..2 {
                slots.push(mapping_slot(*h, index));
            }
        }
        for block in [first, first + 2, latest] {
            let seen = verify(chain.url(), block, &addresses, &slots).await;
            eprintln!("{backend} block {block}: {seen}");
            assert!(seen["absent_accounts"].as_u64().unwrap() >= 1, "{backend}: {seen}");
            let (n, absent) =
                (seen["slots"].as_u64().unwrap(), seen["absent_slots"].as_u64().unwrap());
            assert!(absent >= 1 && absent < n, "{backend}: present and absent slots: {seen}");
            if backend == Backend::Embedded {
                assert_eq!(seen["zero_leaves"], 0, "a cleared slot must leave the trie: {seen}");
            }
        }
    }
}

/// An EIP-1559 transaction with every field fixed, so both backends get the same bytes.
/// The signed creation (nonce 0) of an AlaraToken with `owner` as treasury.
fn token_deployment(owner: &PrivateKeySigner) -> Bytes {
    let init = [
        AlaraToken::BYTECODE.as_ref(),
        &alloy::sol_types::SolValue::abi_encode_params(&(
            owner.address(),
            U256::from(10u64).pow(U256::from(24)),
        )),
    ]
    .concat();
    signed(owner, 0, TxKind::Create, init.into(), U256::ZERO)
}

fn signed(signer: &PrivateKeySigner, nonce: u64, to: TxKind, input: Bytes, value: U256) -> Bytes {
    let mut tx = TxEip1559 {
        chain_id: alara_chain::DEFAULT_CHAIN_ID,
        nonce,
        gas_limit: 3_000_000,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value,
        input,
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx).unwrap();
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

/// The same genesis (the ten dev accounts with 10 000 ether each) and the same signed
/// transactions give the same state root after every block on both nodes.
///
/// Only under Cancun: under Prague anvil's genesis also holds the EIP-2935 block-hash
/// history contract, whose storage gets each parent block's hash — and the two nodes'
/// block hashes differ (timestamps, extra data, prevrandao), so their roots cannot agree.
/// Anvil also puts the CREATE2 deployer into its genesis, which the embedded node's does
/// not hold, so anvil runs without it here; and anvil gives block 1 its configured base fee where the
/// embedded node derives it from the genesis header (1 gwei → 0.875 gwei after an empty
/// block, as EIP-1559 has it), so anvil is configured with the derived fee. No slot is
/// cleared: anvil keeps a slot set to zero as a leaf holding zero (Ethereum removes it),
/// so from such a block on its root is not Ethereum's.
#[tokio::test]
async fn state_roots_equal_anvils_block_by_block() {
    let config = NodeConfig { hardfork: alara_chain::Hardfork::Cancun, ..NodeConfig::ephemeral() };
    let embedded = TestChain::embedded_with(config).await.unwrap();
    let anvil = match spawn_anvil(&[
        "--hardfork",
        "cancun",
        "--disable-default-create2-deployer",
        "--block-base-fee-per-gas",
        "875000000",
    ]) {
        Ok(a) => a,
        Err(e) if anvil_may_be_missing(Backend::Anvil) => {
            eprintln!("anvil did not start ({e}); skipped because {ALLOW_NO_ANVIL}=1");
            return;
        }
        Err(e) => panic!("anvil did not start: {e} (run `npm ci`)"),
    };
    let (child, anvil_url) = anvil;
    let _anvil = Kill(child);
    let owner = dev::dev_signer(0);
    let p = embedded.provider(0);
    let init =
        AlaraToken::deploy_builder(&p, owner.address(), U256::from(10u64).pow(U256::from(24)))
            .calldata()
            .clone();
    let token = owner.address().create(0);
    let instance = AlaraToken::new(token, &p);
    let mut raws = vec![signed(&owner, 0, TxKind::Create, init, U256::ZERO)];
    for k in 0..4u64 {
        let to = fresh(k as u8 + 1);
        let call = instance.transfer(to, U256::from(500 + k)).calldata().clone();
        raws.push(signed(&owner, k + 1, TxKind::Call(token), call, U256::ZERO));
    }
    raws.push(signed(&dev::dev_signer(1), 0, TxKind::Call(fresh(9)), Bytes::new(), U256::from(7)));
    for raw in &raws {
        for url in [embedded.url(), anvil_url.as_str()] {
            let r = rpc(url, "eth_sendRawTransaction", json!([raw])).await;
            assert!(r["error"].is_null(), "{url}: {r}");
        }
    }
    for url in [embedded.url(), anvil_url.as_str()] {
        crate::support::wait_for_block(url, raws.len() as u64).await;
    }
    for n in 1..=raws.len() as u64 {
        let ours =
            rpc(embedded.url(), "eth_getBlockByNumber", json!([format!("0x{n:x}"), false])).await;
        let theirs =
            rpc(&anvil_url, "eth_getBlockByNumber", json!([format!("0x{n:x}"), false])).await;
        if ours["result"]["stateRoot"] != theirs["result"]["stateRoot"] {
            let mut diff = Vec::new();
            for a in [
                owner.address(),
                token,
                Address::ZERO,
                dev::dev_addresses()[1],
                dev::dev_addresses()[5],
            ] {
                let q = json!([a, [], format!("0x{n:x}")]);
                let x = rpc(embedded.url(), "eth_getProof", q.clone()).await["result"].clone();
                let y = rpc(&anvil_url, "eth_getProof", q).await["result"].clone();
                for f in ["balance", "nonce", "storageHash", "codeHash"] {
                    if x[f] != y[f] {
                        diff.push(format!("{a} {f}: embedded {} anvil {}", x[f], y[f]));
                    }
                }
            }
            panic!("block {n}: state roots differ: {diff:#?}");
        }
    }
}

/// Kills a child process when dropped, a failing test included.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Cheat codes, a revert and a reopen keep the tries equal to the state: every proof still
/// verifies against its header afterwards, and mining continues from the same root.
#[tokio::test]
async fn cheats_reverts_and_reopening_keep_the_tries_right() {
    let dir = tempfile::tempdir().unwrap();
    let me = dev::dev_addresses()[0];
    let absent = Address::repeat_byte(0xde);
    let (token, root, head) = {
        let node = alara_chain::Node::open(NodeConfig::persistent(dir.path())).unwrap();
        let server =
            alara_chain::serve(node.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let url = server.url();
        let p = alloy::providers::ProviderBuilder::new()
            .wallet(alloy::network::EthereumWallet::from(dev::dev_signer(0)))
            .connect_http(url.parse().unwrap());
        let token =
            AlaraToken::deploy(&p, me, U256::from(10u64).pow(U256::from(24))).await.unwrap();
        let send = |to: Address| {
            let token = token.clone();
            async move {
                token
                    .transfer(to, U256::from(77))
                    .send()
                    .await
                    .unwrap()
                    .get_receipt()
                    .await
                    .unwrap();
            }
        };
        send(fresh(1)).await;
        let snap = rpc(&url, "evm_snapshot", json!([])).await["result"].clone();
        send(fresh(2)).await;
        let c = fresh(3);
        rpc(&url, "anvil_setBalance", json!([c, "0x1234"])).await;
        rpc(&url, "anvil_setStorageAt", json!([token.address(), "0x9", B256::from(U256::from(5))]))
            .await;
        // A proof at the head before the next block ignores the cheats: it matches the header.
        let head = p.get_block_number().await.unwrap();
        let slots =
            [mapping_slot(fresh(1), 0), mapping_slot(fresh(2), 0), B256::from(U256::from(9))];
        let addrs = [*token.address(), me, c, absent, fresh(1), fresh(2)];
        verify(&url, head, &addrs, &slots).await;
        rpc(&url, "evm_mine", json!([])).await;
        verify(&url, head + 1, &addrs, &slots).await;
        let seen = verify(&url, head + 1, &[*token.address()], &slots).await;
        assert_eq!(
            seen["absent_slots"], 0,
            "the cheated slot and both holders are present: {seen}"
        );
        assert_eq!(rpc(&url, "evm_revert", json!([snap])).await["result"], true);
        let head = p.get_block_number().await.unwrap();
        verify(&url, head, &addrs, &slots).await;
        let seen = verify(&url, head, &[*token.address()], &slots).await;
        assert_eq!(seen["absent_slots"], 2, "only the first holder is left: {seen}");
        // A new provider: the old one's nonce cache predates the revert.
        let p = alloy::providers::ProviderBuilder::new()
            .wallet(alloy::network::EthereumWallet::from(dev::dev_signer(0)))
            .connect_http(url.parse().unwrap());
        AlaraToken::new(*token.address(), &p)
            .transfer(fresh(4), U256::from(77))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let head = p.get_block_number().await.unwrap();
        for block in 0..=head {
            verify(&url, block, &addrs, &slots).await;
        }
        let root = p.get_block_by_number(head.into()).await.unwrap().unwrap().header.state_root;
        drop(node);
        server.stop().await;
        (*token.address(), root, head)
    };
    let node = alara_chain::Node::open(NodeConfig::persistent(dir.path())).unwrap();
    let server = alara_chain::serve(node, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = server.url();
    let p = alloy::providers::ProviderBuilder::new()
        .wallet(alloy::network::EthereumWallet::from(dev::dev_signer(0)))
        .connect_http(url.parse().unwrap());
    assert_eq!(p.get_block_by_number(head.into()).await.unwrap().unwrap().header.state_root, root);
    AlaraToken::new(token, &p)
        .transfer(fresh(5), U256::from(1))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let slots = [mapping_slot(fresh(5), 0), mapping_slot(me, 0)];
    verify(&url, head + 1, &[token, me, fresh(5), absent], &slots).await;
}

/// What the Merkle root costs a block: the same ERC-20 transfers (one block each, fresh
/// recipients so the storage trie grows) with the root on and off. Prints the figures; run
/// by hand with `cargo test -p alara-chain --release --test it root_cost -- --ignored
/// --nocapture` (no timing is asserted).
#[tokio::test]
#[ignore = "a measurement, run by hand"]
async fn root_cost() {
    use alloy::sol_types::SolCall;
    let n: u64 =
        std::env::var("ALARA_ROOT_COST_TXS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    for merkle in [false, true, false, true] {
        let dir = tempfile::tempdir().unwrap();
        let config = NodeConfig { merkle_state_root: merkle, ..NodeConfig::persistent(dir.path()) };
        let node = alara_chain::Node::open(config).unwrap();
        let owner = dev::dev_signer(0);
        node.send_raw(&token_deployment(&owner)).await.unwrap();
        let token = owner.address().create(0);
        let raws: Vec<Bytes> = (0..n)
            .map(|k| {
                let mut to = [0u8; 20];
                to[..8].copy_from_slice(&k.to_be_bytes());
                to[19] = 1;
                let call =
                    AlaraToken::transferCall::new((Address::from(to), U256::from(1))).abi_encode();
                signed(&owner, k + 1, TxKind::Call(token), call.into(), U256::ZERO)
            })
            .collect();
        // All submitted at once: the miner groups them into batches (one fsync each), so
        // the time is the miner's, block by block.
        let t0 = std::time::Instant::now();
        let tasks: Vec<_> = raws
            .into_iter()
            .map(|raw| {
                let node = node.clone();
                tokio::spawn(async move { node.send_raw(&raw).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let elapsed = t0.elapsed();
        eprintln!(
            "merkle_state_root={merkle}: {n} transfers (one block each) in {elapsed:?}: {:.1} us/block",
            elapsed.as_secs_f64() * 1e6 / n as f64
        );
        node.shutdown();
    }
}

/// The chain benchmark's workload in small (ERC-20 transfers to fresh recipients, submitted
/// over HTTP with 32 requests in flight) on the embedded node with the Merkle root off and
/// on. Prints transfers per second; run by hand like [`root_cost`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand"]
async fn root_cost_over_http() {
    use alloy::sol_types::SolCall;
    let n: u64 =
        std::env::var("ALARA_ROOT_COST_TXS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let owner = dev::dev_signer(0);
    let token = owner.address().create(0);
    let deploy = token_deployment(&owner);
    let raws: Vec<String> = (0..n)
        .map(|k| {
            let mut to = [0u8; 20];
            to[..8].copy_from_slice(&k.to_be_bytes());
            to[19] = 1;
            let call =
                AlaraToken::transferCall::new((Address::from(to), U256::from(1))).abi_encode();
            signed(&owner, k + 1, TxKind::Call(token), call.into(), U256::ZERO).to_string()
        })
        .collect();
    let runs = ["root off", "root on", "root off", "root on"];
    for run in runs {
        let dir = tempfile::tempdir().unwrap();
        let config = NodeConfig {
            merkle_state_root: run.ends_with("on"),
            ..NodeConfig::persistent(dir.path())
        };
        let node = alara_chain::Node::open(config).unwrap();
        let server = alara_chain::serve(node, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let url = server.url();
        let r = rpc(&url, "eth_sendRawTransaction", json!([deploy])).await;
        assert!(r["error"].is_null(), "{r}");
        let http = reqwest::Client::new();
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
        let t0 = std::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for raw in &raws {
            let permit = slots.clone().acquire_owned().await.unwrap();
            let body = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [raw]});
            let (http, url) = (http.clone(), url.clone());
            tasks.spawn(async move {
                let r: Value =
                    http.post(&url).json(&body).send().await.unwrap().json().await.unwrap();
                drop(permit);
                assert!(r["error"].is_null(), "{r}");
            });
        }
        while let Some(t) = tasks.join_next().await {
            t.unwrap();
        }
        // Every transfer is mined once the owner's nonce has passed them all.
        loop {
            let nonce =
                rpc(&url, "eth_getTransactionCount", json!([owner.address(), "latest"])).await;
            let nonce = nonce["result"].as_str().unwrap().trim_start_matches("0x");
            if u64::from_str_radix(nonce, 16).unwrap() > n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let elapsed = t0.elapsed();
        eprintln!(
            "{run}: {n} transfers in {elapsed:?}: {:.0} transfers/s",
            n as f64 / elapsed.as_secs_f64()
        );
    }
}

/// With the miner's trie-node cache cut back to a handful of nodes after nearly every
/// commit, while senders keep blocks being mined during the commits before them, the
/// state roots are those of a node that keeps every node (the same transactions mined in
/// the same order), and proofs at older blocks still match their headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_trie_cache_gives_the_same_roots() {
    let dir = tempfile::tempdir().unwrap();
    let config = NodeConfig { trie_cache_nodes: 8, ..NodeConfig::persistent(dir.path()) };
    let node = alara_chain::Node::open(config).unwrap();
    let server = alara_chain::serve(node.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = server.url();
    let mut raws = std::collections::HashMap::new();
    let mut senders = Vec::new();
    for k in 1..=6u8 {
        let signer = dev::dev_signer(k as usize);
        let txs: Vec<Bytes> = (0..25u8)
            .map(|n| {
                let to = TxKind::Call(fresh(k * 25 + n));
                signed(&signer, n as u64, to, Bytes::new(), U256::from(1))
            })
            .collect();
        for raw in &txs {
            raws.insert(keccak256(raw), raw.clone());
        }
        let url = url.clone();
        senders.push(tokio::spawn(async move {
            for raw in txs {
                let r = rpc(&url, "eth_sendRawTransaction", json!([raw])).await;
                assert!(r["error"].is_null(), "{r}");
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    crate::support::wait_for_block(&url, 150).await;
    let stats = node.trie_cache();
    assert!(stats.evictions > 0, "the cache was cut back: {stats:?}");
    assert!(stats.nodes <= 8, "{stats:?}");

    let reference = TestChain::embedded().await.unwrap();
    let mut roots = Vec::new();
    for n in 1..=150u64 {
        let block = rpc(&url, "eth_getBlockByNumber", json!([format!("0x{n:x}"), false])).await;
        let hash: B256 =
            serde_json::from_value(block["result"]["transactions"][0].clone()).unwrap();
        let r = rpc(reference.url(), "eth_sendRawTransaction", json!([raws[&hash]])).await;
        assert!(r["error"].is_null(), "{r}");
        crate::support::receipt(reference.url(), hash).await;
        roots.push((n, block["result"]["stateRoot"].clone()));
    }
    for (n, root) in roots {
        let theirs =
            rpc(reference.url(), "eth_getBlockByNumber", json!([format!("0x{n:x}"), false])).await;
        assert_eq!(root, theirs["result"]["stateRoot"], "block {n}");
    }
    for block in ["0x14", "0x64", "latest"] {
        let r = rpc(&url, "eth_getProof", json!([fresh(41), [], block])).await;
        assert!(r["error"].is_null(), "proof at {block}: {r}");
    }
}
