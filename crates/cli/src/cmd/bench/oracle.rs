//! `alara bench oracle`: the error of the reported value against the real series (AAPL
//! monthly closes, datasets/stocks.csv) with k = 0…5 of 10 sources quoting ×10 together,
//! the plain median beside the filtered consensus, in one run.

use crate::context::Context;

/// Arguments of `alara bench oracle`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Stock of datasets/stocks.csv.
    #[arg(long, default_value = "AAPL")]
    pub series: String,
    /// Seeds to average over.
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
}

/// Runs `alara bench oracle`.
pub fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    eyre::ensure!(args.seeds >= 1, "--seeds must be at least 1");
    let truth: Vec<f64> =
        alara_oracle::series::stock(&args.series)?.into_iter().map(|p| p.value).collect();
    let mut rows = Vec::new();
    for seed in 0..args.seeds {
        for (k, s) in alara_oracle::feed::manipulation_table(&truth, 10, 5, seed)? {
            rows.push(serde_json::json!({ "seed": seed, "k": k, "summary": s }));
        }
    }
    let mean = |k: usize, field: &str| -> f64 {
        let v: Vec<f64> = rows
            .iter()
            .filter(|r| r["k"] == k)
            .filter_map(|r| r["summary"][field].as_f64())
            .collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let table: Vec<serde_json::Value> = (0..=5)
        .map(|k| {
            serde_json::json!({
                "k": k,
                "median_mean_error": mean(k, "median_mean"),
                "filter_mean_error": mean(k, "filter_mean"),
                "median_worst_error": mean(k, "median_max"),
                "filter_worst_error": mean(k, "filter_max"),
                "rounds_without_report": mean(k, "no_report"),
            })
        })
        .collect();
    let out = serde_json::json!({ "series": args.series, "sources": 10, "seeds": args.seeds, "table": table });
    ctx.emit(&out, || {
        println!("{} monthly closes, 10 sources, k of them quoting x10 together ({} seeds):", args.series, args.seeds);
        println!("{:>3}  {:>14}  {:>14}  {:>14}  {:>14}  {:>9}", "k", "median mean", "filter mean", "median worst", "filter worst", "no report");
        for r in &table {
            let pct = |f: &str| format!("{:.3}%", r[f].as_f64().unwrap_or(f64::NAN) * 100.0);
            println!(
                "{:>3}  {:>14}  {:>14}  {:>14}  {:>14}  {:>9.1}",
                r["k"],
                pct("median_mean_error"),
                pct("filter_mean_error"),
                pct("median_worst_error"),
                pct("filter_worst_error"),
                r["rounds_without_report"].as_f64().unwrap_or(0.0)
            );
        }
        println!("The filter is median/MAD + per-source history (the learned detector is not built yet).");
    })
}
