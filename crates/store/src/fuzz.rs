//! Fuzz entry points (feature `test-utils`): what `fuzz/fuzz_targets/car_import.rs` hands
//! to libFuzzer, and what the test suite runs under proptest. Each takes arbitrary bytes
//! and must return without panicking; the checks inside state what must hold whenever the
//! input is accepted.
#![allow(
    clippy::expect_used,
    reason = "a fuzz entry point reports a broken invariant by panicking"
)]

use std::collections::{HashMap, HashSet};

use parking_lot::Mutex;

use crate::{Blockstore, Cid, Error, GcStats, Result, Store};

/// CAR import, as `alara store import` runs it, into a store held in memory.
///
/// Whenever the import succeeds: every root's DAG is complete and verifies, every root
/// is pinned, and exporting a root and importing that CAR into a fresh store gives the
/// same root, the same DAG, and the same bytes when exported again.
pub fn car_import(data: &[u8]) {
    let store = Store::with_blockstore(Memory::default());
    let Ok(imported) = store.import_car(data) else { return };
    let pins = store.pins().expect("pins of a memory store");
    for root in &imported.roots {
        assert!(pins.contains(root), "root {root} accepted but not pinned");
        let verified = store.verify(root).expect("an accepted root's DAG verifies");
        let mut car = Vec::new();
        let exported = store.export_car(root, &mut car).expect("an accepted root exports");
        assert_eq!(exported.blocks, verified.blocks);
        let again = Store::with_blockstore(Memory::default());
        let reimported = again.import_car(&car[..]).expect("an exported CAR imports");
        assert_eq!(reimported.roots, [*root]);
        let mut car2 = Vec::new();
        again.export_car(root, &mut car2).expect("re-export");
        assert_eq!(car, car2, "export → import → export changed the CAR of {root}");
        // Reading it as a file may fail (a directory, a bad UnixFS node), never panic.
        let _ = store.cat_to(root, std::io::sink());
    }
}

/// Blocks and pins in memory, checked on read like every blockstore.
#[derive(Default)]
pub struct Memory {
    blocks: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    pins: Mutex<HashSet<Cid>>,
}

impl Blockstore for Memory {
    fn get(&self, cid: &Cid) -> Result<Vec<u8>> {
        let data = self.blocks.lock().get(&cid.hash().to_bytes()).cloned();
        let data = data.ok_or(Error::BlockNotFound(*cid))?;
        crate::block::verify(cid, &data)?;
        Ok(data)
    }
    fn has(&self, cid: &Cid) -> Result<bool> {
        Ok(self.blocks.lock().contains_key(&cid.hash().to_bytes()))
    }
    fn put_parts(&self, cid: &Cid, parts: &[&[u8]]) -> Result<()> {
        self.blocks.lock().insert(cid.hash().to_bytes(), parts.concat());
        Ok(())
    }
    fn flush(&self) -> Result<()> {
        Ok(())
    }
    fn pin(&self, root: &Cid) -> Result<()> {
        self.pins.lock().insert(*root);
        Ok(())
    }
    fn unpin(&self, root: &Cid) -> Result<bool> {
        Ok(self.pins.lock().remove(root))
    }
    fn pins(&self) -> Result<Vec<Cid>> {
        Ok(self.pins.lock().iter().copied().collect())
    }
    fn gc(&self) -> Result<GcStats> {
        Ok(GcStats::default())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::{AddOptions, CidVersion};

    /// A small valid CAR: a file of several chunks under a two-level DAG.
    fn small_car(version: CidVersion) -> Vec<u8> {
        let store = Store::with_blockstore(Memory::default());
        let options = AddOptions {
            cid_version: version,
            chunk_size: 256,
            max_links: 3,
            ..AddOptions::default()
        };
        let data: Vec<u8> = (0..2000u32).map(|i| (i * 31 % 251) as u8).collect();
        let added = store.add_reader(&data[..], &options).unwrap();
        let mut car = Vec::new();
        store.export_car(&added.cid, &mut car).unwrap();
        car
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn car_import_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
            car_import(&bytes);
        }
    }

    /// Valid CARs pass the checks, and so does every single-byte corruption and every
    /// truncation of them, and of the seeds in `fuzz/corpus/car`.
    #[test]
    fn valid_cars_their_mutations_and_the_corpus() {
        let mut seeds = vec![small_car(CidVersion::V0), small_car(CidVersion::V1)];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/car");
        for f in std::fs::read_dir(&dir).expect("fuzz/corpus/car").flatten() {
            seeds.push(std::fs::read(f.path()).unwrap());
        }
        assert!(seeds.len() >= 3, "fuzz/corpus/car seeds missing");
        for car in &seeds {
            let store = Store::with_blockstore(Memory::default());
            assert!(store.import_car(&car[..]).is_ok(), "a seed CAR does not import");
            car_import(car);
            for i in 0..car.len() {
                let mut m = car.clone();
                m[i] ^= 0x41;
                car_import(&m);
                car_import(&car[..i]);
            }
        }
    }
}
