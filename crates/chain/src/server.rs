//! HTTP transport for the JSON-RPC API (axum).
//!
//! POST a JSON-RPC request or batch to `/`. Bodies over [`MAX_BODY`] are refused with a
//! JSON-RPC error before they are read in full. [`serve`] runs its own accept loop so that
//! it can bound connections: how many, how long a request head and body may take, and
//! what happens when the process runs out of file descriptors (it waits and goes on).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::sync::{watch, Semaphore};

use crate::rpc::{EthApi, Response as RpcResponse, RpcError};
use crate::{Error, Node, Result};

/// Largest request body accepted: 8 MiB (geth's limit is 5 MB; contract deployments fit).
pub const MAX_BODY: usize = 8 << 20;

/// A running server; dropping it stops serving (the node keeps running).
pub struct ServerHandle {
    addr: SocketAddr,
    api: Arc<EthApi>,
    stop: Option<watch::Sender<bool>>,
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
            let _ = stop.send(true);
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
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
    let timeout = api.node().config().body_read_timeout;
    let bytes = match tokio::time::timeout(timeout, axum::body::to_bytes(body, MAX_BODY)).await {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => {
            let err = RpcError::invalid_request(format!(
                "request body too large: the limit is {} MiB",
                MAX_BODY >> 20
            ));
            return error_response(StatusCode::PAYLOAD_TOO_LARGE, err);
        }
        Err(_) => {
            let err = RpcError::invalid_request(format!(
                "request body not received within {timeout:?} (raise the limit with \
                 --body-read-timeout)"
            ));
            // The rest of the body is not read: the connection cannot carry another request.
            let mut response = error_response(StatusCode::REQUEST_TIMEOUT, err);
            response
                .headers_mut()
                .insert(header::CONNECTION, header::HeaderValue::from_static("close"));
            return response;
        }
    };
    match api.handle_body_bytes(&bytes).await {
        Some(v) => ([(header::CONTENT_TYPE, "application/json")], v).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

fn error_response(status: StatusCode, err: RpcError) -> Response {
    let body = json!(RpcResponse::err(serde_json::Value::Null, err)).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Serves `node` over HTTP on `addr` (port 0 picks a free port) until the handle drops.
///
/// The connection limits come from the node's [`crate::NodeConfig`]: at most
/// `max_connections` at once (more are answered 503 and closed), `header_read_timeout`
/// for each request head (and so for idle keep-alive connections) and
/// `body_read_timeout` for each body. HTTP/1.1 only: an HTTP/2 connection would have no
/// header timeout.
pub async fn serve(node: Arc<Node>, addr: SocketAddr) -> Result<ServerHandle> {
    serve_with(node, addr, |_| Router::new()).await
}

/// Serves `node` as [`serve`] does, with the routes `extra` builds (once the bound address
/// is known) beside JSON-RPC on the same port and under the same connection limits: how
/// `alara up` serves the platform's API and dashboard, so a page reads the chain from its
/// own origin. `extra` must not route `POST /`. Handlers find the peer's address as an
/// `axum::extract::ConnectInfo<SocketAddr>` extension.
pub async fn serve_with(
    node: Arc<Node>,
    addr: SocketAddr,
    extra: impl FnOnce(SocketAddr) -> Router,
) -> Result<ServerHandle> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Io(format!("listening on {addr}").into(), e))?;
    let addr = listener.local_addr().map_err(|e| Error::Io("listener".into(), e))?;
    let limits = Limits::of(node.config());
    let api = Arc::new(EthApi::new(node));
    let app = router(api.clone()).merge(extra(addr));
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, app, limits, stopped));
    Ok(ServerHandle { addr, api, stop: Some(stop), task: Some(task) })
}

/// Longest wait for open connections to finish their requests once the server stops.
const DRAIN: Duration = Duration::from_secs(5);
/// Pause after an accept error such as EMFILE, before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Accept errors are logged at most this often.
const ERROR_LOG_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy)]
struct Limits {
    max_connections: usize,
    header_read_timeout: Duration,
}

impl Limits {
    fn of(config: &crate::NodeConfig) -> Self {
        Self {
            // `acquire_many` takes a u32 when the server waits for every connection to end.
            max_connections: config.max_connections.clamp(1, u32::MAX as usize >> 3),
            header_read_timeout: config.header_read_timeout,
        }
    }
}

/// The answer to a connection over the limit, written without waiting before it is closed.
fn too_many_connections(max: usize) -> Vec<u8> {
    let err = RpcError::new(
        -32005,
        format!("too many connections: the node serves at most {max} at once (raise the limit with --max-connections)"),
    );
    let body = json!(RpcResponse::err(serde_json::Value::Null, err)).to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Accepts connections until `stopped`, each served on its own task; survives every accept
/// error (EMFILE included) by logging it and backing off. Returns once every connection
/// has ended.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let refusal = too_many_connections(limits.max_connections);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
    let mut errors = ErrorLog::default();
    loop {
        let accepted = tokio::select! {
            _ = until_stopped(&mut stopped) => break,
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // A connection that failed before it was accepted is that client's problem;
                // anything else (out of file descriptors, memory) is the node's: wait.
                if !matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::Interrupted
                ) {
                    errors.note(&e);
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            let _ = stream.try_write(&refusal);
            tracing::debug!(max = limits.max_connections, "connection refused: at the limit");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = tower::Layer::layer(&axum::Extension(ConnectInfo(peer)), app.clone());
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "connection closed");
                    }
                }
                _ = until_stopped(&mut stopped) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(DRAIN, conn.as_mut()).await;
                }
            }
        });
    }
    drop(listener);
    // Every connection task holds a permit: when all are back, none is left.
    let _ = permits.acquire_many(limits.max_connections as u32).await;
}

/// Returns once the server is asked to stop (or its handle is gone).
async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// Logs accept errors without flooding the log: the first at once, then a count every
/// [`ERROR_LOG_EVERY`].
#[derive(Default)]
struct ErrorLog {
    last: Option<Instant>,
    suppressed: u64,
}

impl ErrorLog {
    fn note(&mut self, e: &std::io::Error) {
        match self.last {
            Some(t) if t.elapsed() < ERROR_LOG_EVERY => self.suppressed += 1,
            _ => {
                tracing::warn!(
                    error = %e,
                    suppressed = self.suppressed,
                    "accept failed; retrying (too many open files? raise `ulimit -n` or lower --max-connections)"
                );
                self.last = Some(Instant::now());
                self.suppressed = 0;
            }
        }
    }
}
