//! Alara's AI oracle: observations of one value from many sources, the detectors that
//! decide which sources to trust in a round, a robust consensus with a confidence, and
//! the signed reports that `OracleAggregator` accepts on-chain behind Chainlink's
//! `AggregatorV3Interface`.
//!
//! The parts:
//! - [`source`]: the [`source::Source`] trait and its implementations: an HTTP JSON API
//!   with a path selector, and replays of recorded series;
//! - [`series`]: the real historical series shipped in `datasets/` and the per-source
//!   quotes derived from them, with seeded noise, latency, outages and attack modes;
//! - [`detect`]: per-round, per-source anomaly detectors (median/MAD, per-source
//!   history, rolling z-score, and the learned stage);
//! - [`learned`]: the learned stage, a random forest in ONNX run with tract;
//! - [`consensus`]: the median of the accepted sources, with a confidence, and the audit
//!   entry that lets a round be recomputed from the log;
//! - [`crop`]: each season's rainfall index and a cover's payout by `CropInsurance`'s rule;
//! - [`feed`]: a run over a shipped series, and the error table of `alara bench oracle`;
//! - [`journal`]: what the leader keeps of each reported round, its audit entries, and
//!   the replay that recomputes the round bit for bit;
//! - [`report`]: the report a set of oracle nodes signs, its config digest and encoding;
//! - [`node`]: the oracle network: node processes that observe and sign over HTTP, and
//!   the leader that assembles a report and has f + 1 of them sign it;
//! - [`bench`](mod@bench): what `alara bench oracle` measures on a chain (report gas, round latency);
//! - [`threshold`]: the committee's FROST threshold key (distributed key generation) and
//!   the one aggregate signature per report that `transmitAggregate` verifies;
//! - [`health`]: the network's status (up, or down for lack of quorum) that the leader
//!   posts to `UptimeFeed`, which consumers check before trusting a feed;
//! - [`claims`]: AI assessment of `ClaimsInsurance` claims with the pinned ONNX model
//!   (tract), salted input commitments, `claim_assessment` audit entries that re-run, and
//!   evidence encrypted in the store.

pub mod bench;
pub mod claims;
pub mod consensus;
pub mod crop;
pub mod detect;
mod error;
pub mod feed;
pub mod health;
pub mod journal;
pub mod learned;
pub mod node;
pub mod report;
pub mod series;
pub mod source;
pub mod threshold;

pub use error::{Error, Result};
