//! Errors of this crate (deployment and the address book).

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A contract call or deployment failed.
    #[error("contract call failed: {0}")]
    Contract(#[from] alloy::contract::Error),
    /// A JSON-RPC call failed.
    #[error("RPC call failed: {0}")]
    Rpc(#[from] alloy::transports::TransportError),
    /// A transaction was sent but its receipt could not be obtained.
    #[error("waiting for the receipt failed: {0}")]
    PendingTx(#[from] alloy::providers::PendingTransactionError),
    /// Reading or writing the address book failed.
    #[error("address book {path}: {source}")]
    AddressBook {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The address book file is not valid JSON of the expected shape.
    #[error("address book {path} is corrupt ({source}); delete it to redeploy")]
    AddressBookCorrupt {
        /// The file.
        path: std::path::PathBuf,
        /// Parse error.
        source: serde_json::Error,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
