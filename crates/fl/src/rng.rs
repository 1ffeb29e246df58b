//! Deterministic randomness: every random choice in a task derives from the task seed
//! and a label, through SHA-256 and ChaCha8, with sampling algorithms written here so
//! that a replay on any machine and any future version draws the same numbers.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

pub use alara_ml::datasets::{shuffle, uniform_index};

use crate::detmath;

/// A sub-seed for `label` and `parts` (e.g. `("local-training", [round, client])`).
pub fn derive_seed(seed: u64, label: &str, parts: &[u64]) -> u64 {
    let mut h = Sha256::new();
    h.update(b"alara-fl/seed/v1");
    h.update(seed.to_le_bytes());
    h.update((label.len() as u64).to_le_bytes());
    h.update(label.as_bytes());
    for p in parts {
        h.update(p.to_le_bytes());
    }
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_le_bytes(b)
}

/// The seed of `client_id`'s local training in `round` of a task seeded `seed` (the
/// simulation and the networked client use the same derivation).
pub fn client_seed(seed: u64, round: u64, client_id: &str) -> u64 {
    derive_seed(seed, "local-training", &[round, derive_seed(0, client_id, &[])])
}

/// A ChaCha8 stream for `label` and `parts`.
pub fn stream(seed: u64, label: &str, parts: &[u64]) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(derive_seed(seed, label, parts))
}

/// Uniform in `[0, 1)` with 53 random bits.
pub fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Standard normal by Marsaglia's polar method (one value per call). Uses only
/// `sqrt` (exact in IEEE-754) and [`detmath::ln`], so it is identical on every machine.
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    loop {
        let u = 2.0 * unit(rng) - 1.0;
        let v = 2.0 * unit(rng) - 1.0;
        let s = u * u + v * v;
        if s > 0.0 && s < 1.0 {
            return u * (-2.0 * detmath::ln(s) / s).sqrt();
        }
    }
}

/// Gamma(shape, 1) by Marsaglia-Tsang (with the `shape < 1` boost).
pub fn gamma(rng: &mut ChaCha8Rng, shape: f64) -> f64 {
    if shape < 1.0 {
        let u = 1.0 - unit(rng);
        return gamma(rng, shape + 1.0) * detmath::exp(detmath::ln(u) / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = 1.0 - unit(rng);
        if detmath::ln(u) < 0.5 * x * x + d - d * v + d * detmath::ln(v) {
            return d * v;
        }
    }
}

/// A Dirichlet(α, …, α) draw of dimension `k`.
pub fn dirichlet(rng: &mut ChaCha8Rng, alpha: f64, k: usize) -> Vec<f64> {
    let g: Vec<f64> = (0..k).map(|_| gamma(rng, alpha).max(1e-300)).collect();
    let s: f64 = g.iter().sum();
    g.into_iter().map(|x| x / s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_seeds_differ_by_label_and_parts() {
        assert_ne!(derive_seed(1, "a", &[1]), derive_seed(1, "b", &[1]));
        assert_ne!(derive_seed(1, "a", &[1]), derive_seed(1, "a", &[2]));
        assert_ne!(derive_seed(1, "a", &[1, 2]), derive_seed(1, "a", &[2, 1]));
        assert_eq!(derive_seed(7, "x", &[3]), derive_seed(7, "x", &[3]));
    }

    #[test]
    fn samplers_have_plausible_moments() {
        let mut rng = stream(1, "t", &[]);
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| normal(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.05 && (var - 1.0).abs() < 0.05, "{mean} {var}");
        for shape in [0.3, 1.0, 4.0] {
            let g: f64 = (0..n).map(|_| gamma(&mut rng, shape)).sum::<f64>() / n as f64;
            assert!((g - shape).abs() < 0.1 * shape.max(1.0), "gamma({shape}) mean {g}");
        }
        let d = dirichlet(&mut rng, 0.5, 10);
        assert!((d.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
