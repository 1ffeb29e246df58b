//! Crash-test adder: adds a file to the store at `argv[1]`, prints `ACK <cid>` once the
//! add has returned (its acknowledgement), then keeps adding other files until killed.
//! Driven by the `add_survives_kill_9` test.

// Same choice as the library (its lib.rs): the store error carries paths and CIDs inline.
#![allow(clippy::result_large_err)]

use alara_store::bench::content;
use alara_store::{AddOptions, Store};

/// Seed and size of the acknowledged file (the test checks it byte for byte).
const ACKED: (u32, u64) = (41, 2_000_000);

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: alara-store-crash-adder <store dir>");
        std::process::exit(2);
    };
    let run = || -> alara_store::Result<()> {
        let store = Store::open(&dir)?;
        let added = store.add_reader(&content(ACKED.0, ACKED.1)[..], &AddOptions::default())?;
        println!("ACK {}", added.cid);
        for seed in 0.. {
            store.add_reader(&content(seed, 3_000_000)[..], &AddOptions::default())?;
        }
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("crash adder: {e}");
        std::process::exit(1);
    }
}
