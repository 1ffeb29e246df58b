//! `alara demo data` end to end on the embedded chain: both sales settle, the download
//! verifies against its commitment, the job receipt verifies, and lineage links the
//! compute-only dataset to the job and its model.

use serde_json::Value;

use crate::support::{alara, run};

#[test]
fn demo_data_sells_by_download_and_by_compute_to_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(alara()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["demo", "data", "--epochs", "100", "--json"])
        .env_remove("ALARA_LOG_KEY_PASSWORD"));
    let r: Value = serde_json::from_str(&out).expect("demo prints JSON");

    let d = &r["download"];
    assert_eq!(d["verified"], true, "{d}");
    assert_eq!(
        d["bytes"].as_u64(),
        Some(include_str!("../../../../datasets/breast_cancer.csv").len() as u64)
    );
    let steps: Vec<&str> =
        d["txs"].as_array().unwrap().iter().map(|t| t["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["list", "buy", "deliver", "confirm", "withdraw"]);
    assert!(d["txs"].as_array().unwrap().iter().all(|t| t["gas"].as_u64().unwrap() > 21_000));
    assert_eq!(d["seller_paid"], "0x16345785d8a0000", "0.1 ETH paid to the seller: {d}");

    let c = &r["compute"];
    assert_eq!(c["outcome"], "completed", "{c}");
    assert_eq!(c["receipt_verified"], true, "{c}");
    assert_eq!(c["receipt"]["receipt"]["rows"], 569, "{c}");
    assert!(c["metrics"]["test_accuracy"].as_f64().unwrap() > 0.9, "{c}");
    assert_eq!(c["owner_paid"], "0x470de4df820000", "0.02 ETH paid to the owner: {c}");
    let model = c["model_hash"].as_str().expect("a model hash");

    // Lineage: the compute-only dataset → its job → the model.
    let job = &r["lineage"]["datasets"][0]["jobs"][0];
    assert_eq!(job["model"]["model_hash"].as_str(), model.strip_prefix("0x"), "{job}");
    // Amounts carry their unit: audit entries hold wei, printed as ETH with the wei count.
    let listed = r["lineage"]["datasets"][0]["listings"][0]["summary"].as_str().unwrap();
    assert!(listed.contains(" ETH (") && listed.ends_with(" wei)"), "{listed}");

    // The lineage command reads the same trails and finds the dataset from the model.
    let back: Value = serde_json::from_str(&run(alara().arg("--data-dir").arg(dir.path()).args([
        "lineage",
        model,
        "--no-own-trail",
        "--json",
    ])))
    .unwrap();
    assert_eq!(back["lineage"]["datasets"][0]["cid"], c["cid"], "{back}");
}
