//! Which sources to trust in a round.
//!
//! Three stages, applied in order, each with a reason a person can read:
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
//! - **rolling z-score** (per source, across rounds): a source's deviation from the
//!   median of the quotes the MAD stage kept, against the mean and standard deviation of
//!   its own deviations over the window (floored at `floor`). A source that suddenly
//!   quotes `z_k` of its own standard deviations away from how it usually quotes is
//!   dropped.
//! - **learned** ([`crate::learned`], on by default): a random forest over the
//!   [`Detector::features`] of each quote (the baselines' statistics and the source's
//!   history), trained on labelled attacks over the shipped series, exported to ONNX
//!   and run with tract. A quote it scores above its threshold is dropped.
//!
//! The z-score and learned stages never drop a round below the quorum it needs: they
//! drop their most suspicious candidates first and stop there, so a stage that is wrong
//! about an unusual round costs accuracy, not the report.
//!
//! Whatever the stages accept, a round is reported only when a strict majority of the
//! answering sources lies within `agree` of the consensus
//! ([`crate::consensus::decide`]): with half the sources lying no statistic can tell who
//! is honest, and the oracle says so instead of picking a side.
//!
//! Everything is deterministic in its inputs, so a round can be recomputed.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::Result;

/// A round's quotes, `(source, value)`.
pub type Quotes = Vec<(String, f64)>;

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
    /// Standard deviations of a source's own history beyond which its quote is dropped
    /// (the rolling z-score).
    #[serde(default = "default_z_k")]
    pub z_k: f64,
    /// The band (relative) around the consensus within which a strict majority of the
    /// answering sources must lie for the round to be reported at all.
    #[serde(default = "default_agree")]
    pub agree: f64,
    /// The learned stage, if any.
    #[serde(default)]
    pub learned: Option<crate::learned::LearnedStage>,
}

fn default_z_k() -> f64 {
    8.0
}

fn default_agree() -> f64 {
    0.10
}

impl Default for DetectorConfig {
    /// The baselines and the shipped learned detector.
    fn default() -> Self {
        Self { learned: Some(crate::learned::LearnedStage::shipped()), ..Self::rules() }
    }
}

impl DetectorConfig {
    /// The baselines only (median/MAD, history, rolling z-score): what the learned stage
    /// is measured against.
    pub fn rules() -> Self {
        Self {
            mad_k: 5.0,
            floor: 0.002,
            window: 8,
            drift: 0.005,
            stale_rounds: 3,
            z_k: default_z_k(),
            agree: default_agree(),
            learned: None,
        }
    }

    /// SHA-256 of the settings' canonical JSON: the detector named in audit entries. The
    /// settings name the learned stage's model by its SHA-256, so the hash pins the model.
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

/// Features per quote of the learned stage.
pub const FEATURES: usize = 11;

/// What each feature is, in order.
pub const FEATURE_NAMES: [&str; FEATURES] = [
    "dev_round_median",
    "robust_k",
    "dev_kept_median",
    "z_score",
    "history_median_dev",
    "history_fill",
    "unchanged_rounds",
    "consensus_moved",
    "own_change",
    "dev_last_consensus",
    "quotes",
];

/// Relative differences are clipped here: a ×10 quote and a ×1000 one are both lies.
const CLIP: f64 = 20.0;

/// `a / b − 1`, clipped to ±[`CLIP`] (and 0 when both are 0).
fn relative(a: f64, b: f64) -> f64 {
    if a == b {
        return 0.0;
    }
    ((a - b) / b.abs().max(f64::MIN_POSITIVE)).clamp(-CLIP, CLIP)
}

/// A round's statistics: the median, the MAD stage's scale, and the median of the quotes
/// the MAD stage keeps.
struct RoundStats {
    median: f64,
    scale: f64,
    kept_median: f64,
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

    /// Splits a round's quotes (`(source, value)`) into the accepted ones and the dropped
    /// ones with their reasons. The z-score and learned stages stop dropping at `keep`
    /// accepted quotes (the quorum). Does not change the history; call
    /// [`Detector::record`] with the consensus afterwards. Fails only when the learned
    /// stage's model cannot be run (see [`crate::learned`]).
    pub fn screen(&self, quotes: &[(String, f64)], keep: usize) -> Result<(Quotes, Vec<Dropped>)> {
        let mut dropped = Vec::new();
        let mut finite: Vec<(String, f64)> = Vec::new();
        for (s, v) in quotes {
            if v.is_finite() {
                finite.push((s.clone(), *v));
            } else {
                dropped.push(Dropped { source: s.clone(), reason: format!("not a number: {v}") });
            }
        }
        let Some(stats) = self.stats(&finite) else { return Ok((Vec::new(), dropped)) };
        // Stages 1 and 2: the round's MAD and the per-source history rules.
        let mut candidates = Vec::new();
        for (i, (s, v)) in finite.iter().enumerate() {
            let k = (v - stats.median).abs() / stats.scale;
            if k > self.config.mad_k {
                dropped.push(Dropped {
                    source: s.clone(),
                    reason: format!("mad: {k:.1} robust deviations from the round's median"),
                });
            } else if let Some(reason) = self.history_reason(s, *v) {
                dropped.push(Dropped { source: s.clone(), reason });
            } else {
                candidates.push(i);
            }
        }
        // Stage 3: the rolling z-score, most extreme first, never below `keep`.
        let mut scored: Vec<(usize, f64)> = candidates
            .iter()
            .filter_map(|&i| {
                let z = self.z_score(&finite[i].0, finite[i].1, stats.kept_median)?;
                (z.abs() > self.config.z_k).then_some((i, z))
            })
            .collect();
        scored.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
        for (i, z) in scored {
            if candidates.len() <= keep {
                break;
            }
            candidates.retain(|&c| c != i);
            dropped.push(Dropped {
                source: finite[i].0.clone(),
                reason: format!("z-score: {z:+.1} of its own standard deviations"),
            });
        }
        // Stage 4: the learned detector, most suspicious first, never below `keep`.
        if let Some(stage) = &self.config.learned {
            let features = self.features_with(&finite, &stats);
            let rows: Vec<[f32; FEATURES]> = candidates.iter().map(|&i| features[i]).collect();
            let scores = stage.scores(&rows)?;
            let mut flagged: Vec<(usize, f64)> = candidates
                .iter()
                .zip(scores)
                .filter(|(_, p)| *p > stage.threshold)
                .map(|(&i, p)| (i, p))
                .collect();
            flagged.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            for (i, p) in flagged {
                if candidates.len() <= keep {
                    break;
                }
                candidates.retain(|&c| c != i);
                dropped.push(Dropped {
                    source: finite[i].0.clone(),
                    reason: format!("learned: attack probability {p:.2}"),
                });
            }
        }
        let accepted = candidates.into_iter().map(|i| finite[i].clone()).collect();
        Ok((accepted, dropped))
    }

    /// The statistics of a round the stages share; `None` without a finite quote.
    fn stats(&self, finite: &[(String, f64)]) -> Option<RoundStats> {
        let mut values: Vec<f64> = finite.iter().map(|(_, v)| *v).collect();
        let m = median(&mut values)?;
        let mut deviations: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
        let mad = median(&mut deviations).unwrap_or(0.0);
        let scale = (1.4826 * mad).max(self.config.floor * m.abs()).max(f64::MIN_POSITIVE);
        let mut kept: Vec<f64> =
            values.iter().copied().filter(|v| (v - m).abs() / scale <= self.config.mad_k).collect();
        let kept_median = median(&mut kept).unwrap_or(m);
        Some(RoundStats { median: m, scale, kept_median })
    }

    /// A source's rolling z-score: its deviation from `reference` against its own
    /// deviations over the window; `None` with fewer than three rounds of history.
    fn z_score(&self, source: &str, value: f64, reference: f64) -> Option<f64> {
        let h = self.history.get(source)?;
        if h.deviations.len() < 3 {
            return None;
        }
        let n = h.deviations.len() as f64;
        let mean = h.deviations.iter().sum::<f64>() / n;
        let var = h.deviations.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let sd = var.sqrt().max(self.config.floor);
        Some((relative(value, reference) - mean) / sd)
    }

    /// The learned stage's input: one row of [`FEATURES`] per finite quote, in order
    /// (named by [`FEATURE_NAMES`]). What the shipped model was trained on.
    pub fn features(&self, quotes: &[(String, f64)]) -> Vec<[f32; FEATURES]> {
        let finite: Vec<(String, f64)> =
            quotes.iter().filter(|(_, v)| v.is_finite()).cloned().collect();
        match self.stats(&finite) {
            Some(stats) => self.features_with(&finite, &stats),
            None => Vec::new(),
        }
    }

    fn features_with(&self, finite: &[(String, f64)], stats: &RoundStats) -> Vec<[f32; FEATURES]> {
        let n = finite.len() as f64;
        finite
            .iter()
            .map(|(s, v)| {
                let h = self.history.get(s);
                let typical = h
                    .filter(|h| !h.deviations.is_empty())
                    .map(|h| {
                        let mut d: Vec<f64> = h.deviations.iter().copied().collect();
                        median(&mut d).unwrap_or(0.0)
                    })
                    .unwrap_or(0.0);
                let unchanged = match h {
                    Some(h) if h.last == Some(*v) => h.unchanged + 1,
                    _ => 0,
                };
                let row = [
                    relative(*v, stats.median),
                    ((v - stats.median).abs() / stats.scale).min(1e3),
                    relative(*v, stats.kept_median),
                    self.z_score(s, *v, stats.kept_median).unwrap_or(0.0).clamp(-1e3, 1e3),
                    typical.clamp(-CLIP, CLIP),
                    h.map_or(0.0, |h| h.deviations.len() as f64 / self.config.window.max(1) as f64),
                    unchanged.min(50) as f64,
                    self.consensus_moved.min(50) as f64,
                    h.and_then(|h| h.last).map_or(0.0, |last| relative(*v, last)),
                    self.last_consensus.map_or(0.0, |c| relative(*v, c)),
                    n,
                ];
                row.map(|x| x as f32)
            })
            .collect()
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
        let d = Detector::new(DetectorConfig::rules());
        let mut q = vec![100.0, 100.1, 99.9, 100.2, 99.8, 100.05];
        q.extend([1000.0; 4]);
        let (ok, dropped) = d.screen(&round(&q), 3).unwrap();
        assert_eq!(ok.len(), 6);
        assert_eq!(dropped.len(), 4);
        assert!(dropped[0].reason.starts_with("mad:"), "{:?}", dropped[0]);
        let (_, dropped) = d.screen(&round(&[1.0, f64::NAN, 1.0]), 1).unwrap();
        assert_eq!(dropped[0].reason, "not a number: NaN");
    }

    #[test]
    fn history_catches_a_frozen_and_a_drifting_source() {
        let mut d = Detector::new(DetectorConfig::rules());
        let mut last = (vec![], vec![]);
        for r in 0..20 {
            // A slowly rising value; s0 frozen at the first quote; s1 creeping away by
            // 0.04% a round (never far enough for the round's MAD); s2..s5 honest.
            let v = 100.0 + 0.05 * r as f64;
            let q = round(&[100.0, v * (1.0 + 0.0004 * r as f64), v, v * 1.0005, v * 0.9995, v]);
            last = d.screen(&q, 3).unwrap();
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
