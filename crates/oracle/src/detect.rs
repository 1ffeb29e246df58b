//! Which sources to trust in a round.
//!
//! Two baselines, applied in order, each with a reason a person can read:
//! - **median/MAD** (within the round): a quote more than `mad_k` robust standard
//!   deviations (1.4826 × the median absolute deviation, floored at `floor` × |median| so
//!   that near-identical honest quotes do not make every small difference an outlier) from
//!   the round's median is dropped. It catches ×10 manipulation by up to ⌈n/2⌉ − 1
//!   colluding sources and one-round spikes.
//! - **per-source history** (across rounds): each source's relative deviation from the
//!   consensus is kept for the last `window` rounds. A source whose median deviation over
//!   the window exceeds `drift` is drifting; one whose quote has not changed for `stale_rounds`
//!   rounds while the consensus moved is frozen. Both are dropped even when each single
//!   quote still looks plausible within the round.
//!
//! Everything is deterministic in its inputs, so a round can be recomputed.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

/// The detectors' settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetectorConfig {
    /// Robust standard deviations from the median beyond which a quote is dropped.
    pub mad_k: f64,
    /// Floor of the robust deviation, relative to the median.
    pub floor: f64,
    /// Rounds of history per source.
    pub window: usize,
    /// Median relative deviation over the window beyond which a source is drifting.
    pub drift: f64,
    /// Rounds with an unchanged quote (while the consensus moved) that make a source stale.
    pub stale_rounds: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self { mad_k: 5.0, floor: 0.002, window: 8, drift: 0.005, stale_rounds: 3 }
    }
}

impl DetectorConfig {
    /// SHA-256 of the settings' canonical JSON: the detector named in audit entries.
    pub fn hash(&self) -> [u8; 32] {
        use sha2::Digest;
        let json = serde_json::to_vec(self).unwrap_or_default();
        sha2::Sha256::digest(json).into()
    }
}

/// Why a quote was not used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dropped {
    /// The source.
    pub source: String,
    /// Why, e.g. `mad: 41.2 robust deviations from the median`.
    pub reason: String,
}

/// What one source has done lately.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct History {
    /// Relative deviation from the consensus, newest last.
    deviations: VecDeque<f64>,
    /// The last quote and for how many rounds it has not changed.
    last: Option<f64>,
    unchanged: usize,
}

/// The detectors with their per-source history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Detector {
    /// Settings.
    pub config: DetectorConfig,
    history: BTreeMap<String, History>,
    last_consensus: Option<f64>,
    consensus_moved: usize,
}

/// The median of `values` (sorted in place); `None` when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 })
}

impl Detector {
    /// A detector with no history.
    pub fn new(config: DetectorConfig) -> Self {
        Self { config, history: BTreeMap::new(), last_consensus: None, consensus_moved: 0 }
    }

    /// Splits a round's quotes (`(source, value)`, finite values only) into the accepted
    /// ones and the dropped ones with their reasons. Does not change the history; call
    /// [`Detector::record`] with the consensus afterwards.
    pub fn screen(&self, quotes: &[(String, f64)]) -> (Vec<(String, f64)>, Vec<Dropped>) {
        let mut accepted = Vec::new();
        let mut dropped = Vec::new();
        let mut finite: Vec<(String, f64)> = Vec::new();
        for (s, v) in quotes {
            if v.is_finite() {
                finite.push((s.clone(), *v));
            } else {
                dropped.push(Dropped { source: s.clone(), reason: format!("not a number: {v}") });
            }
        }
        let mut values: Vec<f64> = finite.iter().map(|(_, v)| *v).collect();
        let Some(m) = median(&mut values) else { return (accepted, dropped) };
        let mut deviations: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
        let mad = median(&mut deviations).unwrap_or(0.0);
        let scale = (1.4826 * mad).max(self.config.floor * m.abs()).max(f64::MIN_POSITIVE);
        for (s, v) in finite {
            let k = (v - m).abs() / scale;
            if k > self.config.mad_k {
                dropped.push(Dropped {
                    source: s,
                    reason: format!("mad: {k:.1} robust deviations from the round's median"),
                });
                continue;
            }
            if let Some(reason) = self.history_reason(&s, v) {
                dropped.push(Dropped { source: s, reason });
                continue;
            }
            accepted.push((s, v));
        }
        (accepted, dropped)
    }

    fn history_reason(&self, source: &str, value: f64) -> Option<String> {
        let h = self.history.get(source)?;
        let c = &self.config;
        if h.last == Some(value)
            && h.unchanged + 1 >= c.stale_rounds
            && self.consensus_moved >= c.stale_rounds
        {
            return Some(format!(
                "stale: the same quote for {} rounds while the consensus moved",
                h.unchanged + 1
            ));
        }
        if h.deviations.len() >= c.window {
            // The median, not the mean: a source that was late once in a volatile round is
            // not drifting; one that is off in most rounds is.
            let mut d: Vec<f64> = h.deviations.iter().copied().collect();
            let typical = median(&mut d).unwrap_or(0.0);
            if typical.abs() > c.drift {
                return Some(format!(
                    "drift: typically {:+.2}% from the consensus over the last {} rounds",
                    typical * 100.0,
                    h.deviations.len()
                ));
            }
        }
        None
    }

    /// Records a round: each source's quote and its deviation from `consensus`.
    pub fn record(&mut self, quotes: &[(String, f64)], consensus: f64) {
        if self.last_consensus.is_some_and(|c| c != consensus) {
            self.consensus_moved += 1;
        } else if self.last_consensus.is_some() {
            self.consensus_moved = 0;
        }
        self.last_consensus = Some(consensus);
        for (s, v) in quotes {
            if !v.is_finite() {
                continue;
            }
            let h = self.history.entry(s.clone()).or_default();
            if h.last == Some(*v) {
                h.unchanged += 1;
            } else {
                h.unchanged = 0;
            }
            h.last = Some(*v);
            if consensus != 0.0 {
                h.deviations.push_back(v / consensus - 1.0);
                while h.deviations.len() > self.config.window {
                    h.deviations.pop_front();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(values: &[f64]) -> Vec<(String, f64)> {
        values.iter().enumerate().map(|(i, v)| (format!("s{i}"), *v)).collect()
    }

    #[test]
    fn mad_drops_colluding_manipulators_below_half() {
        let d = Detector::new(DetectorConfig::default());
        let mut q = vec![100.0, 100.1, 99.9, 100.2, 99.8, 100.05];
        q.extend([1000.0; 4]);
        let (ok, dropped) = d.screen(&round(&q));
        assert_eq!(ok.len(), 6);
        assert_eq!(dropped.len(), 4);
        assert!(dropped[0].reason.starts_with("mad:"), "{:?}", dropped[0]);
        let (_, dropped) = d.screen(&round(&[1.0, f64::NAN, 1.0]));
        assert_eq!(dropped[0].reason, "not a number: NaN");
    }

    #[test]
    fn history_catches_a_frozen_and_a_drifting_source() {
        let mut d = Detector::new(DetectorConfig::default());
        let mut last = (vec![], vec![]);
        for r in 0..20 {
            // A slowly rising value; s0 frozen at the first quote; s1 creeping away by
            // 0.04% a round (never far enough for the round's MAD); s2..s5 honest.
            let v = 100.0 + 0.05 * r as f64;
            let q = round(&[100.0, v * (1.0 + 0.0004 * r as f64), v, v * 1.0005, v * 0.9995, v]);
            last = d.screen(&q);
            d.record(&q, v);
        }
        let reasons: Vec<&str> = last.1.iter().map(|x| x.reason.as_str()).collect();
        assert!(
            last.1.iter().any(|x| x.source == "s0" && x.reason.starts_with("stale")),
            "{reasons:?}"
        );
        assert!(
            last.1.iter().any(|x| x.source == "s1" && x.reason.starts_with("drift")),
            "{reasons:?}"
        );
        assert_eq!(last.0.len(), 4);
    }
}
