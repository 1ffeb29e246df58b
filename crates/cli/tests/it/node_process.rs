//! The node as a process: restart where it stopped, lose no served receipt or block and
//! keep a sound state trie through `kill -9`, and survive running out of file descriptors.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, TxKind, B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::trie::{proof::verify_proof, Nibbles, TrieAccount};
use rand::Rng;

use crate::support::AlaraNode;

fn transfer(
    signer: &alloy::signers::local::PrivateKeySigner,
    nonce: u64,
    to: Address,
) -> (B256, Vec<u8>) {
    let mut tx = TxEip1559 {
        chain_id: 31337,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(to),
        value: U256::from(1),
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx).unwrap();
    let env = TxEnvelope::from(tx.into_signed(sig));
    (*env.tx_hash(), env.encoded_2718())
}

/// Where the kill -9 test's transfers go.
const RECIPIENT: Address = Address::repeat_byte(0x42);

/// Checks the state trie at block `at`: each of `addresses` has an `eth_getProof` that
/// verifies against the block header's `stateRoot` (alloy-trie's verifier, not the node's
/// code), proving the balance and nonce that `eth_getBalance` and
/// `eth_getTransactionCount` report there. Returns the proven (balance, nonce) of each.
async fn check_state_trie(
    provider: &impl Provider,
    at: u64,
    addresses: &[Address],
    context: &str,
) -> Vec<(U256, u64)> {
    let header = provider.get_block_by_number(at.into()).await.unwrap().unwrap().header;
    let root = header.state_root;
    let block = BlockId::number(at);
    let mut proven = Vec::new();
    for &address in addresses {
        let proof = provider.get_proof(address, vec![]).block_id(block).await.unwrap();
        assert_eq!(proof.address, address, "{context}");
        let account = TrieAccount {
            nonce: proof.nonce,
            balance: proof.balance,
            storage_root: proof.storage_hash,
            code_hash: proof.code_hash,
        };
        // An account that does not exist is proven absent.
        let value = (!proof.is_empty()).then(|| alloy::rlp::encode(account));
        let key = Nibbles::unpack(alloy::primitives::keccak256(address));
        if let Err(e) = verify_proof(root, key, value, &proof.account_proof) {
            panic!("{context}: the proof of {address} at {at} fails against stateRoot {root}: {e}");
        }
        let balance = provider.get_balance(address).block_id(block).await.unwrap();
        let nonce = provider.get_transaction_count(address).block_id(block).await.unwrap();
        assert_eq!((proof.balance, proof.nonce), (balance, nonce), "{context}: {address} at {at}");
        proven.push((balance, nonce));
    }
    proven
}

/// After a restart: the trie at the head verifies, and a new transfer mines into a block
/// whose trie verifies too and moves exactly what the transfer moved (so the trie's tables
/// are writable, not only readable). Returns the transfer's receipt as served.
async fn check_trie_after_restart(
    provider: &impl Provider,
    signer: &alloy::signers::local::PrivateKeySigner,
    addresses: &[Address],
    context: &str,
) -> (B256, u64, B256) {
    let head = provider.get_block_number().await.unwrap();
    let before = check_state_trie(provider, head, addresses, context).await;
    let latest = provider.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap();
    assert_eq!(latest.header.number, head, "{context}: nothing else runs after the restart");

    let from =
        addresses.iter().position(|a| *a == signer.address()).expect("the sender is checked");
    let to = addresses.iter().position(|a| *a == RECIPIENT).expect("the recipient is checked");
    let (hash, raw) = transfer(signer, before[from].1, RECIPIENT);
    let _pending = provider.send_raw_transaction(&raw).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let receipt = loop {
        if let Some(r) = provider.get_transaction_receipt(hash).await.unwrap() {
            break r;
        }
        assert!(Instant::now() < deadline, "{context}: no receipt for {hash} in 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(receipt.status(), "{context}");
    let number = receipt.block_number.unwrap();
    assert!(number > head, "{context}");
    let after = check_state_trie(provider, number, addresses, context).await;
    assert_eq!(after[from].1, before[from].1 + 1, "{context}: the sender's nonce");
    assert_eq!(after[to].0, before[to].0 + U256::from(1), "{context}: the recipient's balance");
    let fee = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    assert_eq!(
        after[from].0,
        before[from].0 - U256::from(1) - fee,
        "{context}: the sender's balance"
    );
    (hash, number, receipt.block_hash.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_continues_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let node = AlaraNode::start(dir.path(), &["up"]);
    let contracts = node.summary["contracts"].clone();
    for name in ["alara_token", "audit_anchor", "data_market", "federated_training"] {
        assert!(
            contracts[name].as_str().is_some_and(|a| a.starts_with("0x")),
            "{name}: {contracts}"
        );
    }
    let provider = ProviderBuilder::new().connect_http(node.url.parse().unwrap());
    let head = provider.get_block_number().await.unwrap();
    let hash = provider.get_block_by_number(head.into()).await.unwrap().unwrap().header.hash;
    drop(node);

    let node = AlaraNode::start(dir.path(), &["up"]);
    assert_eq!(node.summary["contracts"], contracts, "deploy is idempotent");
    let provider = ProviderBuilder::new().connect_http(node.url.parse().unwrap());
    assert_eq!(provider.get_block_number().await.unwrap(), head, "no new block on restart");
    let again = provider.get_block_by_number(head.into()).await.unwrap().unwrap().header.hash;
    assert_eq!(again, hash);
}

/// What a client was shown before the kill: a receipt, in a block with this hash.
type Served = Arc<Mutex<Vec<(B256, u64, B256)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_served_receipt_or_block() {
    // `eth_sendRawTransaction` answers once a transaction is valid and taken, as geth and
    // anvil do; the promise is about what was served from the chain: a receipt, or a block,
    // seen by anyone before `kill -9` is there after the restart, in the same block.
    let dir = tempfile::tempdir().unwrap();
    let signers = alara_chain::dev::dev_signers();
    let served: Served = Arc::default();
    let blocks_seen: Arc<Mutex<Vec<(u64, B256)>>> = Arc::default();
    let mut sent_total = 0usize;
    let mut last_head = 0u64;
    // The senders and the recipient: the accounts whose trie paths every block rewrites.
    let checked: Vec<Address> =
        signers.iter().take(4).map(|s| s.address()).chain([RECIPIENT]).collect();
    for cycle in 0..6 {
        let node = AlaraNode::start(dir.path(), &["chain", "node"]);
        let provider = ProviderBuilder::new().connect_http(node.url.parse().unwrap());
        let so_far = served.lock().unwrap().clone();
        for (hash, number, block) in so_far {
            let r = provider.get_transaction_receipt(hash).await.unwrap();
            let r = r.unwrap_or_else(|| panic!("cycle {cycle}: served receipt {hash} lost"));
            assert!(r.status(), "cycle {cycle}: {hash}");
            assert_eq!((r.block_number, r.block_hash), (Some(number), Some(block)), "{hash}");
        }
        let so_far = blocks_seen.lock().unwrap().clone();
        for (number, hash) in so_far {
            let b = provider.get_block_by_number(number.into()).await.unwrap();
            let b = b.unwrap_or_else(|| panic!("cycle {cycle}: served block {number} lost"));
            assert_eq!(b.header.hash, hash, "cycle {cycle}: block {number} changed");
        }
        let head = provider.get_block_number().await.unwrap();
        assert!(head >= last_head, "cycle {cycle}: head went back from {last_head} to {head}");
        let context = format!("cycle {cycle}");
        let receipt = check_trie_after_restart(&provider, &signers[0], &checked, &context).await;
        served.lock().unwrap().push(receipt);

        // Four senders, each waiting for the answer before its next transaction (as a
        // script does), and a watcher that reads receipts and blocks as they appear.
        let sent: Arc<Mutex<Vec<B256>>> = Arc::default();
        let mut tasks = Vec::new();
        for signer in signers.iter().take(4) {
            let (signer, url, sent) = (signer.clone(), node.url.clone(), sent.clone());
            tasks.push(tokio::spawn(async move {
                let provider = ProviderBuilder::new().connect_http(url.parse().unwrap());
                let Ok(mut nonce) = provider.get_transaction_count(signer.address()).await else {
                    return;
                };
                loop {
                    let (hash, raw) = transfer(&signer, nonce, RECIPIENT);
                    match provider.send_raw_transaction(&raw).await {
                        Ok(_) => sent.lock().unwrap().push(hash),
                        Err(_) => return, // the node died under us
                    }
                    nonce += 1;
                }
            }));
        }
        let watcher = {
            let (url, sent, served, blocks_seen) =
                (node.url.clone(), sent.clone(), served.clone(), blocks_seen.clone());
            tokio::spawn(async move {
                let provider = ProviderBuilder::new().connect_http(url.parse().unwrap());
                let mut next = 0usize;
                loop {
                    let pending: Vec<B256> = sent.lock().unwrap()[next..].to_vec();
                    for hash in pending {
                        match provider.get_transaction_receipt(hash).await {
                            Ok(Some(r)) => {
                                let (n, b) = (r.block_number.unwrap(), r.block_hash.unwrap());
                                served.lock().unwrap().push((hash, n, b));
                                next += 1;
                            }
                            Ok(None) => break, // not durable yet: wait, in order
                            Err(_) => return,
                        }
                    }
                    match provider.get_block_by_number(alloy::eips::BlockNumberOrTag::Latest).await
                    {
                        Ok(Some(b)) => {
                            blocks_seen.lock().unwrap().push((b.header.number, b.header.hash))
                        }
                        Ok(None) => {}
                        Err(_) => return,
                    }
                }
            })
        };
        let wait = rand::thread_rng().gen_range(100..600);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        last_head = provider.get_block_number().await.unwrap_or(head);
        node.kill9();
        for t in tasks {
            let _ = t.await;
        }
        let _ = watcher.await;
        sent_total += sent.lock().unwrap().len();
    }
    let node = AlaraNode::start(dir.path(), &["chain", "node"]);
    let provider = ProviderBuilder::new().connect_http(node.url.parse().unwrap());
    check_trie_after_restart(&provider, &signers[0], &checked, "after the last kill").await;
    let served = served.lock().unwrap().clone();
    assert!(
        served.len() > 50,
        "the test should have seen many receipts, got {} of {sent_total} sent",
        served.len()
    );
    for (hash, number, block) in &served {
        let r = provider.get_transaction_receipt(*hash).await.unwrap();
        let r = r.unwrap_or_else(|| panic!("lost {hash}"));
        assert_eq!((r.block_number, r.block_hash), (Some(*number), Some(*block)), "{hash}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_passes_the_log_query_caps_to_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let node = AlaraNode::start(
        dir.path(),
        &["up", "--ephemeral", "--no-deploy", "--max-logs-range", "10", "--max-logs-results", "5"],
    );
    let provider = ProviderBuilder::new().connect_http(node.url.parse().unwrap());
    let _: serde_json::Value =
        provider.raw_request("anvil_mine".into(), (U256::from(20),)).await.unwrap();
    let all = alloy::rpc::types::Filter::new().from_block(0);
    let err = provider.get_logs(&all).await.unwrap_err().to_string();
    assert!(err.contains("-32005") && err.contains("max block range 10"), "{err}");
    let page = alloy::rpc::types::Filter::new().from_block(11).to_block(20);
    assert!(provider.get_logs(&page).await.unwrap().is_empty());

    // Six Transfer logs (the mint and five transfers) within one page: over the result cap.
    let me = alara_chain::dev::dev_addresses()[0];
    let wallet =
        alara_chain::client::provider_for(&node.url, alara_chain::dev::dev_signer(0)).unwrap();
    let token = alara_contracts::AlaraToken::deploy(&wallet, me, U256::from(100)).await.unwrap();
    for _ in 0..5 {
        token
            .transfer(Address::repeat_byte(7), U256::from(1))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }
    let head = provider.get_block_number().await.unwrap();
    let recent = alloy::rpc::types::Filter::new().from_block(head - 9).to_block(head);
    let err = provider.get_logs(&recent).await.unwrap_err().to_string();
    assert!(err.contains("more than 5 results"), "{err}");
}

/// `eth_blockNumber` over a new connection, or why it got no answer within `timeout`.
fn block_number(addr: SocketAddr, timeout: Duration) -> Result<u64, String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#;
    write!(
        stream,
        "POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(|e| format!("read: {e} after {answer:?}"))?;
    let (_, json) = answer.split_once("\r\n\r\n").ok_or(format!("no HTTP answer: {answer:?}"))?;
    let json: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("{e} in {answer:?}"))?;
    let hex = json["result"].as_str().ok_or(format!("no result: {answer:?}"))?;
    u64::from_str_radix(hex.trim_start_matches("0x"), 16).map_err(|e| e.to_string())
}

#[test]
fn the_node_survives_running_out_of_file_descriptors() {
    // A node limited to 64 descriptors (it uses about 13 idle) and allowed 1,000
    // connections: idle connections held open exhaust its descriptors long before the
    // connection limit, and accept() fails with EMFILE. The kernel still completes the
    // handshakes (they wait in the listen queue), so the connections succeed; what stops is
    // the answers.
    const NOFILE: usize = 64;
    let dir = tempfile::tempdir().unwrap();
    let limit = format!("--nofile={NOFILE}:{NOFILE}");
    let (mut node, stderr) = crate::support::AlaraNode::start_wrapped(
        dir.path(),
        // Idle connections are not closed by the header timeout while the test holds them.
        &["chain", "node", "--max-connections", "1000", "--header-read-timeout", "600"],
        &["prlimit", &limit, "--"],
    );
    let addr: SocketAddr = node.url.trim_start_matches("http://").parse().unwrap();
    assert_eq!(block_number(addr, Duration::from_secs(10)), Ok(0));

    let mut held = Vec::new();
    let exhausted = loop {
        for _ in 0..8 {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
                Ok(s) => held.push(s),
                Err(e) => panic!("connection {} refused by the kernel: {e}", held.len()),
            }
        }
        // A request now either gets its answer (the node still had a descriptor for it) or
        // waits in the listen queue behind connections the node cannot accept.
        if block_number(addr, Duration::from_secs(2)).is_err() {
            break true;
        }
        if held.len() >= 4 * NOFILE {
            break false;
        }
    };
    assert!(
        exhausted,
        "the node answered with {} connections held: the limit did not apply",
        held.len()
    );
    // It ran out because of EMFILE, and said so; and it is still running.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stderr.lock().unwrap().contains("Too many open files") {
        assert!(
            Instant::now() < deadline,
            "no accept error logged with {} connections held; stderr: {}",
            held.len(),
            stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = stderr.lock().unwrap().clone();
    assert!(log.contains("accept failed"), "{log}");
    assert!(node.child.try_wait().unwrap().is_none(), "the node died: {log}");

    // With the descriptors back, it accepts and answers again, within seconds.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(15);
    let answered = loop {
        match block_number(addr, Duration::from_secs(2)) {
            Ok(n) => break n,
            Err(e) => assert!(
                Instant::now() < deadline,
                "no answer 15 s after the connections closed: {e}; stderr: {}",
                stderr.lock().unwrap()
            ),
        }
    };
    assert_eq!(answered, 0);
    for _ in 0..NOFILE * 2 {
        // More requests than it has descriptors: each connection's descriptor comes back.
        assert_eq!(block_number(addr, Duration::from_secs(10)), Ok(0));
    }
    assert!(node.child.try_wait().unwrap().is_none(), "the node died");
}
