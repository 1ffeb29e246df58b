//! End-to-end tests of the `alara` binary: real clients against the embedded node, crash
//! safety, the command line.

mod audit_cli;
mod clients;
mod demo_data;
mod fl_cli;
mod node_process;
mod store_cli;
mod support;
