//! Store behaviour: integrity on read, pins, rm + gc, and bad CAR input.

use std::fs;
use std::io::Read;

use alara_store::{AddOptions, Blockstore, CarWriter, Error, FsOptions, Store};

use crate::common::content;

fn scratch() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), FsOptions { sync: false }).unwrap();
    (dir, store)
}

/// Finds the file of a block in the flatfs layout.
fn block_file(dir: &std::path::Path, cid: &alara_store::Cid) -> std::path::PathBuf {
    let key = cid::multibase::Base::Base32Upper.encode(cid.hash().to_bytes());
    let n = key.len();
    dir.join("blocks").join(&key[n - 3..n - 1]).join(format!("{key}.data"))
}

#[test]
fn corrupt_leaf_is_detected_on_cat_and_named() {
    let (dir, store) = scratch();
    let data = content(1, 3 * 262_144);
    let added = store.add_reader(&data[..], &AddOptions::v1()).unwrap();
    // Second leaf: a raw block whose CID is the hash of the second chunk.
    let leaf = alara_store::Block::encode(
        0x55,
        alara_store::CidVersion::V1,
        data[262_144..524_288].to_vec(),
    )
    .unwrap();
    let path = block_file(dir.path(), leaf.cid());
    let mut bytes = fs::read(&path).unwrap();
    bytes[1000] ^= 0xff;
    fs::write(&path, bytes).unwrap();
    let mut out = Vec::new();
    let err = store.cat(&added.cid).unwrap().read_to_end(&mut out).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&leaf.cid().to_string()) && msg.contains("corrupt"), "{msg}");
    assert_eq!(out.len(), 262_144, "the first chunk was good and was returned");
    match store.verify(&added.cid) {
        Err(Error::CorruptBlock { cid, .. }) => assert_eq!(cid, *leaf.cid()),
        other => panic!("expected CorruptBlock, got {other:?}"),
    }
}

#[test]
fn missing_block_is_named() {
    let (dir, store) = scratch();
    let added = store.add_reader(&content(2, 600_000)[..], &AddOptions::default()).unwrap();
    let root = store.blockstore().get(&added.cid).unwrap();
    let first = alara_store::dag::links(&added.cid, &root).unwrap()[0];
    fs::remove_file(block_file(dir.path(), &first)).unwrap();
    let err = store.cat_to(&added.cid, std::io::sink()).unwrap_err();
    assert!(matches!(err, Error::BlockNotFound(c) if c == first), "{err}");
}

#[test]
fn pins_survive_reopen_and_rm_then_gc_frees_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let (keep, drop_) = {
        let store = Store::open(dir.path()).unwrap();
        let keep = store.add_reader(&content(3, 700_000)[..], &AddOptions::default()).unwrap();
        let drop_ = store.add_reader(&content(4, 700_000)[..], &AddOptions::v1()).unwrap();
        (keep, drop_)
    };
    let store = Store::open(dir.path()).unwrap();
    let pins = store.pins().unwrap();
    assert!(pins.contains(&keep.cid) && pins.contains(&drop_.cid));
    assert!(store.rm(&drop_.cid).unwrap());
    assert!(!store.rm(&drop_.cid).unwrap());
    let stats = store.gc().unwrap();
    assert_eq!(stats.removed_blocks, drop_.blocks);
    assert_eq!(stats.kept_blocks, keep.blocks);
    assert!(matches!(store.cat(&drop_.cid), Err(Error::BlockNotFound(_))));
    let mut out = Vec::new();
    store.cat_to(&keep.cid, &mut out).unwrap();
    assert_eq!(out, content(3, 700_000));
}

#[test]
fn gc_keeps_blocks_shared_with_a_pinned_file() {
    let (_dir, store) = scratch();
    let data = content(5, 2 * 262_144);
    let a = store.add_reader(&data[..], &AddOptions::v1()).unwrap();
    let mut longer = data.clone();
    longer.extend_from_slice(b"tail");
    let b = store.add_reader(&longer[..], &AddOptions::v1()).unwrap();
    store.rm(&a.cid).unwrap();
    store.gc().unwrap();
    let mut out = Vec::new();
    store.cat_to(&b.cid, &mut out).unwrap();
    assert_eq!(out, longer);
}

#[test]
fn export_import_roundtrip_between_stores() {
    let (_d1, one) = scratch();
    let (_d2, two) = scratch();
    let data = content(6, 1_000_000);
    let added = one.add_reader(&data[..], &AddOptions::default()).unwrap();
    let mut car = Vec::new();
    one.export_car(&added.cid, &mut car).unwrap();
    let imported = two.import_car(&car[..]).unwrap();
    assert_eq!(imported.roots, vec![added.cid]);
    assert_eq!(imported.blocks, added.blocks);
    let mut out = Vec::new();
    two.cat_to(&added.cid, &mut out).unwrap();
    assert_eq!(out, data);
}

#[test]
fn truncated_car_is_refused_and_nothing_is_pinned() {
    let (_d1, one) = scratch();
    let (_d2, two) = scratch();
    let added = one.add_reader(&content(8, 900_000)[..], &AddOptions::v1()).unwrap();
    let mut car = Vec::new();
    one.export_car(&added.cid, &mut car).unwrap();
    let err = two.import_car(&car[..car.len() - 5000]).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    assert!(two.pins().unwrap().is_empty());
}

#[test]
fn corrupt_car_block_is_refused_and_named() {
    let (_d1, one) = scratch();
    let (_d2, two) = scratch();
    let added = one.add_reader(&content(9, 300_000)[..], &AddOptions::v1()).unwrap();
    let mut car = Vec::new();
    one.export_car(&added.cid, &mut car).unwrap();
    let i = car.len() - 100;
    car[i] ^= 0x01;
    let err = two.import_car(&car[..]).unwrap_err();
    assert!(matches!(err, Error::CorruptBlock { .. }), "{err}");
    assert!(err.to_string().contains("bafk"), "names the raw leaf: {err}");
}

#[test]
fn car_missing_blocks_is_not_pinned() {
    let (_d1, one) = scratch();
    let (_d2, two) = scratch();
    let added = one.add_reader(&content(10, 600_000)[..], &AddOptions::default()).unwrap();
    // Only the root block: the DAG is incomplete.
    let root = one.blockstore().get(&added.cid).unwrap();
    let mut w = CarWriter::new(Vec::new(), &[added.cid]).unwrap();
    w.write_block(&added.cid, &root).unwrap();
    let car = w.finish().unwrap();
    let err = two.import_car(&car[..]).unwrap_err();
    assert!(matches!(err, Error::BlockNotFound(_)), "{err}");
    assert!(two.pins().unwrap().is_empty());
}

#[test]
fn garbage_is_not_a_car() {
    let (_d, store) = scratch();
    let err = store.import_car(&b"\x05hello this is not a car file"[..]).unwrap_err();
    assert!(matches!(err, Error::InvalidCar { .. }), "{err}");
}

#[test]
fn get_to_path_leaves_no_partial_file_on_error() {
    let (dir, store) = scratch();
    let data = content(11, 600_000);
    let added = store.add_reader(&data[..], &AddOptions::v1()).unwrap();
    let out = dir.path().join("out.bin");
    assert_eq!(store.get_to_path(&added.cid, &out).unwrap(), 600_000);
    assert_eq!(fs::read(&out).unwrap(), data);
    let leaf =
        alara_store::Block::encode(0x55, alara_store::CidVersion::V1, data[..262_144].to_vec())
            .unwrap();
    fs::write(block_file(dir.path(), leaf.cid()), b"garbage").unwrap();
    let bad = dir.path().join("bad.bin");
    assert!(store.get_to_path(&added.cid, &bad).is_err());
    assert!(!bad.exists());
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty());
}
