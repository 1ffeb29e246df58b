//! The store routes: an upload gets the CID the store's own importer gives (and Kubo's for
//! a known file), its bytes come back, limits are enforced, pins are listed.

use alara_api::Role;
use axum::http::StatusCode;

use crate::support::server;

#[tokio::test]
async fn add_cat_stat_pin_and_limits() {
    let s = server(|c| c.max_upload = 1 << 20);
    let writer = s.key(Role::Writer);
    // `ipfs add` of "hello world\n" with Kubo's defaults.
    let a = s
        .send(
            "POST",
            "/api/v1/store",
            Some(&writer),
            "application/octet-stream",
            b"hello world\n".to_vec(),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json()["cid"], "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
    // A larger file (several chunks) gets the same CID as the library's add.
    let data: Vec<u8> = (0..700_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let a = s
        .send("POST", "/api/v1/store", Some(&writer), "application/octet-stream", data.clone())
        .await;
    let cid = a.json()["cid"].as_str().unwrap().to_string();
    let local = s
        .state
        .store()
        .unwrap()
        .add_reader(&data[..], &alara_store::AddOptions::default())
        .unwrap();
    assert_eq!(cid, local.cid.to_string());
    let back = s.get(&format!("/api/v1/store/{cid}/content"), None).await;
    assert_eq!(back.status, StatusCode::OK);
    assert_eq!(back.body.as_ref(), &data[..]);
    let stat = s.get(&format!("/api/v1/store/{cid}"), None).await.json();
    assert_eq!((stat["size"].as_u64(), stat["pinned"].as_bool()), (Some(700_000), Some(true)));
    let pins = s.get("/api/v1/store/pins", None).await.json();
    assert!(pins.as_array().unwrap().iter().any(|p| p == &serde_json::json!(cid)));
    // Over the upload limit: 413, and nothing pinned.
    let big = vec![7u8; (1 << 20) + 1];
    let a = s.send("POST", "/api/v1/store", Some(&writer), "application/octet-stream", big).await;
    assert_eq!((a.status, a.code().as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));
    assert_eq!(s.get("/api/v1/store/pins", None).await.json().as_array().unwrap().len(), 2);
    // Readers cannot add; bad and unknown CIDs are 400 and 404.
    let reader = s.key(Role::Reader);
    assert_eq!(
        s.send("POST", "/api/v1/store", Some(&reader), "application/octet-stream", b"x".to_vec())
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(s.get("/api/v1/store/not-a-cid", None).await.status, StatusCode::BAD_REQUEST);
    let missing =
        s.get("/api/v1/store/QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH/content", None).await;
    assert_eq!((missing.status, missing.code().as_str()), (StatusCode::NOT_FOUND, "not_found"));
}
