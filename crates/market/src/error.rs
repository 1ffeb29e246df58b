//! The crate's error type.

use std::path::PathBuf;

use alara_contracts::call::{decoder, CallError, Decoder};
use alloy::sol_types::SolInterface;

use crate::fault::Fault;
use crate::guard::Violation;
use alara_contracts::DataMarket::DataMarketErrors;

/// Everything that can go wrong in the market. Messages say what was expected, what was
/// found, and what to do; none of them ever contains a key or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A DataMarket (or token) call failed: refused with one of the contract's named errors
    /// (decoded, e.g. `InvalidSaleState { saleId: 1, state: 5 }`), not sent, or mined with
    /// status 0.
    #[error("DataMarket.{0}")]
    Contract(#[from] CallError),
    /// A JSON-RPC request failed.
    #[error("RPC {what} failed: {source}")]
    Rpc {
        /// The request.
        what: &'static str,
        /// The underlying error.
        source: alloy::transports::TransportError,
    },
    /// A paged event scan failed.
    #[error("reading {what}: {source}")]
    Scan {
        /// The events being read.
        what: &'static str,
        /// The underlying error.
        source: Box<alara_contracts::call::CallError>,
    },
    /// Deployment or the address book failed.
    #[error(transparent)]
    Contracts(#[from] alara_contracts::Error),
    /// The content store failed (missing or corrupt blocks, bad CAR, decryption).
    #[error(transparent)]
    Store(#[from] alara_store::Error),
    /// The audit trail failed.
    #[error("audit trail: {0}")]
    Audit(#[from] alara_audit::Error),
    /// Loading or running a model, or parsing a dataset, failed.
    #[error(transparent)]
    Ml(#[from] alara_ml::Error),
    /// Something expected on-chain is not there (no such listing, sale, job or event).
    #[error("{0}")]
    NotFound(String),
    /// A key is malformed, missing from the keyring, or does not match.
    #[error("{what}: {reason}")]
    Key {
        /// Which key.
        what: &'static str,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The delivered key or data is not what the listing promised: grounds for a dispute.
    #[error("delivery of sale {sale} is faulty: {fault}; open a dispute (`alara data dispute {sale}`) before the window closes")]
    Delivery {
        /// Sale id.
        sale: u64,
        /// What is wrong.
        fault: Fault,
    },
    /// Stored data does not match its commitment.
    #[error("integrity: {0}")]
    Integrity(String),
    /// A compute-to-data recipe is invalid or not the one that was allow-listed.
    #[error("algorithm: {0}")]
    Algorithm(String),
    /// The output guard refused a job's result.
    #[error("output guard refused the result: {0}")]
    Guard(#[from] Violation),
    /// A signed job receipt does not verify.
    #[error("job receipt: {0}")]
    Receipt(String),
    /// A payment voucher or licensed call is malformed or its signature does not verify.
    #[error("payment voucher: {0}")]
    Voucher(String),
    /// A call to a model-marketplace contract (ModelRegistry, InferenceChannels,
    /// ModelLicense, or the model's token) failed; reverts are decoded by name.
    #[error("model marketplace: {0}")]
    ModelContract(CallError),
    /// A value does not fit the field it goes into.
    #[error("{0}")]
    OutOfRange(String),
    /// Filesystem trouble, with the path.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// JSON (de)serialisation failed.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The contract's named error, when this is a revert of DataMarket.
    pub fn market_error(&self) -> Option<DataMarketErrors> {
        match self {
            Error::Contract(c) => DataMarketErrors::abi_decode(c.revert_data()?).ok(),
            _ => None,
        }
    }

    /// Name of the contract error (`"InvalidSaleState"`, `"ReentrancyGuardReentrantCall"`, …)
    /// when this is a revert.
    pub fn revert_name(&self) -> Option<String> {
        match self {
            Error::Contract(c) | Error::ModelContract(c) => c.revert_name().map(str::to_owned),
            _ => None,
        }
    }

    /// The raw revert data, when this is a revert of any contract call.
    pub fn revert_data(&self) -> Option<&alloy::primitives::Bytes> {
        match self {
            Error::Contract(c) | Error::ModelContract(c) => c.revert_data(),
            _ => None,
        }
    }

    /// A closure for `map_err` on a view call or simulation of DataMarket's `call`.
    pub fn contract(call: &'static str) -> impl FnOnce(alloy::contract::Error) -> Error {
        move |source| Error::Contract(CallError::from_contract(call, DECODERS, source))
    }
}

/// The errors a market call can revert with: DataMarket's, the token's, then the model
/// marketplace's (ModelRegistry, InferenceChannels, ModelLicense).
pub const DECODERS: &[Decoder] = &[
    decoder::<DataMarketErrors>,
    decoder::<alara_contracts::AlaraToken::AlaraTokenErrors>,
    decoder::<alara_contracts::ModelRegistry::ModelRegistryErrors>,
    decoder::<alara_contracts::InferenceChannels::InferenceChannelsErrors>,
    decoder::<alara_contracts::ModelLicense::ModelLicenseErrors>,
];

/// Attaches a path to an I/O error.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}

/// A readable form of revert data: `Name { field: value, … }` for DataMarket's and the
/// token's errors.
pub fn describe_revert(data: &[u8]) -> String {
    alara_contracts::call::describe_revert(data, DECODERS)
}
