//! Errors of the verifiable-compute crate.

/// What can go wrong building, running, committing to or disputing a computation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor or a layer's params do not have the shapes the operator needs.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A model cannot be converted to the fixed-point runtime.
    #[error("model {origin}: {detail}")]
    Model {
        /// Where the model came from.
        origin: String,
        /// What is wrong with it, and what is accepted.
        detail: String,
    },
    /// An input is outside what is accepted.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// The input.
        what: &'static str,
        /// What is wrong, and what is allowed.
        detail: String,
    },
    /// Training failed.
    #[error(transparent)]
    Fl(#[from] alara_fl::Error),
    /// A dataset could not be read.
    #[error(transparent)]
    Ml(#[from] alara_ml::Error),
    /// A contract call failed or reverted.
    #[error(transparent)]
    Contract(#[from] alara_contracts::call::CallError),
    /// Deploying or locating a contract failed.
    #[error(transparent)]
    Contracts(#[from] alara_contracts::Error),
    /// The content store failed.
    #[error(transparent)]
    Store(#[from] alara_store::Error),
    /// An HTTP peer (a worker or a validator) failed or answered something unusable.
    #[error("{peer}: {detail}")]
    Peer {
        /// The peer's URL.
        peer: String,
        /// What went wrong.
        detail: String,
    },
    /// Waited too long for something on the chain (the other party of a dispute to move).
    #[error("timed out after {seconds} s waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        seconds: u64,
    },
}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> Error {
    Error::Invalid { what, detail: detail.into() }
}
