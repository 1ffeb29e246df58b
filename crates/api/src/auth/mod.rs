//! Who is calling, and what they may do.
//!
//! Two ways in, one bearer header (`Authorization: Bearer <token>`):
//! - **API keys** for services: `alara_k_<id>_<secret>`, created by an admin (HTTP or
//!   `alara api key create`), stored as SHA-256 of the secret in `<data-dir>/api/keys.json`
//!   (mode 0600; the key itself is shown once and never written);
//! - **Sign-In with Ethereum** ([`siwe`]) for wallet users: a nonce from
//!   `/api/v1/auth/siwe/nonce`, a signed EIP-4361 message to `/api/v1/auth/siwe/verify`, and a
//!   session token (`alara_s_…`, in memory, at most 24 h).
//!
//! Roles are ordered: `reader` < `writer` < `admin`. A request without a token gets the
//! server's anonymous role (reader on a loopback server, none otherwise). Every principal
//! has a token-bucket rate limit ([`limit`]).

pub mod keys;
pub mod limit;
pub mod siwe;

use std::collections::HashMap;
use std::net::IpAddr;

use alloy::primitives::Address;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

/// What a caller may do; each role includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read everything the API serves.
    Reader,
    /// Also append audit entries, add to the store.
    Writer,
    /// Also manage API keys.
    Admin,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "reader" => Ok(Self::Reader),
            "writer" => Ok(Self::Writer),
            "admin" => Ok(Self::Admin),
            other => Err(format!("role {other:?} is not one of reader, writer, admin")),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Reader => "reader",
            Self::Writer => "writer",
            Self::Admin => "admin",
        })
    }
}

/// How the caller authenticated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Identity {
    /// No token.
    Anonymous {
        /// The peer address (the rate-limit bucket).
        #[schema(value_type = String)]
        ip: IpAddr,
    },
    /// An API key.
    ApiKey {
        /// The key's public id.
        id: String,
        /// Its name.
        name: String,
    },
    /// A SIWE session.
    Wallet {
        /// The signed-in account (EIP-55).
        #[schema(value_type = String)]
        #[serde(serialize_with = "checksummed")]
        address: Address,
    },
}

fn checksummed<S: serde::Serializer>(a: &Address, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&a.to_checksum(None))
}

/// The authenticated caller of a request (put in the request's extensions by
/// [`crate::server`]'s auth layer).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Principal {
    /// Who.
    pub identity: Identity,
    /// What they may do; `None` for an anonymous caller of a server that allows no
    /// anonymous reads.
    pub role: Option<Role>,
}

impl Principal {
    /// The rate-limit bucket of this caller.
    pub fn bucket(&self) -> String {
        match &self.identity {
            Identity::Anonymous { ip } => format!("ip:{ip}"),
            Identity::ApiKey { id, .. } => format!("key:{id}"),
            Identity::Wallet { address } => format!("wallet:{address}"),
        }
    }

    /// Refuses the request unless the caller has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        let anonymous = matches!(self.identity, Identity::Anonymous { .. });
        match self.role {
            Some(r) if r >= role => Ok(()),
            // Without credentials, credentials are what is missing (401, not 403).
            _ if anonymous => Err(ApiError::unauthorized(format!(
                "this route needs the {role} role; anonymous callers have {}",
                self.role.map_or("none".to_string(), |r| r.to_string())
            ))
            .hint("send `Authorization: Bearer <API key or SIWE session token>`")),
            Some(r) => Err(ApiError::forbidden(format!(
                "this route needs the {role} role; the caller has {r}"
            ))
            .hint("use an API key or a SIWE session with that role (ask an admin)")),
            None => Err(ApiError::unauthorized(format!("this route needs the {role} role"))
                .hint("send `Authorization: Bearer <API key or SIWE session token>`")),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::internal("route served without the auth layer"))
    }
}

/// A SIWE session.
#[derive(Clone, Debug)]
pub struct Session {
    /// The signed-in account.
    pub address: Address,
    /// Its role.
    pub role: Role,
    /// When it ends (Unix ms).
    pub expires_ms: u64,
}

/// Most live sessions and outstanding nonces kept in memory; past it the oldest expire.
pub const MAX_SESSIONS: usize = 10_000;

/// How long an issued nonce may be used.
pub const NONCE_TTL_MS: u64 = 10 * 60 * 1000;

/// Longest session a SIWE sign-in gets.
pub const SESSION_MAX_MS: u64 = 24 * 3600 * 1000;

/// Live SIWE sessions (by SHA-256 of the token) and nonces issued and not yet used.
#[derive(Default)]
pub struct Sessions {
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    nonces: Mutex<HashMap<String, u64>>,
}

impl Sessions {
    /// Issues a nonce valid for [`NONCE_TTL_MS`].
    pub fn issue_nonce(&self, now_ms: u64) -> String {
        let nonce = hex::encode(random::<16>());
        let mut n = self.nonces.lock();
        n.retain(|_, exp| *exp > now_ms);
        if n.len() >= MAX_SESSIONS {
            if let Some(oldest) = n.iter().min_by_key(|(_, e)| **e).map(|(k, _)| k.clone()) {
                n.remove(&oldest);
            }
        }
        n.insert(nonce.clone(), now_ms + NONCE_TTL_MS);
        nonce
    }

    /// Takes a nonce: true once for a nonce issued less than [`NONCE_TTL_MS`] ago, false
    /// for an unknown, expired or already used one (a replayed sign-in).
    pub fn take_nonce(&self, nonce: &str, now_ms: u64) -> bool {
        self.nonces.lock().remove(nonce).is_some_and(|exp| exp > now_ms)
    }

    /// Starts a session; returns its token.
    pub fn start(&self, session: Session, now_ms: u64) -> String {
        let token = format!("alara_s_{}", hex::encode(random::<32>()));
        let mut s = self.sessions.lock();
        s.retain(|_, v| v.expires_ms > now_ms);
        if s.len() >= MAX_SESSIONS {
            if let Some(oldest) = s.iter().min_by_key(|(_, v)| v.expires_ms).map(|(k, _)| *k) {
                s.remove(&oldest);
            }
        }
        s.insert(sha256(token.as_bytes()), session);
        token
    }

    /// The live session of `token`.
    pub fn get(&self, token: &str, now_ms: u64) -> Option<Session> {
        let key = sha256(token.as_bytes());
        let mut s = self.sessions.lock();
        match s.get(&key) {
            Some(v) if v.expires_ms > now_ms => Some(v.clone()),
            Some(_) => {
                s.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session of `token`; true if there was one.
    pub fn end(&self, token: &str) -> bool {
        self.sessions.lock().remove(&sha256(token.as_bytes())).is_some()
    }
}

/// SHA-256.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// `N` bytes from the OS's CSPRNG.
pub fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    b
}

/// Equality in time independent of where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Unix ms now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
