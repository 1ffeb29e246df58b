//! `alara demo nft`: generative art from a prompt to a resale that pays its artist, on the
//! chain of `--rpc-url` (the data directory's node, or its chain opened in this process).
//!
//! An artist generates an image with the shipped CPPN (compiled into the binary), stores
//! image, model, C2PA-style manifest and metadata in the data directory's content store,
//! commits, mints in a later block and reveals the prompt (ProvenanceNFT, deployed once per
//! chain), with an `artwork` entry in the demo's audit log. The artist lists the token on
//! NftMarket for 1 ETH; a collector buys it and resells it for 2 ETH to a second collector;
//! the market pays the artist the 10% ERC-2981 royalty of the resale. Everyone withdraws,
//! and the balances are printed. Finally the provenance is verified: the image regenerated
//! from the on-chain model hash, prompt and seed is byte for byte the stored one.

use std::time::Duration;

use alara_nft::chain::{Collection, Market};
use alara_nft::studio::{self, PromptSource};
use alara_nft::Cppn;
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;
use eyre::{bail, WrapErr};
use serde::Serialize;

use crate::context::Context;

const ETHER: u128 = 1_000_000_000_000_000_000;

/// The demo's audit trail passphrase (public: the trail is a demonstration).
pub const DEMO_PASSPHRASE: &str = "alara-demo-nft";

/// Where the demo records its artwork entries: `<data-dir>/nft-demo`.
pub fn demo_trail_dir(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("nft-demo")
}

/// Arguments of `alara demo nft`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The prompt of the artwork.
    #[arg(long, default_value = "a lighthouse in a storm, painted in light")]
    prompt: String,
    /// The seed (default: a fresh random one, so reruns mint new images).
    #[arg(long)]
    seed: Option<u64>,
    /// Also write the PNG here.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

#[derive(Serialize)]
struct Party {
    role: &'static str,
    address: String,
    credited_wei: String,
    balance_before_wei: String,
    balance_after_wei: String,
}

#[derive(Serialize)]
struct Summary {
    chain_id: u64,
    collection: String,
    market: String,
    token_id: u64,
    seed: u64,
    image_cid: String,
    image_sha256: String,
    token_uri: String,
    first_sale_wei: String,
    resale_wei: String,
    royalty_wei: String,
    parties: Vec<Party>,
    verified: bool,
    checks: Vec<studio::Check>,
    audit_dir: String,
}

fn key(what: &str) -> eyre::Result<PrivateKeySigner> {
    super::demo_key(&format!("nft {what}"))
}

/// Runs `alara demo nft`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    let cppn = Cppn::shipped()?;
    let conn = ctx.connect().await?;
    let p = conn.provider.clone();
    let (nft, from_block) = crate::cmd::nft::collection(ctx, &p).await?;
    let market_addr = alara_contracts::deploy::ensure(&p, &ctx.data_dir, "NftMarket", || async {
        Ok::<_, eyre::Report>(Market::deploy(p.clone()).await?.address())
    })
    .await?;
    let audit_dir = demo_trail_dir(&ctx.data_dir);
    let mut config = alara_audit::TrailConfig::new(&audit_dir, DEMO_PASSPHRASE);
    config.key_work_factor = 10;
    let trail = alara_audit::AuditTrail::open(config).wrap_err("opening the demo's audit trail")?;
    let store = crate::cmd::nft::open_store(ctx)?;

    let roles = [
        ("artist", key("artist")?),
        ("collector 1", key("collector 1")?),
        ("collector 2", key("collector 2")?),
    ];
    for (_, k) in &roles {
        super::fund_if_below(&p, k.address(), U256::from(3 * ETHER), U256::from(5 * ETHER)).await?;
    }
    let as_ = |k: &PrivateKeySigner| -> eyre::Result<DynProvider> {
        Ok(alara_chain::client::provider_for(&conn.url, k.clone())?)
    };
    let (artist, c1, c2) = (roles[0].1.address(), roles[1].1.address(), roles[2].1.address());
    let (pa, p1, p2) = (as_(&roles[0].1)?, as_(&roles[1].1)?, as_(&roles[2].1)?);
    let mut before = Vec::new();
    for a in [artist, c1, c2] {
        before.push(p.get_balance(a).await?);
    }

    // Generate, store, commit, mint in a later block, reveal, audit.
    let seed = args.seed.unwrap_or_else(rand::random);
    let salt = alara_nft::provenance::random_salt();
    let draft = studio::prepare(&store, &cppn, &args.prompt, seed, salt, 1000, true)?;
    if let Some(out) = &args.out {
        alara_store::write_atomic(out, &draft.png)
            .wrap_err_with(|| format!("writing {}", out.display()))?;
    }
    let art = Collection::at(pa.clone(), nft.address());
    let receipt = studio::mint(
        &art,
        artist,
        &draft,
        true,
        Some((&trail, "demo-artist")),
        Duration::from_secs(120),
    )
    .await?;
    let token = receipt.minted.token_id;

    // First sale by the artist, then a resale between collectors.
    let market = Market::at(pa.clone(), market_addr);
    art.approve(market_addr, token).await?;
    let first = U256::from(ETHER);
    let l1 = market.list(nft.address(), token, Address::ZERO, first).await?;
    market.as_(p1.clone()).buy(l1, first).await?;
    Collection::at(p1.clone(), nft.address()).approve(market_addr, token).await?;
    let resale = U256::from(2 * ETHER);
    let l2 = market.as_(p1.clone()).list(nft.address(), token, Address::ZERO, resale).await?;
    let sale = market.as_(p2.clone()).buy(l2, resale).await?;
    if sale.sold.royaltyReceiver != artist || sale.sold.royalty != resale / U256::from(10) {
        bail!(
            "the resale credited {} wei to {}, expected 10% to the artist {artist}",
            sale.sold.royalty,
            sale.sold.royaltyReceiver
        );
    }
    let mut credited = Vec::new();
    for (pp, who) in [(&pa, artist), (&p1, c1), (&p2, c2)] {
        let owed = market.owed(who, Address::ZERO).await?;
        if !owed.is_zero() {
            market.as_(pp.clone()).withdraw(Address::ZERO).await?;
        }
        credited.push(owed);
    }

    // Verify: regenerate from what the chain records, compare with the stored bytes.
    let verdict = studio::verify(
        &nft,
        token,
        &store,
        &cppn,
        PromptSource::Revealed { from_block },
        Some(&trail),
    )
    .await?;
    let mut parties = Vec::new();
    for (i, (role, k)) in roles.iter().enumerate() {
        parties.push(Party {
            role,
            address: k.address().to_string(),
            credited_wei: credited[i].to_string(),
            balance_before_wei: before[i].to_string(),
            balance_after_wei: p.get_balance(k.address()).await?.to_string(),
        });
    }
    let summary = Summary {
        chain_id: conn.chain_id,
        collection: nft.address().to_string(),
        market: market_addr.to_string(),
        token_id: token.to::<u64>(),
        seed,
        image_cid: draft.image_cid.clone(),
        image_sha256: hex::encode(draft.image_sha256),
        token_uri: format!("ipfs://{}", draft.metadata_cid),
        first_sale_wei: first.to_string(),
        resale_wei: resale.to_string(),
        royalty_wei: sale.sold.royalty.to_string(),
        parties,
        verified: verdict.ok,
        checks: verdict.checks.clone(),
        audit_dir: audit_dir.display().to_string(),
    };
    let eth = |w: &str| w.parse::<f64>().unwrap_or(0.0) / 1e18;
    ctx.emit(&summary, || {
        println!("ProvenanceNFT {}, NftMarket {}", summary.collection, summary.market);
        println!(
            "token {}: {:?}, seed {}, image ipfs://{} (sha256 {}…)",
            summary.token_id,
            args.prompt,
            summary.seed,
            summary.image_cid,
            &summary.image_sha256[..16]
        );
        println!("  committed, minted in a later block, prompt revealed; metadata {}", summary.token_uri);
        println!("  artist -> collector 1 for 1 ETH; collector 1 -> collector 2 for 2 ETH, 10% royalty to the artist");
        println!("{:<12} {:<44} {:>12} {:>14} {:>14}", "", "account", "credited", "before", "after");
        for x in &summary.parties {
            println!(
                "{:<12} {:<44} {:>8.4} ETH {:>10.4} ETH {:>10.4} ETH",
                x.role,
                x.address,
                eth(&x.credited_wei),
                eth(&x.balance_before_wei),
                eth(&x.balance_after_wei)
            );
        }
        println!("  (collector 1 paid 1 ETH and was credited 1.8 ETH; balances are net of gas)");
        for c in &summary.checks {
            println!("  {} {:<18} {}", if c.ok { "ok  " } else { "FAIL" }, c.name, c.detail);
        }
        println!(
            "provenance {}: the image regenerated from the on-chain model hash, prompt and seed is byte for byte the stored one",
            if summary.verified { "verified" } else { "NOT verified" }
        );
        println!("the artwork entry is in the audit log {}", summary.audit_dir);
    })?;
    if !verdict.ok {
        bail!("the demo's token did not verify");
    }
    Ok(())
}
