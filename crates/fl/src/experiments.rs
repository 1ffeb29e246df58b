//! The experiments behind `alara bench fl`: accuracy against centralised training,
//! robustness to attackers, wall time at scale, and free-rider detection. Each returns
//! plain rows; the CLI prints them.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::{
    model::{evaluate, ModelKind, ModelSpec},
    partition::Partition,
    rng,
    sim::{free_rider_stats, split_dataset, Behavior, FreeRiderStats, SimConfig, Simulation},
    train::{train_local, LocalTraining},
    Result, Strategy,
};

/// Shared knobs of the experiments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchSettings {
    /// Model architecture.
    pub model: ModelKind,
    /// Local training of clients.
    pub local: LocalTraining,
    /// Epochs of the centralised baseline.
    pub centralized_epochs: usize,
    /// Worker threads.
    pub threads: usize,
    /// Master seed.
    pub seed: u64,
}

impl Default for BenchSettings {
    fn default() -> Self {
        Self {
            model: ModelKind::Logistic,
            local: LocalTraining {
                epochs: 5,
                batch_size: 16,
                learning_rate: 0.1,
                ..Default::default()
            },
            centralized_epochs: 60,
            threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            seed: 1,
        }
    }
}

fn sim_config(dataset: &str, clients: usize, rounds: u64, s: &BenchSettings) -> SimConfig {
    let mut cfg = SimConfig::new(dataset, clients, rounds);
    cfg.model = s.model;
    cfg.local = s.local;
    cfg.threads = s.threads;
    cfg.seed = s.seed;
    cfg
}

/// Test accuracy of the same model trained centrally on the union of the clients' data.
pub fn centralized_accuracy(dataset: &str, s: &BenchSettings) -> Result<f64> {
    let cfg = sim_config(dataset, 1, 1, s);
    let splits = split_dataset(dataset, cfg.test_fraction, cfg.validation_fraction, s.seed)?;
    let train = splits.standardizer.transform(&splits.train)?;
    let test = splits.standardizer.transform(&splits.test)?;
    let spec =
        ModelSpec { kind: s.model, n_features: train.n_features(), n_classes: train.n_classes };
    let init = spec.init(rng::derive_seed(s.seed, "initial-model", &[]));
    let local = LocalTraining { epochs: s.centralized_epochs, ..s.local };
    let w = train_local(&init, &train, &local, rng::derive_seed(s.seed, "centralized", &[]))?;
    Ok(evaluate(&w, &test).accuracy)
}

/// One accuracy row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyRow {
    /// Dataset.
    pub dataset: String,
    /// Partition.
    pub partition: String,
    /// Clients.
    pub clients: usize,
    /// Centralised test accuracy.
    pub centralized: f64,
    /// FedAvg test accuracy after the last round.
    pub federated: f64,
    /// Test accuracy per round.
    pub per_round: Vec<f64>,
    /// First round within `tolerance` of centralised (None: not within `rounds`).
    pub rounds_to_target: Option<u64>,
    /// The tolerance (absolute accuracy).
    pub tolerance: f64,
}

/// FedAvg on `dataset` split by `partition` over `clients`, up to `rounds` rounds.
pub fn accuracy(
    dataset: &str,
    partition: Partition,
    clients: usize,
    rounds: u64,
    tolerance: f64,
    s: &BenchSettings,
) -> Result<AccuracyRow> {
    let centralized = centralized_accuracy(dataset, s)?;
    let mut cfg = sim_config(dataset, clients, rounds, s);
    cfg.partition = partition;
    let mut sim = Simulation::new(cfg)?;
    let mut per_round = Vec::new();
    let mut rounds_to_target = None;
    while !sim.is_finished() {
        let o = sim.run_round()?;
        per_round.push(o.test.accuracy);
        if rounds_to_target.is_none() && o.test.accuracy >= centralized - tolerance {
            rounds_to_target = Some(o.record.round);
        }
    }
    Ok(AccuracyRow {
        dataset: dataset.to_string(),
        partition: partition.to_string(),
        clients,
        centralized,
        federated: per_round.last().copied().unwrap_or(0.0),
        per_round,
        rounds_to_target,
        tolerance,
    })
}

/// An attack for the robustness table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Attack {
    /// No attackers.
    None,
    /// Attackers send `−4Δ`.
    SignFlip,
    /// Attackers train on flipped labels and boost ×10.
    ScaledReplacement,
    /// Attackers train on flipped labels.
    LabelFlip,
}

impl Attack {
    /// Every attack in table order.
    pub const ALL: [Attack; 4] =
        [Attack::None, Attack::SignFlip, Attack::ScaledReplacement, Attack::LabelFlip];

    /// Name for tables.
    pub fn name(&self) -> &'static str {
        match self {
            Attack::None => "none",
            Attack::SignFlip => "sign flip ×4",
            Attack::ScaledReplacement => "scaled replacement ×10",
            Attack::LabelFlip => "label flip",
        }
    }

    fn behavior(&self) -> Option<Behavior> {
        match self {
            Attack::None => None,
            Attack::SignFlip => Some(Behavior::SignFlip { scale: 4.0 }),
            Attack::ScaledReplacement => Some(Behavior::ScaledReplacement { boost: 10.0 }),
            Attack::LabelFlip => Some(Behavior::LabelFlip),
        }
    }
}

/// Test accuracy after `rounds` with `attackers` of `clients` running `attack`.
pub fn robustness(
    dataset: &str,
    attack: Attack,
    strategy: Strategy,
    clients: usize,
    attackers: usize,
    rounds: u64,
    s: &BenchSettings,
) -> Result<f64> {
    let mut cfg = sim_config(dataset, clients, rounds, s);
    cfg.strategy = strategy;
    if let Some(b) = attack.behavior() {
        cfg.adversaries = vec![(b, attackers)];
    }
    let mut sim = Simulation::new(cfg)?;
    sim.run(|_| {})?;
    Ok(evaluate(sim.coordinator().global(), sim.test_set()).accuracy)
}

/// Wall time per round at scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleRow {
    /// Dataset.
    pub dataset: String,
    /// Virtual clients (all take part in every round).
    pub clients: usize,
    /// Model parameters.
    pub params: usize,
    /// Rounds timed.
    pub rounds: u64,
    /// Mean seconds per round, total.
    pub round_secs: f64,
    /// Of which client training.
    pub train_secs: f64,
    /// Of which aggregation, scoring and rewards.
    pub aggregate_secs: f64,
    /// Test accuracy after the last round.
    pub accuracy: f64,
}

/// Runs `rounds` rounds with `clients` clients (IID, all participating) and times them.
pub fn scale(dataset: &str, clients: usize, rounds: u64, s: &BenchSettings) -> Result<ScaleRow> {
    let cfg = sim_config(dataset, clients, rounds, s);
    let mut sim = Simulation::new(cfg)?;
    let params = sim.task().model.n_params();
    let (mut train, mut agg) = (0.0, 0.0);
    let t0 = Instant::now();
    let mut accuracy = 0.0;
    while !sim.is_finished() {
        let o = sim.run_round()?;
        train += o.train_time.as_secs_f64();
        agg += o.aggregate_time.as_secs_f64();
        accuracy = o.test.accuracy;
    }
    let total = t0.elapsed().as_secs_f64();
    let r = rounds as f64;
    Ok(ScaleRow {
        dataset: dataset.to_string(),
        clients,
        params,
        rounds,
        round_secs: total / r,
        train_secs: train / r,
        aggregate_secs: agg / r,
        accuracy,
    })
}

/// Free riders (equal numbers of zero, copy and random) among honest clients.
pub fn free_riders(
    dataset: &str,
    clients: usize,
    per_kind: usize,
    rounds: u64,
    s: &BenchSettings,
) -> Result<FreeRiderStats> {
    let mut cfg = sim_config(dataset, clients, rounds, s);
    cfg.adversaries = vec![
        (Behavior::FreeRiderZero, per_kind),
        (Behavior::FreeRiderCopy, per_kind),
        (Behavior::FreeRiderRandom, per_kind),
    ];
    let mut sim = Simulation::new(cfg)?;
    let outcomes = sim.run(|_| {})?;
    Ok(free_rider_stats(&outcomes))
}
