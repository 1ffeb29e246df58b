//! The dashboard and the API docs page, embedded at build time (see `build.rs`): `GET /`
//! is the dashboard, `GET /assets/<path>` its files, `GET /docs` the interactive API docs.
//! Each file carries a strong ETag (SHA-256 of its bytes), so a reload costs a 304.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

struct File {
    bytes: &'static [u8],
    etag: HeaderValue,
    content_type: &'static str,
}

fn table(files: &'static [(&'static str, &'static [u8])]) -> HashMap<&'static str, File> {
    files
        .iter()
        .map(|(name, bytes)| {
            let etag = format!("\"{}\"", hex::encode(&crate::auth::sha256(bytes)[..16]));
            let etag = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\""));
            (*name, File { bytes, etag, content_type: content_type(name) })
        })
        .collect()
}

static ASSETS: LazyLock<HashMap<&'static str, File>> = LazyLock::new(|| table(embedded::ASSETS));
static APIDOCS: LazyLock<HashMap<&'static str, File>> = LazyLock::new(|| table(embedded::APIDOCS));

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn serve(files: &HashMap<&'static str, File>, name: &str, headers: &HeaderMap) -> Response {
    let Some(f) = files.get(name) else {
        if name == "index.html" {
            // A build without the dashboard's files still says where things are.
            return (
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<!doctype html><title>Alara</title><p>This build has no dashboard files. \
                 The API is at <a href=\"/docs\">/docs</a> and <code>/openapi.json</code>.",
            )
                .into_response();
        }
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    if headers.get(header::IF_NONE_MATCH) == Some(&f.etag) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, f.etag.clone())]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(f.content_type)),
            (header::ETAG, f.etag.clone()),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        f.bytes,
    )
        .into_response()
}

/// Names of the embedded dashboard files.
pub fn dashboard_files() -> Vec<&'static str> {
    let mut v: Vec<_> = ASSETS.keys().copied().collect();
    v.sort_unstable();
    v
}

/// The routes of the dashboard and the docs page.
pub fn router() -> Router {
    Router::new()
        .route("/", get(|h: HeaderMap| async move { serve(&ASSETS, "index.html", &h) }))
        .route(
            "/assets/{*path}",
            get(|Path(p): Path<String>, h: HeaderMap| async move { serve(&ASSETS, &p, &h) }),
        )
        .route("/docs", get(|h: HeaderMap| async move { serve(&APIDOCS, "index.html", &h) }))
        .route(
            "/docs/{*path}",
            get(|Path(p): Path<String>, h: HeaderMap| async move { serve(&APIDOCS, &p, &h) }),
        )
}
