//! `alara-chain`: an embedded EVM devnet on revm with a standard Ethereum JSON-RPC, and the
//! one path — an alloy `Provider` — by which the rest of Alara reaches any chain.
//!
//! What it owns:
//! - [`Node`]: blocks, transactions, receipts and logs as Ethereum clients expect them;
//!   automine or interval mining; the ten dev accounts of anvil and hardhat; persistence in
//!   redb with group commit (an acknowledged block survives `kill -9`); snapshots and
//!   cheat codes for tests.
//! - [`trie`]: the state and storage tries behind the state root, and their proofs.
//! - [`server`]: JSON-RPC over HTTP so cast, ethers, web3.py and alloy talk to it,
//!   including geth's `debug_trace*` ([`trace`]) and Otterscan's `ots_*` namespace
//!   ([`otterscan`]) so the Otterscan explorer works against it.
//! - [`history`]: the address-history indexes behind `ots_searchTransactions*`, written
//!   with each block.
//! - [`client`]: connecting to the embedded node or any RPC URL with a wallet (dev account
//!   or Web3 Secret Storage keystore).
//! - [`keystore`]: Web3 Secret Storage v3 key files, written at the standard scrypt cost.
//! - [`testing`]: the embedded node and anvil behind one interface for tests and benches.
//! - `fuzz` (feature `test-utils`): the entry points the targets in `fuzz/` run.
//!
//! What it does not own: contracts (`alara-contracts`) and anything above them.
//!
//! The state root in block headers is Ethereum's Merkle-Patricia root, kept incrementally
//! in redb by [`trie`] (each block rehashes only the paths it touched), and `eth_getProof`
//! proves accounts and slots against it at the head and at older blocks.

#[cfg(feature = "bench")]
pub mod bench;
pub mod client;
pub mod dev;
mod error;
pub mod exec;
#[cfg(any(test, feature = "test-utils"))]
pub mod fuzz;
pub mod history;
pub mod keystore;
pub mod node;
pub mod otterscan;
pub mod rpc;
pub mod server;
pub mod state;
pub mod storage;
#[cfg(any(test, feature = "test-utils"))]
pub mod testing;
pub mod tools;
pub mod trace;
pub mod trie;

pub use error::{Error, Result};
pub use exec::Hardfork;
pub use node::{Mining, Node, NodeConfig, DEFAULT_CHAIN_ID, MAX_LOGS, MAX_TIMESTAMP};
pub use server::{serve, serve_with, ServerHandle};
