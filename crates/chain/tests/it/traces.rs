//! `debug_traceTransaction` and `debug_traceCall` against anvil's answers for the same
//! signed transactions, field by field: a contract creation, a call that writes storage
//! and logs, a call that reverts, and a call that calls another contract.

use alara_chain::dev;
use alara_chain::testing::{backends, Backend, TestChain};
use alara_contracts::{AlaraToken, FederatedTraining};
use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, Bytes, TxKind, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolConstructor};
use serde_json::{json, Value};

use crate::support::rpc;

fn signed(signer: &PrivateKeySigner, nonce: u64, to: TxKind, input: Vec<u8>, gas: u64) -> Bytes {
    let mut tx = TxEip1559 {
        chain_id: 31337,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::ZERO,
        input: input.into(),
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx).unwrap();
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

async fn mined(url: &str, raw: &Bytes) -> (B256, Value) {
    let resp = rpc(url, "eth_sendRawTransaction", json!([raw])).await;
    let hash: B256 = serde_json::from_value(resp["result"].clone())
        .unwrap_or_else(|_| panic!("sendRawTransaction: {resp}"));
    (hash, crate::support::receipt(url, hash).await)
}

/// The four transactions, identical bytes on every backend.
fn transactions() -> (Vec<(&'static str, Bytes)>, Address, Address) {
    let signer = dev::dev_signer(0);
    let me = signer.address();
    let token = me.create(0);
    let training = me.create(1);
    let token_init = [
        AlaraToken::BYTECODE.to_vec(),
        AlaraToken::constructorCall { treasury: me, supply: U256::from(10u64).pow(U256::from(24)) }
            .abi_encode(),
    ]
    .concat();
    let training_init = [
        FederatedTraining::BYTECODE.to_vec(),
        FederatedTraining::constructorCall { token_: token }.abi_encode(),
    ]
    .concat();
    let approve =
        AlaraToken::approveCall { spender: training, value: U256::from(1_000u64) }.abi_encode();
    let transfer = AlaraToken::transferCall { to: Address::repeat_byte(7), value: U256::from(5) };
    let too_much = AlaraToken::transferCall {
        to: Address::repeat_byte(7),
        value: U256::from(10u64).pow(U256::from(30)),
    };
    let create_task = FederatedTraining::createTaskCall {
        coordinator: me,
        pool: U256::from(1_000u64),
        configHash: B256::repeat_byte(9),
    };
    let txs = vec![
        ("create", signed(&signer, 0, TxKind::Create, token_init, 3_000_000)),
        ("create training", signed(&signer, 1, TxKind::Create, training_init, 6_000_000)),
        ("transfer", signed(&signer, 2, TxKind::Call(token), transfer.abi_encode(), 200_000)),
        ("revert", signed(&signer, 3, TxKind::Call(token), too_much.abi_encode(), 200_000)),
        ("approve", signed(&signer, 4, TxKind::Call(token), approve, 200_000)),
        (
            "nested call",
            signed(&signer, 5, TxKind::Call(training), create_task.abi_encode(), 500_000),
        ),
    ];
    (txs, token, training)
}

struct Traced {
    backend: Backend,
    struct_logs: Vec<Value>,
    calls: Vec<Value>,
    trace_call: Value,
}

async fn trace_on(backend: Backend) -> Traced {
    let chain = TestChain::start(backend).await.unwrap();
    let url = chain.url().to_string();
    let (txs, token, _) = transactions();
    let (mut struct_logs, mut calls) = (Vec::new(), Vec::new());
    for (what, raw) in &txs {
        let (hash, receipt) = mined(&url, raw).await;
        let ok = receipt["status"] == "0x1";
        assert_eq!(ok, *what != "revert", "[{backend}] {what}: {receipt}");
        let s = rpc(&url, "debug_traceTransaction", json!([hash, {}])).await;
        assert!(s.get("error").is_none(), "[{backend}] {what}: {s}");
        struct_logs.push(s["result"].clone());
        let c = rpc(&url, "debug_traceTransaction", json!([hash, {"tracer": "callTracer"}])).await;
        assert!(c.get("error").is_none(), "[{backend}] {what}: {c}");
        calls.push(c["result"].clone());
    }
    let balance = AlaraToken::balanceOfCall { account: dev::dev_addresses()[0] }.abi_encode();
    let call = json!({"from": dev::dev_addresses()[0], "to": token, "data": Bytes::from(balance)});
    let t = rpc(&url, "debug_traceCall", json!([call, "latest", {"tracer": "callTracer"}])).await;
    assert!(t.get("error").is_none(), "[{backend}] traceCall: {t}");
    Traced { backend, struct_logs, calls, trace_call: t["result"].clone() }
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
            assert_eq!(a.len(), b.len(), "{path}: length");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                same(&format!("{path}[{i}]"), x, y);
            }
        }
        _ => assert_eq!(ours, theirs, "{path}"),
    }
}

#[tokio::test]
async fn traces_match_anvil_field_by_field() {
    let mut all = Vec::new();
    for backend in backends() {
        all.push(trace_on(backend).await);
    }
    let (ours, theirs) = match all.as_slice() {
        [a, b] if a.backend == Backend::Embedded && b.backend == Backend::Anvil => (a, b),
        other => panic!("expected the embedded node and anvil, got {}", other.len()),
    };
    let (txs, _, _) = transactions();
    for (i, (what, _)) in txs.iter().enumerate() {
        let (a, b) = (&ours.struct_logs[i], &theirs.struct_logs[i]);
        assert!(a["structLogs"].as_array().is_some_and(|l| !l.is_empty()), "{what}: {a}");
        same(&format!("{what} struct logger"), a, b);
        same(&format!("{what} callTracer"), &ours.calls[i], &theirs.calls[i]);
    }
    // The nested call shows the token's transferFrom inside createTask.
    let nested = &ours.calls[5]["calls"];
    assert_eq!(nested.as_array().map(Vec::len), Some(1), "{}", ours.calls[5]);
    assert_eq!(ours.calls[3]["error"], "execution reverted", "{}", ours.calls[3]);
    same("traceCall", &ours.trace_call, &theirs.trace_call);
}

#[tokio::test]
async fn unknown_tracers_and_transactions_are_clear_errors() {
    let chain = TestChain::start(Backend::Embedded).await.unwrap();
    let r = rpc(chain.url(), "debug_traceTransaction", json!([B256::repeat_byte(1)])).await;
    assert!(r["error"]["message"].as_str().unwrap().contains("not found"), "{r}");
    let (txs, _, _) = transactions();
    let (hash, _) = mined(chain.url(), &txs[0].1).await;
    let r = rpc(chain.url(), "debug_traceTransaction", json!([hash, {"tracer": "prestateTracer"}]))
        .await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("callTracer"), "{r}");
}
