//! The crate's error type.

/// Everything that can go wrong in `alara-fl`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A robust aggregator cannot tolerate the configured number of faulty clients with
    /// the number of updates at hand.
    #[error("{strategy} tolerating f = {f} faulty clients needs at least {needed} updates, found {found}")]
    TooFewUpdates {
        /// The strategy.
        strategy: String,
        /// Faulty clients to tolerate.
        f: usize,
        /// Minimum number of updates.
        needed: usize,
        /// Updates available.
        found: usize,
    },
    /// A client update was rejected.
    #[error("update from client `{client}` for round {round} rejected: {reason}")]
    RejectedUpdate {
        /// The client.
        client: String,
        /// The round the update claims.
        round: u64,
        /// Why.
        reason: RejectReason,
    },
    /// Weights could not be decoded or do not fit the model.
    #[error("weights: {0}")]
    Weights(String),
    /// Candle failed during local training.
    #[error("training failed: {0}")]
    Training(String),
    /// A dataset problem (from `alara-ml`).
    #[error(transparent)]
    Dataset(#[from] alara_ml::Error),
    /// Replay could not reproduce a round, or the artifacts are incomplete.
    #[error("replay: {0}")]
    Replay(String),
    /// File system access failed.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// JSON (de)serialisation failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// Networked mode: HTTP or protocol failure.
    #[error("network: {0}")]
    Network(String),
    /// Networked mode: an answer larger than the client accepts (refused while streaming).
    #[error("network: {what}: the answer is larger than the limit of {limit} bytes ({seen} bytes or more)")]
    TooLarge {
        /// The request.
        what: String,
        /// The limit in bytes.
        limit: usize,
        /// Bytes declared or received when it was refused.
        seen: u64,
    },
    /// A FederatedTraining (or token) call failed: refused with one of the contract's named
    /// errors (decoded, e.g. `NothingToClaim { taskId: 1, … }`), not sent, mined with status
    /// 0, or without the event it should have emitted.
    #[error("FederatedTraining.{0}")]
    Contract(#[from] alara_contracts::call::CallError),
    /// Deployment or the address book failed.
    #[error(transparent)]
    Contracts(#[from] alara_contracts::Error),
    /// An update commitment signature is malformed, for another task or round, replayed, or
    /// from an unregistered signer.
    #[error("update commitment rejected: {0}")]
    Signature(String),
    /// The audit trail failed.
    #[error("audit trail: {0}")]
    Audit(#[from] alara_audit::Error),
    /// The content store failed.
    #[error("content store: {0}")]
    Store(Box<alara_store::Error>),
}

impl From<alara_store::Error> for Error {
    fn from(e: alara_store::Error) -> Self {
        Error::Store(Box::new(e))
    }
}

/// Why a client update was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RejectReason {
    /// The update is for a round other than the open one.
    #[error("it is for round {claimed}, the open round is {open} (stale or replayed update)")]
    WrongRound {
        /// Round in the update.
        claimed: u64,
        /// The open round.
        open: u64,
    },
    /// The exact same weights were already submitted (in this or an earlier round).
    #[error(
        "its weights (hash {hash}) were already submitted in round {first_round} (replayed update)"
    )]
    Replayed {
        /// Hex update hash.
        hash: String,
        /// Round where these weights were first seen.
        first_round: u64,
    },
    /// The client already submitted an update for this round.
    #[error("the client already submitted an update for this round")]
    Duplicate,
    /// The weights are malformed, of the wrong shape or contain NaN/Inf.
    #[error("{0}")]
    Malformed(String),
    /// The sample count is zero or above the task's limit.
    #[error("sample count {found} is outside 1..={max}")]
    SampleCount {
        /// Claimed count.
        found: u64,
        /// Allowed maximum.
        max: u64,
    },
    /// The update hash does not match the weights.
    #[error("update hash {claimed} does not match the weights (hash {actual})")]
    HashMismatch {
        /// Hash the client claimed.
        claimed: String,
        /// Hash of the received weights.
        actual: String,
    },
    /// The round is closed (deadline passed and aggregated).
    #[error("the round is closed")]
    RoundClosed,
    /// The client id is not one the coordinator registered.
    #[error("the client is not registered for this task")]
    UnknownClient,
    /// The update commitment is missing, malformed, or not signed by the client's account.
    #[error("bad update commitment: {0}")]
    BadSignature(String),
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Training(e.to_string())
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
