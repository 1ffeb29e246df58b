//! `alara data …` (not yet built).

use crate::context::Context;

/// `alara data` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {}

/// Runs an `alara data` subcommand.
pub async fn run(_ctx: &Context, command: Command) -> eyre::Result<()> {
    match command {}
}
