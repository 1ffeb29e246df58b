//! The README's "Try it" section runs as written: its shell blocks, in order, in a
//! non-interactive `bash -euo pipefail` with no terminal, against a node started the way
//! the section's first block starts one.
//!
//! Three things are mapped, and only these: the section's first block (`cargo run
//! --release -- up`) is the node this test starts (the binary under test, on a free port,
//! instead of a release build on 8545); `$PWD/target/release` is the directory of the
//! binary under test; and the ports 8545 and 7070 become free ones. The commands run in a
//! scratch directory that links the repository's `models`, `datasets` and `node_modules`, so
//! the files the README names are the repository's own.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{repo_root, AlaraNode};

/// The fenced blocks of `lang` in the README section headed `heading`, in order.
fn blocks(readme: &str, heading: &str, lang: &str) -> Vec<String> {
    let start = readme.find(&format!("\n{heading}\n")).expect("the README has the section");
    let rest = &readme[start + heading.len() + 2..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut out = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("```{lang}") {
            let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            out.push(body.join("\n"));
        }
    }
    out
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn the_try_it_section_runs_as_written() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let blocks = blocks(&readme, "## Try it", "sh");
    assert!(blocks.len() >= 5, "expected the section's shell blocks, found {}", blocks.len());
    assert_eq!(blocks[0].trim(), "cargo run --release -- up", "the first block starts the node");
    let script = blocks[1..].join("\n");
    for needle in ["alara infer", "audit verify \"$receipt\" --onchain", "fl coordinator"] {
        assert!(script.contains(needle), "the section no longer shows `{needle}`");
    }

    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(work.join("target")).unwrap();
    let root = repo_root();
    for name in ["models", "datasets", "node_modules"] {
        std::os::unix::fs::symlink(root.join(name), work.join(name)).unwrap();
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_alara"));
    std::os::unix::fs::symlink(bin.parent().unwrap(), work.join("target/release")).unwrap();
    let data = dir.path().join("data");

    let node = AlaraNode::start(&data, &["up"]);
    let rpc_port = node.url.rsplit(':').next().unwrap().to_string();
    let script = script
        .replace("127.0.0.1:8545", &format!("127.0.0.1:{rpc_port}"))
        .replace("127.0.0.1:7070", &format!("127.0.0.1:{}", free_port()));

    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &format!("set -x\n{script}")])
        .current_dir(&work)
        .env("ALARA_DATA_DIR", &data)
        .env_remove("ALARA_RPC_URL")
        .env_remove("ALARA_LOG_KEY_PASSWORD")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the README's commands failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for expected in [
        "verified on-chain",             // demo audit
        "receipt verifies",              // audit verify
        "verifyInclusion returned true", // audit verify --onchain
        "erased ",                       // audit erase
        "inference(s)",                  // lineage of the shipped model
        "won the reward",                // demo compute
    ] {
        assert!(stdout.contains(expected), "missing `{expected}` in\n{stdout}\nstderr:\n{stderr}");
    }
    for bad in ["Location:", "panicked", "\u{1b}["] {
        assert!(!stderr.contains(bad) && !stdout.contains(bad), "`{bad}` in the output:\n{stderr}");
    }
    // Everything went to the one chain of the data directory, through the running node.
    assert!(!work.join("chain").exists());
    assert!(data.join("node.json").exists());
}
