//! The JSON-RPC surface: blocks, transactions, receipts, logs, filters, errors, cheats.

use std::time::Duration;

use alara_chain::testing::{backends, Backend, TestChain};
use alara_chain::{dev, Mining, Node, NodeConfig};
use alara_contracts::AlaraToken;
use alloy::eips::BlockNumberOrTag;
use alloy::network::TransactionBuilder;
use alloy::primitives::{address, Address, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, TransactionRequest};
use alloy::signers::Signer;
use alloy::sol_types::SolEvent;
use serde_json::json;

use crate::support::{error_code, error_message, legacy, rpc, transfer_1559};

const OTHER: Address = address!("70997970C51812dc3A010C7d01b50e0d17dc79C8");

fn supply() -> U256 {
    U256::from(1_000_000u64)
}

/// The token flow every later contract test relies on, on both backends.
#[tokio::test]
async fn token_flow_matches_on_every_backend() {
    for backend in backends() {
        let chain = TestChain::start(backend).await.unwrap();
        let p = chain.provider(0);
        let me = dev::dev_addresses()[0];
        let token = AlaraToken::deploy(&p, me, supply()).await.unwrap();
        let receipt = token
            .transfer(OTHER, U256::from(250))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status(), "{backend}");
        assert_eq!(receipt.inner.logs().len(), 1, "{backend}");
        let log = &receipt.inner.logs()[0];
        let ev = AlaraToken::Transfer::decode_log(&log.inner).unwrap();
        assert_eq!((ev.from, ev.to, ev.value), (me, OTHER, U256::from(250)), "{backend}");
        assert_eq!(log.block_number, receipt.block_number, "{backend}");
        assert_eq!(log.transaction_hash, Some(receipt.transaction_hash), "{backend}");
        assert!(receipt
            .inner
            .logs_bloom()
            .contains_input(alloy::primitives::BloomInput::Raw(token.address().as_slice())));
        assert_eq!(token.balanceOf(OTHER).call().await.unwrap(), U256::from(250), "{backend}");

        // Block and transaction lookups agree with the receipt.
        let n = receipt.block_number.unwrap();
        let block = p.get_block_by_number(n.into()).full().await.unwrap().unwrap();
        assert_eq!(block.header.hash, receipt.block_hash.unwrap(), "{backend}");
        assert_eq!(block.transactions.len(), 1, "{backend}: automine puts one tx per block");
        let by_hash = p.get_block_by_hash(block.header.hash).await.unwrap().unwrap();
        assert_eq!(by_hash.header.number, n);
        assert_eq!(
            block.header.parent_hash,
            p.get_block_by_number((n - 1).into()).await.unwrap().unwrap().header.hash
        );
        assert_eq!(block.header.gas_used, receipt.gas_used, "{backend}");
        let tx = p.get_transaction_by_hash(receipt.transaction_hash).await.unwrap().unwrap();
        assert_eq!(tx.block_number, Some(n));
        assert_eq!(tx.inner.signer(), me);
        let receipts = p.get_block_receipts(n.into()).await.unwrap().unwrap();
        assert_eq!(receipts[0].transaction_hash, receipt.transaction_hash);

        // Logs by range, address and topic; by block hash.
        let filter = Filter::new()
            .address(*token.address())
            .event_signature(AlaraToken::Transfer::SIGNATURE_HASH)
            .from_block(0);
        assert_eq!(p.get_logs(&filter).await.unwrap().len(), 2, "{backend}: mint + transfer");
        let by_block = Filter::new().at_block_hash(block.header.hash);
        assert_eq!(p.get_logs(&by_block).await.unwrap().len(), 1, "{backend}");
        let nobody = Filter::new().address(Address::repeat_byte(9)).from_block(0);
        assert!(p.get_logs(&nobody).await.unwrap().is_empty());

        // Reverts: code 3 with the custom error's data, for call and estimate alike.
        let url = chain.url().to_string();
        let call = TransactionRequest::default().from(OTHER).to(*token.address()).input(
            AlaraToken::transferCall { to: me, value: U256::from(10_000) }.abi_encode().into(),
        );
        let resp = rpc(&url, "eth_call", json!([call, "latest"])).await;
        assert_eq!(error_code(&resp), 3, "{backend}: {resp}");
        assert!(
            resp["error"]["data"].as_str().unwrap().starts_with("0xe450d38c"),
            "{backend}: {resp}"
        );
        assert!(error_message(&resp).starts_with("execution reverted"), "{backend}");
        let resp = rpc(&url, "eth_estimateGas", json!([call])).await;
        assert_eq!(error_code(&resp), 3, "{backend}: {resp}");

        // Estimates are enough and not wildly more.
        let ok = TransactionRequest::default().from(me).to(*token.address()).input(
            AlaraToken::transferCall { to: OTHER, value: U256::from(1) }.abi_encode().into(),
        );
        let estimate = p.estimate_gas(ok.clone()).await.unwrap();
        let used = token
            .transfer(OTHER, U256::from(1))
            .gas(estimate)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(used.status(), "{backend}: the estimate must suffice");
        assert!(
            estimate < used.gas_used * 13 / 10,
            "{backend}: estimate {estimate} vs used {}",
            used.gas_used
        );
    }
}

use alloy::sol_types::SolCall;

#[tokio::test]
async fn all_transaction_types_are_mined_with_matching_receipts() {
    for backend in backends() {
        let chain = TestChain::start(backend).await.unwrap();
        let url = chain.url().to_string();
        let p = chain.provider(1);
        let signer = dev::dev_signer(1);
        let nonce = p.get_transaction_count(signer.address()).await.unwrap();
        let gas_price = p.get_gas_price().await.unwrap();

        let raw = legacy(&signer, Some(31337), nonce, OTHER, gas_price, 21_000);
        let h = p.send_raw_transaction(&raw).await.unwrap().get_receipt().await.unwrap();
        assert_eq!(h.inner.tx_type() as u8, 0, "{backend}");
        assert_eq!(h.effective_gas_price, gas_price, "{backend}");

        let (_, raw) = transfer_1559(&signer, 31337, nonce + 1, OTHER, U256::from(5));
        let r = p.send_raw_transaction(&raw).await.unwrap().get_receipt().await.unwrap();
        assert_eq!(r.inner.tx_type() as u8, 2, "{backend}");
        let block = p.get_block_by_number(r.block_number.unwrap().into()).await.unwrap().unwrap();
        let base = block.header.base_fee_per_gas.unwrap() as u128;
        assert_eq!(r.effective_gas_price, (base + 1_000_000_000).min(20_000_000_000), "{backend}");

        let tx = TransactionRequest::default()
            .from(signer.address())
            .to(OTHER)
            .value(U256::from(1))
            .access_list(Default::default())
            .gas_price(gas_price)
            .with_gas_limit(30_000);
        let r = p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
        assert_eq!(r.inner.tx_type() as u8, 1, "{backend}");

        // Pre-EIP-155 legacy (no chain id) is still accepted, as anvil does.
        let raw = legacy(&signer, None, nonce + 3, OTHER, gas_price, 21_000);
        let resp = rpc(&url, "eth_sendRawTransaction", json!([raw])).await;
        assert!(resp["result"].is_string(), "{backend}: {resp}");
    }
}

#[tokio::test]
async fn refused_transactions_use_the_wording_tools_expect() {
    let chain = TestChain::embedded().await.unwrap();
    let url = chain.url().to_string();
    let signer = dev::dev_signer(2);

    let (hash, raw) = transfer_1559(&signer, 31337, 0, OTHER, U256::from(1));
    assert!(rpc(&url, "eth_sendRawTransaction", json!([raw])).await["result"].is_string());
    // Sent again while its block is on the way to disk: geth's "already known"; once the
    // block is durable: "nonce too low".
    let resp = rpc(&url, "eth_sendRawTransaction", json!([raw])).await;
    let message = error_message(&resp);
    assert!(message.contains("already known") || message.contains("nonce too low"), "{resp}");
    crate::support::receipt(&url, hash).await;
    let resp = rpc(&url, "eth_sendRawTransaction", json!([raw])).await;
    assert!(error_message(&resp).contains("nonce too low"), "{resp}");
    assert_eq!(error_code(&resp), -32000);

    let poor = alloy::signers::local::PrivateKeySigner::random();
    let (_, raw) = transfer_1559(&poor, 31337, 0, OTHER, U256::from(1));
    let resp = rpc(&url, "eth_sendRawTransaction", json!([raw])).await;
    assert!(error_message(&resp).contains("insufficient funds for gas * price + value"), "{resp}");

    let (_, raw) = transfer_1559(&signer, 1, 1, OTHER, U256::from(1));
    let resp = rpc(&url, "eth_sendRawTransaction", json!([raw])).await;
    assert!(error_message(&resp).contains("invalid chain id"), "{resp}");

    let raw = legacy(&signer, Some(31337), 1, OTHER, 1, 21_000);
    let resp = rpc(&url, "eth_sendRawTransaction", json!([raw])).await;
    assert!(error_message(&resp).contains("max fee per gas less than block base fee"), "{resp}");

    let raw = legacy(&signer, Some(31337), 1, OTHER, 2_000_000_000, 40_000_000);
    let resp = rpc(&url, "eth_sendRawTransaction", json!([raw])).await;
    assert!(error_message(&resp).contains("exceeds block gas limit"), "{resp}");

    let raw = legacy(&signer, Some(31337), 1, OTHER, 2_000_000_000, 20_000);
    let resp = rpc(&url, "eth_sendRawTransaction", json!([raw])).await;
    assert!(error_message(&resp).contains("intrinsic gas too low"), "{resp}");

    // A signature that recovers to nobody, and bytes that are no transaction at all.
    let (_, raw) = transfer_1559(&signer, 31337, 1, OTHER, U256::from(1));
    let mut broken = raw.to_vec();
    let n = broken.len();
    broken[n - 33..n - 1].fill(0);
    let resp =
        rpc(&url, "eth_sendRawTransaction", json!([alloy::primitives::Bytes::from(broken)])).await;
    assert!(resp["error"].is_object(), "{resp}");
    let resp = rpc(&url, "eth_sendRawTransaction", json!(["0xdeadbeef"])).await;
    assert_eq!(error_code(&resp), -32602, "{resp}");

    // The node still serves.
    assert!(rpc(&url, "eth_blockNumber", json!([])).await["result"].is_string());
}

#[tokio::test]
async fn nonce_gaps_are_queued_until_filled() {
    let chain = TestChain::embedded().await.unwrap();
    let p = chain.provider(3);
    let signer = dev::dev_signer(3);
    let (late, raw1) = transfer_1559(&signer, 31337, 1, OTHER, U256::from(1));
    let (early, raw0) = transfer_1559(&signer, 31337, 0, OTHER, U256::from(1));
    let _ = p.send_raw_transaction(&raw1).await.unwrap();
    assert!(p.get_transaction_receipt(late).await.unwrap().is_none(), "gapped tx waits");
    let pending = p.get_transaction_by_hash(late).await.unwrap().unwrap();
    assert_eq!(pending.block_number, None);
    assert_eq!(p.get_transaction_count(signer.address()).pending().await.unwrap(), 2);
    let _ = p.send_raw_transaction(&raw0).await.unwrap();
    crate::support::receipt(chain.url(), late).await;
    let r0 = p.get_transaction_receipt(early).await.unwrap().unwrap();
    let r1 = p.get_transaction_receipt(late).await.unwrap().unwrap();
    assert_eq!(r1.block_number.unwrap(), r0.block_number.unwrap() + 1);

    let (_, far) = transfer_1559(&signer, 31337, 5000, OTHER, U256::from(1));
    let resp = rpc(chain.url(), "eth_sendRawTransaction", json!([far])).await;
    assert!(error_message(&resp).contains("nonce too high"), "{resp}");
}

#[tokio::test]
async fn snapshots_revert_blocks_state_and_cheats() {
    for backend in backends() {
        let chain = TestChain::start(backend).await.unwrap();
        let p = chain.provider(0);
        let head = p.get_block_number().await.unwrap();
        let before = p.get_balance(OTHER).await.unwrap();
        let id: U256 = p.raw_request("evm_snapshot".into(), ()).await.unwrap();

        let r = p
            .send_transaction(TransactionRequest::default().to(OTHER).value(U256::from(7)))
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let _: serde_json::Value = p
            .raw_request("anvil_setBalance".into(), (Address::repeat_byte(0x55), U256::from(99)))
            .await
            .unwrap();
        let _: serde_json::Value = p
            .raw_request("hardhat_setBalance".into(), (Address::repeat_byte(0x56), U256::from(98)))
            .await
            .unwrap();
        assert_eq!(
            p.get_balance(Address::repeat_byte(0x55)).await.unwrap(),
            U256::from(99),
            "{backend}"
        );
        assert_eq!(
            p.get_balance(Address::repeat_byte(0x56)).await.unwrap(),
            U256::from(98),
            "{backend}"
        );
        assert_eq!(p.get_balance(OTHER).await.unwrap(), before + U256::from(7));

        let reverted: bool = p.raw_request("evm_revert".into(), (id,)).await.unwrap();
        assert!(reverted, "{backend}");
        // A provider's block watcher does not expect the chain to shrink: start afresh.
        let p = chain.provider(0);
        assert_eq!(p.get_block_number().await.unwrap(), head, "{backend}");
        assert_eq!(p.get_balance(OTHER).await.unwrap(), before, "{backend}");
        assert_eq!(
            p.get_balance(Address::repeat_byte(0x55)).await.unwrap(),
            U256::ZERO,
            "{backend}"
        );
        assert!(
            p.get_transaction_receipt(r.transaction_hash).await.unwrap().is_none(),
            "{backend}"
        );
        let again: bool = p.raw_request("evm_revert".into(), (id,)).await.unwrap();
        assert!(!again, "{backend}: a snapshot is used up by reverting to it");

        // The chain goes on from the reverted head.
        let r = p
            .send_transaction(TransactionRequest::default().to(OTHER).value(U256::from(1)))
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert_eq!(r.block_number, Some(head + 1), "{backend}");

        // Code, nonce and storage cheats.
        let target = Address::repeat_byte(0x77);
        let _: serde_json::Value = p
            .raw_request(
                "anvil_setCode".into(),
                (target, alloy::primitives::Bytes::from(vec![0x60, 0x00])),
            )
            .await
            .unwrap();
        assert_eq!(p.get_code_at(target).await.unwrap().to_vec(), vec![0x60, 0x00], "{backend}");
        let _: serde_json::Value =
            p.raw_request("anvil_setNonce".into(), (target, U256::from(9))).await.unwrap();
        assert_eq!(p.get_transaction_count(target).await.unwrap(), 9, "{backend}");
        let slot = alloy::primitives::B256::with_last_byte(1);
        let _: serde_json::Value = p
            .raw_request("anvil_setStorageAt".into(), (target, U256::from(3), slot))
            .await
            .unwrap();
        assert_eq!(
            p.get_storage_at(target, U256::from(3)).await.unwrap(),
            U256::from(1),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn time_moves_with_increase_time_and_next_timestamp() {
    for backend in backends() {
        let chain = TestChain::start(backend).await.unwrap();
        let p = chain.provider(0);
        let t0 = p
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp;
        let _: serde_json::Value =
            p.raw_request("evm_increaseTime".into(), (3600u64,)).await.unwrap();
        let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
        let t1 = p
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp;
        assert!(t1 >= t0 + 3600, "{backend}: {t0} -> {t1}");
        let _: serde_json::Value =
            p.raw_request("evm_setNextBlockTimestamp".into(), (t1 + 10_000,)).await.unwrap();
        let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
        let t2 = p
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp;
        assert_eq!(t2, t1 + 10_000, "{backend}");
        let n = p.get_block_number().await.unwrap();
        let _: serde_json::Value =
            p.raw_request("anvil_mine".into(), (U256::from(5),)).await.unwrap();
        assert_eq!(p.get_block_number().await.unwrap(), n + 5, "{backend}");
    }
}

#[tokio::test]
async fn filters_report_new_blocks_and_logs() {
    for backend in backends() {
        let chain = TestChain::start(backend).await.unwrap();
        let p = chain.provider(0);
        let me = dev::dev_addresses()[0];
        let token = AlaraToken::deploy(&p, me, supply()).await.unwrap();
        let blocks = p.new_block_filter().await.unwrap();
        let logs = p.new_filter(&Filter::new().address(*token.address())).await.unwrap();
        token.transfer(OTHER, U256::from(1)).send().await.unwrap().get_receipt().await.unwrap();
        token.transfer(OTHER, U256::from(2)).send().await.unwrap().get_receipt().await.unwrap();
        let new_blocks: Vec<alloy::primitives::B256> = p.get_filter_changes(blocks).await.unwrap();
        assert_eq!(new_blocks.len(), 2, "{backend}");
        let new_logs: Vec<alloy::rpc::types::Log> = p.get_filter_changes(logs).await.unwrap();
        assert_eq!(new_logs.len(), 2, "{backend}");
        let none: Vec<alloy::rpc::types::Log> = p.get_filter_changes(logs).await.unwrap();
        assert!(none.is_empty(), "{backend}: changes are reported once");
        assert!(p.uninstall_filter(logs).await.unwrap(), "{backend}");
        assert!(p.get_filter_changes::<alloy::rpc::types::Log>(logs).await.is_err(), "{backend}");
    }
}

#[tokio::test]
async fn state_is_readable_at_past_blocks() {
    for backend in backends() {
        let chain = TestChain::start(backend).await.unwrap();
        let p = chain.provider(0);
        let me = dev::dev_addresses()[0];
        let token = AlaraToken::deploy(&p, me, supply()).await.unwrap();
        let r1 = token
            .transfer(OTHER, U256::from(10))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        token.transfer(OTHER, U256::from(20)).send().await.unwrap().get_receipt().await.unwrap();
        let at = r1.block_number.unwrap();
        assert_eq!(
            token.balanceOf(OTHER).block(at.into()).call().await.unwrap(),
            U256::from(10),
            "{backend}"
        );
        assert_eq!(
            token.balanceOf(OTHER).block((at - 1).into()).call().await.unwrap(),
            U256::ZERO,
            "{backend}"
        );
        assert_eq!(token.balanceOf(OTHER).call().await.unwrap(), U256::from(30), "{backend}");
        let bal_then = p.get_balance(me).number(at - 1).await.unwrap();
        let bal_now = p.get_balance(me).await.unwrap();
        assert!(bal_then > bal_now, "{backend}: gas was spent since");
        assert!(
            p.get_code_at(*token.address()).number(at - 2).await.unwrap().is_empty(),
            "{backend}: before deployment"
        );
        let resp = rpc(chain.url(), "eth_getBalance", json!([me, "0xffffff"])).await;
        assert!(resp["error"].is_object(), "{backend}: future block must be an error: {resp}");
    }
}

#[tokio::test]
async fn unlocked_accounts_sign_like_a_wallet() {
    for backend in backends() {
        let chain = TestChain::start(backend).await.unwrap();
        let url = chain.url().to_string();
        let me = dev::dev_addresses()[0];
        let msg = alloy::primitives::Bytes::from_static(b"hello alara");
        let expected = dev::dev_signer(0).sign_message(&msg).await.unwrap();
        let resp = rpc(&url, "personal_sign", json!([msg, me])).await;
        assert_eq!(
            resp["result"].as_str().unwrap(),
            alloy::primitives::Bytes::from(expected.as_bytes().to_vec()).to_string(),
            "{backend}"
        );
        let resp = rpc(&url, "eth_sign", json!([me, msg])).await;
        assert_eq!(
            resp["result"].as_str().unwrap(),
            alloy::primitives::Bytes::from(expected.as_bytes().to_vec()).to_string(),
            "{backend}"
        );

        let typed = json!({
            "types": {
                "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
                "Mail": [{"name": "to", "type": "address"}, {"name": "contents", "type": "string"}]
            },
            "primaryType": "Mail",
            "domain": {"name": "Alara", "chainId": 31337},
            "message": {"to": OTHER, "contents": "hi"}
        });
        let resp = rpc(&url, "eth_signTypedData_v4", json!([me, typed])).await;
        let sig: alloy::primitives::Signature = resp["result"].as_str().unwrap().parse().unwrap();
        let data: alloy::dyn_abi::TypedData = serde_json::from_value(typed.clone()).unwrap();
        let hash = data.eip712_signing_hash().unwrap();
        assert_eq!(sig.recover_address_from_prehash(&hash).unwrap(), me, "{backend}");
        // MetaMask passes the typed data as a JSON string; that works too.
        let resp = rpc(&url, "eth_signTypedData_v4", json!([me, typed.to_string()])).await;
        assert!(resp["result"].is_string(), "{backend}: {resp}");

        let stranger = Address::repeat_byte(0x12);
        let resp = rpc(&url, "personal_sign", json!([msg, stranger])).await;
        assert!(resp["error"].is_object(), "{backend}");
    }
}

#[tokio::test]
async fn interval_mining_packs_pending_transactions_into_one_block() {
    let mut config = NodeConfig::ephemeral();
    config.mining = Mining::Interval(Duration::from_millis(300));
    let node = Node::open(config).unwrap();
    let server = alara_chain::serve(node, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = server.url();
    let mut hashes = Vec::new();
    for i in 4..7 {
        let (h, raw) = transfer_1559(&dev::dev_signer(i), 31337, 0, OTHER, U256::from(1));
        let resp = rpc(&url, "eth_sendRawTransaction", json!([raw])).await;
        assert!(resp["result"].is_string(), "{resp}");
        hashes.push(h);
    }
    let provider = alloy::providers::ProviderBuilder::new().connect_http(url.parse().unwrap());
    let mut receipts = Vec::new();
    for h in hashes {
        let r = loop {
            if let Some(r) = provider.get_transaction_receipt(h).await.unwrap() {
                break r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        receipts.push(r);
    }
    let block = receipts[0].block_number;
    assert!(receipts.iter().all(|r| r.block_number == block), "one block holds all three");
    let cumulative: Vec<u64> = receipts.iter().map(|r| r.inner.cumulative_gas_used()).collect();
    assert_eq!(cumulative, vec![21_000, 42_000, 63_000]);
    let indices: Vec<u64> = receipts.iter().map(|r| r.transaction_index.unwrap()).collect();
    assert_eq!(indices, vec![0, 1, 2]);
    // Empty blocks keep coming.
    let n = provider.get_block_number().await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(provider.get_block_number().await.unwrap() > n);
}

#[tokio::test]
async fn fee_history_and_gas_price_are_consistent() {
    for backend in backends() {
        let chain = TestChain::start(backend).await.unwrap();
        let p = chain.provider(0);
        for _ in 0..3 {
            p.send_transaction(TransactionRequest::default().to(OTHER).value(U256::from(1)))
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap();
        }
        let history = p.get_fee_history(3, BlockNumberOrTag::Latest, &[50.0]).await.unwrap();
        assert_eq!(history.base_fee_per_gas.len(), 4, "{backend}");
        assert_eq!(history.gas_used_ratio.len(), 3, "{backend}");
        assert_eq!(history.reward.as_ref().map(|r| r.len()), Some(3), "{backend}");
        let latest = p.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap();
        assert_eq!(
            history.base_fee_per_gas[2],
            latest.header.base_fee_per_gas.unwrap() as u128,
            "{backend}"
        );
        assert!(p.get_gas_price().await.unwrap() >= history.base_fee_per_gas[3], "{backend}");
    }
}

#[tokio::test]
async fn identity_methods_answer() {
    let chain = TestChain::embedded().await.unwrap();
    let url = chain.url();
    assert_eq!(rpc(url, "net_version", json!([])).await["result"], "31337");
    assert_eq!(rpc(url, "eth_chainId", json!([])).await["result"], "0x7a69");
    assert_eq!(rpc(url, "eth_syncing", json!([])).await["result"], false);
    assert!(rpc(url, "web3_clientVersion", json!([])).await["result"]
        .as_str()
        .unwrap()
        .starts_with("alara/"));
    let accounts = rpc(url, "eth_accounts", json!([])).await;
    assert_eq!(accounts["result"].as_array().unwrap().len(), 10);
    assert_eq!(chain.backend(), Backend::Embedded);
    // Every dev account starts with 10,000 ETH.
    let p = chain.provider(0);
    for addr in dev::dev_addresses() {
        assert!(p.get_balance(addr).await.unwrap() >= dev::DEV_BALANCE / U256::from(2));
    }
}

#[tokio::test]
async fn hardforks_price_calldata_by_their_own_rules() {
    use alara_chain::Hardfork;
    let data = alloy::primitives::Bytes::from(vec![0xab; 1000]);
    let mut used = Vec::new();
    for hardfork in [Hardfork::Cancun, Hardfork::Prague] {
        let mut config = NodeConfig::ephemeral();
        config.hardfork = hardfork;
        let node = Node::open(config).unwrap();
        let server = alara_chain::serve(node, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let p = alara_chain::client::provider_for(&server.url(), dev::dev_signer(0)).unwrap();
        let tx = TransactionRequest::default()
            .to(OTHER)
            .input(data.clone().into())
            .with_gas_limit(100_000);
        let r = p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
        let block = p.get_block_by_number(r.block_number.unwrap().into()).await.unwrap().unwrap();
        assert_eq!(block.header.requests_hash.is_some(), hardfork == Hardfork::Prague);
        used.push(r.gas_used);
    }
    // Cancun: 21,000 + 16 per non-zero byte. Prague: the EIP-7623 floor, 21,000 + 10 × 4 per byte.
    assert_eq!(used, vec![21_000 + 16 * 1000, 21_000 + 40 * 1000]);
}
