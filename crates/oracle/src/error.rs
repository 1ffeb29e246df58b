//! Errors of the oracle crate.

/// What can go wrong observing, deciding or reporting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A source could not be read (network, status, body).
    #[error("source {source_id}: {detail}")]
    Source {
        /// The source's id.
        source_id: String,
        /// What happened.
        detail: String,
    },
    /// A value in an answer or a file is not what was expected.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A setting is out of its range.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// The setting.
        what: &'static str,
        /// Why, and what is allowed.
        detail: String,
    },
    /// Not enough sources answered to decide.
    #[error("round {round}: {have} sources answered, at least {need} are needed")]
    Quorum {
        /// The round.
        round: u64,
        /// Answers received.
        have: usize,
        /// Answers needed.
        need: usize,
    },
    /// The sources disagree: no strict majority of them is near the consensus, so no
    /// value can be reported with confidence (half the sources or more may be lying).
    #[error(
        "round {round}: only {agreeing} of {quotes} sources are within {within}% of the \
         consensus; a report needs a strict majority"
    )]
    NoMajority {
        /// The round.
        round: u64,
        /// Sources near the consensus.
        agreeing: usize,
        /// Sources that answered.
        quotes: usize,
        /// The band, in percent.
        within: f64,
    },
    /// Signing or recovering a signature failed.
    #[error("signature: {0}")]
    Signature(String),
    /// The claims model could not be loaded or run.
    #[error("claims model: {0}")]
    Model(Box<alara_ml::Error>),
    /// The content store refused to store or read evidence.
    #[error("evidence store: {0}")]
    Store(Box<alara_store::Error>),
    /// A contract refused a call, or its receipt was not what was expected.
    #[error(transparent)]
    Contract(#[from] alara_contracts::call::CallError),
    /// Deploying a contract failed.
    #[error("deploying {contract}: {detail}")]
    Deploy {
        /// The contract.
        contract: &'static str,
        /// What happened.
        detail: String,
    },
    /// The audit trail refused an entry.
    #[error(transparent)]
    Audit(#[from] alara_audit::Error),
}

/// Result with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A round without a report: too few accepted quotes, or no majority agreeing.
    pub fn is_no_report(&self) -> bool {
        matches!(self, Error::Quorum { .. } | Error::NoMajority { .. })
    }
}
