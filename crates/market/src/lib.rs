//! `alara-market`: the tokenized data marketplace — datasets sold by download with escrowed
//! key delivery, and compute-to-data jobs where the data never leaves its owner.
//!
//! What this crate owns:
//! - [`contract`]: the typed client of the `DataMarket` contract (list, buy, deliver,
//!   confirm, release, refund, dispute, resolve, compute jobs, withdraw) and
//!   [`ensure_deployed`], which deploys it once per chain into the address book;
//! - [`keys`]: X25519 keys as the contract stores them, key envelopes, the local keyring;
//! - [`sale`]: the delivery check shared by buyer and arbiter, and dispute evidence and
//!   verdicts;
//! - [`algorithm`], [`compute`], [`guard`], [`logreg`]: declarative compute-to-data
//!   recipes, the runner with its output guard, and a deterministic logistic regression
//!   exported as ONNX;
//! - [`receipt`]: EIP-712 job receipts signed by the data owner;
//! - [`party`]: one participant's flows, writing an audit entry per step;
//! - [`lineage`]: dataset → jobs → models → inferences, from audit entries;
//! - [`model`]: the model marketplace's contracts (`ModelRegistry`, `InferenceChannels`,
//!   `ModelLicense`): receipt-bound payment vouchers and licensed calls, and their typed
//!   client.
//!
//! What it does not own: the chain and the contract sources (`alara-chain`,
//! `contracts/src/DataMarket.sol`), storage and encryption (`alara-store`), the audit log
//! (`alara-audit`), model inference (`alara-ml`).
//!
//! Nothing secret reaches the chain or a log: on-chain there are CIDs, SHA-256
//! commitments, hashes of terms, recipes and results, public keys, and keys encrypted to
//! their recipient; audit entries carry the same.

// Errors wrap alloy's and the store's errors as they are (a revert keeps its data, a
// store error its CID); they are the cold path, and boxing them would make matching on
// them clumsy for callers.
#![allow(clippy::result_large_err)]

pub mod algorithm;
pub mod compute;
pub mod contract;
mod error;
mod fault;
pub mod guard;
pub mod keys;
pub mod lineage;
pub mod logreg;
pub mod model;
pub mod party;
pub mod receipt;
pub mod sale;

pub use algorithm::Algorithm;
pub use contract::{ensure_deployed, DataMarket, JobState, ListingTerms, SaleState, Token, Tx};
pub use error::{describe_revert, Error, Result, DECODERS};
pub use fault::Fault;
pub use guard::GuardPolicy;
pub use keys::Keyring;
pub use party::{Offer, Party};
pub use receipt::{JobReceipt, SignedJobReceipt};
pub use sale::Verdict;
