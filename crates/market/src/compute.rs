//! The compute-to-data runner: the owner's node runs an allow-listed [`Algorithm`] on its
//! own data and lets out only what the [`GuardPolicy`] accepts.
//!
//! [`run`] is a pure function of the recipe, the (optional) ONNX model bytes and the rows
//! already in memory: it is handed no path, no socket and no clock, so the recipe has
//! nothing to do I/O with. Its result is one JSON document (schema
//! `alara.c2d.result/v1`): aggregates, metrics and, for training, the model as ONNX
//! (base64). The document's SHA-256 is what the owner signs in the job receipt.

use alara_ml::Dataset;
use base64::Engine as _;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::algorithm::{Aggregate, Algorithm, LogisticRegression, OnnxScore};
use crate::guard::{json_numbers, GuardPolicy};
use crate::{logreg, Error, Result};

/// Schema of result documents.
pub const RESULT_SCHEMA: &str = "alara.c2d.result/v1";

/// What a job produced, after the guard let it out.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutput {
    /// The result document (JSON bytes) handed to the buyer, encrypted.
    pub result: Vec<u8>,
    /// SHA-256 of `result`.
    pub result_hash: [u8; 32],
    /// SHA-256 of the trained model's ONNX bytes, when the recipe trains one.
    pub model_hash: Option<[u8; 32]>,
    /// Rows the recipe read.
    pub rows: u64,
    /// The result without model bytes, for display.
    pub summary: serde_json::Value,
}

/// Runs `algorithm` on `data` (with the buyer's ONNX `model` for scoring) and applies the
/// guard. Errors are job failures: the owner reports them and the buyer is refunded.
pub fn run(
    algorithm: &Algorithm,
    model: Option<&[u8]>,
    data: &Dataset,
    policy: &GuardPolicy,
) -> Result<JobOutput> {
    algorithm.validate()?;
    if data.is_empty() {
        return Err(Error::Algorithm("the dataset has no rows".into()));
    }
    let header = |extra: serde_json::Value| {
        let mut doc = json!({
            "schema": RESULT_SCHEMA,
            "recipe": algorithm.name(),
            "algorithm": hex::encode(algorithm.hash()),
            "rows": data.len(),
        });
        if let (Some(d), Some(e)) = (doc.as_object_mut(), extra.as_object()) {
            d.extend(e.clone());
        }
        doc
    };
    let (doc, model_bytes, model_numbers) = match algorithm {
        Algorithm::Aggregate(a) => (header(aggregate(a, data, policy)?), None, vec![]),
        Algorithm::LogisticRegression(p) => {
            let (extra, bytes, numbers) = logistic_regression(p, algorithm, data, policy)?;
            (header(extra), Some(bytes), numbers)
        }
        Algorithm::OnnxScore(s) => {
            let bytes = model.ok_or_else(|| {
                Error::Algorithm("onnx_score needs the model file with the job".into())
            })?;
            (header(onnx_score(s, bytes, data, policy)?), None, vec![])
        }
    };
    let mut numbers = Vec::new();
    json_numbers(&doc, &mut numbers);
    numbers.extend(model_numbers);
    let summary = doc.clone();
    let mut full = doc;
    let model_hash = model_bytes.as_ref().map(|b| -> [u8; 32] { Sha256::digest(b).into() });
    if let (Some(bytes), Some(hash), Some(obj)) = (&model_bytes, model_hash, full.as_object_mut()) {
        obj.insert(
            "model".into(),
            json!({
                "format": "onnx",
                "sha256": hex::encode(hash),
                "base64": base64::engine::general_purpose::STANDARD.encode(bytes),
            }),
        );
    }
    let result = serde_json::to_vec(&full)?;
    policy.check_output(&result, &numbers, &data.features)?;
    let mut summary = summary;
    if let (Some(hash), Some(obj)) = (model_hash, summary.as_object_mut()) {
        obj.insert("model_sha256".into(), json!(hex::encode(hash)));
    }
    Ok(JobOutput {
        result_hash: Sha256::digest(&result).into(),
        result,
        model_hash,
        rows: data.len() as u64,
        summary,
    })
}

/// The trained model's ONNX bytes inside a result document, if it has one.
pub fn model_from_result(result: &[u8]) -> Result<Option<Vec<u8>>> {
    let doc: serde_json::Value = serde_json::from_slice(result)?;
    if doc["schema"] != RESULT_SCHEMA {
        return Err(Error::Algorithm(format!("not a {RESULT_SCHEMA} document")));
    }
    let Some(b64) = doc["model"]["base64"].as_str() else { return Ok(None) };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| Error::Algorithm(format!("model in the result is not base64: {e}")))?;
    let want = doc["model"]["sha256"].as_str().unwrap_or_default();
    let got = hex::encode(Sha256::digest(&bytes));
    if want != got {
        return Err(Error::Algorithm(format!("model bytes hash to {got}, the result says {want}")));
    }
    Ok(Some(bytes))
}

fn mean_std(rows: &[&Vec<f32>], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = rows.len() as f64;
    let mut mean = vec![0f64; d];
    for r in rows {
        for (m, v) in mean.iter_mut().zip(r.iter()) {
            *m += f64::from(*v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0f64; d];
    for r in rows {
        for ((s, v), m) in var.iter_mut().zip(r.iter()).zip(&mean) {
            *s += (f64::from(*v) - m).powi(2);
        }
    }
    (mean, var.into_iter().map(|s| (s / n).sqrt()).collect())
}

fn aggregate(a: &Aggregate, data: &Dataset, policy: &GuardPolicy) -> Result<serde_json::Value> {
    let selected: Vec<usize> = match &a.filter {
        None => (0..data.len()).collect(),
        Some(f) => {
            let col = data.feature_names.iter().position(|n| n == &f.feature).ok_or_else(|| {
                Error::Algorithm(format!(
                    "filter.feature {:?} is not a column of the dataset",
                    f.feature
                ))
            })?;
            (0..data.len())
                .filter(|&i| {
                    let v = f64::from(data.features[i][col]);
                    f.min.is_none_or(|lo| v >= lo) && f.max.is_none_or(|hi| v <= hi)
                })
                .collect()
        }
    };
    let groups: Vec<(Option<u32>, Vec<usize>)> = if a.by_label {
        (0..data.n_classes as u32)
            .map(|c| {
                (
                    Some(c),
                    selected.iter().copied().filter(|&i| data.labels[i] == c).collect::<Vec<_>>(),
                )
            })
            .filter(|(_, rows)| !rows.is_empty())
            .collect()
    } else {
        vec![(None, selected.clone())]
    };
    let mut out = Vec::new();
    for (label, idx) in &groups {
        let what = match label {
            Some(c) => format!("the group of label {c}"),
            None => "the selected rows".into(),
        };
        policy.cohort(&what, idx.len())?;
        let rows: Vec<&Vec<f32>> = idx.iter().map(|&i| &data.features[i]).collect();
        let (mean, std) = mean_std(&rows, data.n_features());
        out.push(json!({ "label": label, "rows": idx.len(), "mean": mean, "std": std }));
    }
    Ok(json!({ "features": data.feature_names, "groups": out }))
}

fn logistic_regression(
    p: &LogisticRegression,
    algorithm: &Algorithm,
    data: &Dataset,
    policy: &GuardPolicy,
) -> Result<(serde_json::Value, Vec<u8>, Vec<f32>)> {
    let (train, test) = data.train_test_split(p.test_fraction, p.seed)?;
    policy.cohort("the training split", train.len())?;
    policy.cohort("the test split", test.len())?;
    let model = logreg::train(&train, p)?;
    let (train_acc, _) = model.evaluate(&train);
    let (test_acc, cm) = model.evaluate(&test);
    let bytes = model.to_onnx(&[
        ("alara.recipe", algorithm.name().to_string()),
        ("alara.algorithm", hex::encode(algorithm.hash())),
    ]);
    let metrics = json!({
        "metrics": {
            "train_rows": train.len(),
            "test_rows": test.len(),
            "train_accuracy": train_acc,
            "test_accuracy": test_acc,
            "confusion_matrix": cm,
        }
    });
    Ok((metrics, bytes, model.numbers()))
}

fn onnx_score(
    s: &OnnxScore,
    bytes: &[u8],
    data: &Dataset,
    policy: &GuardPolicy,
) -> Result<serde_json::Value> {
    let got = hex::encode(Sha256::digest(bytes));
    if got != s.model_sha256 {
        return Err(Error::Algorithm(format!(
            "the model supplied hashes to {got}, the allow-listed recipe names {}",
            s.model_sha256
        )));
    }
    logreg::refuse_external_data(bytes)?;
    let model = alara_ml::OnnxModel::from_bytes(bytes)?;
    if model.input_width() != data.n_features() {
        return Err(Error::Algorithm(format!(
            "the model takes {} features, the dataset has {}",
            model.input_width(),
            data.n_features()
        )));
    }
    policy.cohort("the scored rows", data.len())?;
    let preds = model.predict(&data.features)?;
    let k = data.n_classes.max(1);
    let mut cm = vec![vec![0u64; k]; k];
    let mut right = 0u64;
    for (p, &label) in preds.iter().zip(&data.labels) {
        if p.label == i64::from(label) {
            right += 1;
        }
        if let (Ok(pl), true) = (usize::try_from(p.label), (label as usize) < k) {
            if pl < k {
                cm[label as usize][pl] += 1;
            }
        }
    }
    Ok(json!({
        "model_sha256": s.model_sha256,
        "metrics": {
            "accuracy": right as f64 / data.len() as f64,
            "confusion_matrix": cm,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::RangeFilter;
    use crate::guard::Violation;

    fn bc() -> Dataset {
        alara_ml::datasets::breast_cancer().unwrap()
    }

    #[test]
    fn aggregate_by_label_reports_counts_and_means_only() {
        let a = Algorithm::Aggregate(Aggregate { by_label: true, filter: None });
        let out = run(&a, None, &bc(), &GuardPolicy::default()).unwrap();
        let groups = out.summary["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0]["rows"], 212);
        assert_eq!(groups[1]["rows"], 357);
        assert!(out.model_hash.is_none());
        assert_eq!(out.result_hash, <[u8; 32]>::from(Sha256::digest(&out.result)));
    }

    #[test]
    fn small_cohorts_are_refused() {
        // mean_radius > 25 selects a handful of patients.
        let a = Algorithm::Aggregate(Aggregate {
            by_label: false,
            filter: Some(RangeFilter { feature: "mean_radius".into(), min: Some(25.0), max: None }),
        });
        let e = run(&a, None, &bc(), &GuardPolicy::default()).unwrap_err();
        assert!(matches!(e, Error::Guard(Violation::CohortTooSmall { .. })), "{e}");
    }

    #[test]
    fn a_one_row_mean_is_caught_even_with_a_permissive_cohort() {
        let data = bc();
        let col: Vec<f32> = data.features.iter().map(|row| row[0]).collect();
        let r = *col.iter().find(|v| col.iter().filter(|w| w == v).count() == 1).unwrap();
        let a = Algorithm::Aggregate(Aggregate {
            by_label: false,
            filter: Some(RangeFilter {
                feature: "mean_radius".into(),
                min: Some(f64::from(r)),
                max: Some(f64::from(r)),
            }),
        });
        let policy = GuardPolicy { min_cohort: 1, ..Default::default() };
        let e = run(&a, None, &data, &policy).unwrap_err();
        assert!(matches!(e, Error::Guard(Violation::RowInOutput { .. })), "{e}");
    }

    #[test]
    fn size_limit_applies_to_the_whole_result() {
        let a =
            Algorithm::LogisticRegression(LogisticRegression { epochs: 5, ..Default::default() });
        let policy = GuardPolicy { max_output_bytes: 512, ..Default::default() };
        let e = run(&a, None, &bc(), &policy).unwrap_err();
        assert!(matches!(e, Error::Guard(Violation::TooLarge { .. })), "{e}");
    }

    #[test]
    fn training_returns_a_loadable_model_with_its_hash() {
        let a =
            Algorithm::LogisticRegression(LogisticRegression { epochs: 50, ..Default::default() });
        let out = run(&a, None, &bc(), &GuardPolicy::default()).unwrap();
        let model = model_from_result(&out.result).unwrap().unwrap();
        assert_eq!(Some(<[u8; 32]>::from(Sha256::digest(&model))), out.model_hash);
        let onnx = alara_ml::OnnxModel::from_bytes(&model).unwrap();
        assert_eq!(onnx.hash(), out.model_hash.unwrap());
        assert!(out.summary["metrics"]["test_accuracy"].as_f64().unwrap() > 0.9);
        assert!(out.summary.get("model").is_none(), "summary carries no model bytes");
        let again = run(&a, None, &bc(), &GuardPolicy::default()).unwrap();
        assert_eq!(again.result_hash, out.result_hash, "deterministic");
    }

    #[test]
    fn onnx_score_checks_the_model_hash_and_reports_aggregates() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../models/breast_cancer_logreg.onnx");
        let bytes = std::fs::read(root).unwrap();
        let good =
            Algorithm::OnnxScore(OnnxScore { model_sha256: hex::encode(Sha256::digest(&bytes)) });
        let out = run(&good, Some(&bytes), &bc(), &GuardPolicy::default()).unwrap();
        assert!(out.summary["metrics"]["accuracy"].as_f64().unwrap() > 0.9);
        let wrong = Algorithm::OnnxScore(OnnxScore { model_sha256: "00".repeat(32) });
        let e = run(&wrong, Some(&bytes), &bc(), &GuardPolicy::default()).unwrap_err();
        assert!(e.to_string().contains("allow-listed recipe names"), "{e}");
        assert!(run(&good, None, &bc(), &GuardPolicy::default()).is_err());
    }
}
