//! `alara bench audit`: the audit log measured against the SHA-256 bound of the same
//! machine in the same run, plus latency, proofs, gas and the cost of auditing inference.
//! `--crash` runs the SIGKILL crash test instead (100 cycles by default).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alara_audit::anchor::AnchorPolicy;
use alara_audit::audited::{InferenceAuditor, UseContext};
use alara_audit::bench::{
    append_throughput, disk_bandwidth, disk_bytes_per_entry, fsync_latency, proof_rates,
    quantile as pct, receipt_latency, sample_entry, sha_bound,
};
use alara_audit::entry::{now_ms, ModelRef};
use alara_audit::proof::inclusion_path_len;
use alara_audit::{AuditTrail, Hash, Log, LogConfig, NoteSigner, TrailConfig};
use eyre::WrapErr;
use indicatif::{ProgressBar, ProgressStyle};
use rand::Rng;

use crate::context::Context;

/// Arguments of `alara bench audit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run the crash test instead: a writer process killed with SIGKILL at random moments.
    #[arg(long)]
    pub crash: bool,
    /// Crash cycles.
    #[arg(long, default_value_t = 100)]
    pub cycles: usize,
    /// Seconds per throughput phase.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Concurrent writer threads.
    #[arg(long, default_value_t = 64)]
    pub writers: usize,
    /// Entries per append call in the batched phase.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Append calls each writer keeps in flight in the batched phase.
    #[arg(long, default_value_t = 2)]
    pub window: usize,
    /// Concurrent receipt requests in the latency phase (tasks on one worker thread per
    /// core, as the HTTP service runs them).
    #[arg(long, default_value_t = 32)]
    pub requests: usize,
    /// Skip the gas measurements (no chain needed).
    #[arg(long)]
    pub no_chain: bool,
    /// Model for the audited-inference comparison.
    #[arg(long, default_value = "models/breast_cancer_logreg.onnx")]
    pub model: PathBuf,
    /// Where to put the benchmark's log (default: a temporary directory on the data dir's disk).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// A directory removed when the benchmark ends.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn spinner(msg: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// Runs `alara bench audit`.
/// `println!` for the human tables, silent under `--json` (which prints one JSON object).
macro_rules! table {
    ($json:expr) => {
        if !$json {
            println!()
        }
    };
    ($json:expr, $($arg:tt)*) => {
        if !$json {
            println!($($arg)*)
        }
    };
}

pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    let base = args.dir.clone().unwrap_or_else(|| ctx.data_dir.join("bench"));
    std::fs::create_dir_all(&base)?;
    let tmp = ScratchDir(base.join(format!("audit-bench-{}-{}", std::process::id(), now_ms())));
    std::fs::create_dir_all(tmp.path())?;
    if args.crash {
        return crash(ctx, &args, tmp.path());
    }
    let secs = Duration::from_secs_f64(args.seconds);
    let entry = sample_entry(0);
    let mut out = serde_json::Map::new();
    out.insert("entry_bytes".into(), entry.len().into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let json = ctx.json;

    // 1. SHA-256 bound: a leaf hash and a node hash per leaf, on every core.
    let pb = spinner("SHA-256 bound (leaf + node hash per entry, all cores)");
    let bound = tokio::task::spawn_blocking(move || sha_bound(cores, secs)).await?;
    pb.finish_and_clear();
    out.insert("sha256_bound_per_s".into(), bound.into());

    // 2. Durable appends, many concurrent writers.
    let signer = NoteSigner::new("alara.bench/audit", rand::thread_rng().gen())?;
    let log = Arc::new(Log::open(LogConfig::new(tmp.path().join("log"), signer))?);
    let pb = spinner(&format!(
        "durable appends: {} writers × {}-entry batches",
        args.writers, args.batch
    ));
    let batched = {
        let log = log.clone();
        let (w, b, win) = (args.writers, args.batch, args.window);
        tokio::task::spawn_blocking(move || append_throughput(&log, w, b, win, secs)).await??
    };
    pb.finish_and_clear();
    let pb =
        spinner(&format!("durable appends: {} writers × single entries", args.writers.max(256)));
    let single = {
        let log = log.clone();
        let w = args.writers.max(256);
        tokio::task::spawn_blocking(move || append_throughput(&log, w, 1, 1, secs)).await??
    };
    pb.finish_and_clear();
    let pb = spinner("the disk's durable write bandwidth (2 MiB appends + fdatasync)");
    let disk = {
        let dir = tmp.path().to_path_buf();
        tokio::task::spawn_blocking(move || disk_bandwidth(&dir, secs)).await??
    };
    pb.finish_and_clear();
    let per_entry = disk_bytes_per_entry(entry.len());
    let disk_bound = disk / per_entry;
    out.insert("disk_bytes_per_s".into(), disk.into());
    out.insert("disk_bound_per_s".into(), disk_bound.into());

    // 3. Append → receipt latency with group commit, and the disk's own fdatasync.
    // On a log of its own, so the gigabytes just written are not being flushed under it.
    let pb = spinner(&format!("append → receipt latency ({} concurrent requests)", args.requests));
    let (lat, fsync) = {
        let signer = NoteSigner::new("alara.bench/latency", rand::thread_rng().gen())?;
        let fresh = Arc::new(Log::open(LogConfig::new(tmp.path().join("latency-log"), signer))?);
        let dir = tmp.path().to_path_buf();
        let requests = args.requests;
        tokio::task::spawn_blocking(move || -> eyre::Result<_> {
            let lat = receipt_latency(&fresh, requests, cores, secs)?;
            fresh.close();
            Ok((lat, fsync_latency(&dir)?))
        })
        .await??
    };
    pb.finish_and_clear();

    // 4. Proofs.
    let pb = spinner("inclusion proofs: generation and offline verification");
    let (gen_per_s, verify_per_s, size) = {
        let log = log.clone();
        tokio::task::spawn_blocking(move || proof_rates(&log, secs)).await??
    };
    pb.finish_and_clear();
    log.close();

    table!(json, "alara bench audit — {cores} cores, entry {} bytes (an inference entry), log of {size} entries", entry.len());
    table!(json);
    table!(
        json,
        "{:<50} {:>11} {:>13} {:>6} {:>11} {:>6}",
        "durable appends/s (proofs available)",
        "alara",
        "SHA-256 bound",
        "ratio",
        "disk bound",
        "ratio"
    );
    for (label, rate) in [
        (
            format!(
                "  {} writers × {}-entry appends, {} in flight",
                args.writers, args.batch, args.window
            ),
            batched,
        ),
        (format!("  {} writers, 1-entry appends", args.writers.max(256)), single),
    ] {
        table!(
            json,
            "{:<50} {:>11.0} {:>13.0} {:>5.0}% {:>11.0} {:>5.0}%",
            label,
            rate,
            bound,
            100.0 * rate / bound,
            disk_bound,
            100.0 * rate / disk_bound
        );
    }
    table!(
        json,
        "{:<50} {:.0} MB/s ÷ {:.0} bytes per entry; 50% of the SHA-256 bound needs {:.0} MB/s",
        "  disk bound: durable writes",
        disk / 1e6,
        per_entry,
        bound * 0.5 * per_entry / 1e6
    );
    table!(json);
    table!(
        json,
        "{:<58} {:>9.2} ms {:>9.2} ms",
        format!("append → receipt latency p50 / p99 ({} requests)", args.requests),
        lat.0,
        lat.1
    );
    table!(
        json,
        "{:<58} {:>9.2} ms {:>9.2} ms",
        "  the disk's fdatasync alone, p50 / p99 (same run)",
        fsync.0,
        fsync.1
    );
    table!(json, "{:<58} {:>14.0}", "inclusion proofs generated/s", gen_per_s);
    table!(json, "{:<58} {:>14.0}", "inclusion proofs verified offline/s", verify_per_s);
    for k in [20u32, 30] {
        let n = 1u64 << k;
        let hashes = inclusion_path_len(n - 1, n);
        table!(
            json,
            "{:<58} {:>9} hashes = {} bytes (binary)",
            format!("inclusion proof size at 2^{k} leaves"),
            hashes,
            19 + 32 * hashes
        );
    }
    out.insert("appends_per_s_batched".into(), batched.into());
    out.insert("appends_per_s_single".into(), single.into());
    out.insert("ratio_to_bound_batched".into(), (batched / bound).into());
    out.insert("receipt_latency_ms_p50_p99".into(), serde_json::json!([lat.0, lat.1]));
    out.insert("fdatasync_ms_p50_p99".into(), serde_json::json!([fsync.0, fsync.1]));
    out.insert("proofs_generated_per_s".into(), gen_per_s.into());
    out.insert("proofs_verified_per_s".into(), verify_per_s.into());

    // 5. Audited vs plain inference at batch 1.
    let inference_rate = match inference(&args, tmp.path()) {
        Ok((plain, audited, durable, rate, recorder_us)) => {
            table!(json);
            table!(json, "{:<58} {:>11.1} µs", "plain tract inference, batch 1 (median)", plain);
            table!(
                json,
                "{:<58} {:>11.1} µs {:>+7.1}%",
                "audited inference, output returned (median)",
                audited,
                100.0 * (audited - plain) / plain
            );
            table!(
                json,
                "{:<58} {:>11.1} µs",
                "  recording, on the auditor's thread (mean per entry)",
                recorder_us
            );
            table!(
                json,
                "{:<58} {:>11.1} µs",
                "audited inference with durable receipt (median)",
                durable
            );
            out.insert(
                "inference_us_plain_audited_durable".into(),
                serde_json::json!([plain, audited, durable]),
            );
            out.insert("recorder_us_per_entry".into(), recorder_us.into());
            Some(rate)
        }
        Err(e) => {
            table!(json, "\naudited inference: skipped ({e:#})");
            None
        }
    };

    // 6. Gas and chain cost, on throw-away embedded chains under both rule sets.
    if args.no_chain {
        table!(json, "\ngas: skipped (--no-chain)");
    } else {
        let mut gas_out = serde_json::Map::new();
        table!(json);
        table!(
            json,
            "{:<58} {:>14} {:>14}",
            "AuditAnchor gas (30-hash consistency proof, 2^30 leaves)",
            "cancun",
            "prague"
        );
        let mut rows: Vec<alara_audit::bench::AnchorGas> = vec![];
        for hardfork in [alara_chain::Hardfork::Cancun, alara_chain::Hardfork::Prague] {
            match gas(hardfork).await {
                Ok(g) => {
                    gas_out.insert(hardfork.to_string(), serde_json::to_value(&g)?);
                    rows.push(g);
                }
                Err(e) => table!(json, "gas under {hardfork}: skipped ({e:#})"),
            }
        }
        if let [c, p] = rows.as_slice() {
            let opt = |x: Option<u64>| x.map_or("(floor)".to_string(), |v| v.to_string());
            let line =
                |name: String, a: String, b: String| table!(json, "{name:<58} {a:>14} {b:>14}");
            line(
                "anchor, whole transaction (goal ≤ 60000)".into(),
                c.anchor_total.to_string(),
                p.anchor_total.to_string(),
            );
            line("  intrinsic".into(), c.intrinsic.to_string(), p.intrinsic.to_string());
            line(
                format!("  calldata, standard ({} bytes)", c.anchor_calldata_bytes),
                c.anchor_calldata.to_string(),
                p.anchor_calldata.to_string(),
            );
            line(
                format!("  execution ({} SHA-256 calls, event, dispatch)", c.sha_calls),
                opt(c.anchor_execution),
                opt(p.anchor_execution),
            );
            line(
                "    of which storage (cold SLOAD + SSTORE, one slot)".into(),
                c.anchor_storage.to_string(),
                p.anchor_storage.to_string(),
            );
            line(
                "  EIP-7623 floor (Prague charges max(standard, floor))".into(),
                "n/a".into(),
                p.anchor_floor.to_string(),
            );
            line(
                "verifyInclusion as eth_call: execution gas (goal ≤ 60000)".into(),
                // Cancun has no calldata floor, so its estimate minus intrinsic and calldata is
                // the execution; the opcodes cost the same under Prague.
                opt(c
                    .verify_execution
                    .or(Some(c.verify_as_tx.saturating_sub(21_000 + c.verify_calldata)))),
                opt(p
                    .verify_execution
                    .or(Some(c.verify_as_tx.saturating_sub(21_000 + c.verify_calldata)))),
            );
            line(
                "  same, sent as a transaction (eth_estimateGas)".into(),
                c.verify_as_tx.to_string(),
                p.verify_as_tx.to_string(),
            );
        }
        out.insert("gas".into(), gas_out.into());
    }
    let policy = AnchorPolicy::default();
    let per_inference = match inference_rate {
        Some(rate) => {
            1.0 / (policy.every_entries as f64).min(rate * policy.every.as_secs_f64()).max(1.0)
        }
        None => 1.0 / policy.every_entries as f64,
    };
    table!(
        json,
        "{:<58} {:>14.1e}",
        format!(
            "chain txs per audited inference (every {} entries / {} s)",
            policy.every_entries,
            policy.every.as_secs()
        ),
        per_inference
    );
    out.insert("chain_tx_per_inference".into(), per_inference.into());
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}

/// Median µs of plain inference, audited inference (output returned), audited inference
/// with its durable receipt; audited inferences per second; recorder-thread µs per entry.
fn inference(args: &Args, dir: &std::path::Path) -> eyre::Result<(f64, f64, f64, f64, f64)> {
    let model = alara_ml::OnnxModel::load(&args.model)
        .wrap_err_with(|| format!("model {}", args.model.display()))?;
    let mut cfg = TrailConfig::new(dir.join("trail"), "bench passphrase (throw-away trail)");
    cfg.key_work_factor = 10;
    let trail = Arc::new(AuditTrail::open(cfg)?);
    let auditor = InferenceAuditor::new(
        trail.clone(),
        ModelRef { id: "bench.onnx".into(), version_hash: Hash(model.hash()) },
        "bench",
    );
    let row = vec![vec![0.5f32; model.input_width()]];
    let ctx = UseContext {
        subjects: vec!["bench-subject".into()],
        verified_by: None,
        purpose: "bench".into(),
    };
    let n = 2000;
    let mut plain = Vec::with_capacity(n);
    let mut audited = Vec::with_capacity(n);
    // Interleave, so drift on a shared machine hits both alike.
    let start = Instant::now();
    let mut last = None;
    for _ in 0..n {
        let t = Instant::now();
        std::hint::black_box(model.predict(&row)?);
        plain.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        let s = now_ms();
        let p = model.predict(&row)?;
        let pending = auditor.submit(s, now_ms(), row.clone(), p, &ctx)?;
        audited.push(t.elapsed().as_secs_f64() * 1e6);
        last = Some(pending);
    }
    if let Some(p) = last {
        let rows = p.rows()?;
        trail.wait(rows[0].leaf_index)?;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let (recorded, busy) = auditor.recorder_stats();
    let recorder_us = busy.as_secs_f64() * 1e6 / recorded.max(1) as f64;
    let mut durable = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let s = now_ms();
        let p = model.predict(&row)?;
        let a = auditor.record(s, now_ms(), &row, &p, &ctx)?;
        std::hint::black_box(auditor.receipts(&a)?);
        durable.push(t.elapsed().as_secs_f64() * 1e6);
    }
    for v in [&mut plain, &mut audited, &mut durable] {
        v.sort_by(f64::total_cmp);
    }
    Ok((pct(&plain, 0.5), pct(&audited, 0.5), pct(&durable, 0.5), rate, recorder_us))
}

/// Anchor and verifyInclusion gas on a fresh in-memory embedded chain under `hardfork`.
async fn gas(hardfork: alara_chain::Hardfork) -> eyre::Result<alara_audit::bench::AnchorGas> {
    let node = alara_chain::Node::open(alara_chain::NodeConfig {
        hardfork,
        ..alara_chain::NodeConfig::ephemeral()
    })?;
    let server = alara_chain::serve(node, "127.0.0.1:0".parse()?).await?;
    let signer = alara_chain::dev::dev_signer(0);
    let me = signer.address();
    let p = alara_chain::client::provider_for(&server.url(), signer)?;
    let g = alara_audit::bench::anchor_gas(&p, me, 0x2aaa_aaaa).await?;
    server.stop().await;
    Ok(g)
}

fn crash(ctx: &Context, args: &Args, dir: &std::path::Path) -> eyre::Result<()> {
    let exe = std::env::current_exe()?;
    let pb = ProgressBar::new(args.cycles as u64);
    pb.set_style(
        ProgressStyle::with_template("crash cycles {bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = alara_audit::crash::crash_cycles(
        &dir.join("log"),
        args.cycles,
        |d| {
            let mut c = std::process::Command::new(&exe);
            c.args(["audit", "crash-writer", "--dir"]).arg(d);
            c
        },
        |_, r| {
            pb.inc(1);
            pb.set_message(format!("{} acknowledged, size {}", r.acknowledged, r.final_size));
        },
    )?;
    pb.finish_and_clear();
    ctx.emit(&report, || {
        println!("crash test: {} SIGKILL cycles, {} acknowledged appends, all present after every restart", report.cycles, report.acknowledged);
        println!("tree verified and consistent with the previous checkpoint after each restart; final size {}", report.final_size);
        println!("{} entries survived without their acknowledgement; slowest recovery {} ms", report.unacknowledged_survivors, report.max_recovery_ms);
    })
}
