//! ONNX inference with tract.
//!
//! An [`OnnxModel`] is parsed, type-checked and optimised once at load time; two plans
//! are kept, one specialised for a single row (the latency-critical path of audited
//! inference) and one for any batch size. Running a plan does not mutate the model, so
//! one `OnnxModel` can be shared across threads (`Arc<OnnxModel>`).
//!
//! Supported models: one float32 input of shape `[N, width]` with a known `width`, and
//! outputs among an int64 label tensor (`[N]` or `[N, 1]`) and a float32 probability
//! (or score) tensor `[N, classes]`. With only a probability output the label is its
//! arg-max. skl2onnx exports with `zipmap: False` fit this shape; the `ZipMap` op (a
//! sequence of maps) and skl2onnx's `Scaler` op are not run by tract: bake scaling into
//! the graph as `Sub`/`Div` nodes instead.

use std::{fmt, panic::AssertUnwindSafe, path::Path, sync::Arc};

use sha2::{Digest, Sha256};
use tract_onnx::{
    pb::{self, tensor_proto::DataType, type_proto},
    prelude::*,
};

use crate::{Error, Result};

type Plan = Arc<TypedRunnableModel>;

/// The result of running a classifier on one row.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Prediction {
    /// Predicted class label.
    pub label: i64,
    /// Per-class probabilities (or scores) as the model outputs them; empty when the
    /// model has no probability output.
    pub probabilities: Vec<f32>,
}

/// Which output slot holds what.
#[derive(Debug, Clone, Copy)]
struct OutputLayout {
    label: Option<usize>,
    probabilities: Option<usize>,
}

/// An ONNX classifier loaded once and run many times. See the [module docs](self) for
/// the models it accepts.
pub struct OnnxModel {
    hash: [u8; 32],
    input_width: usize,
    input_name: String,
    feature_names: Option<Vec<String>>,
    layout: OutputLayout,
    single_row: Plan,
    any_batch: Plan,
}

impl fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnnxModel")
            .field("hash", &hex::encode(self.hash))
            .field("input_name", &self.input_name)
            .field("input_width", &self.input_width)
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

impl OnnxModel {
    /// Loads and optimises the model at `path`. Fails with a clear error when the file
    /// is missing ([`Error::Io`]), is not ONNX ([`Error::CorruptModel`]) or cannot be
    /// run here ([`Error::UnsupportedModel`]).
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = crate::files::read_capped(path, crate::files::MAX_MODEL, "an ONNX model")?;
        Self::from_bytes_with_origin(&bytes, &path.display().to_string())
    }

    /// Loads and optimises a model from the bytes of an `.onnx` file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::from_bytes_with_origin(bytes, "in-memory model")
    }

    fn from_bytes_with_origin(bytes: &[u8], origin: &str) -> Result<Self> {
        let corrupt = |message: String| Error::CorruptModel { origin: origin.to_string(), message };
        let unsupported =
            |message: String| Error::UnsupportedModel { origin: origin.to_string(), message };
        if bytes.is_empty() {
            return Err(corrupt("the file is empty".into()));
        }
        let hash: [u8; 32] = Sha256::digest(bytes).into();
        let onnx = tract_onnx::onnx();
        // tract is a parser of untrusted bytes here: a panic deep inside it must become
        // an error for the caller, not take the process down.
        let proto = catch(|| onnx.proto_model_for_read(&mut &bytes[..]))
            .map_err(&corrupt)?
            .map_err(|e| corrupt(format!("{e:#}")))?;
        let graph = proto.graph.as_ref().ok_or_else(|| corrupt("the model has no graph".into()))?;
        let (input_name, input_width) = describe_input(graph).map_err(unsupported)?;
        let layout = describe_outputs(graph).map_err(unsupported)?;
        let feature_names = proto
            .metadata_props
            .iter()
            .find(|p| p.key == "feature_names")
            .map(|p| p.value.split(',').map(|s| s.trim().to_string()).collect::<Vec<_>>())
            .filter(|names| names.len() == input_width);

        let build = |batch: Option<usize>| -> std::result::Result<Plan, String> {
            catch(|| -> TractResult<Plan> {
                let mut model = onnx.model_for_proto_model(&proto)?;
                let rows = match batch {
                    Some(n) => n.to_dim(),
                    None => model.sym("N").to_dim(),
                };
                model = model.with_input_fact(0, f32::fact([rows, input_width.to_dim()]).into())?;
                model.into_optimized()?.into_runnable()
            })?
            .map_err(|e| format!("{e:#}"))
        };
        let single_row = build(Some(1)).map_err(unsupported)?;
        let any_batch = build(None).map_err(unsupported)?;
        let model =
            Self { hash, input_width, input_name, feature_names, layout, single_row, any_batch };
        // A model that loads but cannot run one row is unsupported; find out now, not on
        // the first request.
        model.predict(&[vec![0.0; input_width]]).map_err(|e| unsupported(e.to_string()))?;
        Ok(model)
    }

    /// SHA-256 of the `.onnx` bytes: the model version hash that audit entries and
    /// on-chain registrations refer to.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// [`OnnxModel::hash`] as lowercase hex.
    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }

    /// Number of features each input row must have.
    pub fn input_width(&self) -> usize {
        self.input_width
    }

    /// Name of the graph input.
    pub fn input_name(&self) -> &str {
        &self.input_name
    }

    /// Feature names from the model's `feature_names` metadata property
    /// (comma-separated), when present and of the input width.
    pub fn feature_names(&self) -> Option<&[String]> {
        self.feature_names.as_deref()
    }

    /// Runs the model on `rows` (each `input_width()` wide, finite values) and returns
    /// one [`Prediction`] per row, in order.
    pub fn predict(&self, rows: &[Vec<f32>]) -> Result<Vec<Prediction>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let width = self.input_width;
        let mut flat = Vec::with_capacity(rows.len() * width);
        for (r, row) in rows.iter().enumerate() {
            if row.len() != width {
                return Err(Error::RowWidth { row: r, expected: width, found: row.len() });
            }
            if let Some(c) = row.iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFinite { row: r, column: c, value: row[c] });
            }
            flat.extend_from_slice(row);
        }
        let n = rows.len();
        let input = Tensor::from_shape(&[n, width], &flat)
            .map_err(|e| Error::Inference(format!("{e:#}")))?;
        let plan = if n == 1 { &self.single_row } else { &self.any_batch };
        let outputs = catch(AssertUnwindSafe(|| plan.run(tvec!(input.into_tvalue()))))
            .map_err(Error::Inference)?
            .map_err(|e| Error::Inference(format!("{e:#}")))?;
        self.decode(n, &outputs)
    }

    fn decode(&self, n: usize, outputs: &[TValue]) -> Result<Vec<Prediction>> {
        let bad = |m: String| Error::Inference(m);
        let probabilities: Option<(Vec<f32>, usize)> = match self.layout.probabilities {
            Some(slot) => {
                let t = outputs.get(slot).ok_or_else(|| bad(format!("missing output {slot}")))?;
                let view = t.to_plain_array_view::<f32>().map_err(|e| bad(format!("{e:#}")))?;
                let len = view.len();
                if n == 0 || len % n != 0 {
                    return Err(bad(format!("probability output has {len} values for {n} rows")));
                }
                Some((view.iter().copied().collect(), len / n))
            }
            None => None,
        };
        let labels: Vec<i64> = match self.layout.label {
            Some(slot) => {
                let t = outputs.get(slot).ok_or_else(|| bad(format!("missing output {slot}")))?;
                let view = t.to_plain_array_view::<i64>().map_err(|e| bad(format!("{e:#}")))?;
                if view.len() != n {
                    return Err(bad(format!(
                        "label output has {} values for {n} rows",
                        view.len()
                    )));
                }
                view.iter().copied().collect()
            }
            None => {
                let (p, c) = probabilities
                    .as_ref()
                    .ok_or_else(|| bad("model has neither label nor probability output".into()))?;
                p.chunks(*c).map(argmax).collect()
            }
        };
        Ok(labels
            .into_iter()
            .enumerate()
            .map(|(i, label)| Prediction {
                label,
                probabilities: probabilities
                    .as_ref()
                    .map(|(p, c)| p[i * c..(i + 1) * c].to_vec())
                    .unwrap_or_default(),
            })
            .collect())
    }
}

fn argmax(row: &[f32]) -> i64 {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best as i64
}

fn catch<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        format!("the ONNX runtime panicked: {msg}")
    })
}

fn tensor_type(v: &pb::ValueInfoProto) -> Option<&type_proto::Tensor> {
    match v.r#type.as_ref()?.value.as_ref()? {
        type_proto::Value::TensorType(t) => Some(t),
    }
}

/// The graph's single real input (initializers listed as inputs by old IR versions are
/// skipped) and its width.
fn describe_input(graph: &pb::GraphProto) -> std::result::Result<(String, usize), String> {
    let inits: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<&pb::ValueInfoProto> =
        graph.input.iter().filter(|i| !inits.contains(i.name.as_str())).collect();
    let [input] = inputs.as_slice() else {
        return Err(format!(
            "the graph has {} inputs; expected exactly one float32 input of shape [N, features]",
            inputs.len()
        ));
    };
    let t = tensor_type(input).ok_or_else(|| {
        format!("input `{}` is not a tensor; expected float32 [N, features]", input.name)
    })?;
    if t.elem_type != DataType::Float as i32 {
        return Err(format!(
            "input `{}` has element type {:?}; expected float32",
            input.name,
            DataType::try_from(t.elem_type).map(|d| d.as_str_name()).unwrap_or("unknown")
        ));
    }
    let dims = t.shape.as_ref().map(|s| s.dim.as_slice()).unwrap_or_default();
    let width = match dims {
        [_, w] => match w.value {
            Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)) if v > 0 => v as usize,
            _ => None.ok_or_else(|| {
                format!("input `{}` has no fixed feature count (second dimension)", input.name)
            })?,
        },
        _ => {
            return Err(format!(
                "input `{}` has rank {}; expected rank 2 [N, features]",
                input.name,
                dims.len()
            ))
        }
    };
    Ok((input.name.clone(), width))
}

fn describe_outputs(graph: &pb::GraphProto) -> std::result::Result<OutputLayout, String> {
    let mut layout = OutputLayout { label: None, probabilities: None };
    for (slot, out) in graph.output.iter().enumerate() {
        match tensor_type(out).map(|t| t.elem_type) {
            Some(t) if t == DataType::Int64 as i32 && layout.label.is_none() => {
                layout.label = Some(slot)
            }
            Some(t) if t == DataType::Float as i32 && layout.probabilities.is_none() => {
                layout.probabilities = Some(slot)
            }
            _ => {}
        }
    }
    if layout.label.is_none() && layout.probabilities.is_none() {
        return Err(format!(
            "no int64 label or float32 probability output among {} outputs (a ZipMap output? \
             export with skl2onnx option zipmap=False)",
            graph.output.len()
        ));
    }
    Ok(layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn onnx_model_is_shareable_across_threads() {
        assert_send_sync::<OnnxModel>();
    }

    #[test]
    fn argmax_takes_first_maximum() {
        assert_eq!(argmax(&[0.1, 0.7, 0.7]), 1);
        assert_eq!(argmax(&[0.9, 0.1]), 0);
    }

    #[test]
    fn corrupt_and_empty_bytes_are_rejected() {
        let e = OnnxModel::from_bytes(&[]).unwrap_err();
        assert!(matches!(e, Error::CorruptModel { .. }), "{e}");
        let e = OnnxModel::from_bytes(b"definitely not protobuf \xff\xff\xff").unwrap_err();
        assert!(matches!(e, Error::CorruptModel { .. } | Error::UnsupportedModel { .. }), "{e}");
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let e = OnnxModel::load(Path::new("/nonexistent/model.onnx")).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
        assert!(e.to_string().contains("/nonexistent/model.onnx"));
    }
}
