//! `alara oracle …`: the AI oracle's feeds. `feed` runs a feed over a shipped real series
//! with quotes from many simulated sources (seeded noise, latency, outages and the attacks
//! you choose), and shows each round's consensus, the plain median beside it, and which
//! sources were dropped and why. `setup`, `node` and `report` run the oracle network,
//! and `replay` recomputes a reported round ([`crate::cmd::oracle_net`]).

use alara_oracle::detect::DetectorConfig;
use alara_oracle::series::{self, Attack, QuoteModel};
use eyre::{bail, WrapErr};

use crate::context::Context;

/// `alara oracle` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Run a feed over a shipped series: consensus vs plain median vs the real value.
    #[command(after_help = "Examples:
  alara oracle feed --series AAPL --manipulate 4      four of ten sources quote x10
  alara oracle feed --series AAPL --frozen 2:30 --drift 5:0.002 --last 12
  alara oracle feed --series seattle-rain --json")]
    Feed(FeedArgs),
    /// Deploy a feed and make its committee: n nodes' keys and a FROST threshold key.
    #[command(after_help = "Examples:
  ALARA_ORACLE_PASSWORD=… alara oracle setup --series AAPL --nodes 4
  alara oracle setup --series AAPL --nodes 7 --manipulate 3 --dir ./feed

The node keys are written encrypted (age, scrypt) with ALARA_ORACLE_PASSWORD.")]
    Setup(crate::cmd::oracle_net::SetupArgs),
    /// Run one oracle node: observe the sources, sign observations and report shares.
    #[command(after_help = "Examples:
  alara oracle node --dir ~/.alara/oracle/aapl --index 0 &
  alara oracle node --dir ~/.alara/oracle/aapl --index 3 --lie 10   a malicious node")]
    Node(crate::cmd::oracle_net::NodeArgs),
    /// Lead the committee: observe each epoch, and report on deviation or heartbeat.
    #[command(after_help = "Examples:
  alara oracle report --dir ~/.alara/oracle/aapl --epochs 12
  alara oracle report --dir ~/.alara/oracle/aapl --deviation 1 --heartbeat 86400 --json")]
    Report(crate::cmd::oracle_net::ReportArgs),
    /// Recompute a reported round from its journal and the audit log, bit for bit.
    #[command(after_help = "Examples:
  alara oracle replay --dir ~/.alara/oracle/aapl --round 3
  alara oracle replay --dir ~/.alara/oracle-demo --trail ~/.alara/oracle-demo/audit --round 1 --json

Each node's decision is rerun from the raw quotes and its detector state before the
round (which pins the learned model by hash); the result must equal what the node
signed, the journal must equal the audit log's entries, and the median must equal the
feed's on-chain answer (getRoundData). Exits non-zero when anything differs.")]
    Replay(crate::cmd::oracle_net::ReplayArgs),
}

/// Arguments of `alara oracle feed`.
#[derive(clap::Args, Debug)]
pub struct FeedArgs {
    /// The series: a stock of datasets/stocks.csv (MSFT, AMZN, IBM, GOOG, AAPL; monthly
    /// closes in USD) or `seattle-rain` (daily precipitation in mm).
    #[arg(long, default_value = "AAPL")]
    series: String,
    /// Number of sources quoting it.
    #[arg(long, default_value_t = 10)]
    sources: usize,
    /// Seed of the sources' noise, latency and outages.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The first K sources collude and quote --factor × the value.
    #[arg(long, value_name = "K", default_value_t = 0)]
    manipulate: usize,
    /// Multiplier of --manipulate.
    #[arg(long, default_value_t = 10.0)]
    factor: f64,
    /// SOURCE:ROUND: that source quotes 5× in that round only.
    #[arg(long, value_name = "SOURCE:ROUND")]
    spike: Vec<String>,
    /// SOURCE:ROUND: that source repeats its quote from that round on.
    #[arg(long, value_name = "SOURCE:ROUND")]
    frozen: Vec<String>,
    /// SOURCE:RATE: that source drifts away by RATE (0.002 = 0.2%) more each round.
    #[arg(long, value_name = "SOURCE:RATE")]
    drift: Vec<String>,
    /// Accepted quotes a round needs to report.
    #[arg(long, default_value_t = 3)]
    quorum: usize,
    /// Print only the last N rounds (all are decided; the summary covers all).
    #[arg(long, value_name = "N")]
    last: Option<usize>,
}

fn pair<T: std::str::FromStr>(flag: &str, s: &str, sources: usize) -> eyre::Result<(usize, T)> {
    let (a, b) = s
        .split_once(':')
        .ok_or_else(|| eyre::eyre!("--{flag} {s:?}: expected SOURCE:VALUE, e.g. 2:30"))?;
    let source: usize =
        a.parse().map_err(|_| eyre::eyre!("--{flag} {s:?}: {a:?} is not a source number"))?;
    if source >= sources {
        bail!(
            "--{flag} {s:?}: source {source} does not exist (there are {sources}, 0-{})",
            sources - 1
        );
    }
    let value = b.parse().map_err(|_| eyre::eyre!("--{flag} {s:?}: {b:?} is not a number"))?;
    Ok((source, value))
}

/// Runs an `alara oracle` subcommand.
pub async fn run(ctx: &Context, command: Command) -> eyre::Result<()> {
    use crate::cmd::oracle_net as net;
    match command {
        Command::Feed(a) => feed(ctx, a),
        Command::Setup(a) => net::setup(ctx, a).await,
        Command::Node(a) => net::run_node(ctx, a).await,
        Command::Report(a) => net::report(ctx, a).await,
        Command::Replay(a) => net::replay(ctx, a).await,
    }
}

fn feed(ctx: &Context, a: FeedArgs) -> eyre::Result<()> {
    if a.sources == 0 || a.sources > 1000 {
        bail!("--sources must be between 1 and 1000");
    }
    if a.manipulate > a.sources {
        bail!("--manipulate {} is more than the {} sources", a.manipulate, a.sources);
    }
    if !(a.factor.is_finite() && a.factor > 0.0) {
        bail!("--factor must be a positive number");
    }
    let points = series::named(&a.series).wrap_err("--series")?;
    let truth: Vec<f64> = points.iter().map(|p| p.value).collect();
    let mut model = QuoteModel::honest(a.sources, a.seed);
    if a.manipulate > 0 {
        model
            .attacks
            .push(Attack::Manipulate { sources: (0..a.manipulate).collect(), factor: a.factor });
    }
    for s in &a.spike {
        let (source, round) = pair::<usize>("spike", s, a.sources)?;
        model.attacks.push(Attack::Spike { source, round, factor: 5.0 });
    }
    for s in &a.frozen {
        let (source, from_round) = pair::<usize>("frozen", s, a.sources)?;
        model.attacks.push(Attack::Frozen { source, from_round });
    }
    for s in &a.drift {
        let (source, per_round) = pair::<f64>("drift", s, a.sources)?;
        model.attacks.push(Attack::Drift { source, per_round });
    }
    let feed = format!("{}/simulated-{}", a.series, a.sources);
    let (rounds, summary) =
        alara_oracle::feed::run(&feed, &truth, &model, DetectorConfig::default(), a.quorum)?;
    let shown = &rounds[rounds.len().saturating_sub(a.last.unwrap_or(rounds.len()))..];
    let out =
        serde_json::json!({ "feed": feed, "model": model, "summary": summary, "rounds": shown });
    ctx.emit(&out, || {
        println!(
            "{:>5}  {:>11}  {:>12}  {:>12}  {:>8}  {:>5}  dropped",
            "round", "date", "real", "median", "consensus", "conf"
        );
        for r in shown {
            let d = &r.decision;
            let date = usize::try_from(d.round).ok().and_then(|i| points.get(i)).map_or("", |p| p.date.as_str());
            let dropped: Vec<String> =
                d.dropped.iter().map(|x| format!("{} ({})", x.source, x.reason)).collect();
            println!(
                "{:>5}  {:>11}  {:>12.4}  {:>12.4}  {:>9.4}  {:>4.0}%  {}",
                d.round,
                date,
                r.truth,
                r.median,
                d.value,
                d.confidence * 100.0,
                if dropped.is_empty() { "-".to_string() } else { dropped.join("; ") }
            );
        }
        println!(
            "\n{} rounds: mean error vs the real series {:.3}% (plain median {:.3}%), worst {:.3}% ({:.3}%), {} rounds without a quorum",
            rounds.len(),
            summary.filter_mean * 100.0,
            summary.median_mean * 100.0,
            summary.filter_max * 100.0,
            summary.median_max * 100.0,
            summary.no_report
        );
    })
}
