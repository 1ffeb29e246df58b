//! Errors of the generative-art crate.

/// What can go wrong generating, storing, minting, selling or verifying an artwork.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model file is not an ONNX model this crate can evaluate exactly.
    #[error("model {origin}: {detail} (the generator evaluates only the CPPN op set of models/cppn.onnx; rebuild it with scripts/make_cppn.py)")]
    Model {
        /// Where the model came from.
        origin: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The model's SHA-256 is not the one asked for.
    #[error("model hash mismatch: expected {expected}, found {found} (use the model file the token was minted with)")]
    ModelHash {
        /// The hash asked for (e.g. recorded on-chain).
        expected: String,
        /// The hash of the file at hand.
        found: String,
    },
    /// The fixed-point evaluation hit a value it cannot represent (a division by zero).
    #[error("generation: {0}")]
    Generation(String),
    /// tract could not run the model (only the cross-check uses tract).
    #[error("tract: {0}")]
    Tract(String),
    /// An input is outside what is accepted.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// The input.
        what: &'static str,
        /// What is wrong, and what is allowed.
        detail: String,
    },
    /// A stored document (metadata, manifest, image) is not what was expected.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was read.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The content store failed.
    #[error("content store: {0}")]
    Store(#[from] alara_store::Error),
    /// The audit trail failed.
    #[error("audit trail: {0}")]
    Audit(#[from] alara_audit::Error),
    /// A contract call failed or reverted (the revert named).
    #[error(transparent)]
    Contract(#[from] alara_contracts::call::CallError),
    /// Deploying or reading the address book failed.
    #[error(transparent)]
    Contracts(#[from] alara_contracts::Error),
    /// Waiting for the chain took too long.
    #[error("timed out after {seconds} s waiting for {what} (is the node mining blocks?)")]
    Timeout {
        /// What was awaited.
        what: &'static str,
        /// How long.
        seconds: u64,
    },
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, Error>;
