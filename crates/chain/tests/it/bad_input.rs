//! Bad input gets the right JSON-RPC error and the node keeps serving; nothing panics.

use alara_chain::testing::TestChain;
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::support::{error_code, post_raw, rpc};

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
