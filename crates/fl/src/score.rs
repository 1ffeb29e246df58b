//! Contribution scores, free-rider detection and the split of a round's reward pool.
//!
//! The formula (see also `crates/fl/README.md`), for the accepted updates `Δ_i` of a
//! round with global model `w`, held-out validation loss `L`:
//!
//! - **free riders** are flagged and score 0: *zero* (`‖Δ_i‖ ≤ 1% of the median
//!   norm`), *copied* (cosine ≥ 0.999 with another client's update of this round or of
//!   the previous round, whose artifacts are public; found in O(n log n), see
//!   `find_copies`), *random* (cosine with the sum of the other clients' unit updates
//!   below `τ = max(0.1, 3/√P)` for P parameters, and cosine with the client's own
//!   previous-round update, when there is one, below `τ` too);
//! - **gain** `g_i = L(w) − L(w + Δ_i)`: does the update on its own help;
//! - **leave-one-out** `LOO_i = L(w + Δ̄_{S∖i}) − L(w + Δ̄_S)` where `S` is the set of
//!   eligible updates that the aggregator used and `Δ̄` their capped-sample-weighted
//!   mean; quality `q_i = max(0, LOO_i)`;
//! - **quantity** `c_i = min(n_i, cap)` with `cap = cap_multiple × median(n)`: sample
//!   counts are self-reported, so they count only up to a cap, and only when `g_i > 0`;
//! - **score** `s_i = β·q_i/Σq + (1 − β)·[g_i > 0]·c_i/Σc`, normalised to sum to 1 over
//!   the round (β = `quality_weight`).
//!
//! Rewards split a per-round pool by score ([`RewardSplit`]), in integer token units
//! with largest-remainder rounding, so they sum exactly to the pool.

use alara_ml::Dataset;
use serde::{Deserialize, Serialize};

use crate::{
    aggregate::l2,
    model::{evaluate, Weights},
    Error, Result,
};

/// Fixed-point scale of [`ClientScore::score_fixed`] (1e9 = a score of 1).
pub const SCORE_SCALE: f64 = 1e9;

/// Parameters of the scoring formula.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreConfig {
    /// β: weight of quality (leave-one-out) against quantity.
    pub quality_weight: f64,
    /// Sample counts are capped at this multiple of the round's median count.
    pub sample_cap_multiple: f64,
    /// Updates with norm below this fraction of the median norm are "zero" updates.
    pub zero_norm_ratio: f64,
    /// Cosine at or above which an update counts as a copy.
    pub copy_cosine: f64,
    /// Cosine with the sum of the other clients' unit updates below which an update is
    /// "random" (a floor; see `random_sigmas`).
    pub random_cosine: f64,
    /// The random-update threshold is at least this many standard deviations of the
    /// cosine of a random direction in P dimensions (1/√P): `max(random_cosine,
    /// random_sigmas/√P)`.
    pub random_sigmas: f64,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        Self {
            quality_weight: 0.5,
            sample_cap_multiple: 2.0,
            zero_norm_ratio: 0.01,
            copy_cosine: 0.999,
            random_cosine: 0.1,
            random_sigmas: 3.0,
        }
    }
}

/// Why an update was flagged as a free rider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FreeRider {
    /// (Almost) no change from the global model.
    Zero,
    /// A copy of another client's update.
    Copied,
    /// Unrelated to the task (noise).
    Random,
}

/// The score of one client in one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientScore {
    /// Validation loss improvement of the update on its own.
    pub gain: f64,
    /// Leave-one-out marginal contribution.
    pub loo: f64,
    /// Capped sample count used for quantity.
    pub capped_samples: f64,
    /// Free-rider flag, if any.
    pub free_rider: Option<FreeRider>,
    /// Normalised score in `[0, 1]`; the round's scores sum to 1 (or all are 0).
    pub score: f64,
    /// `round(score × 1e9)`, for contracts.
    pub score_fixed: u64,
}

/// How a round's pool is split by score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum RewardSplit {
    /// Reward ∝ score.
    Proportional,
    /// Reward ∝ score among clients whose score is at least `min_score`; others get 0.
    Threshold {
        /// Minimum normalised score.
        min_score: f64,
    },
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let k = s.len();
    if k % 2 == 1 {
        s[k / 2]
    } else {
        (s[k / 2 - 1] + s[k / 2]) / 2.0
    }
}

/// Inputs to [`score_round`].
pub struct ScoreInput<'a> {
    /// The global model the round started from.
    pub global: &'a Weights,
    /// Accepted updates as deltas, in client order.
    pub deltas: &'a [&'a [f32]],
    /// Their sample counts.
    pub samples: &'a [u64],
    /// Which updates the aggregator used (Krum selection; all for the others).
    pub selected: &'a [bool],
    /// Deltas of the previous round (public artifacts), with their client index in
    /// this round's order when the same client is present (own updates are not
    /// copies).
    pub previous: &'a [(Option<usize>, Vec<f32>)],
    /// The coordinator's held-out validation set (standardised).
    pub validation: &'a Dataset,
}

/// Scores one round; the result is in the order of `input.deltas`.
pub fn score_round(input: &ScoreInput<'_>, cfg: &ScoreConfig) -> Result<Vec<ClientScore>> {
    let n = input.deltas.len();
    if input.samples.len() != n || input.selected.len() != n {
        return Err(Error::Config("score inputs of different lengths".into()));
    }
    if n == 0 {
        return Ok(Vec::new());
    }
    let base = evaluate(input.global, input.validation).loss;
    let norms: Vec<f64> = input.deltas.iter().map(|d| l2(d)).collect();
    let median_norm = median(&norms);
    // Direction reference for client i: the sum of the *other* clients' unit updates
    // (normalised so a boosted update cannot dominate it; leaving i out so a random
    // update is not compared with itself). O(P) per client from the total.
    let p = input.global.values.len();
    let mut unit_sum = vec![0f64; p];
    for (d, &nd) in input.deltas.iter().zip(&norms) {
        if nd > 0.0 {
            for (a, &x) in unit_sum.iter_mut().zip(d.iter()) {
                *a += f64::from(x) / nd;
            }
        }
    }
    let reference_without = |i: usize| -> Vec<f32> {
        let nd = norms[i];
        unit_sum
            .iter()
            .zip(input.deltas[i].iter())
            .map(|(&a, &x)| if nd > 0.0 { (a - f64::from(x) / nd) as f32 } else { a as f32 })
            .collect()
    };
    let gains: Vec<f64> = input
        .deltas
        .iter()
        .map(|d| base - evaluate(&input.global.plus(d), input.validation).loss)
        .collect();

    let dot = |a: &[f32], b: &[f32]| -> f64 {
        a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum::<f64>()
    };
    let cos = |a: &[f32], na: f64, b: &[f32], nb: f64| -> f64 {
        if na == 0.0 || nb == 0.0 {
            0.0
        } else {
            dot(a, b) / (na * nb)
        }
    };
    let copied = find_copies(input, &norms, cfg.copy_cosine);
    let random_threshold = cfg.random_cosine.max(cfg.random_sigmas / (p.max(1) as f64).sqrt());
    let mut flags: Vec<Option<FreeRider>> = vec![None; n];
    for i in 0..n {
        if norms[i] == 0.0 || norms[i] <= cfg.zero_norm_ratio * median_norm {
            flags[i] = Some(FreeRider::Zero);
            continue;
        }
        if copied[i] {
            flags[i] = Some(FreeRider::Copied);
            continue;
        }
        let reference = reference_without(i);
        let c = cos(input.deltas[i], norms[i], &reference, l2(&reference));
        // The client's own update of the previous round (public, like everyone's).
        let own = input.previous.iter().find(|(o, _)| *o == Some(i)).map(|(_, d)| d);
        let c_own = own.map(|d| cos(input.deltas[i], norms[i], d, l2(d)));
        // A random direction has cosine ≈ N(0, 1/P) with the reference and with the
        // client's own previous update. Near convergence a small honest client's update is
        // mostly its own data's pull, far from the consensus, but it pulls the same way
        // round after round; fresh noise does not.
        if c < random_threshold && c_own.is_none_or(|co| co < random_threshold) {
            flags[i] = Some(FreeRider::Random);
        }
    }

    let eligible: Vec<bool> = (0..n).map(|i| flags[i].is_none()).collect();
    let cap = cfg.sample_cap_multiple
        * median(&input.samples.iter().map(|&s| s as f64).collect::<Vec<_>>());
    let capped: Vec<f64> = input.samples.iter().map(|&s| (s as f64).min(cap)).collect();

    // Leave-one-out on the capped-sample-weighted mean of the eligible, selected set.
    // The mean without i is (Σ − w_i Δ_i) / (W − w_i): O(P) per client, in a fixed order.
    let in_set: Vec<usize> = (0..n).filter(|&i| eligible[i] && input.selected[i]).collect();
    let mut loo = vec![0f64; n];
    if in_set.len() >= 2 {
        let mut sum = vec![0f64; p];
        let mut total_w = 0f64;
        for &i in &in_set {
            total_w += capped[i];
            for (a, &x) in sum.iter_mut().zip(input.deltas[i]) {
                *a += capped[i] * f64::from(x);
            }
        }
        let mean_of = |skip: Option<usize>| -> Vec<f32> {
            let (w, d) = match skip {
                Some(i) => (total_w - capped[i], Some(input.deltas[i])),
                None => (total_w, None),
            };
            (0..p)
                .map(|k| {
                    let s = match (skip, d) {
                        (Some(i), Some(d)) => sum[k] - capped[i] * f64::from(d[k]),
                        _ => sum[k],
                    };
                    if w > 0.0 {
                        (s / w) as f32
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        let full = evaluate(&input.global.plus(&mean_of(None)), input.validation).loss;
        for &i in &in_set {
            let without = evaluate(&input.global.plus(&mean_of(Some(i))), input.validation).loss;
            loo[i] = without - full;
        }
    } else if let [i] = in_set[..] {
        loo[i] = gains[i];
    }

    let quality: Vec<f64> =
        (0..n).map(|i| if eligible[i] { loo[i].max(0.0) } else { 0.0 }).collect();
    let quantity: Vec<f64> =
        (0..n).map(|i| if eligible[i] && gains[i] > 0.0 { capped[i] } else { 0.0 }).collect();
    let (sq, sc): (f64, f64) = (quality.iter().sum(), quantity.iter().sum());
    let raw: Vec<f64> = (0..n)
        .map(|i| {
            let q = if sq > 0.0 { quality[i] / sq } else { 0.0 };
            let c = if sc > 0.0 { quantity[i] / sc } else { 0.0 };
            cfg.quality_weight * q + (1.0 - cfg.quality_weight) * c
        })
        .collect();
    let total: f64 = raw.iter().sum();
    Ok((0..n)
        .map(|i| {
            let score = if total > 0.0 { raw[i] / total } else { 0.0 };
            ClientScore {
                gain: gains[i],
                loo: loo[i],
                capped_samples: capped[i],
                free_rider: flags[i],
                score,
                score_fixed: (score * SCORE_SCALE).round() as u64,
            }
        })
        .collect())
}

/// Random unit directions the copy search projects onto (fixed, so scoring is
/// deterministic).
const COPY_PROJECTIONS: usize = 8;

/// Which of this round's updates are copies (cosine ≥ `threshold`) of another client's
/// update of this round or of the previous round.
///
/// Instead of comparing all pairs (O(n²·P)), every update's unit vector is projected on
/// [`COPY_PROJECTIONS`] fixed random unit directions. Two unit vectors with cosine ≥ c are
/// at distance ≤ d = √(2(1 − c)), so each projection differs by at most d: a necessary
/// condition, so no copy is missed. Candidates are found by sorting on the first projection
/// and sweeping a window of width d; the other projections (O(1) each) prune the window
/// before the exact O(P) cosine. Cost: O(n·P) projections + O(n log n) sort + the window.
fn find_copies(input: &ScoreInput<'_>, norms: &[f64], threshold: f64) -> Vec<bool> {
    let n = input.deltas.len();
    let p = input.global.values.len();
    // Entries: this round's updates (owner = own index) then the previous round's.
    let mut vecs: Vec<(&[f32], f64, Option<usize>, bool)> = input
        .deltas
        .iter()
        .zip(norms)
        .enumerate()
        .map(|(i, (d, &nd))| (*d, nd, Some(i), true))
        .collect();
    for (owner, d) in input.previous {
        vecs.push((d.as_slice(), l2(d), *owner, false));
    }
    let mut dirs = vec![vec![0f64; p]; COPY_PROJECTIONS];
    let mut r = crate::rng::stream(0, "copy-projections", &[p as u64]);
    for dir in &mut dirs {
        for x in dir.iter_mut() {
            *x = crate::rng::normal(&mut r);
        }
        let norm = dir.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-300);
        dir.iter_mut().for_each(|x| *x /= norm);
    }
    let proj: Vec<[f64; COPY_PROJECTIONS]> = vecs
        .iter()
        .map(|(d, nd, _, _)| {
            let mut out = [0f64; COPY_PROJECTIONS];
            if *nd > 0.0 {
                for (o, dir) in out.iter_mut().zip(&dirs) {
                    *o = d.iter().zip(dir).map(|(&x, &y)| f64::from(x) * y).sum::<f64>() / nd;
                }
            }
            out
        })
        .collect();
    let radius = (2.0 * (1.0 - threshold)).max(0.0).sqrt() + 1e-9;
    let mut order: Vec<usize> = (0..vecs.len()).filter(|&k| vecs[k].1 > 0.0).collect();
    order.sort_by(|&a, &b| proj[a][0].total_cmp(&proj[b][0]).then(a.cmp(&b)));
    let mut copied = vec![false; n];
    for (pos, &a) in order.iter().enumerate() {
        for &b in &order[pos + 1..] {
            if proj[b][0] - proj[a][0] > radius {
                break;
            }
            let (va, vb) = (&vecs[a], &vecs[b]);
            // Only this round's updates can be flagged, and a client's own previous update
            // is not a copy.
            let (flag_a, flag_b) = (va.3 && va.2 != vb.2, vb.3 && vb.2 != va.2);
            let open_a = flag_a && !copied[va.2.unwrap_or(0)];
            let open_b = flag_b && !copied[vb.2.unwrap_or(0)];
            if !open_a && !open_b {
                continue;
            }
            if (1..COPY_PROJECTIONS).any(|k| (proj[a][k] - proj[b][k]).abs() > radius) {
                continue;
            }
            let dot: f64 =
                va.0.iter().zip(vb.0.iter()).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
            if dot / (va.1 * vb.1) >= threshold {
                if let (true, Some(i)) = (flag_a, va.2) {
                    copied[i] = true;
                }
                if let (true, Some(i)) = (flag_b, vb.2) {
                    copied[i] = true;
                }
            }
        }
    }
    copied
}

/// Splits `pool` token units by `scores` (fixed-point, see [`SCORE_SCALE`]) with
/// largest-remainder rounding: the result sums to `pool` exactly (or is all zeros when
/// every score is 0). Ties in remainders go to the lower index.
pub fn split_rewards(pool: u128, scores_fixed: &[u64], rule: &RewardSplit) -> Vec<u128> {
    let eligible: Vec<u128> = scores_fixed
        .iter()
        .map(|&s| match *rule {
            RewardSplit::Proportional => u128::from(s),
            RewardSplit::Threshold { min_score } => {
                if s as f64 >= min_score * SCORE_SCALE {
                    u128::from(s)
                } else {
                    0
                }
            }
        })
        .collect();
    let total: u128 = eligible.iter().sum();
    if total == 0 {
        return vec![0; scores_fixed.len()];
    }
    // pool × s / total with u128; pool ≤ 2^96 keeps the product in range.
    let pool = pool.min(1u128 << 96);
    let mut out: Vec<u128> = eligible.iter().map(|&s| pool * s / total).collect();
    let mut rem: Vec<(u128, usize)> =
        eligible.iter().enumerate().map(|(i, &s)| (pool * s % total, i)).collect();
    rem.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut left = pool - out.iter().sum::<u128>();
    for (_, i) in rem {
        if left == 0 {
            break;
        }
        if eligible[i] > 0 {
            out[i] += 1;
            left -= 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelSpec;
    use proptest::prelude::*;

    #[test]
    fn rewards_sum_to_the_pool() {
        let r = split_rewards(100, &[1, 1, 1], &RewardSplit::Proportional);
        assert_eq!(r, vec![34, 33, 33]);
        let r = split_rewards(10, &[0, 0], &RewardSplit::Proportional);
        assert_eq!(r, vec![0, 0]);
        let r = split_rewards(
            1000,
            &[600_000_000, 350_000_000, 50_000_000],
            &RewardSplit::Threshold { min_score: 0.1 },
        );
        assert_eq!(r, vec![632, 368, 0]);
    }

    #[test]
    fn free_riders_are_flagged_and_score_zero() {
        let bc = alara_ml::datasets::breast_cancer().unwrap();
        let s = alara_ml::Standardizer::fit(&bc).unwrap();
        let data = s.transform(&bc).unwrap();
        // An MLP: random directions in its 530 dimensions are near-orthogonal to training.
        let spec = ModelSpec::mlp(30, 16, 2);
        let global = spec.init(0);
        let cfg = crate::train::LocalTraining { epochs: 1, ..Default::default() };
        let mut deltas = Vec::new();
        for c in 0..4 {
            let part = data.subset(&(c * 50..c * 50 + 50).collect::<Vec<_>>()).unwrap();
            let w = crate::train::train_local(&global, &part, &cfg, c as u64).unwrap();
            deltas.push(w.delta_from(&global));
        }
        // Client 0's update of the previous round, trained from another global model.
        let prev_global = spec.init(9);
        let part0 = data.subset(&(0..50).collect::<Vec<_>>()).unwrap();
        let honest_prev = crate::train::train_local(&prev_global, &part0, &cfg, 99)
            .unwrap()
            .delta_from(&prev_global);
        deltas.push(vec![0.0; deltas[0].len()]); // zero
        deltas.push(honest_prev.iter().map(|x| x * 1.0001).collect()); // copy of client 0's last update
        let mut r = crate::rng::stream(1, "noise", &[]);
        let norm = l2(&deltas[1]);
        let noise: Vec<f32> =
            (0..deltas[0].len()).map(|_| crate::rng::normal(&mut r) as f32).collect();
        let k = norm / l2(&noise);
        deltas.push(noise.iter().map(|x| x * k as f32).collect()); // random
        let refs: Vec<&[f32]> = deltas.iter().map(Vec::as_slice).collect();
        let samples = vec![50, 50, 50, 50, 50, 50, 50];
        let previous = vec![(Some(0), honest_prev)];
        let validation = data.subset(&(400..569).collect::<Vec<_>>()).unwrap();
        let scores = score_round(
            &ScoreInput {
                global: &global,
                deltas: &refs,
                samples: &samples,
                selected: &[true; 7],
                previous: &previous,
                validation: &validation,
            },
            &ScoreConfig::default(),
        )
        .unwrap();
        let flags: Vec<_> = scores.iter().map(|s| s.free_rider).collect();
        assert_eq!(
            flags,
            vec![
                None,
                None,
                None,
                None,
                Some(FreeRider::Zero),
                Some(FreeRider::Copied),
                Some(FreeRider::Random)
            ]
        );
        assert!(scores[..4].iter().all(|s| s.score > 0.1));
        assert!(scores[4..].iter().all(|s| s.score == 0.0));
        let total: f64 = scores.iter().map(|s| s.score).sum();
        assert!((total - 1.0).abs() < 1e-12);
    }

    fn brute_force_copies(input: &ScoreInput<'_>, threshold: f64) -> Vec<bool> {
        let cos = |a: &[f32], b: &[f32]| {
            let (na, nb) = (l2(a), l2(b));
            if na == 0.0 || nb == 0.0 {
                return 0.0;
            }
            a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum::<f64>() / (na * nb)
        };
        (0..input.deltas.len())
            .map(|i| {
                (0..input.deltas.len())
                    .any(|j| j != i && cos(input.deltas[i], input.deltas[j]) >= threshold)
                    || input
                        .previous
                        .iter()
                        .any(|(o, d)| *o != Some(i) && cos(input.deltas[i], d) >= threshold)
            })
            .collect()
    }

    proptest! {
        #[test]
        fn copy_search_agrees_with_all_pairs(
            seed in 0u64..1000,
            n in 2usize..40,
            copies in prop::collection::vec((0usize..40, 0usize..40, any::<bool>()), 0..6),
        ) {
            let spec = ModelSpec::logistic(30, 2);
            let global = spec.init(0);
            let p = global.values.len();
            let mut r = crate::rng::stream(seed, "copy-test", &[]);
            // Correlated honest-looking updates: a shared direction plus noise.
            let common: Vec<f32> = (0..p).map(|_| crate::rng::normal(&mut r) as f32).collect();
            let mut deltas: Vec<Vec<f32>> = (0..n)
                .map(|_| common.iter().map(|c| c + 0.7 * crate::rng::normal(&mut r) as f32).collect())
                .collect();
            let previous: Vec<(Option<usize>, Vec<f32>)> = (0..3)
                .map(|k| (if k == 0 { Some(0) } else { None }, (0..p).map(|_| crate::rng::normal(&mut r) as f32).collect()))
                .collect();
            for (a, b, from_previous) in copies {
                let (a, b) = (a % n, b % n);
                let source = if from_previous { previous[b % 3].1.clone() } else { deltas[b].clone() };
                deltas[a] = source.iter().map(|x| x * (1.0 + 1e-4 * crate::rng::normal(&mut r) as f32)).collect();
            }
            deltas[n - 1] = vec![0.0; p];
            let refs: Vec<&[f32]> = deltas.iter().map(Vec::as_slice).collect();
            let samples = vec![1; n];
            let selected = vec![true; n];
            let validation = alara_ml::Dataset { features: vec![vec![0.0; 30]], labels: vec![0], feature_names: vec![String::new(); 30], n_classes: 2 };
            let input = ScoreInput { global: &global, deltas: &refs, samples: &samples, selected: &selected, previous: &previous, validation: &validation };
            let norms: Vec<f64> = refs.iter().map(|d| l2(d)).collect();
            prop_assert_eq!(find_copies(&input, &norms, 0.999), brute_force_copies(&input, 0.999));
        }

        #[test]
        fn split_never_exceeds_pool_and_is_exact(pool in 0u128..1_000_000_000_000, scores in prop::collection::vec(0u64..1_000_000_000, 1..30)) {
            let r = split_rewards(pool, &scores, &RewardSplit::Proportional);
            let sum: u128 = r.iter().sum();
            if scores.iter().any(|&s| s > 0) { prop_assert_eq!(sum, pool); } else { prop_assert_eq!(sum, 0); }
            for (i, &s) in scores.iter().enumerate() { if s == 0 { prop_assert_eq!(r[i], 0); } }
        }
    }
}
