//! Real Ethereum clients — Foundry's cast, ethers v6, web3.py — driving the embedded node.

use std::process::Command;

use crate::support::{foundry, repo_root, run, AlaraNode};

const DEV0: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const DEV0_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const DEV1: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

fn artifact() -> std::path::PathBuf {
    repo_root().join("contracts/out/AlaraToken.json")
}

#[test]
fn cast_session() {
    let dir = tempfile::tempdir().unwrap();
    let node = AlaraNode::start(dir.path(), &["up", "--ephemeral"]);
    // `cast <sub> --rpc-url URL args…`: options go before `--create`'s trailing arguments.
    let cast = |args: &[&str]| -> String {
        run(Command::new(foundry("cast"))
            .arg(args[0])
            .args(["--rpc-url", &node.url])
            .args(&args[1..]))
        .trim()
        .to_string()
    };

    assert_eq!(cast(&["chain-id"]), "31337");
    let start: u64 = cast(&["block-number"]).parse().unwrap();
    assert!(start >= 1, "alara up deployed the token, so a block exists");
    assert!(cast(&["client"]).starts_with("alara/"));

    // Deploy AlaraToken from its committed artifact.
    let artifact: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(artifact()).unwrap()).unwrap();
    let bytecode = artifact["bytecode"].as_str().unwrap();
    let args = run(Command::new(foundry("cast")).args([
        "abi-encode",
        "constructor(address,uint256)",
        DEV0,
        "1000000",
    ]));
    let create = format!("{bytecode}{}", args.trim().trim_start_matches("0x"));
    let receipt: serde_json::Value = serde_json::from_str(&cast(&[
        "send",
        "--private-key",
        DEV0_KEY,
        "--json",
        "--create",
        &create,
    ]))
    .unwrap();
    assert_eq!(receipt["status"], "0x1");
    let token = receipt["contractAddress"].as_str().unwrap().to_string();
    // cast prints large numbers as "1000000 [1e6]".
    let number = |out: String| out.split_whitespace().next().unwrap_or_default().to_string();
    assert_eq!(number(cast(&["call", &token, "balanceOf(address)(uint256)", DEV0])), "1000000");

    // Transfer, then read it back through receipt, tx, logs and block.
    let sent: serde_json::Value = serde_json::from_str(&cast(&[
        "send",
        "--private-key",
        DEV0_KEY,
        "--json",
        &token,
        "transfer(address,uint256)",
        DEV1,
        "250",
    ]))
    .unwrap();
    let hash = sent["transactionHash"].as_str().unwrap().to_string();
    let receipt: serde_json::Value =
        serde_json::from_str(&cast(&["receipt", &hash, "--json"])).unwrap();
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(receipt["logs"].as_array().unwrap().len(), 1);
    assert!(matches!(cast(&["receipt", &hash, "status"]).as_str(), "true" | "1 (success)"));
    assert_eq!(number(cast(&["call", &token, "balanceOf(address)(uint256)", DEV1])), "250");
    let tx: serde_json::Value = serde_json::from_str(&cast(&["tx", &hash, "--json"])).unwrap();
    assert_eq!(tx["from"].as_str().unwrap().to_lowercase(), DEV0.to_lowercase());
    let logs = cast(&[
        "logs",
        "--from-block",
        "0",
        "--address",
        &token,
        "--json",
        "Transfer(address indexed from,address indexed to,uint256 value)",
    ]);
    let logs: serde_json::Value = serde_json::from_str(&logs).unwrap();
    assert_eq!(logs.as_array().unwrap().len(), 2, "mint and transfer");
    let block: serde_json::Value =
        serde_json::from_str(&cast(&["block", "latest", "--json"])).unwrap();
    assert_eq!(block["transactions"][0], serde_json::Value::String(hash.clone()));

    // Plain ether transfer and balance, an unlocked-account send, and a revert.
    let before: u128 = cast(&["balance", DEV1]).parse().unwrap();
    cast(&["send", "--private-key", DEV0_KEY, DEV1, "--value", "1ether"]);
    let after: u128 = cast(&["balance", DEV1]).parse().unwrap();
    assert_eq!(after - before, 1_000_000_000_000_000_000);
    cast(&["send", "--unlocked", "--from", DEV0, DEV1, "--value", "1"]);
    let out = Command::new(foundry("cast"))
        .args(["call", &token, "transfer(address,uint256)", DEV1, "99999999", "--from", DEV1])
        .args(["--rpc-url", &node.url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("execution reverted"), "{err}");
    assert!(cast(&["block-number"]).parse::<u64>().unwrap() > start);
}

#[test]
fn ethers_session() {
    let dir = tempfile::tempdir().unwrap();
    let node = AlaraNode::start(dir.path(), &["up", "--ephemeral"]);
    let script = repo_root().join("crates/cli/tests/clients/ethers_session.mjs");
    let out = run(Command::new("node")
        .arg(script)
        .arg(&node.url)
        .arg(artifact())
        .current_dir(repo_root()));
    assert!(out.contains("ethers session passed"), "{out}");
}

#[test]
fn web3py_session() {
    let python = std::env::var("ALARA_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| repo_root().join(".venv/bin/python"));
    assert!(
        python.exists(),
        "{} missing: run scripts/test.sh, which installs web3.py into .venv",
        python.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let node = AlaraNode::start(dir.path(), &["up", "--ephemeral"]);
    let script = repo_root().join("crates/cli/tests/clients/web3_session.py");
    let out = run(Command::new(python).arg(script).arg(&node.url).arg(artifact()));
    assert!(out.contains("web3.py session passed"), "{out}");
}
