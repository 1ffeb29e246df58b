//! The dashboard in a real browser: an audit log of 100,000 entries, `alara up --demo`
//! (audited inference with an anchor, a data sale, federated rounds) serving the API and the
//! dashboard, then `scripts/dashboard_test.py` driving the system's headless Chromium
//! through every page — the audit log paged and searched, a real receipt verified in the
//! browser and tampered ones refused, the anchors, the FL charts, the market, the explorer.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use alara_audit::entry::{DataAccess, Entry, EntryBody, Inference, ModelRef, Payout};
use alara_audit::{AuditTrail, Hash, TrailConfig};
use serde_json::Value;

use crate::support::{alara, repo_root};

const PASSPHRASE: &str = "dashboard test passphrase";
/// Entries written before the demos (`ALARA_DASHBOARD_ENTRIES` overrides, for a quick run).
const ENTRIES: u64 = 100_000;

/// `alara up` killed on drop.
struct Up(Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn h(i: u64, salt: u8) -> Hash {
    let mut b = [salt; 32];
    b[..8].copy_from_slice(&i.to_be_bytes());
    alara_audit::hash::sha256(&b)
}

/// The seeded entries: inferences of two models, data accesses and payouts, one second
/// apart, ending a day before now.
fn seed_entry(i: u64, t0: u64) -> Entry {
    let time_ms = t0 + i * 1000;
    let body = match i % 10 {
        0..=6 => EntryBody::Inference(Inference {
            system: "triage-seed".into(),
            model: ModelRef {
                id: if i.is_multiple_of(2) { "seed-model-a.onnx" } else { "seed-model-b.onnx" }
                    .into(),
                version_hash: h(i % 2, 1),
            },
            started_ms: time_ms - 5,
            ended_ms: time_ms,
            input: h(i, 2),
            output: h(i, 3),
            verified_by: i.is_multiple_of(3).then(|| h(i, 4)),
            purpose: "screening".into(),
        }),
        7 | 8 => EntryBody::DataAccess(DataAccess {
            dataset: format!("bafyseed{}", i % 7),
            accessor: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".into(),
            mode: if i.is_multiple_of(2) { "download" } else { "compute-to-data" }.into(),
            purpose: "research".into(),
            subject: None,
        }),
        _ => EntryBody::Payout(Payout {
            context: format!("seed/{i}"),
            recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC".into(),
            token: "ALARA".into(),
            amount: u128::from(i) * 1_000_000_000_000_000,
            tx: None,
        }),
    };
    Entry { time_ms, body }
}

fn seed(dir: &Path, n: u64) {
    let trail = AuditTrail::open(TrailConfig::new(dir, PASSPHRASE)).expect("open the audit trail");
    let now = alara_audit::entry::now_ms();
    let t0 = now - 86_400_000 - n * 1000;
    let mut i = 0;
    while i < n {
        let batch: Vec<Entry> = (i..(i + 5000).min(n)).map(|j| seed_entry(j, t0)).collect();
        trail.append_batch(&batch).expect("append");
        i += batch.len() as u64;
    }
    assert_eq!(trail.log().size(), n);
}

/// Starts `alara up --demo` on `data_dir` and waits for its JSON summary.
fn up_with_demos(data_dir: &Path) -> (Up, Value) {
    let mut child = alara()
        .env(alara_audit::keyfile::PASSPHRASE_ENV, PASSPHRASE)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["up", "--demo", "--json", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn alara up");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let up = Up(child);
    // With --json the demos print their own summaries first; the node's is the one that
    // names the dashboard.
    let mut seen = String::new();
    let summary = loop {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).expect("read the summary");
            assert!(
                n > 0,
                "alara up exited before printing its summary; output so far: {seen}{text}"
            );
            text.push_str(&line);
            if line.starts_with('}') {
                break;
            }
        }
        let doc: Value = serde_json::from_str(&text).expect("a JSON summary");
        if doc.get("dashboard_url").is_some() {
            break doc;
        }
        seen.push_str(&text);
    };
    std::thread::spawn(move || for _ in reader.lines() {});
    (up, summary)
}

/// The receipt the audit demo wrote (`<data dir>/audit/receipts/<leaf index>.json`).
fn demo_receipt(data_dir: &Path) -> PathBuf {
    let dir = data_dir.join("audit").join("receipts");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files.pop().unwrap_or_else(|| panic!("no receipt in {}", dir.display()))
}

#[test]
fn dashboard_pages_in_headless_chromium() {
    let python = std::env::var("ALARA_PYTHON").unwrap_or_else(|_| {
        panic!("ALARA_PYTHON is not set: run scripts/test.sh, which installs playwright into .venv and sets it")
    });
    assert!(Path::new(&python).exists(), "ALARA_PYTHON={python} does not exist");
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: scripts/test.sh installs it (apt-get install -y chromium)"
    );
    let n = std::env::var("ALARA_DASHBOARD_ENTRIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(ENTRIES);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let t = Instant::now();
    seed(&data.join("audit"), n);
    eprintln!("seeded {n} audit entries in {:.1} s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let (_up, summary) = up_with_demos(&data);
    eprintln!("alara up --demo ready in {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(summary["audit_note"], Value::Null, "the audit log is not served: {summary}");
    let url = summary["dashboard_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no dashboard_url in {summary}"));
    let receipt = demo_receipt(&data);

    let root = repo_root();
    let out = Command::new(&python)
        .current_dir(&root)
        .arg(root.join("scripts/dashboard_test.py"))
        .arg(url)
        .arg("--receipt")
        .arg(&receipt)
        .args(["--expect-fl", "--expect-market"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("dashboard_test.py printed no JSON summary ({e}); stderr:\n{stderr}")
    });
    eprintln!(
        "dashboard ready after {} ms with {} audit entries (first contentful paint {} ms)",
        report["measurements"]["audit_ready_ms"],
        report["measurements"]["entries"],
        report["measurements"]["first_contentful_paint_ms"]
    );
    let failed: Vec<&Value> = report["checks"]
        .as_array()
        .map(|c| c.iter().filter(|c| c["ok"] != Value::Bool(true)).collect())
        .unwrap_or_default();
    assert!(out.status.success() && failed.is_empty(), "dashboard checks failed: {failed:#?}");
    assert!(report["passed"].as_u64().unwrap_or(0) >= 15, "too few checks ran: {report}");
}

/// The canonical type of an ABI parameter (tuples spelled out), as in signatures.
fn canonical(p: &Value) -> String {
    let t = p["type"].as_str().expect("a parameter type");
    match t.strip_prefix("tuple") {
        Some(dims) => {
            let inner: Vec<String> = p["components"]
                .as_array()
                .expect("tuple components")
                .iter()
                .map(canonical)
                .collect();
            format!("({}){dims}", inner.join(","))
        }
        None => t.to_string(),
    }
}

/// `crates/api/assets/js/abis.js` holds every function, event and error of the deployed
/// contracts as compiled in `contracts/out`, with selectors and topics that Keccak-256 (here
/// alloy's) gives their signatures.
#[test]
fn dashboard_abis_match_the_contract_artifacts() {
    use std::collections::BTreeMap;
    let root = repo_root();
    let read = |rel: &str| {
        std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    };
    let js = read("crates/api/assets/js/abis.js");
    let start = js.find("ABIS = ").expect("export const ABIS = …") + "ABIS = ".len();
    let end = js.rfind(';').expect("the closing semicolon");
    let embedded: Value = serde_json::from_str(&js[start..end]).expect("the ABIS object is JSON");
    for name in ["AlaraToken", "AuditAnchor", "DataMarket", "FederatedTraining"] {
        let artifact: Value = serde_json::from_str(&read(&format!("contracts/out/{name}.json")))
            .expect("an artifact");
        let mut want = BTreeMap::new();
        for item in artifact["abi"].as_array().expect("abi") {
            let kind = item["type"].as_str().unwrap_or_default();
            if !["function", "event", "error"].contains(&kind) {
                continue;
            }
            let inputs: Vec<String> =
                item["inputs"].as_array().expect("inputs").iter().map(canonical).collect();
            let sig = format!("{}({})", item["name"].as_str().expect("name"), inputs.join(","));
            let hash = alloy::primitives::keccak256(sig.as_bytes());
            let id = if kind == "event" {
                hash.to_string()
            } else {
                format!("0x{}", alloy::primitives::hex::encode(&hash[..4]))
            };
            want.insert((kind.to_string(), sig), id);
        }
        let have: BTreeMap<(String, String), String> = embedded[name]
            .as_array()
            .unwrap_or_else(|| panic!("no {name} in js/abis.js"))
            .iter()
            .map(|i| {
                let id = i.get("topic").or_else(|| i.get("selector")).and_then(Value::as_str);
                (
                    (
                        i["type"].as_str().unwrap_or_default().to_string(),
                        i["signature"].as_str().unwrap_or_default().to_string(),
                    ),
                    id.unwrap_or_default().to_string(),
                )
            })
            .collect();
        assert_eq!(
            have, want,
            "{name}: crates/api/assets/js/abis.js is stale; run `node crates/api/assets/tools/gen-abis.mjs`"
        );
    }
}
