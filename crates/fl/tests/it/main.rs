//! Integration tests of `alara-fl`, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail by panicking")]

mod chain;
mod common;
mod coordinator;
mod gate;
mod net;
mod replay;
mod settle;
