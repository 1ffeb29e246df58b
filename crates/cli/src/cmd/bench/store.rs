//! `alara bench store`: add throughput next to the SHA-256 bound over the same bytes
//! (measured in the same run), encrypt+add on one core, durable add to the local store,
//! peak RSS of a streamed add of a large file (default 1 GiB, generated on the fly), and
//! the gas of the data market's list, buy, deliver, confirm and refund, measured on an
//! embedded chain opened in the same run. The store's measurements are
//! `alara_store::bench`; the market's gas is measured here, with alara-market.

use alara_store::bench;
use eyre::WrapErr;

use crate::context::Context;

/// Arguments of `alara bench store`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Bytes hashed/added per throughput measurement (held in memory).
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    pub sample: u64,
    /// Bytes of the streamed add whose peak RSS is reported (generated, never in memory).
    #[arg(long, default_value_t = 1024 * 1024 * 1024)]
    pub size: u64,
    /// Internal: run the streamed add in this process and print its peak RSS.
    #[arg(long, hide = true)]
    pub rss_child: bool,
}

/// Runs `alara bench store`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    if args.rss_child {
        println!("{}", serde_json::to_string(&bench::streamed_add(args.size)?)?);
        return Ok(());
    }
    let json = ctx.json;
    let mut report = tokio::task::spawn_blocking(move || measure(&args)).await??;
    report["market_gas"] = serde_json::to_value(market_gas().await?)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{:<44} {:>10} {:>10}", "measurement (same bytes, one core)", "MB/s", "vs sha256");
        for r in report["rows"].as_array().into_iter().flatten() {
            println!(
                "{:<44} {:>10.0} {:>9.0}%",
                r["name"].as_str().unwrap_or_default(),
                r["mb_per_s"].as_f64().unwrap_or_default(),
                100.0 * r["ratio_to_sha256"].as_f64().unwrap_or_default()
            );
        }
        println!(
            "streamed add of {} MiB to the local store: peak RSS {} MiB, {:.0} MB/s",
            report["rss"]["bytes"].as_u64().unwrap_or_default() >> 20,
            report["rss"]["peak_rss_kib"].as_u64().unwrap_or_default() >> 10,
            report["rss"]["mb_per_s"].as_f64().unwrap_or_default()
        );
        println!("DataMarket gas (embedded chain, ETH listing, whole transaction)");
        for (call, gas) in report["market_gas"].as_object().into_iter().flatten() {
            println!("  {call:<10} {:>8}", gas.as_u64().unwrap_or_default());
        }
    }
    Ok(())
}

fn measure(args: &Args) -> eyre::Result<serde_json::Value> {
    let rows = bench::throughput(args.sample)?;
    // Peak RSS in a fresh process (this one, run with --rss-child), so the sample's buffers
    // do not count.
    let mut child = std::process::Command::new(std::env::current_exe()?);
    child.args(["bench", "store", "--rss-child", "--size", &args.size.to_string()]);
    let rss = bench::streamed_add_in(child).wrap_err("measuring the streamed add's RSS")?;
    Ok(serde_json::json!({ "sample_bytes": args.sample, "rows": rows, "rss": rss }))
}

/// Gas of each market call on an in-memory embedded chain: a listing, a sale that is
/// delivered and confirmed, and a sale refunded after the missed delivery deadline.
async fn market_gas() -> eyre::Result<std::collections::BTreeMap<&'static str, u64>> {
    use alara_market::contract::{self, MarketParams};
    use alara_market::{DataMarket, ListingTerms, Token};
    use alloy::primitives::{B256, U256};
    use alloy::providers::Provider;

    let chain = alara_chain::testing::TestChain::embedded()
        .await
        .map_err(|e| eyre::eyre!("starting an embedded chain: {e}"))?;
    let arbiter = alara_store::encrypt::generate_identity();
    let params = MarketParams::new(alara_market::keys::recipient_bytes(&arbiter.to_public())?);
    let address = contract::deploy(&chain.provider(0), &params).await?;
    let dev = alara_chain::dev::dev_addresses();
    let seller = DataMarket::new(address, chain.provider(1), dev[1]).await?;
    let buyer = DataMarket::new(address, chain.provider(2), dev[2]).await?;
    let terms = ListingTerms {
        token: Token::Eth,
        price: U256::from(10u64).pow(U256::from(17)),
        downloadable: true,
        delivery_window: 3_600,
        cid: "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi".into(),
        plaintext_hash: B256::repeat_byte(0xaa),
        terms_hash: B256::repeat_byte(0xbb),
    };
    let key = alara_market::keys::recipient_bytes(
        &alara_store::encrypt::generate_identity().to_public(),
    )?;
    let envelope = alara_market::keys::seal_dataset_key(
        &alara_store::encrypt::generate_identity(),
        &alara_market::keys::recipient_from_bytes(&key)?,
    )?;
    let mut gas = std::collections::BTreeMap::new();
    let listed = seller.list(&terms).await?;
    gas.insert("list", listed.gas_used);
    let bought = buyer.buy(listed.value, key).await?;
    gas.insert("buy", bought.gas_used);
    gas.insert("deliver", seller.deliver(bought.value, envelope).await?.gas_used);
    gas.insert("confirm", buyer.confirm(bought.value).await?.gas_used);
    let unpaid = buyer.buy(listed.value, key).await?;
    let p = chain.provider(0);
    let _: serde_json::Value = p.raw_request("evm_increaseTime".into(), (3_601u64,)).await?;
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await?;
    gas.insert("refund", buyer.refund(unpaid.value).await?.gas_used);
    Ok(gas)
}
