//! Errors of the chain crate and how each maps onto a JSON-RPC error.

use std::path::PathBuf;

use alloy::primitives::Bytes;

/// Everything that can go wrong in the node, its storage or its clients.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database failed.
    #[error("chain database: {0}")]
    Db(#[from] redb::Error),
    /// A file or directory could not be used.
    #[error("{0}: {1}")]
    Io(PathBuf, #[source] std::io::Error),
    /// Stored data does not decode: the data directory is damaged or from another version.
    #[error("chain database is corrupt: {0}")]
    Corrupt(String),
    /// Another process holds the database.
    #[error(
        "the chain database {0} is in use by another process (an `alara up` or `alara chain \
         node` on this data directory?): use that node with --rpc-url, or stop it"
    )]
    AlreadyOpen(PathBuf),
    /// A transaction was refused before or during execution (geth's wording where one exists).
    #[error("{0}")]
    InvalidTx(String),
    /// Execution reverted; `data` is the revert data.
    #[error("execution reverted{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Revert {
        /// ABI-encoded revert data.
        data: Bytes,
        /// Decoded `Error(string)` / `Panic(uint256)` reason, if any.
        reason: Option<String>,
    },
    /// Execution halted (out of gas, invalid opcode, …).
    #[error("execution halted: {0}")]
    Halt(String),
    /// A request parameter is wrong.
    #[error("{0}")]
    InvalidParams(String),
    /// The request is well-formed but the node cannot serve it.
    #[error("{0}")]
    Unsupported(String),
    /// A signing or key-store operation failed.
    #[error("signer: {0}")]
    Signer(String),
    /// Talking to a remote node failed.
    #[error("RPC {url}: {message}")]
    Remote {
        /// Endpoint.
        url: String,
        /// What happened.
        message: String,
    },
    /// The node is shutting down.
    #[error("the node is shutting down")]
    Stopped,
}

impl Error {
    /// The JSON-RPC error code for this error.
    pub fn rpc_code(&self) -> i64 {
        match self {
            Error::Revert { .. } => 3,
            Error::InvalidParams(_) => -32602,
            Error::Unsupported(_) => -32601,
            Error::InvalidTx(_) | Error::Halt(_) | Error::Signer(_) => -32000,
            _ => -32603,
        }
    }

    /// Data to attach to the JSON-RPC error, if any (revert data).
    pub fn rpc_data(&self) -> Option<Bytes> {
        match self {
            Error::Revert { data, .. } => Some(data.clone()),
            _ => None,
        }
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
