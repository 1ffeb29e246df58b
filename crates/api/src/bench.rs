//! What `alara bench api` measures (feature `bench`): the HTTP API beside the library it
//! serves, in the same run, so the ratios show what HTTP and JSON cost on this machine.
//!
//! - **Receipts**: `GET /api/v1/audit/entries/{i}/receipt` for random `i` on a trail of N
//!   entries, from a keep-alive pool of concurrent clients, against the same lookups
//!   through the library (`checkpoint_covering` + `receipt_at`, what the handler runs) on
//!   as many threads.
//! - **Appends**: concurrent writers POSTing `/api/v1/audit/entries` with a writer API key,
//!   against as many threads calling [`AuditTrail::append`]; both count an entry once it is
//!   durable (the API answers only then).
//! - **Dashboard paint**: first contentful paint and the time until the audit table shows
//!   rows, in headless Chromium (`scripts/bench_dashboard_paint.py`), beside the raw API
//!   time of the first page.
//! - **Memory**: a child `alara up` serving a data directory with a trail of a million
//!   entries, exercised over HTTP and JSON-RPC; its peak RSS from `/proc/<pid>/status`.
//!
//! The server is the one `alara up` runs: [`alara_chain::serve_with`] with an ephemeral
//! embedded node and [`crate::router`] on the same port. Anonymous callers may read (as on
//! a loopback `alara up`), and the rate limit is lifted ([`UNLIMITED`]) so that the limiter
//! is paid for but never refuses. The load generator runs on its own runtime in the same
//! process, so on a small machine it takes a share of the cores the server would have.

use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alara_audit::bench::{quantile, sample_entry};
use alara_audit::entry::Entry;
use alara_audit::{AuditTrail, TrailConfig};
use eyre::WrapErr;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::auth::limit::RateLimit;
use crate::{ApiConfig, ApiState, Role};

/// Passphrase of the benchmark trails' keys (also given to the child `alara up`).
pub const PASSPHRASE: &str = "alara bench api";

/// scrypt work factor of the benchmark trails' keys: small, so opening one is instant.
pub const KEY_WORK_FACTOR: u8 = 10;

/// Entries per `append_batch` call when filling a trail.
pub const FILL_CHUNK: u64 = 10_000;

/// The rate limit of the measured server: per second and burst, high enough never to
/// refuse (the limiter still runs on every request).
pub const UNLIMITED: f64 = 1e12;

/// Target: the dashboard shows its audit rows within this many ms.
pub const PAINT_TARGET_MS: f64 = 1000.0;

/// Target: peak RSS of the whole node (chain, API, a million-entry trail), in MB (10^6 B).
pub const RSS_TARGET_MB: f64 = 1000.0;

/// Rows of the dashboard's first page (`GET /api/v1/audit/entries?limit=50`).
pub const FIRST_PAGE: &str = "/api/v1/audit/entries?limit=50";

/// How hard and how long one load runs.
#[derive(Clone, Copy, Debug)]
pub struct LoadSpec {
    /// Requests in flight at once (HTTP clients, or library threads).
    pub concurrency: usize,
    /// Time before the measured window: connections open, caches warm.
    pub warmup: Duration,
    /// The measured window.
    pub secs: Duration,
}

/// What one side of one load did in the measured window.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Measured {
    /// Requests (or calls) in flight at once.
    pub concurrency: usize,
    /// Requests started in the window that succeeded.
    pub ok: u64,
    /// Failed requests (any status but 2xx, or a transport error), warm-up included.
    pub errors: u64,
    /// The first failure, when there was one.
    pub first_error: Option<String>,
    /// Successful requests per second over the window.
    pub per_sec: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Mean latency, ms (by Little's law about `concurrency / per_sec`: with more threads
    /// than cores, library calls are fast or wait a whole time slice, so p50 and the mean
    /// tell different stories).
    pub mean_ms: f64,
    /// Slowest request, ms.
    pub max_ms: f64,
    /// Length of the window, s (to the last answer of a request started in it).
    pub window_secs: f64,
}

/// The API beside the library on one load.
#[derive(Clone, Debug, Serialize)]
pub struct Compare {
    /// Over HTTP, through the server `alara up` runs.
    pub api: Measured,
    /// The same operations through the library, on as many threads.
    pub library: Measured,
    /// API throughput over the library's (1.0: HTTP and JSON cost nothing).
    pub throughput_ratio: f64,
    /// API p50 over the library's.
    pub p50_ratio: f64,
    /// API p99 over the library's.
    pub p99_ratio: f64,
}

impl Compare {
    fn of(api: Measured, library: Measured) -> Self {
        Self {
            throughput_ratio: api.per_sec / library.per_sec,
            p50_ratio: api.p50_ms / library.p50_ms,
            p99_ratio: api.p99_ms / library.p99_ms,
            api,
            library,
        }
    }
}

/// Raw API time of the dashboard's first page, from Rust.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FirstPage {
    /// Median over fresh connections (connect + request + body), ms.
    pub fresh_ms: f64,
    /// Median on a kept-alive connection, ms.
    pub warm_ms: f64,
    /// Size of the answer, bytes.
    pub bytes: usize,
}

/// How to run the dashboard measurement.
#[derive(Clone, Debug)]
pub struct PaintConfig {
    /// Python with playwright (the repository's `.venv/bin/python`).
    pub python: PathBuf,
    /// `scripts/bench_dashboard_paint.py`.
    pub script: PathBuf,
    /// The element whose first appearance means the audit table shows rows.
    pub selector: String,
    /// Page loads, each in a fresh browser profile (the median is reported).
    pub runs: usize,
}

/// The dashboard in headless Chromium.
#[derive(Clone, Debug, Serialize)]
pub struct Paint {
    /// First contentful paint, ms from navigation start (median).
    pub fcp_ms: f64,
    /// Until the audit rows show (`mode` = `selector`), or until the first page of entries
    /// answered a fetch from the page (`mode` = `fetch`), ms from navigation start (median).
    pub ready_ms: f64,
    /// `selector`, or `fetch` when the page showed no element matching the selector.
    pub mode: String,
    /// The selector waited for.
    pub selector: String,
    /// The dashboard's own request for entries, ms from navigation start to its answer,
    /// when it made one (median).
    pub entries_fetch_ms: Option<f64>,
    /// What the script had to say about how it measured.
    pub note: Option<String>,
    /// Page loads measured.
    pub runs: usize,
    /// [`PAINT_TARGET_MS`].
    pub target_ms: f64,
    /// `ready_ms` within the target.
    pub met: bool,
    /// Everything the script printed.
    pub raw: serde_json::Value,
}

/// How to run the memory measurement.
#[derive(Clone, Debug)]
pub struct RssConfig {
    /// The `alara` executable started as `alara up`.
    pub alara_exe: PathBuf,
    /// Entries in its trail.
    pub entries: u64,
}

/// The whole node's memory, serving a large trail.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Rss {
    /// Entries in the trail served.
    pub entries: u64,
    /// Filling it, s.
    pub fill_secs: f64,
    /// Process start until the API served the trail (contracts deployed), s.
    pub start_secs: f64,
    /// RSS once serving, before the exercise, MB.
    pub rss_start_mb: f64,
    /// RSS after the exercise, MB.
    pub rss_mb: f64,
    /// Peak RSS (VmHWM), MB.
    pub peak_mb: f64,
    /// [`RSS_TARGET_MB`].
    pub target_mb: f64,
    /// `peak_mb` within the target.
    pub met: bool,
    /// The first lookup by leaf hash (builds the in-memory leaf index), ms.
    pub leaf_index_build_ms: f64,
    /// A lookup by leaf hash once the index is built, ms.
    pub leaf_lookup_ms: f64,
    /// Requests of the exercise (API and JSON-RPC).
    pub requests: u64,
    /// Of them, failed.
    pub errors: u64,
    /// The first failure, when there was one.
    pub first_error: Option<String>,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Scratch directory (trails, key file, the child's data directory).
    pub dir: PathBuf,
    /// Entries in the trail the receipts are looked up in (and the dashboard shows).
    pub entries: u64,
    /// Concurrent clients of the receipt load.
    pub clients: usize,
    /// Concurrent writers of the append load.
    pub writers: usize,
    /// Warm-up before each measured window.
    pub warmup: Duration,
    /// Each measured window.
    pub secs: Duration,
    /// The dashboard measurement, when there is a browser to run it.
    pub paint: Option<PaintConfig>,
    /// The memory measurement, when there is an `alara` to start.
    pub rss: Option<RssConfig>,
    /// Progress on stderr.
    pub progress: bool,
}

/// Every figure of `alara bench api`.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `release` or `debug` (how this crate was compiled).
    pub build: &'static str,
    /// Cores of the machine (server, load generator and library threads share them).
    pub cores: usize,
    /// Entries in the trail of the receipt and paint measurements.
    pub entries: u64,
    /// How requests were authorised and limited.
    pub auth: String,
    /// Receipt lookups.
    pub receipts: Compare,
    /// Durable appends.
    pub appends: Compare,
    /// The dashboard's first page, raw.
    pub first_page: FirstPage,
    /// The dashboard in Chromium.
    pub paint: Option<Paint>,
    /// Why there is no paint figure.
    pub paint_skipped: Option<String>,
    /// The node's memory.
    pub rss: Option<Rss>,
    /// Why there is no memory figure.
    pub rss_skipped: Option<String>,
}

/// The build profile of this crate.
pub fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// Spinners and bars on stderr, or nothing.
#[derive(Clone, Copy, Debug)]
pub struct Progress(pub bool);

impl Progress {
    /// A spinner saying what runs now.
    pub fn phase(&self, msg: &str) -> ProgressBar {
        if !self.0 {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.set_message(msg.to_string());
        pb.enable_steady_tick(Duration::from_millis(120));
        pb
    }

    /// A bar of `len` steps.
    pub fn bar(&self, len: u64, msg: &str) -> ProgressBar {
        if !self.0 {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::new(len).with_style(
            ProgressStyle::with_template(
                "{msg:>16} {bar:40} {human_pos}/{human_len} {per_sec} {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb.set_message(msg.to_string());
        pb
    }
}

/// Opens (or creates) a benchmark trail in `dir`, its key with a small work factor.
pub fn open_trail(dir: &Path) -> eyre::Result<AuditTrail> {
    let mut config = TrailConfig::new(dir, PASSPHRASE);
    config.key_work_factor = KEY_WORK_FACTOR;
    AuditTrail::open(config).wrap_err_with(|| format!("opening the trail in {}", dir.display()))
}

/// Appends [`sample_entry`]s until the trail has `n` entries, [`FILL_CHUNK`] per durable
/// batch (each batch signs a checkpoint).
pub fn fill(trail: &AuditTrail, n: u64, bar: &ProgressBar) -> eyre::Result<()> {
    let mut next = trail.log().size();
    bar.set_position(next);
    while next < n {
        let k = (n - next).min(FILL_CHUNK);
        let batch: Vec<Vec<u8>> = (next..next + k).map(sample_entry).collect();
        trail.log().append_batch(&batch)?;
        next += k;
        bar.set_position(next);
    }
    Ok(())
}

/// The API served beside an ephemeral embedded node, as `alara up` serves it.
pub struct Served {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The API's state (its key ring makes the writer key).
    pub state: Arc<ApiState>,
    server: alara_chain::ServerHandle,
    node: Arc<alara_chain::Node>,
}

impl Served {
    /// Stops the server and the node.
    pub async fn stop(self) {
        self.server.stop().await;
        let node = self.node;
        let _ = tokio::task::spawn_blocking(move || node.shutdown()).await;
    }
}

/// Serves `trail` (as `main`) with the data directory `data_dir`, on a free loopback port:
/// anonymous reads, the rate limit lifted.
pub async fn serve(data_dir: &Path, trail: Arc<AuditTrail>) -> eyre::Result<Served> {
    let node = alara_chain::Node::open(alara_chain::NodeConfig::ephemeral())?;
    let mut config = ApiConfig::new(data_dir);
    config.anonymous_role = Some(Role::Reader);
    config.rate_limit = RateLimit { per_sec: UNLIMITED, burst: UNLIMITED };
    let mut state = None;
    let server = alara_chain::serve_with(node.clone(), ([127, 0, 0, 1], 0).into(), |bound| {
        config.rpc_url = Some(format!("http://{bound}"));
        config.siwe_domain = bound.to_string();
        let s = ApiState::new(config.clone()).with_audit(trail.clone());
        let s =
            Arc::new(s.with_chain().unwrap_or_else(|_| ApiState::new(config).with_audit(trail)));
        state = Some(s.clone());
        crate::router(s)
    })
    .await?;
    let state = state.ok_or_else(|| eyre::eyre!("the server built no API"))?;
    Ok(Served { url: server.url(), state, server, node })
}

/// Latencies and failures one worker saw.
#[derive(Default)]
struct Tally {
    lat_ms: Vec<f64>,
    errors: u64,
    first_error: Option<String>,
    last_done: Option<Instant>,
}

impl Tally {
    fn record(&mut self, started: Instant, window: Instant, r: Result<(), String>) {
        let done = Instant::now();
        match r {
            Ok(()) if started >= window => {
                self.lat_ms.push((done - started).as_secs_f64() * 1e3);
                self.last_done = Some(self.last_done.map_or(done, |d| d.max(done)));
            }
            Ok(()) => {}
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }
}

fn merge(tallies: Vec<Tally>, concurrency: usize, window: Instant, end: Instant) -> Measured {
    let mut lat = Vec::new();
    let mut m = Measured { concurrency, ..Measured::default() };
    let mut last = end;
    for t in tallies {
        lat.extend(t.lat_ms);
        m.errors += t.errors;
        if m.first_error.is_none() {
            m.first_error = t.first_error;
        }
        last = last.max(t.last_done.unwrap_or(end));
    }
    lat.sort_by(f64::total_cmp);
    m.ok = lat.len() as u64;
    m.window_secs = (last - window).as_secs_f64();
    m.per_sec = m.ok as f64 / m.window_secs;
    m.p50_ms = quantile(&lat, 0.5);
    m.p99_ms = quantile(&lat, 0.99);
    m.mean_ms = lat.iter().sum::<f64>() / lat.len() as f64;
    m.max_ms = lat.last().copied().unwrap_or(f64::NAN);
    m
}

/// Runs `op` on `spec.concurrency` threads for the warm-up and the window.
fn thread_load<F>(spec: LoadSpec, op: F) -> Measured
where
    F: Fn(&mut StdRng) -> Result<(), String> + Sync,
{
    let window = Instant::now() + spec.warmup;
    let end = window + spec.secs;
    let tallies = std::thread::scope(|s| {
        let hs: Vec<_> = (0..spec.concurrency.max(1))
            .map(|w| {
                let op = &op;
                s.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(w as u64);
                    let mut t = Tally::default();
                    loop {
                        let started = Instant::now();
                        if started >= end {
                            break;
                        }
                        t.record(started, window, op(&mut rng));
                    }
                    t
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Tally {
                    errors: 1,
                    first_error: Some("a worker thread panicked".into()),
                    ..Tally::default()
                })
            })
            .collect::<Vec<_>>()
    });
    merge(tallies, spec.concurrency, window, end)
}

/// What the HTTP load sends.
#[derive(Clone)]
enum HttpOp {
    /// `GET /api/v1/audit/entries/{i}/receipt`, `i` below `entries`.
    Receipt { base: String, entries: u64 },
    /// `POST /api/v1/audit/entries` with one of `bodies`.
    Append { url: String, auth: String, bodies: Arc<Vec<Vec<u8>>> },
}

impl HttpOp {
    fn request(&self, client: &reqwest::Client, rng: &mut StdRng) -> reqwest::RequestBuilder {
        match self {
            HttpOp::Receipt { base, entries } => {
                let i = rng.gen_range(0..(*entries).max(1));
                client.get(format!("{base}{i}/receipt"))
            }
            HttpOp::Append { url, auth, bodies } => {
                let body = bodies[rng.gen_range(0..bodies.len())].clone();
                client
                    .post(url.as_str())
                    .header("authorization", auth.as_str())
                    .header("content-type", "application/json")
                    .body(body)
            }
        }
    }
}

async fn send(rb: reqwest::RequestBuilder) -> Result<(), String> {
    let resp = rb.send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() && !body.is_empty() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        Err(format!("{status}: {text}"))
    }
}

/// Runs `fut` to completion on a runtime of its own (`threads` workers) on a thread of its
/// own, so the load generator's tasks do not share the server's run queues.
async fn on_own_runtime<T, Fut>(threads: usize, fut: Fut) -> eyre::Result<T>
where
    T: Send + 'static,
    Fut: Future<Output = eyre::Result<T>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new().name("bench-load".into()).spawn(move || {
        let r = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("bench-client")
            .enable_all()
            .build()
            .map_err(eyre::Report::from)
            .and_then(|rt| rt.block_on(fut));
        let _ = tx.send(r);
    })?;
    rx.await.map_err(|_| eyre::eyre!("the load generator's thread died"))?
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// A keep-alive client pool for `connections` connections to one host.
fn client(connections: usize) -> eyre::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// `spec.concurrency` concurrent requests from a keep-alive pool, each client sending its
/// next request when the previous one answered.
async fn http_load(spec: LoadSpec, op: HttpOp) -> eyre::Result<Measured> {
    on_own_runtime(cores(), async move {
        let client = client(spec.concurrency)?;
        let window = Instant::now() + spec.warmup;
        let end = window + spec.secs;
        let tasks: Vec<_> = (0..spec.concurrency.max(1))
            .map(|w| {
                let (client, op) = (client.clone(), op.clone());
                tokio::spawn(async move {
                    let mut rng = StdRng::seed_from_u64(1_000_000 + w as u64);
                    let mut t = Tally::default();
                    loop {
                        let started = Instant::now();
                        if started >= end {
                            break;
                        }
                        let r = send(op.request(&client, &mut rng)).await;
                        t.record(started, window, r);
                    }
                    t
                })
            })
            .collect();
        let mut tallies = Vec::new();
        for t in tasks {
            tallies.push(t.await?);
        }
        Ok(merge(tallies, spec.concurrency, window, end))
    })
    .await
}

/// Receipt lookups over HTTP: random entries below `entries`.
pub async fn receipts_http(url: &str, entries: u64, spec: LoadSpec) -> eyre::Result<Measured> {
    let base = format!("{url}/api/v1/audit/entries/");
    http_load(spec, HttpOp::Receipt { base, entries }).await
}

/// The same lookups through the library, as the handler makes them: the first checkpoint
/// covering the entry, then [`AuditTrail::receipt_at`].
pub async fn receipts_library(
    trail: Arc<AuditTrail>,
    entries: u64,
    spec: LoadSpec,
) -> eyre::Result<Measured> {
    Ok(tokio::task::spawn_blocking(move || {
        thread_load(spec, |rng| {
            let i = rng.gen_range(0..entries.max(1));
            let cp = trail.log().checkpoint_covering(i).map_err(|e| e.to_string())?;
            std::hint::black_box(trail.receipt_at(i, &cp).map_err(|e| e.to_string())?);
            Ok(())
        })
    })
    .await?)
}

/// Entries the append loads cycle through.
fn append_entries() -> eyre::Result<Vec<Entry>> {
    (0..256u64).map(|i| Ok(Entry::decode(&sample_entry(10_000_000 + i))?)).collect()
}

/// Durable appends over HTTP: `spec.concurrency` writers, each POSTing an entry and waiting
/// for its answer (given once the entry is durable), with the API key `key`.
pub async fn appends_http(url: &str, key: &str, spec: LoadSpec) -> eyre::Result<Measured> {
    let bodies = append_entries()?.iter().map(serde_json::to_vec).collect::<Result<Vec<_>, _>>()?;
    let op = HttpOp::Append {
        url: format!("{url}/api/v1/audit/entries"),
        auth: format!("Bearer {key}"),
        bodies: Arc::new(bodies),
    };
    http_load(spec, op).await
}

/// The same appends through the library: `spec.concurrency` threads, each calling
/// [`AuditTrail::append`] (which returns once the entry is durable).
pub async fn appends_library(trail: Arc<AuditTrail>, spec: LoadSpec) -> eyre::Result<Measured> {
    let entries = append_entries()?;
    Ok(tokio::task::spawn_blocking(move || {
        thread_load(spec, |rng| {
            let e = &entries[rng.gen_range(0..entries.len())];
            trail.append(e).map(|_| ()).map_err(|e| e.to_string())
        })
    })
    .await?)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    quantile(&v, 0.5)
}

/// The dashboard's first page (`GET /api/v1/audit/entries?limit=50`), `runs` times on fresh
/// connections and `runs` times on one kept-alive connection.
pub async fn first_page(url: &str, runs: usize) -> eyre::Result<FirstPage> {
    let target = format!("{url}{FIRST_PAGE}");
    let get = |client: reqwest::Client, target: String| async move {
        let t = Instant::now();
        let r = client.get(target).send().await?.error_for_status()?;
        let bytes = r.bytes().await?.len();
        Ok::<_, eyre::Report>((t.elapsed().as_secs_f64() * 1e3, bytes))
    };
    let mut fresh = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs.max(1) {
        let (ms, b) = get(client(0)?, target.clone()).await?;
        fresh.push(ms);
        bytes = b;
    }
    let warm_client = client(1)?;
    get(warm_client.clone(), target.clone()).await?;
    let mut warm = Vec::new();
    for _ in 0..runs.max(1) {
        warm.push(get(warm_client.clone(), target.clone()).await?.0);
    }
    Ok(FirstPage { fresh_ms: median(fresh), warm_ms: median(warm), bytes })
}

/// Runs `scripts/bench_dashboard_paint.py` against the dashboard at `url` and reads the
/// JSON object it prints.
pub async fn paint(url: &str, config: &PaintConfig) -> eyre::Result<Paint> {
    let out = tokio::process::Command::new(&config.python)
        .arg(&config.script)
        .arg(format!("{url}/"))
        .args(["--selector", &config.selector, "--runs", &config.runs.max(1).to_string()])
        .args(["--target-ms", &PAINT_TARGET_MS.to_string()])
        .stdin(Stdio::null())
        .output()
        .await
        .wrap_err_with(|| format!("running {}", config.python.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eyre::ensure!(
        out.status.success(),
        "{} {} failed ({}): {}",
        config.python.display(),
        config.script.display(),
        out.status,
        stderr.trim().lines().last().unwrap_or("no message")
    );
    let line = stdout.lines().rev().find(|l| l.trim_start().starts_with('{')).unwrap_or("");
    let raw: serde_json::Value = serde_json::from_str(line)
        .wrap_err_with(|| format!("the paint script printed no JSON object: {stdout}"))?;
    let num = |k: &str| raw.get(k).and_then(serde_json::Value::as_f64);
    let text = |k: &str| raw.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
    let ready_ms = num("ready_ms").unwrap_or(f64::NAN);
    Ok(Paint {
        fcp_ms: num("fcp_ms").unwrap_or(f64::NAN),
        ready_ms,
        mode: text("mode").unwrap_or_default(),
        selector: text("selector").unwrap_or_else(|| config.selector.clone()),
        entries_fetch_ms: num("entries_fetch_ms"),
        note: text("note"),
        runs: raw.get("runs").and_then(serde_json::Value::as_array).map_or(0, Vec::len),
        target_ms: PAINT_TARGET_MS,
        met: ready_ms <= PAINT_TARGET_MS,
        raw,
    })
}

/// `VmRSS` and `VmHWM` of process `pid`, in MB.
pub fn rss_of(pid: u32) -> eyre::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .wrap_err_with(|| format!("reading /proc/{pid}/status"))?;
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .ok_or_else(|| eyre::eyre!("no {key} in /proc/{pid}/status"))
    };
    Ok((kb("VmRSS:")? * 1024.0 / 1e6, kb("VmHWM:")? * 1024.0 / 1e6))
}

/// A child process, stopped with SIGTERM (then killed) when dropped.
struct ChildNode(Child);

impl ChildNode {
    fn stop(&mut self) {
        let pid = self.0.id().to_string();
        if Command::new("kill").args(["-TERM", &pid]).status().is_ok_and(|s| s.success()) {
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(30) {
                if matches!(self.0.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ChildNode {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}

fn free_port() -> eyre::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn tail(path: &Path) -> String {
    let mut s = String::new();
    let _ = std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut s));
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

/// Exercise counts.
#[derive(Default)]
struct Exercise {
    requests: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Exercise {
    fn note<T>(&mut self, r: eyre::Result<T>) -> Option<T> {
        self.requests += 1;
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(format!("{e:#}"));
                None
            }
        }
    }
}

async fn get_json(client: &reqwest::Client, url: String) -> eyre::Result<serde_json::Value> {
    let r = client.get(&url).send().await?;
    let status = r.status();
    let body = r.bytes().await?;
    eyre::ensure!(status.is_success(), "GET {url}: {status} {}", String::from_utf8_lossy(&body));
    Ok(serde_json::from_slice(&body)?)
}

async fn get_bytes(client: &reqwest::Client, url: String) -> eyre::Result<usize> {
    let r = client.get(&url).send().await?;
    let status = r.status();
    let body = r.bytes().await?;
    eyre::ensure!(status.is_success(), "GET {url}: {status}");
    Ok(body.len())
}

async fn rpc(
    client: &reqwest::Client,
    url: &str,
    method: &str,
    params: serde_json::Value,
) -> eyre::Result<()> {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let v: serde_json::Value = client.post(url).json(&body).send().await?.json().await?;
    eyre::ensure!(v.get("result").is_some(), "{method}: {v}");
    Ok(())
}

/// Fills a data directory's trail with `config.entries` entries, starts `alara up` on it
/// (with the key's passphrase in `ALARA_LOG_KEY_PASSWORD`), exercises it — pages of
/// entries, lookups by leaf hash (the first builds the leaf index), receipts, proofs, an
/// export, `/info`, JSON-RPC — and reads its memory from `/proc`.
pub async fn rss(dir: &Path, config: &RssConfig, progress: Progress) -> eyre::Result<Rss> {
    let data = dir.join("rss-node");
    let n = config.entries.max(1);
    let t0 = Instant::now();
    {
        let audit = data.join("audit");
        let bar = progress.bar(n, "filling the trail");
        let b = bar.clone();
        tokio::task::spawn_blocking(move || -> eyre::Result<()> {
            let trail = open_trail(&audit)?;
            fill(&trail, n, &b)
        })
        .await??;
        bar.finish_and_clear();
    }
    let fill_secs = t0.elapsed().as_secs_f64();

    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let log = data.join("up.log");
    let out = std::fs::File::create(&log)?;
    let spinner = progress.phase("starting `alara up` on the filled data directory");
    let t1 = Instant::now();
    let child = Command::new(&config.alara_exe)
        .arg("--data-dir")
        .arg(&data)
        .args(["up", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--rate-limit", &UNLIMITED.to_string()])
        .env(alara_audit::keyfile::PASSPHRASE_ENV, PASSPHRASE)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .wrap_err_with(|| format!("starting {}", config.alara_exe.display()))?;
    let mut child = ChildNode(child);
    let pid = child.0.id();
    let http = client(16)?;
    let status_url = format!("{url}/api/v1/audit/status");
    loop {
        if let Ok(Some(s)) = child.0.try_wait() {
            eyre::bail!("`alara up` exited ({s}): {}", tail(&log));
        }
        if let Ok(v) = get_json(&http, status_url.clone()).await {
            eyre::ensure!(
                v["size"].as_u64() == Some(n),
                "`alara up` serves a trail of {} entries, not {n}",
                v["size"]
            );
            break;
        }
        eyre::ensure!(
            t1.elapsed() < Duration::from_secs(300),
            "`alara up` did not serve the trail within 300 s: {}",
            tail(&log)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let start_secs = t1.elapsed().as_secs_f64();
    spinner.finish_and_clear();
    let (rss_start_mb, _) = rss_of(pid)?;

    let spinner = progress.phase("exercising the node (pages, leaf index, receipts, RPC)");
    let mut ex = Exercise::default();
    let api = format!("{url}/api/v1");
    for path in ["/info", "/audit/logs", "/audit/status", "/audit/checkpoints/latest"] {
        ex.note(get_json(&http, format!("{api}{path}")).await);
    }
    // Pages: the newest 20 × 500 by cursor, then 20 random pages of 50.
    let mut cursor: Option<u64> = None;
    for _ in 0..20 {
        let q = cursor.map_or(String::new(), |c| format!("&cursor={c}"));
        let page = ex.note(get_json(&http, format!("{api}/audit/entries?limit=500{q}")).await);
        cursor = page.and_then(|p| p["next_cursor"].as_u64());
        if cursor.is_none() {
            break;
        }
    }
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..20 {
        let c = rng.gen_range(1..=n);
        ex.note(get_json(&http, format!("{api}/audit/entries?limit=50&cursor={c}")).await);
    }
    // By leaf hash: the first lookup indexes every leaf.
    let leaf = |i: u64| alara_audit::leaf_hash(&sample_entry(i)).to_hex();
    let t = Instant::now();
    ex.note(get_json(&http, format!("{api}/audit/leaves/{}", leaf(n / 3))).await);
    let leaf_index_build_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    ex.note(get_json(&http, format!("{api}/audit/leaves/{}", leaf(n - 1))).await);
    let leaf_lookup_ms = t.elapsed().as_secs_f64() * 1e3;
    // Receipts, 16 at a time.
    for _ in 0..64 {
        let batch: Vec<_> = (0..16)
            .map(|_| {
                let i = rng.gen_range(0..n);
                get_bytes(&http, format!("{api}/audit/entries/{i}/receipt"))
            })
            .collect();
        for r in futures_util::future::join_all(batch).await {
            ex.note(r);
        }
    }
    for _ in 0..10 {
        let i = rng.gen_range(0..n);
        ex.note(get_json(&http, format!("{api}/audit/entries/{i}")).await);
        ex.note(get_json(&http, format!("{api}/audit/proofs/inclusion?index={i}")).await);
    }
    ex.note(get_json(&http, format!("{api}/audit/proofs/consistency?old={}", n.div_ceil(2))).await);
    ex.note(get_bytes(&http, format!("{api}/audit/export?limit=10000")).await);
    for (method, params) in [
        ("eth_chainId", serde_json::json!([])),
        ("eth_blockNumber", serde_json::json!([])),
        ("eth_getBlockByNumber", serde_json::json!(["latest", true])),
        ("eth_getLogs", serde_json::json!([{"fromBlock": "0x0", "toBlock": "latest"}])),
    ] {
        ex.note(rpc(&http, &url, method, params).await);
    }
    spinner.finish_and_clear();
    let (rss_mb, peak_mb) = rss_of(pid)?;
    tokio::task::spawn_blocking(move || child.stop()).await?;
    Ok(Rss {
        entries: n,
        fill_secs,
        start_secs,
        rss_start_mb,
        rss_mb,
        peak_mb,
        target_mb: RSS_TARGET_MB,
        met: peak_mb <= RSS_TARGET_MB,
        leaf_index_build_ms,
        leaf_lookup_ms,
        requests: ex.requests,
        errors: ex.errors,
        first_error: ex.first_error,
    })
}

/// Runs every measurement of `alara bench api`.
pub async fn run(config: &Config) -> eyre::Result<Report> {
    let progress = Progress(config.progress);
    let data = config.dir.join("api-node");
    let n = config.entries.max(1);
    let trail = {
        let bar = progress.bar(n, "filling the trail");
        let audit = data.join("audit");
        let b = bar.clone();
        let trail = tokio::task::spawn_blocking(move || -> eyre::Result<AuditTrail> {
            let trail = open_trail(&audit)?;
            fill(&trail, n, &b)?;
            Ok(trail)
        })
        .await??;
        bar.finish_and_clear();
        Arc::new(trail)
    };
    let served = serve(&data, trail.clone()).await?;
    let url = served.url.clone();

    let first_page = first_page(&url, 5).await?;
    let (paint, paint_skipped) = match &config.paint {
        None => (None, Some("no browser measurement asked for".to_string())),
        Some(p) => {
            let spinner = progress.phase("dashboard paint in headless Chromium");
            let r = paint(&url, p).await;
            spinner.finish_and_clear();
            match r {
                Ok(p) => (Some(p), None),
                Err(e) => (None, Some(format!("{e:#}"))),
            }
        }
    };

    let reads = LoadSpec { concurrency: config.clients, warmup: config.warmup, secs: config.secs };
    let s = progress.phase(&format!("receipts over HTTP, {} clients", config.clients));
    let api = receipts_http(&url, n, reads).await?;
    s.finish_and_clear();
    let s = progress.phase(&format!("receipts through the library, {} threads", config.clients));
    let library = receipts_library(trail.clone(), n, reads).await?;
    s.finish_and_clear();
    let receipts = Compare::of(api, library);

    let writes = LoadSpec { concurrency: config.writers, warmup: config.warmup, secs: config.secs };
    let (key, _) = served.state.keys.create("bench-writer", Role::Writer, None)?;
    let s = progress.phase(&format!("appends over HTTP, {} writers", config.writers));
    let api = appends_http(&url, &key, writes).await?;
    s.finish_and_clear();
    let s = progress.phase(&format!("appends through the library, {} threads", config.writers));
    let library = appends_library(trail.clone(), writes).await?;
    s.finish_and_clear();
    let appends = Compare::of(api, library);
    served.stop().await;
    drop(trail);

    let (rss, rss_skipped) = match &config.rss {
        None => (None, Some("no `alara` executable to start".to_string())),
        Some(r) => match rss(&config.dir, r, progress).await {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(format!("{e:#}"))),
        },
    };
    Ok(Report {
        build: build_profile(),
        cores: cores(),
        entries: n,
        auth: format!(
            "receipts: anonymous reads (as on a loopback `alara up`); appends: a writer API \
             key; rate limit {UNLIMITED:e}/s, burst {UNLIMITED:e} (never refuses)"
        ),
        receipts,
        appends,
        first_page,
        paint,
        paint_skipped,
        rss,
        rss_skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn receipt_and_append_loads_count_requests_and_see_no_errors() {
        let dir = tempfile::tempdir().unwrap();
        let trail = Arc::new(open_trail(&dir.path().join("audit")).unwrap());
        fill(&trail, 200, &ProgressBar::hidden()).unwrap();
        assert_eq!(trail.log().size(), 200);
        let served = serve(dir.path(), trail.clone()).await.unwrap();
        let spec = LoadSpec {
            concurrency: 8,
            warmup: Duration::from_millis(100),
            secs: Duration::from_millis(300),
        };

        let api = receipts_http(&served.url, 200, spec).await.unwrap();
        assert!(api.ok > 0, "{api:?}");
        assert_eq!(api.errors, 0, "{api:?}");
        let library = receipts_library(trail.clone(), 200, spec).await.unwrap();
        assert!(library.ok > 0, "{library:?}");
        assert_eq!(library.errors, 0, "{library:?}");

        let (key, _) = served.state.keys.create("bench-writer", Role::Writer, None).unwrap();
        let before = trail.log().size();
        let api = appends_http(&served.url, &key, spec).await.unwrap();
        assert!(api.ok > 0, "{api:?}");
        assert_eq!(api.errors, 0, "{api:?}");
        let library = appends_library(trail.clone(), spec).await.unwrap();
        assert!(library.ok > 0, "{library:?}");
        assert_eq!(library.errors, 0, "{library:?}");
        // Every acknowledged append is in the log (the warm-up's too).
        assert!(trail.log().size() >= before + api.ok + library.ok);

        let page = first_page(&served.url, 2).await.unwrap();
        assert!(page.bytes > 0);
        served.stop().await;
    }

    #[tokio::test]
    async fn a_refused_append_is_an_error_not_a_count() {
        let dir = tempfile::tempdir().unwrap();
        let trail = Arc::new(open_trail(&dir.path().join("audit")).unwrap());
        let served = serve(dir.path(), trail).await.unwrap();
        let spec =
            LoadSpec { concurrency: 2, warmup: Duration::ZERO, secs: Duration::from_millis(100) };
        let m = appends_http(&served.url, "alara_k_00000000_nope", spec).await.unwrap();
        assert_eq!(m.ok, 0);
        assert!(m.errors > 0);
        assert!(m.first_error.as_deref().unwrap_or("").starts_with("401"), "{m:?}");
        served.stop().await;
    }

    #[test]
    fn rss_of_this_process() {
        let (rss, peak) = rss_of(std::process::id()).unwrap();
        assert!(rss > 0.0 && peak >= rss * 0.5, "{rss} {peak}");
    }
}
