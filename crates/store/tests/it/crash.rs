//! An acknowledged add survives `kill -9` of the process that made it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use alara_store::{AddOptions, Store};

use crate::common::content;

const CHILD_ENV: &str = "ALARA_STORE_CRASH_CHILD_DIR";

/// In the child: add, print the CID (the acknowledgement), then keep adding until killed.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        eprintln!("crash_child: helper run by add_survives_kill_9 only; nothing to do");
        return;
    };
    let store = Store::open(&dir).unwrap();
    let added = store.add_reader(&content(41, 2_000_000)[..], &AddOptions::default()).unwrap();
    println!("ACK {}", added.cid);
    for seed in 0.. {
        let _ = store.add_reader(&content(seed, 3_000_000)[..], &AddOptions::default());
    }
}

#[test]
fn add_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash::crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut cid = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some((_, c)) = line.split_once("ACK ") {
            cid = Some(alara_store::parse_cid(c).unwrap());
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let cid = cid.expect("child acknowledged an add");
    let store = Store::open(dir.path()).unwrap();
    assert!(store.pins().unwrap().contains(&cid));
    let mut out = Vec::new();
    store.cat_to(&cid, &mut out).unwrap();
    assert_eq!(out, content(41, 2_000_000));
    // Blocks of the interrupted add are unpinned; gc removes them and keeps the pinned file.
    store.gc().unwrap();
    store.verify(&cid).unwrap();
}
