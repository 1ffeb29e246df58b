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
/// and keeping up to `window` calls in flight (a call counts once its entries are durable
/// and provable), as a service with many concurrent requests would.
pub fn append_throughput(
    log: &Arc<Log>,
    writers: usize,
    batch: usize,
    window: usize,
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
                let mut in_flight = std::collections::VecDeque::new();
                while !stop.load(Ordering::Relaxed) {
                    let t = log.enqueue(&items)?;
                    in_flight.push_back(t.index + t.count - 1);
                    if in_flight.len() >= window.max(1) {
                        if let Some(last) = in_flight.pop_front() {
                            log.wait_durable(last)?;
                        }
                    }
                }
                if let Some(last) = in_flight.pop_back() {
                    log.wait_durable(last)?;
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

/// Bytes the log writes per entry of `entry_len` bytes: the record (length prefix and
/// bytes), its offset, and its share of stored node hashes (group headers and
/// checkpoints, a few hundred bytes per group commit, are left out).
pub fn disk_bytes_per_entry(entry_len: usize) -> f64 {
    (entry_len + 4 + 8) as f64 + 64.0 / f64::from(1u32 << crate::log::NODE_FLOOR)
}

/// The disk's durable write bandwidth in bytes per second, measured the way the log
/// writes: 2 MiB appends, each followed by `fdatasync`, four in flight (some being written
/// while others sync). Disks here vary by ±15% from one second to the next, so the log can
/// land a little above this bound in the same run.
pub fn disk_bandwidth(dir: &Path, secs: Duration) -> Result<f64> {
    use std::os::unix::fs::FileExt;
    let path = dir.join("disk-probe");
    let io = crate::error::io(&path);
    let run = || -> std::io::Result<f64> {
        let f = Arc::new(std::fs::File::create(&path)?);
        let chunk = 2usize << 20;
        let next = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let (f, next) = (f.clone(), next.clone());
                std::thread::spawn(move || -> std::io::Result<()> {
                    let buf = vec![0x5au8; chunk];
                    while start.elapsed() < secs {
                        let at = next.fetch_add(chunk as u64, Ordering::Relaxed);
                        f.write_all_at(&buf, at)?;
                        f.sync_data()?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in hs {
            h.join().map_err(|_| std::io::Error::other("probe thread panicked"))??;
        }
        let rate = next.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
        std::fs::remove_file(&path)?;
        Ok(rate)
    };
    run().map_err(io)
}

/// Append → receipt latency as a service sees it: `writers` concurrent requests as tasks
/// on a runtime of `threads` worker threads (one per core), each appending one entry and
/// fetching its receipt (covering checkpoint and inclusion proof). Milliseconds, p50 and
/// p99.
pub fn receipt_latency(
    log: &Arc<Log>,
    writers: usize,
    threads: usize,
    secs: Duration,
) -> Result<(f64, f64)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(crate::error::io("tokio runtime"))?;
    let deadline = Instant::now() + secs;
    let mut all = rt.block_on(async {
        let tasks: Vec<_> = (0..writers)
            .map(|w| {
                let log = log.clone();
                tokio::spawn(async move {
                    let data = sample_entry(w as u64);
                    let mut lat = Vec::new();
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        let a = log.append_batch_async(&[&data]).await?;
                        let cp = log.checkpoint_covering(a.index)?;
                        std::hint::black_box(log.prove_inclusion(a.index, cp.checkpoint.size)?);
                        lat.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                    Ok::<_, Error>(lat)
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.map_err(|_| Error::Closed("writer task panicked".into()))??);
        }
        Ok::<_, Error>(all)
    })?;
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

/// Gas of one anchor transaction and of `verifyInclusion`, split the way a fee is computed.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AnchorGas {
    /// Tree sizes anchored: from `old_size` to `new_size`.
    pub old_size: u64,
    /// New tree size.
    pub new_size: u64,
    /// Hashes in the anchor's calldata (the RFC 9162 consistency proof, plus the old root
    /// when the old size is a power of two).
    pub proof_hashes: usize,
    /// SHA-256 precompile calls the contract makes to check it.
    pub sha_calls: u64,
    /// Gas used by the whole anchor transaction.
    pub anchor_total: u64,
    /// Intrinsic transaction cost.
    pub intrinsic: u64,
    /// Anchor calldata size in bytes.
    pub anchor_calldata_bytes: usize,
    /// Standard calldata cost (4 per zero byte, 16 per other byte).
    pub anchor_calldata: u64,
    /// EIP-7623 floor of the whole transaction (21000 + 10 per calldata token); Prague
    /// charges `max(standard, floor)`.
    pub anchor_floor: u64,
    /// `anchor_total - intrinsic - anchor_calldata`; `None` when the EIP-7623 floor was
    /// charged instead (execution is the same under both forks: read it from Cancun).
    pub anchor_execution: Option<u64>,
    /// Of the execution, the one storage write: cold SLOAD 2100 + SSTORE 2900.
    pub anchor_storage: u64,
    /// `verifyInclusion` with a 30-hash proof as a transaction (`eth_estimateGas`).
    pub verify_as_tx: u64,
    /// Its calldata cost.
    pub verify_calldata: u64,
    /// Its execution gas: what an `eth_call` of the view costs, which is how it is used
    /// (`None` when the estimate is the EIP-7623 floor).
    pub verify_execution: Option<u64>,
}

fn calldata_gas(input: &[u8]) -> u64 {
    input.iter().map(|b| if *b == 0 { 4 } else { 16 }).sum()
}

fn calldata_floor(input: &[u8]) -> u64 {
    21_000 + 10 * input.iter().map(|b| if *b == 0 { 1 } else { 4 }).sum::<u64>()
}

/// SHA-256 calls the RFC 9162 consistency check makes for sizes `m → n` (0 < m < n).
pub fn consistency_sha_calls(m: u64, n: u64) -> u64 {
    let (mut fnode, mut snode) = (m - 1, n - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let steps = crate::proof::consistency_path_len(m, n) - usize::from(!m.is_power_of_two());
    let mut hashes = 0;
    for _ in 0..steps {
        if fnode & 1 == 1 || fnode == snode {
            hashes += 2;
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            hashes += 1;
        }
        fnode >>= 1;
        snode >>= 1;
    }
    hashes
}

/// Deploys a fresh `AuditAnchor`, registers `signer`'s log and measures an anchor from an
/// older size `m` to `n` = 2^30 (+`extra`) carrying a 30-hash consistency proof, then
/// `verifyInclusion` of a leaf in that tree (30 hashes). `provider` must sign for `signer`.
/// `from` picks the older size: the first size at or above it with a 30-hash proof.
pub async fn anchor_gas<P: alloy::providers::Provider + Clone>(
    provider: &P,
    signer: alloy::primitives::Address,
    from: u64,
) -> Result<AnchorGas> {
    use alara_contracts::AuditAnchor;
    use alloy::network::TransactionBuilder;
    use alloy::primitives::B256;
    use alloy::rpc::types::TransactionRequest;
    use alloy::sol_types::SolCall;

    use crate::anchor::{anchor_calldata, anchor_hashes};
    use crate::proof::{consistency_path_len, prove_consistency, prove_inclusion};
    use crate::tree::{Subtrees, UniformTree};

    let chain = |what: &'static str| move |e: String| Error::Chain(format!("{what}: {e}"));
    let c = AuditAnchor::deploy(provider.clone())
        .await
        .map_err(|e| chain("deploying AuditAnchor")(e.to_string()))?;
    let key = B256::from(rand::thread_rng().gen::<[u8; 32]>());
    c.registerLog(key)
        .send()
        .await
        .map_err(|e| chain("registerLog")(e.to_string()))?
        .get_receipt()
        .await
        .map_err(|e| chain("registerLog")(e.to_string()))?;
    let t = UniformTree::new(leaf_hash(b"bench"));
    let n: u64 = 1 << 30;
    let m = (from..n)
        .find(|m| consistency_path_len(*m, n) == 30)
        .ok_or_else(|| Error::Chain("no older size with a 30-hash consistency proof".into()))?;
    let send = |input: alloy::primitives::Bytes| {
        let tx =
            TransactionRequest::default().with_from(signer).with_to(*c.address()).with_input(input);
        async move {
            let r = provider
                .send_transaction(tx)
                .await
                .map_err(|e| chain("anchor")(e.to_string()))?
                .get_receipt()
                .await
                .map_err(|e| chain("anchor receipt")(e.to_string()))?;
            if !r.status() {
                return Err(Error::Chain("anchor reverted".into()));
            }
            Ok(r)
        }
    };
    let (rm, rn) = (t.root(m)?, t.root(n)?);
    send(anchor_calldata(0, m, &anchor_hashes(0, &Hash([0; 32]), &rm, &[]))).await?;
    let path = prove_consistency(&t, m, n)?.path;
    let hashes = anchor_hashes(m, &rm, &rn, &path);
    let input = anchor_calldata(m, n, &hashes);
    let r = send(input.clone()).await?;

    let b = |h: &Hash| B256::from(h.0);
    let index = 123_456_789;
    let incl = prove_inclusion(&t, index, n)?;
    let call = AuditAnchor::verifyInclusionCall {
        signer,
        leafHash: b(&t.leaf()),
        index,
        treeSize: n,
        root: b(&rn),
        proof: incl.path.iter().map(b).collect(),
    };
    let vcall = c.verifyInclusion(
        call.signer,
        call.leafHash,
        call.index,
        call.treeSize,
        call.root,
        call.proof.clone(),
    );
    if !vcall.call().await.map_err(|e| chain("verifyInclusion")(e.to_string()))? {
        return Err(Error::Chain("verifyInclusion returned false".into()));
    }
    let est = vcall.estimate_gas().await.map_err(|e| chain("estimateGas")(e.to_string()))?;
    let vinput = call.abi_encode();
    let vcd = calldata_gas(&vinput);
    let anchor_calldata = calldata_gas(&input);
    Ok(AnchorGas {
        old_size: m,
        new_size: n,
        proof_hashes: hashes.len(),
        sha_calls: consistency_sha_calls(m, n),
        anchor_total: r.gas_used,
        intrinsic: 21_000,
        anchor_calldata_bytes: input.len(),
        anchor_calldata,
        anchor_floor: calldata_floor(&input),
        anchor_execution: (r.gas_used != calldata_floor(&input))
            .then(|| r.gas_used.saturating_sub(21_000 + anchor_calldata)),
        anchor_storage: 2_100 + 2_900,
        verify_as_tx: est,
        verify_calldata: vcd,
        // An estimate is a binary search with some slack above the gas really used, so
        // one near the floor is taken as the floor.
        verify_execution: (est > calldata_floor(&vinput) + 2_000)
            .then(|| est.saturating_sub(21_000 + vcd)),
    })
}

/// The log part of `alara bench audit`: what is measured, and for how long.
#[derive(Clone, Debug)]
pub struct LogBench {
    /// Duration of each throughput phase.
    pub seconds: Duration,
    /// Concurrent writer threads.
    pub writers: usize,
    /// Entries per append call in the batched phase.
    pub batch: usize,
    /// Append calls each writer keeps in flight in the batched phase.
    pub window: usize,
    /// Concurrent receipt requests in the latency phase.
    pub requests: usize,
}

/// Figures of one [`LogBench`] run.
#[derive(Clone, Debug)]
pub struct LogFigures {
    /// What was run.
    pub bench: LogBench,
    /// Cores used (one hashing thread each for the bound).
    pub cores: usize,
    /// Size of the sample entry in bytes.
    pub entry_bytes: usize,
    /// SHA-256 bound, entries per second.
    pub sha256_bound: f64,
    /// Durable appends per second, batched.
    pub batched: f64,
    /// Durable appends per second, single entries (at least 256 writers).
    pub single: f64,
    /// The disk's durable write bandwidth, bytes per second.
    pub disk_bytes_per_s: f64,
    /// Bytes written per entry.
    pub disk_bytes_per_entry: f64,
    /// Append → receipt latency, ms, p50 and p99.
    pub receipt_latency_ms: (f64, f64),
    /// The disk's own fdatasync latency, ms, p50 and p99.
    pub fdatasync_ms: (f64, f64),
    /// Inclusion proofs generated per second.
    pub proofs_generated_per_s: f64,
    /// Inclusion proofs verified offline per second.
    pub proofs_verified_per_s: f64,
    /// Log size the proofs were made in.
    pub size: u64,
}

impl LogBench {
    /// Writers of the single-entry phase: enough to fill a group commit.
    pub fn single_writers(&self) -> usize {
        self.writers.max(256)
    }

    /// Runs every phase in `dir` (two logs and the disk probes are created there), calling
    /// `phase` with a description as each starts.
    pub fn run(&self, dir: &Path, mut phase: impl FnMut(&str)) -> Result<LogFigures> {
        let secs = self.seconds;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

        // 1. SHA-256 bound: a leaf hash and a node hash per leaf, on every core.
        phase("SHA-256 bound (leaf + node hash per entry, all cores)");
        let bound = sha_bound(cores, secs);

        // 2. Durable appends, many concurrent writers, and the disk's own bound.
        let signer = crate::NoteSigner::new("alara.bench/audit", rand::thread_rng().gen())?;
        let log = Arc::new(Log::open(crate::LogConfig::new(dir.join("log"), signer))?);
        phase(&format!("durable appends: {} writers × {}-entry batches", self.writers, self.batch));
        let batched = append_throughput(&log, self.writers, self.batch, self.window, secs)?;
        phase(&format!("durable appends: {} writers × single entries", self.single_writers()));
        let single = append_throughput(&log, self.single_writers(), 1, 1, secs)?;
        phase("the disk's durable write bandwidth (2 MiB appends + fdatasync)");
        let disk = disk_bandwidth(dir, secs)?;

        // 3. Append → receipt latency with group commit, and the disk's own fdatasync.
        // On a log of its own, so the gigabytes just written are not being flushed under it.
        phase(&format!("append → receipt latency ({} concurrent requests)", self.requests));
        let signer = crate::NoteSigner::new("alara.bench/latency", rand::thread_rng().gen())?;
        let fresh = Arc::new(Log::open(crate::LogConfig::new(dir.join("latency-log"), signer))?);
        let latency = receipt_latency(&fresh, self.requests, cores, secs)?;
        fresh.close();
        let fsync = fsync_latency(dir)?;

        // 4. Proofs.
        phase("inclusion proofs: generation and offline verification");
        let (generated, verified, size) = proof_rates(&log, secs)?;
        log.close();
        let entry_bytes = sample_entry(0).len();
        Ok(LogFigures {
            bench: self.clone(),
            cores,
            entry_bytes,
            sha256_bound: bound,
            batched,
            single,
            disk_bytes_per_s: disk,
            disk_bytes_per_entry: disk_bytes_per_entry(entry_bytes),
            receipt_latency_ms: latency,
            fdatasync_ms: fsync,
            proofs_generated_per_s: generated,
            proofs_verified_per_s: verified,
            size,
        })
    }
}

impl LogFigures {
    /// Durable appends per second the disk allows.
    pub fn disk_bound(&self) -> f64 {
        self.disk_bytes_per_s / self.disk_bytes_per_entry
    }

    /// The human table.
    pub fn table(&self) -> Vec<String> {
        let b = &self.bench;
        let (bound, disk_bound) = (self.sha256_bound, self.disk_bound());
        let mut t = vec![
            format!(
                "alara bench audit — {} cores, entry {} bytes (an inference entry), log of {} entries",
                self.cores, self.entry_bytes, self.size
            ),
            String::new(),
            format!(
                "{:<50} {:>11} {:>13} {:>6} {:>11} {:>6}",
                "durable appends/s (proofs available)",
                "alara",
                "SHA-256 bound",
                "ratio",
                "disk bound",
                "ratio"
            ),
        ];
        for (label, rate) in [
            (
                format!(
                    "  {} writers × {}-entry appends, {} in flight",
                    b.writers, b.batch, b.window
                ),
                self.batched,
            ),
            (format!("  {} writers, 1-entry appends", b.single_writers()), self.single),
        ] {
            t.push(format!(
                "{:<50} {:>11.0} {:>13.0} {:>5.0}% {:>11.0} {:>5.0}%",
                label,
                rate,
                bound,
                100.0 * rate / bound,
                disk_bound,
                100.0 * rate / disk_bound
            ));
        }
        t.push(format!(
            "{:<50} {:.0} MB/s ÷ {:.0} bytes per entry; 50% of the SHA-256 bound needs {:.0} MB/s",
            "  disk bound: durable writes",
            self.disk_bytes_per_s / 1e6,
            self.disk_bytes_per_entry,
            bound * 0.5 * self.disk_bytes_per_entry / 1e6
        ));
        t.push(String::new());
        let (lat, fsync) = (self.receipt_latency_ms, self.fdatasync_ms);
        t.push(format!(
            "{:<58} {:>9.2} ms {:>9.2} ms",
            format!("append → receipt latency p50 / p99 ({} requests)", b.requests),
            lat.0,
            lat.1
        ));
        t.push(format!(
            "{:<58} {:>9.2} ms {:>9.2} ms",
            "  the disk's fdatasync alone, p50 / p99 (same run)", fsync.0, fsync.1
        ));
        t.push(format!(
            "{:<58} {:>14.0}",
            "inclusion proofs generated/s", self.proofs_generated_per_s
        ));
        t.push(format!(
            "{:<58} {:>14.0}",
            "inclusion proofs verified offline/s", self.proofs_verified_per_s
        ));
        for k in [20u32, 30] {
            let n = 1u64 << k;
            let hashes = crate::proof::inclusion_path_len(n - 1, n);
            t.push(format!(
                "{:<58} {:>9} hashes = {} bytes (binary)",
                format!("inclusion proof size at 2^{k} leaves"),
                hashes,
                19 + 32 * hashes
            ));
        }
        t
    }

    /// The figures under the keys of `alara bench audit --json`.
    pub fn insert_json(&self, out: &mut serde_json::Map<String, serde_json::Value>) {
        let (lat, fsync) = (self.receipt_latency_ms, self.fdatasync_ms);
        out.insert("entry_bytes".into(), self.entry_bytes.into());
        out.insert("sha256_bound_per_s".into(), self.sha256_bound.into());
        out.insert("disk_bytes_per_s".into(), self.disk_bytes_per_s.into());
        out.insert("disk_bound_per_s".into(), self.disk_bound().into());
        out.insert("appends_per_s_batched".into(), self.batched.into());
        out.insert("appends_per_s_single".into(), self.single.into());
        out.insert("ratio_to_bound_batched".into(), (self.batched / self.sha256_bound).into());
        out.insert("receipt_latency_ms_p50_p99".into(), serde_json::json!([lat.0, lat.1]));
        out.insert("fdatasync_ms_p50_p99".into(), serde_json::json!([fsync.0, fsync.1]));
        out.insert("proofs_generated_per_s".into(), self.proofs_generated_per_s.into());
        out.insert("proofs_verified_per_s".into(), self.proofs_verified_per_s.into());
    }
}

/// Audited against plain inference at batch 1 (µs medians).
#[derive(Clone, Debug)]
pub struct InferenceFigures {
    /// Plain inference.
    pub plain_us: f64,
    /// Audited inference, output returned (the entry is recorded on the auditor's thread).
    pub audited_us: f64,
    /// Audited inference with its durable receipt.
    pub durable_us: f64,
    /// Audited inferences per second.
    pub per_s: f64,
    /// Mean µs per entry spent on the auditor's recording thread.
    pub recorder_us: f64,
}

impl InferenceFigures {
    /// The human table (after a blank line).
    pub fn table(&self) -> Vec<String> {
        vec![
            String::new(),
            format!("{:<58} {:>11.1} µs", "plain tract inference, batch 1 (median)", self.plain_us),
            format!(
                "{:<58} {:>11.1} µs {:>+7.1}%",
                "audited inference, output returned (median)",
                self.audited_us,
                100.0 * (self.audited_us - self.plain_us) / self.plain_us
            ),
            format!(
                "{:<58} {:>11.1} µs",
                "  recording, on the auditor's thread (mean per entry)", self.recorder_us
            ),
            format!(
                "{:<58} {:>11.1} µs",
                "audited inference with durable receipt (median)", self.durable_us
            ),
        ]
    }

    /// The figures under the keys of `alara bench audit --json`.
    pub fn insert_json(&self, out: &mut serde_json::Map<String, serde_json::Value>) {
        out.insert(
            "inference_us_plain_audited_durable".into(),
            serde_json::json!([self.plain_us, self.audited_us, self.durable_us]),
        );
        out.insert("recorder_us_per_entry".into(), self.recorder_us.into());
    }
}

/// Measures [`InferenceFigures`] for a model of `width` inputs, run by `predict`, recorded
/// into a throw-away trail in `dir`: 2,000 plain and audited inferences interleaved (so
/// drift on a shared machine hits both alike), then 50 with their durable receipts.
pub fn audited_inference<O, E>(
    dir: &Path,
    model: ModelRef,
    width: usize,
    mut predict: impl FnMut(&[Vec<f32>]) -> std::result::Result<Vec<O>, E>,
) -> std::result::Result<InferenceFigures, E>
where
    O: serde::Serialize + Clone + Send + 'static,
    E: From<Error>,
{
    use crate::audited::{InferenceAuditor, UseContext};
    use crate::entry::now_ms;
    let mut cfg = crate::TrailConfig::new(dir.join("trail"), "bench passphrase (throw-away trail)");
    cfg.key_work_factor = 10;
    let trail = Arc::new(crate::AuditTrail::open(cfg)?);
    let auditor = InferenceAuditor::new(trail.clone(), model, "bench");
    let row = vec![vec![0.5f32; width]];
    let ctx = UseContext {
        subjects: vec!["bench-subject".into()],
        verified_by: None,
        purpose: "bench".into(),
    };
    let n = 2000;
    let mut plain = Vec::with_capacity(n);
    let mut audited = Vec::with_capacity(n);
    let start = Instant::now();
    let mut last = None;
    for _ in 0..n {
        let t = Instant::now();
        std::hint::black_box(predict(&row)?);
        plain.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        let s = now_ms();
        let p = predict(&row)?;
        let pending = auditor.submit(s, now_ms(), row.clone(), p, &ctx)?;
        audited.push(t.elapsed().as_secs_f64() * 1e6);
        last = Some(pending);
    }
    if let Some(p) = last {
        let rows = p.rows()?;
        trail.wait(rows[0].leaf_index)?;
    }
    let per_s = n as f64 / start.elapsed().as_secs_f64();
    let (recorded, busy) = auditor.recorder_stats();
    let recorder_us = busy.as_secs_f64() * 1e6 / recorded.max(1) as f64;
    let mut durable = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let s = now_ms();
        let p = predict(&row)?;
        let a = auditor.record(s, now_ms(), &row, &p, &ctx)?;
        std::hint::black_box(auditor.receipts(&a)?);
        durable.push(t.elapsed().as_secs_f64() * 1e6);
    }
    for v in [&mut plain, &mut audited, &mut durable] {
        v.sort_by(f64::total_cmp);
    }
    Ok(InferenceFigures {
        plain_us: quantile(&plain, 0.5),
        audited_us: quantile(&audited, 0.5),
        durable_us: quantile(&durable, 0.5),
        per_s,
        recorder_us,
    })
}

/// Header of the gas table: one column per rule set.
pub fn gas_table_header() -> String {
    format!(
        "{:<58} {:>14} {:>14}",
        "AuditAnchor gas (30-hash consistency proof, 2^30 leaves)", "cancun", "prague"
    )
}

/// Rows of the gas table, Cancun beside Prague.
pub fn gas_table(c: &AnchorGas, p: &AnchorGas) -> Vec<String> {
    let opt = |x: Option<u64>| x.map_or("(floor)".to_string(), |v| v.to_string());
    let line = |name: String, a: String, b: String| format!("{name:<58} {a:>14} {b:>14}");
    // Cancun has no calldata floor, so its estimate minus intrinsic and calldata is the
    // execution; the opcodes cost the same under Prague.
    let verify_execution = |g: &AnchorGas| {
        g.verify_execution.or(Some(c.verify_as_tx.saturating_sub(21_000 + c.verify_calldata)))
    };
    vec![
        line(
            "anchor, whole transaction (goal ≤ 60000)".into(),
            c.anchor_total.to_string(),
            p.anchor_total.to_string(),
        ),
        line("  intrinsic".into(), c.intrinsic.to_string(), p.intrinsic.to_string()),
        line(
            format!("  calldata, standard ({} bytes)", c.anchor_calldata_bytes),
            c.anchor_calldata.to_string(),
            p.anchor_calldata.to_string(),
        ),
        line(
            format!("  execution ({} SHA-256 calls, event, dispatch)", c.sha_calls),
            opt(c.anchor_execution),
            opt(p.anchor_execution),
        ),
        line(
            "    of which storage (cold SLOAD + SSTORE, one slot)".into(),
            c.anchor_storage.to_string(),
            p.anchor_storage.to_string(),
        ),
        line(
            "  EIP-7623 floor (Prague charges max(standard, floor))".into(),
            "n/a".into(),
            p.anchor_floor.to_string(),
        ),
        line(
            "verifyInclusion as eth_call: execution gas (goal ≤ 60000)".into(),
            opt(verify_execution(c)),
            opt(verify_execution(p)),
        ),
        line(
            "  same, sent as a transaction (eth_estimateGas)".into(),
            c.verify_as_tx.to_string(),
            p.verify_as_tx.to_string(),
        ),
    ]
}

/// Chain transactions per audited inference under `policy`, at `inference_per_s` audited
/// inferences a second (unknown: one anchor every `policy.every_entries`), with its table
/// line.
pub fn chain_tx_per_inference(
    policy: &crate::anchor::AnchorPolicy,
    inference_per_s: Option<f64>,
) -> (f64, String) {
    let per_inference = match inference_per_s {
        Some(rate) => {
            1.0 / (policy.every_entries as f64).min(rate * policy.every.as_secs_f64()).max(1.0)
        }
        None => 1.0 / policy.every_entries as f64,
    };
    let line = format!(
        "{:<58} {:>14.1e}",
        format!(
            "chain txs per audited inference (every {} entries / {} s)",
            policy.every_entries,
            policy.every.as_secs()
        ),
        per_inference
    );
    (per_inference, line)
}
