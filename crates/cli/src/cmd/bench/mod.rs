//! `alara bench …`: each benchmark measures Alara and a peer in the same run and prints
//! ratios, because absolute numbers on a shared 2-core machine mean little.

use crate::context::Context;

pub mod api;
pub mod audit;
pub mod chain;
pub mod compute;
pub mod fl;
pub mod market;
pub mod nft;
pub mod oracle;
pub mod store;

/// Benchmarks.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// ERC-20 transfers/s over JSON-RPC and cold start: embedded node vs anvil.
    Chain(chain::Args),
    /// API receipts and appends vs the library, dashboard paint, node memory.
    Api(api::Args),
    /// Audit log appends/s vs the SHA-256 bound, latency, proofs, gas, audited inference.
    Audit(audit::Args),
    /// Content store add throughput vs the SHA-256 bound, encryption, memory, market gas.
    Store(store::Args),
    /// Verifiable compute: a dispute played to the diverging operator (rounds, gas of
    /// every move, one-step gas), fixed-point accuracy beside tract, EZKL on the same MLP.
    Compute(compute::Args),
    /// Federated learning accuracy, robustness, scale and settlement gas.
    Fl(fl::Args),
    /// Model marketplace: voucher verification, paid audited calls through `alara serve`
    /// beside bare tract, claim gas for 1 and 10,000 calls.
    Market(market::Args),
    /// ProvenanceNFT mint gas vs a plain ERC-721, images generated per second vs tract.
    Nft(nft::Args),
    /// Oracle error under attack (median vs baselines vs learned), report gas, round latency.
    Oracle(oracle::Args),
}

/// Runs a benchmark.
pub async fn run(ctx: &Context, command: Command) -> eyre::Result<()> {
    match command {
        Command::Chain(args) => chain::run(ctx, args).await,
        Command::Api(args) => api::run(ctx, args).await,
        Command::Audit(args) => audit::run(ctx, args).await,
        Command::Store(args) => store::run(ctx, args).await,
        Command::Compute(args) => compute::run(ctx, args).await,
        Command::Fl(args) => fl::run(ctx, args).await,
        Command::Market(args) => market::run(ctx, args).await,
        Command::Nft(args) => nft::run(ctx, args).await,
        Command::Oracle(args) => oracle::run(ctx, args).await,
    }
}
