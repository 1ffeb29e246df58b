//! The audit routes against a real trail: appends through the API, pages with cursors,
//! lookup by leaf hash, receipts that verify offline (and a tampered one that does not),
//! proofs that verify with the library's own checks, and the JSON Lines export.

use alara_api::Role;
use alara_audit::proof::{ConsistencyProof, InclusionProof};
use alara_audit::{Hash, Receipt};
use axum::http::StatusCode;

use crate::support::{payout, server};

fn hashes(v: &serde_json::Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(|h| Hash::from_hex(h.as_str().unwrap()).unwrap()).collect()
}

#[tokio::test]
async fn append_page_lookup_receipt_proofs_export() {
    let s = server(|_| {});
    let writer = s.key(Role::Writer);
    let mut leaves = Vec::new();
    for n in 0..23 {
        let a = s.post_json("/api/v1/audit/entries", Some(&writer), &payout(n)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", String::from_utf8_lossy(&a.body));
        assert_eq!(a.json()["index"], n);
        leaves.push(a.json()["leaf_hash"].as_str().unwrap().to_string());
    }
    let status = s.get("/api/v1/audit/status", None).await.json();
    assert_eq!(status["size"], 23);

    // Pages of 10, newest first, joined by cursors, cover every entry once.
    let mut seen = Vec::new();
    let mut uri = "/api/v1/audit/entries?limit=10".to_string();
    loop {
        let page = s.get(&uri, None).await.json();
        for row in page["items"].as_array().unwrap() {
            seen.push(row["index"].as_u64().unwrap());
            assert_eq!(row["kind"], "payout");
        }
        match page["next_cursor"].as_u64() {
            Some(c) => uri = format!("/api/v1/audit/entries?limit=10&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, (0..23).rev().collect::<Vec<_>>());
    // Filters and bad filters.
    let none = s.get("/api/v1/audit/entries?kind=inference", None).await.json();
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    let bad = s.get("/api/v1/audit/entries?kind=nonsense", None).await;
    assert_eq!((bad.status, bad.code().as_str()), (StatusCode::BAD_REQUEST, "bad_request"));
    assert_eq!(s.get("/api/v1/audit/entries?limit=0", None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        s.get("/api/v1/audit/entries?cursor=-1", None).await.status,
        StatusCode::BAD_REQUEST
    );

    // Lookup by leaf hash finds the same entry as by index; unknown hashes are 404s.
    let by_hash = s.get(&format!("/api/v1/audit/leaves/{}", leaves[7]), None).await.json();
    let by_index = s.get("/api/v1/audit/entries/7", None).await.json();
    assert_eq!(by_hash["index"], 7);
    assert_eq!(by_hash, by_index);
    let bytes = hex::decode(by_index["bytes_hex"].as_str().unwrap()).unwrap();
    assert_eq!(alara_audit::leaf_hash(&bytes).to_hex(), leaves[7]);
    assert_eq!(
        s.get(&format!("/api/v1/audit/leaves/{}", "ab".repeat(32)), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(s.get("/api/v1/audit/leaves/xyz", None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(s.get("/api/v1/audit/entries/23", None).await.status, StatusCode::NOT_FOUND);

    // The receipt verifies offline with the log's key; one changed byte fails.
    let r = s.get("/api/v1/audit/entries/7/receipt", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let receipt = Receipt::from_json(&r.body).unwrap();
    let key = s.state.audit().unwrap().verifier().clone();
    receipt.verify_offline(Some(&key)).unwrap();
    let v = s.post_json("/api/v1/audit/verify", None, &r.json()).await.json();
    assert_eq!(v["valid"], true);
    assert_eq!(v["key_pinned"], true);
    let mut tampered = r.json();
    let mut entry_bytes = base64_decode(tampered["entry_bytes"].as_str().unwrap());
    let last = entry_bytes.len() - 1;
    entry_bytes[last] ^= 1;
    tampered["entry_bytes"] = base64_encode(&entry_bytes).into();
    let v = s.post_json("/api/v1/audit/verify", None, &tampered).await.json();
    assert_eq!(v["valid"], false, "{v}");
    assert!(v["error"].as_str().is_some());

    // Inclusion and consistency proofs check out with the library's verifiers.
    let size = status["checkpoint"]["size"].as_u64().unwrap();
    let p =
        s.get(&format!("/api/v1/audit/proofs/inclusion?index=7&size={size}"), None).await.json();
    let root = Hash::from_hex(p["root"].as_str().unwrap()).unwrap();
    InclusionProof { leaf_index: 7, tree_size: size, path: hashes(&p["hashes"]) }
        .verify(&Hash::from_hex(&leaves[7]).unwrap(), &root)
        .unwrap();
    let c = s.get(&format!("/api/v1/audit/proofs/consistency?old=5&new={size}"), None).await.json();
    let old_root = Hash::from_hex(
        s.get("/api/v1/audit/proofs/inclusion?index=0&size=5", None).await.json()["root"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    ConsistencyProof { old_size: 5, new_size: size, path: hashes(&c["hashes"]) }
        .verify(&old_root, &root)
        .unwrap();
    assert_eq!(
        s.get("/api/v1/audit/proofs/inclusion?index=99", None).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.get("/api/v1/audit/proofs/consistency?old=0", None).await.status,
        StatusCode::BAD_REQUEST
    );

    // The export is one verifying receipt per line.
    let e = s.get("/api/v1/audit/export?kind=payout", None).await;
    assert_eq!(e.status, StatusCode::OK);
    assert_eq!(e.headers.get("content-type").unwrap(), "application/jsonl");
    let lines: Vec<_> = e.body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 23);
    for l in lines {
        Receipt::from_json(l).unwrap().verify_offline(Some(&key)).unwrap();
    }
}

#[tokio::test]
async fn a_server_without_a_trail_says_how_to_get_one() {
    let dir = tempfile::tempdir().unwrap();
    let state =
        std::sync::Arc::new(alara_api::ApiState::new(alara_api::ApiConfig::new(dir.path())));
    let s = crate::support::Server { state, _dir: dir, chain: None };
    let a = s.get("/api/v1/audit/status", None).await;
    assert_eq!((a.status, a.code().as_str()), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
    assert!(a.json()["error"]["hint"].as_str().unwrap().contains("ALARA_LOG_KEY_PASSWORD"));
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}
