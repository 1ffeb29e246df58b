//! A worker's HTTP endpoint and the validator's fetch: the published model comes back byte
//! for byte, what the worker did not publish is a 404, and bytes that are not the document
//! a CID names are refused when imported.

use std::sync::Arc;

use alara_compute::artifact;
use alara_compute::model::FixedModel;
use alara_compute::net::{router, Shared, Status};
use alara_compute::party::fetch;
use alara_compute::Error;
use alara_store::Store;

fn model() -> FixedModel {
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../models/breast_cancer_logreg.onnx"),
    )
    .unwrap();
    FixedModel::from_onnx(&bytes, "breast_cancer_logreg.onnx").unwrap()
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn a_worker_serves_what_it_published_and_a_lying_peer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("worker")).unwrap();
    let m = model();
    let cid = artifact::put_json(&store, &m).unwrap();
    let secret = artifact::put(&store, b"not published").unwrap();
    let shared = Arc::new(Shared {
        store,
        status: parking_lot::Mutex::new(Status {
            address: "0xworker".into(),
            models: vec![(1, cid.clone())],
            moves: vec![],
        }),
    });
    let url = serve(router(shared)).await;

    // The validator's store lacks the model; the bytes it fetches are the model's.
    let validator = Store::open(dir.path().join("validator")).unwrap();
    let bytes = fetch(&url, &cid).await.unwrap();
    artifact::import_verified(&validator, &cid, &bytes).unwrap();
    assert_eq!(artifact::get_model(&validator, &cid, m.hash()).unwrap().hash(), m.hash());
    let status: serde_json::Value =
        reqwest::get(format!("{url}/v1/status")).await.unwrap().json().await.unwrap();
    assert_eq!(status["models"][0][1], cid.as_str(), "{status}");

    // A document in the worker's store it has not published is not served.
    let e = fetch(&url, &secret).await.unwrap_err();
    assert!(matches!(&e, Error::Peer { .. }) && e.to_string().contains("404"), "{e}");

    // A peer that answers every CID with other bytes: refused on import, nothing stored.
    let liar = serve(axum::Router::new().route(
        "/v1/blocks/{cid}",
        axum::routing::get(|| async { b"{\"input_width\":1,\"layers\":[]}".to_vec() }),
    ))
    .await;
    let other = Store::open(dir.path().join("other")).unwrap();
    let bytes = fetch(&liar, &cid).await.unwrap();
    let e = artifact::import_verified(&other, &cid, &bytes).unwrap_err();
    assert!(e.to_string().contains("served something else"), "{e}");
    assert!(artifact::get(&other, &cid).is_err(), "the refused document is not in the store");

    // A peer that is not there is an error naming it, not a hang.
    let e = fetch("http://127.0.0.1:9", &cid).await.unwrap_err();
    assert!(e.to_string().contains("127.0.0.1:9"), "{e}");
}
