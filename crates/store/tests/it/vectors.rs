//! CIDs against vectors from ipfs-unixfs-importer configured as Kubo's `ipfs add`.

use std::io::Read;

use alara_store::{AddOptions, CidVersion, FsOptions, Store};
use sha2::Digest;

use crate::common::{node, Xorshift};

const COMMITTED: &str = include_str!("../vectors/kubo.json");

fn check(vector: &serde_json::Value) {
    let name = vector["name"].as_str().unwrap();
    let size = vector["size"].as_u64().unwrap();
    let seed = vector["seed"].as_u64().unwrap() as u32;
    let chunk_size = vector["chunk_size"].as_u64().unwrap() as usize;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), FsOptions { sync: false }).unwrap();
    for (version, key, dag_key) in
        [(CidVersion::V0, "cid_v0", "dag_size_v0"), (CidVersion::V1, "cid_v1", "dag_size_v1")]
    {
        let opts = AddOptions { cid_version: version, chunk_size, ..AddOptions::default() };
        let added = store.add_reader(Xorshift::new(seed, size), &opts).unwrap();
        assert_eq!(added.cid.to_string(), vector[key].as_str().unwrap(), "{name} {key}");
        assert_eq!(added.size, size, "{name}");
        assert_eq!(added.dag_size, vector[dag_key].as_u64().unwrap(), "{name} {dag_key}");
        // Read back through the DAG and compare with the generator's hash.
        let mut hasher = sha2::Sha256::new();
        let mut reader = store.cat(&added.cid).unwrap();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        assert_eq!(hex::encode(hasher.finalize()), vector["sha256"].as_str().unwrap(), "{name}");
    }
}

#[test]
fn cids_equal_committed_kubo_vectors() {
    let v: serde_json::Value = serde_json::from_str(COMMITTED).unwrap();
    let vectors = v["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 8);
    for vector in vectors {
        check(vector);
    }
}

#[test]
fn node_importer_still_produces_the_committed_vectors() {
    // Re-runs the real JavaScript importer: the committed file must be what it gives.
    let live = node(&["vectors"]);
    let committed: serde_json::Value = serde_json::from_str(COMMITTED).unwrap();
    assert_eq!(live, committed, "regenerate tests/vectors/kubo.json with the node script");
}
