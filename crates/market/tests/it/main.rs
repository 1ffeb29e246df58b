//! Integration tests of alara-market against real chains (the embedded node and anvil).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail by panicking")]

mod capped;
mod channels;
mod conservation;
mod contract;
mod flows;
mod hardening;
mod license;
mod model_fixture;
mod registry;
mod serve;
mod support;
