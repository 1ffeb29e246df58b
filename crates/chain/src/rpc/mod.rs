//! The Ethereum JSON-RPC API of the embedded node.
//!
//! [`EthApi::handle_body`] takes the raw HTTP body (a request or a batch) and returns the
//! response body; transports stay thin. Objects are built from alloy's RPC types, so blocks,
//! transactions, receipts and logs serialize exactly as clients expect.

mod api;
mod convert;
mod filter;
mod limits;
mod otterscan;
pub mod request;

use serde::Serialize;
use serde_json::Value;

pub use api::EthApi;
pub use request::Request;

use crate::Error;

pub use limits::{LIMIT_EXCEEDED, RESPONSE_TOO_LARGE};

/// Most requests in one batch by default ([`crate::NodeConfig::max_batch_requests`]).
pub const MAX_BATCH: usize = crate::node::MAX_BATCH_REQUESTS;

/// A JSON-RPC error object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RpcError {
    /// Error code (JSON-RPC 2.0 and Ethereum conventions).
    pub code: i64,
    /// Human-readable message, in the wording tools match on.
    pub message: String,
    /// Extra data (revert data for code 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    /// An error with `code` and `message`.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), data: None }
    }

    /// `-32602` invalid params.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(-32602, message)
    }

    /// `-32600` invalid request.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(-32600, message)
    }

    /// `-32700` parse error.
    pub fn parse_error(message: impl Into<String>) -> Self {
        Self::new(-32700, message)
    }
}

impl From<Error> for RpcError {
    fn from(e: Error) -> Self {
        RpcError {
            code: e.rpc_code(),
            message: e.to_string(),
            data: e.rpc_data().map(|d| Value::String(d.to_string())),
        }
    }
}

/// One response object.
#[derive(Debug, Serialize)]
pub struct Response {
    jsonrpc: &'static str,
    id: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<RpcError>,
}

impl Response {
    /// A success response.
    pub fn ok(id: Value, result: Value) -> Self {
        Self { jsonrpc: "2.0", id, result: Some(result), error: None }
    }

    /// An error response.
    pub fn err(id: Value, error: RpcError) -> Self {
        Self { jsonrpc: "2.0", id, result: None, error: Some(error) }
    }
}
