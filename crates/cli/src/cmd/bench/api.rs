//! `alara bench api`: the HTTP API beside the library it serves, in the same run —
//! receipt lookups and durable appends — plus the dashboard's paint time in headless
//! Chromium and the memory of a whole node serving a million-entry trail (the
//! measurements are `alara_api::bench`'s).

use std::path::PathBuf;
use std::time::Duration;

use alara_api::bench::{self, Compare, Measured, Report};
use eyre::WrapErr;

use crate::context::Context;

/// Arguments of `alara bench api`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Entries in the trail of the memory measurement (served by a child `alara up`).
    /// Default 1,000,000 (100,000 with --quick).
    #[arg(long)]
    pub entries: Option<u64>,
    /// Entries in the trail the receipts are looked up in and the dashboard shows.
    /// Default 100,000 (10,000 with --quick).
    #[arg(long)]
    pub receipt_entries: Option<u64>,
    /// Concurrent clients of the receipt load (keep-alive connections), and library
    /// threads of its peer.
    #[arg(long, default_value_t = 200)]
    pub clients: usize,
    /// Concurrent writers of the append load, and library threads of its peer.
    #[arg(long, default_value_t = 64)]
    pub writers: usize,
    /// Seconds of each measured window. Default 5 (1 with --quick).
    #[arg(long)]
    pub secs: Option<f64>,
    /// Seconds of warm-up before each window. Default 1 (0.3 with --quick).
    #[arg(long)]
    pub warmup: Option<f64>,
    /// Smaller trails and shorter windows: a quick look, not figures to quote.
    #[arg(long)]
    pub quick: bool,
    /// Skip the dashboard measurement (headless Chromium).
    #[arg(long)]
    pub no_paint: bool,
    /// Skip the memory measurement (a child `alara up` on a filled data directory).
    #[arg(long)]
    pub no_rss: bool,
    /// The element whose first appearance means the dashboard's audit table shows rows.
    #[arg(long, default_value = "#entries tr[data-index]")]
    pub selector: String,
    /// Page loads of the dashboard, each in a fresh browser profile (the median counts).
    /// Default 3 (1 with --quick).
    #[arg(long)]
    pub paint_runs: Option<usize>,
    /// Python with playwright. Default: `.venv/bin/python` when there is one, else python3.
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// The paint script.
    #[arg(long, default_value = "scripts/bench_dashboard_paint.py")]
    pub paint_script: PathBuf,
    /// Where to put the benchmark's trails (default: a temporary directory on the data
    /// dir's disk).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

fn seconds(name: &str, secs: f64) -> eyre::Result<Duration> {
    eyre::ensure!(
        secs >= 0.0 && secs.is_finite() && secs < 1e6,
        "--{name} must be a number of seconds"
    );
    Ok(Duration::from_secs_f64(secs))
}

/// Runs `alara bench api`: the table on stdout, or one JSON object under `--json`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    let q = args.quick;
    eyre::ensure!(args.clients >= 1, "--clients must be at least 1");
    eyre::ensure!(args.writers >= 1, "--writers must be at least 1");
    let secs = seconds("secs", args.secs.unwrap_or(if q { 1.0 } else { 5.0 }))?;
    eyre::ensure!(!secs.is_zero(), "--secs must be positive");
    let warmup = seconds("warmup", args.warmup.unwrap_or(if q { 0.3 } else { 1.0 }))?;
    let base = args.dir.clone().unwrap_or_else(|| ctx.data_dir.join("bench"));
    std::fs::create_dir_all(&base)?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!("api-bench-{}-", std::process::id()))
        .tempdir_in(&base)
        .wrap_err_with(|| format!("creating a scratch directory in {}", base.display()))?;
    let python = args.python.clone().unwrap_or_else(|| {
        let venv = PathBuf::from(".venv/bin/python");
        if venv.exists() {
            venv
        } else {
            PathBuf::from("python3")
        }
    });
    let paint = (!args.no_paint).then(|| bench::PaintConfig {
        python,
        script: args.paint_script.clone(),
        selector: args.selector.clone(),
        runs: args.paint_runs.unwrap_or(if q { 1 } else { 3 }),
    });
    let rss = if args.no_rss {
        None
    } else {
        Some(bench::RssConfig {
            alara_exe: std::env::current_exe()?,
            entries: args.entries.unwrap_or(if q { 100_000 } else { 1_000_000 }),
        })
    };
    let config = bench::Config {
        dir: tmp.path().to_path_buf(),
        entries: args.receipt_entries.unwrap_or(if q { 10_000 } else { 100_000 }),
        clients: args.clients,
        writers: args.writers,
        warmup,
        secs,
        paint,
        rss,
        progress: true,
    };
    let mut report = bench::run(&config).await?;
    if args.no_paint {
        report.paint_skipped = Some("--no-paint".into());
    }
    if args.no_rss {
        report.rss_skipped = Some("--no-rss".into());
    }
    ctx.emit(&report, || print_report(&report))
}

fn int(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let s = format!("{x:.0}");
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

fn ms(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}")
    } else {
        "-".into()
    }
}

fn ratio(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}×")
    } else {
        "-".into()
    }
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

fn row(what: &str, api: String, peer: String, r: String, target: &str) {
    println!("{what:<50} {api:>12} {peer:>12} {r:>8}   {target}");
}

fn load_rows(title: &str, c: &Compare) {
    let (a, l): (&Measured, &Measured) = (&c.api, &c.library);
    println!("{title}");
    row("  per second", int(a.per_sec), int(l.per_sec), ratio(c.throughput_ratio), "reported");
    row("  p50 ms", ms(a.p50_ms), ms(l.p50_ms), ratio(c.p50_ratio), "reported");
    row("  p99 ms", ms(a.p99_ms), ms(l.p99_ms), ratio(c.p99_ratio), "reported");
    row("  mean ms", ms(a.mean_ms), ms(l.mean_ms), ratio(a.mean_ms / l.mean_ms), "");
    row(
        "  answered in the window / errors",
        format!("{} / {}", int(a.ok as f64), a.errors),
        format!("{} / {}", int(l.ok as f64), l.errors),
        String::new(),
        &format!("0 errors: {}", met(a.errors == 0 && l.errors == 0)),
    );
    for (side, m) in [("API", a), ("library", l)] {
        if let Some(e) = &m.first_error {
            println!("  first {side} error: {e}");
        }
    }
}

fn print_report(r: &Report) {
    println!(
        "alara bench api — {} build, {} cores shared by server, load generator and library threads",
        r.build, r.cores
    );
    println!(
        "server: the one `alara up` runs (JSON-RPC + API on one port, ephemeral embedded node)"
    );
    println!("auth: {}", r.auth);
    println!();
    row("", "API".into(), "library".into(), "ratio".into(), "target");
    load_rows(
        &format!(
            "receipt lookups, random entry of {}: GET /api/v1/audit/entries/{{i}}/receipt, {} clients",
            int(r.entries as f64),
            r.receipts.api.concurrency
        ),
        &r.receipts,
    );
    load_rows(
        &format!(
            "durable appends: POST /api/v1/audit/entries (writer key), {} writers",
            r.appends.api.concurrency
        ),
        &r.appends,
    );
    println!();
    let fp = &r.first_page;
    row(
        "first page of entries (50 rows), raw API ms",
        ms(fp.fresh_ms),
        ms(fp.warm_ms),
        String::new(),
        &format!("fresh connection / kept alive; {} bytes", int(fp.bytes as f64)),
    );
    match &r.paint {
        Some(p) => {
            row(
                "dashboard first contentful paint ms",
                ms(p.fcp_ms),
                int(p.target_ms),
                ratio(p.fcp_ms / p.target_ms),
                "",
            );
            let what = match p.mode.as_str() {
                "selector" => format!("dashboard rows shown ms ({})", p.selector),
                _ => "dashboard: first page fetched by the page, ms".to_string(),
            };
            row(
                &what,
                ms(p.ready_ms),
                int(p.target_ms),
                ratio(p.ready_ms / p.target_ms),
                &format!("≤ {} ms: {}", int(p.target_ms), met(p.met)),
            );
            if let Some(f) = p.entries_fetch_ms {
                row(
                    "  the page's own entries request answered, ms",
                    ms(f),
                    String::new(),
                    String::new(),
                    "",
                );
            }
            if let Some(n) = &p.note {
                println!("  note: {n}");
            }
        }
        None => println!(
            "dashboard paint: skipped ({})",
            r.paint_skipped.as_deref().unwrap_or("not run")
        ),
    }
    match &r.rss {
        Some(m) => {
            row(
                &format!("peak RSS MB, `alara up` serving {} entries", int(m.entries as f64)),
                int(m.peak_mb),
                int(m.target_mb),
                ratio(m.peak_mb / m.target_mb),
                &format!("≤ {} MB: {}", int(m.target_mb), met(m.met)),
            );
            row(
                "  RSS MB once serving / after the exercise",
                int(m.rss_start_mb),
                int(m.rss_mb),
                String::new(),
                "",
            );
            row(
                "  leaf-hash lookup ms: first (builds index) / next",
                ms(m.leaf_index_build_ms),
                ms(m.leaf_lookup_ms),
                String::new(),
                "",
            );
            row(
                "  exercise requests / errors",
                int(m.requests as f64),
                int(m.errors as f64),
                String::new(),
                &format!("0 errors: {}", met(m.errors == 0)),
            );
            if let Some(e) = &m.first_error {
                println!("  first error: {e}");
            }
            println!(
                "  fill {:.1} s ({}/s), `alara up` start to trail served {:.1} s",
                m.fill_secs,
                int(m.entries as f64 / m.fill_secs),
                m.start_secs
            );
        }
        None => println!("memory: skipped ({})", r.rss_skipped.as_deref().unwrap_or("not run")),
    }
    println!();
    println!(
        "library = the same calls the handler makes (receipts: checkpoint_covering + receipt_at;"
    );
    println!(
        "appends: AuditTrail::append), on as many threads: the ratio is what HTTP and JSON cost."
    );
    println!(
        "Both sides of a load count a request once answered; appends are answered once durable."
    );
}
