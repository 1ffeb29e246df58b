//! Integration tests of `alara-ml`: shipped models against onnxruntime reference
//! outputs, error paths of model loading and inference, and input parsing.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail by panicking")]

use std::path::{Path, PathBuf};

use alara_ml::{datasets, input, Error, OnnxModel};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model_path(name: &str) -> PathBuf {
    repo_root().join("models").join(format!("{name}.onnx"))
}

struct Expected {
    sha256: String,
    labels: Vec<i64>,
    probabilities: Vec<Vec<f32>>,
}

fn expected(name: &str) -> Expected {
    let path = repo_root().join("models").join(format!("{name}.expected.json"));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    Expected {
        sha256: v["sha256"].as_str().unwrap().to_string(),
        labels: v["labels"].as_array().unwrap().iter().map(|l| l.as_i64().unwrap()).collect(),
        probabilities: v["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(|p| p.as_f64().unwrap() as f32).collect())
            .collect(),
    }
}

const MODELS: [&str; 3] = ["breast_cancer_logreg", "breast_cancer_mlp", "breast_cancer_rf"];

#[test]
fn tract_matches_onnxruntime_on_the_whole_dataset() {
    let data = datasets::breast_cancer().unwrap();
    for name in MODELS {
        let model = OnnxModel::load(&model_path(name)).unwrap();
        let exp = expected(name);
        assert_eq!(model.hash_hex(), exp.sha256, "{name}: hash is sha256 of the file");
        assert_eq!(model.input_width(), 30);
        assert_eq!(model.feature_names().unwrap(), data.feature_names.as_slice());
        let preds = model.predict(&data.features).unwrap();
        assert_eq!(preds.len(), exp.labels.len());
        let mut max_diff = 0f32;
        for (i, p) in preds.iter().enumerate() {
            assert_eq!(p.label, exp.labels[i], "{name}: label of row {i}");
            assert_eq!(p.probabilities.len(), 2);
            for (a, b) in p.probabilities.iter().zip(&exp.probabilities[i]) {
                max_diff = max_diff.max((a - b).abs());
            }
        }
        assert!(max_diff <= 1e-5, "{name}: max |tract - ort| = {max_diff}");
    }
}

#[test]
fn single_row_plan_agrees_with_batch_plan() {
    let data = datasets::breast_cancer().unwrap();
    for name in MODELS {
        let model = OnnxModel::load(&model_path(name)).unwrap();
        let batch = model.predict(&data.features[..40]).unwrap();
        for (i, row) in data.features[..40].iter().enumerate() {
            let one = model.predict(std::slice::from_ref(row)).unwrap();
            assert_eq!(one[0].label, batch[i].label);
            for (a, b) in one[0].probabilities.iter().zip(&batch[i].probabilities) {
                assert!((a - b).abs() <= 1e-6, "{name} row {i}: {a} vs {b}");
            }
        }
    }
}

#[test]
fn from_bytes_and_load_give_the_same_model() {
    let path = model_path("breast_cancer_logreg");
    let bytes = std::fs::read(&path).unwrap();
    let a = OnnxModel::load(&path).unwrap();
    let b = OnnxModel::from_bytes(&bytes).unwrap();
    assert_eq!(a.hash(), b.hash());
    let row = datasets::breast_cancer().unwrap().features[3].clone();
    assert_eq!(a.predict(std::slice::from_ref(&row)).unwrap(), b.predict(&[row]).unwrap());
}

#[test]
fn wrong_row_width_names_expected_and_found() {
    let model = OnnxModel::load(&model_path("breast_cancer_logreg")).unwrap();
    let e = model.predict(&[vec![0.0; 30], vec![0.0; 29]]).unwrap_err();
    assert!(matches!(e, Error::RowWidth { row: 1, expected: 30, found: 29 }), "{e}");
    assert_eq!(e.to_string(), "row 1 has 29 features, the model expects 30");
    let e = model.predict(&[vec![f32::NAN; 30]]).unwrap_err();
    assert!(matches!(e, Error::NonFinite { row: 0, column: 0, .. }), "{e}");
    assert!(model.predict(&[]).unwrap().is_empty());
}

#[test]
fn truncated_model_is_rejected_not_panicking() {
    let bytes = std::fs::read(model_path("breast_cancer_mlp")).unwrap();
    for cut in [1, 10, bytes.len() / 2, bytes.len() - 1] {
        let e = OnnxModel::from_bytes(&bytes[..cut]).unwrap_err();
        assert!(
            matches!(e, Error::CorruptModel { .. } | Error::UnsupportedModel { .. }),
            "cut at {cut}: {e}"
        );
    }
}

#[test]
fn missing_model_file_is_reported_with_its_path() {
    let e = OnnxModel::load(Path::new("models/does_not_exist.onnx")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }));
    assert!(e.to_string().contains("does_not_exist.onnx"), "{e}");
}

#[test]
fn dataset_csv_feeds_back_as_input_by_feature_name() {
    let model = OnnxModel::load(&model_path("breast_cancer_logreg")).unwrap();
    let data = datasets::breast_cancer().unwrap();
    let csv = data.subset(&[0, 1, 2]).unwrap().to_csv();
    let rows = input::parse_rows(&csv, model.feature_names()).unwrap();
    assert_eq!(rows, data.features[..3].to_vec());
    let mut obj = serde_json::Map::new();
    for (n, v) in data.feature_names.iter().zip(&data.features[0]) {
        obj.insert(n.clone(), serde_json::json!(v));
    }
    let json = serde_json::Value::Array(vec![serde_json::Value::Object(obj)]).to_string();
    let rows = input::parse_rows(&json, model.feature_names()).unwrap();
    assert_eq!(rows[0], data.features[0]);
    assert_eq!(model.predict(&rows).unwrap()[0].label, 0);
}
