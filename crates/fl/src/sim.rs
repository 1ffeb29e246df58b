//! Simulation: many virtual clients in one process, driving the same [`Coordinator`]
//! as the networked mode.
//!
//! Client training runs on `threads` worker threads; each client's update is a pure
//! function of (global model, its data, its seed), results are collected in client
//! order, and the coordinator processes them in client-id order, so the outcome does
//! not depend on the thread count.

use std::time::{Duration, Instant};

use alara_ml::{Dataset, Standardizer};
use serde::{Deserialize, Serialize};

use crate::{
    aggregate::{l2, DpConfig, Strategy},
    model::{evaluate, Evaluation, ModelSpec, Weights},
    partition::{partition, Partition},
    rng,
    round::{task_config, ClientUpdate, Coordinator, RoundRecord, TaskConfig},
    score::FreeRider,
    train::{train_local, LocalTraining},
    Error, Result,
};

/// What a simulated client does with its round.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Behavior {
    /// Trains honestly.
    Honest,
    /// Trains honestly, then sends `−scale × Δ`.
    SignFlip {
        /// Magnitude multiplier.
        scale: f32,
    },
    /// Model replacement: trains on flipped labels, sends `boost × Δ` to dominate the mean.
    ScaledReplacement {
        /// Boost factor.
        boost: f32,
    },
    /// Trains on flipped labels (`y → C − 1 − y`).
    LabelFlip,
    /// Free rider: returns the global model unchanged.
    FreeRiderZero,
    /// Free rider: resubmits another client's previous-round update (public after the
    /// round) with a tiny perturbation so its hash differs.
    FreeRiderCopy,
    /// Free rider: random noise of a plausible norm.
    FreeRiderRandom,
}

impl Behavior {
    /// `true` for the three free-rider kinds.
    pub fn is_free_rider(&self) -> bool {
        matches!(
            self,
            Behavior::FreeRiderZero | Behavior::FreeRiderCopy | Behavior::FreeRiderRandom
        )
    }

    /// `true` for anything but [`Behavior::Honest`].
    pub fn is_adversarial(&self) -> bool {
        !matches!(self, Behavior::Honest)
    }
}

/// A simulation setup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// Task identifier.
    pub task_id: String,
    /// Shipped dataset: `breast_cancer` or `digits`.
    pub dataset: String,
    /// Model architecture (`n_features`, `n_classes` are taken from the dataset).
    pub model: crate::model::ModelKind,
    /// Number of virtual clients.
    pub clients: usize,
    /// Clients sampled per round (None: all).
    pub clients_per_round: Option<usize>,
    /// How the training part is split.
    pub partition: Partition,
    /// Local training.
    pub local: LocalTraining,
    /// Aggregation strategy.
    pub strategy: Strategy,
    /// DP-FedAvg.
    pub dp: Option<DpConfig>,
    /// Rounds.
    pub rounds: u64,
    /// Master seed.
    pub seed: u64,
    /// Fraction of the data held out for testing (reported accuracy).
    pub test_fraction: f64,
    /// Fraction of the data the coordinator keeps for validation (scores).
    pub validation_fraction: f64,
    /// Adversarial clients: the first `count` clients after a seeded shuffle get each
    /// behaviour, in list order.
    pub adversaries: Vec<(Behavior, usize)>,
    /// Worker threads for client training.
    pub threads: usize,
}

impl SimConfig {
    /// A FedAvg/IID setup with benchmark defaults.
    pub fn new(dataset: &str, clients: usize, rounds: u64) -> Self {
        Self {
            task_id: format!("sim-{dataset}"),
            dataset: dataset.to_string(),
            model: crate::model::ModelKind::Logistic,
            clients,
            clients_per_round: None,
            partition: Partition::Iid,
            local: LocalTraining {
                epochs: 5,
                batch_size: 16,
                learning_rate: 0.1,
                ..Default::default()
            },
            strategy: Strategy::FedAvg,
            dp: None,
            rounds,
            seed: 1,
            test_fraction: 0.2,
            validation_fraction: 0.1,
            adversaries: Vec::new(),
            threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8),
        }
    }
}

/// A shipped dataset split into (train, validation, test), and the standardiser fitted
/// on the validation part (what the coordinator publishes).
pub struct Splits {
    /// Training part, raw.
    pub train: Dataset,
    /// Coordinator's validation part, raw.
    pub validation: Dataset,
    /// Test part, raw.
    pub test: Dataset,
    /// Standardiser the task publishes.
    pub standardizer: Standardizer,
}

/// Deterministic train/validation/test split of a shipped dataset.
pub fn split_dataset(
    name: &str,
    test_fraction: f64,
    validation_fraction: f64,
    seed: u64,
) -> Result<Splits> {
    let data = alara_ml::datasets::by_name(name)?;
    let (rest, test) =
        data.train_test_split(test_fraction, rng::derive_seed(seed, "test-split", &[]))?;
    let vf = validation_fraction / (1.0 - test_fraction);
    let (train, validation) =
        rest.train_test_split(vf, rng::derive_seed(seed, "validation-split", &[]))?;
    let standardizer = Standardizer::fit(&validation)?;
    Ok(Splits { train, validation, test, standardizer })
}

struct SimClient {
    id: String,
    data: Dataset,
    behavior: Behavior,
}

/// What one simulated round produced.
#[derive(Debug, Clone)]
pub struct RoundOutcome {
    /// The coordinator's record.
    pub record: RoundRecord,
    /// The new global model on the test set.
    pub test: Evaluation,
    /// Behaviour of each client in `record.clients` (same order).
    pub behaviors: Vec<Behavior>,
    /// Updates rejected by the coordinator, with the reason.
    pub rejected: Vec<(String, String)>,
    /// Time spent training clients.
    pub train_time: Duration,
    /// Time spent aggregating and scoring.
    pub aggregate_time: Duration,
}

/// A running simulation.
pub struct Simulation {
    cfg: SimConfig,
    coordinator: Coordinator,
    clients: Vec<SimClient>,
    test: Dataset,
}

impl Simulation {
    /// Builds the task, partitions the data and assigns behaviours.
    pub fn new(cfg: SimConfig) -> Result<Self> {
        Self::build(cfg, None)
    }

    /// Like [`Simulation::new`], writing replay artifacts under `dir`.
    pub fn with_artifacts(cfg: SimConfig, dir: &std::path::Path) -> Result<Self> {
        Self::build(cfg, Some(dir))
    }

    fn build(cfg: SimConfig, artifacts: Option<&std::path::Path>) -> Result<Self> {
        if cfg.threads == 0 {
            return Err(Error::Config("threads must be at least 1".into()));
        }
        let splits =
            split_dataset(&cfg.dataset, cfg.test_fraction, cfg.validation_fraction, cfg.seed)?;
        let d = splits.train.n_features();
        let c = splits.train.n_classes;
        let spec = ModelSpec { kind: cfg.model, n_features: d, n_classes: c };
        let per_round = cfg.clients_per_round.unwrap_or(cfg.clients).min(cfg.clients);
        let quorum = cfg.strategy.min_updates().max(1).min(per_round.max(1));
        let (config, initial) = task_config(
            &cfg.task_id,
            cfg.seed,
            spec,
            cfg.local,
            cfg.strategy,
            cfg.dp,
            cfg.rounds,
            quorum,
            splits.standardizer.clone(),
            &splits.validation,
        )?;
        let mut coordinator = Coordinator::new(config, &splits.validation, initial)?;
        if let Some(dir) = artifacts {
            coordinator = coordinator.with_artifacts(dir, &splits.validation)?;
        }
        let parts = partition(
            &splits.train,
            cfg.clients,
            cfg.partition,
            rng::derive_seed(cfg.seed, "partition", &[]),
        )?;
        let train = splits.standardizer.transform(&splits.train)?;
        let mut order: Vec<usize> = (0..cfg.clients).collect();
        rng::shuffle(&mut order, &mut rng::stream(cfg.seed, "adversaries", &[]));
        let mut behaviors = vec![Behavior::Honest; cfg.clients];
        let mut next = 0;
        for &(b, count) in &cfg.adversaries {
            for &i in order.iter().skip(next).take(count) {
                behaviors[i] = b;
            }
            next += count;
        }
        if next > cfg.clients {
            return Err(Error::Config(format!("{next} adversaries for {} clients", cfg.clients)));
        }
        let width = cfg.clients.to_string().len().max(4);
        let clients = parts
            .iter()
            .enumerate()
            .map(|(i, idx)| {
                Ok(SimClient {
                    id: format!("client-{i:0width$}"),
                    data: train.subset(idx)?,
                    behavior: behaviors[i],
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let test = splits.standardizer.transform(&splits.test)?;
        Ok(Self { cfg, coordinator, clients, test })
    }

    /// The coordinator (records, global model).
    pub fn coordinator(&self) -> &Coordinator {
        &self.coordinator
    }

    /// The task configuration.
    pub fn task(&self) -> &TaskConfig {
        self.coordinator.config()
    }

    /// The standardised test set.
    pub fn test_set(&self) -> &Dataset {
        &self.test
    }

    /// `true` when every round has run.
    pub fn is_finished(&self) -> bool {
        self.coordinator.is_finished()
    }

    /// Client ids, in client order.
    pub fn client_ids(&self) -> Vec<String> {
        self.clients.iter().map(|c| c.id.clone()).collect()
    }

    /// Runs the next round.
    pub fn run_round(&mut self) -> Result<RoundOutcome> {
        self.run_round_gated(|_| Ok(()))
    }

    /// Runs the next round, passing every update through `gate` before the coordinator
    /// sees it (e.g. to check the client's signed commitment); an update the gate refuses
    /// is recorded in [`RoundOutcome::rejected`] with the gate's reason.
    pub fn run_round_gated(
        &mut self,
        mut gate: impl FnMut(&ClientUpdate) -> Result<()>,
    ) -> Result<RoundOutcome> {
        let round = self.coordinator.round();
        let config = self.coordinator.config().clone();
        let n = self.clients.len();
        let per_round = self.cfg.clients_per_round.unwrap_or(n).min(n);
        let mut chosen: Vec<usize> = (0..n).collect();
        if per_round < n {
            rng::shuffle(&mut chosen, &mut rng::stream(config.seed, "selection", &[round]));
            chosen.truncate(per_round);
            chosen.sort_unstable();
        }
        let global = self.coordinator.global().clone();
        let previous = self.coordinator.previous_deltas().to_vec();
        let t0 = Instant::now();
        let jobs: Vec<&SimClient> = chosen.iter().map(|&i| &self.clients[i]).collect();
        let results = parallel_map(&jobs, self.cfg.threads, |c| {
            let seed = rng::client_seed(config.seed, round, &c.id);
            client_update(c, &global, &config, round, seed, &previous)
        });
        let train_time = t0.elapsed();
        let t1 = Instant::now();
        let mut rejected = Vec::new();
        for r in results {
            let update = r?;
            let id = update.client_id.clone();
            if let Err(e) = gate(&update) {
                rejected.push((id, e.to_string()));
                continue;
            }
            if let Err(e) = self.coordinator.submit(update) {
                rejected.push((id, e.to_string()));
            }
        }
        let record = self.coordinator.close_round()?;
        let aggregate_time = t1.elapsed();
        let behaviors = record
            .clients
            .iter()
            .map(|c| {
                self.clients
                    .iter()
                    .find(|s| s.id == c.client_id)
                    .map_or(Behavior::Honest, |s| s.behavior)
            })
            .collect();
        let test = evaluate(self.coordinator.global(), &self.test);
        Ok(RoundOutcome { record, test, behaviors, rejected, train_time, aggregate_time })
    }

    /// Runs every remaining round, calling `progress` after each.
    pub fn run(&mut self, mut progress: impl FnMut(&RoundOutcome)) -> Result<Vec<RoundOutcome>> {
        let mut out = Vec::new();
        while !self.is_finished() {
            let o = self.run_round()?;
            progress(&o);
            out.push(o);
        }
        Ok(out)
    }
}

/// Maps `f` over `items` on `threads` scoped threads (contiguous chunks), keeping order.
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.max(1).min(items.len().max(1));
    if threads == 1 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

fn flipped(data: &Dataset) -> Dataset {
    let mut d = data.clone();
    let c = d.n_classes.max(1) as u32;
    for l in &mut d.labels {
        *l = c - 1 - *l;
    }
    d
}

fn client_update(
    c: &SimClient,
    global: &Weights,
    config: &TaskConfig,
    round: u64,
    seed: u64,
    previous: &[(String, Vec<f32>)],
) -> Result<ClientUpdate> {
    let n = c.data.len() as u64;
    let mut data = c.data.clone();
    data.n_classes = config.model.n_classes;
    let weights = match c.behavior {
        Behavior::Honest => train_local(global, &data, &config.local, seed)?,
        Behavior::LabelFlip => train_local(global, &flipped(&data), &config.local, seed)?,
        Behavior::SignFlip { scale } => {
            let w = train_local(global, &data, &config.local, seed)?;
            let d: Vec<f32> = w.delta_from(global).iter().map(|x| -scale * x).collect();
            global.plus(&d)
        }
        Behavior::ScaledReplacement { boost } => {
            let w = train_local(global, &flipped(&data), &config.local, seed)?;
            let d: Vec<f32> = w.delta_from(global).iter().map(|x| boost * x).collect();
            global.plus(&d)
        }
        Behavior::FreeRiderZero => global.clone(),
        Behavior::FreeRiderCopy => match previous.iter().find(|(id, d)| *id != c.id && l2(d) > 0.0)
        {
            Some((_, d)) => {
                let mut r = rng::stream(seed, "copy-noise", &[]);
                let d: Vec<f32> =
                    d.iter().map(|x| x * (1.0 + 1e-4 * rng::normal(&mut r) as f32)).collect();
                global.plus(&d)
            }
            None => global.clone(),
        },
        Behavior::FreeRiderRandom => {
            let norm = previous
                .iter()
                .map(|(_, d)| l2(d))
                .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
                .unwrap_or(0.1 * l2(&global.values) + 0.01);
            let mut r = rng::stream(seed, "random-update", &[]);
            let noise: Vec<f64> = (0..global.values.len()).map(|_| rng::normal(&mut r)).collect();
            let k = norm / noise.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
            let d: Vec<f32> = noise.iter().map(|x| (x * k) as f32).collect();
            global.plus(&d)
        }
    };
    Ok(ClientUpdate::new(&c.id, round, n, weights))
}

/// Free-rider detection summary over a set of round outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FreeRiderStats {
    /// Free-rider submissions seen (accepted or rejected as replays).
    pub submissions: usize,
    /// Of those, flagged or rejected.
    pub detected: usize,
    /// Honest submissions flagged (false positives).
    pub honest_flagged: usize,
    /// Honest submissions.
    pub honest: usize,
    /// Share of the total reward pool paid to free riders.
    pub pool_share: f64,
}

/// Counts detections and rewards of free riders.
pub fn free_rider_stats(outcomes: &[RoundOutcome]) -> FreeRiderStats {
    let mut s = FreeRiderStats {
        submissions: 0,
        detected: 0,
        honest_flagged: 0,
        honest: 0,
        pool_share: 0.0,
    };
    let (mut fr_reward, mut total) = (0u128, 0u128);
    for o in outcomes {
        for (c, b) in o.record.clients.iter().zip(&o.behaviors) {
            total += c.reward;
            if b.is_free_rider() {
                s.submissions += 1;
                fr_reward += c.reward;
                if c.score.free_rider.is_some() {
                    s.detected += 1;
                }
            } else if !b.is_adversarial() {
                s.honest += 1;
                if c.score.free_rider.is_some() {
                    s.honest_flagged += 1;
                }
            }
        }
        // Replays rejected outright are detections too.
        s.submissions += o.rejected.len();
        s.detected += o.rejected.len();
    }
    s.pool_share = if total > 0 { fr_reward as f64 / total as f64 } else { 0.0 };
    s
}

/// Flag of a record line, for display.
pub fn flag_name(f: Option<FreeRider>) -> &'static str {
    match f {
        None => "-",
        Some(FreeRider::Zero) => "zero",
        Some(FreeRider::Copied) => "copied",
        Some(FreeRider::Random) => "random",
    }
}
