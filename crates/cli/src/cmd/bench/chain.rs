//! `alara bench chain`: the embedded node against anvil, same workload, same run
//! (the measurements are `alara_chain::bench`'s).

use alara_chain::bench::{self, Report};

use crate::context::Context;

/// Arguments of `alara bench chain`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// ERC-20 transfers to submit to each node.
    #[arg(long, default_value_t = 4000)]
    pub txs: usize,
    /// Concurrent senders (each a dev account with its own nonce sequence), 1-9.
    #[arg(long, default_value_t = 8)]
    pub senders: usize,
    /// Blocks in the persisted chain Alara reopens for the cold-start measurement.
    #[arg(long, default_value_t = 100_000)]
    pub cold_blocks: u64,
    /// Cold starts per node (the median is reported).
    #[arg(long, default_value_t = 7)]
    pub cold_runs: usize,
    /// Requests each sender keeps in flight (a wallet or load generator does not wait for
    /// one transaction's answer before sending the next).
    #[arg(long, default_value_t = 16)]
    pub window: usize,
}

/// Runs the benchmark and prints the table.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    let config = bench::Config {
        alara_exe: std::env::current_exe()?,
        txs: args.txs,
        senders: args.senders,
        window: args.window,
        cold_blocks: args.cold_blocks,
        cold_runs: args.cold_runs,
    };
    let report = bench::run(&config).await?;
    ctx.emit(&report, || print_report(&report))
}

fn print_report(r: &Report) {
    println!("alara bench chain — {}", r.workload);
    println!("peer: {}", r.anvil_version);
    println!();
    println!("{:<34} {:>14} {:>14} {:>10}   target", "", "alara", "anvil", "ratio");
    println!(
        "{:<34} {:>14.0} {:>14.0} {:>9.2}×   ≥ 1.5× anvil",
        "transfers/s (submitted+confirmed)",
        r.alara.transfers_per_sec,
        r.anvil.transfers_per_sec,
        r.throughput_ratio
    );
    println!(
        "{:<34} {:>14.1} {:>14.1} {:>9.2}×   ≤ 1.0× anvil",
        format!("cold start ms (alara: {} blocks)", r.cold_blocks),
        r.alara.cold_start_ms,
        r.anvil.cold_start_ms,
        r.cold_start_ratio
    );
    println!(
        "{:<34} {:>14.1} {:>14}",
        "start after kill -9 ms (repair)", r.alara.start_after_kill_9_ms, "-"
    );
    println!(
        "{:<34} {:>14} {:>14}",
        "stalls nudged with evm_mine", r.alara.fixes.nudges, r.anvil.fixes.nudges
    );
    println!(
        "{:<34} {:>14} {:>14}",
        "dropped txs resubmitted", r.alara.fixes.resubmitted, r.anvil.fixes.resubmitted
    );
    println!();
    println!("alara persists every block with an fsync before answering; anvil keeps its chain in memory.");
    println!("cold start: the node was stopped with SIGTERM before; after kill -9 it repairs its database first.");
}
