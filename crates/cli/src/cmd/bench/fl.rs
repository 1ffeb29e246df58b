//! `alara bench fl`: federated learning accuracy against centralised training,
//! robustness to 20% attackers, wall time per round at 1,000 clients, and free riders.
//! One run, printed as tables (or `--json`). The defaults finish in a few minutes on two
//! cores; the flags make every part bigger.

use alara_fl::{
    experiments::{self, AccuracyRow, Attack, BenchSettings, ScaleRow},
    sim::FreeRiderStats,
    ModelKind, Partition, Strategy,
};
use serde::Serialize;

use crate::context::Context;

/// Arguments of `alara bench fl`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Clients in the accuracy, robustness and free-rider experiments.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Rounds on breast cancer (the goal: within 1% of centralised in ≤ 10).
    #[arg(long, default_value_t = 10)]
    rounds: u64,
    /// Maximum rounds on digits (the table reports the rounds needed).
    #[arg(long, default_value_t = 40)]
    digits_rounds: u64,
    /// Rounds in each robustness run.
    #[arg(long, default_value_t = 10)]
    robust_rounds: u64,
    /// Dataset of the robustness and free-rider runs.
    #[arg(long, default_value = "breast_cancer")]
    robust_dataset: String,
    /// Virtual clients in the scale run.
    #[arg(long, default_value_t = 1000)]
    scale_clients: usize,
    /// Rounds timed in the scale run.
    #[arg(long, default_value_t = 3)]
    scale_rounds: u64,
    /// Model: logistic or mlp:HIDDEN.
    #[arg(long, default_value = "logistic")]
    model: ModelKind,
    /// Local epochs.
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Local learning rate.
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Serialize)]
struct RobustRow {
    attack: String,
    strategy: String,
    accuracy: f64,
    clean_fedavg: f64,
}

#[derive(Serialize)]
struct Report {
    settings: BenchSettings,
    accuracy: Vec<AccuracyRow>,
    robustness: Vec<RobustRow>,
    scale: ScaleRow,
    free_riders: FreeRiderStats,
}

/// Runs `alara bench fl`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    let json = ctx.json;
    let report = tokio::task::spawn_blocking(move || measure(&args, json)).await??;
    ctx.emit(&report, || print(&report))
}

fn measure(a: &Args, quiet: bool) -> eyre::Result<Report> {
    let mut s = BenchSettings { model: a.model, seed: a.seed, ..Default::default() };
    s.local.epochs = a.epochs;
    s.local.learning_rate = a.lr;
    if let Some(t) = a.threads {
        s.threads = t.max(1);
    }
    let attackers = a.clients / 5;
    let strategies = [
        Strategy::FedAvg,
        Strategy::Krum { f: attackers },
        Strategy::Median { f: attackers },
        Strategy::TrimmedMean { f: attackers },
    ];
    let steps = 4 + (Attack::ALL.len() * strategies.len()) as u64 + 2;
    let bar = if quiet { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(steps) };
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg:40} [{bar:25}] {pos}/{len} {elapsed}") {
        bar.set_style(style.progress_chars("=> "));
    }
    let mut accuracy = Vec::new();
    for (dataset, rounds) in [("breast_cancer", a.rounds), ("digits", a.digits_rounds)] {
        for partition in [Partition::Iid, Partition::Dirichlet { alpha: 0.5 }] {
            bar.set_message(format!("accuracy {dataset} {partition}"));
            accuracy.push(experiments::accuracy(dataset, partition, a.clients, rounds, 0.01, &s)?);
            bar.inc(1);
        }
    }
    let mut robustness = Vec::new();
    let mut clean = 0.0;
    for attack in Attack::ALL {
        for strategy in strategies {
            bar.set_message(format!("robustness {} {}", attack.name(), strategy.name()));
            let acc = experiments::robustness(&a.robust_dataset, attack, strategy, a.clients, attackers, a.robust_rounds, &s)?;
            if attack == Attack::None && strategy == Strategy::FedAvg {
                clean = acc;
            }
            robustness.push(RobustRow { attack: attack.name().into(), strategy: strategy.name(), accuracy: acc, clean_fedavg: clean });
            bar.inc(1);
        }
    }
    bar.set_message(format!("scale: {} clients", a.scale_clients));
    let scale = experiments::scale("digits", a.scale_clients, a.scale_rounds, &s)?;
    bar.inc(1);
    bar.set_message("free riders");
    let free_riders = experiments::free_riders(&a.robust_dataset, a.clients, a.clients / 10, a.robust_rounds, &s)?;
    bar.inc(1);
    bar.finish_and_clear();
    Ok(Report { settings: s, accuracy, robustness, scale, free_riders })
}

fn print(r: &Report) {
    println!("Accuracy: FedAvg vs centralised training (test set, {:?}, {} local epochs)", r.settings.model, r.settings.local.epochs);
    println!("{:<14} {:<16} {:>7} {:>11} {:>10} {:>7} {:>22}", "dataset", "partition", "clients", "centralised", "federated", "Δ", "rounds to within 1%");
    for a in &r.accuracy {
        println!(
            "{:<14} {:<16} {:>7} {:>11.4} {:>10.4} {:>+7.4} {:>22}",
            a.dataset,
            a.partition,
            a.clients,
            a.centralized,
            a.federated,
            a.federated - a.centralized,
            a.rounds_to_target.map_or(format!("not in {}", a.per_round.len()), |n| n.to_string())
        );
    }
    println!();
    println!("Robustness: 20% of clients attacking (test accuracy after the last round)");
    println!("{:<24} {:<20} {:>9} {:>14}", "attack", "strategy", "accuracy", "vs clean FedAvg");
    for row in &r.robustness {
        println!("{:<24} {:<20} {:>9.4} {:>+14.4}", row.attack, row.strategy, row.accuracy, row.accuracy - row.clean_fedavg);
    }
    println!();
    let s = &r.scale;
    println!("Scale: {} simulated clients on {} ({} parameters), {} rounds", s.clients, s.dataset, s.params, s.rounds);
    println!(
        "  wall time per round {:.3} s (training {:.3} s, aggregation + scoring {:.3} s); accuracy {:.4}",
        s.round_secs, s.train_secs, s.aggregate_secs, s.accuracy
    );
    println!();
    let f = &r.free_riders;
    println!("Free riders (zero, copied, random updates; 10% of clients each kind)");
    println!(
        "  detected {}/{} ({:.1}%), pool share {:.2}%, honest updates flagged {}/{} ({:.1}%)",
        f.detected,
        f.submissions,
        100.0 * f.detected as f64 / f.submissions.max(1) as f64,
        100.0 * f.pool_share,
        f.honest_flagged,
        f.honest,
        100.0 * f.honest_flagged as f64 / f.honest.max(1) as f64
    );
}
