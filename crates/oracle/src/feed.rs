//! A feed run over a shipped series: every round's quotes from [`QuoteModel`], decided by
//! the detectors, beside the plain median of the same quotes and the true value. What
//! `alara oracle feed` prints and `alara bench oracle` measures.

use serde::{Deserialize, Serialize};

use crate::consensus::{decide, plain_median, Decision};
use crate::detect::{Detector, DetectorConfig};
use crate::series::{Attack, QuoteModel};
use crate::Result;

/// One round of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundResult {
    /// The real value.
    pub truth: f64,
    /// The plain median of every quote.
    pub median: f64,
    /// The decision (median of the accepted quotes).
    pub decision: Decision,
}

/// A run's summary: mean and worst relative errors against the real series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorSummary {
    /// Mean |median / truth − 1|.
    pub median_mean: f64,
    /// Worst |median / truth − 1|.
    pub median_max: f64,
    /// Mean |decision / truth − 1|.
    pub filter_mean: f64,
    /// Worst |decision / truth − 1|.
    pub filter_max: f64,
    /// Rounds without a quorum of accepted quotes (no report).
    pub no_report: usize,
}

/// Runs `feed` over `truth` with quotes from `model`; rounds without a quorum are left out
/// of the results and counted in the summary.
pub fn run(
    feed: &str,
    truth: &[f64],
    model: &QuoteModel,
    config: DetectorConfig,
    quorum: usize,
) -> Result<(Vec<RoundResult>, ErrorSummary)> {
    let quotes = model.quotes(truth)?;
    let mut detector = Detector::new(config);
    let mut out = Vec::new();
    let mut s = ErrorSummary {
        median_mean: 0.0,
        median_max: 0.0,
        filter_mean: 0.0,
        filter_max: 0.0,
        no_report: 0,
    };
    for (r, row) in quotes.iter().enumerate() {
        let q: Vec<(String, f64)> = row
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (format!("source-{i}"), v)))
            .collect();
        let Some(median) = plain_median(&q) else {
            s.no_report += 1;
            continue;
        };
        let decision = match decide(feed, r as u64, &q, &mut detector, quorum) {
            Ok(d) => d,
            Err(crate::Error::Quorum { .. }) => {
                s.no_report += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let (em, ef) = ((median / truth[r] - 1.0).abs(), (decision.value / truth[r] - 1.0).abs());
        s.median_mean += em;
        s.filter_mean += ef;
        s.median_max = s.median_max.max(em);
        s.filter_max = s.filter_max.max(ef);
        out.push(RoundResult { truth: truth[r], median, decision });
    }
    let n = out.len().max(1) as f64;
    s.median_mean /= n;
    s.filter_mean /= n;
    Ok((out, s))
}

/// The error table of `alara bench oracle`: k = 0…`max_k` of `sources` sources
/// manipulating ×10 together, median vs filter.
pub fn manipulation_table(
    truth: &[f64],
    sources: usize,
    max_k: usize,
    seed: u64,
) -> Result<Vec<(usize, ErrorSummary)>> {
    (0..=max_k.min(sources))
        .map(|k| {
            let mut model = QuoteModel::honest(sources, seed);
            model.attacks = vec![Attack::Manipulate { sources: (0..k).collect(), factor: 10.0 }];
            let (_, s) = run("table", truth, &model, DetectorConfig::default(), 3)?;
            Ok((k, s))
        })
        .collect()
}
