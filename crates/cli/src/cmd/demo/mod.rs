//! `alara demo …`: end-to-end demonstrations on the embedded chain.

use crate::context::Context;

pub mod audit;
pub mod data;
pub mod fl;

/// Demonstrations.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Audited inference on the shipped breast-cancer model: log, anchor, receipt, verify on-chain.
    Audit(audit::Args),
    /// Sell a hospital-style dataset twice: by download and by compute-to-data.
    Data(data::Args),
    /// Federated training across simulated hospitals, one settlement transaction per round.
    Fl(fl::Args),
}

/// Runs a demonstration.
pub async fn run(ctx: &Context, command: Command) -> eyre::Result<()> {
    match command {
        Command::Audit(args) => audit::run(ctx, args).await,
        Command::Data(args) => data::run(ctx, args).await,
        Command::Fl(args) => fl::run(ctx, args).await,
    }
}
