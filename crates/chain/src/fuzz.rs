//! Fuzz entry points: what `fuzz/fuzz_targets/*` hand to libFuzzer, and what the test
//! suite runs under proptest. Each takes arbitrary bytes and must return without panicking;
//! the checks inside state what must hold whatever the input.
#![allow(
    clippy::expect_used,
    reason = "a fuzz entry point reports a broken invariant by panicking"
)]

use serde_json::Value;

use crate::rpc::request::{parse_body, Body, Call, METHODS};
use crate::rpc::MAX_BATCH;

/// The JSON-RPC body parser (everything the HTTP server does with a body before any
/// request reaches the node): arbitrary bytes give a response or parsed calls, never a
/// panic. An invalid body or entry is answered with `-32700`/`-32600`; a parsed request
/// names a method in [`METHODS`]; a refused one is `-32601` or `-32602`; a batch holds
/// 1 to [`MAX_BATCH`] entries; every error response serializes as JSON-RPC 2.0.
pub fn rpc_body(data: &[u8]) {
    match parse_body(data) {
        Body::Invalid(response) => check_error(&response, &[-32700, -32600]),
        Body::One(call) => check_call(&call),
        Body::Batch(calls) => {
            assert!((1..=MAX_BATCH).contains(&calls.len()), "batch of {}", calls.len());
            calls.iter().for_each(check_call);
        }
    }
}

fn check_call(call: &Call) {
    match call {
        Call::Invalid(response) => check_error(response, &[-32600]),
        Call::Request { id, method, request, .. } => {
            assert!(matches!(id, Value::Null | Value::Number(_) | Value::String(_)), "id {id}");
            match request {
                Ok(_) => assert!(METHODS.contains(&method.as_str()), "{method} parsed, not listed"),
                Err(e) => {
                    assert!(matches!(e.code, -32601 | -32602), "{method}: code {}", e.code);
                    assert!(!e.message.is_empty(), "{method}: empty message");
                    if e.code == -32601 {
                        assert!(!METHODS.contains(&method.as_str()), "{method} listed but unknown");
                    }
                }
            }
        }
    }
}

fn check_error(response: &crate::rpc::Response, codes: &[i64]) {
    let v = serde_json::to_value(response).expect("a response serializes");
    assert_eq!(v["jsonrpc"], "2.0");
    let code = v["error"]["code"].as_i64().expect("an error response has a code");
    assert!(codes.contains(&code), "code {code}, expected one of {codes:?}: {v}");
    assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use crate::rpc::request::METHODS;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn rpc_body_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
            super::rpc_body(&bytes);
        }

        /// Well-formed envelopes with any listed method and junk params reach `Request::parse`.
        #[test]
        fn rpc_body_never_panics_on_requests(
            method in proptest::sample::select(METHODS),
            s in ".{0,40}",
            n in any::<i64>(),
            batch in 1usize..4,
        ) {
            let one = json!({"jsonrpc": "2.0", "id": n, "method": method, "params": [s, n, {"k": s}, [n]]});
            super::rpc_body(one.to_string().as_bytes());
            let many = Value::Array(vec![one.clone(); batch]);
            super::rpc_body(many.to_string().as_bytes());
            let odd = json!({"jsonrpc": "2.0", "method": method, "params": {"x": s}});
            super::rpc_body(odd.to_string().as_bytes());
        }
    }

    use serde_json::Value;

    use crate::rpc::request::{parse_body, Body, Call};

    #[test]
    fn known_bodies_meet_the_checks() {
        for body in [
            &b""[..],
            b"[]",
            b"{",
            b"[1, 2]",
            br#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}"#,
            br#"{"jsonrpc":"2.0","id":{},"method":"eth_blockNumber"}"#,
            br#"{"jsonrpc":"1.0","id":1,"method":"eth_blockNumber"}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"eth_teleport","params":[]}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[42]}"#,
            br#"[{"jsonrpc":"2.0","method":"eth_chainId"},{"jsonrpc":"2.0","id":"a","method":7}]"#,
        ] {
            super::rpc_body(body);
        }
        let too_many = Value::Array(vec![
            json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"});
            crate::rpc::MAX_BATCH + 1
        ]);
        super::rpc_body(too_many.to_string().as_bytes());

        let code =
            |r: &crate::rpc::Response| serde_json::to_value(r).unwrap()["error"]["code"].clone();
        assert!(matches!(parse_body(b"{"), Body::Invalid(r) if code(&r) == -32700));
        assert!(
            matches!(parse_body(too_many.to_string().as_bytes()), Body::Invalid(r) if code(&r) == -32600)
        );
        match parse_body(b"[1, 2]") {
            Body::Batch(calls) => {
                assert!(calls.len() == 2 && calls.iter().all(|c| matches!(c, Call::Invalid(_))))
            }
            other => panic!("expected a batch of two invalid entries, got {other:?}"),
        }
        match parse_body(br#"{"jsonrpc":"2.0","method":"eth_teleport"}"#) {
            Body::One(Call::Request { notification, request: Err(e), .. }) => {
                assert!(notification && e.code == -32601)
            }
            other => panic!("expected an unknown-method notification, got {other:?}"),
        }
    }
}
