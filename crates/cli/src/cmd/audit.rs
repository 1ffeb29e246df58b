//! `alara audit …` (not yet built).

use crate::context::Context;

/// `alara audit` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {}

/// Runs an `alara audit` subcommand.
pub async fn run(_ctx: &Context, command: Command) -> eyre::Result<()> {
    match command {}
}
