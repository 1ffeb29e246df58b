//! A server state over a temp data dir, and a request helper.

use std::sync::Arc;

use alara_api::{ApiConfig, ApiState};
use alara_audit::{AuditTrail, TrailConfig};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A test server: the state, its data dir, and (when asked) a chain.
pub struct Server {
    pub state: Arc<ApiState>,
    pub _dir: tempfile::TempDir,
    pub chain: Option<alara_chain::testing::TestChain>,
}

pub fn trail(dir: &std::path::Path) -> Arc<AuditTrail> {
    let mut c = TrailConfig::new(dir.join("audit"), "test passphrase");
    c.key_work_factor = 10;
    Arc::new(AuditTrail::open(c).unwrap())
}

/// A server with an audit trail and a store, no chain.
pub fn server(configure: impl FnOnce(&mut ApiConfig)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ApiConfig::new(dir.path());
    configure(&mut config);
    let store = alara_store::Store::open(dir.path().join("store")).unwrap();
    let state = ApiState::new(config).with_audit(trail(dir.path())).with_store(Arc::new(store));
    Server { state: Arc::new(state), _dir: dir, chain: None }
}

/// A server reading an embedded chain (for SIWE's chain id and the info route).
pub async fn server_with_chain(configure: impl FnOnce(&mut ApiConfig)) -> Server {
    let chain = alara_chain::testing::TestChain::embedded().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = ApiConfig::new(dir.path());
    config.rpc_url = Some(chain.url().to_string());
    config.siwe_domain = "alara.test:8545".into();
    configure(&mut config);
    let state = ApiState::new(config).with_audit(trail(dir.path())).with_chain().unwrap();
    Server { state: Arc::new(state), _dir: dir, chain: Some(chain) }
}

/// An answer: status, headers and body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: axum::body::Bytes,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The stable error code of a JSON error answer.
    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_string()
    }
}

impl Server {
    pub async fn call(&self, request: Request<Body>) -> Answer {
        let app = alara_api::router(self.state.clone());
        let r = app.oneshot(request).await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let body = r.into_body().collect().await.unwrap().to_bytes();
        Answer { status, headers, body }
    }

    pub async fn get(&self, uri: &str, token: Option<&str>) -> Answer {
        let mut b = Request::get(uri);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        self.call(b.body(Body::empty()).unwrap()).await
    }

    pub async fn post_json(
        &self,
        uri: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> Answer {
        self.send("POST", uri, token, "application/json", body.to_string().into_bytes()).await
    }

    pub async fn send(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        let mut b = Request::builder().method(method).uri(uri).header("content-type", content_type);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        self.call(b.body(Body::from(body)).unwrap()).await
    }

    /// A key with `role`, made through the key ring (as `alara api key create` does).
    pub fn key(&self, role: alara_api::Role) -> String {
        self.state.keys.create("test", role, None).unwrap().0
    }
}

/// A payout entry as JSON (what a client posts).
pub fn payout(n: u64) -> serde_json::Value {
    let entry = alara_audit::entry::Entry::now(alara_audit::entry::EntryBody::Payout(
        alara_audit::entry::Payout {
            context: format!("fl/round/{n}"),
            recipient: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".into(),
            token: "ALR".into(),
            amount: u128::from(n) * 1_000,
            tx: None,
        },
    ));
    serde_json::to_value(entry).unwrap()
}
