//! The log part of `alara bench audit` without the CLI: SHA-256 bound, durable appends,
//! receipt latency, proofs. `cargo run --release -p alara-audit --example bench [secs]`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a measurement tool, not a library: a failure ends the run"
)]

use std::sync::Arc;
use std::time::Duration;

use alara_audit::bench::*;
use alara_audit::{Log, LogConfig, NoteSigner};

fn main() -> alara_audit::Result<()> {
    let secs = Duration::from_secs_f64(
        std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3.0),
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = std::env::args()
        .nth(2)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("audit-bench-{}", std::process::id()));
    let bound = sha_bound(cores, secs);
    let log =
        Arc::new(Log::open(LogConfig::new(&dir, NoteSigner::new("alara.bench/audit", [1; 32])?))?);
    let batched = append_throughput(&log, 64, 256, 2, secs)?;
    let single = append_throughput(&log, 256, 1, 1, secs)?;
    let lat = receipt_latency(&log, 32, 2, secs)?;
    let fsync = fsync_latency(&dir)?;
    let (gen, ver, size) = proof_rates(&log, secs)?;
    println!("entry {} bytes, {cores} cores, log of {size} entries", sample_entry(0).len());
    println!("SHA-256 bound (2 hashes/entry)      {bound:>12.0} /s");
    println!(
        "durable appends, 64 × 256-batches   {batched:>12.0} /s  ({:.0}% of bound)",
        100.0 * batched / bound
    );
    println!(
        "durable appends, 256 × 1            {single:>12.0} /s  ({:.0}% of bound)",
        100.0 * single / bound
    );
    println!("append→receipt p50/p99              {:>8.2} / {:.2} ms", lat.0, lat.1);
    println!("fdatasync p50/p99 (same disk)       {:>8.2} / {:.2} ms", fsync.0, fsync.1);
    println!("proofs generated / verified         {gen:>12.0} /s  {ver:.0} /s");
    log.close();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
