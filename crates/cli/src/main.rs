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

use context::{ChainArgs, Context, GlobalArgs};

/// Alara: AI off-chain, commitments on-chain.
///
/// Start here:
///   alara up                      start the embedded chain and deploy the contracts
///   alara demo data               sell a dataset twice (download and compute-to-data)
///   alara infer --model M --input I   audited inference with receipts
///   alara bench chain             measure the node against anvil
///
/// Every command that touches a chain (audit, data, fl, demo, chain) takes --rpc-url.
/// Default: the node `alara up` serves for --data-dir, or that data directory's chain
/// opened in this process when none is running.
///
/// Secrets come from the environment (or a prompt on a terminal), never from flags:
///   ALARA_LOG_KEY_PASSWORD   the audit log key's passphrase (commands that write the log)
///   ALARA_KEYSTORE_PASSWORD  the password of --keystore FILE
#[derive(Parser, Debug)]
#[command(
    name = "alara",
    version,
    about,
    long_about,
    propagate_version = true,
    verbatim_doc_comment
)]
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
    Chain {
        #[command(flatten)]
        chain: ChainArgs,
        #[command(subcommand)]
        command: cmd::chain::Command,
    },
    /// Content store: add, get, cat, export and import CAR files, remove, garbage-collect.
    #[command(subcommand)]
    Store(cmd::store::Command),
    /// Audit trail: receipts, verification, anchoring, erasure, queries.
    Audit {
        #[command(flatten)]
        chain: ChainArgs,
        #[command(subcommand)]
        command: cmd::audit::Command,
    },
    /// Run an ONNX model on inputs, with an audit receipt per row.
    Infer(cmd::infer::Args),
    /// Tokenized data marketplace: list, buy, deliver, confirm, compute-to-data.
    Data {
        #[command(flatten)]
        chain: ChainArgs,
        #[command(subcommand)]
        command: cmd::data::Command,
    },
    /// Model marketplace: publish, list, show, pull, versions, usage, channels, licences.
    Model {
        #[command(flatten)]
        chain: ChainArgs,
        #[command(subcommand)]
        command: cmd::model::Command,
    },
    /// Serve a registered model over HTTP, paid per call (channels) or by licence, every
    /// call audited.
    Serve {
        #[command(flatten)]
        chain: ChainArgs,
        #[command(flatten)]
        args: cmd::model::ServeArgs,
    },
    /// Lineage of a dataset or model: dataset CID → jobs → models → inferences.
    Lineage(cmd::lineage::Args),
    /// Federated learning: simulate, coordinate, join as a client, replay a round.
    Fl {
        #[command(flatten)]
        chain: ChainArgs,
        #[command(subcommand)]
        command: cmd::fl::Command,
    },
    /// AI oracle feeds: many sources, outlier detection, a robust consensus, node network.
    Oracle {
        #[command(flatten)]
        chain: ChainArgs,
        #[command(subcommand)]
        command: cmd::oracle::Command,
    },
    /// Generative art with reproducible provenance: mint, verify, show (ProvenanceNFT).
    Nft {
        #[command(flatten)]
        chain: ChainArgs,
        #[command(subcommand)]
        command: cmd::nft::Command,
    },
    /// Verifiable compute: post tasks, run workers and validators, dispute a wrong claim
    /// down to one operator re-executed on-chain (ComputeMarket, DisputeGame).
    Compute {
        #[command(flatten)]
        chain: ChainArgs,
        #[command(subcommand)]
        command: cmd::compute::Command,
    },
    /// End-to-end demonstrations on the embedded chain.
    Demo {
        #[command(flatten)]
        chain: ChainArgs,
        #[command(subcommand)]
        command: cmd::demo::Command,
    },
    /// Benchmarks that print Alara next to a peer measured in the same run.
    #[command(subcommand)]
    Bench(cmd::bench::Command),
    /// HTTP API administration: API keys for the API `alara up` serves.
    #[command(subcommand)]
    Api(cmd::api::Command),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    context::init_tracing(&cli.global);
    let json = cli.global.json;
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            context::report_error(&e, json);
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> eyre::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let ctx = Context::new(cli.global)?;
        match cli.command {
            Command::Up(args) => cmd::up::run(&ctx, args).await,
            Command::Chain { chain, command } => {
                cmd::chain::run(&ctx.with_chain(chain), command).await
            }
            Command::Store(c) => cmd::store::run(&ctx, c).await,
            Command::Audit { chain, command } => {
                cmd::audit::run(&ctx.with_chain(chain), command).await
            }
            Command::Infer(args) => cmd::infer::run(&ctx, args).await,
            Command::Data { chain, command } => {
                cmd::data::run(&ctx.with_chain(chain), command).await
            }
            Command::Model { chain, command } => {
                cmd::model::run(&ctx.with_chain(chain), command).await
            }
            Command::Serve { chain, args } => cmd::model::serve(&ctx.with_chain(chain), args).await,
            Command::Lineage(args) => cmd::lineage::run(&ctx, args).await,
            Command::Fl { chain, command } => cmd::fl::run(&ctx.with_chain(chain), command).await,
            Command::Demo { chain, command } => {
                cmd::demo::run(&ctx.with_chain(chain), command).await
            }
            Command::Oracle { chain, command } => {
                cmd::oracle::run(&ctx.with_chain(chain), command).await
            }
            Command::Nft { chain, command } => cmd::nft::run(&ctx.with_chain(chain), command).await,
            Command::Compute { chain, command } => {
                cmd::compute::run(&ctx.with_chain(chain), command).await
            }
            Command::Bench(c) => cmd::bench::run(&ctx, c).await,
            Command::Api(c) => cmd::api::run(&ctx, c),
        }
    })
}
