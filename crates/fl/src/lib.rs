//! `alara-fl`: federated learning with contribution scores and replayable rounds.
//!
//! This crate owns the off-chain half of federated training:
//! - [`model`]: logistic regression and a small MLP, weights as canonical safetensors
//!   with a SHA-256 model hash; deterministic evaluation;
//! - [`train`]: local training on candle (SGD/Adam, FedProx proximal term);
//! - [`partition`]: IID, Dirichlet label skew, pathological shards, unbalanced sizes;
//! - [`aggregate`]: FedAvg, FedProx, FedAdam, Krum/Multi-Krum, coordinate-wise median,
//!   trimmed mean, DP-FedAvg (clipping + Gaussian noise);
//! - [`score`]: free-rider detection, contribution scores, reward split;
//! - [`round`]: the task configuration, client updates, round records and the
//!   [`Coordinator`] state machine shared by both ways to run;
//! - [`sim`]: thousands of virtual clients in one process;
//! - [`net`]: the HTTP coordinator (axum) and client loop (reqwest);
//! - [`artifacts`]: round artifacts on disk (layout, manifest, writers, loading);
//! - [`replay`]: [`replay_round`] and [`verify_round`] from those artifacts;
//! - [`fuzz`]: the fuzz entry point for update uploads (cargo-fuzz and the suite).
//!
//! - [`merkle`]: the reward tree (OpenZeppelin `StandardMerkleTree` layout);
//! - [`commitment`]: clients' EIP-712 update commitments and the coordinator's checks;
//! - [`chain`]: the `FederatedTraining` client, deployment, and one settlement per round;
//! - [`trail`]: audit entries of rounds and payouts, the global model in the content store;
//! - [`settle`]: a round's chain path — the client gate (registered, signed updates), the
//!   [`settle::Settler`] (store, `settleRound`, audit entries) and claim tickets.
//!
//! It does not own the chain node or the contracts' sources: those are `alara-chain` and
//! `alara-contracts`.
//!
//! Determinism: every random draw comes from the task seed through [`rng`]; server-side
//! math (aggregation, evaluation, scoring, DP noise) is sequential plain Rust with
//! [`detmath`] instead of libm, so `replay_round` recomputes the same bits anywhere.

pub mod aggregate;
pub mod artifacts;
pub mod chain;
pub mod commitment;
pub mod detmath;
mod error;
pub mod experiments;
pub mod fuzz;
pub mod merkle;
pub mod model;
pub mod net;
mod parse;
pub mod partition;
pub mod replay;
pub mod rng;
pub mod round;
pub mod score;
pub mod settle;
pub mod sim;
pub mod trail;
pub mod train;

pub use aggregate::{DpConfig, Strategy};
pub use artifacts::RoundArtifacts;
pub use error::{Error, RejectReason, Result};
pub use model::{ModelKind, ModelSpec, Weights};
pub use partition::Partition;
pub use replay::{replay_round, verify_round};
pub use round::{ClientRecord, ClientUpdate, Coordinator, RoundRecord, TaskConfig};
pub use score::{ClientScore, FreeRider, RewardSplit, ScoreConfig};
pub use sim::{Behavior, SimConfig, Simulation};
pub use train::{LocalOptimizer, LocalTraining};
