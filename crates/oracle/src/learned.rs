//! The learned stage of the detector: a random forest that scores each quote of a round
//! as an attack, from the [`Detector::features`](crate::detect::Detector::features) of
//! the quote.
//!
//! The model ships in `models/oracle_detector.onnx`, trained by
//! `scripts/train_oracle_detector.py` on labelled attacks (×10 and other manipulation by
//! up to four colluding sources, one-round spikes, frozen sources, slow drift) over four
//! of the five shipped stock series; AAPL, the series the benchmark and the demos use,
//! is held out. The features come from this crate's own code (the example
//! `oracle_features`), so training and inference compute them the same way. The model is
//! a scikit-learn `RandomForestClassifier` exported by skl2onnx as a
//! `TreeEnsembleClassifier`, run with tract (`alara-ml`); its SHA-256 is part of the
//! detector's settings, so the hash in every audit entry pins the model.

use std::sync::{Arc, OnceLock};

use alara_ml::onnx::OnnxModel;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::detect::FEATURES;
use crate::{Error, Result};

/// The shipped model's bytes.
pub const SHIPPED_MODEL: &[u8] = include_bytes!("../../../models/oracle_detector.onnx");

/// The attack probability above which the shipped model's stage drops a quote.
pub const SHIPPED_THRESHOLD: f64 = 0.5;

/// The learned stage's settings: which model (by SHA-256) and its threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnedStage {
    /// SHA-256 of the ONNX model, hex.
    pub model: String,
    /// Attack probability above which a quote is dropped.
    pub threshold: f64,
}

fn shipped_model() -> Result<Arc<OnnxModel>> {
    static MODEL: OnceLock<std::result::Result<Arc<OnnxModel>, String>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            OnnxModel::from_bytes(SHIPPED_MODEL).map(Arc::new).map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| Error::Invalid { what: "learned detector", detail: e })
}

impl LearnedStage {
    /// The shipped model at its threshold.
    pub fn shipped() -> Self {
        Self {
            model: hex::encode(sha2::Sha256::digest(SHIPPED_MODEL)),
            threshold: SHIPPED_THRESHOLD,
        }
    }

    /// The attack probability of each row. Fails when the settings name a model other
    /// than the shipped one (a detector state from another build), or tract cannot run it.
    pub fn scores(&self, rows: &[[f32; FEATURES]]) -> Result<Vec<f64>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let model = shipped_model()?;
        if model.hash_hex() != self.model {
            return Err(Error::Invalid {
                what: "learned detector",
                detail: format!(
                    "the settings name model {} but this build ships {}: replay with the \
                     build that made the round",
                    self.model,
                    model.hash_hex()
                ),
            });
        }
        let rows: Vec<Vec<f32>> = rows.iter().map(|r| r.to_vec()).collect();
        let predictions = model
            .predict(&rows)
            .map_err(|e| Error::Invalid { what: "learned detector", detail: e.to_string() })?;
        Ok(predictions
            .iter()
            .map(|p| p.probabilities.get(1).map_or(0.0, |&x| f64::from(x)))
            .collect())
    }
}
