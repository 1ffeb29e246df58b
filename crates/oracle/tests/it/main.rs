//! Integration tests of the oracle: sources over HTTP, the contracts on the embedded chain
//! and anvil.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail by panicking")]

mod aggregator;
mod claims;
mod clock;
mod crop;
mod datasets;
mod learned;
mod network;
mod sources;
mod uptime;
