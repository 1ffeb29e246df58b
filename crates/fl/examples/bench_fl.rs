//! The `alara bench fl` experiments without the CLI:
//! `cargo run --release -p alara-fl --example bench_fl [-- --quick]`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a measurement tool, not a library: a failure ends the run"
)]

use alara_fl::experiments::{BenchPlan, BenchSettings};

fn main() -> alara_fl::Result<()> {
    let mut plan = BenchPlan::default();
    if std::env::args().any(|a| a == "--quick") {
        plan = BenchPlan {
            clients: 20,
            rounds: 5,
            digits_rounds: 5,
            robust_rounds: 3,
            scale_clients: 200,
            scale_rounds: 1,
            ..plan
        };
    }
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    if let Some(c) = env("FL_CLIENTS") {
        plan.clients = c;
    }
    if let Some(r) = env("FL_ROBUST_ROUNDS") {
        plan.robust_rounds = r as u64;
    }
    if let Some(c) = env("FL_SCALE_CLIENTS") {
        plan.scale_clients = c;
    }
    if let Some(r) = env("FL_SCALE_ROUNDS") {
        plan.scale_rounds = r as u64;
    }
    let mut settings = BenchSettings::default();
    // Tuning knobs for exploring: FL_EPOCHS, FL_LR, FL_ONLY=accuracy.
    if let Some(e) = std::env::var("FL_EPOCHS").ok().and_then(|v| v.parse().ok()) {
        settings.local.epochs = e;
    }
    if let Some(lr) = std::env::var("FL_LR").ok().and_then(|v| v.parse().ok()) {
        settings.local.learning_rate = lr;
    }
    if std::env::var("FL_ONLY").as_deref() == Ok("accuracy") {
        for (d, r) in [("breast_cancer", plan.rounds), ("digits", plan.digits_rounds)] {
            for p in [alara_fl::Partition::Iid, alara_fl::Partition::Dirichlet { alpha: 0.5 }] {
                let row = alara_fl::experiments::accuracy(d, p, plan.clients, r, 0.01, &settings)?;
                println!(
                    "{d} {p}: centralised {:.4} per round {:?} target {:?}",
                    row.centralized,
                    row.per_round.iter().map(|a| (a * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
                    row.rounds_to_target
                );
            }
        }
        return Ok(());
    }
    let steps = plan.steps();
    let mut step = 0;
    let t0 = std::time::Instant::now();
    let report = plan.run(&settings, |label| {
        step += 1;
        eprintln!("[{step}/{steps}] {label} ({:.0} s)", t0.elapsed().as_secs_f64());
    })?;
    println!("{report}");
    eprintln!("total {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}
