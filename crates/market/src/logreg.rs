//! Deterministic multinomial logistic regression and its export as ONNX.
//!
//! Training is sequential `f64` arithmetic with [`det_exp`] (no libm), so a recipe and a
//! dataset give bit-identical weights on every platform, hence the same ONNX bytes and the
//! same model hash. The exported graph has the interface of the models in `models/`:
//! input `input` float32 `[N, features]` (raw features; standardisation is baked in as
//! `Sub`/`Div`), outputs `label` int64 `[N]` and `probabilities` float32 `[N, classes]`,
//! so `alara infer` runs it and its audit entries carry its hash.

use alara_ml::{Dataset, Standardizer};
use prost::Message;
use tract_onnx::pb;

use crate::algorithm::LogisticRegression;
use crate::{Error, Result};

/// `exp` from IEEE additions and multiplications only (Cody–Waite range reduction and a
/// degree-13 Taylor polynomial), accurate to a few ulps, identical everywhere.
pub fn det_exp(x: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    if x.is_nan() {
        return x;
    }
    if x > 709.0 {
        return f64::INFINITY;
    }
    if x < -708.0 {
        return 0.0;
    }
    let k = (x * std::f64::consts::LOG2_E).round();
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut term = 1.0f64;
    let mut sum = 1.0f64;
    for i in 1..=13 {
        term = term * r / f64::from(i);
        sum += term;
    }
    let scale = f64::from_bits(((k as i64 + 1023) as u64) << 52);
    sum * scale
}

/// A trained model: standardisation and one weight column per class.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainedModel {
    /// Feature names (input order).
    pub feature_names: Vec<String>,
    /// Number of classes.
    pub n_classes: usize,
    /// Per-feature mean subtracted first.
    pub mean: Vec<f32>,
    /// Per-feature standard deviation divided by next.
    pub std: Vec<f32>,
    /// Weights, row-major `[features][classes]`.
    pub weights: Vec<f32>,
    /// Bias per class.
    pub bias: Vec<f32>,
}

fn softmax_in_place(z: &mut [f64]) {
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = det_exp(*v - max);
        sum += *v;
    }
    for v in z.iter_mut() {
        *v /= sum;
    }
}

/// Trains on `train` with recipe `p`.
pub fn train(train: &Dataset, p: &LogisticRegression) -> Result<TrainedModel> {
    let d = train.n_features();
    let k = train.n_classes;
    if k < 2 {
        return Err(Error::Algorithm(format!(
            "logistic regression needs at least 2 classes, the data has {k}"
        )));
    }
    let scaler = Standardizer::fit(train)?;
    let x: Vec<Vec<f64>> = train
        .features
        .iter()
        .map(|row| {
            let mut r = row.clone();
            scaler.transform_row(&mut r);
            r.into_iter().map(f64::from).collect()
        })
        .collect();
    let n = x.len() as f64;
    let mut w = vec![0f64; d * k];
    let mut b = vec![0f64; k];
    let mut gw = vec![0f64; d * k];
    let mut gb = vec![0f64; k];
    let mut z = vec![0f64; k];
    for _ in 0..p.epochs {
        gw.iter_mut().for_each(|g| *g = 0.0);
        gb.iter_mut().for_each(|g| *g = 0.0);
        for (row, &label) in x.iter().zip(&train.labels) {
            for (c, zc) in z.iter_mut().enumerate() {
                let mut s = b[c];
                for (j, xj) in row.iter().enumerate() {
                    s += xj * w[j * k + c];
                }
                *zc = s;
            }
            softmax_in_place(&mut z);
            for c in 0..k {
                let e = z[c] - if label as usize == c { 1.0 } else { 0.0 };
                gb[c] += e;
                for (j, xj) in row.iter().enumerate() {
                    gw[j * k + c] += xj * e;
                }
            }
        }
        for (wi, gi) in w.iter_mut().zip(&gw) {
            *wi -= p.learning_rate * (gi / n + p.l2 * *wi);
        }
        for (bi, gi) in b.iter_mut().zip(&gb) {
            *bi -= p.learning_rate * gi / n;
        }
    }
    if w.iter().chain(&b).any(|v| !v.is_finite()) {
        return Err(Error::Algorithm(
            "training diverged (non-finite weights); lower the learning rate".into(),
        ));
    }
    Ok(TrainedModel {
        feature_names: train.feature_names.clone(),
        n_classes: k,
        mean: scaler.mean,
        std: scaler.std,
        weights: w.into_iter().map(|v| v as f32).collect(),
        bias: b.into_iter().map(|v| v as f32).collect(),
    })
}

impl TrainedModel {
    /// Class probabilities of one raw row, computed as the ONNX graph does (in `f32`
    /// up to the softmax).
    pub fn predict_proba(&self, row: &[f32]) -> Vec<f64> {
        let k = self.n_classes;
        let mut z = vec![0f64; k];
        for (c, zc) in z.iter_mut().enumerate() {
            let mut s = self.bias[c];
            for (j, &v) in row.iter().enumerate() {
                let x = (v - self.mean[j]) / self.std[j];
                s += x * self.weights[j * k + c];
            }
            *zc = f64::from(s);
        }
        softmax_in_place(&mut z);
        z
    }

    /// The most probable class of one raw row.
    pub fn predict(&self, row: &[f32]) -> u32 {
        let p = self.predict_proba(row);
        let mut best = 0;
        for (i, v) in p.iter().enumerate() {
            if *v > p[best] {
                best = i;
            }
        }
        best as u32
    }

    /// Share of `data` classified correctly, and the confusion matrix `[true][predicted]`.
    pub fn evaluate(&self, data: &Dataset) -> (f64, Vec<Vec<u64>>) {
        let k = self.n_classes;
        let mut cm = vec![vec![0u64; k]; k];
        let mut right = 0u64;
        for (row, &label) in data.features.iter().zip(&data.labels) {
            let p = self.predict(row);
            if p == label {
                right += 1;
            }
            if (label as usize) < k {
                cm[label as usize][p as usize] += 1;
            }
        }
        (right as f64 / data.len().max(1) as f64, cm)
    }

    /// Every number the model carries, in a fixed order (for the output guard).
    pub fn numbers(&self) -> Vec<f32> {
        self.mean.iter().chain(&self.std).chain(&self.weights).chain(&self.bias).copied().collect()
    }

    /// The model as ONNX bytes (opset 13); `provenance` pairs go into the metadata.
    pub fn to_onnx(&self, provenance: &[(&str, String)]) -> Vec<u8> {
        let d = self.mean.len() as i64;
        let k = self.n_classes as i64;
        let float = pb::tensor_proto::DataType::Float as i32;
        let int64 = pb::tensor_proto::DataType::Int64 as i32;
        let tensor = |name: &str, dims: Vec<i64>, data: &[f32]| pb::TensorProto {
            name: name.into(),
            dims,
            data_type: float,
            float_data: data.to_vec(),
            ..Default::default()
        };
        let node = |op: &str, inputs: &[&str], output: &str, attribute: Vec<pb::AttributeProto>| {
            pb::NodeProto {
                op_type: op.into(),
                name: output.into(),
                input: inputs.iter().map(|s| s.to_string()).collect(),
                output: vec![output.into()],
                attribute,
                ..Default::default()
            }
        };
        let int_attr = |name: &str, i: i64| pb::AttributeProto {
            name: name.into(),
            r#type: pb::attribute_proto::AttributeType::Int as i32,
            i,
            ..Default::default()
        };
        let dim_param = |s: &str| pb::tensor_shape_proto::Dimension {
            value: Some(pb::tensor_shape_proto::dimension::Value::DimParam(s.into())),
            ..Default::default()
        };
        let dim = |v: i64| pb::tensor_shape_proto::Dimension {
            value: Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)),
            ..Default::default()
        };
        let value = |name: &str, elem_type: i32, dims: Vec<pb::tensor_shape_proto::Dimension>| {
            pb::ValueInfoProto {
                name: name.into(),
                r#type: Some(pb::TypeProto {
                    value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                        elem_type,
                        shape: Some(pb::TensorShapeProto { dim: dims }),
                    })),
                    ..Default::default()
                }),
                ..Default::default()
            }
        };
        let graph = pb::GraphProto {
            name: "alara_logistic_regression".into(),
            node: vec![
                node("Sub", &["input", "mean"], "centered", vec![]),
                node("Div", &["centered", "std"], "scaled", vec![]),
                node("MatMul", &["scaled", "weights"], "linear", vec![]),
                node("Add", &["linear", "bias"], "logits", vec![]),
                node("Softmax", &["logits"], "probabilities", vec![int_attr("axis", 1)]),
                node(
                    "ArgMax",
                    &["probabilities"],
                    "label",
                    vec![int_attr("axis", 1), int_attr("keepdims", 0)],
                ),
            ],
            initializer: vec![
                tensor("mean", vec![1, d], &self.mean),
                tensor("std", vec![1, d], &self.std),
                tensor("weights", vec![d, k], &self.weights),
                tensor("bias", vec![k], &self.bias),
            ],
            input: vec![value("input", float, vec![dim_param("N"), dim(d)])],
            output: vec![
                value("label", int64, vec![dim_param("N")]),
                value("probabilities", float, vec![dim_param("N"), dim(k)]),
            ],
            ..Default::default()
        };
        let mut metadata_props = vec![pb::StringStringEntryProto {
            key: "feature_names".into(),
            value: self.feature_names.join(","),
        }];
        metadata_props.extend(
            provenance
                .iter()
                .map(|(k, v)| pb::StringStringEntryProto { key: k.to_string(), value: v.clone() }),
        );
        let model = pb::ModelProto {
            ir_version: 8,
            opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 13 }],
            producer_name: "alara-market".into(),
            graph: Some(graph),
            metadata_props,
            ..Default::default()
        };
        model.encode_to_vec()
    }
}

/// Refuses ONNX bytes whose tensors point at external files: loading them would read the
/// owner's disk. Every tensor in the graph, its attributes and nested graphs is checked.
pub fn refuse_external_data(bytes: &[u8]) -> Result<()> {
    let model = pb::ModelProto::decode(bytes)
        .map_err(|e| Error::Algorithm(format!("the model is not ONNX protobuf: {e}")))?;
    fn tensor_ok(t: &pb::TensorProto) -> bool {
        t.external_data.is_empty() && t.data_location.unwrap_or(0) == 0
    }
    fn graph_ok(g: &pb::GraphProto) -> bool {
        g.initializer.iter().all(tensor_ok)
            && g.sparse_initializer.iter().all(|s| {
                s.values.as_ref().is_none_or(tensor_ok) && s.indices.as_ref().is_none_or(tensor_ok)
            })
            && g.node.iter().all(|n| {
                n.attribute.iter().all(|a| {
                    a.t.as_ref().is_none_or(tensor_ok)
                        && a.tensors.iter().all(tensor_ok)
                        && a.g.as_ref().is_none_or(graph_ok)
                        && a.graphs.iter().all(graph_ok)
                })
            })
    }
    match &model.graph {
        Some(g) if graph_ok(g) => Ok(()),
        Some(_) => Err(Error::Algorithm(
            "the model references external tensor files; compute-to-data models must be self-contained".into(),
        )),
        None => Err(Error::Algorithm("the model has no graph".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn det_exp_matches_libm_closely() {
        for i in -7000..=7000 {
            let x = f64::from(i) / 10.0;
            let (a, b) = (det_exp(x), x.exp());
            assert!(((a - b) / b).abs() < 1e-14, "x={x}: {a} vs {b}");
        }
        assert_eq!(det_exp(0.0), 1.0);
        assert_eq!(det_exp(-1000.0), 0.0);
    }

    proptest! {
        #[test]
        fn det_exp_relative_error_is_tiny(x in -700f64..700.0) {
            let (a, b) = (det_exp(x), x.exp());
            prop_assert!(((a - b) / b).abs() < 1e-14);
        }
    }

    fn breast_cancer_split() -> (Dataset, Dataset) {
        alara_ml::datasets::breast_cancer().unwrap().train_test_split(0.25, 42).unwrap()
    }

    #[test]
    fn training_is_accurate_and_bit_reproducible() {
        let (tr, te) = breast_cancer_split();
        let p = LogisticRegression { epochs: 200, ..Default::default() };
        let m = train(&tr, &p).unwrap();
        let (acc, cm) = m.evaluate(&te);
        assert!(acc > 0.93, "held-out accuracy {acc}");
        assert_eq!(cm.iter().flatten().sum::<u64>(), te.len() as u64);
        let again = train(&tr, &p).unwrap();
        assert_eq!(m, again);
        assert_eq!(m.to_onnx(&[]), again.to_onnx(&[]));
    }

    #[test]
    fn onnx_export_runs_in_tract_like_the_rust_model() {
        let (tr, te) = breast_cancer_split();
        let m = train(&tr, &LogisticRegression { epochs: 100, ..Default::default() }).unwrap();
        let bytes = m.to_onnx(&[("alara.algorithm", "test".into())]);
        refuse_external_data(&bytes).unwrap();
        let onnx = alara_ml::OnnxModel::from_bytes(&bytes).unwrap();
        assert_eq!(onnx.input_width(), 30);
        assert_eq!(onnx.feature_names().map(|f| f.len()), Some(30));
        let preds = onnx.predict(&te.features).unwrap();
        for (row, p) in te.features.iter().zip(&preds) {
            let ours = m.predict_proba(row);
            assert!(
                (f64::from(p.probabilities[1]) - ours[1]).abs() < 1e-4,
                "{:?} vs {ours:?}",
                p.probabilities
            );
            if (ours[1] - 0.5).abs() > 1e-3 {
                assert_eq!(p.label as u32, m.predict(row));
            }
        }
    }

    #[test]
    fn external_data_is_refused() {
        let (tr, _) = breast_cancer_split();
        let m = train(&tr, &LogisticRegression { epochs: 1, ..Default::default() }).unwrap();
        let mut model = pb::ModelProto::decode(&m.to_onnx(&[])[..]).unwrap();
        if let Some(g) = model.graph.as_mut() {
            g.initializer[0].float_data.clear();
            g.initializer[0].data_location = Some(1);
            g.initializer[0].external_data = vec![pb::StringStringEntryProto {
                key: "location".into(),
                value: "/etc/passwd".into(),
            }];
        }
        let e = refuse_external_data(&model.encode_to_vec()).unwrap_err();
        assert!(e.to_string().contains("external tensor files"), "{e}");
        assert!(refuse_external_data(b"\xff\xff not onnx").is_err());
    }
}
