//! Server-side aggregation of client updates (deltas from the global model).
//!
//! All arithmetic is sequential in client order with `f64` accumulators, so the
//! aggregate is the same bits on every machine, whatever the thread count.

use serde::{Deserialize, Serialize};

use crate::{rng, Error, Result};

/// How the coordinator combines updates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "strategy")]
pub enum Strategy {
    /// Sample-weighted mean of updates (McMahan et al. 2017).
    FedAvg,
    /// FedAvg aggregation; clients add the proximal term `μ/2 ‖w − w_g‖²` locally
    /// (Li et al. 2020). The task's local training μ is set from here.
    FedProx {
        /// Proximal coefficient μ.
        mu: f64,
    },
    /// Adam on the server with the mean update as pseudo-gradient (Reddi et al. 2021).
    FedAdam {
        /// Server learning rate η.
        lr: f64,
        /// First-moment decay β1.
        beta1: f64,
        /// Second-moment decay β2.
        beta2: f64,
        /// Adaptivity τ.
        tau: f64,
    },
    /// Krum (Blanchard et al. 2017): the single update closest to its n − f − 2
    /// neighbours. Needs n ≥ 2f + 3.
    Krum {
        /// Faulty clients tolerated.
        f: usize,
    },
    /// Multi-Krum: mean of the `m` updates with the best Krum scores (`m` defaults to
    /// n − f). Needs n ≥ 2f + 3.
    MultiKrum {
        /// Faulty clients tolerated.
        f: usize,
        /// Updates averaged (None: n − f).
        m: Option<usize>,
    },
    /// Coordinate-wise median (Yin et al. 2018). Tolerates f < n/2: needs n ≥ 2f + 1.
    Median {
        /// Faulty clients tolerated.
        f: usize,
    },
    /// Coordinate-wise trimmed mean: drop the f largest and f smallest values of each
    /// coordinate. Needs n ≥ 2f + 1.
    TrimmedMean {
        /// Values trimmed on each side.
        f: usize,
    },
}

impl Strategy {
    /// FedAdam with the defaults used in the benchmarks (η = 0.05, β1 = 0.9,
    /// β2 = 0.99, τ = 1e-3).
    pub fn fed_adam() -> Self {
        Strategy::FedAdam { lr: 0.05, beta1: 0.9, beta2: 0.99, tau: 1e-3 }
    }

    /// Short name for tables.
    pub fn name(&self) -> String {
        match self {
            Strategy::FedAvg => "FedAvg".into(),
            Strategy::FedProx { mu } => format!("FedProx(μ={mu})"),
            Strategy::FedAdam { .. } => "FedAdam".into(),
            Strategy::Krum { f } => format!("Krum(f={f})"),
            Strategy::MultiKrum { f, .. } => format!("Multi-Krum(f={f})"),
            Strategy::Median { .. } => "Median".into(),
            Strategy::TrimmedMean { f } => format!("TrimmedMean(f={f})"),
        }
    }

    /// `true` for the aggregators that weight by sample count (FedAvg family).
    pub fn is_mean(&self) -> bool {
        matches!(self, Strategy::FedAvg | Strategy::FedProx { .. } | Strategy::FedAdam { .. })
    }

    /// Checks parameter ranges (independent of the number of updates).
    pub fn validate(&self) -> Result<()> {
        match *self {
            Strategy::FedProx { mu } if !(mu.is_finite() && mu >= 0.0) => {
                Err(Error::Config(format!("FedProx μ must be ≥ 0, found {mu}")))
            }
            Strategy::FedAdam { lr, beta1, beta2, tau }
                if !(lr > 0.0
                    && (0.0..1.0).contains(&beta1)
                    && (0.0..1.0).contains(&beta2)
                    && tau > 0.0) =>
            {
                Err(Error::Config(format!(
                    "FedAdam needs η > 0, β1, β2 in [0, 1), τ > 0; found η={lr} β1={beta1} β2={beta2} τ={tau}"
                )))
            }
            Strategy::MultiKrum { m: Some(0), .. } => {
                Err(Error::Config("Multi-Krum m must be at least 1".into()))
            }
            _ => Ok(()),
        }
    }

    /// Minimum number of updates this strategy needs for its tolerance.
    pub fn min_updates(&self) -> usize {
        match *self {
            Strategy::Krum { f } | Strategy::MultiKrum { f, .. } => 2 * f + 3,
            Strategy::Median { f } | Strategy::TrimmedMean { f } => 2 * f + 1,
            _ => 1,
        }
    }

    /// Checks that `n` updates are enough (e.g. Krum needs n ≥ 2f + 3).
    pub fn check_count(&self, n: usize) -> Result<()> {
        let needed = self.min_updates();
        let f = match *self {
            Strategy::Krum { f }
            | Strategy::MultiKrum { f, .. }
            | Strategy::Median { f }
            | Strategy::TrimmedMean { f } => f,
            _ => 0,
        };
        if n < needed {
            return Err(Error::TooFewUpdates { strategy: self.name(), f, needed, found: n });
        }
        if let Strategy::MultiKrum { f, m: Some(m) } = *self {
            if m > n - f {
                return Err(Error::Config(format!(
                    "Multi-Krum m = {m} exceeds n − f = {} with n = {n}",
                    n - f
                )));
            }
        }
        Ok(())
    }
}

/// Differential privacy for the FedAvg family (DP-FedAvg, McMahan et al. 2018):
/// each update is clipped to L2 norm `clip_norm`, the clipped updates are averaged with
/// equal weights, and Gaussian noise of standard deviation
/// `noise_multiplier × clip_norm / n` is added to each coordinate of the mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DpConfig {
    /// L2 clipping bound C.
    pub clip_norm: f64,
    /// Noise multiplier z (σ = z·C on the sum).
    pub noise_multiplier: f64,
    /// Target δ for the reported (ε, δ).
    pub delta: f64,
}

impl DpConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        if !(self.clip_norm > 0.0
            && self.noise_multiplier >= 0.0
            && self.delta > 0.0
            && self.delta < 1.0)
        {
            return Err(Error::Config(format!(
                "DP needs C > 0, z ≥ 0, 0 < δ < 1; found C={} z={} δ={}",
                self.clip_norm, self.noise_multiplier, self.delta
            )));
        }
        Ok(())
    }

    /// Client-level ε after `rounds` rounds at full participation, from the Rényi DP
    /// of the Gaussian mechanism (α/(2z²) per round, composed) converted with
    /// ε = min_α [T·α/(2z²) + ln(1/δ)/(α − 1)]. Client sampling would amplify privacy;
    /// it is ignored here, so the figure is an upper bound. `None` when z = 0.
    pub fn epsilon(&self, rounds: u64) -> Option<f64> {
        if self.noise_multiplier <= 0.0 {
            return None;
        }
        let z2 = self.noise_multiplier * self.noise_multiplier;
        let t = rounds.max(1) as f64;
        let ln = crate::detmath::ln(1.0 / self.delta);
        // Closed form of the minimiser over real α > 1, then the value there.
        let alpha = 1.0 + (2.0 * z2 * ln / t).sqrt();
        Some(t * alpha / (2.0 * z2) + ln / (alpha - 1.0))
    }
}

/// Server optimiser state carried from round to round (FedAdam moments).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerState {
    /// First moment.
    pub m: Vec<f64>,
    /// Second moment.
    pub v: Vec<f64>,
}

/// The result of aggregating one round.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// Change to apply to the global model.
    pub delta: Vec<f32>,
    /// Per input update: did it enter the aggregate (Krum selection)?
    pub selected: Vec<bool>,
    /// Per input update: L2 norm before any clipping.
    pub norms: Vec<f64>,
}

/// L2 norm in `f64`.
pub fn l2(v: &[f32]) -> f64 {
    v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt()
}

/// Sample-weighted mean of `deltas` (weights need not be normalised).
pub fn weighted_mean(deltas: &[&[f32]], weights: &[f64]) -> Vec<f32> {
    let p = deltas.first().map_or(0, |d| d.len());
    let total: f64 = weights.iter().sum();
    let mut acc = vec![0f64; p];
    for (d, &w) in deltas.iter().zip(weights) {
        for (a, &x) in acc.iter_mut().zip(d.iter()) {
            *a += w * f64::from(x);
        }
    }
    acc.into_iter().map(|a| if total > 0.0 { (a / total) as f32 } else { 0.0 }).collect()
}

/// Aggregates `deltas` (one per client, in the fixed client order) with `strategy`.
/// `samples` are the clients' sample counts (used by the FedAvg family), `state` the
/// server optimiser state, `dp` optional DP-FedAvg, `noise_seed` the seed of the DP
/// noise stream.
pub fn aggregate(
    strategy: &Strategy,
    deltas: &[&[f32]],
    samples: &[u64],
    state: &mut ServerState,
    dp: Option<&DpConfig>,
    noise_seed: u64,
) -> Result<Aggregate> {
    strategy.validate()?;
    let n = deltas.len();
    if n == 0 {
        return Err(Error::TooFewUpdates { strategy: strategy.name(), f: 0, needed: 1, found: 0 });
    }
    strategy.check_count(n)?;
    let p = deltas[0].len();
    if deltas.iter().any(|d| d.len() != p) || samples.len() != n {
        return Err(Error::Config("updates of different sizes cannot be aggregated".into()));
    }
    let norms: Vec<f64> = deltas.iter().map(|d| l2(d)).collect();
    let mut selected = vec![true; n];
    let delta = match (strategy, dp) {
        (s, Some(dp)) if s.is_mean() => {
            dp.validate()?;
            let clipped: Vec<Vec<f32>> = deltas
                .iter()
                .zip(&norms)
                .map(|(d, &norm)| {
                    let k = if norm > dp.clip_norm { dp.clip_norm / norm } else { 1.0 };
                    d.iter().map(|&x| (f64::from(x) * k) as f32).collect()
                })
                .collect();
            let refs: Vec<&[f32]> = clipped.iter().map(Vec::as_slice).collect();
            let mut mean = weighted_mean(&refs, &vec![1.0; n]);
            let sigma = dp.noise_multiplier * dp.clip_norm / n as f64;
            let mut r = rng::stream(noise_seed, "dp-noise", &[]);
            for x in &mut mean {
                *x = (f64::from(*x) + sigma * rng::normal(&mut r)) as f32;
            }
            server_step(strategy, mean, state)
        }
        (_, Some(_)) => {
            return Err(Error::Config(format!(
                "DP-FedAvg applies to FedAvg, FedProx and FedAdam, not {}",
                strategy.name()
            )))
        }
        (Strategy::FedAvg | Strategy::FedProx { .. } | Strategy::FedAdam { .. }, None) => {
            let w: Vec<f64> = samples.iter().map(|&s| s as f64).collect();
            server_step(strategy, weighted_mean(deltas, &w), state)
        }
        (Strategy::Krum { f }, None) => {
            let best = krum_order(deltas, *f)[0];
            selected = (0..n).map(|i| i == best).collect();
            deltas[best].to_vec()
        }
        (Strategy::MultiKrum { f, m }, None) => {
            let m = m.unwrap_or(n - f);
            let order = krum_order(deltas, *f);
            selected = vec![false; n];
            for &i in &order[..m] {
                selected[i] = true;
            }
            let chosen: Vec<&[f32]> = (0..n).filter(|&i| selected[i]).map(|i| deltas[i]).collect();
            weighted_mean(&chosen, &vec![1.0; chosen.len()])
        }
        (Strategy::Median { .. }, None) => coordinate_wise(deltas, |col| {
            let k = col.len();
            if k % 2 == 1 {
                f64::from(col[k / 2])
            } else {
                (f64::from(col[k / 2 - 1]) + f64::from(col[k / 2])) / 2.0
            }
        }),
        (Strategy::TrimmedMean { f }, None) => coordinate_wise(deltas, |col| {
            let kept = &col[*f..col.len() - *f];
            kept.iter().map(|&x| f64::from(x)).sum::<f64>() / kept.len() as f64
        }),
    };
    Ok(Aggregate { delta, selected, norms })
}

fn server_step(strategy: &Strategy, mean: Vec<f32>, state: &mut ServerState) -> Vec<f32> {
    let Strategy::FedAdam { lr, beta1, beta2, tau } = *strategy else { return mean };
    if state.m.len() != mean.len() {
        state.m = vec![0.0; mean.len()];
        state.v = vec![0.0; mean.len()];
    }
    mean.iter()
        .zip(state.m.iter_mut().zip(state.v.iter_mut()))
        .map(|(&g, (m, v))| {
            let g = f64::from(g);
            *m = beta1 * *m + (1.0 - beta1) * g;
            *v = beta2 * *v + (1.0 - beta2) * g * g;
            (lr * *m / (v.sqrt() + tau)) as f32
        })
        .collect()
}

/// Client indices sorted by Krum score (sum of squared distances to the n − f − 2
/// nearest other updates), best first; ties broken by index.
pub fn krum_order(deltas: &[&[f32]], f: usize) -> Vec<usize> {
    let n = deltas.len();
    let mut dist = vec![vec![0f64; n]; n];
    for i in 0..n {
        for j in i + 1..n {
            let d: f64 = deltas[i]
                .iter()
                .zip(deltas[j].iter())
                .map(|(&a, &b)| {
                    let x = f64::from(a) - f64::from(b);
                    x * x
                })
                .sum();
            dist[i][j] = d;
            dist[j][i] = d;
        }
    }
    let k = n.saturating_sub(f + 2).max(1);
    let scores: Vec<f64> = (0..n)
        .map(|i| {
            let mut row: Vec<f64> = (0..n).filter(|&j| j != i).map(|j| dist[i][j]).collect();
            row.sort_by(f64::total_cmp);
            row.iter().take(k).sum()
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    order
}

fn coordinate_wise(deltas: &[&[f32]], reduce: impl Fn(&[f32]) -> f64) -> Vec<f32> {
    let p = deltas[0].len();
    let mut col = vec![0f32; deltas.len()];
    (0..p)
        .map(|j| {
            for (c, d) in col.iter_mut().zip(deltas) {
                *c = d[j];
            }
            col.sort_by(f32::total_cmp);
            reduce(&col) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    // proptest's prelude has a `Strategy` trait; ours is the aggregation strategy.
    use super::Strategy;

    fn agg(s: Strategy, deltas: &[Vec<f32>], samples: &[u64]) -> Result<Aggregate> {
        let refs: Vec<&[f32]> = deltas.iter().map(Vec::as_slice).collect();
        aggregate(&s, &refs, samples, &mut ServerState::default(), None, 0)
    }

    #[test]
    fn fedavg_weights_by_samples() {
        let a = agg(Strategy::FedAvg, &[vec![1.0, 0.0], vec![4.0, 3.0]], &[1, 2]).unwrap();
        assert_eq!(a.delta, vec![3.0, 2.0]);
    }

    #[test]
    fn robust_aggregators_ignore_an_outlier() {
        let mut d =
            vec![vec![1.0, 1.0], vec![1.1, 0.9], vec![0.9, 1.1], vec![1.0, 1.05], vec![1.05, 1.0]];
        d.push(vec![1000.0, -1000.0]);
        let s = vec![1; d.len()];
        for st in [
            Strategy::Krum { f: 1 },
            Strategy::MultiKrum { f: 1, m: None },
            Strategy::Median { f: 1 },
            Strategy::TrimmedMean { f: 1 },
        ] {
            let a = agg(st, &d, &s).unwrap();
            assert!(a.delta.iter().all(|x| (x - 1.0).abs() < 0.1), "{}: {:?}", st.name(), a.delta);
        }
        let a = agg(Strategy::MultiKrum { f: 1, m: None }, &d, &s).unwrap();
        assert!(!a.selected[5] && a.selected.iter().filter(|s| **s).count() == 5);
        let a = agg(Strategy::FedAvg, &d, &s).unwrap();
        assert!(a.delta[0] > 100.0);
    }

    #[test]
    fn tolerance_is_checked() {
        let d = vec![vec![0.0]; 4];
        let e = agg(Strategy::Krum { f: 1 }, &d, &[1; 4]).unwrap_err();
        assert!(matches!(e, Error::TooFewUpdates { needed: 5, found: 4, .. }), "{e}");
        assert!(e.to_string().contains("needs at least 5 updates, found 4"));
        assert!(agg(Strategy::Krum { f: 1 }, &vec![vec![0.0]; 5], &[1; 5]).is_ok());
        assert!(agg(Strategy::Median { f: 2 }, &d, &[1; 4]).is_err());
        assert!(agg(Strategy::TrimmedMean { f: 1 }, &vec![vec![0.0]; 3], &[1; 3]).is_ok());
        assert!(
            agg(Strategy::MultiKrum { f: 1, m: Some(5) }, &vec![vec![0.0]; 5], &[1; 5]).is_err()
        );
        assert!(agg(Strategy::FedAvg, &[], &[]).is_err());
    }

    #[test]
    fn median_of_even_count_is_midpoint() {
        let a =
            agg(Strategy::Median { f: 0 }, &[vec![1.0], vec![3.0], vec![10.0], vec![2.0]], &[1; 4])
                .unwrap();
        assert_eq!(a.delta, vec![2.5]);
    }

    #[test]
    fn dp_clips_and_adds_seeded_noise() {
        let d = [vec![30.0f32, 40.0], vec![0.3, 0.4]]; // norms 50 and 0.5
        let refs: Vec<&[f32]> = d.iter().map(Vec::as_slice).collect();
        let no_noise = DpConfig { clip_norm: 1.0, noise_multiplier: 0.0, delta: 1e-5 };
        let a = aggregate(
            &Strategy::FedAvg,
            &refs,
            &[1, 1],
            &mut ServerState::default(),
            Some(&no_noise),
            1,
        )
        .unwrap();
        assert!(
            (a.delta[0] - 0.45).abs() < 1e-6 && (a.delta[1] - 0.6).abs() < 1e-6,
            "{:?}",
            a.delta
        );
        let noisy = DpConfig { noise_multiplier: 1.0, ..no_noise };
        let run = |seed| {
            aggregate(
                &Strategy::FedAvg,
                &refs,
                &[1, 1],
                &mut ServerState::default(),
                Some(&noisy),
                seed,
            )
            .unwrap()
            .delta
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        let e = aggregate(
            &Strategy::Median { f: 0 },
            &refs,
            &[1, 1],
            &mut ServerState::default(),
            Some(&noisy),
            1,
        );
        assert!(e.is_err());
    }

    #[test]
    fn dp_epsilon_decreases_with_noise_and_grows_with_rounds() {
        let dp = |z| DpConfig { clip_norm: 1.0, noise_multiplier: z, delta: 1e-5 };
        let e1 = dp(1.0).epsilon(10).unwrap();
        assert!(dp(2.0).epsilon(10).unwrap() < e1);
        assert!(dp(1.0).epsilon(20).unwrap() > e1);
        assert!(dp(0.0).epsilon(10).is_none());
    }

    #[test]
    fn fedadam_moves_along_the_mean() {
        let mut st = ServerState::default();
        let d = [vec![1.0f32, -1.0]];
        let refs: Vec<&[f32]> = d.iter().map(Vec::as_slice).collect();
        let a = aggregate(&Strategy::fed_adam(), &refs, &[1], &mut st, None, 0).unwrap();
        assert!(a.delta[0] > 0.0 && a.delta[1] < 0.0);
        assert_eq!(st.m.len(), 2);
    }

    proptest! {
        #[test]
        fn aggregates_stay_within_the_coordinate_range(
            d in prop::collection::vec(prop::collection::vec(-100f32..100.0, 3), 5..12)
        ) {
            let s = vec![1u64; d.len()];
            for st in [Strategy::FedAvg, Strategy::Median { f: 1 }, Strategy::TrimmedMean { f: 1 },
                       Strategy::Krum { f: 1 }, Strategy::MultiKrum { f: 1, m: None }] {
                let a = agg(st, &d, &s).unwrap();
                for j in 0..3 {
                    let lo = d.iter().map(|r| r[j]).fold(f32::INFINITY, f32::min);
                    let hi = d.iter().map(|r| r[j]).fold(f32::NEG_INFINITY, f32::max);
                    prop_assert!(a.delta[j] >= lo - 1e-3 && a.delta[j] <= hi + 1e-3);
                }
            }
        }
    }
}
