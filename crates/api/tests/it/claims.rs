//! `/api/v1/claims`: the held-out real claims assessed by the pinned model exactly as
//! `alara_oracle::claims` assesses them (the commitment re-computes from the salt), the
//! decision as `ClaimsInsurance`'s rules take it, every bad input refused with a hint, and
//! readers only.

use alara_oracle::claims::{
    held_out, ClaimFeatures, ClaimInput, ClaimsAssessor, DEMO_RULES, DEMO_SUM_INSURED, FEATURES,
};
use axum::http::StatusCode;

use crate::support::server;

fn input_of(features: &serde_json::Value, salt: [u8; 32]) -> ClaimInput {
    let mut v = [0f32; FEATURES.len()];
    for (i, name) in FEATURES.iter().enumerate() {
        v[i] = features[*name].as_f64().unwrap() as f32;
    }
    let features = ClaimFeatures(v);
    ClaimInput { claimed: features.claimed_wei(), features, salt, cover_left: DEMO_SUM_INSURED }
}

#[tokio::test]
async fn held_out_claims_are_assessed_as_the_oracle_crate_assesses_them() {
    let s = server(|_| {});
    let a = s.get("/api/v1/claims/held-out?limit=50&offset=10", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", String::from_utf8_lossy(&a.body));
    let a = a.json();
    let model = ClaimsAssessor::shipped().unwrap();
    assert_eq!(a["model"], model.model_hash().to_hex());
    let all = held_out().unwrap();
    assert_eq!(a["total"], all.len());
    let claims = a["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 50);
    let mut decisions = std::collections::BTreeSet::new();
    for (c, want) in claims.iter().zip(&all[10..60]) {
        assert_eq!(c["row"], want.row);
        assert_eq!(c["long_claim"], want.label == 1);
        let got = &c["assessment"];
        // The same features through the library give the same scores and decision.
        let expect = model.assess(&input_of(&c["features"], [0; 32])).unwrap();
        assert_eq!(got["fraud_bp"], expect.fraud_bp, "row {}", want.row);
        assert_eq!(got["confidence_bp"], expect.confidence_bp);
        assert_eq!(got["amount"], expect.amount.to_string());
        assert_eq!(got["decision"], DEMO_RULES.decide(&expect, 0).name());
        decisions.insert(got["decision"].as_str().unwrap().to_string());
    }
    assert!(decisions.contains("auto_approved") && decisions.len() > 1, "{decisions:?}");
}

#[tokio::test]
async fn a_described_claim_is_assessed_and_its_commitment_re_computes() {
    let s = server(|_| {});
    let example = &s.get("/api/v1/claims/held-out?limit=1", None).await.json()["claims"][0];
    let body = serde_json::json!({ "features": example["features"] });
    let a = s.post_json("/api/v1/claims/assess", None, &body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", String::from_utf8_lossy(&a.body));
    let a = a.json();
    let salt: [u8; 32] = hex::decode(a["salt"].as_str().unwrap()).unwrap().try_into().unwrap();
    let expect =
        ClaimsAssessor::shipped().unwrap().assess(&input_of(&example["features"], salt)).unwrap();
    assert_eq!(a["assessment"]["input"], expect.input.to_hex());
    assert_eq!(a["assessment"]["fraud_bp"], expect.fraud_bp);
    assert_eq!(a["assessment"]["fraud_bp"], example["assessment"]["fraud_bp"]);
    // A fresh salt each call: the same claim never shows the same commitment twice.
    let b = s.post_json("/api/v1/claims/assess", None, &body).await.json();
    assert_ne!(a["assessment"]["input"], b["assessment"]["input"]);
}

#[tokio::test]
async fn bad_claims_and_pages_are_refused_with_a_hint() {
    let s = server(|_| {});
    let example = s.get("/api/v1/claims/held-out?limit=1", None).await.json()["claims"][0]
        ["features"]
        .clone();
    let with = |k: &str, v: serde_json::Value| {
        let mut f = example.clone();
        f[k] = v;
        serde_json::json!({ "features": f })
    };
    let mut missing = example.clone();
    missing.as_object_mut().unwrap().remove("age");
    for (body, says) in [
        (serde_json::json!({ "features": missing }), "features.age is missing"),
        (with("age", serde_json::json!("old")), "features.age = \"old\" is not a finite number"),
        (with("shoe_size", serde_json::json!(42)), "features.shoe_size is not a feature"),
        (with("claimed_usd", serde_json::json!(-1)), "claimed_usd is negative"),
        (with("weekly_wage", serde_json::json!(1e300)), "is not a finite number"),
    ] {
        let a = s.post_json("/api/v1/claims/assess", None, &body).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        let e = &a.json()["error"];
        assert!(e["message"].as_str().unwrap().contains(says), "{says}: {e}");
        assert!(!e["hint"].as_str().unwrap_or_default().is_empty(), "{says}: no hint: {e}");
    }
    let a = s
        .send("POST", "/api/v1/claims/assess", None, "application/json", b"{not json".to_vec())
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    for q in ["limit=0", "limit=201", "offset=999999", "limit=x"] {
        let a = s.get(&format!("/api/v1/claims/held-out?{q}"), None).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{q}");
    }
    let s = server(|c| c.anonymous_role = None);
    let a = s.get("/api/v1/claims/held-out", None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}
