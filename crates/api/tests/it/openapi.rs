//! The OpenAPI document: valid for an independent validator (openapi-spec-validator, in
//! .venv), 3.1, and every route it documents is served (none answers "no such route").

use axum::http::StatusCode;

use crate::support::server;

#[test]
fn document_is_valid_openapi_3_1_for_an_independent_validator() {
    let doc = serde_json::to_value(alara_api::openapi()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let python = std::env::var("ALARA_PYTHON")
        .expect("ALARA_PYTHON (scripts/test.sh sets it to .venv/bin/python)");
    let out = std::process::Command::new(python)
        .args(["-m", "openapi_spec_validator", "--schema", "3.1"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The validator does fail on a broken document (so its success above means something).
    let mut broken = doc.clone();
    broken["paths"]["/api/v1/info"]["get"]["responses"] = serde_json::json!("nope");
    std::fs::write(&path, serde_json::to_vec(&broken).unwrap()).unwrap();
    let python = std::env::var("ALARA_PYTHON").unwrap();
    let out = std::process::Command::new(python)
        .args(["-m", "openapi_spec_validator", "--schema", "3.1"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the validator accepted a broken document");
}

#[tokio::test]
async fn every_documented_route_is_served_and_answers_json() {
    let s = server(|_| {});
    let admin = s.key(alara_api::Role::Admin);
    let doc = serde_json::to_value(alara_api::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "only {} paths documented", paths.len());
    let mut checked = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "delete"].contains(&method.as_str()) {
                continue;
            }
            // Fill path parameters with values of the right shape.
            let mut uri = path.clone();
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap();
                let value = match name {
                    "index" => "0",
                    "leaf_hash" => "00".repeat(32).leak(),
                    "cid" => "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH",
                    _ => "x",
                };
                uri = uri.replace(&format!("{{{name}}}"), value);
            }
            if uri.contains("proofs/inclusion") {
                uri.push_str("?index=0");
            } else if uri.contains("proofs/consistency") {
                uri.push_str("?old=1");
            }
            let a = s
                .send(
                    &method.to_uppercase(),
                    &uri,
                    Some(&admin),
                    "application/json",
                    b"{}".to_vec(),
                )
                .await;
            assert_ne!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
            if a.status == StatusCode::NOT_FOUND {
                let msg = a.json()["error"]["message"].as_str().unwrap_or_default().to_string();
                assert_ne!(msg, "no such API route", "{method} {uri} is documented but not routed");
            }
            let ct = a.headers.get("content-type").map(|v| v.to_str().unwrap().to_string());
            if a.status.is_client_error() || a.status.is_server_error() {
                assert_eq!(ct.as_deref(), Some("application/json"), "{method} {uri}: {}", a.status);
                assert!(!a.code().is_empty(), "{method} {uri}: error without a code");
            }
            checked += 1;
        }
    }
    assert!(checked >= 20);
    // And an undocumented route is a JSON 404.
    let a = s.get("/api/v1/nope", None).await;
    assert_eq!((a.status, a.code().as_str()), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn openapi_json_docs_page_and_dashboard_are_served() {
    let s = server(|_| {});
    let a = s.get("/openapi.json", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["info"]["title"], "Alara API");
    let docs = s.get("/docs", None).await;
    assert_eq!(docs.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&docs.body).to_string();
    // The docs page loads only what this server serves: no CDN.
    assert!(html.contains("/docs/docs.js") && !html.contains("https://"), "{html}");
    assert_eq!(s.get("/docs/docs.js", None).await.status, StatusCode::OK);
    let index = s.get("/", None).await;
    assert_eq!(index.status, StatusCode::OK);
    let csp = index.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("default-src 'self'"));
    // ETags make reloads cheap.
    let etag = s.get("/docs/docs.js", None).await.headers.get("etag").cloned().unwrap();
    let again = s
        .call(
            axum::http::Request::get("/docs/docs.js")
                .header("if-none-match", etag)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
}
