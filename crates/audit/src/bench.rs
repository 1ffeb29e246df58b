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
