//! `alara demo insurance`: parametric drought cover on the chain of `--rpc-url` (the data
//! directory's node, or its chain opened in this process), paid from Seattle's real rainfall
//! (datasets/seattle_weather.csv, 2012–2015).
//!
//! An `OracleAggregator` rainfall feed (four oracle nodes, f = 1, reports signed by two), the
//! network's `UptimeFeed` (reported up) and a `CropInsurance` pool are deployed and funded;
//! the pool settles only while the network has been up for an hour, and refuses a rainfall
//! index above 2,000 mm. For each growing season (May–September) two
//! farmers buy cover, one standard (trigger 250 mm, exit 140 mm), one wider (trigger 300 mm,
//! exit 200 mm). The chain's clock is moved past the season (a dev chain's
//! `evm_increaseTime`; the seasons are replayed, shifted to the chain's present, whole
//! days). The nodes report the season's real rainfall, the pool settles the season's
//! policies from the signed index, on-chain, by Etherisc's AYII rule (nothing above the
//! trigger, all below the exit, linear between), and each farmer withdraws what is owed.

use alara_contracts::call::{event_of, send};
use alara_contracts::{CropInsurance, OracleAggregator, UptimeFeed};
use alara_oracle::crop::DEMO_COVERS;
use alara_oracle::health::{post_status, Status};
use alara_oracle::report::{transmit, Observation, Report};
use alloy::primitives::aliases::U96;
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;
use eyre::{bail, WrapErr};
use serde::Serialize;

use crate::context::Context;

const DAY: u64 = 86_400;
const ETHER: u128 = 1_000_000_000_000_000_000;
const SEATTLE: u32 = 1;
/// The largest May–September rainfall the pool accepts as an index: 2,000.0 mm, in tenths
/// (the wettest of the shipped seasons had 284.8 mm).
const MAX_INDEX: u64 = 20_000;
/// How long after the oracle network comes back up the pool still refuses to settle.
const GRACE: u64 = 3600;

/// The demo's audit trail passphrase (public: the trail is a demonstration).
pub const DEMO_PASSPHRASE: &str = "alara-demo-insurance";

/// Where the demo records its decisions: `<data-dir>/insurance-demo`.
pub fn demo_trail_dir(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("insurance-demo")
}

/// Arguments of `alara demo insurance`. It moves the chain's clock forward by 153 days and
/// more per season (a dev chain's `evm_increaseTime`).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Seasons to replay, from 2012 (1 to 4: 2012–2015).
    #[arg(long, default_value_t = 4)]
    seasons: usize,
}

#[derive(Serialize)]
struct Paid {
    season: u32,
    rainfall_mm: f64,
    farmer: String,
    cover: &'static str,
    trigger_mm: f64,
    exit_mm: f64,
    sum_insured_wei: String,
    payout_wei: String,
    why: String,
    settle_tx: String,
}

#[derive(Serialize)]
struct Summary {
    audit_dir: String,
    feed: String,
    uptime: String,
    pool: String,
    chain_id: u64,
    paid: Vec<Paid>,
    pool_left_wei: String,
}

fn key(what: &str) -> eyre::Result<PrivateKeySigner> {
    super::demo_key(&format!("insurance {what}"))
}

async fn now(p: &DynProvider) -> eyre::Result<u64> {
    Ok(p.get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await?
        .ok_or_else(|| eyre::eyre!("the chain has no latest block"))?
        .header
        .timestamp)
}

fn why(rain: u128, trigger: u128, exit: u128) -> String {
    let mm = |x: u128| x as f64 / 10.0;
    if rain >= trigger {
        format!(
            "{:.1} mm of rain is not below the trigger {:.1} mm: no drought, nothing paid",
            mm(rain),
            mm(trigger)
        )
    } else if rain <= exit {
        format!(
            "{:.1} mm is at or below the exit {:.1} mm: the sum insured in full",
            mm(rain),
            mm(exit)
        )
    } else {
        format!(
            "{:.1} mm is between the trigger {:.1} and the exit {:.1} mm: {:.1}% of the sum insured",
            mm(rain),
            mm(trigger),
            mm(exit),
            (trigger - rain) as f64 / (trigger - exit) as f64 * 100.0
        )
    }
}

/// Runs `alara demo insurance`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    if args.seasons == 0 || args.seasons > 4 {
        bail!("--seasons must be 1 to 4 (the shipped rainfall covers 2012-2015)");
    }
    let conn = ctx.connect().await?;
    let p = conn.provider.clone();
    let owner = conn.signer;
    // Every decision is an audit entry: each season's signed index (`oracle_round`) and each
    // policy's payout (`payout`, zero included, with the settlement transaction).
    let audit_dir = demo_trail_dir(&ctx.data_dir);
    let mut config = alara_audit::TrailConfig::new(&audit_dir, DEMO_PASSPHRASE);
    config.key_work_factor = 10;
    let trail = alara_audit::AuditTrail::open(config).wrap_err("opening the demo's audit trail")?;

    // The feed: four oracle nodes, f = 1, rainfall with one decimal.
    let nodes: Vec<PrivateKeySigner> =
        (0..4).map(|i| key(&format!("oracle node {i}"))).collect::<eyre::Result<_>>()?;
    let feed =
        OracleAggregator::deploy(p.clone(), owner, 1, "Seattle May-Sep rainfall (mm)".into())
            .await
            .wrap_err("deploying the rainfall feed (OracleAggregator)")?;
    let addrs: Vec<Address> = nodes.iter().map(PrivateKeySigner::address).collect();
    let none = alara_oracle::threshold::GroupKey::none();
    send("setConfig", &feed.setConfig(addrs, 1, none), &[]).await?;
    let digest = feed.configDigest().call().await?;

    // The network's status, reported by the demo's owner account (its leader): up from now.
    let uptime =
        UptimeFeed::deploy(p.clone(), owner, owner, "Seattle rainfall oracle uptime".into())
            .await
            .wrap_err("deploying the uptime feed (UptimeFeed)")?;
    post_status(&p, *uptime.address(), Status::Up, now(&p).await?).await?;

    // The pool: 10 ETH of capital; answers older than a day are refused at settlement, and so
    // is settling within an hour of the network coming back up.
    let pool = CropInsurance::deploy(
        p.clone(),
        owner,
        U256::from(DAY),
        *uptime.address(),
        U256::from(GRACE),
    )
    .await
    .wrap_err("deploying CropInsurance")?;
    send("fund", &pool.fund().value(U256::from(10 * ETHER)), &[]).await?;
    send("setFeed", &pool.setFeed(SEATTLE, *feed.address(), U96::from(MAX_INDEX)), &[]).await?;

    let farmers: Vec<PrivateKeySigner> =
        (0..DEMO_COVERS.len()).map(|i| key(&format!("farmer {i}"))).collect::<eyre::Result<_>>()?;
    for f in &farmers {
        let gas_money = U256::from(2 * ETHER);
        super::fund_if_below(&p, f.address(), gas_money, gas_money).await?;
    }

    let premium = ETHER / 10;
    let mut paid = Vec::new();
    for (round, year) in (2012u32..).take(args.seasons).enumerate() {
        // May-September, in tenths of a millimetre (what the oracle nodes report).
        let rain = alara_oracle::series::season_rainfall(year, 5..=9)?;
        // The season (May 1 – Oct 1, 153 days) replayed from tomorrow, whole days.
        let start = (now(&p).await? / DAY + 1) * DAY;
        let end = start + 153 * DAY;
        let mut policies = Vec::new();
        for (i, (name, cover)) in DEMO_COVERS.iter().enumerate() {
            let offer = pool.offer(
                SEATTLE,
                start,
                end,
                cover.trigger,
                cover.exit,
                cover.sum_insured,
                premium,
            );
            let product = offer.call().await?;
            send("offer", &offer, &[]).await?;
            let farmer = alara_chain::client::provider_for(&conn.url, farmers[i].clone())?;
            let as_farmer = CropInsurance::new(*pool.address(), farmer);
            let r = send("buy", &as_farmer.buy(product).value(U256::from(premium)), &[]).await?;
            let bought = event_of::<CropInsurance::Bought>(&r, *pool.address(), "buy")?;
            policies.push((i, *name, *cover, bought.policyId));
        }
        super::warp(&p, end + 1 - now(&p).await?, "insurance").await?;
        let obs = [rain as i128 - 1, rain as i128, rain as i128, rain as i128 + 2]
            .iter()
            .enumerate()
            .map(|(i, &value)| Observation { observer: i as u8, value })
            .collect();
        let report = Report::new(digest, round as u32 + 1, obs)?;
        let sigs = report.sign_all(&nodes[..2])?;
        transmit(&p, *feed.address(), &report, &sigs).await?;
        let quotes: Vec<(String, f64)> = report
            .observations
            .iter()
            .map(|o| (format!("node-{}", o.observer), o.value as f64))
            .collect();
        trail.append(&alara_audit::entry::Entry {
            time_ms: alara_audit::entry::now_ms(),
            body: alara_audit::entry::EntryBody::OracleRound(alara_audit::entry::OracleRound {
                feed: format!("seattle-rainfall/{year}"),
                round: round as u64 + 1,
                value: rain as i128,
                decimals: 1,
                quotes: alara_audit::Hash(alara_oracle::consensus::quotes_commitment(&quotes)),
                accepted: quotes.len() as u32,
                dropped: "[]".into(),
                detector: alara_audit::hash::sha256(
                    b"OracleAggregator: median of f+1-signed observations",
                ),
                confidence_bp: 10_000,
            }),
        })?;
        let ids: Vec<U256> = policies.iter().map(|x| x.3).collect();
        let settled = send("settle", &pool.settle(ids), &[]).await?;
        for (i, name, cover, id) in policies {
            let amount = settled
                .inner
                .logs()
                .iter()
                .filter_map(|l| l.log_decode::<CropInsurance::Settled>().ok())
                .find(|l| l.inner.data.policyId == id)
                .map(|l| l.inner.data.payout)
                .ok_or_else(|| eyre::eyre!("policy {id} was not settled"))?;
            // The pool's payout is the one the API and the dashboard quote for this cover.
            if amount != U256::from(cover.payout(rain)) {
                bail!(
                    "policy {id} ({name}, season {year}, index {rain}) was paid {amount} wei on-chain \
                     but alara_oracle::crop computes {} wei: the contract and crop.rs disagree",
                    cover.payout(rain)
                );
            }
            if amount > U256::ZERO {
                let farmer = alara_chain::client::provider_for(&conn.url, farmers[i].clone())?;
                send("withdraw", &CropInsurance::new(*pool.address(), farmer).withdraw(), &[])
                    .await?;
            }
            trail.append(&alara_audit::entry::Entry {
                time_ms: alara_audit::entry::now_ms(),
                body: alara_audit::entry::EntryBody::Payout(alara_audit::entry::Payout {
                    context: format!("crop-insurance/{}/policy/{id}/season/{year}", pool.address()),
                    recipient: farmers[i].address().to_string(),
                    token: "ETH".into(),
                    amount: amount.to::<u128>(),
                    tx: Some(alara_audit::Hash(settled.transaction_hash.0)),
                }),
            })?;
            paid.push(Paid {
                season: year,
                rainfall_mm: rain as f64 / 10.0,
                farmer: farmers[i].address().to_string(),
                cover: name,
                trigger_mm: cover.trigger as f64 / 10.0,
                exit_mm: cover.exit as f64 / 10.0,
                sum_insured_wei: cover.sum_insured.to_string(),
                payout_wei: amount.to_string(),
                why: why(rain, cover.trigger, cover.exit),
                settle_tx: settled.transaction_hash.to_string(),
            });
        }
    }
    let left = p.get_balance(*pool.address()).await?;
    let summary = Summary {
        audit_dir: audit_dir.display().to_string(),
        feed: feed.address().to_string(),
        uptime: uptime.address().to_string(),
        pool: pool.address().to_string(),
        chain_id: conn.chain_id,
        paid,
        pool_left_wei: left.to_string(),
    };
    ctx.emit(&summary, || {
        println!(
            "rainfall feed (OracleAggregator) {}, uptime feed (UptimeFeed) {}, pool (CropInsurance) {}",
            summary.feed, summary.uptime, summary.pool
        );
        println!("{:>6}  {:>9}  {:<8}  {:>14}  why", "season", "rain mm", "cover", "paid");
        for x in &summary.paid {
            let eth = x.payout_wei.parse::<f64>().unwrap_or(0.0) / 1e18;
            println!("{:>6}  {:>9.1}  {:<8}  {:>10.4} ETH  {}", x.season, x.rainfall_mm, x.cover, eth, x.why);
        }
        println!("each payout was computed on-chain from the oracle's signed index and withdrawn by the farmer");
        println!("every index and payout is an entry in the audit log {}", summary.audit_dir);
        println!("pool left: {:.4} ETH", summary.pool_left_wei.parse::<f64>().unwrap_or(0.0) / 1e18);
    })
}
