//! Splitting a dataset across clients: IID, Dirichlet label skew, pathological shards
//! and unbalanced quantities. Every scheme is deterministic in its seed and gives each
//! client at least one sample (so it needs at least as many samples as clients).

use alara_ml::Dataset;
use serde::{Deserialize, Serialize};

use crate::{rng, Error, Result};

/// A partitioning scheme.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "scheme")]
pub enum Partition {
    /// Shuffle, then deal samples round-robin: equal sizes, same label mix.
    Iid,
    /// Label skew: for each class, client shares drawn from Dirichlet(α). Small α
    /// (0.1) gives clients few classes; large α (100) approaches IID.
    Dirichlet {
        /// Concentration α > 0.
        alpha: f64,
    },
    /// Pathological non-IID (McMahan et al.): sort by label, cut into
    /// `clients × shards_per_client` shards, give each client that many random shards.
    Shards {
        /// Shards per client.
        shards_per_client: usize,
    },
    /// IID labels, log-normal sizes: client sizes ∝ exp(σ·N(0,1)).
    Unbalanced {
        /// σ of the log-normal (0 = equal sizes).
        sigma: f64,
    },
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Partition::Iid => write!(f, "IID"),
            Partition::Dirichlet { alpha } => write!(f, "Dirichlet α={alpha}"),
            Partition::Shards { shards_per_client } => write!(f, "{shards_per_client} shards"),
            Partition::Unbalanced { sigma } => write!(f, "unbalanced σ={sigma}"),
        }
    }
}

/// Sample indices of `data` for each of `clients` clients (each sorted ascending).
pub fn partition(
    data: &Dataset,
    clients: usize,
    scheme: Partition,
    seed: u64,
) -> Result<Vec<Vec<usize>>> {
    let n = data.len();
    if clients == 0 || n < clients {
        return Err(Error::Config(format!(
            "cannot give {clients} clients at least one sample each from {n} samples"
        )));
    }
    let mut r = rng::stream(seed, "partition", &[]);
    let mut parts: Vec<Vec<usize>> = vec![Vec::new(); clients];
    match scheme {
        Partition::Iid => {
            let mut idx: Vec<usize> = (0..n).collect();
            rng::shuffle(&mut idx, &mut r);
            for (k, i) in idx.into_iter().enumerate() {
                parts[k % clients].push(i);
            }
        }
        Partition::Dirichlet { alpha } => {
            if !(alpha.is_finite() && alpha > 0.0) {
                return Err(Error::Config(format!("Dirichlet α must be > 0, found {alpha}")));
            }
            for class in 0..data.n_classes {
                let mut members: Vec<usize> =
                    (0..n).filter(|&i| data.labels[i] as usize == class).collect();
                rng::shuffle(&mut members, &mut r);
                let p = rng::dirichlet(&mut r, alpha, clients);
                // Cumulative cut points; the last client takes the rounding remainder.
                let m = members.len();
                let mut start = 0;
                let mut acc = 0.0;
                for (c, share) in p.iter().enumerate() {
                    acc += share;
                    let end = if c + 1 == clients {
                        m
                    } else {
                        ((acc * m as f64).round() as usize).min(m)
                    };
                    parts[c].extend_from_slice(&members[start..end.max(start)]);
                    start = end.max(start);
                }
            }
        }
        Partition::Shards { shards_per_client } => {
            let shards = clients * shards_per_client;
            if shards_per_client == 0 || shards > n {
                return Err(Error::Config(format!(
                    "{clients} clients × {shards_per_client} shards need 1 ≤ shards ≤ {n} samples"
                )));
            }
            let mut idx: Vec<usize> = (0..n).collect();
            rng::shuffle(&mut idx, &mut r);
            idx.sort_by_key(|&i| data.labels[i]); // stable: shuffled within each label
            let mut order: Vec<usize> = (0..shards).collect();
            rng::shuffle(&mut order, &mut r);
            for (k, s) in order.into_iter().enumerate() {
                let (lo, hi) = (s * n / shards, (s + 1) * n / shards);
                parts[k / shards_per_client].extend_from_slice(&idx[lo..hi]);
            }
        }
        Partition::Unbalanced { sigma } => {
            if !(sigma.is_finite() && sigma >= 0.0) {
                return Err(Error::Config(format!("σ must be ≥ 0, found {sigma}")));
            }
            let w: Vec<f64> = (0..clients).map(|_| (sigma * rng::normal(&mut r)).exp()).collect();
            let total: f64 = w.iter().sum();
            let spare = n - clients; // everyone gets one, the rest by weight
            let mut sizes: Vec<usize> =
                w.iter().map(|x| 1 + (x / total * spare as f64).floor() as usize).collect();
            let mut given: usize = sizes.iter().sum();
            let mut c = 0;
            while given < n {
                sizes[c % clients] += 1;
                given += 1;
                c += 1;
            }
            let mut idx: Vec<usize> = (0..n).collect();
            rng::shuffle(&mut idx, &mut r);
            let mut start = 0;
            for (c, s) in sizes.into_iter().enumerate() {
                parts[c].extend_from_slice(&idx[start..start + s]);
                start += s;
            }
        }
    }
    // Every client needs a sample: move one from the largest part (lowest index on ties).
    for c in 0..clients {
        if parts[c].is_empty() {
            let donor =
                (0..clients).max_by_key(|&k| (parts[k].len(), std::cmp::Reverse(k))).unwrap_or(0);
            if let Some(i) = parts[donor].pop() {
                parts[c].push(i);
            }
        }
    }
    for p in &mut parts {
        p.sort_unstable();
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_cover(parts: &[Vec<usize>], n: usize) {
        let mut all: Vec<usize> = parts.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>(), "each sample exactly once");
        assert!(parts.iter().all(|p| !p.is_empty()));
    }

    #[test]
    fn every_scheme_covers_the_data_once_and_is_deterministic() {
        let d = alara_ml::datasets::digits().unwrap();
        for scheme in [
            Partition::Iid,
            Partition::Dirichlet { alpha: 0.5 },
            Partition::Dirichlet { alpha: 0.05 },
            Partition::Shards { shards_per_client: 2 },
            Partition::Unbalanced { sigma: 1.0 },
        ] {
            let a = partition(&d, 50, scheme, 9).unwrap();
            check_cover(&a, d.len());
            assert_eq!(a, partition(&d, 50, scheme, 9).unwrap(), "{scheme}");
        }
    }

    #[test]
    fn label_skew_is_stronger_for_small_alpha() {
        let d = alara_ml::datasets::digits().unwrap();
        let classes_per_client = |alpha| {
            let parts = partition(&d, 20, Partition::Dirichlet { alpha }, 1).unwrap();
            let total: usize = parts
                .iter()
                .map(|p| {
                    let mut seen = [false; 10];
                    p.iter().for_each(|&i| seen[d.labels[i] as usize] = true);
                    seen.iter().filter(|s| **s).count()
                })
                .sum();
            total as f64 / 20.0
        };
        assert!(classes_per_client(0.05) < classes_per_client(100.0));
        let shards = partition(&d, 20, Partition::Shards { shards_per_client: 2 }, 1).unwrap();
        for p in shards {
            let mut seen = [false; 10];
            p.iter().for_each(|&i| seen[d.labels[i] as usize] = true);
            assert!(seen.iter().filter(|s| **s).count() <= 4);
        }
    }

    #[test]
    fn too_many_clients_is_an_error() {
        let d = alara_ml::datasets::parse_csv("1,0\n2,1\n", "t").unwrap();
        assert!(partition(&d, 3, Partition::Iid, 0).is_err());
        assert!(partition(&d, 2, Partition::Dirichlet { alpha: 0.0 }, 0).is_err());
    }
}
