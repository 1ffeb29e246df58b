//! Bad input gets the right JSON-RPC error and the node keeps serving; nothing panics.

use alara_chain::testing::TestChain;
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::support::{error_code, error_message, post_raw, rpc};

#[tokio::test]
async fn malformed_requests_get_standard_errors() {
    let chain = TestChain::embedded().await.unwrap();
    let url = chain.url();

    let (_, r) = post_raw(url, "{not json").await;
    assert_eq!(error_code(&r), -32700);
    let (_, r) = post_raw(url, "42").await;
    assert_eq!(error_code(&r), -32600);
    let (_, r) = post_raw(url, "[]").await;
    assert_eq!(error_code(&r), -32600);
    let (_, r) = post_raw(url, r#"{"jsonrpc":"1.0","id":1,"method":"eth_chainId"}"#).await;
    assert_eq!(error_code(&r), -32600);
    let (_, r) = post_raw(url, r#"{"jsonrpc":"2.0","id":1,"method":7}"#).await;
    assert_eq!(error_code(&r), -32600);
    assert_eq!(error_code(&rpc(url, "eth_nope", json!([])).await), -32601);
    assert_eq!(error_code(&rpc(url, "eth_getBalance", json!(["0x12"])).await), -32602);
    assert_eq!(error_code(&rpc(url, "eth_getBalance", json!({"address": 1})).await), -32602);
    assert_eq!(error_code(&rpc(url, "eth_getBlockByNumber", json!([true])).await), -32602);
    assert_eq!(error_code(&rpc(url, "eth_sendRawTransaction", json!(["not hex"])).await), -32602);

    // A batch answers each member in order, errors included.
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_nope"},
        {"jsonrpc": "2.0", "id": "three", "method": "eth_blockNumber", "params": []},
        "garbage"
    ]);
    let (status, r) = post_raw(url, batch.to_string()).await;
    assert_eq!(status, 200);
    let items = r.as_array().expect("batch answer is an array");
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["result"], "0x7a69");
    assert_eq!(items[1]["error"]["code"], -32601);
    assert_eq!(items[2]["id"], "three");
    assert_eq!(items[3]["error"]["code"], -32600);

    // Notifications get no answer.
    let (status, _) = post_raw(url, r#"{"jsonrpc":"2.0","method":"eth_chainId"}"#).await;
    assert_eq!(status, 204);

    // Oversized bodies are refused before being read whole.
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x{}"]}}"#,
        "ab".repeat(5 << 20)
    );
    let (status, r) = post_raw(url, huge).await;
    assert_eq!(status, 413);
    assert_eq!(error_code(&r), -32600);

    // Batches past the limit are refused as a whole.
    let many: Vec<Value> =
        (0..1001).map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_chainId"})).collect();
    let (_, r) = post_raw(url, Value::Array(many).to_string()).await;
    assert_eq!(error_code(&r), -32600);

    // And the node is fine.
    assert_eq!(rpc(url, "eth_chainId", json!([])).await["result"], "0x7a69");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The request parser never panics, whatever the bytes (fuzzing over arbitrary bodies).
    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let rt = runtime();
        rt.block_on(async {
            let node = alara_chain::Node::open(alara_chain::NodeConfig::ephemeral()).unwrap();
            let api = alara_chain::rpc::EthApi::new(node);
            let _ = api.handle_body(&body).await;
            let wrapped = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
                "params": [format!("0x{}", hex::encode(&body))]});
            let r = api.handle_body(wrapped.to_string().as_bytes()).await.unwrap();
            prop_assert!(r.get("error").is_some() || r.get("result").is_some());
            Ok(())
        })?;
    }

    /// Structured but wrong requests: every method with arbitrary JSON parameters.
    #[test]
    fn arbitrary_params_for_every_method_never_panic(
        method in proptest::sample::select(alara_chain::rpc::request::METHODS),
        n in any::<u64>(),
        s in "[0-9a-fx]{0,70}",
    ) {
        let rt = runtime();
        rt.block_on(async {
            let node = alara_chain::Node::open(alara_chain::NodeConfig::ephemeral()).unwrap();
            let api = alara_chain::rpc::EthApi::new(node);
            for params in [json!([s, n]), json!([{"to": s, "data": s}]), json!([n, s, true]), json!([])] {
                // Cheats that change state are fine to run; none may panic.
                let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
                let r = api.handle_body(body.to_string().as_bytes()).await.unwrap();
                prop_assert!(r.get("error").is_some() || r.get("result").is_some());
            }
            Ok(())
        })?;
    }
}

/// A fresh node with `config`, served on a free port.
async fn serve_with(config: alara_chain::NodeConfig) -> alara_chain::ServerHandle {
    let node = alara_chain::Node::open(config).unwrap();
    alara_chain::serve(node, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

#[tokio::test]
async fn dev_helpers_refuse_absurd_counts_and_times() {
    let chain = TestChain::embedded().await.unwrap();
    let url = chain.url();
    let head = |r: Value| r["result"].as_str().unwrap().to_string();
    let before = head(rpc(url, "eth_blockNumber", json!([])).await);

    for (method, params) in [
        ("anvil_mine", json!(["0xffffffffffffffff"])),
        ("hardhat_mine", json!(["0x186a1"])), // one more than the default cap
        ("evm_mine", json!([{"blocks": "0xffffffffffffffff"}])),
        ("anvil_mine", json!(["0x2", "0xffffffffffffffff"])),
        ("evm_increaseTime", json!([u64::MAX])),
        ("evm_increaseTime", json!(["0x7fffffffffffffff"])),
        ("anvil_increaseTime", json!([1u64 << 60])),
        ("evm_setNextBlockTimestamp", json!([alara_chain::MAX_TIMESTAMP + 1])),
        ("anvil_setNextBlockTimestamp", json!([1])),
        ("evm_mine", json!([1])),
        ("evm_mine", json!([{"timestamp": u64::MAX}])),
    ] {
        let r = rpc(url, method, params.clone()).await;
        assert_eq!(error_code(&r), -32602, "{method} {params}: {r}");
        assert!(!error_message(&r).is_empty(), "{method} {params}: {r}");
    }
    let r = rpc(url, "anvil_mine", json!(["0xffffffffffffffff"])).await;
    assert!(error_message(&r).contains("at most 100000 blocks"), "{r}");
    assert!(error_message(&r).contains("--max-mine-blocks"), "{r}");
    let r = rpc(url, "evm_increaseTime", json!([u64::MAX])).await;
    assert!(!r.to_string().contains("\"result\":\"-1\""), "no wrap to -1: {r}");
    assert_eq!(head(rpc(url, "eth_blockNumber", json!([])).await), before, "nothing was mined");

    // Normal values behave as on anvil, with timestamps that only go forward.
    assert_eq!(rpc(url, "anvil_mine", json!(["0x3", "0x10"])).await["result"], Value::Null);
    let mut last = 0u64;
    for tag in ["0x1", "0x2", "0x3"] {
        let b = rpc(url, "eth_getBlockByNumber", json!([tag, false])).await;
        let ts = u64::from_str_radix(
            b["result"]["timestamp"].as_str().unwrap().trim_start_matches("0x"),
            16,
        )
        .unwrap();
        assert!(ts > last, "timestamps increase");
        last = ts;
    }
    let r = rpc(url, "evm_increaseTime", json!([3600])).await;
    assert!(r["result"].is_number() || r["result"].is_string(), "{r}");
    assert_eq!(
        rpc(url, "evm_setNextBlockTimestamp", json!([last + 100_000])).await["result"],
        Value::Null
    );
    assert_eq!(rpc(url, "evm_mine", json!([])).await["result"], "0x0");
}

#[tokio::test]
async fn mined_blocks_are_capped_per_batch() {
    let config =
        alara_chain::NodeConfig { max_mine_blocks: 10, ..alara_chain::NodeConfig::ephemeral() };
    let server = serve_with(config).await;
    let url = server.url();
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "anvil_mine", "params": ["0x6"]},
        {"jsonrpc": "2.0", "id": 2, "method": "anvil_mine", "params": ["0x6"]},
        {"jsonrpc": "2.0", "id": 3, "method": "anvil_mine", "params": ["0x4"]},
    ]);
    let (_, r) = post_raw(&url, batch.to_string()).await;
    assert_eq!(r[0]["result"], Value::Null, "{r}");
    assert_eq!(r[1]["error"]["code"], -32602, "{r}");
    assert!(r[1]["error"]["message"].as_str().unwrap().contains("per batch"), "{r}");
    assert_eq!(r[2]["result"], Value::Null, "what is left of the batch's allowance: {r}");
    assert_eq!(rpc(&url, "eth_blockNumber", json!([])).await["result"], "0xa");
}

/// An `eth_call` to BLAKE2F with 29 million rounds: 29M gas, most of a second of CPU.
fn blake2f_params() -> Value {
    let mut input = 29_000_000u32.to_be_bytes().to_vec();
    input.extend_from_slice(&[0u8; 208]);
    input.push(1);
    json!([{"to": "0x0000000000000000000000000000000000000009",
            "data": format!("0x{}", hex::encode(&input))}, "latest"])
}

#[tokio::test]
async fn calls_over_their_time_or_gas_budget_name_the_limit() {
    let config = alara_chain::NodeConfig {
        evm_timeout: std::time::Duration::from_millis(1),
        ..alara_chain::NodeConfig::ephemeral()
    };
    let server = serve_with(config).await;
    let r = rpc(&server.url(), "eth_call", blake2f_params()).await;
    assert_eq!(error_code(&r), -32000, "{r}");
    let msg = error_message(&r);
    assert!(msg.contains("time budget") && msg.contains("--evm-timeout"), "{msg}");
    let r = rpc(&server.url(), "eth_estimateGas", blake2f_params()).await;
    assert!(error_message(&r).contains("--evm-timeout"), "{r}");

    let config =
        alara_chain::NodeConfig { rpc_gas_cap: 1_000_000, ..alara_chain::NodeConfig::ephemeral() };
    let server = serve_with(config).await;
    let r = rpc(&server.url(), "eth_call", blake2f_params()).await;
    assert_eq!(error_code(&r), -32000, "29M gas of work under a 1M cap: {r}");
    let mut small = blake2f_params();
    small[0]["data"] = json!(format!("0x{}{}01", "0000000c", "00".repeat(208)));
    assert!(rpc(&server.url(), "eth_call", small).await["result"].is_string());
}

/// `eth_getProof` runs on the EVM pool, not on the threads that answer everything else:
/// with the one worker busy, a proof waits for it and gets the time-budget error naming
/// itself.
#[tokio::test]
async fn proofs_wait_for_the_evm_pool_like_calls() {
    let config = alara_chain::NodeConfig {
        evm_workers: 1,
        evm_timeout: std::time::Duration::from_millis(300),
        // 100 million BLAKE2F rounds: seconds of work that keep the worker after its
        // caller has been answered.
        gas_limit: 120_000_000,
        rpc_gas_cap: 120_000_000,
        ..alara_chain::NodeConfig::ephemeral()
    };
    let server = serve_with(config).await;
    let url = server.url();
    let mut busy = blake2f_params();
    let mut input = 100_000_000u32.to_be_bytes().to_vec();
    input.extend_from_slice(&[0u8; 208]);
    input.push(1);
    busy[0]["data"] = json!(format!("0x{}", hex::encode(&input)));
    let hog = tokio::spawn({
        let url = url.clone();
        async move { rpc(&url, "eth_call", busy).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let me = alara_chain::dev::dev_addresses()[0];
    let r = rpc(&url, "eth_getProof", json!([me, [], "latest"])).await;
    assert!(error_message(&r).contains("eth_getProof exceeded the time budget"), "{r}");
    // Meanwhile what does not run the EVM is answered as usual.
    assert!(rpc(&url, "eth_blockNumber", json!([])).await["result"].is_string());
    assert!(error_message(&hog.await.unwrap()).contains("time budget"));
}

#[tokio::test]
async fn batches_are_capped_in_requests_and_answer_bytes() {
    let config = alara_chain::NodeConfig {
        max_batch_requests: 5,
        max_response_bytes: 4096,
        ..alara_chain::NodeConfig::ephemeral()
    };
    let server = serve_with(config).await;
    let url = server.url();
    let call = |i: usize| json!({"jsonrpc": "2.0", "id": i, "method": "eth_getBlockByNumber", "params": ["latest", true]});
    let (_, r) = post_raw(&url, Value::Array((0..6).map(call).collect()).to_string()).await;
    assert_eq!(error_code(&r), -32600, "{r}");
    assert!(error_message(&r).contains("--max-batch-requests"), "{r}");

    let (_, r) = post_raw(&url, Value::Array((0..5).map(call).collect()).to_string()).await;
    let items = r.as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(items[0]["result"].is_object(), "{r}");
    let refused: Vec<&Value> = items.iter().filter(|i| i["error"]["code"] == -32003).collect();
    assert!(!refused.is_empty(), "a 4 KiB answer cannot hold five blocks: {r}");
    assert!(refused[0]["error"]["message"].as_str().unwrap().contains("--max-response-bytes"));
    assert_eq!(items[4]["id"], 4, "refused entries keep their id");
    assert!(r.to_string().len() < 6000, "the answer stays near the cap");
}

#[tokio::test]
async fn a_body_that_never_arrives_gets_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = alara_chain::NodeConfig {
        body_read_timeout: std::time::Duration::from_millis(200),
        ..alara_chain::NodeConfig::ephemeral()
    };
    let server = serve_with(config).await;
    let mut s = tokio::net::TcpStream::connect(server.local_addr()).await.unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: node\r\nContent-Length: 100\r\n\r\n{").await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(30), s.read_to_end(&mut answer));
    read.await.expect("the server answers and closes").unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("--body-read-timeout"), "{text}");
}
