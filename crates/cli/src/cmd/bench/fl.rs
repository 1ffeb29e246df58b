//! `alara bench fl` (not yet built).

use crate::context::Context;

/// Arguments of `alara bench fl`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `alara bench fl`.
pub async fn run(_ctx: &Context, _args: Args) -> eyre::Result<()> {
    eyre::bail!("`alara bench fl` is not built yet")
}
