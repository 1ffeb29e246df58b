//! `alara infer` (not yet built).

use crate::context::Context;

/// Arguments of `alara infer`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `alara infer`.
pub async fn run(_ctx: &Context, _args: Args) -> eyre::Result<()> {
    eyre::bail!("`alara infer` is not built yet")
}
