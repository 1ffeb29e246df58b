//! `alara demo fl` (not yet built).

use crate::context::Context;

/// Arguments of `alara demo fl`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `alara demo fl`.
pub async fn run(_ctx: &Context, _args: Args) -> eyre::Result<()> {
    eyre::bail!("`alara demo fl` is not built yet")
}
