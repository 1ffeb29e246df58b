//! Models and their weights.
//!
//! Two architectures: multinomial logistic regression and a one-hidden-layer MLP (ReLU).
//! [`Weights`] are a flat `f32` vector with a fixed layout (tensor names sorted), stored
//! as canonical safetensors: F32 tensors in name order, no metadata, so the same
//! weights always serialise to the same bytes and the same SHA-256.
//!
//! Evaluation ([`evaluate`], [`predict_proba`]) is plain Rust with a fixed summation
//! order and no fused multiply-add: scoring and replay must give the same bits on any
//! machine, which a SIMD kernel chosen by CPU features would not guarantee. Candle does
//! the training (see [`crate::train`]).

use std::collections::BTreeMap;

use alara_ml::Dataset;
use rand::RngCore;
use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{detmath, rng, Error, Result};

/// Upper bound on the parameter count of a model (and so on update sizes).
pub const MAX_PARAMS: usize = 4_000_000;

/// The architecture of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ModelKind {
    /// Multinomial logistic regression: `softmax(x Wᵀ + b)`.
    Logistic,
    /// One hidden ReLU layer: `softmax(relu(x W1ᵀ + b1) W2ᵀ + b2)`.
    Mlp {
        /// Hidden units.
        hidden: usize,
    },
}

/// A model architecture with its input and output sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Architecture.
    pub kind: ModelKind,
    /// Input features.
    pub n_features: usize,
    /// Output classes.
    pub n_classes: usize,
}

/// One named tensor in a [`Weights`] layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSpec {
    /// Tensor name (e.g. `fc1.weight`).
    pub name: String,
    /// Shape, row-major.
    pub shape: Vec<usize>,
}

impl TensorSpec {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// `true` for a zero-element tensor.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ModelSpec {
    /// Logistic regression for `n_features` inputs and `n_classes` classes.
    pub fn logistic(n_features: usize, n_classes: usize) -> Self {
        Self { kind: ModelKind::Logistic, n_features, n_classes }
    }

    /// MLP with `hidden` units.
    pub fn mlp(n_features: usize, hidden: usize, n_classes: usize) -> Self {
        Self { kind: ModelKind::Mlp { hidden }, n_features, n_classes }
    }

    /// Checks the sizes.
    pub fn validate(&self) -> Result<()> {
        if self.n_features == 0 || self.n_classes < 2 {
            return Err(Error::Config(format!(
                "a model needs at least 1 feature and 2 classes, found {} and {}",
                self.n_features, self.n_classes
            )));
        }
        if let ModelKind::Mlp { hidden: 0 } = self.kind {
            return Err(Error::Config("an MLP needs at least 1 hidden unit".into()));
        }
        if self.n_params() > MAX_PARAMS {
            return Err(Error::Config(format!(
                "{} parameters exceed the limit of {MAX_PARAMS}",
                self.n_params()
            )));
        }
        Ok(())
    }

    /// The tensors of this model, sorted by name (the canonical order).
    pub fn layout(&self) -> Vec<TensorSpec> {
        let t = |name: &str, shape: Vec<usize>| TensorSpec { name: name.into(), shape };
        let (d, c) = (self.n_features, self.n_classes);
        let mut v = match self.kind {
            ModelKind::Logistic => vec![t("linear.bias", vec![c]), t("linear.weight", vec![c, d])],
            ModelKind::Mlp { hidden: h } => vec![
                t("fc1.bias", vec![h]),
                t("fc1.weight", vec![h, d]),
                t("fc2.bias", vec![c]),
                t("fc2.weight", vec![c, h]),
            ],
        };
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Total number of parameters.
    pub fn n_params(&self) -> usize {
        self.layout().iter().map(TensorSpec::len).sum()
    }

    /// Deterministic initial weights: Glorot-uniform matrices, zero biases.
    pub fn init(&self, seed: u64) -> Weights {
        let mut r = rng::stream(seed, "init", &[]);
        let mut values = Vec::with_capacity(self.n_params());
        for t in self.layout() {
            if t.shape.len() == 2 {
                let limit = (6.0 / (t.shape[0] + t.shape[1]) as f64).sqrt();
                values
                    .extend((0..t.len()).map(|_| ((rng::unit(&mut r) * 2.0 - 1.0) * limit) as f32));
            } else {
                values.extend(std::iter::repeat_n(0.0f32, t.len()));
            }
        }
        // Keep the stream's position independent of later changes in this function.
        let _ = r.next_u32();
        Weights { spec: *self, values }
    }
}

/// The weights of a [`ModelSpec`] as one flat vector in layout order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    /// The architecture these weights belong to.
    pub spec: ModelSpec,
    /// All parameters, tensors concatenated in [`ModelSpec::layout`] order, row-major.
    pub values: Vec<f32>,
}

impl Weights {
    /// Wraps `values`, checking the length against the spec.
    pub fn new(spec: ModelSpec, values: Vec<f32>) -> Result<Self> {
        if values.len() != spec.n_params() {
            return Err(Error::Weights(format!(
                "expected {} parameters for {:?}, found {}",
                spec.n_params(),
                spec.kind,
                values.len()
            )));
        }
        Ok(Self { spec, values })
    }

    /// The slice of the tensor called `name`.
    pub fn tensor(&self, name: &str) -> Option<&[f32]> {
        let mut off = 0;
        for t in self.spec.layout() {
            if t.name == name {
                return Some(&self.values[off..off + t.len()]);
            }
            off += t.len();
        }
        None
    }

    /// Position of the first NaN or infinite value.
    pub fn first_non_finite(&self) -> Option<usize> {
        self.values.iter().position(|v| !v.is_finite())
    }

    /// Canonical safetensors bytes: F32 tensors in name order, no metadata.
    pub fn to_safetensors(&self) -> Vec<u8> {
        let layout = self.spec.layout();
        let mut bytes: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::with_capacity(layout.len());
        let mut off = 0;
        for t in layout {
            let data: Vec<u8> =
                self.values[off..off + t.len()].iter().flat_map(|v| v.to_le_bytes()).collect();
            off += t.len();
            bytes.push((t.name, t.shape, data));
        }
        let views: BTreeMap<String, TensorView<'_>> = bytes
            .iter()
            .map(|(name, shape, data)| {
                // Shapes and lengths come from our own layout, so this cannot fail;
                // fall back to an empty map entry never happens.
                let view = TensorView::new(Dtype::F32, shape.clone(), data)
                    .unwrap_or_else(|_| unreachable!("layout sizes are consistent"));
                (name.clone(), view)
            })
            .collect();
        safetensors::serialize(views, None)
            .unwrap_or_else(|_| unreachable!("serialising an in-memory F32 map cannot fail"))
    }

    /// Decodes safetensors bytes, checking that the tensors are exactly those of `spec`
    /// (names, shapes, F32) and that every value is finite.
    pub fn from_safetensors(spec: ModelSpec, bytes: &[u8]) -> Result<Self> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| Error::Weights(format!("not a valid safetensors file: {e}")))?;
        let layout = spec.layout();
        let mut names: Vec<String> = st.names().into_iter().map(|s| s.to_string()).collect();
        names.sort();
        let expected: Vec<String> = layout.iter().map(|t| t.name.clone()).collect();
        if names != expected {
            return Err(Error::Weights(format!("expected tensors {expected:?}, found {names:?}")));
        }
        let mut values = Vec::with_capacity(spec.n_params());
        for t in &layout {
            let view = st
                .tensor(&t.name)
                .map_err(|e| Error::Weights(format!("tensor `{}`: {e}", t.name)))?;
            if view.dtype() != Dtype::F32 {
                return Err(Error::Weights(format!(
                    "tensor `{}` has dtype {:?}, expected F32",
                    t.name,
                    view.dtype()
                )));
            }
            if view.shape() != t.shape.as_slice() {
                return Err(Error::Weights(format!(
                    "tensor `{}` has shape {:?}, expected {:?}",
                    t.name,
                    view.shape(),
                    t.shape
                )));
            }
            values.extend(
                view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            );
        }
        let w = Weights::new(spec, values)?;
        if let Some(i) = w.first_non_finite() {
            return Err(Error::Weights(format!(
                "parameter {i} is {} (NaN or infinite values are not accepted)",
                w.values[i]
            )));
        }
        Ok(w)
    }

    /// SHA-256 of [`Weights::to_safetensors`]: the model (or update) hash.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.to_safetensors()).into()
    }

    /// `self - base`, element-wise (the update of a client trained from `base`).
    pub fn delta_from(&self, base: &Weights) -> Vec<f32> {
        self.values.iter().zip(&base.values).map(|(a, b)| a - b).collect()
    }

    /// `self + delta`, element-wise.
    pub fn plus(&self, delta: &[f32]) -> Weights {
        Weights {
            spec: self.spec,
            values: self.values.iter().zip(delta).map(|(a, d)| a + d).collect(),
        }
    }
}

/// Loss and accuracy of a model on a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean cross-entropy (natural log).
    pub loss: f64,
    /// Fraction of samples classified correctly.
    pub accuracy: f64,
}

/// Class probabilities of one row (computed in `f64`, fixed order).
pub fn predict_proba(w: &Weights, row: &[f32]) -> Vec<f64> {
    let logits = logits(w, row);
    softmax(&logits)
}

fn dense(weight: &[f32], bias: &[f32], x: &[f64], out: usize) -> Vec<f64> {
    let d = x.len();
    (0..out)
        .map(|o| {
            let mut s = f64::from(bias[o]);
            for (wi, xi) in weight[o * d..(o + 1) * d].iter().zip(x) {
                s += f64::from(*wi) * xi;
            }
            s
        })
        .collect()
}

fn logits(w: &Weights, row: &[f32]) -> Vec<f64> {
    let x: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
    let c = w.spec.n_classes;
    let t = |name| w.tensor(name).unwrap_or(&[]);
    match w.spec.kind {
        ModelKind::Logistic => dense(t("linear.weight"), t("linear.bias"), &x, c),
        ModelKind::Mlp { hidden } => {
            let h: Vec<f64> = dense(t("fc1.weight"), t("fc1.bias"), &x, hidden)
                .into_iter()
                .map(|v| v.max(0.0))
                .collect();
            dense(t("fc2.weight"), t("fc2.bias"), &h, c)
        }
    }
}

fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| detmath::exp(v - m)).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

/// Mean cross-entropy and accuracy of `w` on `data` (features already standardised the
/// way the task says). Deterministic across machines.
pub fn evaluate(w: &Weights, data: &Dataset) -> Evaluation {
    if data.is_empty() {
        return Evaluation { loss: 0.0, accuracy: 0.0 };
    }
    let mut loss = 0.0;
    let mut correct = 0usize;
    for (row, &label) in data.features.iter().zip(&data.labels) {
        let z = logits(w, row);
        let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + detmath::ln(z.iter().map(|v| detmath::exp(v - m)).sum::<f64>());
        let l = label as usize;
        loss += lse - z.get(l).copied().unwrap_or(f64::NEG_INFINITY);
        let mut best = 0;
        for (i, v) in z.iter().enumerate() {
            if *v > z[best] {
                best = i;
            }
        }
        if best == l {
            correct += 1;
        }
    }
    let n = data.len() as f64;
    Evaluation { loss: loss / n, accuracy: correct as f64 / n }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layouts_are_sorted_and_sized() {
        let s = ModelSpec::mlp(30, 8, 2);
        let names: Vec<_> = s.layout().into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]);
        assert_eq!(s.n_params(), 8 + 240 + 2 + 16);
        assert_eq!(ModelSpec::logistic(64, 10).n_params(), 650);
        assert!(ModelSpec::logistic(3, 1).validate().is_err());
        assert!(ModelSpec::mlp(3, 0, 2).validate().is_err());
    }

    #[test]
    fn init_is_deterministic_and_seed_dependent() {
        let s = ModelSpec::mlp(4, 3, 2);
        assert_eq!(s.init(1), s.init(1));
        assert_ne!(s.init(1), s.init(2));
        assert_eq!(s.init(1).hash(), s.init(1).hash());
    }

    #[test]
    fn safetensors_rejects_wrong_shape_names_and_nan() {
        let s = ModelSpec::logistic(3, 2);
        let w = s.init(0);
        let bytes = w.to_safetensors();
        assert_eq!(Weights::from_safetensors(s, &bytes).unwrap(), w);
        let e = Weights::from_safetensors(ModelSpec::logistic(4, 2), &bytes).unwrap_err();
        assert!(e.to_string().contains("shape"), "{e}");
        let e = Weights::from_safetensors(ModelSpec::mlp(3, 2, 2), &bytes).unwrap_err();
        assert!(e.to_string().contains("expected tensors"), "{e}");
        let mut bad = w.clone();
        bad.values[2] = f32::NAN;
        let e = Weights::from_safetensors(s, &bad.to_safetensors()).unwrap_err();
        assert!(e.to_string().contains("NaN"), "{e}");
        bad.values[2] = f32::INFINITY;
        assert!(Weights::from_safetensors(s, &bad.to_safetensors()).is_err());
        assert!(Weights::from_safetensors(s, b"garbage").is_err());
        assert!(Weights::from_safetensors(s, &bytes[..bytes.len() - 3]).is_err());
    }

    #[test]
    fn evaluate_matches_hand_computation() {
        // Logistic with W = [[1, 0], [0, 1]], b = 0: logits = x.
        let s = ModelSpec::logistic(2, 2);
        let w = Weights::new(s, vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0]).unwrap();
        let data = alara_ml::datasets::parse_csv("2,0,0\n0,2,0\n", "t").unwrap();
        let e = evaluate(&w, &data);
        assert_eq!(e.accuracy, 0.5);
        let l0 = (1.0 + (-2f64).exp()).ln();
        let l1 = (1.0 + 2f64.exp()).ln();
        assert!((e.loss - (l0 + l1) / 2.0).abs() < 1e-12);
        let p = predict_proba(&w, &[2.0, 0.0]);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12 && p[0] > p[1]);
    }

    proptest! {
        #[test]
        fn safetensors_round_trip_is_canonical(values in prop::collection::vec(-1e3f32..1e3, 8)) {
            let s = ModelSpec::logistic(3, 2);
            let w = Weights::new(s, values).unwrap();
            let bytes = w.to_safetensors();
            let back = Weights::from_safetensors(s, &bytes).unwrap();
            prop_assert_eq!(back.to_safetensors(), bytes);
            prop_assert_eq!(back, w);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = Weights::from_safetensors(ModelSpec::logistic(3, 2), &bytes);
        }
    }
}
