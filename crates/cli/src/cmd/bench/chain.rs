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
    /// Sender counts of the one-at-a-time workloads, where each sender waits for the
    /// answer of `eth_sendRawTransaction` before its next transaction (scripts, `cast send`,
    /// `forge script`). Empty to skip them.
    #[arg(long, value_delimiter = ',', default_value = "2,8")]
    pub sequential_senders: Vec<usize>,
}

/// Runs the benchmark and prints the table.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    let config = bench::Config {
        alara_exe: std::env::current_exe()?,
        txs: args.txs,
        senders: args.senders,
        window: args.window,
        sequential_senders: args.sequential_senders,
        cold_blocks: args.cold_blocks,
        cold_runs: args.cold_runs,
    };
    let report = bench::run(&config).await?;
    ctx.emit(&report, || print_report(&report))
}

fn print_report(r: &Report) {
    println!(
        "alara bench chain — ERC-20 transfers over eth_sendRawTransaction, confirmed by receipts"
    );
    println!("peer: {}", r.anvil_version);
    println!();
    println!(
        "{:<52} {:>10} {:>10} {:>8} {:>10} {:>8}   target",
        "transfers/s", "alara", "anvil", "ratio", "no trie", "ratio"
    );
    for w in &r.workloads {
        println!(
            "{:<52} {:>10.0} {:>10.0} {:>7.2}× {:>10.0} {:>7.2}×   ≥ 1.5× anvil",
            format!("{} ({} transfers)", w.name, w.transfers),
            w.alara.transfers_per_sec,
            w.anvil.transfers_per_sec,
            w.ratio,
            w.alara_without_root.transfers_per_sec,
            w.ratio_without_root
        );
    }
    let c = &r.cold_start;
    println!(
        "{:<52} {:>10.1} {:>10.1} {:>7.2}×   ≤ 1.0× anvil",
        format!("cold start ms (alara: {} blocks)", c.blocks),
        c.alara_ms,
        c.anvil_ms,
        c.ratio
    );
    println!(
        "{:<52} {:>10.1} {:>10}",
        "start after kill -9 ms (repair)", c.alara_after_kill_9_ms, "-"
    );
    let fixes = |f: fn(&bench::Fixes) -> u32, side: fn(&bench::Workload) -> &bench::Run| {
        r.workloads.iter().map(|w| f(&side(w).fixes)).sum::<u32>()
    };
    println!(
        "{:<52} {:>10} {:>10}",
        "stalls nudged with evm_mine (all workloads)",
        fixes(|f| f.nudges, |w| &w.alara),
        fixes(|f| f.nudges, |w| &w.anvil)
    );
    println!(
        "{:<52} {:>10} {:>10}",
        "dropped txs resubmitted (all workloads)",
        fixes(|f| f.resubmitted, |w| &w.alara),
        fixes(|f| f.resubmitted, |w| &w.anvil)
    );
    println!();
    println!("alara keeps Ethereum's Merkle-Patricia state root; \"no trie\" is the same node with --no-merkle-root.");
    println!("alara answers eth_sendRawTransaction once a transaction is valid and taken, and serves its receipt");
    println!(
        "only after the block is fsynced (many blocks per fsync); anvil keeps its chain in memory."
    );
    println!("cold start: the node was stopped with SIGTERM before; after kill -9 it repairs its database first.");
}
