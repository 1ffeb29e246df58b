//! The oracle network's health as `UptimeFeed` publishes it: up (answer 0) or down
//! (answer 1), in the manner of Chainlink's L2 sequencer uptime feeds.
//!
//! The leader decides the status from each round: a round that gathered its quorum is
//! [`Status::Up`]; one refused for lack of it ([`Error::Quorum`]) is [`Status::Down`]. Lack of
//! quorum is the same error wherever it arises: a node whose accepted sources are fewer than
//! the committee's quorum does not observe, so the leader gets fewer than 2f + 1
//! observations, or fewer than f + 1 nodes answer for signing. Any other failure (a bad
//! committee file, an RPC error) is the leader's own and says nothing of the network:
//! [`Status::of`] gives `None` and nothing is posted.
//!
//! The leader posts with [`post_if_changed`] each epoch: only a change reaches the chain (as
//! Chainlink's sequencer feeds are updated), through [`post_status`].
//!
//! Consumers (`CropInsurance`, `FeedConsumer`) refuse a data feed's answer while the status
//! is down and for a grace period after it comes back up.
//!
//! ```
//! use alara_oracle::health::Status;
//! use alara_oracle::Error;
//!
//! let lost: alara_oracle::Result<()> = Err(Error::Quorum { round: 7, have: 2, need: 3 });
//! assert_eq!(Status::of(&lost), Some(Status::Down));
//! assert_eq!(Status::of(&Ok::<_, Error>(())), Some(Status::Up));
//! assert_eq!(Status::Down.answer(), 1);
//! ```

use alloy::network::Ethereum;
use alloy::primitives::{Address, I256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;

use alara_contracts::call::{decoder, send, CallError, Decoder};
use alara_contracts::UptimeFeed::{self, UptimeFeedErrors};

use crate::Error;

/// Names `UptimeFeed`'s reverts (`NotReporter { .. }`, `StaleReport { .. }`, ...).
pub const DECODERS: &[Decoder] = &[decoder::<UptimeFeedErrors>];

/// The oracle network's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The last round gathered its quorum of sources and nodes.
    Up,
    /// The last round did not: too few accepted sources or too few nodes.
    Down,
}

impl Status {
    /// The status a round's result says: `Up` for a round that gathered its quorum, `Down`
    /// for one that lost it, `None` for a failure that is not about quorum.
    pub fn of<T>(round: &crate::Result<T>) -> Option<Status> {
        match round {
            Ok(_) => Some(Status::Up),
            Err(Error::Quorum { .. }) => Some(Status::Down),
            Err(_) => None,
        }
    }

    /// The feed's answer: 0 up, 1 down.
    pub fn answer(self) -> i64 {
        match self {
            Status::Up => 0,
            Status::Down => 1,
        }
    }

    /// The status an uptime feed answers; `None` for anything but 0 or 1.
    pub fn from_answer(answer: I256) -> Option<Status> {
        if answer == I256::ZERO {
            Some(Status::Up)
        } else if answer == I256::ONE {
            Some(Status::Down)
        } else {
            None
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Up => "up",
            Status::Down => "down",
        })
    }
}

/// Reports `status`, as observed at `observed_at` (unix seconds: later than the feed's
/// `latestReportAt`, not after the chain's time), to the `UptimeFeed` at `feed`, from the
/// provider's account, which must be the feed's reporter. Simulated first, so a refusal is a
/// named [`CallError::Reverted`] and costs nothing.
pub async fn post_status<P: Provider<Ethereum>>(
    provider: &P,
    feed: Address,
    status: Status,
    observed_at: u64,
) -> std::result::Result<TransactionReceipt, CallError> {
    let c = UptimeFeed::new(feed, provider);
    let call = c.updateStatus(status == Status::Down, observed_at);
    // A repeated status writes the block's time into the round. Estimated within the second
    // of the previous report, that write leaves the slot as it is (100 gas); mined a second
    // later it changes it (2,900): without the margin the report would run out of gas.
    let gas = call.estimate_gas().await.map_err(CallError::contract("updateStatus", DECODERS))?;
    send("updateStatus", &call.gas(gas + REPEAT_MARGIN), DECODERS).await
}

/// Reports `status` at `now` (the chain's latest block time) to the `UptimeFeed` at `feed` only
/// when the feed says otherwise or has no status yet, as Chainlink's sequencer feeds are
/// updated on change; `Ok(None)` when nothing needed posting, or when a report was already
/// accepted at or after `now` (the next one goes in a later second). The leader calls it each
/// epoch with [`Status::of`] its round.
pub async fn post_if_changed<P: Provider<Ethereum>>(
    provider: &P,
    feed: Address,
    status: Status,
    now: u64,
) -> std::result::Result<Option<TransactionReceipt>, CallError> {
    let c = UptimeFeed::new(feed, provider);
    let latest = c
        .latestRoundData()
        .call()
        .await
        .map_err(CallError::contract("latestRoundData", DECODERS))?;
    let current = (!latest.startedAt.is_zero()).then(|| Status::from_answer(latest.answer));
    if current == Some(Some(status)) {
        return Ok(None);
    }
    let last =
        c.latestReportAt().call().await.map_err(CallError::contract("latestReportAt", DECODERS))?;
    if now <= last {
        return Ok(None);
    }
    post_status(provider, feed, status, now).await.map(Some)
}

/// Gas added to `updateStatus`'s estimate: what writing a changed `updatedAt` costs more than
/// rewriting the same one (2,900 − 100), rounded up.
const REPEAT_MARGIN: u64 = 3_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_quorum_errors_are_down() {
        let invalid: crate::Result<()> = Err(Error::Invalid { what: "x", detail: "y".into() });
        assert_eq!(Status::of(&invalid), None);
        let source: crate::Result<()> =
            Err(Error::Source { source_id: "node 1".into(), detail: "timeout".into() });
        assert_eq!(Status::of(&source), None);
    }

    #[test]
    fn answers_round_trip() {
        for s in [Status::Up, Status::Down] {
            assert_eq!(Status::from_answer(I256::try_from(s.answer()).unwrap()), Some(s));
        }
        assert_eq!(Status::from_answer(I256::try_from(2).unwrap()), None);
        assert_eq!(Status::from_answer(I256::MINUS_ONE), None);
    }
}
