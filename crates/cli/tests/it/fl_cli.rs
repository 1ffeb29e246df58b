//! `alara demo fl` end to end on the embedded chain, and the networked mode as separate
//! processes: one `alara fl coordinator` and three `alara fl client`s on localhost.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{alara, run, AlaraNode};

#[test]
fn demo_fl_settles_every_round_in_one_transaction_and_pays_the_hospitals() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(alara()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["demo", "fl", "--hospitals", "4", "--rounds", "3", "--epochs", "5", "--json"])
        .env_remove("ALARA_LOG_KEY_PASSWORD"));
    let report: Value = serde_json::from_str(&out).expect("demo prints JSON");
    let rounds = report["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 3);
    for r in rounds {
        assert_eq!(r["participants"], 4, "{r}");
        assert_eq!(r["rejected"], 0, "{r}");
        let gas = r["settle_gas"].as_u64().unwrap();
        assert!(gas > 21_000 && gas <= 150_000, "settlement gas {gas}");
    }
    // Each round's root differs (cumulative rewards grow).
    assert_ne!(rounds[0]["rewards_root"], rounds[2]["rewards_root"]);
    let fed = report["federated_accuracy"].as_f64().unwrap();
    let central = report["centralized_accuracy"].as_f64().unwrap();
    assert!(fed > 0.85 && central > 0.85, "federated {fed}, centralized {central}");
    // Every hospital claimed; together they received the whole pool (no free riders here).
    let claims = report["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 4);
    assert!(claims.iter().all(|c| c["claim_gas"].as_u64().unwrap() > 0), "{claims:?}");
    assert_eq!(report["paid"], report["pool"]);
    // One training_round entry per round and one payout per claim.
    assert_eq!(report["audit_entries"], 3 + 4);

    // A second run reuses the deployed contract (address book) and creates a new task.
    let again: Value = serde_json::from_str(&run(alara()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["demo", "fl", "--hospitals", "3", "--rounds", "1", "--epochs", "2", "--json"])))
    .unwrap();
    assert_eq!(again["contract"], report["contract"]);
    assert_ne!(again["task"], report["task"]);
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn coordinator_and_three_client_processes_train_over_http() {
    network_task(None);
}

/// The same over a node: `coordinator --settle` admits only the three registered,
/// signing clients, settles both rounds on-chain, and each `client --claim` is paid.
#[test]
fn settling_coordinator_pays_three_client_processes_on_chain() {
    let dir = tempfile::tempdir().unwrap();
    let node = AlaraNode::start(&dir.path().join("node"), &["up", "--ephemeral"]);
    network_task(Some(&node.url));
}

fn dev_address(i: usize) -> String {
    alara_chain::dev::dev_signer(i).address().to_string()
}

fn network_task(rpc_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let parts = dir.path().join("parts");
    let files: Value = serde_json::from_str(&run(alara()
        .args(["fl", "partition", "--clients", "3", "--json", "--out"])
        .arg(&parts)))
    .unwrap();
    assert_eq!(files.as_array().unwrap().len(), 3, "{files}");

    let mut coord = alara();
    coord.arg("--data-dir").arg(dir.path().join("coordinator"));
    coord.args([
        "fl",
        "coordinator",
        "--listen",
        "127.0.0.1:0",
        "--rounds",
        "2",
        "--epochs",
        "3",
        "--quorum",
        "3",
        "--expected-clients",
        "3",
        "--deadline-secs",
        "60",
        "--json",
    ]);
    if let Some(url) = rpc_url {
        coord
            .args(["--rpc-url", url, "--account", "1"])
            .env("ALARA_LOG_KEY_PASSWORD", "coordinator pass");
        coord.arg("--settle");
        for i in 0..3 {
            coord.args(["--client", &format!("hospital-{i}={}", dev_address(i + 2))]);
        }
    }
    let mut coord =
        coord.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn coordinator");
    let stderr = coord.stderr.take().unwrap();
    let stdout = coord.stdout.take().unwrap();
    let mut coord = Killed(coord);
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines.next().expect("coordinator exited before listening").unwrap();
        if let Some(rest) = line.split(" on http://").nth(1) {
            break format!("http://{}", rest.split_whitespace().next().unwrap());
        }
    };
    std::thread::spawn(move || for _ in lines.by_ref() {});

    let clients: Vec<Killed> = (0..3)
        .map(|i| {
            let mut c = alara();
            c.arg("--data-dir").arg(dir.path().join(format!("client-{i}")));
            c.args(["fl", "client", "--coordinator", &url, "--id", &format!("hospital-{i}")])
                .arg("--data")
                .arg(parts.join(format!("client-{i}.csv")))
                .args(["--poll-ms", "50", "--json"]);
            if let Some(rpc) = rpc_url {
                c.args(["--rpc-url", rpc, "--account", &(i + 2).to_string(), "--claim"]);
            }
            Killed(c.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("spawn client"))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(s) = coord.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the coordinator did not finish 2 rounds in 300 s");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "coordinator failed: {status}");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut BufReader::new(stdout), &mut text).unwrap();
    let out: Value = serde_json::from_str(&text).expect("coordinator prints JSON");
    let records = out["records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    for r in records {
        assert_eq!(r["clients"].as_array().unwrap().len(), 3, "{r}");
    }
    assert_eq!(records[1]["base_model_hash"], records[0]["global_model_hash"]);
    let mut paid = 0u128;
    for mut c in clients {
        let status = c.0.wait().unwrap();
        assert!(status.success(), "client failed: {status}");
        let mut text = String::new();
        std::io::Read::read_to_string(c.0.stdout.as_mut().unwrap(), &mut text).unwrap();
        let report: Value = serde_json::from_str(&text).expect("client prints JSON");
        assert_eq!(report["submitted"].as_array().unwrap().len(), 2, "{report}");
        if rpc_url.is_some() {
            let amount = &report["paid"]["amount"];
            let amount =
                u128::from_str_radix(amount.as_str().unwrap().trim_start_matches("0x"), 16)
                    .unwrap_or_else(|_| panic!("amount {amount}"));
            assert!(amount > 0, "{report}");
            paid += amount;
        } else {
            assert!(report["paid"].is_null(), "{report}");
        }
    }
    if rpc_url.is_some() {
        let chain = &out["chain"];
        assert_eq!(chain["settle_txs"].as_array().unwrap().len(), 2, "{chain}");
        assert_eq!(chain["audit_entries"], 2, "{chain}");
        let pool = records
            .iter()
            .map(|r| r["reward_pool"].to_string().parse::<u128>().unwrap())
            .sum::<u128>();
        assert_eq!(paid, pool, "the clients were paid every round's pool");
        assert_eq!(out["rejection_stats"]["total"], 0, "{out}");
    }
}
