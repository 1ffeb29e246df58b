//! A model in the fixed-point runtime: layers, their Merkle root and the model hash, and
//! conversions from the float models this project trains (`alara-fl`'s logistic regression
//! and MLP) and ships (`models/breast_cancer_{logreg,mlp}.onnx`).

use alloy::primitives::{keccak256, B256, U256};
use serde::{Deserialize, Serialize};
use tract_onnx::pb;
use tract_onnx::prelude::Framework as _;

use crate::fixed::{self, Layer, Op, Tensor};
use crate::{merkle, Error, Result};

/// `keccak256` of 32-byte words, i.e. of `abi.encode` of static values.
pub(crate) fn hash_words(words: &[B256]) -> B256 {
    let mut buf = Vec::with_capacity(words.len() * 32);
    for w in words {
        buf.extend_from_slice(w.as_slice());
    }
    keccak256(buf)
}

/// A number as an ABI word.
pub(crate) fn word(v: u64) -> B256 {
    B256::from(U256::from(v))
}

/// `layerLeaf(i) = keccak256(abi.encode(uint256 i, uint8 op, bytes32 hash(a), bytes32 hash(b)))`.
pub fn layer_leaf(index: u64, layer: &Layer) -> B256 {
    hash_words(&[word(index), word(u64::from(layer.op.code())), layer.a.hash(), layer.b.hash()])
}

/// `modelHash = keccak256(abi.encode(uint256 L, bytes32 layersRoot))`.
pub fn model_hash(layer_count: u64, layers_root: B256) -> B256 {
    hash_words(&[word(layer_count), layers_root])
}

/// A model: `L ≥ 1` layers from a `width`-wide input to logits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedModel {
    /// Input width.
    pub input_width: u32,
    /// The layers, first to last.
    pub layers: Vec<Layer>,
}

impl FixedModel {
    /// A model; checks that every layer fits the previous one's output.
    pub fn new(input_width: u32, layers: Vec<Layer>) -> Result<FixedModel> {
        if layers.is_empty() {
            return Err(Error::Shape("a model needs at least one layer".into()));
        }
        let mut width = input_width;
        for (i, l) in layers.iter().enumerate() {
            width = l.check(width).map_err(|e| Error::Shape(format!("layer {i}: {e}")))?;
        }
        Ok(FixedModel { input_width, layers })
    }

    /// Number of layers `L`.
    pub fn layer_count(&self) -> u64 {
        self.layers.len() as u64
    }

    /// Width of the logits.
    pub fn output_width(&self) -> u32 {
        self.layers.iter().fold(self.input_width, |w, l| l.check(w).unwrap_or(0))
    }

    /// Every layer's leaf.
    pub fn layer_leaves(&self) -> Vec<B256> {
        self.layers.iter().enumerate().map(|(i, l)| layer_leaf(i as u64, l)).collect()
    }

    /// The Merkle root over the layer leaves.
    pub fn layers_root(&self) -> B256 {
        merkle::root(&self.layer_leaves())
    }

    /// The Merkle proof of layer `i`.
    pub fn layer_proof(&self, i: usize) -> Vec<B256> {
        merkle::proof(&self.layer_leaves(), i)
    }

    /// The model hash the market and the game know the model by.
    pub fn hash(&self) -> B256 {
        model_hash(self.layer_count(), self.layers_root())
    }

    /// Number of parameters (weights and constants).
    pub fn n_params(&self) -> usize {
        self.layers.iter().map(|l| l.a.data.len() + l.b.data.len()).sum()
    }

    /// Runs the model on a batch of quantised features; the logits.
    pub fn run(&self, x: &Tensor) -> Result<Tensor> {
        let mut act = fixed::apply(&self.layers[0], x)?;
        for l in &self.layers[1..] {
            act = fixed::apply(l, &act)?;
        }
        Ok(act)
    }

    /// The predicted class of every row of real-valued features.
    pub fn predict(&self, rows: &[Vec<f32>]) -> Result<Vec<u32>> {
        let rows: Vec<Vec<f64>> =
            rows.iter().map(|r| r.iter().map(|&v| f64::from(v)).collect()).collect();
        Ok(fixed::argmax(&self.run(&Tensor::quantized(&rows)?)?))
    }

    /// A model trained by `alara-fl` on features standardised by `standardizer`: the
    /// standardisation becomes an ADD of `-mean` and a MUL by `1 / std`, then the
    /// network's layers (weights transposed to `[in, out]`).
    pub fn from_weights(
        weights: &alara_fl::Weights,
        standardizer: &alara_ml::Standardizer,
    ) -> Result<FixedModel> {
        let spec = weights.spec;
        let bad = |detail: String| Error::Model { origin: "trained weights".into(), detail };
        let d = spec.n_features;
        if standardizer.mean.len() != d {
            return Err(bad(format!(
                "standardizer of {} features for a {d}-feature model",
                standardizer.mean.len()
            )));
        }
        let tensor =
            |name: &str| weights.tensor(name).ok_or_else(|| bad(format!("no tensor {name}")));
        let mut layers = standardisation(&standardizer.mean, &standardizer.std, &bad)?;
        let dense = |w: &[f32], b: &[f32], inputs: usize, outputs: usize| -> Result<Layer> {
            // alara-fl stores `[out, in]` (x Wᵀ); the runtime multiplies by `[in, out]`.
            let mut wt = Vec::with_capacity(inputs * outputs);
            for k in 0..inputs {
                for j in 0..outputs {
                    wt.push(q(f64::from(w[j * inputs + k]), &bad)?);
                }
            }
            let bias = b.iter().map(|&v| q(f64::from(v), &bad)).collect::<Result<Vec<_>>>()?;
            Ok(Layer::gemm(Tensor::new(inputs as u32, outputs as u32, wt)?, Tensor::row(bias)))
        };
        match spec.kind {
            alara_fl::ModelKind::Logistic => {
                layers.push(dense(
                    tensor("linear.weight")?,
                    tensor("linear.bias")?,
                    d,
                    spec.n_classes,
                )?);
            }
            alara_fl::ModelKind::Mlp { hidden } => {
                layers.push(dense(tensor("fc1.weight")?, tensor("fc1.bias")?, d, hidden)?);
                layers.push(Layer::unary(Op::Relu));
                layers.push(dense(
                    tensor("fc2.weight")?,
                    tensor("fc2.bias")?,
                    hidden,
                    spec.n_classes,
                )?);
            }
        }
        FixedModel::new(d as u32, layers)
    }

    /// One of the shipped float classifiers (`Sub`, `Div`, then `Gemm`/`Relu`/`Gemm`/
    /// `Softmax`/`ArgMax` or a binary `LinearClassifier`), converted: the standardisation as
    /// ADD and MUL, `Softmax` dropped (it does not change the argmax), a `LinearClassifier`
    /// as a GEMM with one column per class.
    pub fn from_onnx(bytes: &[u8], origin: &str) -> Result<FixedModel> {
        let bad = |detail: String| Error::Model { origin: origin.to_string(), detail };
        let proto = std::panic::catch_unwind(|| {
            tract_onnx::onnx().proto_model_for_read(&mut &bytes[..]).map_err(|e| format!("{e:#}"))
        })
        .map_err(|_| bad("the ONNX parser panicked on this file".into()))?
        .map_err(|e| bad(format!("not an ONNX model: {e}")))?;
        let graph = proto.graph.as_ref().ok_or_else(|| bad("no graph".into()))?;
        let init = |name: &str| -> Result<(Vec<i64>, Vec<f32>)> {
            let t = graph
                .initializer
                .iter()
                .find(|t| t.name == name)
                .ok_or_else(|| bad(format!("{name:?} is not an initializer")))?;
            Ok((t.dims.clone(), floats(t).map_err(&bad)?))
        };
        let mut layers = Vec::new();
        let mut width: Option<usize> = None;
        let mut mean: Option<Vec<f32>> = None;
        for node in &graph.node {
            let second = || node.input.get(1).map(String::as_str).unwrap_or_default();
            match node.op_type.as_str() {
                "Sub" => mean = Some(init(second())?.1),
                "Div" => {
                    let std = init(second())?.1;
                    let m = mean.take().ok_or_else(|| bad("Div without a Sub before it".into()))?;
                    width = Some(m.len());
                    layers.extend(standardisation(&m, &std, &bad)?);
                }
                "Gemm" => {
                    for a in &node.attribute {
                        let default = match a.name.as_str() {
                            "alpha" | "beta" => a.f == 1.0,
                            "transA" | "transB" => a.i == 0,
                            _ => false,
                        };
                        if !default {
                            return Err(bad(format!("Gemm attribute {} is not supported", a.name)));
                        }
                    }
                    let (dims, w) = init(second())?;
                    let (_, b) = init(node.input.get(2).map(String::as_str).unwrap_or_default())?;
                    let [k, n] = dims.as_slice() else {
                        return Err(bad(format!("Gemm weight of shape {dims:?}")));
                    };
                    width.get_or_insert(*k as usize);
                    let wq = w.iter().map(|&v| q(f64::from(v), &bad)).collect::<Result<Vec<_>>>()?;
                    let bq = b.iter().map(|&v| q(f64::from(v), &bad)).collect::<Result<Vec<_>>>()?;
                    layers.push(Layer::gemm(Tensor::new(*k as u32, *n as u32, wq)?, Tensor::row(bq)));
                }
                "Relu" => layers.push(Layer::unary(Op::Relu)),
                "Sigmoid" => layers.push(Layer::unary(Op::Sigmoid)),
                "Softmax" | "ArgMax" => {}
                "LinearClassifier" => layers.push(linear_classifier(node, width, &bad)?),
                other => {
                    return Err(bad(format!(
                        "operator {other} has no fixed-point form (supported: Sub, Div, Gemm, Relu, Sigmoid, Softmax, ArgMax, LinearClassifier)"
                    )))
                }
            }
        }
        let width = width.ok_or_else(|| bad("no layer fixes the input width".into()))?;
        FixedModel::new(width as u32, layers)
    }
}

fn q(f: f64, bad: &dyn Fn(String) -> Error) -> Result<i32> {
    if f.abs() >= fixed::MAX_REAL {
        return Err(bad(format!(
            "value {f} is outside the fixed-point range ±{}",
            fixed::MAX_REAL
        )));
    }
    fixed::quantize(f).ok_or_else(|| bad(format!("value {f} is not a number")))
}

/// `(x - mean) / std` as ADD(-mean) then MUL(1 / std).
fn standardisation(mean: &[f32], std: &[f32], bad: &dyn Fn(String) -> Error) -> Result<Vec<Layer>> {
    if mean.len() != std.len() {
        return Err(bad(format!("{} means and {} deviations", mean.len(), std.len())));
    }
    let neg = mean.iter().map(|&m| q(-f64::from(m), bad)).collect::<Result<Vec<_>>>()?;
    let inv = std
        .iter()
        .map(|&s| {
            if s <= 0.0 {
                Err(bad(format!("standard deviation {s} is not positive")))
            } else {
                q(1.0 / f64::from(s), bad)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(vec![Layer::add(Tensor::row(neg)), Layer::mul(Tensor::row(inv))])
}

/// skl2onnx's `LinearClassifier` (coefficients `[classes × width]`, one intercept per
/// class; a binary model lists both classes) as a GEMM.
fn linear_classifier(
    node: &pb::NodeProto,
    width: Option<usize>,
    bad: &dyn Fn(String) -> Error,
) -> Result<Layer> {
    let attr = |name: &str| node.attribute.iter().find(|a| a.name == name);
    let coef =
        attr("coefficients").ok_or_else(|| bad("LinearClassifier without coefficients".into()))?;
    let icpt =
        attr("intercepts").ok_or_else(|| bad("LinearClassifier without intercepts".into()))?;
    let classes = icpt.floats.len();
    let width = width.ok_or_else(|| bad("LinearClassifier with an unknown input width".into()))?;
    if classes < 2 || coef.floats.len() != classes * width {
        return Err(bad(format!(
            "LinearClassifier with {} coefficients and {classes} intercepts for {width} inputs",
            coef.floats.len()
        )));
    }
    let mut w = Vec::with_capacity(width * classes);
    for k in 0..width {
        for c in 0..classes {
            w.push(q(f64::from(coef.floats[c * width + k]), bad)?);
        }
    }
    let b = icpt.floats.iter().map(|&v| q(f64::from(v), bad)).collect::<Result<Vec<_>>>()?;
    Ok(Layer::gemm(Tensor::new(width as u32, classes as u32, w)?, Tensor::row(b)))
}

fn floats(t: &pb::TensorProto) -> std::result::Result<Vec<f32>, String> {
    const FLOAT: i32 = 1;
    if t.data_type != FLOAT {
        return Err(format!("initializer {:?} is not float32", t.name));
    }
    if !t.raw_data.is_empty() {
        if !t.raw_data.len().is_multiple_of(4) {
            return Err(format!("initializer {:?}: {} raw bytes", t.name, t.raw_data.len()));
        }
        return Ok(t
            .raw_data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect());
    }
    Ok(t.float_data.clone())
}
