//! Verifiable compute for small models, without a zk prover and without trusting the node.
//!
//! A task on `ComputeMarket` escrows a reward for the best model trained by a recipe and
//! scored on a held-out evaluation set that stays committed until the workers have
//! committed to their models. Every computation that decides money runs in a bit-exact
//! integer runtime ([`fixed`]): the same model on the same set gives the same integers on
//! any machine and in the EVM. A worker's claim is its count of correct answers plus a
//! Merkle root over every intermediate state of the evaluation ([`trace`]); a validator
//! that re-runs it and disagrees opens a `DisputeGame`, which bisects the two traces to the
//! first state they disagree on ([`bisect`]) and re-executes that one operator on-chain.
//!
//! The encodings are defined once, in `docs/compute.md`; the Solidity side implements the
//! same document and the tests check they agree.

// A reverted call carries its revert data and the chain's message: the error is large, and
// it is returned rarely, on paths that end a command.
#![allow(clippy::result_large_err)]

pub mod artifact;
#[cfg(feature = "bench")]
pub mod bench;
pub mod bisect;
pub mod chain;
pub mod commit;
pub mod error;
pub mod eval;
pub mod fixed;
pub mod merkle;
pub mod model;
pub mod net;
pub mod party;
pub mod recipe;
pub mod trace;

pub use error::{Error, Result};
