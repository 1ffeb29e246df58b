//! Integration tests of alara-store: Kubo CID vectors, CAR interop with `@ipld/car`,
//! durability, integrity, encryption, and the Kubo RPC client.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail by panicking")]

mod car_interop;
mod common;
mod crash;
mod encryption;
mod kubo_rpc;
mod store;
mod vectors;
