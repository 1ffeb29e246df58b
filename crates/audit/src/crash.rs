//! Crash testing: a writer process appends from several threads and reports each
//! acknowledged append on stdout; the harness kills it with SIGKILL at a random moment,
//! reopens the log and checks that every acknowledged entry is there, that the tree
//! verifies, and that the new state is consistent with the previous checkpoint.
//!
//! Used by the test suite (≥ 20 cycles) and by `alara bench audit --crash` (100 cycles).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::Serialize;

use crate::checkpoint::NoteSigner;
use crate::hash::{leaf_hash, Hash};
use crate::log::{Log, LogConfig};
use crate::{Error, Result};

/// Seed of the throw-away key the crash writer signs with (test data, not a secret).
const CRASH_SEED: [u8; 32] = [0x5a; 32];

/// The crash writer's signer.
pub fn crash_signer() -> NoteSigner {
    // The name is a constant that passes validation.
    NoteSigner::new("alara.test/crash", CRASH_SEED)
        .unwrap_or_else(|_| unreachable!("constant name is valid"))
}

/// Runs the writer: `threads` threads append batches of 1–32 entries until killed (or
/// for at most `max_runtime`), printing `ack <index> <leaf hash hex>` per durable entry.
pub fn run_writer(dir: &Path, threads: usize, max_runtime: Duration) -> Result<()> {
    let mut config = LogConfig::new(dir, crash_signer());
    // Sync derived files often so crashes land in the middle of that too.
    config.derived_sync_interval = Duration::from_millis(20);
    let log = Arc::new(Log::open(config)?);
    let out = Arc::new(parking_lot::Mutex::new(std::io::stdout()));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let log = log.clone();
            let out = out.clone();
            std::thread::spawn(move || -> Result<()> {
                let mut rng = rand::thread_rng();
                let mut seq = 0u64;
                while start.elapsed() < max_runtime {
                    let n = rng.gen_range(1..=32);
                    let batch: Vec<Vec<u8>> = (0..n)
                        .map(|_| {
                            seq += 1;
                            let pad = rng.gen_range(0..200);
                            format!("crash t{t} s{seq} {}", "x".repeat(pad)).into_bytes()
                        })
                        .collect();
                    let a = log.append_batch(&batch)?;
                    let mut text = String::new();
                    for (i, d) in batch.iter().enumerate() {
                        text.push_str(&format!(
                            "ack {} {}\n",
                            a.index + i as u64,
                            leaf_hash(d).to_hex()
                        ));
                    }
                    let mut o = out.lock();
                    o.write_all(text.as_bytes()).map_err(crate::error::io("stdout"))?;
                    o.flush().map_err(crate::error::io("stdout"))?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| Error::Closed("writer thread panicked".into()))??;
    }
    Ok(())
}

/// Outcome of a crash run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CrashReport {
    /// Kill/restart cycles run.
    pub cycles: usize,
    /// Acknowledged entries over all cycles (every one was found after restart).
    pub acknowledged: u64,
    /// Final tree size.
    pub final_size: u64,
    /// Entries found after a restart that had not been acknowledged yet (allowed: written
    /// and intact, only the acknowledgement was lost).
    pub unacknowledged_survivors: u64,
    /// Slowest reopen after a kill (crash recovery), milliseconds.
    pub max_recovery_ms: u64,
}

/// Runs `cycles` kill/restart cycles. `writer` builds the command that starts a writer on
/// `dir`; `on_cycle` is called after each verified cycle.
pub fn crash_cycles(
    dir: &Path,
    cycles: usize,
    writer: impl Fn(&Path) -> Command,
    mut on_cycle: impl FnMut(usize, &CrashReport),
) -> Result<CrashReport> {
    let mut report = CrashReport { cycles, ..Default::default() };
    let mut rng = rand::thread_rng();
    let mut acked: HashMap<u64, Hash> = HashMap::new();
    let mut previous: Option<(u64, Hash)> = None;
    for cycle in 0..cycles {
        let mut child = writer(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(crate::error::io("crash writer"))?;
        let stdout = child.stdout.take().ok_or_else(|| Error::Closed("no stdout".into()))?;
        let reader = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut parts = line.split(' ');
                if let (Some("ack"), Some(i), Some(h)) = (parts.next(), parts.next(), parts.next())
                {
                    if let (Ok(i), Ok(h)) = (i.parse::<u64>(), Hash::from_hex(h)) {
                        seen.push((i, h));
                    }
                }
            }
            seen
        });
        // Let it start (open + recovery), then kill at a random moment of its work.
        std::thread::sleep(Duration::from_millis(rng.gen_range(30..250)));
        child.kill().map_err(crate::error::io("kill crash writer"))?; // SIGKILL on Unix
        let _ = child.wait();
        let seen = reader.join().map_err(|_| Error::Closed("reader panicked".into()))?;
        report.acknowledged += seen.len() as u64;
        for (i, h) in seen {
            if let Some(prev) = acked.insert(i, h) {
                if prev != h {
                    return Err(Error::Corrupt {
                        path: dir.to_path_buf(),
                        detail: format!(
                            "cycle {cycle}: index {i} acknowledged twice with different entries"
                        ),
                    });
                }
            }
        }

        let t = Instant::now();
        let log = Log::open(LogConfig::new(dir, crash_signer()))?;
        report.max_recovery_ms = report.max_recovery_ms.max(t.elapsed().as_millis() as u64);
        let size = log.size();
        let corrupt = |detail: String| Error::Corrupt {
            path: dir.to_path_buf(),
            detail: format!("cycle {cycle}: {detail}"),
        };
        if let Some(max) = acked.keys().max() {
            if *max >= size {
                return Err(corrupt(format!("acknowledged entry {max} is missing (size {size})")));
            }
        }
        // Every acknowledged entry, read in bulk (leaf hashes are recomputed from entries).
        let mut start = 0;
        while start < size {
            let count = (size - start).min(1 << 16);
            for (k, got) in log.leaves(start, count)?.into_iter().enumerate() {
                let i = start + k as u64;
                if let Some(h) = acked.get(&i).filter(|h| **h != got) {
                    return Err(corrupt(format!("entry {i} is {got}, acknowledged as {h}")));
                }
            }
            start += count;
        }
        log.verify_integrity()?;
        if let Some((old_size, old_root)) = previous {
            if old_size > size {
                return Err(corrupt(format!("tree shrank from {old_size} to {size}")));
            }
            let root = log.root_at(size)?;
            log.prove_consistency(old_size, size)?.verify(&old_root, &root)?;
        }
        let cp = log.latest_checkpoint();
        if let Some(cp) = &cp {
            cp.verify(log.verifier())?;
            previous = Some((cp.checkpoint.size, cp.checkpoint.root));
        }
        report.final_size = size;
        report.unacknowledged_survivors = size - acked.len() as u64;
        drop(log);
        on_cycle(cycle, &report);
    }
    Ok(report)
}
