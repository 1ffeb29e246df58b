//! `alara model` and `alara serve` as processes: publish, open a channel, pay calls, `kill
//! -9` the server in the middle of the stream, restart it, carry on, and claim from the
//! log: every call the server recorded is paid, and no call the buyer was answered is
//! lost.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

use alara_market::model::client::ChannelClient;
use alloy::primitives::U256;
use serde_json::Value;

use crate::support::{alara, repo_root, AlaraNode};

const PASS: (&str, &str) = ("ALARA_LOG_KEY_PASSWORD", "serve test passphrase");
const PRICE: u64 = 1_000_000;

fn run(data_dir: &Path, url: &str, args: &[&str]) -> Value {
    let out = alara()
        .env(PASS.0, PASS.1)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--json")
        .args(args)
        .args(["--rpc-url", url])
        .output()
        .unwrap();
    assert!(out.status.success(), "alara {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("alara {args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout))
    })
}

/// An `alara serve` process, killed (SIGKILL) on drop, so a failing test leaves none behind.
struct Served(Child);

impl Served {
    fn kill9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Starts `alara serve` and returns it with the URL it printed.
fn serve(data_dir: &Path, url: &str) -> (Served, String) {
    let mut child = alara()
        .env(PASS.0, PASS.1)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--model", "1", "--addr", "127.0.0.1:0", "--no-claim-on-exit"])
        .args(["--rpc-url", url])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let at = first.split("on http://").nth(1).unwrap_or_else(|| panic!("no address in {first:?}"));
    std::thread::spawn(move || for _ in lines {});
    (Served(child), format!("http://{}", at.trim()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_of_the_server_mid_stream_loses_no_payment() {
    let dir = tempfile::tempdir().unwrap();
    let node = AlaraNode::start(&dir.path().join("node"), &["up", "--no-api"]);
    let data = dir.path().join("seller");
    let model = repo_root().join("models/breast_cancer_logreg.onnx");
    let published = run(
        &data,
        &node.url,
        &[
            "model",
            "publish",
            model.to_str().unwrap(),
            "--name",
            "triage",
            "--license",
            "mit",
            "--price",
            &PRICE.to_string(),
        ],
    );
    assert_eq!(published["model"], 1);
    // A pickle is refused before anything is stored or sent.
    let pickle = dir.path().join("model.pkl");
    std::fs::write(&pickle, hex::decode("80049502000000000000007d942e").unwrap()).unwrap();
    let out = alara()
        .arg("--data-dir")
        .arg(&data)
        .args(["model", "publish", pickle.to_str().unwrap(), "--name", "p", "--rpc-url", &node.url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pickle"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let opened = run(
        &data,
        &node.url,
        &[
            "model",
            "--account",
            "1",
            "channel",
            "open",
            "1",
            "--deposit",
            &(PRICE * 1_000_000).to_string(),
        ],
    );
    let channel = opened["channel"].as_u64().unwrap();
    let buyer = alara_chain::dev::dev_signer(1);
    let row = alara_ml::datasets::breast_cancer().unwrap().features[0].clone();

    let (mut server, url) = serve(&data, &node.url);
    let mut client = ChannelClient::connect(&url, buyer.clone(), channel).await.unwrap();
    let mut answered = 0u64;
    for _ in 0..25 {
        client.call(std::slice::from_ref(&row)).await.unwrap();
        answered += 1;
    }
    // Kill -9 while calls are in flight from another client task.
    let mut racing = ChannelClient::connect(&url, buyer.clone(), channel).await.unwrap();
    racing.resume(0, client.amount(), client.last_receipt());
    let inflight = tokio::spawn(async move {
        let mut n = 0u64;
        while racing.call(&[vec![0.5; 30]]).await.is_ok() {
            n += 1;
        }
        (n, racing)
    });
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    server.kill9();
    let (n, client) = inflight.await.unwrap();
    answered += n;

    // The same buyer carries on against the restarted server: if its last call was
    // recorded but never answered, the server says so and the buyer takes that position.
    let (mut server, url) = serve(&data, &node.url);
    let mut client = client.with_url(&url);
    for _ in 0..10 {
        client.call(std::slice::from_ref(&row)).await.unwrap();
        answered += 1;
    }
    let signed = client.amount();
    server.kill9();

    // The log holds every call the server recorded: every answered one, and at most the
    // one recorded when the server died, which the buyer paid for and never saw.
    let claimed = run(&data, &node.url, &["model", "claim", "--model", "1"]);
    let claim = &claimed[0];
    let amount: U256 = claim["amount"].as_str().unwrap().parse().unwrap();
    assert_eq!(amount, signed, "the claim pays the last voucher signed");
    let calls = claim["calls"].as_u64().unwrap();
    assert!(calls == answered || calls == answered + 1, "recorded {calls}, answered {answered}");
    assert_eq!(amount, U256::from(calls * PRICE), "every recorded call is paid exactly once");
    let usage = run(&data, &node.url, &["model", "usage", "1"]);
    assert_eq!(usage["calls"].as_u64().unwrap(), calls);
    assert_eq!(usage["receipts_verified"].as_u64().unwrap(), calls);
    // Nothing is left to claim.
    let again = run(&data, &node.url, &["model", "claim", "--model", "1"]);
    assert_eq!(again.as_array().map(Vec::len), Some(0));
    drop(node);
}
