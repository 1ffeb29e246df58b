//! The networked coordinator over HTTP on localhost.

use std::time::Duration;

use alara_fl::net::{self, ClientOptions, RoundTiming};
use axum::{body::Body, http::Request};
use tower::ServiceExt;

use crate::common::{nudged, service};

async fn assert_json_error(res: axum::response::Response) {
    let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
    assert_eq!(ct.as_deref(), Some("application/json"));
    let body = axum::body::to_bytes(res.into_body(), 1 << 16).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
}

#[tokio::test]
async fn http_rejects_malformed_oversized_and_stale_updates() {
    let (svc, _) =
        service(2, 1, RoundTiming { deadline: Duration::from_secs(60), expected_clients: None });
    let app = net::router(svc.clone());
    let post = |uri: &str, body: Vec<u8>| {
        Request::builder().method("POST").uri(uri).body(Body::from(body)).unwrap()
    };
    let res =
        app.clone().oneshot(post("/v1/update/a/1/10", b"not safetensors".to_vec())).await.unwrap();
    assert_eq!(res.status(), 400);
    let res =
        app.clone().oneshot(post("/v1/update/a/1/10", vec![0; svc.max_body() + 1])).await.unwrap();
    assert_eq!(res.status(), 413);
    assert_json_error(res).await;
    // Errors axum writes itself are JSON too: a u64-overflowing path segment, a wrong
    // method, an unknown route.
    let res = app
        .clone()
        .oneshot(post("/v1/update/a/99999999999999999999999/10", b"x".to_vec()))
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_json_error(res).await;
    let res = app.clone().oneshot(post("/v1/task", vec![])).await.unwrap();
    assert_eq!(res.status(), 405);
    assert_json_error(res).await;
    let res = app
        .clone()
        .oneshot(Request::builder().uri("/nope").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_json_error(res).await;
    let good = nudged(&svc.global(), 1.0).to_safetensors();
    let res = app.clone().oneshot(post("/v1/update/a/5/10", good.clone())).await.unwrap();
    assert_eq!(res.status(), 409);
    let res = app.clone().oneshot(post("/v1/update/a/1/10", good.clone())).await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.clone().oneshot(post("/v1/update/b/1/10", good)).await.unwrap();
    assert_eq!(res.status(), 409, "same weights from another client are a replay");
    let res = app
        .clone()
        .oneshot(Request::builder().uri("/v1/task").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(svc.rejections().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn networked_round_survives_a_client_leaving_mid_task() {
    let (svc, data) = service(
        3,
        3,
        RoundTiming { deadline: Duration::from_millis(1500), expected_clients: Some(4) },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(net::serve(listener, svc.clone(), Duration::from_millis(600)));
    let mut clients = Vec::new();
    for (i, d) in data.into_iter().enumerate() {
        let opts = ClientOptions {
            coordinator: url.clone(),
            client_id: format!("hospital-{i}"),
            poll: Duration::from_millis(50),
            // hospital-3 leaves after the first round.
            max_rounds: if i == 3 { Some(1) } else { None },
            patience: Duration::from_secs(2),
            signer: None,
        };
        clients.push(tokio::spawn(async move { net::run_client(&opts, &d).await }));
    }
    let records =
        tokio::time::timeout(Duration::from_secs(120), server).await.unwrap().unwrap().unwrap();
    for c in clients {
        c.await.unwrap().unwrap();
    }
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].clients.len(), 4);
    assert_eq!(records[1].clients.len(), 3, "round 2 closed at the deadline with quorum 3");
    assert_eq!(records[2].base_model_hash, records[1].global_model_hash);
}
