//! What a worker serves over HTTP: the documents it published (its models), so a
//! validator on another machine can fetch them — each is content-addressed, so the
//! validator checks the bytes against the CID the chain records — and its status.
//!
//! - `GET /v1/status` → `{"address": …, "models": [{"task": 1, "cid": "bafk…"}], "moves": […]}`
//! - `GET /v1/blocks/{cid}` → the document's bytes (`application/octet-stream`), 404 if
//!   this worker has not published it.

use std::sync::Arc;

use alara_store::{Blockstore, Store};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::artifact;
use crate::party::Move;

/// What the worker's HTTP endpoint shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    /// The worker's address.
    pub address: String,
    /// (task, model CID) of every model it published.
    pub models: Vec<(u64, String)>,
    /// Its moves so far, oldest first (at most the last 200).
    pub moves: Vec<Move>,
}

/// Shared between the worker's loop and its HTTP endpoint.
pub struct Shared<B: Blockstore> {
    /// The worker's store.
    pub store: Store<B>,
    /// Its status, updated by the loop.
    pub status: parking_lot::Mutex<Status>,
}

/// The worker's router.
pub fn router<B: Blockstore + Send + Sync + 'static>(shared: Arc<Shared<B>>) -> Router {
    Router::new()
        .route("/v1/status", get(status::<B>))
        .route("/v1/blocks/{cid}", get(block::<B>))
        .with_state(shared)
}

async fn status<B: Blockstore + Send + Sync + 'static>(
    State(s): State<Arc<Shared<B>>>,
) -> Json<Status> {
    Json(s.status.lock().clone())
}

async fn block<B: Blockstore + Send + Sync + 'static>(
    State(s): State<Arc<Shared<B>>>,
    Path(cid): Path<String>,
) -> Response {
    let published = s.status.lock().models.iter().any(|(_, c)| *c == cid);
    if !published {
        return (StatusCode::NOT_FOUND, format!("this worker has not published {cid}\n"))
            .into_response();
    }
    let st = s.clone();
    match tokio::task::spawn_blocking(move || artifact::get(&st.store, &cid)).await {
        Ok(Ok(bytes)) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
        }
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}
