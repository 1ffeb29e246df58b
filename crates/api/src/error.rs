//! One error type for every handler, answered as `{"error": {"code", "message", "hint"}}`
//! with a stable machine-readable `code` (documented in the OpenAPI as `ErrorBody`).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// An API error: the HTTP status, a stable code, a message saying what was wrong and a
/// hint saying what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code (`not_found`, `bad_request`, `unauthorized`, …).
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// Seconds to wait before retrying (`Retry-After`), for `rate_limited`.
    pub retry_after: Option<u64>,
}

/// The JSON body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The error's fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, one of: `bad_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `conflict`, `payload_too_large`, `rate_limited`, `unavailable`, `chain`, `internal`.
    pub code: String,
    /// What was wrong.
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Result of a handler.
pub type ApiResult<T> = std::result::Result<T, ApiError>;

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), hint: None, retry_after: None }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401: no or unknown credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: credentials without the role the route needs.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: nothing there.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409: the state does not allow it yet (e.g. no checkpoint covers the entry).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 413: the body is larger than the route accepts.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than this route's limit of {limit} bytes"),
        )
        .hint("send less, or split the request")
    }

    /// 429: the caller's rate limit is used up.
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests for this key",
        )
        .hint(format!("retry after {retry_after} s, or ask the admin for a higher limit"));
        e.retry_after = Some(retry_after);
        e
    }

    /// 503: a part of the platform this route needs is not available in this server.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 502: the chain's JSON-RPC failed.
    pub fn chain(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "chain", message)
    }

    /// 500: a fault of the server, logged; the caller gets no internals.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        tracing::error!(error = %message, "internal error answering an API request");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
            .hint("the server log has the details")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail { code: self.code.into(), message: self.message, hint: self.hint },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert("retry-after", HeaderValue::from(secs));
        }
        response
    }
}

impl From<alara_audit::Error> for ApiError {
    fn from(e: alara_audit::Error) -> Self {
        use alara_audit::Error as E;
        match e {
            E::OutOfRange { .. } => Self::not_found(e.to_string()),
            E::Chain(_) => Self::chain(e.to_string()),
            E::Io { .. } | E::Corrupt { .. } | E::Vault(_) | E::Closed(_) => Self::internal(e),
            other => Self::bad_request(other.to_string()),
        }
    }
}

impl From<alara_store::Error> for ApiError {
    fn from(e: alara_store::Error) -> Self {
        use alara_store::Error as E;
        match e {
            E::BlockNotFound(_) => Self::not_found(e.to_string()),
            E::Io { .. } | E::CorruptBlock { .. } | E::Kubo { .. } => Self::internal(e),
            other => Self::bad_request(other.to_string()),
        }
    }
}

/// JSON bodies that do not parse answer `bad_request` with serde's message, not axum's
/// plain-text rejection.
impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        use axum::extract::rejection::JsonRejection as R;
        match r {
            R::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", b.body_text())
                    .hint("send less, or split the request")
            }
            R::MissingJsonContentType(_) => Self::bad_request(r.body_text())
                .hint("send the body with `Content-Type: application/json`"),
            other => Self::bad_request(other.body_text()),
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        Self::bad_request(r.body_text()).hint("see /openapi.json for this route's parameters")
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        Self::bad_request(r.body_text())
    }
}
