//! `alara fl …` (not yet built).

use crate::context::Context;

/// `alara fl` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {}

/// Runs an `alara fl` subcommand.
pub async fn run(_ctx: &Context, command: Command) -> eyre::Result<()> {
    match command {}
}
