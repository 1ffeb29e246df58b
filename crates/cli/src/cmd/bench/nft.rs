//! `alara bench nft`, one run, side by side:
//! - the gas of minting a ProvenanceNFT (commit + mint: the provenance record, the royalty,
//!   `_safeMint`) beside a plain OpenZeppelin ERC-721 `_safeMint` deployed in the same run,
//!   on the embedded chain and on anvil;
//! - images generated per second by the exact (integer) evaluator, PNG included, beside tract
//!   running the same graph on floats, and the largest difference of a channel between them.

use alara_chain::testing::{Backend, TestChain};
use alara_nft::bench::{mint_gas, throughput};
use alara_nft::Cppn;
use eyre::WrapErr;

use crate::context::Context;

/// Arguments of `alara bench nft`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Mints measured each way (after a first one that initialises storage).
    #[arg(long, default_value_t = 5)]
    pub mints: u64,
    /// Images generated each way.
    #[arg(long, default_value_t = 10)]
    pub images: usize,
    /// Only the generator (no chain).
    #[arg(long)]
    pub no_chain: bool,
}

/// Runs `alara bench nft`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    let cppn = Cppn::shipped()?;
    let bar = (!ctx.json).then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_message(format!("generating {} images each way", args.images));
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    });
    let images = {
        let cppn = cppn.clone();
        let n = args.images;
        tokio::task::spawn_blocking(move || throughput(&cppn, n).map_err(|e| eyre::eyre!("{e}")))
            .await??
    };
    let mut gas = Vec::new();
    if !args.no_chain {
        for backend in [Backend::Embedded, Backend::Anvil] {
            if let Some(b) = &bar {
                b.set_message(format!("minting on {backend}"));
            }
            let chain =
                TestChain::start(backend).await.map_err(|e| eyre::eyre!("{e}")).wrap_err_with(
                    || format!("starting {backend} (anvil comes from node_modules: run `npm ci`)"),
                )?;
            let minter = alara_chain::dev::dev_addresses()[0];
            let g = mint_gas(chain.provider(0), minter, args.mints).await?;
            gas.push((backend.to_string(), g));
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let out = serde_json::json!({ "generator": images, "mint_gas": gas });
    ctx.emit(&out, || {
        println!(
            "Generator, {} images of 256x256: exact (integer) {:.1} images/s, tract (float) {:.1} images/s \
             (exact/tract {:.2}); largest channel difference {}/255",
            images.images,
            images.exact_per_s,
            images.tract_per_s,
            images.exact_per_s / images.tract_per_s.max(1e-9),
            images.max_channel_diff
        );
        if !gas.is_empty() {
            println!("\nMint gas (mean of {} mints after the first):", args.mints);
            println!("{:<10} {:>10} {:>10} {:>12} {:>12} {:>7}", "backend", "commit", "mint", "provenance", "plain 721", "ratio");
            for (b, g) in &gas {
                println!(
                    "{:<10} {:>10} {:>10} {:>12} {:>12} {:>6.2}x",
                    b, g.commit, g.mint, g.provenance_total, g.plain_mint, g.ratio
                );
            }
        }
    })
}
