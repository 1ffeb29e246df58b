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
            // Clients hold 4-13 samples each at 100 clients: one minibatch per epoch, so
            // 20 epochs at lr 0.5 is 20 local steps per round.
            local: LocalTraining {
                epochs: 20,
                batch_size: 16,
                learning_rate: 0.5,
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

/// Sizes of an `alara bench fl` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchPlan {
    /// Clients in the accuracy, robustness and free-rider experiments.
    pub clients: usize,
    /// Rounds on breast cancer.
    pub rounds: u64,
    /// Maximum rounds on digits.
    pub digits_rounds: u64,
    /// Rounds of each robustness and free-rider run.
    pub robust_rounds: u64,
    /// Dataset of the robustness and free-rider runs.
    pub robust_dataset: String,
    /// Clients of the scale run.
    pub scale_clients: usize,
    /// Rounds timed in the scale run.
    pub scale_rounds: u64,
}

impl Default for BenchPlan {
    fn default() -> Self {
        Self {
            clients: 100,
            rounds: 10,
            digits_rounds: 40,
            robust_rounds: 10,
            robust_dataset: "breast_cancer".into(),
            scale_clients: 1000,
            scale_rounds: 3,
        }
    }
}

/// One robustness line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustRow {
    /// Attack.
    pub attack: String,
    /// Strategy.
    pub strategy: String,
    /// Test accuracy after the last round.
    pub accuracy: f64,
    /// Clean FedAvg accuracy of the same setup.
    pub clean_fedavg: f64,
}

/// Everything `alara bench fl` measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// Settings used.
    pub settings: BenchSettings,
    /// Sizes used.
    pub plan: BenchPlan,
    /// Accuracy rows.
    pub accuracy: Vec<AccuracyRow>,
    /// Robustness rows.
    pub robustness: Vec<RobustRow>,
    /// Scale row.
    pub scale: ScaleRow,
    /// Free-rider statistics.
    pub free_riders: FreeRiderStats,
    /// Settlement gas and the cost of the seed's scenario, when measured on a chain.
    pub chain: Option<ChainCost>,
}

/// Gas of settlement and claims, and the seed's 1,000 hospitals × 10 rounds at a gas price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainCost {
    /// The measured gas: `gas.clients` hospitals (leaves of every reward tree) ×
    /// `gas.rounds` rounds; `gas.register` stands for the seed's one transaction that
    /// records one hash on-chain (per hospital, per round).
    #[serde(flatten)]
    pub gas: crate::chain::GasProfile,
    /// Gas price for the cost columns, in gwei.
    pub gas_price_gwei: f64,
}

impl ChainCost {
    /// Transactions Alara sends: one task, one settlement per round, one claim per hospital.
    pub fn alara_txs(&self) -> u64 {
        1 + self.gas.rounds + self.gas.clients as u64
    }

    /// Total gas Alara spends on the scenario.
    pub fn alara_gas(&self) -> u64 {
        self.gas.total()
    }

    /// Gas of the seed's one transaction per hospital and round.
    pub fn seed_tx(&self) -> u64 {
        self.gas.register
    }

    /// Transactions of the seed: one per hospital per round.
    pub fn seed_txs(&self) -> u64 {
        self.gas.clients as u64 * self.gas.rounds
    }

    /// Gas of the seed's scenario.
    pub fn seed_gas(&self) -> u64 {
        self.seed_txs() * self.seed_tx()
    }

    /// Gas in ETH at [`ChainCost::gas_price_gwei`].
    pub fn eth(&self, gas: u64) -> f64 {
        gas as f64 * self.gas_price_gwei * 1e-9
    }
}

impl BenchPlan {
    /// Number of progress steps [`BenchPlan::run`] reports.
    pub fn steps(&self) -> u64 {
        4 + (Attack::ALL.len() * 4) as u64 + 2
    }

    /// Runs every experiment; `progress` gets a label before each step.
    pub fn run(&self, s: &BenchSettings, mut progress: impl FnMut(&str)) -> Result<BenchReport> {
        let attackers = self.clients / 5;
        let strategies = [
            Strategy::FedAvg,
            Strategy::Krum { f: attackers },
            Strategy::Median { f: attackers },
            Strategy::TrimmedMean { f: attackers },
        ];
        let mut accuracy_rows = Vec::new();
        for (dataset, rounds) in [("breast_cancer", self.rounds), ("digits", self.digits_rounds)] {
            for partition in [Partition::Iid, Partition::Dirichlet { alpha: 0.5 }] {
                progress(&format!("accuracy {dataset} {partition}"));
                accuracy_rows.push(accuracy(dataset, partition, self.clients, rounds, 0.01, s)?);
            }
        }
        let mut robust = Vec::new();
        let mut clean = 0.0;
        for attack in Attack::ALL {
            for strategy in strategies {
                progress(&format!("robustness: {} / {}", attack.name(), strategy.name()));
                let acc = robustness(
                    &self.robust_dataset,
                    attack,
                    strategy,
                    self.clients,
                    attackers,
                    self.robust_rounds,
                    s,
                )?;
                if attack == Attack::None && strategy == Strategy::FedAvg {
                    clean = acc;
                }
                robust.push(RobustRow {
                    attack: attack.name().into(),
                    strategy: strategy.name(),
                    accuracy: acc,
                    clean_fedavg: clean,
                });
            }
        }
        progress(&format!("scale: {} clients", self.scale_clients));
        let scale_row = scale("digits", self.scale_clients, self.scale_rounds, s)?;
        progress("free riders");
        let fr = free_riders(
            &self.robust_dataset,
            self.clients,
            self.clients / 10,
            self.robust_rounds,
            s,
        )?;
        Ok(BenchReport {
            settings: s.clone(),
            plan: self.clone(),
            accuracy: accuracy_rows,
            robustness: robust,
            scale: scale_row,
            free_riders: fr,
            chain: None,
        })
    }
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.settings;
        writeln!(
            f,
            "Accuracy: FedAvg vs centralised training (test accuracy; {:?}, {} local epochs, lr {}; centralised {} epochs)",
            s.model, s.local.epochs, s.local.learning_rate, s.centralized_epochs
        )?;
        writeln!(
            f,
            "{:<14} {:<16} {:>7} {:>11} {:>10} {:>8} {:>20}",
            "dataset",
            "partition",
            "clients",
            "centralised",
            "federated",
            "Δ",
            "rounds to within 1%"
        )?;
        for a in &self.accuracy {
            writeln!(
                f,
                "{:<14} {:<16} {:>7} {:>11.4} {:>10.4} {:>+8.4} {:>20}",
                a.dataset,
                a.partition,
                a.clients,
                a.centralized,
                a.federated,
                a.federated - a.centralized,
                a.rounds_to_target
                    .map_or(format!("not in {}", a.per_round.len()), |n| n.to_string())
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "Robustness: {} of {} clients attacking, {} on {} rounds (test accuracy after the last round)",
            self.plan.clients / 5,
            self.plan.clients,
            self.plan.robust_dataset,
            self.plan.robust_rounds
        )?;
        writeln!(
            f,
            "{:<24} {:<20} {:>9} {:>16}",
            "attack", "strategy", "accuracy", "vs clean FedAvg"
        )?;
        for r in &self.robustness {
            writeln!(
                f,
                "{:<24} {:<20} {:>9.4} {:>+16.4}",
                r.attack,
                r.strategy,
                r.accuracy,
                r.accuracy - r.clean_fedavg
            )?;
        }
        writeln!(f)?;
        let sc = &self.scale;
        writeln!(
            f,
            "Scale: {} simulated clients on {} ({} parameters), {} rounds, {} threads",
            sc.clients, sc.dataset, sc.params, sc.rounds, s.threads
        )?;
        writeln!(
            f,
            "  wall time per round {:.3} s (client training {:.3} s, aggregation + scoring {:.3} s); test accuracy {:.4}",
            sc.round_secs, sc.train_secs, sc.aggregate_secs, sc.accuracy
        )?;
        writeln!(f)?;
        if let Some(c) = &self.chain {
            writeln!(
                f,
                "Chain: {} hospitals × {} rounds at {} gwei (settleRound first {} gas, later {} gas; claim {} gas; createTask {} gas)",
                c.gas.clients, c.gas.rounds, c.gas_price_gwei, c.gas.settle_first, c.gas.settle_later, c.gas.claim, c.gas.create_task
            )?;
            writeln!(f, "{:<40} {:>8} {:>14} {:>12}", "", "txs", "gas", "ETH")?;
            writeln!(
                f,
                "{:<40} {:>8} {:>14} {:>12.6}",
                "Alara (1 settlement/round + 1 claim each)",
                c.alara_txs(),
                c.alara_gas(),
                c.eth(c.alara_gas())
            )?;
            writeln!(
                f,
                "{:<40} {:>8} {:>14} {:>12.6}",
                format!("seed (1 tx/hospital/round, {} gas)", c.seed_tx()),
                c.seed_txs(),
                c.seed_gas(),
                c.eth(c.seed_gas())
            )?;
            writeln!(
                f,
                "  Alara/seed: {:.2}% of the transactions, {:.2}% of the gas",
                100.0 * c.alara_txs() as f64 / c.seed_txs().max(1) as f64,
                100.0 * c.alara_gas() as f64 / c.seed_gas().max(1) as f64
            )?;
            writeln!(f)?;
        }
        let fr = &self.free_riders;
        writeln!(
            f,
            "Free riders: {} each of zero, copied and random updates among {} clients, {} rounds",
            self.plan.clients / 10,
            self.plan.clients,
            self.plan.robust_rounds
        )?;
        writeln!(
            f,
            "  detected {}/{} ({:.1}%), share of the pool paid to free riders {:.2}%, honest updates flagged {}/{} ({:.1}%)",
            fr.detected,
            fr.submissions,
            100.0 * fr.detected as f64 / fr.submissions.max(1) as f64,
            100.0 * fr.pool_share,
            fr.honest_flagged,
            fr.honest,
            100.0 * fr.honest_flagged as f64 / fr.honest.max(1) as f64
        )
    }
}
