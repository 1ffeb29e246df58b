//! Measurements behind `alara bench audit`, kept in the library so the same code runs
//! from the CLI and from `examples/bench.rs`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::entry::{Entry, EntryBody, Inference, ModelRef};
use crate::hash::{leaf_hash, node_hash, sha256, Hash};
use crate::log::Log;
use crate::{Error, Result};

/// A representative entry: an `inference` entry as `alara infer` writes it.
pub fn sample_entry(i: u64) -> Vec<u8> {
    Entry {
        time_ms: 1_700_000_000_000 + i,
        body: EntryBody::Inference(Inference {
            system: "bench-triage".into(),
            model: ModelRef {
                id: "breast_cancer_logreg.onnx".into(),
                version_hash: sha256(b"model"),
            },
            started_ms: 1_700_000_000_000 + i,
            ended_ms: 1_700_000_000_001 + i,
            input: sha256(&i.to_le_bytes()),
            output: sha256(&(!i).to_le_bytes()),
            verified_by: None,
            purpose: "screening".into(),
        }),
    }
    .encode()
}

/// The `p` quantile of sorted values.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The SHA-256 bound: entries per second if all a core did was the two hashes each entry
/// needs (its leaf hash and, amortised, one node hash), on `threads` threads.
pub fn sha_bound(threads: usize, secs: Duration) -> f64 {
    let total = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let total = total.clone();
            std::thread::spawn(move || {
                let entry = sample_entry(t as u64);
                let mut acc = Hash::ZERO;
                let mut n = 0u64;
                while start.elapsed() < secs {
                    for _ in 0..1024 {
                        let l = leaf_hash(&entry);
                        acc = node_hash(&acc, &l);
                    }
                    n += 1024;
                }
                std::hint::black_box(acc);
                total.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    for h in hs {
        let _ = h.join();
    }
    total.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// Durable appends per second: `writers` threads each appending `batch` entries per call
/// (each call returns only once its entries are durable and provable).
pub fn append_throughput(
    log: &Arc<Log>,
    writers: usize,
    batch: usize,
    secs: Duration,
) -> Result<f64> {
    let stop = Arc::new(AtomicBool::new(false));
    let before = log.size();
    let start = Instant::now();
    let hs: Vec<_> = (0..writers)
        .map(|w| {
            let log = log.clone();
            let stop = stop.clone();
            std::thread::spawn(move || -> Result<()> {
                let items: Vec<Vec<u8>> =
                    (0..batch).map(|i| sample_entry((w * batch + i) as u64)).collect();
                while !stop.load(Ordering::Relaxed) {
                    log.append_batch(&items)?;
                }
                Ok(())
            })
        })
        .collect();
    std::thread::sleep(secs);
    stop.store(true, Ordering::Relaxed);
    for h in hs {
        h.join().map_err(|_| Error::Closed("writer panicked".into()))??;
    }
    Ok((log.size() - before) as f64 / start.elapsed().as_secs_f64())
}

/// Append → receipt latency (append, covering checkpoint, inclusion proof) in ms, p50 and
/// p99, with `writers` concurrent single-entry writers.
pub fn receipt_latency(log: &Arc<Log>, writers: usize, secs: Duration) -> Result<(f64, f64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let hs: Vec<_> = (0..writers)
        .map(|w| {
            let log = log.clone();
            let stop = stop.clone();
            std::thread::spawn(move || -> Result<Vec<f64>> {
                let mut lat = Vec::new();
                let data = sample_entry(w as u64);
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let a = log.append(&data)?;
                    let cp = log.checkpoint_covering(a.index)?;
                    std::hint::black_box(log.prove_inclusion(a.index, cp.checkpoint.size)?);
                    lat.push(t.elapsed().as_secs_f64() * 1e3);
                }
                Ok(lat)
            })
        })
        .collect();
    std::thread::sleep(secs);
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for h in hs {
        all.extend(h.join().map_err(|_| Error::Closed("writer panicked".into()))??);
    }
    all.sort_by(f64::total_cmp);
    Ok((quantile(&all, 0.5), quantile(&all, 0.99)))
}

/// The disk's own `fdatasync` latency (4 KiB append + sync) in ms, p50 and p99.
pub fn fsync_latency(dir: &Path) -> Result<(f64, f64)> {
    use std::io::Write;
    let path = dir.join("fsync-probe");
    let io = crate::error::io(&path);
    let run = || -> std::io::Result<Vec<f64>> {
        let mut f = std::fs::File::create(&path)?;
        let mut lat = Vec::new();
        for _ in 0..100 {
            let t = Instant::now();
            f.write_all(&[7u8; 4096])?;
            f.sync_data()?;
            lat.push(t.elapsed().as_secs_f64() * 1e3);
        }
        std::fs::remove_file(&path)?;
        Ok(lat)
    };
    let mut lat = run().map_err(io)?;
    lat.sort_by(f64::total_cmp);
    Ok((quantile(&lat, 0.5), quantile(&lat, 0.99)))
}

/// Inclusion proofs generated per second and verified per second against the latest
/// checkpoint; returns them with the tree size used.
pub fn proof_rates(log: &Log, secs: Duration) -> Result<(f64, f64, u64)> {
    let size = log.latest_checkpoint().map_or(0, |c| c.checkpoint.size);
    if size == 0 {
        return Err(Error::OutOfRange { what: "checkpoint size", requested: 1, available: 0 });
    }
    let root = log.root_at(size)?;
    let mut rng = rand::thread_rng();
    let start = Instant::now();
    let mut made = Vec::new();
    while start.elapsed() < secs {
        let i = rng.gen_range(0..size);
        made.push((log.leaf(i)?, log.prove_inclusion(i, size)?));
    }
    let generated = made.len() as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < secs {
        for (leaf, p) in made.iter().take(1000) {
            p.verify(leaf, &root)?;
            n += 1;
        }
    }
    Ok((generated, n as f64 / start.elapsed().as_secs_f64(), size))
}
