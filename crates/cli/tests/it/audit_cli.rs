//! `alara demo audit`, `alara audit verify --onchain`, `receipt --upgrade`, `erase`, `list`
//! and `export` against `alara up` (the embedded chain in its own process).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{alara, run, AlaraNode};

const PASSPHRASE: &str = "audit cli test passphrase";

fn cli(data_dir: &Path) -> Command {
    let mut c = alara();
    c.env("ALARA_LOG_KEY_PASSWORD", PASSPHRASE).arg("--data-dir").arg(data_dir).arg("--json");
    c
}

/// `alara --data-dir D --json <args> --rpc-url URL`: the chain flags belong to the
/// commands that use a chain, after the subcommand.
fn on_chain(data_dir: &Path, url: &str, args: &[&str]) -> Command {
    let mut c = cli(data_dir);
    c.args(args).args(["--rpc-url", url]);
    c
}

fn json(cmd: &mut Command) -> Value {
    let out = run(cmd);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn demo_audit_receipt_verifies_onchain_survives_erasure_and_upgrades() {
    let dir = tempfile::tempdir().unwrap();
    let node = AlaraNode::start(&dir.path().join("node"), &["up"]);
    let url = node.url.as_str();
    let data = dir.path().join("client");

    // The demo: inference on the shipped model, anchor, receipt, on-chain verification,
    // in a log of its own with a public passphrase (no secret needed).
    let mut demo = on_chain(&data, url, &["demo", "audit", "--rows", "3"]);
    demo.env_remove("ALARA_LOG_KEY_PASSWORD");
    let demo = json(&mut demo);
    let rows = demo["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    for r in rows {
        assert_eq!(
            r["label"], r["dataset_label"],
            "the shipped model classifies the first rows right"
        );
    }
    assert_eq!(demo["onchain"]["contract_inclusion"], Value::Bool(true), "{demo}");
    assert!(demo["anchor_gas"].as_u64().unwrap() > 21_000);
    let receipt = demo["receipt"].as_str().expect("receipt path").to_string();
    let demo_key = demo["log_key"].as_str().expect("the demo log's key").to_string();
    assert!(receipt.contains("audit-demo"), "the demo keeps its own log: {receipt}");

    // An independent check of the written receipt, offline and on-chain, pinned to the
    // demo log's key (this data directory's own log does not exist yet).
    let v = json(&mut on_chain(
        &data,
        url,
        &["audit", "verify", &receipt, "--onchain", "--key", &demo_key],
    ));
    assert_eq!(v["valid"], Value::Bool(true));
    assert_eq!(v["onchain"]["event_found"], Value::Bool(true));
    assert_eq!(v["onchain"]["contract_inclusion"], Value::Bool(true));
    // A tampered receipt is refused with a clear error, as JSON on stdout under --json.
    let text = std::fs::read_to_string(&receipt).unwrap();
    let mut tampered: Value = serde_json::from_str(&text).unwrap();
    tampered["leaf_index"] = Value::from(tampered["leaf_index"].as_u64().unwrap() + 1);
    let bad = dir.path().join("tampered.json");
    std::fs::write(&bad, tampered.to_string()).unwrap();
    let out = cli(&data).args(["audit", "verify"]).arg(&bad).output().unwrap();
    assert!(!out.status.success(), "a tampered receipt must not verify");
    let err: Value = serde_json::from_slice(&out.stdout).expect("a JSON error on stdout");
    assert!(err["error"]["message"].as_str().unwrap().contains("does NOT verify"), "{err}");
    let out = alara()
        .arg("--data-dir")
        .arg(&data)
        .args(["audit", "verify"])
        .arg(&bad)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: receipt does NOT verify"), "{stderr}");
    assert!(!stderr.contains("Location") && !stderr.contains("backtrace"), "{stderr}");

    // Reading a log that does not exist says so, needs no secret and creates nothing.
    let out = alara().arg("--data-dir").arg(&data).args(["audit", "status"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no audit log in"));
    assert!(!data.join("audit").exists());

    // The data directory's own log: created by `infer`, which says so. Without a
    // passphrase and a terminal it refuses, naming the variable.
    let root = crate::support::repo_root();
    let infer = |c: &mut Command| -> std::process::Output {
        c.arg("infer")
            .arg("--model")
            .arg(root.join("models/breast_cancer_logreg.onnx"))
            .arg("--input")
            .arg(root.join("datasets/rows.json"))
            .args(["--subject", "demo-patient", "--receipts-dir"])
            .arg(dir.path().join("receipts"))
            .output()
            .unwrap()
    };
    let out = infer(
        alara()
            .arg("--data-dir")
            .arg(&data)
            .env_remove("ALARA_LOG_KEY_PASSWORD")
            .stdin(std::process::Stdio::null()),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("set ALARA_LOG_KEY_PASSWORD"));
    let out = infer(&mut cli(&data));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("creating a new audit log"));
    let receipt = dir.path().join("receipts/0.json").display().to_string();

    // Read-only commands work without the passphrase.
    let mut status = alara();
    status.arg("--data-dir").arg(&data).args(["--json", "audit", "status"]);
    assert_eq!(json(&mut status)["size"], Value::from(3));

    // Anchor, upgrade, verify on-chain against this log's key.
    let a = json(&mut on_chain(&data, url, &["audit", "anchor", "--force"]));
    assert!(a["anchored"].is_object(), "{a}");
    let u = json(cli(&data).args(["audit", "receipt", "--upgrade", &receipt]));
    assert_eq!(u["anchored"], Value::Bool(true));
    let v = json(&mut on_chain(&data, url, &["audit", "verify", &receipt, "--onchain"]));
    assert_eq!(v["onchain"]["latest"], Value::Bool(true));

    // Query and export the subject's entries.
    let listed = json(cli(&data).args(["audit", "list", "--subject", "demo-patient"]));
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
    let export = dir.path().join("export.jsonl");
    let e = json(cli(&data).args(["audit", "export", "--kind", "inference", "--out"]).arg(&export));
    assert_eq!(e["exported"], Value::from(3));
    assert_eq!(std::fs::read_to_string(&export).unwrap().lines().count(), 3);

    // Erasure: the subject's openings go, an erasure entry is logged, the receipt verifies.
    let erased = json(cli(&data).args(["audit", "erase", "--subject", "demo-patient"]));
    assert!(!erased["commitments_erased"].as_array().unwrap().is_empty(), "{erased}");
    let listed = json(cli(&data).args(["audit", "list", "--subject", "demo-patient"]));
    assert!(listed.as_array().unwrap().is_empty(), "erased subject no longer links: {listed}");
    let v = json(cli(&data).args(["audit", "verify", &receipt]));
    assert_eq!(v["valid"], Value::Bool(true));

    // Anchor the erasure entry; the earlier receipt is superseded, then upgraded.
    let a = json(&mut on_chain(&data, url, &["audit", "anchor", "--force"]));
    assert!(a["anchored"].is_object(), "{a}");
    let v = json(&mut on_chain(&data, url, &["audit", "verify", &receipt, "--onchain"]));
    assert_eq!(v["onchain"]["latest"], Value::Bool(false));
    let u = json(cli(&data).args(["audit", "receipt", "--upgrade", &receipt]));
    assert_eq!(u["anchored"], Value::Bool(true));
    let v = json(&mut on_chain(&data, url, &["audit", "verify", &receipt, "--onchain"]));
    assert_eq!(v["onchain"]["contract_inclusion"], Value::Bool(true));
    let status = json(cli(&data).args(["audit", "status"]));
    assert_eq!(status["size"], Value::from(4));
}

/// `alara bench audit --json` prints one JSON object with every figure and its peers
/// (values are not asserted: timing belongs to the benchmark, not to the suite).
#[test]
fn bench_audit_json_is_one_object_with_the_bounds_beside_the_figures() {
    let dir = tempfile::tempdir().unwrap();
    let model = crate::support::repo_root().join("models/breast_cancer_logreg.onnx");
    let out = json(
        alara()
            .arg("--data-dir")
            .arg(dir.path())
            .args(["bench", "audit", "--no-chain", "--seconds", "0.3", "--writers", "4"])
            .args(["--batch", "16", "--requests", "4", "--json", "--model"])
            .arg(&model),
    );
    for key in [
        "appends_per_s_batched",
        "sha256_bound_per_s",
        "disk_bound_per_s",
        "receipt_latency_ms_p50_p99",
        "fdatasync_ms_p50_p99",
        "inference_us_plain_audited_durable",
        "recorder_us_per_entry",
        "chain_tx_per_inference",
    ] {
        assert!(out.get(key).is_some(), "missing {key} in {out}");
    }
    assert!(out["appends_per_s_batched"].as_f64().unwrap() > 0.0);
}

/// `audit verify` on an endless input stops at the receipt size limit instead of reading it
/// whole (it once grew to 6 GB on `/dev/zero`).
#[test]
fn verify_refuses_an_endless_receipt_file_at_the_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let out = alara()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["audit", "verify", "/dev/zero"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reading the receipt /dev/zero"), "{err}");
    assert!(err.contains("4194304"), "the error names the limit: {err}");
}

/// Every file a command reads is size-checked while streaming: a model, input rows or a
/// receipts file on `/dev/zero` is refused at its limit, never read whole.
#[test]
fn inputs_are_refused_at_their_size_limit_while_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = alara().arg("--data-dir").arg(dir.path()).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let err = run(&["infer", "--model", "/dev/zero", "--input", "[[1]]"]);
    assert!(err.contains("larger than the limit of 1073741824 bytes"), "{err}");
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/breast_cancer_logreg.onnx");
    let err = run(&["infer", "--model", model, "--input", "/dev/zero"]);
    assert!(err.contains("larger than the limit of 268435456 bytes"), "{err}");
    let err = run(&["lineage", "bafyanything", "--no-own-trail", "--receipts", "/dev/zero"]);
    assert!(err.contains("reading receipts from /dev/zero"), "{err}");
}
