//! The crate's error type.

use cid::Cid;

/// Everything that can go wrong in the store. Messages name the block, file or endpoint
/// involved and, where there is one, what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What the store was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A block's bytes do not hash to its CID: the block is corrupt.
    #[error("block {cid} is corrupt: its bytes hash to {actual}, not to the CID's digest; restore it (import a CAR or re-add the file) and run `alara store verify`")]
    CorruptBlock {
        /// The CID the block was stored or sent under.
        cid: Cid,
        /// Hex SHA-256 of the bytes found.
        actual: String,
    },

    /// A block that a DAG links to is not in the blockstore.
    #[error("block {0} is not in the store (import its CAR or add the file again)")]
    BlockNotFound(Cid),

    /// A CID uses a hash function other than SHA-256.
    #[error("CID {cid} uses multihash code {code:#x}; only sha2-256 (0x12) is supported")]
    UnsupportedHash {
        /// The CID.
        cid: Cid,
        /// Its multihash code.
        code: u64,
    },

    /// A CID uses a codec this store cannot read as a file.
    #[error("CID {cid} has codec {codec:#x}; files are dag-pb (0x70) or raw (0x55) blocks")]
    UnsupportedCodec {
        /// The CID.
        cid: Cid,
        /// Its codec.
        codec: u64,
    },

    /// A string or byte sequence is not a valid CID.
    #[error("invalid CID {input:?}: {reason}")]
    InvalidCid {
        /// What was given (truncated).
        input: String,
        /// Why it is invalid.
        reason: String,
    },

    /// A dag-pb node or UnixFS message could not be decoded.
    #[error("block {cid} is not valid {what}: {reason}")]
    InvalidNode {
        /// The block.
        cid: Cid,
        /// "dag-pb" or "UnixFS".
        what: &'static str,
        /// What was wrong.
        reason: String,
    },

    /// A DAG is not a UnixFS file (e.g. a directory or symlink).
    #[error("{cid} is a UnixFS {kind}, not a file; only files can be read")]
    NotAFile {
        /// The node.
        cid: Cid,
        /// Its UnixFS type.
        kind: String,
    },

    /// A file's DAG disagrees with itself (sizes, depth).
    #[error("DAG under {cid} is inconsistent: {reason}")]
    InconsistentDag {
        /// The node where it was found.
        cid: Cid,
        /// What was wrong.
        reason: String,
    },

    /// A CAR file is malformed.
    #[error("invalid CAR file at byte {offset}: {reason}")]
    InvalidCar {
        /// Offset in the CAR stream where the problem was found.
        offset: u64,
        /// What was expected and what was found.
        reason: String,
    },

    /// An input is larger than its limit (found while reading it, so the rest was not read).
    #[error("{what} is larger than the limit of {limit} bytes; it was not read further (is it the right file?)")]
    TooLarge {
        /// The input: a path or what was being received.
        what: String,
        /// The limit in bytes.
        limit: u64,
    },

    /// Options that cannot work together or are out of range.
    #[error("invalid options: {0}")]
    InvalidOptions(String),

    /// The Kubo HTTP RPC answered with an error or could not be reached.
    #[error("Kubo RPC {endpoint}: {message}")]
    Kubo {
        /// The endpoint, e.g. `/api/v0/block/get`.
        endpoint: String,
        /// The node's message or the transport error.
        message: String,
    },

    /// A key or recipient string could not be parsed.
    #[error("invalid {what}: {reason}")]
    InvalidKey {
        /// "recipient" or "identity".
        what: &'static str,
        /// Why (never includes the key itself).
        reason: String,
    },

    /// Encryption failed.
    #[error("encryption failed: {0}")]
    Encrypt(String),

    /// Decryption failed: wrong key, tampered or truncated ciphertext.
    #[error("decryption failed: {0}")]
    Decrypt(String),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }
}

/// Adds context to `std::io::Result`.
pub(crate) trait IoContext<T> {
    /// Maps the error to [`Error::Io`] with the context computed lazily.
    fn ctx<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| Error::io(context(), e))
    }
}

/// Turns an I/O error back into the store's error when it carries one (errors raised
/// inside `Read`/`Write` adapters travel as `io::Error::other(Error)`), otherwise wraps it.
pub(crate) fn from_io(e: std::io::Error, context: &str) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        let kind = e.kind();
        return match e.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(err)) => *err,
            _ => Error::io(context, std::io::Error::from(kind)),
        };
    }
    Error::io(context, e)
}
