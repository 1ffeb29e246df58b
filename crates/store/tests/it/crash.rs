//! An acknowledged add survives `kill -9` of the process that made it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use alara_store::Store;

use crate::common::content;

#[test]
fn add_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    // Adds content(41, 2_000_000), prints `ACK <cid>`, then keeps adding until killed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_alara-store-crash-adder"))
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
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
