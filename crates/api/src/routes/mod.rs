//! The routes under `/api/v1`, one module per capability; each handler carries its
//! OpenAPI description (`#[utoipa::path]`), collected by `utoipa-axum`, so a route cannot
//! exist undocumented.

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use crate::state::ApiState;

pub mod audit;
pub mod auth;
pub mod claims;
pub mod compute;
pub mod fl;
pub mod info;
pub mod insurance;
pub mod market;
pub mod models;
pub mod nft;
pub mod oracle;
pub mod store;

/// Every route under `/api/v1`.
pub fn router() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::new()
        .merge(info::router())
        .merge(auth::router())
        .nest("/audit", audit::router())
        .merge(store::router())
        .merge(market::router())
        .merge(fl::router())
        .merge(oracle::router())
        .merge(claims::router())
        .merge(insurance::router())
        .merge(models::router())
        .merge(nft::router())
        .merge(compute::router())
}
