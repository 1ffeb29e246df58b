//! alara-api: the platform's HTTP surface — a REST + JSON API with its OpenAPI 3.1
//! document, interactive docs, and the dashboard, all in one axum [`Router`](axum::Router).
//!
//! What this crate owns:
//! - the routes under `/api/v1` ([`routes`]), each documented by its handler;
//! - who may call them ([`auth`]): API keys and Sign-In with Ethereum (EIP-4361), roles
//!   reader < writer < admin, per-caller rate limits;
//! - errors as `{"error": {"code", "message", "hint"}}` ([`error`]);
//! - the embedded dashboard and docs page ([`assets`]).
//!
//! What it does not own: the chain (read over JSON-RPC, and served beside the API by
//! `alara-chain` on the same port), the audit trail, the store (opened by the caller and
//! handed over in [`ApiState`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! let mut config = alara_api::ApiConfig::new("/tmp/alara");
//! config.rpc_url = Some("http://127.0.0.1:8545".into());
//! let state = Arc::new(alara_api::ApiState::new(config).with_chain()?);
//! let app = alara_api::router(state);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8580").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

pub mod assets;
pub mod auth;
#[cfg(feature = "bench")]
pub mod bench;
pub mod error;
pub mod routes;
pub mod server;
pub mod state;
pub mod stream;

pub use auth::Role;
pub use error::{ApiError, ApiResult};
pub use server::{openapi, router};
pub use state::{ApiConfig, ApiState};

/// JSON answers.
pub use axum::Json;
