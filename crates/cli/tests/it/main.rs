//! End-to-end tests of the `alara` binary: real clients against the embedded node, crash
//! safety, the command line.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail by panicking")]

mod api_up;
mod audit_cli;
mod clients;
mod compute_cli;
mod dashboard;
mod demo_data;
mod fl_cli;
mod keystore_cli;
mod newcomer;
mod node_process;
mod oracle_cli;
mod readme;
mod serve_cli;
mod store_cli;
mod support;
