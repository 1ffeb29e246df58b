//! Shared helpers.

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, Bytes, TxKind, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use serde_json::Value;

/// An EIP-1559 value transfer signed by `signer`.
pub fn transfer_1559(
    signer: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    to: Address,
    value: U256,
) -> (B256, Bytes) {
    let mut tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value,
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx).unwrap();
    let env = TxEnvelope::from(tx.into_signed(sig));
    (*env.tx_hash(), env.encoded_2718().into())
}

/// A legacy transaction with an explicit gas price and optional chain id.
pub fn legacy(
    signer: &PrivateKeySigner,
    chain_id: Option<u64>,
    nonce: u64,
    to: Address,
    gas_price: u128,
    gas_limit: u64,
) -> Bytes {
    let mut tx = TxLegacy {
        chain_id,
        nonce,
        gas_price,
        gas_limit,
        to: TxKind::Call(to),
        value: U256::from(1),
        input: Bytes::new(),
    };
    let sig = signer.sign_transaction_sync(&mut tx).unwrap();
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

/// POSTs a raw body; returns (HTTP status, parsed JSON or Null).
pub async fn post_raw(url: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// One JSON-RPC call by raw HTTP; returns the whole response object.
pub async fn rpc(url: &str, method: &str, params: Value) -> Value {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    post_raw(url, body.to_string()).await.1
}

/// The error code of a JSON-RPC response, panicking if it succeeded.
pub fn error_code(resp: &Value) -> i64 {
    resp["error"]["code"].as_i64().unwrap_or_else(|| panic!("expected an error, got {resp}"))
}

/// The error message of a JSON-RPC response.
pub fn error_message(resp: &Value) -> String {
    resp["error"]["message"].as_str().unwrap_or_default().to_string()
}

/// The receipt of `hash`, waiting until it is served: `eth_sendRawTransaction` answers when
/// a transaction is taken, its receipt comes once its block is durable.
pub async fn receipt(url: &str, hash: impl serde::Serialize) -> Value {
    let hash = serde_json::to_value(hash).unwrap();
    for _ in 0..1000 {
        let r = rpc(url, "eth_getTransactionReceipt", serde_json::json!([hash])).await;
        if !r["result"].is_null() {
            return r["result"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no receipt for {hash} after 10 s");
}

/// Waits until the head of `url` is at least `n`.
pub async fn wait_for_block(url: &str, n: u64) {
    for _ in 0..1000 {
        let r = rpc(url, "eth_blockNumber", serde_json::json!([])).await;
        let head = r["result"]
            .as_str()
            .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok());
        if head.is_some_and(|h| h >= n) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{url} did not reach block {n} in 10 s");
}
