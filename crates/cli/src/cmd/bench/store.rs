//! `alara bench store` (not yet built).

use crate::context::Context;

/// Arguments of `alara bench store`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `alara bench store`.
pub async fn run(_ctx: &Context, _args: Args) -> eyre::Result<()> {
    eyre::bail!("`alara bench store` is not built yet")
}
