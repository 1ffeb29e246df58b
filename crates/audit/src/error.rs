//! The crate's error type.

use std::path::PathBuf;

/// Errors of the audit trail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bytes or text that do not parse as what they claim to be.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being parsed.
        what: &'static str,
        /// What was expected and what was found.
        detail: String,
    },
    /// A proof that parses but does not prove what it claims.
    #[error("{what} does not verify: {detail}")]
    ProofInvalid {
        /// Which proof.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// A signature that does not verify, or is made by another key.
    #[error("signature check failed: {0}")]
    Signature(String),
    /// An index or size beyond what exists.
    #[error("{what} {requested} is out of range (have {available})")]
    OutOfRange {
        /// What was asked for.
        what: &'static str,
        /// The value asked for.
        requested: u64,
        /// What exists.
        available: u64,
    },
    /// Filesystem trouble, with the file it concerns.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The log's files disagree with each other beyond what crash recovery repairs.
    #[error("audit log at {path} is corrupt: {detail}")]
    Corrupt {
        /// Log directory.
        path: PathBuf,
        /// What disagrees.
        detail: String,
    },
    /// The key file could not be decrypted or created.
    #[error("log key file {path}: {detail}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What went wrong and what to do.
        detail: String,
    },
    /// Another open handle (in this process or another) holds the log: two writers would
    /// interleave their appends and their derived files, so the second open is refused.
    #[error("audit log at {path} is in use by another process (a running `alara up`, `alara serve` or another command on the same data dir): stop it, or read the trail through its HTTP API")]
    Busy {
        /// Log directory.
        path: PathBuf,
    },
    /// Opened without its key: nothing can be appended or signed.
    #[error("this audit log was opened read-only (without its key): it cannot append or sign")]
    ReadOnly,
    /// The log is shutting down or its committer failed; no more appends.
    #[error("audit log is closed: {0}")]
    Closed(String),
    /// An entry too large to append.
    #[error("entry of {size} bytes exceeds the limit of {limit} bytes")]
    EntryTooLarge {
        /// Entry size.
        size: usize,
        /// Configured limit.
        limit: usize,
    },
    /// The off-log vault (salts and payloads) failed.
    #[error("vault: {0}")]
    Vault(String),
    /// A chain call failed.
    #[error("chain: {0}")]
    Chain(String),
    /// An AuditAnchor call failed: refused with one of its named errors (decoded, e.g.
    /// `KeyTaken { .. }`), not sent, or mined with status 0.
    #[error("AuditAnchor.{0}")]
    Contract(#[from] alara_contracts::call::CallError),
    /// A receipt's anchor is no longer the log's latest, and no consistency proof from it
    /// to the current anchor could be made (the log itself was not at hand).
    #[error("the receipt's anchor (size {anchored}) is superseded by the log's current anchor (size {current}); it verifies only with a consistency proof between the two: verify where the log is (its data dir), or refresh the receipt with `alara audit receipt --upgrade`")]
    Superseded {
        /// Size of the receipt's anchor.
        anchored: u64,
        /// Size of the current anchor.
        current: u64,
    },
    /// JSON (de)serialisation failed.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Attaches a path to an I/O error.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
