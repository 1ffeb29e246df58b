//! `alara demo data` (not yet built).

use crate::context::Context;

/// Arguments of `alara demo data`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `alara demo data`.
pub async fn run(_ctx: &Context, _args: Args) -> eyre::Result<()> {
    eyre::bail!("`alara demo data` is not built yet")
}
