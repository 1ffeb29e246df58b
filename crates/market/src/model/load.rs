//! Load on `alara serve`: many buyers, each with its own channel, calling as fast as the
//! server answers — the paid, audited call rate — beside bare tract inference of the same
//! model in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::signers::local::PrivateKeySigner;

use crate::model::client::ChannelClient;
use crate::{Error, Result};

/// One buyer: its voucher key and channel.
#[derive(Clone, Debug)]
pub struct Buyer {
    /// Signs the channel's vouchers.
    pub signer: PrivateKeySigner,
    /// The channel id.
    pub channel: u64,
}

/// What a load run measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LoadResult {
    /// Concurrent clients.
    pub clients: usize,
    /// Calls answered (each paid, audited, durable).
    pub calls: u64,
    /// Wall time.
    pub seconds: f64,
    /// Calls per second.
    pub per_second: f64,
    /// Median latency of a call, ms.
    pub p50_ms: f64,
    /// 99th-percentile latency, ms.
    pub p99_ms: f64,
}

/// Runs `calls_per_client` sequential paid calls from each buyer, all buyers at once,
/// each call one `row`. Fails on the first refused call.
pub async fn paid_calls(
    url: &str,
    buyers: &[Buyer],
    calls_per_client: u64,
    row: &[f32],
) -> Result<LoadResult> {
    let row = Arc::new(vec![row.to_vec()]);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for b in buyers {
        let (url, b, row) = (url.to_string(), b.clone(), row.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = ChannelClient::connect(&url, b.signer, b.channel).await?;
            let mut lat = Vec::with_capacity(calls_per_client as usize);
            for _ in 0..calls_per_client {
                let t = Instant::now();
                client.call(&row).await?;
                lat.push(t.elapsed());
            }
            Ok::<_, Error>(lat)
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for t in tasks {
        let lat = t.await.map_err(|e| Error::Payment(format!("a load client failed: {e}")))??;
        latencies.extend(lat);
    }
    let seconds = start.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    let calls = latencies.len() as u64;
    Ok(LoadResult {
        clients: buyers.len(),
        calls,
        seconds,
        per_second: calls as f64 / seconds.max(1e-9),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
    })
}

/// Bare tract: single-row predictions per second of `model` on `threads` threads for
/// about `duration` (the ceiling the paid path is compared with).
pub fn bare_predictions(
    model: Arc<alara_ml::OnnxModel>,
    row: &[f32],
    threads: usize,
    duration: Duration,
) -> Result<f64> {
    let start = Instant::now();
    let handles: Vec<_> = (0..threads.max(1))
        .map(|_| {
            let (model, row) = (model.clone(), vec![row.to_vec()]);
            std::thread::spawn(move || -> Result<u64> {
                let mut n = 0u64;
                let t = Instant::now();
                while t.elapsed() < duration {
                    for _ in 0..64 {
                        model.predict(&row)?;
                    }
                    n += 64;
                }
                Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.join().map_err(|_| Error::Payment("a tract thread panicked".into()))??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}
