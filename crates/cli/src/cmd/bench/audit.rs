//! `alara bench audit` (not yet built).

use crate::context::Context;

/// Arguments of `alara bench audit`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `alara bench audit`.
pub async fn run(_ctx: &Context, _args: Args) -> eyre::Result<()> {
    eyre::bail!("`alara bench audit` is not built yet")
}
