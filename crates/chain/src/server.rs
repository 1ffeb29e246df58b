//! HTTP transport for the JSON-RPC API (axum).
//!
//! POST a JSON-RPC request or batch to `/`. Bodies over [`MAX_BODY`] are refused with a
//! JSON-RPC error before they are read in full.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::json;
use tokio::sync::oneshot;

use crate::rpc::{EthApi, Response as RpcResponse, RpcError};
use crate::{Error, Node, Result};

/// Largest request body accepted: 8 MiB (geth's limit is 5 MB; contract deployments fit).
pub const MAX_BODY: usize = 8 << 20;

/// A running server; dropping it stops serving (the node keeps running).
pub struct ServerHandle {
    addr: SocketAddr,
    api: Arc<EthApi>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The HTTP endpoint URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The API (and through it the node) being served.
    pub fn api(&self) -> &Arc<EthApi> {
        &self.api
    }

    /// Stops serving and waits until the server has let go of the node, so that the
    /// node's database can be reopened (dropping the handle only asks it to stop).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The axum router answering JSON-RPC for `api` (for embedding in a larger server).
pub fn router(api: Arc<EthApi>) -> Router {
    Router::new()
        .route("/", post(handle))
        .layer(tower_http::cors::CorsLayer::permissive())
        .with_state(api)
}

async fn handle(State(api): State<Arc<EthApi>>, body: Body) -> Response {
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            let err = RpcError::invalid_request(format!(
                "request body too large: the limit is {} MiB",
                MAX_BODY >> 20
            ));
            let body = json!(RpcResponse::err(serde_json::Value::Null, err)).to_string();
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
        }
    };
    match api.handle_body(&bytes).await {
        Some(v) => ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

/// Serves `node` over HTTP on `addr` (port 0 picks a free port) until the handle drops.
pub async fn serve(node: Arc<Node>, addr: SocketAddr) -> Result<ServerHandle> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Io(format!("listening on {addr}").into(), e))?;
    let addr = listener.local_addr().map_err(|e| Error::Io("listener".into(), e))?;
    let api = Arc::new(EthApi::new(node));
    let app = router(api.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = server.await {
            tracing::error!(error = %e, "JSON-RPC server stopped");
        }
    });
    Ok(ServerHandle { addr, api, stop: Some(stop), task: Some(task) })
}
