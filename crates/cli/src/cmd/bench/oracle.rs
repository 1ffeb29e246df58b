//! `alara bench oracle`, one run, side by side:
//! - the error of the reported value against the real series (AAPL monthly closes, held
//!   out of the learned detector's training) with k = 0…5 of 10 sources quoting ×10
//!   together: the plain median, the baselines (median/MAD, history, rolling z-score) and
//!   the default detector with its learned stage;
//! - the same for the other attacks (subtle collusion, spikes, a frozen source, drift);
//! - report gas for n = 4, 10, 31, f + 1 ECDSA signatures beside one FROST aggregate
//!   signature, with the published anchors (Chainlink OCR2, Chronicle Scribe);
//! - `CropInsurance` payout gas per policy in batches of 1, 10 and 50;
//! - round latency from observation to `latestRoundData`, embedded chain beside anvil;
//! - claims assessed per second by `ClaimsInsurance`'s model.

use alara_chain::testing::{Backend, TestChain};
use alara_oracle::feed::{attack_table, manipulation_table, Compared};

use crate::context::Context;

/// Arguments of `alara bench oracle`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Stock of datasets/stocks.csv (AAPL is the one the learned detector never saw).
    #[arg(long, default_value = "AAPL")]
    pub series: String,
    /// Seeds to average the error tables over.
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// Rounds timed per backend in the latency row.
    #[arg(long, default_value_t = 10)]
    pub rounds: u32,
    /// Only the error tables (no chain).
    #[arg(long)]
    pub no_chain: bool,
}

/// Mean of each field over seeds.
#[derive(Debug, serde::Serialize)]
struct Row {
    attack: String,
    median_mean: f64,
    rules_mean: f64,
    learned_mean: f64,
    median_worst: f64,
    rules_worst: f64,
    learned_worst: f64,
    rules_no_report: f64,
    learned_no_report: f64,
}

fn average(attack: String, runs: &[Compared]) -> Row {
    let n = runs.len().max(1) as f64;
    let m = |f: &dyn Fn(&Compared) -> f64| runs.iter().map(f).sum::<f64>() / n;
    Row {
        attack,
        median_mean: m(&|c| c.rules.median_mean),
        rules_mean: m(&|c| c.rules.filter_mean),
        learned_mean: m(&|c| c.learned.filter_mean),
        median_worst: m(&|c| c.rules.median_max),
        rules_worst: m(&|c| c.rules.filter_max),
        learned_worst: m(&|c| c.learned.filter_max),
        rules_no_report: m(&|c| c.rules.no_report as f64),
        learned_no_report: m(&|c| c.learned.no_report as f64),
    }
}

fn print_table(title: &str, rows: &[Row]) {
    println!("{title}");
    println!(
        "{:<38} {:>9} {:>9} {:>9}   {:>9} {:>9} {:>9}   {:>9}",
        "", "median", "rules", "learned", "median", "rules", "learned", "no report"
    );
    println!("{:<38} {:>29}   {:>29}   {:>9}", "", "mean error", "worst error", "rules/learned");
    let pct = |x: f64| format!("{:.3}%", x * 100.0);
    for r in rows {
        println!(
            "{:<38} {:>9} {:>9} {:>9}   {:>9} {:>9} {:>9}   {:>4.1}/{:<4.1}",
            r.attack,
            pct(r.median_mean),
            pct(r.rules_mean),
            pct(r.learned_mean),
            pct(r.median_worst),
            pct(r.rules_worst),
            pct(r.learned_worst),
            r.rules_no_report,
            r.learned_no_report
        );
    }
}

/// Latency summary of one backend.
#[derive(Debug, serde::Serialize)]
struct Latency {
    backend: String,
    nodes: u8,
    median_total_ms: f64,
    median_observe_ms: f64,
    median_sign_ms: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// What the chain part of the benchmark measured.
#[derive(Debug, Default, serde::Serialize)]
struct ChainRows {
    report_gas: Vec<alara_oracle::bench::ReportGas>,
    settle_gas: Vec<alara_oracle::bench::SettleGas>,
    latency: Vec<Latency>,
}

async fn chain_rows(rounds: u32) -> eyre::Result<ChainRows> {
    let owner = alara_chain::dev::dev_addresses()[0];
    let mut gas = Vec::new();
    let mut settle = Vec::new();
    let mut latency = Vec::new();
    for backend in [Backend::Embedded, Backend::Anvil] {
        let chain = TestChain::start(backend)
            .await
            .map_err(|e| eyre::eyre!("{backend} did not start: {e}"))?;
        let p = chain.provider(0);
        if backend == Backend::Embedded {
            for (n, f) in [(4u8, 1u8), (10, 3), (31, 10)] {
                gas.push(alara_oracle::bench::report_gas(&p, owner, n, f).await?);
            }
            settle = alara_oracle::bench::settle_gas(&p, owner).await?;
        }
        for n in [4u8, 31] {
            let t = alara_oracle::bench::round_latency(&p, owner, n, rounds).await?;
            latency.push(Latency {
                backend: backend.to_string(),
                nodes: n,
                median_total_ms: median(t.iter().map(|x| x.total_ms).collect()),
                median_observe_ms: median(t.iter().map(|x| x.observe_ms).collect()),
                median_sign_ms: median(t.iter().map(|x| x.sign_ms).collect()),
            });
        }
    }
    Ok(ChainRows { report_gas: gas, settle_gas: settle, latency })
}

/// Claims per second through the shipped claims assessor, on the held-out real claims.
fn claims_throughput() -> eyre::Result<alara_oracle::claims::Throughput> {
    use alara_oracle::claims::{bench_assess, held_out, ClaimInput, ClaimsAssessor};
    let assessor = ClaimsAssessor::shipped()?;
    let inputs: Vec<ClaimInput> = held_out()?
        .into_iter()
        .map(|c| ClaimInput {
            salt: *alloy::primitives::keccak256(format!("bench claim {}", c.row)),
            claimed: c.features.claimed_wei(),
            cover_left: u128::MAX,
            features: c.features,
        })
        .collect();
    Ok(bench_assess(&assessor, &inputs, 2000, 64)?)
}

/// Runs `alara bench oracle`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    eyre::ensure!(args.seeds >= 1, "--seeds must be at least 1");
    eyre::ensure!((1..=1000).contains(&args.rounds), "--rounds must be 1 to 1000");
    let truth: Vec<f64> =
        alara_oracle::series::stock(&args.series)?.into_iter().map(|p| p.value).collect();
    let bar = (!ctx.json && !ctx.quiet).then(|| {
        indicatif::ProgressBar::new(args.seeds * 2).with_message("deciding every round three ways")
    });
    let mut by_k: Vec<Vec<Compared>> = vec![Vec::new(); 6];
    let mut by_attack: Vec<(String, Vec<Compared>)> = Vec::new();
    for seed in 0..args.seeds {
        for (k, c) in manipulation_table(&truth, 10, 5, seed)? {
            by_k[k].push(c);
        }
        if let Some(b) = &bar {
            b.inc(1);
        }
        for (i, c) in attack_table(&truth, seed)?.into_iter().enumerate() {
            if by_attack.len() <= i {
                by_attack.push((c.attack.clone(), Vec::new()));
            }
            by_attack[i].1.push(c);
        }
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let k_rows: Vec<Row> = by_k
        .iter()
        .enumerate()
        .map(|(k, runs)| average(format!("{k} of 10 quote x10"), runs))
        .collect();
    let attack_rows: Vec<Row> =
        by_attack.iter().map(|(name, runs)| average(name.clone(), runs)).collect();
    let claims = claims_throughput()?;
    let chain = if args.no_chain { ChainRows::default() } else { chain_rows(args.rounds).await? };
    let (gas, latency) = (&chain.report_gas, &chain.latency);
    let out = serde_json::json!({
        "series": args.series,
        "sources": 10,
        "seeds": args.seeds,
        "manipulation": k_rows,
        "attacks": attack_rows,
        "report_gas": gas,
        "anchors": {
            "chainlink_ocr2_transmit": [274_000, 525_000],
            "chronicle_scribe_poke_20_signers": 159_000,
            "chronicle_scribe_poke_50_signers": 320_000,
            "chronicle_scribe_optimistic": 69_000,
        },
        "settle_gas": chain.settle_gas,
        "claims": claims,
        "latency": latency,
    });
    ctx.emit(&out, || {
        print_table(
            &format!(
                "{} monthly closes ({} rounds), 10 sources, mean over {} seeds:",
                args.series,
                truth.len(),
                args.seeds
            ),
            &k_rows,
        );
        println!();
        print_table("Other attacks:", &attack_rows);
        if !gas.is_empty() {
            println!("\nReport gas (first report / later reports), embedded chain:");
            println!(
                "{:>3} {:>3}  {:>22}  {:>22}  {:>7}  {:>16}",
                "n", "f", "f+1 ECDSA signatures", "one FROST signature", "ratio", "calldata bytes"
            );
            for g in gas {
                println!(
                    "{:>3} {:>3}  {:>10} / {:>9}  {:>10} / {:>9}  {:>6.2}×  {:>7} / {:>6}",
                    g.n,
                    g.f,
                    g.ecdsa.0,
                    g.ecdsa.1,
                    g.aggregate.0,
                    g.aggregate.1,
                    g.ecdsa.1 as f64 / g.aggregate.1.max(1) as f64,
                    g.calldata.0,
                    g.calldata.1
                );
            }
            println!(
                "Goal: at most 100,000 gas at n = 31. Anchors: Chainlink OCR2 transmit \
                 274k-525k; Chronicle Scribe poke 159k at 20 signers, 320k at 50, ~69k optimistic."
            );
        }
        println!(
            "\nClaims assessed per second (ClaimsInsurance's model in tract, {} held-out real \
             claims, commitment included): one at a time {:.0}/s, in batches of {} {:.0}/s",
            claims.claims, claims.single_per_s, claims.batch, claims.batch_per_s
        );
        if !chain.settle_gas.is_empty() {
            println!("\nCropInsurance payout gas (settle, embedded chain):");
            for s in &chain.settle_gas {
                println!(
                    "  batch of {:>2}: {:>8} gas, {:>7} per policy",
                    s.batch, s.gas, s.per_policy
                );
            }
        }
        if !latency.is_empty() {
            println!(
                "\nRound latency, observation to latestRoundData (median of {} rounds):",
                args.rounds
            );
            println!(
                "{:<10} {:>5} {:>10} {:>10} {:>10}",
                "chain", "nodes", "total ms", "observe", "sign"
            );
            for l in latency {
                println!(
                    "{:<10} {:>5} {:>10.1} {:>10.1} {:>10.1}",
                    l.backend, l.nodes, l.median_total_ms, l.median_observe_ms, l.median_sign_ms
                );
            }
        }
    })
}
