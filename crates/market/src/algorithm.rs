//! Compute-to-data recipes: declarative descriptions of what may run on a dataset.
//!
//! A recipe is data, not code: the owner's node interprets it with fixed Rust routines,
//! so it cannot open files or sockets. An ONNX model is data too (a graph of tensor
//! operations); models that reference external tensor files are refused before loading.
//!
//! The owner allow-lists a recipe on-chain by its [`Algorithm::hash`]:
//! `SHA-256("alara.c2d.algorithm/v1\n" ‖ canonical JSON)`, where the canonical JSON is
//! this crate's serialisation (fields in declaration order, no whitespace), so the same
//! recipe written with other spacing or field order has the same hash.
//!
//! ```
//! use alara_market::algorithm::{Algorithm, LogisticRegression};
//! let a = Algorithm::LogisticRegression(LogisticRegression::default());
//! let text = serde_json::to_string(&a).unwrap();
//! assert!(text.starts_with(r#"{"recipe":"logistic_regression""#));
//! assert_eq!(Algorithm::from_json(text.as_bytes()).unwrap().hash(), a.hash());
//! ```

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Domain separator of algorithm hashes.
pub const HASH_DOMAIN: &[u8] = b"alara.c2d.algorithm/v1\n";

/// Largest recipe file accepted.
pub const MAX_RECIPE_BYTES: usize = 16 * 1024;

/// A compute-to-data recipe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "recipe", rename_all = "snake_case")]
pub enum Algorithm {
    /// Count, mean and standard deviation of every feature over the selected rows.
    Aggregate(Aggregate),
    /// Train a (multinomial) logistic regression; the result is the model as ONNX plus
    /// held-out metrics.
    LogisticRegression(LogisticRegression),
    /// Score the data with the buyer's ONNX model; the result is accuracy and a confusion
    /// matrix, never per-row outputs.
    OnnxScore(OnnxScore),
}

/// Aggregate statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Aggregate {
    /// One group per class label instead of one over all rows.
    pub by_label: bool,
    /// Only rows whose feature lies in a range.
    pub filter: Option<RangeFilter>,
}

/// Selects rows with `min <= feature <= max`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeFilter {
    /// Feature (column) name.
    pub feature: String,
    /// Lower bound, inclusive.
    pub min: Option<f64>,
    /// Upper bound, inclusive.
    pub max: Option<f64>,
}

/// Full-batch gradient descent on the softmax cross-entropy with L2, on standardised
/// features, in `f64` with a platform-independent `exp`: the same data and recipe give the
/// same model bytes everywhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticRegression {
    /// Passes over the training rows (1–10 000).
    pub epochs: u32,
    /// Step size (0–10].
    pub learning_rate: f64,
    /// L2 penalty [0–10].
    pub l2: f64,
    /// Share of rows held out for the reported metrics (0.05–0.5).
    pub test_fraction: f64,
    /// Seed of the stratified split.
    pub seed: u64,
}

impl Default for LogisticRegression {
    fn default() -> Self {
        Self { epochs: 300, learning_rate: 0.5, l2: 0.001, test_fraction: 0.25, seed: 42 }
    }
}

/// Scoring with an ONNX classifier identified by the SHA-256 of its bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnnxScore {
    /// Hex SHA-256 of the `.onnx` file the buyer supplies with the job.
    pub model_sha256: String,
}

impl Algorithm {
    /// Parses a recipe (JSON) and validates it.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_RECIPE_BYTES {
            return Err(Error::Algorithm(format!(
                "recipe of {} bytes; at most {MAX_RECIPE_BYTES}",
                bytes.len()
            )));
        }
        let a: Self = serde_json::from_slice(bytes).map_err(|e| {
            Error::Algorithm(format!(
                "{e}; expected {{\"recipe\": \"aggregate\" | \"logistic_regression\" | \"onnx_score\", …}}"
            ))
        })?;
        a.validate()?;
        Ok(a)
    }

    /// The canonical JSON (what is hashed).
    pub fn canonical_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The hash the owner allow-lists on-chain.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(HASH_DOMAIN);
        h.update(self.canonical_json());
        h.finalize().into()
    }

    /// Short name of the recipe.
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::Aggregate(_) => "aggregate",
            Algorithm::LogisticRegression(_) => "logistic_regression",
            Algorithm::OnnxScore(_) => "onnx_score",
        }
    }

    /// Checks every parameter's range.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Algorithm(m));
        match self {
            Algorithm::Aggregate(a) => {
                if let Some(f) = &a.filter {
                    if f.feature.is_empty() {
                        return bad("filter.feature is empty".into());
                    }
                    let finite = |v: Option<f64>| v.is_none_or(f64::is_finite);
                    if !finite(f.min) || !finite(f.max) {
                        return bad("filter bounds must be finite numbers".into());
                    }
                    if let (Some(lo), Some(hi)) = (f.min, f.max) {
                        if lo > hi {
                            return bad(format!("filter.min {lo} is above filter.max {hi}"));
                        }
                    }
                }
            }
            Algorithm::LogisticRegression(p) => {
                if !(1..=10_000).contains(&p.epochs) {
                    return bad(format!("epochs {} is outside 1..=10000", p.epochs));
                }
                if !(p.learning_rate > 0.0 && p.learning_rate <= 10.0) {
                    return bad(format!("learning_rate {} is outside (0, 10]", p.learning_rate));
                }
                if !(0.0..=10.0).contains(&p.l2) {
                    return bad(format!("l2 {} is outside [0, 10]", p.l2));
                }
                if !(0.05..=0.5).contains(&p.test_fraction) {
                    return bad(format!(
                        "test_fraction {} is outside [0.05, 0.5]",
                        p.test_fraction
                    ));
                }
            }
            Algorithm::OnnxScore(s) => {
                let ok = s.model_sha256.len() == 64
                    && s.model_sha256
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if !ok {
                    return bad(format!(
                        "model_sha256 {:?} is not 64 lowercase hex digits",
                        s.model_sha256
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hash_ignores_spacing_and_field_order() {
        let a = Algorithm::from_json(
            br#"{ "recipe": "logistic_regression", "seed": 42, "epochs": 300,
                  "learning_rate": 0.5, "l2": 0.001, "test_fraction": 0.25 }"#,
        )
        .unwrap();
        assert_eq!(a, Algorithm::LogisticRegression(LogisticRegression::default()));
        let b =
            Algorithm::LogisticRegression(LogisticRegression { seed: 43, ..Default::default() });
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn invalid_recipes_are_refused_with_the_reason() {
        let e = Algorithm::from_json(br#"{"recipe":"shell","cmd":"rm -rf /"}"#).unwrap_err();
        assert!(e.to_string().contains("expected"), "{e}");
        let e = Algorithm::from_json(
            br#"{"recipe":"logistic_regression","epochs":0,"learning_rate":0.5,"l2":0,"test_fraction":0.2,"seed":1}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("epochs 0"), "{e}");
        let e = Algorithm::from_json(
            br#"{"recipe":"aggregate","by_label":true,"filter":null,"path":"/etc/passwd"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        let e =
            Algorithm::from_json(br#"{"recipe":"onnx_score","model_sha256":"xyz"}"#).unwrap_err();
        assert!(e.to_string().contains("64 lowercase hex"), "{e}");
        assert!(Algorithm::from_json(&vec![b' '; MAX_RECIPE_BYTES + 1]).is_err());
    }

    proptest! {
        #[test]
        fn canonical_json_round_trips(epochs in 1u32..10_000, lr in 0.001f64..10.0, l2 in 0.0f64..10.0,
                                      tf in 0.05f64..0.5, seed in any::<u64>()) {
            let a = Algorithm::LogisticRegression(LogisticRegression {
                epochs, learning_rate: lr, l2, test_fraction: tf, seed,
            });
            let b = Algorithm::from_json(&a.canonical_json()).unwrap();
            prop_assert_eq!(b.hash(), a.hash());
            prop_assert_eq!(b, a);
        }
    }
}
