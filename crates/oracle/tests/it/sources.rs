//! The HTTP JSON source against a local server this test starts: a numeric string, a
//! number in an array, and each way an answer can be bad.

use std::time::Duration;

use alara_oracle::source::{observe_all, HttpJsonSource, ReplaySource, Source, MAX_BODY};
use axum::routing::get;
use axum::Router;

async fn server() -> String {
    let app = Router::new()
        .route("/ticker", get(|| async { r#"{"data":{"symbol":"AAPL","price":"189.25"}}"# }))
        .route("/book", get(|| async { r#"{"bids":[{"px":189.5,"qty":3}]}"# }))
        .route("/words", get(|| async { r#"{"data":{"price":"n/a"}}"# }))
        .route("/html", get(|| async { "<html>maintenance</html>" }))
        .route("/down", get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down") }))
        .route("/huge", get(|| async { " ".repeat(MAX_BODY + 1) }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                r#"{"price":1}"#
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn http_json_sources_read_values_and_refuse_bad_answers() {
    let base = server().await;
    let src = |id: &str, path: &str, sel: &str| -> Box<dyn Source> {
        Box::new(
            HttpJsonSource::new(id, &format!("{base}{path}"), sel, Duration::from_millis(500))
                .unwrap(),
        )
    };
    let sources = vec![
        src("ticker", "/ticker", "$.data.price"),
        src("book", "/book", "bids[0].px"),
        src("words", "/words", "data.price"),
        src("html", "/html", "data.price"),
        src("down", "/down", "price"),
        src("huge", "/huge", "price"),
        src("slow", "/slow", "price"),
        src("missing", "/ticker", "data.last"),
        Box::new(ReplaySource::new("replay", vec![Some(189.0), None])),
    ];
    let (ok, failed) = observe_all(&sources, 0).await;
    assert_eq!(
        ok,
        vec![("ticker".into(), 189.25), ("book".into(), 189.5), ("replay".into(), 189.0)]
    );
    let reason = |id: &str| failed.iter().find(|(s, _)| s == id).map(|(_, r)| r.clone()).unwrap();
    assert!(reason("words").contains("not a finite number"), "{}", reason("words"));
    assert!(reason("html").contains("not JSON"), "{}", reason("html"));
    assert!(reason("down").contains("503"), "{}", reason("down"));
    assert!(reason("huge").contains("larger than"), "{}", reason("huge"));
    assert!(reason("slow").contains("GET"), "{}", reason("slow"));
    assert!(reason("missing").contains("nothing at data.last"), "{}", reason("missing"));
    let (_, failed) = observe_all(&sources[8..], 1).await;
    assert!(failed[0].1.contains("outage"), "{failed:?}");
    assert!(HttpJsonSource::new("x", "file:///etc/passwd", "a", Duration::from_secs(1)).is_err());
    assert!(HttpJsonSource::new("x", "not a url", "a", Duration::from_secs(1)).is_err());
}
