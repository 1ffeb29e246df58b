//! `alara store …` (not yet built).

use crate::context::Context;

/// `alara store` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {}

/// Runs an `alara store` subcommand.
pub async fn run(_ctx: &Context, command: Command) -> eyre::Result<()> {
    match command {}
}
