//! Shared helpers: the deterministic content generator (same as kubo_vectors.mjs) and
//! the node script runner.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The generator shared with kubo_vectors.mjs (`content()` there).
pub use alara_store::bench::{content, Xorshift};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/kubo_vectors.mjs")
}

/// Runs the node script; panics (never skips) with install instructions when node or the
/// npm packages are missing.
pub fn node(args: &[&str]) -> serde_json::Value {
    let modules = repo_root().join("node_modules/ipfs-unixfs-importer");
    assert!(
        modules.is_dir(),
        "npm packages missing ({} not found): run `npm ci` in the repository root",
        modules.display()
    );
    let out = Command::new("node")
        .arg(script())
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): install Node.js 20+ and run `npm ci` in the repository root"));
    assert!(out.status.success(), "node {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("node script prints JSON")
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}
