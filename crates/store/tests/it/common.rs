//! Shared helpers: the deterministic content generator (same as kubo_vectors.mjs) and
//! the node script runner.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// xorshift32 bytes, 4 per step, little-endian: identical to `content()` in kubo_vectors.mjs.
pub struct Xorshift {
    state: u32,
    word: [u8; 4],
    used: usize,
    remaining: u64,
}

impl Xorshift {
    pub fn new(seed: u32, size: u64) -> Self {
        Self {
            state: if seed == 0 { 0x9e37_79b9 } else { seed },
            word: [0; 4],
            used: 4,
            remaining: size,
        }
    }
}

impl Read for Xorshift {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.remaining) as usize;
        for b in &mut buf[..n] {
            if self.used == 4 {
                let mut x = self.state;
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                self.state = x;
                self.word = x.to_le_bytes();
                self.used = 0;
            }
            *b = self.word[self.used];
            self.used += 1;
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

pub fn content(seed: u32, size: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(size as usize);
    Xorshift::new(seed, size).read_to_end(&mut v).unwrap();
    v
}

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
