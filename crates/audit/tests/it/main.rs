//! Integration tests of alara-audit: the trail end to end, erasure, queries, and crash
//! recovery with a writer process killed by SIGKILL.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail by panicking")]

mod anchor_client;
mod anchor_contract;
mod capped;
mod chain;
mod crash;
mod trail;
