//! `alara bench audit`: the audit log measured against the SHA-256 bound of the same
//! machine in the same run, plus latency, proofs, gas and the cost of auditing inference.
//! `--crash` runs the SIGKILL crash test instead (100 cycles by default).

use std::path::{Path, PathBuf};
use std::time::Duration;

use alara_audit::anchor::AnchorPolicy;
use alara_audit::bench::{self, AnchorGas, LogBench};
use alara_audit::entry::ModelRef;
use alara_audit::Hash;
use eyre::WrapErr;
use indicatif::{ProgressBar, ProgressStyle};

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

/// Runs `alara bench audit`: the human tables on stdout, or one JSON object under `--json`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    let base = args.dir.clone().unwrap_or_else(|| ctx.data_dir.join("bench"));
    std::fs::create_dir_all(&base)?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!("audit-bench-{}-", std::process::id()))
        .tempdir_in(&base)
        .wrap_err_with(|| format!("creating a scratch directory in {}", base.display()))?;
    if args.crash {
        return crash(ctx, &args, tmp.path());
    }
    let json = ctx.json;
    let mut table: Vec<String> = Vec::new();
    let mut out = serde_json::Map::new();

    // The log: SHA-256 bound, durable appends, the disk's bound, latency, proofs.
    let bench = LogBench {
        seconds: Duration::from_secs_f64(args.seconds),
        writers: args.writers,
        batch: args.batch,
        window: args.window,
        requests: args.requests,
    };
    let figures = {
        let dir = tmp.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let mut pb: Option<ProgressBar> = None;
            let figures = bench.run(&dir, |phase| {
                if let Some(pb) = pb.replace(spinner(phase)) {
                    pb.finish_and_clear();
                }
            });
            if let Some(pb) = pb {
                pb.finish_and_clear();
            }
            figures
        })
        .await??
    };
    table.extend(figures.table());
    figures.insert_json(&mut out);

    // Audited vs plain inference at batch 1.
    let inference_rate = match inference(&args, tmp.path()) {
        Ok(f) => {
            table.extend(f.table());
            f.insert_json(&mut out);
            Some(f.per_s)
        }
        Err(e) => {
            table.push(format!("\naudited inference: skipped ({e:#})"));
            None
        }
    };

    // Gas and chain cost, on throw-away embedded chains under both rule sets.
    if args.no_chain {
        table.push("\ngas: skipped (--no-chain)".into());
    } else {
        let mut gas_out = serde_json::Map::new();
        table.push(String::new());
        table.push(bench::gas_table_header());
        let mut rows: Vec<AnchorGas> = vec![];
        for hardfork in [alara_chain::Hardfork::Cancun, alara_chain::Hardfork::Prague] {
            match gas(hardfork).await {
                Ok(g) => {
                    gas_out.insert(hardfork.to_string(), serde_json::to_value(&g)?);
                    rows.push(g);
                }
                Err(e) => table.push(format!("gas under {hardfork}: skipped ({e:#})")),
            }
        }
        if let [c, p] = rows.as_slice() {
            table.extend(bench::gas_table(c, p));
        }
        out.insert("gas".into(), gas_out.into());
    }
    let (per_inference, line) =
        bench::chain_tx_per_inference(&AnchorPolicy::default(), inference_rate);
    table.push(line);
    out.insert("chain_tx_per_inference".into(), per_inference.into());
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for line in table {
            println!("{line}");
        }
    }
    Ok(())
}

/// Plain against audited inference of the `--model`, run by tract.
fn inference(args: &Args, dir: &Path) -> eyre::Result<bench::InferenceFigures> {
    let model = alara_ml::OnnxModel::load(&args.model)
        .wrap_err_with(|| format!("model {}", args.model.display()))?;
    let reference = ModelRef { id: "bench.onnx".into(), version_hash: Hash(model.hash()) };
    bench::audited_inference(dir, reference, model.input_width(), |rows| {
        model.predict(rows).map_err(eyre::Report::from)
    })
}

/// Anchor and verifyInclusion gas on a fresh in-memory embedded chain under `hardfork`.
async fn gas(hardfork: alara_chain::Hardfork) -> eyre::Result<AnchorGas> {
    let node = alara_chain::Node::open(alara_chain::NodeConfig {
        hardfork,
        ..alara_chain::NodeConfig::ephemeral()
    })?;
    let server = alara_chain::serve(node, "127.0.0.1:0".parse()?).await?;
    let signer = alara_chain::dev::dev_signer(0);
    let me = signer.address();
    let p = alara_chain::client::provider_for(&server.url(), signer)?;
    let g = bench::anchor_gas(&p, me, 0x2aaa_aaaa).await?;
    server.stop().await;
    Ok(g)
}

fn crash(ctx: &Context, args: &Args, dir: &Path) -> eyre::Result<()> {
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
