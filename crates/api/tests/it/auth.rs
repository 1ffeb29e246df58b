//! Who may call what: anonymous, API keys (missing, wrong, revoked, wrong role), SIWE
//! (valid, expired, replayed nonce, wrong domain or chain, signature by someone else),
//! rate limits and body limits.

use alara_api::Role;
use alloy::signers::{local::PrivateKeySigner, SignerSync};
use axum::http::StatusCode;

use crate::support::{payout, server, server_with_chain};

#[tokio::test]
async fn writer_routes_refuse_missing_wrong_and_underprivileged_keys() {
    let s = server(|_| {});
    let entry = payout(1);
    // Anonymous callers read (loopback default) but may not write.
    assert_eq!(s.get("/api/v1/audit/status", None).await.status, StatusCode::OK);
    let a = s.post_json("/api/v1/audit/entries", None, &entry).await;
    assert_eq!((a.status, a.code().as_str()), (StatusCode::UNAUTHORIZED, "unauthorized"));
    assert!(a.json()["error"]["hint"].as_str().unwrap().contains("Bearer"));
    // A key that was never issued, and a real id with a wrong secret.
    let reader = s.key(Role::Reader);
    let id = reader.split('_').nth(2).unwrap();
    for bad in ["alara_k_deadbeef_00".to_string(), format!("alara_k_{id}_{}", "1".repeat(64))] {
        let a = s.post_json("/api/v1/audit/entries", Some(&bad), &entry).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{bad}");
        // A bad key is refused on read routes too, not downgraded to anonymous.
        assert_eq!(
            s.get("/api/v1/audit/status", Some(&bad)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // The right key with too small a role.
    let a = s.post_json("/api/v1/audit/entries", Some(&reader), &entry).await;
    assert_eq!((a.status, a.code().as_str()), (StatusCode::FORBIDDEN, "forbidden"));
    // A writer writes; an admin manages keys, a writer does not.
    let writer = s.key(Role::Writer);
    assert_eq!(
        s.post_json("/api/v1/audit/entries", Some(&writer), &entry).await.status,
        StatusCode::OK
    );
    let new = serde_json::json!({"name": "ci", "role": "reader"});
    assert_eq!(
        s.post_json("/api/v1/auth/keys", Some(&writer), &new).await.status,
        StatusCode::FORBIDDEN
    );
    let admin = s.key(Role::Admin);
    let created = s.post_json("/api/v1/auth/keys", Some(&admin), &new).await;
    assert_eq!(created.status, StatusCode::OK);
    let key = created.json()["key"].as_str().unwrap().to_string();
    let rid = created.json()["record"]["id"].as_str().unwrap().to_string();
    assert_eq!(s.get("/api/v1/auth/me", Some(&key)).await.json()["role"], "reader");
    // Listing shows no secrets; revoking ends the key at once.
    let list = s.get("/api/v1/auth/keys", Some(&admin)).await;
    assert!(!String::from_utf8_lossy(&list.body).contains("sha256"));
    let revoked = s
        .send(
            "DELETE",
            &format!("/api/v1/auth/keys/{rid}"),
            Some(&admin),
            "application/json",
            vec![],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(s.get("/api/v1/auth/me", Some(&key)).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_server_without_anonymous_reads_refuses_them() {
    let s = server(|c| c.anonymous_role = None);
    let a = s.get("/api/v1/audit/status", None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let reader = s.key(Role::Reader);
    assert_eq!(s.get("/api/v1/audit/status", Some(&reader)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let s =
        server(|c| c.rate_limit = alara_api::auth::limit::RateLimit { per_sec: 0.01, burst: 3.0 });
    let key = s.key(Role::Reader);
    for _ in 0..3 {
        assert_eq!(s.get("/api/v1/audit/status", Some(&key)).await.status, StatusCode::OK);
    }
    let a = s.get("/api/v1/audit/status", Some(&key)).await;
    assert_eq!((a.status, a.code().as_str()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert!(a.headers.get("retry-after").is_some());
    // Another caller has its own bucket.
    let other = s.key(Role::Reader);
    assert_eq!(s.get("/api/v1/audit/status", Some(&other)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn oversized_and_malformed_bodies_get_json_errors() {
    let s = server(|c| c.max_body = 4096);
    let writer = s.key(Role::Writer);
    let big = serde_json::json!({"x": "a".repeat(10_000)});
    let a = s.post_json("/api/v1/audit/entries", Some(&writer), &big).await;
    assert_eq!((a.status, a.code().as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));
    let a = s
        .send(
            "POST",
            "/api/v1/audit/entries",
            Some(&writer),
            "application/json",
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!((a.status, a.code().as_str()), (StatusCode::BAD_REQUEST, "bad_request"));
    let a =
        s.send("POST", "/api/v1/audit/entries", Some(&writer), "text/plain", b"{}".to_vec()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.json()["error"]["hint"].as_str().unwrap().contains("application/json"));
    // Nothing was appended by any of them.
    assert_eq!(s.get("/api/v1/audit/status", None).await.json()["size"], 0);
}

/// Builds a signed message around a nonce.
type MakeSigned<'a> = dyn Fn(&str) -> (String, String) + 'a;

/// A SIWE message for `domain`, `chain_id` and `nonce`, with optional expiry.
fn message(
    addr: alloy::primitives::Address,
    domain: &str,
    chain_id: u64,
    nonce: &str,
    issued: &str,
    expires: Option<&str>,
) -> String {
    let mut m = format!(
        "{domain} wants you to sign in with your Ethereum account:\n{}\n\nSign in to Alara.\n\nURI: http://{domain}\nVersion: 1\nChain ID: {chain_id}\nNonce: {nonce}\nIssued At: {issued}",
        addr.to_checksum(None)
    );
    if let Some(e) = expires {
        m.push_str(&format!("\nExpiration Time: {e}"));
    }
    m
}

fn sign(signer: &PrivateKeySigner, text: &str) -> String {
    let sig = signer.sign_message_sync(text.as_bytes()).unwrap();
    format!("0x{}", alloy::hex::encode(sig.as_bytes()))
}

#[tokio::test]
async fn siwe_sign_in_and_every_refusal() {
    let admin = PrivateKeySigner::random();
    let s = server_with_chain(|c| {
        c.wallet_roles.insert(admin.address(), Role::Admin);
    })
    .await;
    let chain_id = s.chain.as_ref().unwrap().chain_id();
    let nonce = |s: &crate::support::Server| {
        let s = s.state.clone();
        async move {
            let app = alara_api::router(s);
            let r = tower::ServiceExt::oneshot(
                app,
                axum::http::Request::get("/api/v1/auth/siwe/nonce")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
            let b = http_body_util::BodyExt::collect(r.into_body()).await.unwrap().to_bytes();
            serde_json::from_slice::<serde_json::Value>(&b).unwrap()
        }
    };
    let n = nonce(&s).await;
    assert_eq!(n["chain_id"], chain_id);
    assert_eq!(n["domain"], "alara.test:8545");
    let issued = n["issued_at"].as_str().unwrap().to_string();
    let domain = "alara.test:8545";

    // A valid sign-in gives a session with the configured role.
    let text =
        message(admin.address(), domain, chain_id, n["nonce"].as_str().unwrap(), &issued, None);
    let body = serde_json::json!({"message": text, "signature": sign(&admin, &text)});
    let ok = s.post_json("/api/v1/auth/siwe/verify", None, &body).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", String::from_utf8_lossy(&ok.body));
    let token = ok.json()["token"].as_str().unwrap().to_string();
    let me = s.get("/api/v1/auth/me", Some(&token)).await.json();
    assert_eq!(me["role"], "admin");
    assert_eq!(me["identity"]["address"], admin.address().to_checksum(None));

    // The same message again: its nonce is spent.
    let replay = s.post_json("/api/v1/auth/siwe/verify", None, &body).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert!(replay.json()["error"]["message"].as_str().unwrap().contains("nonce"));

    // A nonce the server never issued.
    let text = message(admin.address(), domain, chain_id, "neverissued1", &issued, None);
    let r = s
        .post_json(
            "/api/v1/auth/siwe/verify",
            None,
            &serde_json::json!({"message": text, "signature": sign(&admin, &text)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Expired, wrong domain, wrong chain, signed by another account: each refused, and
    // each spends its nonce.
    let other = PrivateKeySigner::random();
    let cases: Vec<(&str, Box<MakeSigned<'_>>)> = vec![
        (
            "expired",
            Box::new(|n: &str| {
                let t = message(
                    admin.address(),
                    domain,
                    chain_id,
                    n,
                    "2020-01-01T00:00:00Z",
                    Some("2020-01-01T00:10:00Z"),
                );
                let sig = sign(&admin, &t);
                (t, sig)
            }),
        ),
        (
            "domain",
            Box::new(|n: &str| {
                let t = message(admin.address(), "evil.example", chain_id, n, &issued, None);
                let sig = sign(&admin, &t);
                (t, sig)
            }),
        ),
        (
            "chain",
            Box::new(|n: &str| {
                let t = message(admin.address(), domain, chain_id + 1, n, &issued, None);
                let sig = sign(&admin, &t);
                (t, sig)
            }),
        ),
        (
            "signature",
            Box::new(|n: &str| {
                let t = message(admin.address(), domain, chain_id, n, &issued, None);
                let sig = sign(&other, &t);
                (t, sig)
            }),
        ),
    ];
    for (what, make) in cases {
        let n = nonce(&s).await;
        let nonce_text = n["nonce"].as_str().unwrap().to_string();
        let (text, sig) = make(&nonce_text);
        let r = s
            .post_json(
                "/api/v1/auth/siwe/verify",
                None,
                &serde_json::json!({"message": text, "signature": sig}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
        // Fixing the message afterwards does not help: the nonce is gone.
        let good = message(admin.address(), domain, chain_id, &nonce_text, &issued, None);
        let r = s
            .post_json(
                "/api/v1/auth/siwe/verify",
                None,
                &serde_json::json!({"message": good, "signature": sign(&admin, &good)}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: nonce reused");
    }

    // A wallet not configured gets the default role (reader); logout ends the session.
    let n = nonce(&s).await;
    let text =
        message(other.address(), domain, chain_id, n["nonce"].as_str().unwrap(), &issued, None);
    let r = s
        .post_json(
            "/api/v1/auth/siwe/verify",
            None,
            &serde_json::json!({"message": text, "signature": sign(&other, &text)}),
        )
        .await;
    let t2 = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(s.get("/api/v1/auth/me", Some(&t2)).await.json()["role"], "reader");
    let out = s.send("POST", "/api/v1/auth/logout", Some(&t2), "application/json", vec![]).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(s.get("/api/v1/auth/me", Some(&t2)).await.status, StatusCode::UNAUTHORIZED);
    // Garbage is a 400, not a panic.
    let r = s
        .post_json(
            "/api/v1/auth/siwe/verify",
            None,
            &serde_json::json!({"message": "hello", "signature": "0x00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

/// The signature check agrees with an independent EIP-191 implementation (eth_account,
/// in .venv): a message signed there recovers to its account here.
#[test]
fn personal_sign_recovery_matches_eth_account() {
    let python = std::env::var("ALARA_PYTHON")
        .expect("ALARA_PYTHON (scripts/test.sh sets it to .venv/bin/python)");
    let text = "alara.test wants you to sign in with your Ethereum account:\n0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\n\n\nURI: http://alara.test\nVersion: 1\nChain ID: 31337\nNonce: abcdef123456\nIssued At: 2026-12-02T00:00:00Z";
    let script = r#"
import sys
from eth_account import Account
from eth_account.messages import encode_defunct
text = sys.stdin.read()
key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
sig = Account.sign_message(encode_defunct(text=text), private_key=key).signature.hex()
print(sig if sig.startswith("0x") else "0x" + sig)
"#;
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let sig = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let recovered = alara_api::auth::siwe::SiweMessage::recover(text, &sig).unwrap();
    assert_eq!(recovered.to_checksum(None), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    let m = alara_api::auth::siwe::SiweMessage::parse(text).unwrap();
    assert_eq!(m.address, recovered);
}
