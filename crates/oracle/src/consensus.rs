//! A round's answer: the median of the accepted quotes, with a confidence, and the audit
//! entry that records how it was reached.

use alara_audit::entry::OracleRound;
use alara_audit::Hash;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::detect::{median, Detector, Dropped};
use crate::{Error, Result};

/// Fixed-point decimals of reported values (as Chainlink's USD feeds).
pub const DECIMALS: u8 = 8;

/// One round decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Feed.
    pub feed: String,
    /// Round.
    pub round: u64,
    /// The consensus: median of the accepted quotes.
    pub value: f64,
    /// `value` in fixed point with [`DECIMALS`] decimals (what goes on-chain).
    pub fixed: i128,
    /// Confidence in [0, 1]: the accepted share of the quotes, lowered by their spread
    /// (1 / (1 + relative MAD / 0.5%)).
    pub confidence: f64,
    /// Accepted quotes.
    pub accepted: Vec<(String, f64)>,
    /// Dropped quotes and why.
    pub dropped: Vec<Dropped>,
    /// SHA-256 of the raw quotes' canonical JSON ([`quotes_commitment`]).
    pub quotes: [u8; 32],
    /// SHA-256 of the detector's settings.
    pub detector: [u8; 32],
}

/// SHA-256 of the quotes' canonical JSON (`[["source", value], …]` in the order given;
/// floats written so they read back exactly).
pub fn quotes_commitment(quotes: &[(String, f64)]) -> [u8; 32] {
    let json = serde_json::to_vec(quotes).unwrap_or_default();
    sha2::Sha256::digest(json).into()
}

/// A value in fixed point with [`DECIMALS`] decimals, rounded half away from zero.
pub fn to_fixed(value: f64) -> Result<i128> {
    let scaled = (value * 10f64.powi(i32::from(DECIMALS))).round();
    if !scaled.is_finite() || scaled.abs() >= 2f64.powi(95) {
        return Err(Error::Invalid {
            what: "value",
            detail: format!("{value} does not fit the feed's fixed point"),
        });
    }
    Ok(scaled as i128)
}

/// Decides a round: screens the quotes, takes the median of the accepted ones (at least
/// `quorum`, and a strict majority of all the quotes within the detector's `agree` band of
/// it), and records the round in the detector's history.
pub fn decide(
    feed: &str,
    round: u64,
    quotes: &[(String, f64)],
    detector: &mut Detector,
    quorum: usize,
) -> Result<Decision> {
    let (accepted, dropped) = detector.screen(quotes, quorum.max(1))?;
    if accepted.len() < quorum.max(1) {
        // The history still moves on (against the round's plain median), so a detector
        // that dropped too much in one round is not stuck on that verdict for ever.
        if let Some(m) = plain_median(quotes) {
            detector.record(quotes, m);
        }
        return Err(Error::Quorum { round, have: accepted.len(), need: quorum.max(1) });
    }
    let mut values: Vec<f64> = accepted.iter().map(|(_, v)| *v).collect();
    let value = median(&mut values).unwrap_or(0.0);
    let finite: Vec<f64> = quotes.iter().map(|(_, v)| *v).filter(|v| v.is_finite()).collect();
    let band = detector.config.agree * value.abs();
    let agreeing = finite.iter().filter(|v| (*v - value).abs() <= band).count();
    if 2 * agreeing <= finite.len() {
        if let Some(m) = plain_median(quotes) {
            detector.record(quotes, m);
        }
        return Err(Error::NoMajority {
            round,
            agreeing,
            quotes: finite.len(),
            within: detector.config.agree * 100.0,
        });
    }
    let mut spread: Vec<f64> = values.iter().map(|v| (v - value).abs()).collect();
    let rel_mad = median(&mut spread).unwrap_or(0.0) / value.abs().max(f64::MIN_POSITIVE);
    let share = accepted.len() as f64 / quotes.len().max(1) as f64;
    let confidence = share / (1.0 + rel_mad / 0.005);
    detector.record(quotes, value);
    Ok(Decision {
        feed: feed.to_string(),
        round,
        value,
        fixed: to_fixed(value)?,
        confidence,
        accepted,
        dropped,
        quotes: quotes_commitment(quotes),
        detector: detector.config.hash(),
    })
}

impl Decision {
    /// The audit entry of this round.
    pub fn entry(&self) -> OracleRound {
        OracleRound {
            feed: self.feed.clone(),
            round: self.round,
            value: self.fixed,
            decimals: DECIMALS,
            quotes: Hash(self.quotes),
            accepted: self.accepted.len() as u32,
            dropped: serde_json::to_string(&self.dropped).unwrap_or_default(),
            detector: Hash(self.detector),
            confidence_bp: (self.confidence.clamp(0.0, 1.0) * 10_000.0).round() as u32,
        }
    }
}

/// A plain median of every finite quote: the baseline the filter is measured against.
pub fn plain_median(quotes: &[(String, f64)]) -> Option<f64> {
    let mut v: Vec<f64> = quotes.iter().map(|(_, v)| *v).filter(|v| v.is_finite()).collect();
    median(&mut v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::DetectorConfig;
    use crate::series::stock;

    #[test]
    fn the_filter_is_never_worse_than_the_median_and_bounded_up_to_four_of_ten() {
        let truth: Vec<f64> = stock("AAPL").unwrap().into_iter().map(|p| p.value).collect();
        // (At k = 5, half the sources, no robust statistic can tell who is honest.)
        for (k, c) in crate::feed::manipulation_table(&truth, 10, 4, 42).unwrap() {
            for s in [&c.rules, &c.learned] {
                eprintln!(
                    "k={k} of 10 x10: mean error median {:.5}, filter {:.5}",
                    s.median_mean, s.filter_mean
                );
                assert!(s.filter_mean <= s.median_mean + 1e-4, "k={k}: {s:?}");
                assert!(s.filter_max < 0.02 && s.no_report == 0, "k={k}: {s:?}");
            }
        }
    }

    #[test]
    fn half_the_sources_lying_is_no_report_not_a_side_picked() {
        let mut q: Vec<(String, f64)> =
            (0..5).map(|i| (format!("h{i}"), 100.0 + f64::from(i) * 0.05)).collect();
        q.extend((0..5).map(|i| (format!("m{i}"), 1000.0 + f64::from(i) * 0.5)));
        for config in [DetectorConfig::rules(), DetectorConfig::default()] {
            let err = decide("f", 1, &q, &mut Detector::new(config), 3).unwrap_err();
            assert!(matches!(err, Error::NoMajority { quotes: 10, .. }), "{err}");
            assert!(err.is_no_report());
        }
        // One more honest source makes a majority, and the liars are dropped.
        q.push(("h5".into(), 100.1));
        let d = decide("f", 1, &q, &mut Detector::new(DetectorConfig::default()), 3).unwrap();
        assert!((d.value - 100.1).abs() < 0.2, "{}", d.value);
    }

    #[test]
    fn the_entry_records_the_round_and_rounds_replay_bit_for_bit() {
        let q: Vec<(String, f64)> = [100.0, 100.2, 99.9, 1000.0]
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("s{i}"), *v))
            .collect();
        let run = || decide("f", 7, &q, &mut Detector::new(DetectorConfig::rules()), 3).unwrap();
        let (a, b) = (run(), run());
        assert_eq!(a, b);
        assert_eq!(a.value, 100.0);
        assert_eq!(a.fixed, 10_000_000_000);
        let e = a.entry();
        assert_eq!((e.accepted, e.round), (3, 7));
        assert!(e.dropped.contains("\"source\":\"s3\""), "{}", e.dropped);
        assert!(e.confidence_bp < 7_500 && e.confidence_bp > 5_000, "{}", e.confidence_bp);
        assert_eq!(e.quotes.0, quotes_commitment(&q));
        assert!(decide("f", 8, &q[..2], &mut Detector::new(DetectorConfig::default()), 3).is_err());
        assert!(to_fixed(f64::INFINITY).is_err());
    }
}
