//! Integration tests of the embedded node over its JSON-RPC API.
//!
//! Contract-level behaviour runs on every backend in `testing::backends()` — the embedded
//! node and anvil — so a difference between them fails here first.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail by panicking")]

mod abuse;
mod bad_input;
mod gas;
mod logs_cap;
mod node_rpc;
mod otterscan;
mod persistence;
mod proofs;
mod support;
mod traces;
