//! CAR files between this crate and `@ipld/car` + ipfs-unixfs-exporter.

use std::fs::File;

use alara_store::{AddOptions, FsOptions, Store};

use crate::common::{content, node, sha256_hex};

#[test]
fn ipld_car_reads_our_export() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path().join("s"), FsOptions { sync: false }).unwrap();
    let data = content(7, 3 * 262_144 + 12_345);
    for opts in [AddOptions::default(), AddOptions::v1()] {
        let added = store.add_reader(&data[..], &opts).unwrap();
        let path = dir.path().join(format!("{}.car", added.cid));
        let exported = store.export_car(&added.cid, File::create(&path).unwrap()).unwrap();
        assert_eq!(exported.blocks, added.blocks);
        let seen = node(&["car-read", path.to_str().unwrap()]);
        assert_eq!(seen["roots"][0].as_str().unwrap(), added.cid.to_string());
        assert_eq!(seen["blocks"].as_u64().unwrap(), added.blocks);
        assert_eq!(seen["size"].as_u64().unwrap(), data.len() as u64);
        assert_eq!(seen["sha256"].as_str().unwrap(), sha256_hex(&data));
    }
}

#[test]
fn we_import_a_car_written_by_ipld_car() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path().join("s"), FsOptions { sync: false }).unwrap();
    let (size, seed) = (600_000u64, 99u32);
    for version in ["0", "1"] {
        let path = dir.path().join(format!("js-v{version}.car"));
        let written = node(&[
            "car-write",
            &size.to_string(),
            &seed.to_string(),
            version,
            path.to_str().unwrap(),
        ]);
        let imported = store.import_car(File::open(&path).unwrap()).unwrap();
        let root = imported.roots[0];
        assert_eq!(root.to_string(), written["root"].as_str().unwrap());
        assert!(store.pins().unwrap().contains(&root));
        let mut out = Vec::new();
        store.cat_to(&root, &mut out).unwrap();
        assert_eq!(sha256_hex(&out), written["sha256"].as_str().unwrap());
        assert_eq!(out, content(seed, size));
    }
}
