//! `alara demo oracle`: the AI oracle network end to end on the connected chain (the
//! embedded one by default). Four node processes watch ten simulated exchanges quoting
//! AAPL's real monthly closes; three of the exchanges collude at ×10 and node 3 is
//! malicious (it reports ×10 too). Each epoch the leader has the nodes observe (each runs
//! the detectors over the ten quotes), reports when the answer moves by more than 0.5% or
//! the heartbeat is due, with one FROST signature by any two nodes; a consumer compiled
//! against Chainlink's `AggregatorV3Interface` then reads the feed, checking staleness,
//! `startedAt` and its bounds. Every report is journaled and its decisions logged in the
//! demo's audit trail, so `alara oracle replay` recomputes any round.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alara_contracts::FeedConsumer;
use alara_oracle::node::{Trigger, PASSPHRASE_ENV};
use alara_oracle::series::{Attack, QuoteModel};
use alloy::primitives::{I256, U256};
use eyre::{bail, WrapErr};

use crate::cmd::oracle_net as net;
use crate::context::Context;

/// The demo's node passphrase: public, as the demo's keys are.
pub const DEMO_PASSPHRASE: &str = "alara-demo-oracle";

/// Arguments of `alara demo oracle`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Epochs to observe (AAPL monthly closes from January 2000).
    #[arg(long, default_value_t = 12)]
    pub epochs: u64,
    /// Oracle nodes (n = 3f + 1 with the largest f, 4 to 31).
    #[arg(long, default_value_t = 4)]
    pub nodes: u8,
}

/// The demo's committee directory (made afresh on every run).
pub fn demo_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("oracle-demo")
}

/// Child processes killed on drop, so an error anywhere leaves no node running.
struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn spawn_nodes(ctx: &Context, dir: &Path, n: u8, liar: u8) -> eyre::Result<Nodes> {
    let exe = std::env::current_exe().wrap_err("finding the alara executable")?;
    let mut nodes = Nodes(Vec::new());
    for i in 0..n {
        let mut cmd = Command::new(&exe);
        cmd.arg("--data-dir")
            .arg(&ctx.data_dir)
            .args(["oracle", "node", "--dir"])
            .arg(dir)
            .args(["--index", &i.to_string()])
            .env(PASSPHRASE_ENV, DEMO_PASSPHRASE)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if i == liar {
            cmd.args(["--lie", "10"]);
        }
        nodes.0.push(cmd.spawn().wrap_err("starting an oracle node process")?);
    }
    // Each node writes its URL file once it listens.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = net::node_urls(dir, n).iter().filter(|u| u.is_some()).count();
        if up == usize::from(n) {
            return Ok(nodes);
        }
        for (i, c) in nodes.0.iter_mut().enumerate() {
            if let Some(status) = c.try_wait()? {
                bail!("oracle node {i} exited ({status}) before listening");
            }
        }
        if Instant::now() > deadline {
            bail!("{up} of {n} oracle nodes listening after 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `alara demo oracle`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    if args.nodes < 4 || usize::from(args.nodes) > alara_oracle::report::MAX_SIGNERS {
        bail!("--nodes must be 4 to {}", alara_oracle::report::MAX_SIGNERS);
    }
    if args.epochs == 0 || args.epochs > 250 {
        bail!("--epochs must be 1 to 250 (the shipped series has 123 months; later epochs wrap)");
    }
    let (n, f) = (args.nodes, (args.nodes - 1) / 3);
    let conn = ctx.connect().await?;
    let p = conn.provider.clone();
    let dir = demo_dir(&ctx.data_dir);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).wrap_err_with(|| format!("removing {}", dir.display()))?;
    }
    let mut model = QuoteModel::honest(10, 7);
    model.attacks.push(Attack::Manipulate { sources: vec![0, 1, 2], factor: 10.0 });
    let set =
        net::set_up(&p, conn.signer, &dir, model, "AAPL", (n, f), (DEMO_PASSPHRASE, 10)).await?;
    let committee = set.committee.clone();
    let human = !ctx.json && !ctx.quiet;
    if human {
        println!(
            "Feed {} at {}: {n} node processes, f = {f}, one FROST group key (threshold {}).",
            committee.feed,
            committee.aggregator,
            f + 1
        );
        println!(
            "Ten exchanges quote AAPL's real monthly closes; exchanges 0-2 collude at x10, and \
             node {} reports x10 too.\n",
            n - 1
        );
        net::print_header();
    }
    let nodes = spawn_nodes(ctx, &dir, n, n - 1).await?;
    let trail_dir = dir.join("audit");
    let mut config = alara_audit::TrailConfig::new(&trail_dir, DEMO_PASSPHRASE);
    config.key_work_factor = 10;
    let trail = alara_audit::AuditTrail::open(config).wrap_err("opening the demo's audit trail")?;
    let recorder = net::Recorder { dir: &dir, trail: &trail };
    let urls = net::node_urls(&dir, n);
    let trigger = Trigger { deviation: 0.005, heartbeat: 3600 };
    let decimals = alara_oracle::consensus::DECIMALS;
    let rows = net::lead(
        &p,
        committee.clone(),
        urls,
        args.epochs,
        trigger,
        Duration::from_secs(5),
        &recorder,
        |row| {
            if human {
                net::print_row(row, decimals);
            }
        },
    )
    .await?;
    drop(nodes);

    // A consumer built against Chainlink's interface file reads the feed: fresh within an
    // hour, the price between $1 and $10,000, `startedAt` set.
    let scale = 10i128.pow(u32::from(decimals));
    let consumer = FeedConsumer::deploy(
        p.clone(),
        committee.aggregator,
        U256::from(3600),
        I256::try_from(scale).unwrap_or(I256::ONE),
        I256::try_from(10_000 * scale).unwrap_or(I256::MAX),
        alloy::primitives::Address::ZERO,
        U256::ZERO,
    )
    .await
    .wrap_err("deploying the consumer")?;
    let read = consumer.read().call().await.wrap_err("the consumer refused the feed")?;
    let answer = i128::try_from(read.answer).unwrap_or(0);
    let reported: Vec<&net::EpochRow> = rows.iter().filter(|r| r.round.is_some()).collect();
    let errors: Vec<f64> = reported
        .iter()
        .filter_map(|r| Some((r.answer? as f64 / scale as f64 / r.truth? - 1.0).abs()))
        .collect();
    let worst = errors.iter().copied().fold(0.0f64, f64::max);
    let gas: Vec<u64> = reported.iter().filter_map(|r| r.gas).collect();
    let latency: Vec<f64> = reported.iter().filter_map(|r| r.latency_ms).collect();
    let out = serde_json::json!({
        "feed": committee.feed,
        "aggregator": committee.aggregator,
        "nodes": n,
        "f": f,
        "epochs": rows,
        "reports": reported.len(),
        "worst_error": worst,
        "consumer": { "address": consumer.address(), "answer": answer.to_string(), "updated_at": read.updatedAt.to::<u64>() },
        "replay": reported.last().and_then(|r| r.round).map(|round| format!(
            "alara oracle replay --dir {} --trail {} --round {round}", dir.display(), trail_dir.display()
        )),
    });
    ctx.emit(&out, || {
        println!(
            "\n{} of {} epochs reported; worst error against the real close {:.3}% (three \
             exchanges and one node at x10). Gas per report {}; observation to \
             latestRoundData {:.0} ms on average.",
            reported.len(),
            rows.len(),
            worst * 100.0,
            gas.iter().max().map_or("-".into(), |g| g.to_string()),
            latency.iter().sum::<f64>() / latency.len().max(1) as f64
        );
        println!(
            "FeedConsumer {} (AggregatorV3Interface) reads {:.4}, updated at {}.",
            consumer.address(),
            answer as f64 / scale as f64,
            read.updatedAt
        );
        if let Some(cmd) = out["replay"].as_str() {
            println!("Every report's decisions are in the audit log; recompute one with\n  {cmd}");
        }
    })
}
