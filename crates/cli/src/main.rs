//! `alara`: the command-line face of the platform.
//!
//! Each area of the platform has a subcommand module under `cmd/`; this file holds the
//! global options and the dispatch. Run `alara --help` for the tour.

// Doc comments on the clap types are the `--help` text users read (`<data-dir>`,
// `fedadam[:LR]`), not rustdoc markup: rustdoc must not read them as HTML or links.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

use clap::{Parser, Subcommand};

mod cmd;
mod context;
mod files;

use context::{Context, GlobalArgs};

/// Alara: AI off-chain, commitments on-chain.
///
/// Start here:
///   alara up                      start the embedded chain and deploy the contracts
///   alara demo data               sell a dataset twice (download and compute-to-data)
///   alara infer --model M --input I   audited inference with receipts
///   alara bench chain             measure the node against anvil
///
/// Every command that touches a chain takes --rpc-url (default: the local node started
/// by `alara up`, or an embedded chain in this process when none is running).
#[derive(Parser, Debug)]
#[command(name = "alara", version, about, long_about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the embedded chain, deploy the core contracts once, and serve until Ctrl-C.
    Up(cmd::up::Args),
    /// Node-only commands: run a bare node, inspect it, manage keystores.
    #[command(subcommand)]
    Chain(cmd::chain::Command),
    /// Content store: add, get, cat, export and import CAR files, remove, garbage-collect.
    #[command(subcommand)]
    Store(cmd::store::Command),
    /// Audit trail: receipts, verification, anchoring, erasure, queries.
    #[command(subcommand)]
    Audit(cmd::audit::Command),
    /// Run an ONNX model on inputs, with an audit receipt per row.
    Infer(cmd::infer::Args),
    /// Tokenized data marketplace: list, buy, deliver, confirm, compute-to-data.
    #[command(subcommand)]
    Data(cmd::data::Command),
    /// Lineage of a dataset or model: dataset CID → jobs → models → inferences.
    Lineage(cmd::lineage::Args),
    /// Federated learning: simulate, coordinate, join as a client, replay a round.
    #[command(subcommand)]
    Fl(cmd::fl::Command),
    /// End-to-end demonstrations on the embedded chain.
    #[command(subcommand)]
    Demo(cmd::demo::Command),
    /// Benchmarks that print Alara next to a peer measured in the same run.
    #[command(subcommand)]
    Bench(cmd::bench::Command),
    /// HTTP API administration: API keys for the API `alara up` serves.
    #[command(subcommand)]
    Api(cmd::api::Command),
}

fn main() -> eyre::Result<()> {
    let cli = Cli::parse();
    context::init_tracing(&cli.global);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let ctx = Context::new(cli.global)?;
        match cli.command {
            Command::Up(args) => cmd::up::run(&ctx, args).await,
            Command::Chain(c) => cmd::chain::run(&ctx, c).await,
            Command::Store(c) => cmd::store::run(&ctx, c).await,
            Command::Audit(c) => cmd::audit::run(&ctx, c).await,
            Command::Infer(args) => cmd::infer::run(&ctx, args).await,
            Command::Data(c) => cmd::data::run(&ctx, c).await,
            Command::Lineage(args) => cmd::lineage::run(&ctx, args).await,
            Command::Fl(c) => cmd::fl::run(&ctx, c).await,
            Command::Demo(c) => cmd::demo::run(&ctx, c).await,
            Command::Bench(c) => cmd::bench::run(&ctx, c).await,
            Command::Api(c) => cmd::api::run(&ctx, c),
        }
    })
}
