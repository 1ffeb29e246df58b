//! Tests of the log: appends, proofs and reopening, recovery from torn and corrupted
//! files, keys, checkpoints, concurrency.

use std::fs::OpenOptions;
use std::io::Write;

use super::format::{DERIVED, ENTRIES, NODES, OFFSETS};
use super::*;
use crate::tree::MemoryTree;

fn signer() -> NoteSigner {
    NoteSigner::new("alara.test/log", [3u8; 32]).unwrap()
}

#[test]
fn append_prove_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut mem = MemoryTree::default();
    {
        let log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
        for i in 0..50u32 {
            let data = format!("entry {i}");
            let a = log.append(data.as_bytes()).unwrap();
            assert_eq!(a.index, u64::from(i));
            mem.push(leaf_hash(data.as_bytes()));
        }
        let a = log.append_batch(&[b"x".to_vec(), b"y".to_vec()]).unwrap();
        assert_eq!((a.index, a.count), (50, 2));
        mem.push(leaf_hash(b"x"));
        mem.push(leaf_hash(b"y"));
        assert_eq!(log.root_at(52).unwrap(), mem.root(52).unwrap());
        assert_eq!(log.entry(7).unwrap(), b"entry 7");
        let cp = log.checkpoint_covering(51).unwrap();
        assert_eq!(cp.checkpoint.size, 52);
        cp.verify(log.verifier()).unwrap();
    }
    let log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
    assert_eq!(log.size(), 52);
    log.verify_integrity().unwrap();
    for size in [1u64, 13, 52] {
        let root = mem.root(size).unwrap();
        for i in 0..size {
            log.prove_inclusion(i, size)
                .unwrap()
                .verify(&mem.complete(0, i).unwrap(), &root)
                .unwrap();
        }
        let c = log.prove_consistency(size, 52).unwrap();
        c.verify(&root, &mem.root(52).unwrap()).unwrap();
    }
    assert!(log.entry(52).is_err());
    assert!(log.prove_inclusion(0, 53).is_err());
}

#[test]
fn torn_tail_is_cut_and_derived_files_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
        for i in 0..20u32 {
            log.append(&i.to_be_bytes()).unwrap();
        }
    }
    // A torn group: a valid-looking prefix of garbage after the last group.
    let entries = dir.path().join(ENTRIES);
    let mut f = OpenOptions::new().append(true).open(&entries).unwrap();
    f.write_all(b"ALG1 torn group that never finished").unwrap();
    // Derived files lost beyond their mark, and the mark reset.
    std::fs::remove_file(dir.path().join(DERIVED)).unwrap();
    std::fs::write(dir.path().join(NODES), b"").unwrap();
    let log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
    assert_eq!(log.size(), 20);
    log.verify_integrity().unwrap();
    assert_eq!(log.append(b"after").unwrap().index, 20);
    log.verify_integrity().unwrap();
}

#[test]
fn flipped_byte_in_a_group_cuts_the_log_there() {
    let dir = tempfile::tempdir().unwrap();
    let len_after_first;
    {
        let log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
        log.append(b"first").unwrap();
        len_after_first = std::fs::metadata(dir.path().join(ENTRIES)).unwrap().len();
        log.append(b"second").unwrap();
    }
    std::fs::remove_file(dir.path().join(DERIVED)).unwrap();
    let mut bytes = std::fs::read(dir.path().join(ENTRIES)).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(dir.path().join(ENTRIES), &bytes).unwrap();
    let log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
    assert_eq!(log.size(), 1);
    assert_eq!(std::fs::metadata(dir.path().join(ENTRIES)).unwrap().len(), len_after_first);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    /// Sparse node storage: for batches of any sizes, reopened at any point (with the
    /// derived files kept or lost), every proof matches the in-memory tree.
    #[test]
    fn sparse_nodes_match_the_memory_tree(
        batches in proptest::collection::vec((1usize..40, 0u8..4), 1..12),
        probes in proptest::collection::vec((proptest::prelude::any::<u64>(), proptest::prelude::any::<u64>()), 8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut mem = MemoryTree::default();
        let mut log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
        for (n, reopen) in batches {
            let items: Vec<Vec<u8>> =
                (0..n).map(|i| format!("e{}-{i}", mem.len()).into_bytes()).collect();
            log.append_batch(&items).unwrap();
            items.iter().for_each(|d| mem.push(leaf_hash(d)));
            if reopen > 0 {
                drop(log);
                if reopen == 2 {
                    std::fs::remove_file(dir.path().join(DERIVED)).unwrap();
                }
                if reopen == 3 {
                    // A mark from before the sparse layout: the derived files are rebuilt.
                    std::fs::write(
                        dir.path().join(DERIVED),
                        format!(r#"{{"size":{},"entries_len":0,"checkpoints":0}}"#, mem.len()),
                    )
                    .unwrap();
                }
                log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
            }
        }
        let n = mem.len();
        proptest::prop_assert_eq!(log.size(), n);
        proptest::prop_assert_eq!(log.root_at(n).unwrap(), mem.root(n).unwrap());
        for (a, b) in probes {
            let size = 1 + b % n;
            let i = a % size;
            let root = mem.root(size).unwrap();
            proptest::prop_assert_eq!(log.leaf(i).unwrap(), mem.complete(0, i).unwrap());
            log.prove_inclusion(i, size).unwrap().verify(&mem.complete(0, i).unwrap(), &root).unwrap();
            log.prove_consistency(size, n).unwrap().verify(&root, &mem.root(n).unwrap()).unwrap();
        }
        log.verify_integrity().unwrap();
    }
}

/// A damaged offsets file is reported as an error wherever it is read, never a panic.
#[test]
fn corrupt_offsets_give_errors_not_panics() {
    for damage in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
            for i in 0..40u32 {
                log.append(format!("entry {i}").as_bytes()).unwrap();
            }
        }
        let path = dir.path().join(OFFSETS);
        let mut bytes = std::fs::read(&path).unwrap();
        if damage == 0 {
            bytes.iter_mut().for_each(|b| *b = 0xff); // offsets past any file
        } else {
            let mut offs: Vec<[u8; 8]> =
                bytes.chunks_exact(8).map(|c| c.try_into().unwrap()).collect();
            offs.reverse(); // valid offsets, out of order
            bytes = offs.concat();
        }
        std::fs::write(&path, &bytes).unwrap();
        match Log::open(LogConfig::new(dir.path(), signer())) {
            Err(e) => assert!(!e.to_string().is_empty()),
            Ok(log) => {
                assert!(log.verify_integrity().is_err(), "damage {damage} went unnoticed");
                assert!(log.leaves(32, 8).is_err());
                let _ = log.prove_inclusion(33, 40);
            }
        }
    }
}

#[test]
fn other_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Log::open(LogConfig::new(dir.path(), signer())).unwrap());
    let other = NoteSigner::new("alara.test/log", [4u8; 32]).unwrap();
    let err = Log::open(LogConfig::new(dir.path(), other)).unwrap_err().to_string();
    assert!(err.contains("signed by"), "{err}");
}

#[test]
fn checkpoint_interval_still_covers_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = LogConfig::new(dir.path(), signer());
    cfg.checkpoint_interval = Duration::from_secs(3600);
    let log = Log::open(cfg).unwrap();
    log.append(b"a").unwrap();
    let first = log.checkpoint_covering(0).unwrap();
    log.append(b"b").unwrap();
    // The interval has not elapsed, so the receipt request forces one.
    let second = log.checkpoint_covering(1).unwrap();
    assert_eq!(second.checkpoint.size, 2);
    assert!(first.checkpoint.size >= 1);
    assert_eq!(log.checkpoint_covering(0).unwrap(), first);
}

#[test]
fn concurrent_writers_get_distinct_indices() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Log::open(LogConfig::new(dir.path(), signer())).unwrap());
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                (0..50)
                    .map(|i| log.append(format!("{t}/{i}").as_bytes()).unwrap().index)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<u64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    all.sort_unstable();
    assert_eq!(all, (0..400).collect::<Vec<_>>());
    log.verify_integrity().unwrap();
}

#[test]
fn read_only_open_reads_everything_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert!(Log::open_read_only(dir.path()).is_err(), "no log there: refused, not created");
    assert!(!dir.path().join(IDENTITY).exists());
    let mut config = LogConfig::new(dir.path(), signer());
    // Checkpoints only when asked: the last group stays unsigned.
    config.checkpoint_interval = Duration::from_secs(3600);
    {
        let log = Log::open(config).unwrap();
        log.append_batch(&[b"a".to_vec(), b"b".to_vec()]).unwrap();
        log.checkpoint_covering(1).unwrap();
        log.append(b"c").unwrap();
    }
    let entries_before = std::fs::read(dir.path().join(ENTRIES)).unwrap();
    let log = Log::open_read_only(dir.path()).unwrap();
    assert_eq!(log.size(), 3);
    assert_eq!(log.verifier(), &signer().verifier());
    assert_eq!(log.entry(2).unwrap(), b"c");
    log.checkpoint_covering(1).unwrap().verify(log.verifier()).unwrap();
    log.prove_inclusion(0, 3).unwrap();
    log.verify_integrity().unwrap();
    assert!(matches!(log.append(b"d"), Err(Error::ReadOnly)));
    assert!(matches!(log.sign_checkpoint(3, &[]), Err(Error::ReadOnly)));
    // The unsigned entry needs a checkpoint only the key can sign: refused, not waited for.
    assert!(matches!(log.checkpoint_covering(2), Err(Error::ReadOnly)));
    assert!(matches!(log.wait_durable(3), Err(Error::OutOfRange { .. })));
    drop(log);
    assert_eq!(std::fs::read(dir.path().join(ENTRIES)).unwrap(), entries_before);
    let log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
    assert_eq!(log.size(), 3);
}

#[test]
fn a_second_open_of_a_live_log_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
    log.append(b"a").unwrap();
    // A second writer would interleave appends; a reader would cut the writer's tail.
    let second = Log::open(LogConfig::new(dir.path(), signer()));
    assert!(matches!(second, Err(Error::Busy { .. })), "{second:?}");
    let reader = Log::open_read_only(dir.path());
    assert!(matches!(reader, Err(Error::Busy { .. })), "{reader:?}");
    assert_eq!(log.size(), 1, "the refused opens changed nothing");
    drop(log);
    let log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
    assert_eq!(log.entry(0).unwrap(), b"a");
    drop(log);
    let reader = Log::open_read_only(dir.path()).unwrap();
    assert_eq!(reader.size(), 1);
}
