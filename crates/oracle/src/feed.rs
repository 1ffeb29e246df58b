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

/// A run's summary: mean and worst relative errors against the real series (the plain
/// median's over every round, the filter's over the rounds it reported).
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
    /// Rounds without a report (too few accepted quotes, or no majority agreeing).
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
    let mut medians = 0usize;
    let mut s = ErrorSummary {
        median_mean: 0.0,
        median_max: 0.0,
        filter_mean: 0.0,
        filter_max: 0.0,
        no_report: 0,
    };
    for (r, row) in quotes.iter().enumerate() {
        let q = crate::series::named_quotes(row);
        let Some(median) = plain_median(&q) else {
            s.no_report += 1;
            continue;
        };
        // The plain median always "reports": its error counts in every round.
        let em = (median / truth[r] - 1.0).abs();
        s.median_mean += em;
        s.median_max = s.median_max.max(em);
        medians += 1;
        let decision = match decide(feed, r as u64, &q, &mut detector, quorum) {
            Ok(d) => d,
            Err(e) if e.is_no_report() => {
                s.no_report += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let ef = (decision.value / truth[r] - 1.0).abs();
        s.filter_mean += ef;
        s.filter_max = s.filter_max.max(ef);
        out.push(RoundResult { truth: truth[r], median, decision });
    }
    s.median_mean /= medians.max(1) as f64;
    s.filter_mean /= out.len().max(1) as f64;
    Ok((out, s))
}

/// One row of the benchmark's tables: the same quotes decided by the baselines alone and
/// with the learned stage (both summaries carry the plain median's errors too).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Compared {
    /// What the sources did.
    pub attack: String,
    /// Median/MAD, per-source history and rolling z-score.
    pub rules: ErrorSummary,
    /// The same and the learned stage (the default detector).
    pub learned: ErrorSummary,
}

/// Runs `model`'s quotes of `truth` through both detectors.
pub fn compare(
    attack: String,
    truth: &[f64],
    model: &QuoteModel,
    quorum: usize,
) -> Result<Compared> {
    let (_, rules) = run("table", truth, model, DetectorConfig::rules(), quorum)?;
    let (_, learned) = run("table", truth, model, DetectorConfig::default(), quorum)?;
    Ok(Compared { attack, rules, learned })
}

/// The error table of `alara bench oracle`: k = 0…`max_k` of `sources` sources
/// manipulating ×10 together.
pub fn manipulation_table(
    truth: &[f64],
    sources: usize,
    max_k: usize,
    seed: u64,
) -> Result<Vec<(usize, Compared)>> {
    (0..=max_k.min(sources))
        .map(|k| {
            let mut model = QuoteModel::honest(sources, seed);
            model.attacks = vec![Attack::Manipulate { sources: (0..k).collect(), factor: 10.0 }];
            Ok((k, compare(format!("{k} of {sources} x10"), truth, &model, 3)?))
        })
        .collect()
}

/// The second table of `alara bench oracle`: the other attacks of the threat model, one
/// at a time and together, over ten sources.
pub fn attack_table(truth: &[f64], seed: u64) -> Result<Vec<Compared>> {
    let rounds = truth.len();
    let cases: Vec<(&str, Vec<Attack>)> = vec![
        ("none", vec![]),
        ("3 colluding x1.3", vec![Attack::Manipulate { sources: vec![0, 1, 2], factor: 1.3 }]),
        ("4 colluding x0.7", vec![Attack::Manipulate { sources: vec![0, 1, 2, 3], factor: 0.7 }]),
        (
            "spikes x1.5, one round each",
            (0..rounds)
                .step_by(10)
                .map(|r| Attack::Spike { source: r % 10, round: r, factor: 1.5 })
                .collect(),
        ),
        ("frozen from round 20", vec![Attack::Frozen { source: 4, from_round: 20 }]),
        ("drift +0.2%/round", vec![Attack::Drift { source: 5, per_round: 0.002 }]),
        (
            "all of the above but the collusions",
            vec![
                Attack::Spike { source: 1, round: 40, factor: 5.0 },
                Attack::Frozen { source: 4, from_round: 20 },
                Attack::Drift { source: 5, per_round: 0.002 },
                Attack::Manipulate { sources: vec![7, 8], factor: 10.0 },
            ],
        ),
    ];
    cases
        .into_iter()
        .map(|(name, attacks)| {
            let mut model = QuoteModel::honest(10, seed);
            model.attacks = attacks;
            compare(name.to_string(), truth, &model, 3)
        })
        .collect()
}
