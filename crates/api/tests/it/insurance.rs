//! `/api/v1/insurance/seasons`: each season's index and payout equal to `alara_oracle::crop`
//! (the formula held to `CropInsurance` on-chain by the oracle crate's tests), every bad
//! parameter refused with what was wrong and what to do, and readers only.

use alara_api::Role;
use alara_oracle::crop::{self, Cover, DEMO_COVERS, GROWING_SEASON};
use axum::http::StatusCode;

use crate::support::server;

/// What the route answers for `cover` over `months`, as (year, index, payout, reason).
fn expected(cover: &Cover, months: std::ops::RangeInclusive<u32>) -> Vec<serde_json::Value> {
    crop::seasons(cover, months)
        .unwrap()
        .into_iter()
        .map(|s| {
            serde_json::json!([
                s.year,
                s.settlement.index as u64,
                s.settlement.payout.to_string(),
                s.settlement.reason
            ])
        })
        .collect()
}

fn got(answer: &serde_json::Value) -> Vec<serde_json::Value> {
    answer["seasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| serde_json::json!([s["year"], s["index"], s["payout"], s["reason"]]))
        .collect()
}

#[tokio::test]
async fn seasons_quote_what_the_oracle_crate_computes() {
    let s = server(|_| {});
    // Defaults: the demo's standard cover over May–September.
    let a = s.get("/api/v1/insurance/seasons", None).await;
    assert_eq!(a.status, StatusCode::OK);
    let a = a.json();
    let standard = DEMO_COVERS[0].1;
    assert_eq!((a["trigger"].as_u64(), a["exit"].as_u64()), (Some(2500), Some(1400)));
    assert_eq!(a["sum_insured"], standard.sum_insured.to_string());
    assert_eq!(a["months"], serde_json::json!([5, 9]));
    assert_eq!(got(&a), expected(&standard, GROWING_SEASON));
    let years: Vec<u64> =
        a["seasons"].as_array().unwrap().iter().map(|s| s["year"].as_u64().unwrap()).collect();
    assert_eq!(years, [2012, 2013, 2014, 2015]);
    let bands: Vec<&str> =
        a["seasons"].as_array().unwrap().iter().map(|s| s["band"].as_str().unwrap()).collect();
    assert_eq!(bands, ["partial", "nothing", "partial", "full"]);
    assert_eq!(a["seasons"][1]["payout"], "0");
    assert_eq!(a["seasons"][3]["fraction"], 1.0);

    // A cover of its own, over June–August, and a single month.
    let cover = Cover::new(1000, 300, 123_456_789).unwrap();
    let a = s
        .get(
            "/api/v1/insurance/seasons?trigger=1000&exit=300&sum_insured=123456789&months=6-8",
            None,
        )
        .await
        .json();
    assert_eq!(got(&a), expected(&cover, 6..=8));
    assert_eq!(a["months"], serde_json::json!([6, 8]));
    let a = s.get("/api/v1/insurance/seasons?months=7", None).await.json();
    assert_eq!(got(&a), expected(&standard, 7..=7));
    // The largest sum the contract takes, whose payout needs the 256-bit product.
    let max = u128::MAX.to_string();
    let a = s.get(&format!("/api/v1/insurance/seasons?sum_insured={max}"), None).await.json();
    let big = Cover::new(2500, 1400, u128::MAX).unwrap();
    assert_eq!(got(&a), expected(&big, GROWING_SEASON));
}

#[tokio::test]
async fn bad_covers_are_refused_with_a_hint() {
    let s = server(|_| {});
    for (q, says) in [
        ("exit=2500", "exit=2500 is not below trigger=2500"),
        ("trigger=1000&exit=1400", "exit=1400 is not below trigger=1000"),
        ("trigger=0&exit=0", "trigger=0"),
        ("trigger=200001", "trigger=200001"),
        ("sum_insured=0", "sum_insured=0"),
        ("sum_insured=-5", "sum_insured=\"-5\""),
        ("sum_insured=1e18", "sum_insured=\"1e18\""),
        ("sum_insured=340282366920938463463374607431768211456", "number too large"),
        ("months=0-9", "months=0-9"),
        ("months=5-13", "months=5-13"),
        ("months=9-5", "months=9-5"),
        ("months=may", "months=\"may\""),
        ("months=", "months=\"\""),
        ("trigger=abc", "trigger"),
        ("exit=-1", "exit"),
    ] {
        let a = s.get(&format!("/api/v1/insurance/seasons?{q}"), None).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(a.code(), "bad_request", "{q}");
        let e = &a.json()["error"];
        assert!(e["message"].as_str().unwrap().contains(says), "{q}: {e}");
        assert!(!e["hint"].as_str().unwrap_or_default().is_empty(), "{q}: no hint: {e}");
    }
}

#[tokio::test]
async fn seasons_are_for_readers() {
    let s = server(|c| c.anonymous_role = None);
    let a = s.get("/api/v1/insurance/seasons", None).await;
    assert_eq!((a.status, a.code().as_str()), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let reader = s.key(Role::Reader);
    assert_eq!(s.get("/api/v1/insurance/seasons", Some(&reader)).await.status, StatusCode::OK);
}

#[test]
fn openapi_documents_the_seasons_route() {
    let doc = serde_json::to_value(alara_api::openapi()).unwrap();
    let op = &doc["paths"]["/api/v1/insurance/seasons"]["get"];
    assert_eq!(op["tags"], serde_json::json!(["insurance"]), "{op}");
    let params: Vec<&str> =
        op["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(params, ["trigger", "exit", "sum_insured", "months"]);
    assert!(op["responses"]["400"].is_object(), "{op}");
    let tags = doc["tags"].as_array().unwrap();
    assert!(tags.iter().any(|t| t["name"] == "insurance"), "{tags:?}");
}
