//! A data directory holds one chain, whichever way it is reached: through the node that
//! serves it (recorded in `<data-dir>/node.json`, whatever its port) or, when none runs,
//! opened by the command itself. Before, `alara up` and the in-process fallback opened two
//! different databases, and commands used whatever answered on port 8545.

use std::process::Command;

use serde_json::Value;

use crate::support::{alara, AlaraNode};

fn json_of(cmd: &mut Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})"))
}

fn cli(data: &std::path::Path, args: &[&str]) -> Command {
    let mut c = alara();
    c.arg("--data-dir").arg(data).arg("--json").args(args);
    c
}

/// Stops a node as Ctrl-C or `kill` would, and waits for it.
fn terminate(mut node: AlaraNode) {
    let pid = node.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = node.child.wait().unwrap();
    assert!(status.success(), "the node did not stop cleanly: {status}");
}

#[test]
fn one_chain_per_data_directory_whichever_way_it_is_reached() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    // A node on a random port: commands on the data directory find it without --rpc-url.
    let node = AlaraNode::start(&data, &["up"]);
    let contracts = node.summary["contracts"].clone();
    let record: Value =
        serde_json::from_slice(&std::fs::read(data.join("node.json")).unwrap()).unwrap();
    assert_eq!(record["url"], Value::from(node.url.clone()));
    let info = json_of(&mut cli(&data, &["chain", "info"]));
    assert_eq!(info["rpc_url"], Value::from(node.url.clone()), "{info}");
    terminate(node);
    assert!(!data.join("node.json").exists(), "a stopped node withdraws its record");

    // No node: the demo opens the same chain in its own process and finds the contracts.
    let demo = json_of(
        alara()
            .env_remove("ALARA_LOG_KEY_PASSWORD")
            .arg("--data-dir")
            .arg(&data)
            .args(["--json", "demo", "audit", "--rows", "1"]),
    );
    assert_eq!(
        demo["contract"].as_str().map(str::to_lowercase),
        contracts["audit_anchor"].as_str().map(str::to_lowercase),
        "the demo used another chain's AuditAnchor"
    );
    let anchor_block = demo["anchor_block"].as_u64().unwrap();

    // The node again: nothing redeployed, and the demo's blocks are on its chain.
    let node = AlaraNode::start(&data, &["up"]);
    assert_eq!(node.summary["contracts"], contracts, "contracts were redeployed");
    assert!(node.summary["head_block"].as_u64().unwrap() >= anchor_block, "{}", node.summary);

    // After kill -9 the record is stale: it is ignored and the chain opened here.
    node.kill9();
    let info = json_of(&mut cli(&data, &["chain", "info"]));
    assert!(info["block_number"].as_u64().unwrap() >= anchor_block, "{info}");

    // A node holds the database but its record points nowhere: say so, do not guess.
    let node = AlaraNode::start(&data, &["chain", "node"]);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    std::fs::write(
        data.join("node.json"),
        serde_json::json!({ "url": dead_url, "chain_id": 31337, "pid": 1 }).to_string(),
    )
    .unwrap();
    let out = alara().arg("--data-dir").arg(&data).args(["chain", "info"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another process") && err.contains("does not answer"), "{err}");
    assert!(err.contains("--rpc-url"), "{err}");
    let info = json_of(&mut cli(&data, &["chain", "info", "--rpc-url", &node.url]));
    assert_eq!(info["rpc_url"], Value::from(node.url.clone()));
}
