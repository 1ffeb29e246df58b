//! `eth_getLogs` limits as public providers set them: a block range cap and a result cap,
//! both answered with `-32005`; and a paged scan that stays within the cap.

use alara_chain::testing::{backends, TestChain};
use alara_chain::{dev, NodeConfig};
use alara_contracts::AlaraToken;
use alloy::primitives::{address, Address, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use serde_json::json;

use crate::support::{error_code, error_message, rpc};

const OTHER: Address = address!("70997970C51812dc3A010C7d01b50e0d17dc79C8");

fn range(from: u64, to: u64) -> serde_json::Value {
    json!([{ "fromBlock": format!("{from:#x}"), "toBlock": format!("{to:#x}") }])
}

#[tokio::test]
async fn mine_blocks_mines_that_many_on_every_backend() {
    for backend in backends() {
        let chain = TestChain::start(backend).await.unwrap();
        let before = chain.provider(0).get_block_number().await.unwrap();
        let head = chain.mine_blocks(2500).await.unwrap();
        assert_eq!(head, before + 2500, "{backend}");
        let block = chain.provider(0).get_block_by_number(head.into()).await.unwrap().unwrap();
        assert!(block.transactions.is_empty(), "{backend}: mined blocks are empty");
    }
}

#[tokio::test]
async fn over_wide_get_logs_is_refused_with_32005_on_a_capped_node() {
    let chain = TestChain::embedded_capped(1000).await.unwrap();
    chain.mine_blocks(2500).await.unwrap();

    let resp =
        rpc(chain.url(), "eth_getLogs", json!([{ "fromBlock": "0x0", "toBlock": "latest" }])).await;
    assert_eq!(error_code(&resp), -32005, "{resp}");
    let msg = error_message(&resp);
    assert!(msg.starts_with("query exceeds max block range 1000"), "{msg}");
    assert!(msg.contains("[0x0, 0x3e7]"), "the allowed range is offered: {msg}");

    // The cap counts blocks inclusively: 1,000 blocks pass, 1,001 do not.
    let resp = rpc(chain.url(), "eth_getLogs", range(0, 999)).await;
    assert!(resp["result"].is_array(), "{resp}");
    let resp = rpc(chain.url(), "eth_getLogs", range(0, 1000)).await;
    assert_eq!(error_code(&resp), -32005, "{resp}");
    let resp = rpc(chain.url(), "eth_getLogs", range(1500, 2499)).await;
    assert!(resp["result"].is_array(), "{resp}");

    // An alloy client sees the error too (not an empty list).
    let err = chain.provider(0).get_logs(&Filter::new().from_block(0)).await.unwrap_err();
    assert!(err.to_string().contains("max block range 1000"), "{err}");

    // Installed filters are held to the same cap.
    let resp = rpc(chain.url(), "eth_newFilter", json!([{ "fromBlock": "0x0" }])).await;
    let id = resp["result"].clone();
    let resp = rpc(chain.url(), "eth_getFilterLogs", json!([id])).await;
    assert_eq!(error_code(&resp), -32005, "{resp}");
    let resp = rpc(chain.url(), "eth_newFilter", json!([{}])).await;
    let id = resp["result"].clone();
    chain.mine_blocks(1200).await.unwrap();
    let resp = rpc(chain.url(), "eth_getFilterChanges", json!([id])).await;
    assert_eq!(error_code(&resp), -32005, "{resp}");
}

#[tokio::test]
async fn an_uncapped_node_answers_any_range() {
    let chain = TestChain::embedded().await.unwrap();
    chain.mine_blocks(2500).await.unwrap();
    let resp =
        rpc(chain.url(), "eth_getLogs", json!([{ "fromBlock": "0x0", "toBlock": "latest" }])).await;
    assert_eq!(resp["result"], json!([]), "{resp}");
}

#[tokio::test]
async fn a_paged_scan_within_the_cap_finds_every_log() {
    let chain = TestChain::embedded_capped(1000).await.unwrap();
    let p = chain.provider(0);
    let me = dev::dev_addresses()[0];
    let token = AlaraToken::deploy(&p, me, U256::from(1_000_000u64)).await.unwrap();
    let mut expected = vec![U256::from(1_000_000u64)]; // the mint
    for value in [1u64, 2, 3] {
        chain.mine_blocks(1200).await.unwrap();
        token.transfer(OTHER, U256::from(value)).send().await.unwrap().get_receipt().await.unwrap();
        expected.push(U256::from(value));
    }
    let head = p.get_block_number().await.unwrap();
    assert!(head > 3000, "the chain is wider than three pages");
    assert!(p.get_logs(&Filter::new().address(*token.address()).from_block(0)).await.is_err());

    let mut found = Vec::new();
    let mut from = 0u64;
    while from <= head {
        let to = (from + 999).min(head);
        let filter = Filter::new()
            .address(*token.address())
            .event_signature(AlaraToken::Transfer::SIGNATURE_HASH)
            .from_block(from)
            .to_block(to);
        for log in p.get_logs(&filter).await.unwrap() {
            let n = log.block_number.unwrap();
            assert!((from..=to).contains(&n), "log of block {n} outside [{from}, {to}]");
            found.push(AlaraToken::Transfer::decode_log(&log.inner).unwrap().value);
        }
        from = to + 1;
    }
    assert_eq!(found, expected);
}

#[tokio::test]
async fn more_results_than_the_result_cap_is_refused_with_32005() {
    let config = NodeConfig { max_logs_results: 2, ..NodeConfig::ephemeral() };
    let chain = TestChain::embedded_with(config).await.unwrap();
    let p = chain.provider(0);
    let token = AlaraToken::deploy(&p, dev::dev_addresses()[0], U256::from(100u64)).await.unwrap();
    let filter = Filter::new().address(*token.address()).from_block(0);
    assert_eq!(p.get_logs(&filter).await.unwrap().len(), 1);
    token.transfer(OTHER, U256::from(1)).send().await.unwrap().get_receipt().await.unwrap();
    assert_eq!(p.get_logs(&filter).await.unwrap().len(), 2, "exactly the cap is answered");
    token.transfer(OTHER, U256::from(1)).send().await.unwrap().get_receipt().await.unwrap();
    let resp = rpc(chain.url(), "eth_getLogs", json!([{ "fromBlock": "0x0" }])).await;
    assert_eq!(error_code(&resp), -32005, "{resp}");
    assert!(error_message(&resp).starts_with("query returned more than 2 results"), "{resp}");
}
