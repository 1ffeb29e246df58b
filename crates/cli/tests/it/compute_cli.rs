//! `alara compute` as separate processes over one node: the poster's commands, two workers
//! (one lying about its score) serving their models over HTTP, and a validator that
//! re-executes both claims, disputes the lie and plays the game to the end. One worker is
//! killed with SIGKILL after it committed and restarted: it still reveals, from its record.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{alara, foundry, run, AlaraNode};

/// An `alara compute worker|validate` process; its stdout collected; SIGKILLed on drop.
struct Party {
    child: Child,
    out: Arc<Mutex<String>>,
}

impl Party {
    fn start(data: &Path, url: &str, args: &[&str]) -> Party {
        let mut child = alara()
            .arg("--data-dir")
            .arg(data)
            .args(["compute", "--rpc-url", url])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let out: Arc<Mutex<String>> = Arc::default();
        let sink = out.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                eprintln!("{line}");
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Party { child, out }
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Waits for the line a worker prints with its HTTP endpoint.
    fn endpoint(&self) -> String {
        let out = wait_for("the worker's endpoint", || {
            let o = self.output();
            o.lines().find_map(|l| l.split("serving its models at ").nth(1).map(str::to_string))
        });
        out.trim().to_string()
    }
}

impl Drop for Party {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn compute(data: &Path, url: &str, args: &[&str]) -> Value {
    let out = run(alara()
        .arg("--data-dir")
        .arg(data)
        .args(["compute", "--rpc-url", url, "--json"])
        .args(args));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("alara compute {args:?}: {e}: {out}"))
}

fn status(data: &Path, url: &str) -> Value {
    compute(data, url, &["status", "1"])[0].clone()
}

/// Moves the dev chain's clock `secs` ahead and mines a block.
fn warp(url: &str, secs: u64) {
    for args in [vec!["evm_increaseTime".to_string(), secs.to_string()], vec!["evm_mine".into()]] {
        run(Command::new(foundry("cast")).args(["rpc", "--rpc-url", url]).args(&args));
    }
}

#[test]
fn workers_and_a_validator_as_processes_settle_a_disputed_task() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let node = AlaraNode::start(&data, &["up", "--no-api"]);
    let url = node.url.clone();

    let posted = compute(
        &data,
        &url,
        &[
            "submit",
            "--recipe",
            "logistic",
            "--commit-window",
            "60",
            "--reveal-window",
            "60",
            "--challenge-window",
            "120",
            "--move-timeout",
            "60",
        ],
    );
    assert_eq!(posted["task"], 1, "{posted}");

    let worker = |account: &str, extra: &[&str]| {
        let mut args = vec!["--account", account, "worker", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(&["--interval", "0.2"]);
        args.extend_from_slice(extra);
        Party::start(&data, &url, &args)
    };
    let honest = worker("1", &["--seed", "1"]);
    let mut liar = worker("2", &["--seed", "2", "--inflate", "3"]);
    let honest_url = honest.endpoint();
    wait_for("both commits", || {
        let s = status(&data, &url);
        (s["submissions"].as_array().unwrap().len() == 2).then_some(())
    });

    // The liar dies after committing; a new process of it carries on from its record.
    liar.child.kill().unwrap();
    liar.child.wait().unwrap();
    drop(liar);
    let liar = worker("2", &["--seed", "2", "--inflate", "3"]);
    let liar_url = liar.endpoint();

    warp(&url, 61);
    let opened = compute(&data, &url, &["open", "1"]);
    assert!(opened["what"].as_str().unwrap().contains("opened the held-out set"), "{opened}");
    let revealed = wait_for("both reveals", || {
        let s = status(&data, &url);
        let subs = s["submissions"].as_array().unwrap().clone();
        subs.iter().all(|x| x["revealed"] == true).then_some(subs)
    });
    let rows = status(&data, &url)["rows"].as_u64().unwrap();
    for s in &revealed {
        assert!(s["correct"].as_u64().unwrap() <= rows, "{s}");
    }

    warp(&url, 61);
    let validator = Party::start(
        &data,
        &url,
        &[
            "--account",
            "3",
            "validate",
            "--interval",
            "0.2",
            "--peer",
            &honest_url,
            "--peer",
            &liar_url,
        ],
    );
    let subs = wait_for("the dispute to invalidate one claim", || {
        let s = status(&data, &url);
        let subs = s["submissions"].as_array().unwrap().clone();
        subs.iter().any(|x| x["invalid"] == true).then_some(subs)
    });
    let (bad, good): (Vec<&Value>, Vec<&Value>) = subs.iter().partition(|x| x["invalid"] == true);
    assert_eq!((bad.len(), good.len()), (1, 1), "{subs:?}");
    // The validator prints a pass's moves when the pass ends, after the chain shows them.
    let v = wait_for("the validator's report", || {
        let v = validator.output();
        v.contains(": settled").then_some(v)
    });
    assert!(v.contains("checks out") && v.contains("challenged"), "validator said:\n{v}");
    // Either side may send the one-step proof (it proves the truth whoever sends it).
    let played = format!("{v}{}", liar.output());
    assert!(played.contains("re-executed step"), "the game ended without its one step:\n{played}");
    assert!(played.contains("Challenger won"), "{played}");
    assert!(liar.output().contains("revealed state"), "the restarted liar never played");

    warp(&url, 121);
    let done = compute(&data, &url, &["finalize", "1"]);
    assert_eq!(done["phase"], "final", "{done}");
    assert_eq!(done["winner"], good[0]["worker"], "{done}");
    let paid = compute(&data, &url, &["--account", "1", "withdraw"]);
    let wei: u128 = paid["withdrawn_wei"].as_str().unwrap().parse().unwrap();
    assert_eq!(wei, 1_100_000_000_000_000_000, "reward 1 ETH + stake 0.1 ETH: {paid}");
    drop((honest, liar, validator));
}
