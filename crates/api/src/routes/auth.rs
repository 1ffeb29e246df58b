//! `/api/v1/auth`: Sign-In with Ethereum (nonce → signed message → session), the caller's
//! identity, and API key management (admin).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::keys::{KeyError, KeyRecord};
use crate::auth::siwe::{self, SiweMessage};
use crate::auth::{now_ms, Principal, Role, Session, SESSION_MAX_MS};
use crate::error::{ApiError, ApiResult};
use crate::routes::info::chain_info;
use crate::state::{blocking, ApiState};
use crate::Json;

/// The routes.
pub fn router() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::new()
        .routes(routes!(nonce))
        .routes(routes!(siwe_verify))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

/// A nonce to sign in with, and the fields the message must carry.
#[derive(Serialize, ToSchema)]
pub struct Nonce {
    /// Put it in the message's `Nonce:` line; valid for 10 minutes, once.
    pub nonce: String,
    /// The `domain` the message must name.
    pub domain: String,
    /// The `Chain ID` the message must name.
    pub chain_id: u64,
    /// A suggested `Issued At` (RFC 3339, now).
    pub issued_at: String,
}

/// Issues a one-time nonce for a SIWE message.
#[utoipa::path(get, path = "/auth/siwe/nonce", tag = "auth", responses((status = 200, body = Nonce)))]
async fn nonce(State(s): State<Arc<ApiState>>) -> ApiResult<Json<Nonce>> {
    let chain_id = chain_info(&s).await?.chain_id;
    let now = now_ms();
    Ok(Json(Nonce {
        nonce: s.sessions.issue_nonce(now),
        domain: s.config.siwe_domain.clone(),
        chain_id,
        issued_at: siwe::format_rfc3339(now),
    }))
}

/// A signed sign-in.
#[derive(Deserialize, ToSchema)]
pub struct SignIn {
    /// The EIP-4361 message, exactly as signed.
    pub message: String,
    /// Its EIP-191 `personal_sign` signature (0x + 65 bytes hex).
    pub signature: String,
}

/// A session.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// The signed-in account.
    pub address: String,
    /// Its role.
    pub role: Role,
    /// When the session ends (Unix ms).
    pub expires_ms: u64,
}

/// Checks a signed SIWE message (domain, chain, a nonce issued here and not used before,
/// validity window, signature) and starts a session of at most 24 hours.
#[utoipa::path(post, path = "/auth/siwe/verify", tag = "auth", request_body = SignIn,
    responses((status = 200, body = SessionView), (status = 401, body = crate::error::ErrorBody)))]
async fn siwe_verify(
    State(s): State<Arc<ApiState>>,
    body: Result<axum::Json<SignIn>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<SessionView>> {
    let axum::Json(sign_in) = body?;
    let msg = SiweMessage::parse(&sign_in.message)
        .map_err(|e| ApiError::bad_request(format!("not an EIP-4361 message: {e}")))?;
    let now = now_ms();
    // The nonce is spent by this attempt whatever its outcome: a captured message cannot
    // be replayed, and a failed attempt must fetch a new nonce.
    if !s.sessions.take_nonce(&msg.nonce, now) {
        return Err(ApiError::unauthorized(
            "the message's nonce was not issued by this server, has expired, or was used already",
        )
        .hint("GET /api/v1/auth/siwe/nonce and sign a new message"));
    }
    let chain_id = chain_info(&s).await?.chain_id;
    let expect =
        siwe::Expect { domain: &s.config.siwe_domain, chain_id, now_ms: now, skew_ms: 60_000 };
    siwe::check(&msg, &sign_in.message, &sign_in.signature, &expect)
        .map_err(|e| ApiError::unauthorized(e).hint("sign a new message for this server"))?;
    let role =
        s.config.wallet_roles.get(&msg.address).copied().unwrap_or(s.config.siwe_default_role);
    let expires_ms = msg.expiration_ms.unwrap_or(u64::MAX).min(now + SESSION_MAX_MS);
    let token = s.sessions.start(Session { address: msg.address, role, expires_ms }, now);
    tracing::info!(address = %msg.address, %role, "SIWE sign-in");
    Ok(Json(SessionView { token, address: msg.address.to_string(), role, expires_ms }))
}

/// Ends the caller's SIWE session.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
async fn logout(
    State(s): State<Arc<ApiState>>,
    headers: HeaderMap,
) -> ApiResult<axum::http::StatusCode> {
    let token = crate::server::bearer(&headers).ok_or_else(|| {
        ApiError::unauthorized("no session token").hint("send `Authorization: Bearer <token>`")
    })?;
    if s.sessions.end(token) {
        Ok(axum::http::StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no live session with this token"))
    }
}

/// The caller as the server sees it (identity and role).
#[utoipa::path(get, path = "/auth/me", tag = "auth", responses((status = 200, body = Principal)))]
async fn me(p: Principal) -> Json<Principal> {
    Json(p)
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Unknown(_) => ApiError::not_found(e.to_string()),
            KeyError::Invalid(_) => ApiError::bad_request(e.to_string()),
            KeyError::Io { .. } | KeyError::Corrupt { .. } => ApiError::internal(e),
        }
    }
}

/// API keys (no secrets).
#[utoipa::path(get, path = "/auth/keys", tag = "auth",
    responses((status = 200, body = Vec<KeyRecord>), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
async fn list_keys(
    State(s): State<Arc<ApiState>>,
    p: Principal,
) -> ApiResult<Json<Vec<KeyRecord>>> {
    p.require(Role::Admin)?;
    let s2 = s.clone();
    blocking(move || Ok(Json(s2.keys.keys()?))).await
}

/// A key to create.
#[derive(Deserialize, ToSchema)]
pub struct NewKey {
    /// What it is for (1 to 64 characters).
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Days until it expires (default: never).
    pub valid_days: Option<u32>,
}

/// A created key: the only time its secret is shown.
#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    /// The key (`alara_k_<id>_<secret>`): store it now, it is not kept.
    pub key: String,
    /// Its record.
    pub record: KeyRecord,
}

/// Creates an API key.
#[utoipa::path(post, path = "/auth/keys", tag = "auth", request_body = NewKey,
    responses((status = 200, body = CreatedKey), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
async fn create_key(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    body: Result<axum::Json<NewKey>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<CreatedKey>> {
    p.require(Role::Admin)?;
    let axum::Json(new) = body?;
    let s2 = s.clone();
    blocking(move || {
        let valid = new.valid_days.map(|d| Duration::from_secs(u64::from(d) * 86_400));
        let (key, record) = s2.keys.create(&new.name, new.role, valid)?;
        tracing::info!(id = %record.id, name = %record.name, role = %record.role, "API key created");
        Ok(Json(CreatedKey { key, record }))
    })
    .await
}

/// Revokes an API key.
#[utoipa::path(delete, path = "/auth/keys/{id}", tag = "auth",
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 200, body = KeyRecord), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
async fn revoke_key(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyRecord>> {
    p.require(Role::Admin)?;
    let s2 = s.clone();
    blocking(move || {
        let r = s2.keys.revoke(&id)?;
        tracing::info!(id = %r.id, "API key revoked");
        Ok(Json(r))
    })
    .await
}
