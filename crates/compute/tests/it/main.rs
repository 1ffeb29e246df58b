//! Integration tests of verifiable compute: the fixed-point runtime beside tract on the
//! shipped models, traces and the bisection, and (on the embedded chain and anvil) the
//! contracts.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail by panicking")]

mod game;
mod market;
mod net;
mod runtime;
