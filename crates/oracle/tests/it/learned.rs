//! The shipped learned detector: the file is the one its training script wrote (its
//! SHA-256), tract agrees with onnxruntime on held-out rows, the detector's hash pins the
//! model, and the learned stage drops what the baselines miss without ever costing the
//! quorum.

use alara_oracle::detect::{Detector, DetectorConfig, FEATURES, FEATURE_NAMES};
use alara_oracle::learned::{LearnedStage, SHIPPED_MODEL};
use sha2::Digest;

fn expected() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/oracle_detector.expected.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_shipped_model_is_the_trained_one_and_tract_agrees_with_onnxruntime() {
    let e = expected();
    assert_eq!(hex::encode(sha2::Sha256::digest(SHIPPED_MODEL)), e["sha256"].as_str().unwrap());
    assert_eq!(LearnedStage::shipped().model, e["sha256"].as_str().unwrap());
    let names: Vec<&str> =
        e["features"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(names, FEATURE_NAMES, "the model was trained on these features, in this order");
    let rows: Vec<[f32; FEATURES]> = e["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let v: Vec<f32> =
                r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
            v.try_into().unwrap()
        })
        .collect();
    assert!(rows.len() >= 100);
    let scores = LearnedStage::shipped().scores(&rows).unwrap();
    let mut worst = 0.0f64;
    for (i, (got, want)) in scores.iter().zip(e["probabilities"].as_array().unwrap()).enumerate() {
        let want = want[1].as_f64().unwrap();
        worst = worst.max((got - want).abs());
        assert!((got - want).abs() <= 1e-5, "row {i}: tract {got}, onnxruntime {want}");
    }
    eprintln!("tract vs onnxruntime on {} rows: worst difference {worst:e}", rows.len());
    // Both classes occur among the held-out rows, so the comparison is not of constants.
    assert!(scores.iter().any(|&p| p > 0.5) && scores.iter().any(|&p| p < 0.5));
}

#[test]
fn the_detector_hash_pins_the_model_and_a_foreign_model_is_refused() {
    let learned = DetectorConfig::default();
    let rules = DetectorConfig::rules();
    assert_ne!(learned.hash(), rules.hash());
    let mut other = learned.clone();
    other.learned.as_mut().unwrap().model = "00".repeat(32);
    assert_ne!(other.hash(), learned.hash());
    // A detector state naming another model does not silently run this one.
    let d = Detector::new(other);
    let q: Vec<(String, f64)> =
        (0..5).map(|i| (format!("s{i}"), 100.0 + i as f64 * 0.01)).collect();
    let err = d.screen(&q, 3).unwrap_err().to_string();
    assert!(err.contains("this build ships"), "{err}");
}
