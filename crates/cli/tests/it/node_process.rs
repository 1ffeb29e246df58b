//! The node as a process: restart where it stopped, and lose no served receipt or block to
//! `kill -9`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, TxKind, B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
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
                    let (hash, raw) = transfer(&signer, nonce, Address::repeat_byte(0x42));
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
