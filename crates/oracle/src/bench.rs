//! What `alara bench oracle` measures on a chain: the gas of a report with f + 1 ECDSA
//! signatures beside one FROST aggregate signature, and the latency of a whole round —
//! from asking the nodes to observe to reading the answer back from `latestRoundData` —
//! with the nodes on loopback. The benchmark runs both on the embedded chain and on
//! anvil, side by side.

use std::time::{Duration, Instant};

use alara_contracts::OracleAggregator;
use alloy::primitives::Address;
use alloy::providers::DynProvider;
use serde::{Deserialize, Serialize};

use crate::node::{deploy_committee, serve_local, Behaviour, Leader};
use crate::report::{transmit, transmit_aggregate, Observation, Report};
use crate::series::QuoteModel;
use crate::{Error, Result};

/// The gas of reports for one committee size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportGas {
    /// Nodes (observations per report).
    pub n: u8,
    /// Faulty nodes tolerated (f + 1 sign).
    pub f: u8,
    /// f + 1 ECDSA signatures: the first report (cold storage) and a later one.
    pub ecdsa: (u64, u64),
    /// One aggregate signature: the first report and a later one.
    pub aggregate: (u64, u64),
    /// Calldata bytes of a later report: ECDSA, aggregate.
    pub calldata: (usize, usize),
}

/// 2000.00000000 with 8 decimals, and n observations around it.
fn report(digest: alloy::primitives::B256, round: u32, n: u8) -> Result<Report> {
    let obs = (0..n)
        .map(|i| Observation { observer: i, value: 200_000_000_000 + i128::from(i) })
        .collect();
    Report::new(digest, round, obs)
}

/// Deploys two feeds of `n` nodes tolerating `f` and sends two reports to each: one
/// signed by f + 1 ECDSA keys, one by the FROST group key.
pub async fn report_gas(p: &DynProvider, owner: Address, n: u8, f: u8) -> Result<ReportGas> {
    let mut rng = rand::rngs::OsRng;
    let model = QuoteModel::honest(10, 1);
    let mut ecdsa = [0u64; 2];
    let mut aggregate = [0u64; 2];
    let mut calldata = (0, 0);
    let (secrets, c) =
        deploy_committee(p, owner, "bench ecdsa", ("AAPL", model.clone()), (n, f), &mut rng)
            .await?;
    let keys: Vec<_> = secrets[..=usize::from(f)].iter().map(|s| s.key.clone()).collect();
    for (i, round) in [1u32, 2].into_iter().enumerate() {
        let r = report(c.config_digest, round, n)?;
        let sigs = r.sign_all(&keys)?;
        ecdsa[i] = transmit(p, c.aggregator, &r, &sigs).await?.gas_used;
        calldata.0 = 4 + 32 * 4 + r.encode().len().div_ceil(32) * 32 + 64 * sigs.len();
    }
    let (secrets, c) =
        deploy_committee(p, owner, "bench aggregate", ("AAPL", model), (n, f), &mut rng).await?;
    let public = c.public_package()?;
    let shares: Vec<_> = secrets[..=usize::from(f)].iter().map(|s| s.share.clone()).collect();
    for (i, round) in [1u32, 2].into_iter().enumerate() {
        let r = report(c.config_digest, round, n)?;
        let sig = crate::threshold::sign(&r, &shares, &public, &mut rng)?;
        aggregate[i] = transmit_aggregate(p, c.aggregator, &r, &sig).await?.gas_used;
        calldata.1 = 4 + 32 * 4 + r.encode().len().div_ceil(32) * 32 + 64;
    }
    Ok(ReportGas {
        n,
        f,
        ecdsa: (ecdsa[0], ecdsa[1]),
        aggregate: (aggregate[0], aggregate[1]),
        calldata,
    })
}

/// One round timed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundTiming {
    /// Collecting the signed observations (every node runs the detectors).
    pub observe_ms: f64,
    /// The two FROST signing rounds.
    pub sign_ms: f64,
    /// From asking for observations to reading the answer from `latestRoundData`.
    pub total_ms: f64,
}

/// Runs `rounds` rounds of a committee of `n` in-process nodes (each on its own loopback
/// port) watching ten sources of AAPL's closes, and times each.
pub async fn round_latency(
    p: &DynProvider,
    owner: Address,
    n: u8,
    rounds: u32,
) -> Result<Vec<RoundTiming>> {
    let f = (n - 1) / 3;
    let (secrets, c) = deploy_committee(
        p,
        owner,
        "bench latency",
        ("AAPL", QuoteModel::honest(10, 9)),
        (n, f),
        &mut rand::rngs::OsRng,
    )
    .await?;
    let urls = serve_local(&c, &secrets, |_| Behaviour::Honest).await?;
    let feed = OracleAggregator::new(c.aggregator, p.clone());
    let leader = Leader::new(c, urls, Duration::from_secs(10))?;
    let mut out = Vec::new();
    for round in 1..=rounds {
        let t0 = Instant::now();
        let o = leader.round(u64::from(round), round).await?;
        transmit_aggregate(p, *feed.address(), &o.report, &o.signature).await?;
        let read = feed
            .latestRoundData()
            .call()
            .await
            .map_err(|e| Error::Source { source_id: "feed".into(), detail: e.to_string() })?;
        if i128::try_from(read.answer).ok() != Some(o.answer()) {
            return Err(Error::Invalid {
                what: "feed",
                detail: format!("answers {} after a report of {}", read.answer, o.answer()),
            });
        }
        out.push(RoundTiming {
            observe_ms: o.observe_ms,
            sign_ms: o.sign_ms,
            total_ms: t0.elapsed().as_secs_f64() * 1e3,
        });
    }
    Ok(out)
}

/// Settlement gas of `CropInsurance` for one batch size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettleGas {
    /// Policies in the batch.
    pub batch: usize,
    /// Gas of the `settle` call.
    pub gas: u64,
    /// Per policy.
    pub per_policy: u64,
}

async fn chain_time(p: &DynProvider) -> Result<u64> {
    use alloy::providers::Provider;
    let block = p
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .map_err(|e| Error::Source { source_id: "chain".into(), detail: e.to_string() })?;
    Ok(block.map_or(0, |b| b.header.timestamp))
}

/// Moves the chain's clock forward by `seconds` and mines a block (both backends answer
/// `evm_increaseTime` and `anvil_mine`).
async fn advance(p: &DynProvider, seconds: u64) -> Result<()> {
    use alloy::providers::Provider;
    let rpc = |e: alloy::transports::TransportError| Error::Source {
        source_id: "chain".into(),
        detail: e.to_string(),
    };
    let _: serde_json::Value =
        p.raw_request("evm_increaseTime".into(), (seconds,)).await.map_err(rpc)?;
    let _: serde_json::Value = p
        .raw_request("anvil_mine".into(), (alloy::primitives::U256::from(1),))
        .await
        .map_err(rpc)?;
    Ok(())
}

/// Sells one season's cover to 61 policies, posts the season's index through a 4-node
/// feed, and settles batches of 1, 10 and 50 policies: the payout gas per policy.
pub async fn settle_gas(p: &DynProvider, owner: Address) -> Result<Vec<SettleGas>> {
    use alara_contracts::call::send;
    use alara_contracts::CropInsurance;
    use alloy::primitives::U256;
    const ETHER: u128 = 1_000_000_000_000_000_000;
    const DAY: u64 = 86_400;
    let deploy = |e: alloy::contract::Error| Error::Deploy {
        contract: "CropInsurance",
        detail: e.to_string(),
    };
    let (secrets, c) = deploy_committee(
        p,
        owner,
        "bench rainfall",
        ("seattle-rain", QuoteModel::honest(10, 1)),
        (4, 1),
        &mut rand::rngs::OsRng,
    )
    .await?;
    let pool = CropInsurance::deploy(p.clone(), owner, U256::from(DAY), Address::ZERO, U256::ZERO)
        .await
        .map_err(deploy)?;
    send("fund", &pool.fund().value(U256::from(61 * ETHER)), &[]).await?;
    send(
        "setFeed",
        &pool.setFeed(1, c.aggregator, alloy::primitives::aliases::U96::from(1_000_000u64)),
        &[],
    )
    .await?;
    let t = chain_time(p).await?;
    let (start, end) = (t + DAY, t + 2 * DAY);
    let offer = pool.offer(1, start, end, 2500, 1400, ETHER, 1000);
    let product = offer.call().await.map_err(deploy)?;
    send("offer", &offer, &[]).await?;
    let mut ids = Vec::new();
    for _ in 0..61 {
        let r = send("buy", &pool.buy(product).value(U256::from(1000)), &[]).await?;
        let bought =
            alara_contracts::call::event_of::<CropInsurance::Bought>(&r, *pool.address(), "buy")?;
        ids.push(bought.policyId);
    }
    advance(p, end + 60 - chain_time(p).await?).await?;
    let obs = (0..4u8).map(|i| Observation { observer: i, value: 2000 }).collect();
    let r = Report::new(c.config_digest, 1, obs)?;
    let keys: Vec<_> = secrets[..2].iter().map(|s| s.key.clone()).collect();
    transmit(p, c.aggregator, &r, &r.sign_all(&keys)?).await?;
    let mut out = Vec::new();
    let mut rest = &ids[..];
    for batch in [1usize, 10, 50] {
        let (now, tail) = rest.split_at(batch);
        rest = tail;
        let gas = send("settle", &pool.settle(now.to_vec()), &[]).await?.gas_used;
        out.push(SettleGas { batch, gas, per_policy: gas / batch as u64 });
    }
    Ok(out)
}
