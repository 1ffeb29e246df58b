//! The whole HTTP surface as one axum [`Router`]: `/api/v1/*` (behind the auth, rate-limit
//! and body-size layers), `/openapi.json`, the interactive docs at `/docs`, and the
//! dashboard at `/`. The chain's node serves it on the same port as JSON-RPC
//! (`POST /`), so the dashboard reads the chain from its own origin.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::{now_ms, Identity, Principal};
use crate::error::ApiError;
use crate::state::ApiState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Alara API",
        description = "The platform's REST + JSON API: chain info, the verifiable audit trail, \
            the content store, and authentication (API keys and Sign-In with Ethereum). \
            Errors are `{\"error\": {\"code\", \"message\", \"hint\"}}` with a stable code. \
            Send `Authorization: Bearer <API key or SIWE session token>`; a loopback server \
            lets anonymous callers read.",
        license(name = "Apache-2.0")
    ),
    tags(
        (name = "info", description = "The server, the chain and the address book"),
        (name = "audit", description = "The verifiable audit trail (RFC 9162 log, C2SP checkpoints, receipts)"),
        (name = "store", description = "Content-addressed store (IPFS-identical CIDs)"),
        (name = "market", description = "The data market from its audit entries: listings, sales, compute jobs, lineage"),
        (name = "fl", description = "Federated training: tasks, rounds, accuracy, scores and rewards"),
        (name = "oracle", description = "AI oracle feeds over the shipped real series: sources, dropped quotes and why, consensus"),
        (name = "claims", description = "AI-assessed insurance claims: the pinned claims model on held-out real claims, and a claim assessed with the decision ClaimsInsurance would take"),
        (name = "models", description = "The model marketplace: ModelRegistry models and versions with parents, shares and cards, and paid usage from the served audit logs"),
        (name = "insurance", description = "Parametric crop insurance: each season's rainfall index and a cover's payout by CropInsurance's rule"),
        (name = "nft", description = "Generative art: ProvenanceNFT tokens with their provenance, and a preview of the image a prompt and seed generate"),
        (name = "compute", description = "Verifiable compute: ComputeMarket tasks with their phase, submissions and accuracy, and the DisputeGame bisections that settle disputed claims, move by move with their gas"),
        (name = "auth", description = "API keys and Sign-In with Ethereum (EIP-4361)"),
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail))
)]
struct ApiDoc;

/// The OpenAPI 3.1 document of every route under `/api/v1`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    split().1
}

fn split() -> (Router<Arc<ApiState>>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", crate::routes::router())
        .split_for_parts();
    // OpenAPI requires a description on every response; a handler that documents only
    // the body gets its status's reason phrase.
    for item in doc.paths.paths.values_mut() {
        for op in
            [&mut item.get, &mut item.post, &mut item.put, &mut item.delete].into_iter().flatten()
        {
            for (status, response) in op.responses.responses.iter_mut() {
                if let utoipa::openapi::RefOr::T(r) = response {
                    if r.description.is_empty() {
                        r.description = status
                            .parse::<u16>()
                            .ok()
                            .and_then(|c| StatusCode::from_u16(c).ok())
                            .and_then(|c| c.canonical_reason())
                            .unwrap_or("Answer")
                            .to_string();
                    }
                }
            }
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("An API key (`alara_k_…`) or a SIWE session token (`alara_s_…`)"))
                .build(),
        ),
    );
    (router, doc)
}

/// The API, its docs and the dashboard, for `state`.
pub fn router(state: Arc<ApiState>) -> Router {
    let (api, doc) = split();
    let doc_json: Arc<str> = match serde_json::to_string_pretty(&doc) {
        Ok(s) => s.into(),
        Err(e) => format!("{{\"error\":\"{e}\"}}").into(),
    };
    let api = api
        .fallback(|| async {
            ApiError::not_found("no such API route").hint("GET /openapi.json lists every route")
        })
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(DefaultBodyLimit::max(state.config.max_body))
        .with_state(state.clone());
    let api = match cors(&state.config.cors_origins) {
        Some(c) => api.layer(c),
        None => api,
    };
    Router::new()
        .merge(api)
        .route(
            "/openapi.json",
            get(move || {
                let d = doc_json.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], d.to_string()) }
            }),
        )
        .merge(crate::assets::router())
        .layer(middleware::from_fn(security_headers))
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
    )
}

/// The token of `Authorization: Bearer <token>`.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim()).filter(|t| !t.is_empty())
}

/// Finds the caller (API key, SIWE session or anonymous), refuses unknown tokens, takes a
/// rate-limit token, and hands the [`Principal`] to the handler.
async fn authenticate(
    State(s): State<Arc<ApiState>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let principal = match bearer(request.headers()) {
        None => Principal { identity: Identity::Anonymous { ip }, role: s.config.anonymous_role },
        Some(token) if token.starts_with(crate::auth::keys::PREFIX) => {
            let key = s.keys.check(token).map_err(ApiError::internal)?.ok_or_else(|| {
                ApiError::unauthorized("unknown, revoked or expired API key")
                    .hint("ask an admin for a key (`alara api key create`)")
            })?;
            Principal {
                identity: Identity::ApiKey { id: key.id, name: key.name },
                role: Some(key.role),
            }
        }
        Some(token) => {
            let session = s.sessions.get(token, now_ms()).ok_or_else(|| {
                ApiError::unauthorized("unknown or expired session token")
                    .hint("sign in again: GET /api/v1/auth/siwe/nonce, then POST /api/v1/auth/siwe/verify")
            })?;
            Principal {
                identity: Identity::Wallet { address: session.address },
                role: Some(session.role),
            }
        }
    };
    s.limiter.take(&principal.bucket()).map_err(ApiError::rate_limited)?;
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
}

/// Headers every answer carries: no sniffing, no framing by other sites, and a
/// content-security policy that lets pages load only what this server serves.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.entry("content-security-policy").or_insert(HeaderValue::from_static(
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
         connect-src 'self'; frame-ancestors 'none'",
    ));
    response
}

/// A plain 404 for paths outside the API (the dashboard answers its own routes).
pub async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}
