//! `alara lineage` (not yet built).

use crate::context::Context;

/// Arguments of `alara lineage`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `alara lineage`.
pub async fn run(_ctx: &Context, _args: Args) -> eyre::Result<()> {
    eyre::bail!("`alara lineage` is not built yet")
}
