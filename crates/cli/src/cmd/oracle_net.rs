//! `alara oracle setup|node|report`: the oracle network. `setup` deploys an
//! `OracleAggregator` and the network's `UptimeFeed` (reported to by the setup account),
//! makes the committee's keys (ECDSA keys and a FROST threshold key) and writes them to a
//! committee directory; `node` runs one node process; `report` is the leader: each epoch it
//! has the nodes observe, and when the deviation threshold or the heartbeat says so, has
//! f + 1 of them sign the report with the group key and sends it; when the network's status
//! changes (a round without its quorum is down, [`alara_oracle::health`]) it reports that to
//! the uptime feed.
//! Every report's round is journaled in the committee directory (`rounds/round-<N>.json`)
//! and its decisions go into the audit log, so `alara oracle replay` can recompute it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alara_contracts::{OracleAggregator, UptimeFeed};
use alara_oracle::health::{self, Status};
use alara_oracle::journal::RoundJournal;
use alara_oracle::node::{self, Behaviour, CommitteeFile, Leader, NodeSecret, Trigger};
use alara_oracle::series::{Attack, QuoteModel};
use alara_oracle::threshold::GroupKey;
use alloy::primitives::Address;
use alloy::providers::{DynProvider, Provider};
use eyre::{bail, WrapErr};

use crate::context::Context;

/// scrypt work factor of node secrets (age's recommended ~1 s; demos use less).
pub const WORK_FACTOR: u8 = 18;

/// Arguments of `alara oracle setup`.
#[derive(clap::Args, Debug)]
pub struct SetupArgs {
    /// The series the sources quote (a stock of datasets/stocks.csv or `seattle-rain`).
    #[arg(long, default_value = "AAPL")]
    pub series: String,
    /// Nodes in the committee (n = 3f + 1 or more, at most 31).
    #[arg(long, default_value_t = 4)]
    pub nodes: u8,
    /// Faulty nodes tolerated (default: the most n allows, (n − 1) / 3).
    #[arg(long)]
    pub f: Option<u8>,
    /// Sources every node watches.
    #[arg(long, default_value_t = 10)]
    pub sources: usize,
    /// The first K sources collude and quote ×10 (an attack the detectors must absorb).
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub manipulate: usize,
    /// Seed of the sources' noise, latency and outages.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Committee directory (default `<data-dir>/oracle/<series>`).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Arguments of `alara oracle node`.
#[derive(clap::Args, Debug)]
pub struct NodeArgs {
    /// The committee directory `alara oracle setup` wrote.
    #[arg(long)]
    pub dir: PathBuf,
    /// This node's index (0 to n − 1).
    #[arg(long)]
    pub index: u8,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Misbehave: report every observation × FACTOR (to see the median hold).
    #[arg(long, value_name = "FACTOR")]
    pub lie: Option<f64>,
    /// Misbehave: send signature shares that do not verify (to see the leader route around).
    #[arg(long)]
    pub bad_share: bool,
}

/// Arguments of `alara oracle report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The committee directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// Epochs to observe (one data point of the series each).
    #[arg(long, default_value_t = 12)]
    pub epochs: u64,
    /// Report when the answer moves by this many percent.
    #[arg(long, default_value_t = 0.5)]
    pub deviation: f64,
    /// Report at least every this many seconds (chain time).
    #[arg(long, default_value_t = 3600)]
    pub heartbeat: u64,
    /// Per-request timeout of a node, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub timeout_ms: u64,
    /// Audit trail the rounds' decisions go into (default: `<data-dir>/audit`, whose key
    /// is unlocked with ALARA_LOG_KEY_PASSWORD).
    #[arg(long)]
    pub trail: Option<PathBuf>,
}

/// Arguments of `alara oracle replay`.
#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// The committee directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// The report round to recompute.
    #[arg(long)]
    pub round: u32,
    /// Audit trail the round was logged in (default: `<data-dir>/audit`).
    #[arg(long)]
    pub trail: Option<PathBuf>,
    /// Do not read the feed's answer from the chain (recompute from the log only).
    #[arg(long)]
    pub offline: bool,
}

fn journal_path(dir: &Path, round: u32) -> PathBuf {
    dir.join("rounds").join(format!("round-{round}.json"))
}

/// Where the leader records each reported round: the journal in the committee directory
/// and the decisions in the audit trail.
pub struct Recorder<'a> {
    /// The committee directory.
    pub dir: &'a Path,
    /// The audit trail.
    pub trail: &'a alara_audit::AuditTrail,
}

impl Recorder<'_> {
    /// Writes the journal (atomically) and then appends the round's audit entries; returns
    /// the entries' leaf indices.
    pub fn record(&self, journal: &RoundJournal) -> eyre::Result<Vec<u64>> {
        let path = journal_path(self.dir, journal.round);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .wrap_err_with(|| format!("creating {}", parent.display()))?;
        }
        crate::files::write(&path, &serde_json::to_vec_pretty(journal)?)?;
        let time_ms = alara_audit::entry::now_ms();
        let entries: Vec<alara_audit::entry::Entry> = journal
            .entries()
            .into_iter()
            .map(|body| alara_audit::entry::Entry { time_ms, body })
            .collect();
        let appended = self.trail.append_batch(&entries).wrap_err("logging the round")?;
        Ok((appended.index..appended.index + appended.count).collect())
    }
}

fn committee_path(dir: &Path) -> PathBuf {
    dir.join("committee.json")
}

fn secret_path(dir: &Path, i: u8) -> PathBuf {
    dir.join(format!("node-{i}.age"))
}

fn url_path(dir: &Path, i: u8) -> PathBuf {
    dir.join(format!("node-{i}.url"))
}

/// Reads a committee directory's public file.
pub fn read_committee(dir: &Path) -> eyre::Result<CommitteeFile> {
    let path = committee_path(dir);
    let bytes = crate::files::read(
        &path,
        crate::files::MAX_TEXT,
        "the committee (made by `alara oracle setup`)",
    )?;
    serde_json::from_slice(&bytes)
        .wrap_err_with(|| format!("{} is not a committee file", path.display()))
}

/// What `setup` made.
#[derive(Debug, serde::Serialize)]
pub struct SetUp {
    /// The committee directory.
    pub dir: PathBuf,
    /// The committee.
    pub committee: CommitteeFile,
    /// The group key's 33-byte compressed form, hex.
    pub group_key: String,
}

/// Deploys a feed and writes its committee to `dir`, the node secrets sealed with
/// `passphrase`.
pub async fn set_up(
    p: &DynProvider,
    owner: Address,
    dir: &Path,
    model: QuoteModel,
    series: &str,
    (n, f): (u8, u8),
    (passphrase, work_factor): (&str, u8),
) -> eyre::Result<SetUp> {
    if committee_path(dir).exists() {
        bail!(
            "{} already holds a committee: use it, or remove the directory (its feed and keys) \
             to set up a new one",
            dir.display()
        );
    }
    alara_oracle::series::named(series).wrap_err("--series")?;
    let description = format!("{series} (alara oracle, {n} nodes)");
    let (secrets, file) = node::deploy_committee(
        p,
        owner,
        &description,
        (series, model),
        (n, f),
        &mut rand::rngs::OsRng,
    )
    .await?;
    let key = GroupKey::of(&file.public_package()?)?;
    // The leader reports the network's status from the setup account, as it transmits.
    let uptime = UptimeFeed::deploy(
        p.clone(),
        owner,
        owner,
        format!("{series} oracle uptime (alara oracle, {n} nodes)"),
    )
    .await
    .wrap_err("deploying UptimeFeed")?;
    let file = CommitteeFile { uptime: Some(*uptime.address()), ..file };
    std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    for s in &secrets {
        let path = secret_path(dir, s.index);
        alara_audit::keyfile::write_private(&path, &s.seal(passphrase, work_factor)?)
            .wrap_err_with(|| format!("writing {}", path.display()))?;
    }
    let path = committee_path(dir);
    crate::files::write(&path, &serde_json::to_vec_pretty(&file)?)?;
    Ok(SetUp { dir: dir.to_path_buf(), committee: file, group_key: hex::encode(key.compressed()) })
}

/// The passphrase of node secrets: `ALARA_ORACLE_PASSWORD` or a prompt.
fn passphrase(new: bool) -> eyre::Result<String> {
    const ENV: &str = node::PASSPHRASE_ENV;
    if new {
        let missing = || {
            format!(
                "the nodes' keys are kept encrypted: set {ENV} to the passphrase that will \
                 encrypt them (keep it in your secret store), or run on a terminal to be asked"
            )
        };
        let prompts = ["new oracle node passphrase: ", "again: "];
        let (p, _) = crate::context::new_secret(ENV, prompts, "passphrases", missing, || Ok(()))?;
        eyre::ensure!(!p.is_empty(), "an empty passphrase; nothing was created");
        return Ok(p);
    }
    crate::context::secret(ENV, "oracle node passphrase: ", "oracle node passphrase", || {
        format!("the node's key is encrypted: set {ENV} to its passphrase, or run on a terminal to be asked")
    })
}

/// Runs `alara oracle setup`.
pub async fn setup(ctx: &Context, a: SetupArgs) -> eyre::Result<()> {
    if a.nodes < 4 || usize::from(a.nodes) > alara_oracle::report::MAX_SIGNERS {
        bail!("--nodes must be 4 to {} (n = 3f + 1 with f ≥ 1)", alara_oracle::report::MAX_SIGNERS);
    }
    let f = a.f.unwrap_or((a.nodes - 1) / 3);
    if f == 0 || usize::from(a.nodes) < 3 * usize::from(f) + 1 {
        bail!("--f {f} with {} nodes: need 1 ≤ f and n ≥ 3f + 1", a.nodes);
    }
    if a.sources == 0 || a.sources > 1000 || a.manipulate > a.sources {
        bail!("--sources must be 1 to 1000 and --manipulate at most --sources");
    }
    let mut model = QuoteModel::honest(a.sources, a.seed);
    if a.manipulate > 0 {
        model
            .attacks
            .push(Attack::Manipulate { sources: (0..a.manipulate).collect(), factor: 10.0 });
    }
    let dir = a.dir.unwrap_or_else(|| ctx.data_dir.join("oracle").join(a.series.to_lowercase()));
    let pass = passphrase(true)?;
    let conn = ctx.connect().await?;
    let done = set_up(
        &conn.provider,
        conn.signer,
        &dir,
        model,
        &a.series,
        (a.nodes, f),
        (&pass, WORK_FACTOR),
    )
    .await?;
    ctx.emit(&done, || {
        let c = &done.committee;
        println!("feed      {} at {} (chain {})", c.feed, c.aggregator, c.chain_id);
        if let Some(u) = c.uptime {
            println!("uptime    {u} (UptimeFeed: 0 up, 1 down)");
        }
        println!(
            "committee {} nodes, f = {}, threshold {} (FROST group key {})",
            c.n,
            c.f,
            c.f + 1,
            done.group_key
        );
        println!("keys      {} (node-<i>.age, encrypted)", done.dir.display());
        println!("\nStart the nodes, then the leader:");
        for i in 0..c.n {
            println!("  alara oracle node --dir {} --index {i} &", done.dir.display());
        }
        println!("  alara oracle report --dir {}", done.dir.display());
    })
}

/// Runs `alara oracle node` until interrupted.
pub async fn run_node(ctx: &Context, a: NodeArgs) -> eyre::Result<()> {
    let committee = read_committee(&a.dir)?;
    if a.index >= committee.n {
        bail!("--index {}: the committee has nodes 0 to {}", a.index, committee.n - 1);
    }
    let path = secret_path(&a.dir, a.index);
    let sealed = crate::files::read(&path, 1 << 16, "the node's key")?;
    let secret = NodeSecret::open(&sealed, &passphrase(false)?)
        .wrap_err_with(|| format!("opening {}", path.display()))?;
    let behaviour = match (a.lie, a.bad_share) {
        (Some(_), true) => bail!("--lie and --bad-share: choose one way to misbehave"),
        (Some(f), false) if !(f.is_finite() && f > 0.0) => bail!("--lie must be a positive number"),
        (Some(f), false) => Behaviour::Lie(f),
        (None, true) => Behaviour::BadShare,
        (None, false) => Behaviour::Honest,
    };
    let node = std::sync::Arc::new(node::Node::new(committee, secret, behaviour)?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", a.port))
        .await
        .wrap_err_with(|| format!("binding 127.0.0.1:{}", a.port))?;
    let url = format!("http://{}", listener.local_addr()?);
    let url_file = url_path(&a.dir, a.index);
    crate::files::write(&url_file, url.as_bytes())?;
    let info =
        serde_json::json!({ "index": a.index, "url": url, "behaviour": format!("{behaviour:?}") });
    if ctx.json {
        println!("{info}");
    } else {
        eprintln!("oracle node {} listening on {url} ({behaviour:?})", a.index);
    }
    let served = axum::serve(listener, node::router(node))
        .with_graceful_shutdown(async {
            let _ = crate::cmd::up::shutdown_signal().await;
        })
        .await;
    let _ = std::fs::remove_file(&url_file);
    served.wrap_err("serving")
}

/// The running nodes' URLs (`None` for a node with no URL file).
pub fn node_urls(dir: &Path, n: u8) -> Vec<Option<String>> {
    (0..n)
        .map(|i| std::fs::read_to_string(url_path(dir, i)).ok().map(|s| s.trim().to_string()))
        .collect()
}

/// One epoch as `report` prints it.
#[derive(Debug, serde::Serialize)]
pub struct EpochRow {
    /// Epoch.
    pub epoch: u64,
    /// The report round (when one was sent).
    pub round: Option<u32>,
    /// The real value.
    pub truth: Option<f64>,
    /// The report's median (fixed point).
    pub answer: Option<i128>,
    /// Why it was sent, or why not.
    pub why: String,
    /// Nodes that observed, with their values (fixed point).
    pub observed: Vec<(u8, i128)>,
    /// Nodes whose shares signed.
    pub signers: Vec<u8>,
    /// Nodes that failed and why.
    pub failed: Vec<(u8, String)>,
    /// Sources some node dropped, and why (first node's reasons).
    pub dropped: Vec<String>,
    /// Gas of the transmission.
    pub gas: Option<u64>,
    /// From asking for observations to reading the answer back from `latestRoundData`.
    pub latency_ms: Option<f64>,
    /// Transaction.
    pub tx: Option<String>,
    /// Audit log leaves of the round's decisions and report.
    pub audit_leaves: Vec<u64>,
    /// The network's status this epoch (`None`: no uptime feed, or a failure not about
    /// quorum).
    pub status: Option<Status>,
    /// The uptime feed's transaction, when the status changed.
    pub status_tx: Option<String>,
    /// Why the status could not be reported.
    pub status_error: Option<String>,
}

/// Runs the leader over `epochs` epochs against the nodes at `urls`, recording every
/// report with `recorder`.
#[allow(clippy::too_many_arguments, reason = "the leader's inputs, each distinct")]
pub async fn lead(
    p: &DynProvider,
    committee: CommitteeFile,
    urls: Vec<Option<String>>,
    epochs: u64,
    trigger: Trigger,
    timeout: Duration,
    recorder: &Recorder<'_>,
    mut on_row: impl FnMut(&EpochRow),
) -> eyre::Result<Vec<EpochRow>> {
    let feed = OracleAggregator::new(committee.aggregator, p.clone());
    let uptime = committee.uptime;
    let truth: Vec<f64> =
        alara_oracle::series::named(&committee.series)?.into_iter().map(|x| x.value).collect();
    let leader = Leader::new(committee, urls, timeout)?;
    let first = leader.next_epoch().await;
    let mut rows = Vec::new();
    for epoch in first..first + epochs {
        let latest = feed.latestRoundData().call().await.wrap_err("reading the feed")?;
        let round = u32::try_from(latest.roundId).unwrap_or(u32::MAX).saturating_add(1);
        let last = (latest.updatedAt > alloy::primitives::U256::ZERO)
            .then(|| (i128::try_from(latest.answer).unwrap_or(0), latest.updatedAt.to::<u64>()));
        let now = p
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await?
            .map(|b| b.header.timestamp)
            .unwrap_or(0);
        let t0 = Instant::now();
        let mut row = EpochRow {
            epoch,
            round: None,
            truth: truth.get(((epoch - 1) as usize) % truth.len()).copied(),
            answer: None,
            why: String::new(),
            observed: vec![],
            signers: vec![],
            failed: vec![],
            dropped: vec![],
            gas: None,
            latency_ms: None,
            tx: None,
            audit_leaves: vec![],
            status: None,
            status_tx: None,
            status_error: None,
        };
        let prepared = leader.prepare(epoch, round).await;
        if let (Some(at), Some(status)) = (uptime, Status::of(&prepared)) {
            row.status = Some(status);
            // A status that cannot be reported does not stop the feed: the row says why.
            match health::post_if_changed(p, at, status, now).await {
                Ok(receipt) => row.status_tx = receipt.map(|r| r.transaction_hash.to_string()),
                Err(e) => row.status_error = Some(e.to_string()),
            }
        }
        match prepared {
            Err(e) => row.why = format!("no report: {e}"),
            Ok(prepared) => {
                let answer = alara_oracle::report::median(&prepared.report.values()).unwrap_or(0);
                row.answer = Some(answer);
                row.observed = prepared
                    .observed
                    .iter()
                    .map(|o| (o.observation.observer, o.observation.value))
                    .collect();
                row.failed = prepared.failed.clone();
                if let Some(o) = prepared.observed.first() {
                    row.dropped = o
                        .decision
                        .dropped
                        .iter()
                        .map(|d| format!("{} ({})", d.source, d.reason))
                        .collect();
                }
                match trigger.due(last, answer, now) {
                    None => row.why = "within the deviation threshold: not sent".into(),
                    Some(why) => {
                        row.why = why;
                        let outcome = leader.finish(prepared).await?;
                        // Journaled and logged before it is sent: a report on-chain always
                        // has its decisions in the log.
                        let journal = RoundJournal::new(leader.committee(), &outcome);
                        row.audit_leaves = recorder.record(&journal)?;
                        let receipt = alara_oracle::report::transmit_aggregate(
                            p,
                            *feed.address(),
                            &outcome.report,
                            &outcome.signature,
                        )
                        .await?;
                        let read = feed.latestRoundData().call().await?;
                        eyre::ensure!(
                            i128::try_from(read.answer).ok() == Some(answer),
                            "the feed answers {} after a report of {answer}",
                            read.answer
                        );
                        row.latency_ms = Some(t0.elapsed().as_secs_f64() * 1e3);
                        row.round = Some(round);
                        row.signers = outcome.signers;
                        row.failed = outcome.failed;
                        row.gas = Some(receipt.gas_used);
                        row.tx = Some(receipt.transaction_hash.to_string());
                    }
                }
            }
        }
        on_row(&row);
        rows.push(row);
    }
    Ok(rows)
}

/// Prints one epoch row for a person.
pub fn print_row(row: &EpochRow, decimals: u8) {
    let scale = 10f64.powi(i32::from(decimals));
    let answer = row.answer.map_or("-".to_string(), |a| format!("{:.4}", a as f64 / scale));
    let truth = row.truth.map_or("-".to_string(), |t| format!("{t:.4}"));
    let round = row.round.map_or("-".to_string(), |r| r.to_string());
    let gas = row.gas.map_or("-".to_string(), |g| g.to_string());
    let latency = row.latency_ms.map_or("-".to_string(), |l| format!("{l:.0}"));
    let failed: Vec<String> =
        row.failed.iter().map(|(i, why)| format!("node {i}: {why}")).collect();
    println!(
        "{:>5}  {:>5}  {:>10}  {:>10}  {:>8}  {:>7}  {:<9}  {}",
        row.epoch,
        round,
        truth,
        answer,
        gas,
        latency,
        format!("{:?}", row.signers),
        row.why
    );
    if !row.observed.is_empty() {
        let obs: Vec<String> =
            row.observed.iter().map(|(i, v)| format!("{i}: {:.4}", *v as f64 / scale)).collect();
        println!("{:>14}observed by node {}", "", obs.join(", "));
    }
    if !row.dropped.is_empty() {
        // "source-0 (mad: 41.2 robust deviations …)" → "source-0 (mad)": the kinds, briefly.
        let brief: Vec<String> = row
            .dropped
            .iter()
            .map(|d| match d.split_once(" (") {
                Some((src, why)) => format!("{src} ({})", why.split(':').next().unwrap_or(why)),
                None => d.clone(),
            })
            .collect();
        println!("{:>14}node 0 dropped {}", "", brief.join(", "));
    }
    if !failed.is_empty() {
        println!("{:>14}{}", "", failed.join("; "));
    }
    match (&row.status, &row.status_tx, &row.status_error) {
        (Some(status), Some(tx), _) => println!("{:>14}uptime feed: {status} (tx {tx})", ""),
        (Some(status), None, Some(why)) => {
            println!("{:>14}uptime feed: {status} not reported: {why}", "")
        }
        _ => {}
    }
}

/// The header line of [`print_row`].
pub fn print_header() {
    println!(
        "{:>5}  {:>5}  {:>10}  {:>10}  {:>8}  {:>7}  {:<9}  why",
        "epoch", "round", "real", "answer", "gas", "ms", "signers"
    );
}

/// Runs `alara oracle report`.
pub async fn report(ctx: &Context, a: ReportArgs) -> eyre::Result<()> {
    if !(a.deviation.is_finite() && a.deviation >= 0.0) {
        bail!("--deviation must be a percentage ≥ 0");
    }
    if a.epochs == 0 || a.epochs > 100_000 {
        bail!("--epochs must be 1 to 100000");
    }
    let committee = read_committee(&a.dir)?;
    let urls = node_urls(&a.dir, committee.n);
    let running = urls.iter().filter(|u| u.is_some()).count();
    if running < committee.min_observations() {
        bail!(
            "{running} of {} nodes are running (their URL files in {}); a report needs {}: start \
             them with `alara oracle node --dir {} --index <i>`",
            committee.n,
            a.dir.display(),
            committee.min_observations(),
            a.dir.display()
        );
    }
    let conn = ctx.connect().await?;
    if conn.chain_id != committee.chain_id {
        bail!(
            "the committee's feed is on chain {}, connected to chain {}",
            committee.chain_id,
            conn.chain_id
        );
    }
    let trigger = Trigger { deviation: a.deviation / 100.0, heartbeat: a.heartbeat };
    let decimals = alara_oracle::consensus::DECIMALS;
    let trail = match &a.trail {
        None => crate::cmd::audit::open_trail(ctx)?,
        Some(dir) => {
            let pass = crate::context::log_key_passphrase()?;
            alara_audit::AuditTrail::open(alara_audit::TrailConfig::new(dir, pass))
                .wrap_err_with(|| format!("opening the audit trail in {}", dir.display()))?
        }
    };
    let recorder = Recorder { dir: &a.dir, trail: &trail };
    let human = !ctx.json && !ctx.quiet;
    if human {
        print_header();
    }
    let rows = lead(
        &conn.provider,
        committee,
        urls,
        a.epochs,
        trigger,
        Duration::from_millis(a.timeout_ms),
        &recorder,
        |row| {
            if human {
                print_row(row, decimals);
            }
        },
    )
    .await?;
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "epochs": rows }))?);
    }
    Ok(())
}

/// What `alara oracle replay` found.
#[derive(Debug, serde::Serialize)]
pub struct Replayed {
    /// The round recomputed from its journal.
    #[serde(flatten)]
    pub replay: alara_oracle::journal::Replay,
    /// How the journal agrees with the audit log.
    pub log: alara_oracle::journal::LogAgreement,
    /// The feed's answer for the round on-chain (`getRoundData`), unless `--offline`.
    pub onchain: Option<i128>,
    /// Everything agrees: the answer follows from the journal, the journal is what the
    /// log recorded, and the chain answers the same.
    pub reproduced: bool,
}

/// Runs `alara oracle replay`.
pub async fn replay(ctx: &Context, a: ReplayArgs) -> eyre::Result<()> {
    let committee = read_committee(&a.dir)?;
    let path = journal_path(&a.dir, a.round);
    let bytes = crate::files::read(&path, 64 << 20, "the round's journal").wrap_err_with(|| {
        format!(
            "round {} was not reported by a leader with this committee directory (rounds are \
             journaled in {})",
            a.round,
            a.dir.join("rounds").display()
        )
    })?;
    let journal: RoundJournal = serde_json::from_slice(&bytes)
        .wrap_err_with(|| format!("{} is not a round journal", path.display()))?;
    eyre::ensure!(
        journal.round == a.round && journal.feed == committee.feed,
        "{} holds round {} of {:?}, not round {} of {:?}",
        path.display(),
        journal.round,
        journal.feed,
        a.round,
        committee.feed
    );
    let replay = alara_oracle::journal::replay(&journal)?;
    let trail_dir = a.trail.clone().unwrap_or_else(|| crate::cmd::audit::trail_dir(ctx));
    let trail = alara_audit::AuditTrail::open_read_only(&trail_dir)
        .wrap_err_with(|| format!("opening the audit trail in {}", trail_dir.display()))?;
    let rows = trail.query(&alara_audit::Query {
        kinds: vec!["oracle_round".into(), "oracle_report".into()],
        ..Default::default()
    })?;
    let log = alara_oracle::journal::check_log(&journal, &rows);
    let onchain = if a.offline {
        None
    } else {
        let conn = ctx.connect().await?;
        let feed = OracleAggregator::new(committee.aggregator, conn.provider.clone());
        let got = feed
            .getRoundData(alloy::primitives::aliases::U80::from(a.round))
            .call()
            .await
            .wrap_err_with(|| {
                format!(
                    "reading round {} from {} (use --offline to skip)",
                    a.round, committee.aggregator
                )
            })?;
        Some(i128::try_from(got.answer).map_err(|_| eyre::eyre!("answer out of range"))?)
    };
    let reproduced = replay.answer_reproduced()
        && log.problems.is_empty()
        && onchain.is_none_or(|v| v == journal.answer);
    let out = Replayed { replay, log, onchain, reproduced };
    ctx.emit(&out, || {
        let r = &out.replay;
        let scale = 10f64.powi(i32::from(alara_oracle::consensus::DECIMALS));
        println!(
            "{} round {} (epoch {}): reported {:.8}",
            r.feed,
            r.round,
            r.epoch,
            r.answer as f64 / scale
        );
        for n in &r.nodes {
            println!(
                "  node {:>2}: signed {:.8}  {}",
                n.observer,
                n.signed as f64 / scale,
                n.verdict
            );
        }
        let show = |v: Option<i128>| v.map_or("-".into(), |v| format!("{:.8}", v as f64 / scale));
        println!("  median of the signed observations {}", show(r.median_of_signed));
        println!(
            "  median had every node signed its own decision {}",
            show(r.median_of_recomputed)
        );
        if out.log.problems.is_empty() {
            println!("  audit log: entries {:?} agree with the journal", out.log.leaves);
        } else {
            for p in &out.log.problems {
                println!("  audit log: {p}");
            }
        }
        if let Some(v) = out.onchain {
            println!("  on-chain getRoundData({}) answer {}", r.round, show(Some(v)));
        }
        println!("{}", if out.reproduced { "reproduced bit for bit" } else { "NOT reproduced" });
    })?;
    if !out.reproduced {
        bail!("round {} did not replay to its reported value (see above)", a.round);
    }
    Ok(())
}
