//! Where each chain's deployed contracts are: `<data-dir>/addresses/<chain-id>.json`.
//!
//! The book also records the hash of the chain's genesis block, so a devnet that was wiped
//! and restarted with the same chain id is recognised as a different chain and its stale
//! addresses are ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Deployed contract addresses of one chain.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AddressBook {
    /// Chain id.
    pub chain_id: u64,
    /// Hash of block 0, to tell a fresh devnet from the one these addresses belong to.
    pub genesis_hash: B256,
    /// Contract name → address.
    pub contracts: BTreeMap<String, Address>,
    /// Contract name → the block at or before which it was deployed: event scans start here,
    /// never at block 0 (public RPCs cap the range of `eth_getLogs`). Books written before
    /// this field existed have none; [`crate::deploy::deployment_block`] then finds it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deployed_at: BTreeMap<String, u64>,
}

impl AddressBook {
    /// The file holding the book of `chain_id` under `data_dir`.
    pub fn path(data_dir: &Path, chain_id: u64) -> PathBuf {
        data_dir.join("addresses").join(format!("{chain_id}.json"))
    }

    /// Loads the book for `chain_id`, or `None` when there is none or it belongs to a chain
    /// with another genesis.
    pub fn load(data_dir: &Path, chain_id: u64, genesis_hash: B256) -> Result<Option<Self>> {
        let path = Self::path(data_dir, chain_id);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::AddressBook { path, source }),
        };
        let book: Self = serde_json::from_str(&text)
            .map_err(|source| Error::AddressBookCorrupt { path: path.clone(), source })?;
        Ok((book.chain_id == chain_id && book.genesis_hash == genesis_hash).then_some(book))
    }

    /// Writes the book atomically (temp file + rename), so a crash leaves the old or the new.
    pub fn save(&self, data_dir: &Path) -> Result<()> {
        let path = Self::path(data_dir, self.chain_id);
        let io = |source| Error::AddressBook { path: path.clone(), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(())
    }

    /// Address of `name`, if deployed.
    pub fn get(&self, name: &str) -> Option<Address> {
        self.contracts.get(name).copied()
    }

    /// The recorded deployment block of `name`, if the book has one.
    pub fn deployed_block(&self, name: &str) -> Option<u64> {
        self.deployed_at.get(name).copied()
    }

    /// The name under which `addr` is recorded, if it is.
    pub fn name_of(&self, addr: Address) -> Option<&str> {
        self.contracts.iter().find(|(_, a)| **a == addr).map(|(n, _)| n.as_str())
    }
}
