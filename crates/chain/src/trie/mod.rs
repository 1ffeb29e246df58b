//! The Ethereum state root, kept incrementally, and the proofs of `eth_getProof`.
//!
//! State is committed to as Ethereum does: a secure account trie (keccak(address) → RLP
//! `[nonce, balance, storageRoot, codeHash]`) and one storage trie per account
//! (keccak(slot) → RLP(value)). Every node is stored in redb at its nibble path from its
//! trie's root (`account_trie` and `storage_trie`, the latter prefixed by keccak(address)),
//! so a record — a block or a cheat code — only loads and rehashes the paths of the keys it
//! changed: the storage tries of the accounts whose slots changed, then the account trie
//! for every account that changed or whose storage root did. The nodes a record writes go
//! into the same commit as its state, so the trie on disk always matches the state tables.
//!
//! An older block's trie is the current one with the block's later change sets undone in
//! a [`NodeOverlay`] (see [`StateUpdate::apply`]); `evm_revert` writes that overlay, and
//! `eth_getProof` at an old block reads through it.
//!
//! | file | what |
//! |---|---|
//! | `trie/mod.rs` | trie ids, node sources and overlays, applying state changes, account proofs |
//! | `trie/mpt.rs` | one Merkle-Patricia trie: lazy loading, insert/remove, rehashing, proof walk |

mod mpt;

use std::collections::{HashMap, HashSet};

use alloy::primitives::{keccak256, Address, Bytes, B256, KECCAK256_EMPTY, U256};
use alloy::rlp::Decodable;
use alloy_trie::{Nibbles, TrieAccount, EMPTY_ROOT_HASH};

use crate::storage::AccountRecord;
use crate::{Error, Result};

pub use mpt::NodeChanges;

/// Which trie a node belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrieId {
    /// The account trie.
    Accounts,
    /// The storage trie of the account whose address hashes to this.
    Storage(B256),
}

impl TrieId {
    /// The storage trie of `addr`.
    pub fn storage_of(addr: &Address) -> Self {
        TrieId::Storage(keccak256(addr))
    }
}

impl std::fmt::Display for TrieId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrieId::Accounts => f.write_str("account trie"),
            TrieId::Storage(h) => write!(f, "storage trie {h}"),
        }
    }
}

/// Somewhere trie nodes can be read by path.
pub trait NodeRead {
    /// The RLP of the node at `path` in trie `id`, if one is stored there.
    fn node(&self, id: TrieId, path: &Nibbles) -> Result<Option<Vec<u8>>>;
}

/// A source holding no nodes (a new chain).
pub struct NoNodes;

impl NodeRead for NoNodes {
    fn node(&self, _: TrieId, _: &Nibbles) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }
}

/// The nodes of one trie written over an older source.
#[derive(Debug, Default, Clone)]
pub struct TrieNodes {
    /// New nodes by path (`None`: deleted).
    pub nodes: HashMap<Nibbles, Option<Vec<u8>>>,
    /// Every node of the older source is gone (the storage was wiped).
    pub wiped: bool,
}

/// Node writes over an older source: the miner's cache of what is not on disk yet, a
/// batch's writes on their way to disk, or an older block's trie for a proof.
#[derive(Debug, Default, Clone)]
pub struct NodeOverlay {
    tries: HashMap<TrieId, TrieNodes>,
}

impl NodeOverlay {
    /// True when it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.tries.is_empty()
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.tries.clear();
    }

    /// Number of node writes it holds (deletions included), over every trie.
    pub fn len(&self) -> usize {
        self.tries.values().map(|t| t.nodes.len()).sum()
    }

    /// The writes, by trie.
    pub fn tries(&self) -> impl Iterator<Item = (&TrieId, &TrieNodes)> {
        self.tries.iter()
    }

    /// Deletes every node of trie `id`.
    pub fn wipe(&mut self, id: TrieId) {
        self.tries.insert(id, TrieNodes { nodes: HashMap::new(), wiped: true });
    }

    /// Records an update's node writes to trie `id`.
    pub fn apply(&mut self, id: TrieId, changes: NodeChanges) {
        let t = self.tries.entry(id).or_default();
        for path in changes.delete {
            t.nodes.insert(path, None);
        }
        for (path, rlp) in changes.put {
            t.nodes.insert(path, Some(rlp));
        }
    }

    /// Folds this (later) overlay into `earlier`: later nodes win, a wipe here discards the
    /// earlier overlay's nodes of that trie.
    pub fn merge_into(self, earlier: &mut NodeOverlay) {
        for (id, t) in self.tries {
            if t.wiped {
                earlier.tries.insert(id, t);
            } else {
                earlier.tries.entry(id).or_default().nodes.extend(t.nodes);
            }
        }
    }

    /// What this overlay says of a node: `Some(node)` if it decides, `None` to ask below.
    fn lookup(&self, id: TrieId, path: &Nibbles) -> Option<Option<&Vec<u8>>> {
        let t = self.tries.get(&id)?;
        match t.nodes.get(path) {
            Some(n) => Some(n.as_ref()),
            None => t.wiped.then_some(None),
        }
    }
}

/// An overlay read over an older source.
pub struct Layered<'a> {
    /// The newer writes.
    pub top: &'a NodeOverlay,
    /// What they were written over.
    pub below: &'a dyn NodeRead,
}

impl NodeRead for Layered<'_> {
    fn node(&self, id: TrieId, path: &Nibbles) -> Result<Option<Vec<u8>>> {
        match self.top.lookup(id, path) {
            Some(n) => Ok(n.cloned()),
            None => self.below.node(id, path),
        }
    }
}

/// State changes as the tries take them: new values, not what they replaced.
#[derive(Debug, Default)]
pub struct StateUpdate {
    /// Accounts that changed (`None`: removed).
    pub accounts: HashMap<Address, Option<AccountRecord>>,
    /// Slots that changed, by account (zero: cleared).
    pub storage: HashMap<Address, Vec<(U256, U256)>>,
    /// Accounts whose storage was wiped before `storage` applies.
    pub wiped: HashSet<Address>,
}

impl StateUpdate {
    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.storage.is_empty() && self.wiped.is_empty()
    }

    /// Applies the changes to the tries `base` holds; returns the new state root and the
    /// node writes. `account_of` gives the current record of an account whose storage
    /// changed but whose record did not.
    pub fn apply(
        &self,
        base: &dyn NodeRead,
        account_of: &mut dyn FnMut(&Address) -> Result<Option<AccountRecord>>,
    ) -> Result<(B256, NodeOverlay)> {
        let mut out = NodeOverlay::default();
        if self.is_empty() {
            return Ok((state_root(base)?, out));
        }
        for addr in &self.wiped {
            out.wipe(TrieId::storage_of(addr));
        }
        let mut roots: HashMap<Address, B256> = HashMap::with_capacity(self.storage.len());
        for (addr, slots) in &self.storage {
            let id = TrieId::storage_of(addr);
            let changes = {
                let src = Layered { top: &out, below: base };
                let mut trie = mpt::Trie::open(id, &src)?;
                for (slot, value) in slots {
                    let value = (!value.is_zero()).then(|| alloy::rlp::encode(value));
                    trie.set(&keccak256(slot.to_be_bytes::<32>()), value)?;
                }
                let (root, changes) = trie.commit()?;
                roots.insert(*addr, root);
                changes
            };
            out.apply(id, changes);
        }
        let mut touched: Vec<&Address> = self.accounts.keys().collect();
        touched.extend(self.storage.keys().filter(|a| !self.accounts.contains_key(*a)));
        touched.extend(
            self.wiped
                .iter()
                .filter(|a| !self.accounts.contains_key(*a) && !self.storage.contains_key(*a)),
        );
        let changes = {
            let src = Layered { top: &out, below: base };
            let mut trie = mpt::Trie::open(TrieId::Accounts, &src)?;
            for addr in touched {
                let rec = match self.accounts.get(addr) {
                    Some(rec) => *rec,
                    None => account_of(addr)?,
                };
                let value = match rec {
                    None => None,
                    Some(rec) => {
                        let storage_root = match roots.get(addr) {
                            Some(root) => *root,
                            None => mpt::root_of(TrieId::storage_of(addr), &src)?,
                        };
                        Some(alloy::rlp::encode(TrieAccount {
                            nonce: rec.nonce,
                            balance: rec.balance,
                            storage_root,
                            code_hash: rec.code_hash,
                        }))
                    }
                };
                trie.set(&keccak256(addr), value)?;
            }
            trie.commit()?
        };
        let root = changes.0;
        out.apply(TrieId::Accounts, changes.1);
        Ok((root, out))
    }
}

/// The state root `src` holds.
pub fn state_root(src: &dyn NodeRead) -> Result<B256> {
    mpt::root_of(TrieId::Accounts, src)
}

/// One slot's proof.
#[derive(Debug, Clone)]
pub struct SlotProof {
    /// The slot.
    pub key: B256,
    /// Its value (zero when absent).
    pub value: U256,
    /// Nodes from the storage root to the slot or to where its path ends.
    pub proof: Vec<Bytes>,
}

/// An account's proof with the proofs of some of its slots.
#[derive(Debug, Clone)]
pub struct AccountProof {
    /// Nodes from the state root to the account or to where its path ends.
    pub proof: Vec<Bytes>,
    /// The account as the trie holds it (`None`: absent).
    pub account: Option<TrieAccount>,
    /// The slots asked for, in order.
    pub storage: Vec<SlotProof>,
}

impl AccountProof {
    /// The account, or what an absent account reads as (empty code and storage).
    pub fn account_or_empty(&self) -> TrieAccount {
        self.account.unwrap_or(TrieAccount {
            nonce: 0,
            balance: U256::ZERO,
            storage_root: EMPTY_ROOT_HASH,
            code_hash: KECCAK256_EMPTY,
        })
    }
}

/// Proves `addr` and its `slots` against the tries `src` holds. The slots of an absent
/// account get empty proofs, which prove absence against the empty storage root.
pub fn prove_account(src: &dyn NodeRead, addr: &Address, slots: &[B256]) -> Result<AccountProof> {
    let (proof, leaf) = mpt::prove(TrieId::Accounts, src, &keccak256(addr))?;
    let account = leaf
        .map(|rlp| {
            TrieAccount::decode(&mut rlp.as_slice())
                .map_err(|e| Error::Corrupt(format!("account {addr} in the trie: {e}")))
        })
        .transpose()?;
    let id = TrieId::storage_of(addr);
    let mut storage = Vec::with_capacity(slots.len());
    for key in slots {
        if account.is_none() {
            storage.push(SlotProof { key: *key, value: U256::ZERO, proof: Vec::new() });
            continue;
        }
        let (proof, leaf) = mpt::prove(id, src, &keccak256(key))?;
        let value = leaf
            .map(|rlp| {
                U256::decode(&mut rlp.as_slice())
                    .map_err(|e| Error::Corrupt(format!("slot {key} of {addr} in the trie: {e}")))
            })
            .transpose()?
            .unwrap_or_default();
        storage.push(SlotProof {
            key: *key,
            value,
            proof: proof.into_iter().map(Bytes::from).collect(),
        });
    }
    Ok(AccountProof { proof: proof.into_iter().map(Bytes::from).collect(), account, storage })
}

#[cfg(test)]
mod tests;
