//! Writes the learned detector's training set to stdout as CSV: for every round of many
//! seeded attack scenarios over four of the five shipped stock series (AAPL is held out),
//! each quote's [`Detector::features`] and whether its source was lying (the label).
//! `scripts/train_oracle_detector.py` runs it and trains `models/oracle_detector.onnx`.
//!
//! The detector state the features are computed from moves on as the baselines
//! (`DetectorConfig::rules`) decide each round, so the model learns on top of what the
//! baselines already know.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a generator run by a script")]

use std::io::Write;

use alara_oracle::consensus::decide;
use alara_oracle::detect::{Detector, DetectorConfig, FEATURE_NAMES};
use alara_oracle::series::{stock, Attack, QuoteModel};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Scenarios per series.
const SCENARIOS: u64 = 60;
const SOURCES: usize = 10;

fn scenario(rng: &mut rand_chacha::ChaCha20Rng, seed: u64) -> QuoteModel {
    let mut model = QuoteModel::honest(SOURCES, seed);
    let mut order: Vec<usize> = (0..SOURCES).collect();
    order.shuffle(rng);
    let mut next = order.into_iter();
    let k = rng.gen_range(0..=4);
    if k > 0 {
        let factor = *[10.0, 0.1, 5.0, 2.0, 1.3, 0.7, 1.1].choose(rng).unwrap();
        let sources: Vec<usize> = next.by_ref().take(k).collect();
        model.attacks.push(Attack::Manipulate { sources, factor });
    }
    if rng.gen_bool(0.5) {
        let factor = *[5.0, 0.2, 2.0, 1.5, 1.05].choose(rng).unwrap();
        let (source, round) = (next.next().unwrap(), rng.gen_range(0..120));
        model.attacks.push(Attack::Spike { source, round, factor });
    }
    if rng.gen_bool(0.4) {
        let (source, from_round) = (next.next().unwrap(), rng.gen_range(0..110));
        model.attacks.push(Attack::Frozen { source, from_round });
    }
    if rng.gen_bool(0.4) {
        let per_round = *[0.001, 0.002, 0.004, -0.002, -0.004].choose(rng).unwrap();
        model.attacks.push(Attack::Drift { source: next.next().unwrap(), per_round });
    }
    model
}

fn main() {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    writeln!(out, "series,scenario,round,source,label,{}", FEATURE_NAMES.join(",")).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2026);
    for series in ["MSFT", "AMZN", "GOOG", "IBM"] {
        let truth: Vec<f64> = stock(series).unwrap().into_iter().map(|p| p.value).collect();
        for s in 0..SCENARIOS {
            let model = scenario(&mut rng, 1000 + s);
            let quotes = model.quotes(&truth).unwrap();
            let mut detector = Detector::new(DetectorConfig::rules());
            for (round, row) in quotes.iter().enumerate() {
                let q = alara_oracle::series::named_quotes(row);
                let features = detector.features(&q);
                for ((name, _), f) in q.iter().zip(&features) {
                    let source: usize = name["source-".len()..].parse().unwrap();
                    let label = model.attacks.iter().any(|a| a.lies(source, round));
                    let cols: Vec<String> = f.iter().map(|x| format!("{x:e}")).collect();
                    writeln!(
                        out,
                        "{series},{s},{round},{source},{},{}",
                        u8::from(label),
                        cols.join(",")
                    )
                    .unwrap();
                }
                let _ = decide("features", round as u64, &q, &mut detector, 3);
            }
        }
    }
}
