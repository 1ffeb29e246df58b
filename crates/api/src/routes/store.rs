//! `/api/v1/store`: the content store — add a file (the same CID as `ipfs add`), its size,
//! its bytes, and pins.

use std::sync::Arc;

use alara_store::{parse_cid, AddOptions, AddResult};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::{blocking, ApiState};
use crate::Json;

/// The routes.
pub fn router() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::new()
        .routes(routes!(add))
        .routes(routes!(stat))
        .routes(routes!(cat))
        .routes(routes!(pins))
        .routes(routes!(pin))
}

/// What an add stored.
#[derive(Serialize, ToSchema)]
pub struct Added {
    /// Root CID (CIDv0, as `ipfs add` with Kubo's defaults).
    pub cid: String,
    /// File size.
    pub size: u64,
    /// Bytes of all blocks.
    pub dag_size: u64,
    /// Blocks written.
    pub blocks: u64,
}

impl From<AddResult> for Added {
    fn from(r: AddResult) -> Self {
        Self { cid: r.cid.to_string(), size: r.size, dag_size: r.dag_size, blocks: r.blocks }
    }
}

/// Adds the request body as one file (streamed; at most the server's upload limit,
/// 256 MiB by default) and pins it. Answers with its CID, the same as `ipfs add` gives. A
/// failed upload leaves no pin (its blocks, if any, are garbage for `alara store gc`).
#[utoipa::path(post, path = "/store", tag = "store",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = Added), (status = 413, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
async fn add(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Added>> {
    p.require(Role::Writer)?;
    let store = s.store()?.clone();
    let limit = s.config.max_upload;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    let reader = crate::stream::reader_from_body(body, limit);
    let too_large = reader.too_large();
    let result = blocking(move || Ok(store.add_reader(reader, &AddOptions::default()))).await?;
    match result {
        Ok(r) => Ok(Json(r.into())),
        Err(_) if too_large.load(std::sync::atomic::Ordering::Relaxed) => {
            Err(ApiError::payload_too_large(limit))
        }
        Err(e) => Err(e.into()),
    }
}

/// A stored file.
#[derive(Serialize, ToSchema)]
pub struct Stat {
    /// Its CID.
    pub cid: String,
    /// File size.
    pub size: u64,
    /// Whether it is pinned.
    pub pinned: bool,
}

fn cid_of(s: &str) -> ApiResult<alara_store::Cid> {
    parse_cid(s).map_err(|e| ApiError::bad_request(e.to_string()).hint("a CIDv0 (Qm…) or CIDv1"))
}

/// The size of a stored file and whether it is pinned.
#[utoipa::path(get, path = "/store/{cid}", tag = "store",
    params(("cid" = String, Path, description = "CID")),
    responses((status = 200, body = Stat), (status = 404, body = crate::error::ErrorBody)))]
async fn stat(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    Path(cid): Path<String>,
) -> ApiResult<Json<Stat>> {
    p.require(Role::Reader)?;
    let cid = cid_of(&cid)?;
    let store = s.store()?.clone();
    blocking(move || {
        let size = store.cat(&cid)?.size();
        let pinned = store.pins()?.contains(&cid);
        Ok(Json(Stat { cid: cid.to_string(), size, pinned }))
    })
    .await
}

/// The bytes of a stored file (streamed).
#[utoipa::path(get, path = "/store/{cid}/content", tag = "store",
    params(("cid" = String, Path, description = "CID")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, body = crate::error::ErrorBody)))]
async fn cat(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    Path(cid): Path<String>,
) -> ApiResult<Response> {
    p.require(Role::Reader)?;
    let cid = cid_of(&cid)?;
    let store = s.store()?.clone();
    // Resolve the root first so a missing file is a 404, not a truncated 200.
    let size = {
        let (store, cid) = (store.clone(), cid);
        blocking(move || Ok(store.cat(&cid)?.size())).await?
    };
    let body = crate::stream::body_from_writer("store cat", move |out| {
        store.cat_to(&cid, out).map(|_| ()).map_err(|e| e.to_string())
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
        ],
        body,
    )
        .into_response())
}

/// Pinned roots.
#[utoipa::path(get, path = "/store/pins", tag = "store",
    responses((status = 200, body = Vec<String>)))]
async fn pins(State(s): State<Arc<ApiState>>, p: Principal) -> ApiResult<Json<Vec<String>>> {
    p.require(Role::Reader)?;
    let store = s.store()?.clone();
    blocking(move || Ok(Json(store.pins()?.iter().map(ToString::to_string).collect()))).await
}

/// Pins a stored root (all its blocks must be here).
#[utoipa::path(put, path = "/store/pins/{cid}", tag = "store",
    params(("cid" = String, Path, description = "CID")),
    responses((status = 200, body = Stat), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
async fn pin(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    Path(cid): Path<String>,
) -> ApiResult<Json<Stat>> {
    p.require(Role::Writer)?;
    let cid = cid_of(&cid)?;
    let store = s.store()?.clone();
    blocking(move || {
        store.verify(&cid)?;
        store.pin(&cid)?;
        let size = store.cat(&cid)?.size();
        Ok(Json(Stat { cid: cid.to_string(), size, pinned: true }))
    })
    .await
}
