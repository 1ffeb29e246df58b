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
