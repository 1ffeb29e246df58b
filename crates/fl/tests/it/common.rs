//! Helpers shared by the test modules.

use std::sync::Arc;

use alara_fl::{
    net::{CoordinatorService, RoundTiming},
    round::task_config,
    sim::split_dataset,
    Coordinator, Error, LocalTraining, ModelSpec, Partition, RejectReason, SimConfig, Simulation,
    Strategy, Weights,
};

pub fn small_sim(clients: usize, rounds: u64) -> SimConfig {
    let mut cfg = SimConfig::new("breast_cancer", clients, rounds);
    cfg.local =
        LocalTraining { epochs: 2, batch_size: 16, learning_rate: 0.1, ..Default::default() };
    cfg.threads = 2;
    cfg
}

pub fn run(cfg: SimConfig) -> Simulation {
    let mut sim = Simulation::new(cfg).unwrap();
    sim.run(|_| {}).unwrap();
    sim
}

pub fn coordinator(strategy: Strategy, quorum: usize) -> Coordinator {
    let s = split_dataset("breast_cancer", 0.2, 0.1, 1).unwrap();
    let (config, initial) = task_config(
        "t",
        1,
        ModelSpec::logistic(30, 2),
        LocalTraining::default(),
        strategy,
        None,
        3,
        quorum,
        s.standardizer.clone(),
        &s.validation,
    )
    .unwrap();
    Coordinator::new(config, &s.validation, initial).unwrap()
}

pub fn nudged(w: &Weights, k: f32) -> Weights {
    let mut w = w.clone();
    for (i, v) in w.values.iter_mut().enumerate() {
        *v += k * ((i % 7) as f32 - 3.0) * 1e-2;
    }
    w
}

pub fn reason(e: Error) -> RejectReason {
    match e {
        Error::RejectedUpdate { reason, .. } => reason,
        other => panic!("expected a rejection, got {other}"),
    }
}

/// The breast-cancer task of [`service`]: its coordinator and the split it was built on.
fn net_task(rounds: u64, quorum: usize) -> (Coordinator, alara_fl::sim::Splits) {
    let s = split_dataset("breast_cancer", 0.2, 0.1, 3).unwrap();
    let (config, initial) = task_config(
        "net",
        3,
        ModelSpec::logistic(30, 2),
        LocalTraining { epochs: 2, ..Default::default() },
        Strategy::FedAvg,
        None,
        rounds,
        quorum,
        s.standardizer.clone(),
        &s.validation,
    )
    .unwrap();
    (Coordinator::new(config, &s.validation, initial).unwrap(), s)
}

/// The coordinator behind [`service`].
pub fn net_coordinator(rounds: u64, quorum: usize) -> Coordinator {
    net_task(rounds, quorum).0
}

/// A coordinator service over the breast-cancer task and four IID client datasets.
pub fn service(
    rounds: u64,
    quorum: usize,
    timing: RoundTiming,
) -> (Arc<CoordinatorService>, Vec<alara_ml::Dataset>) {
    let (coord, s) = net_task(rounds, quorum);
    let parts = alara_fl::partition::partition(&s.train, 4, Partition::Iid, 1).unwrap();
    let data = parts.iter().map(|p| s.train.subset(p).unwrap()).collect();
    (CoordinatorService::new(coord, timing), data)
}
