//! World state as the EVM sees it.
//!
//! Two views implement revm's [`Database`]:
//! - [`MinerState`] + [`MinerDb`]: the miner's write-through cache. It holds every account
//!   and slot the miner has read or written since it started, so it is always at least as
//!   new as the database (the blocks of the batch being mined are not committed yet). A key
//!   absent from the cache has not changed since start-up, so the database's value is right.
//! - [`SnapshotDb`]: a redb read snapshot (optionally rewound to an older block with
//!   change sets) for `eth_call`, `eth_estimateGas` and state queries. It never blocks the
//!   miner and never sees uncommitted state.

use std::collections::{HashMap, HashSet};

use alloy::primitives::{Address, Bytes, B256, KECCAK256_EMPTY, U256};
use revm::bytecode::Bytecode;
use revm::database_interface::DBErrorMarker;
use revm::state::{AccountInfo, EvmState};
use revm::Database;

use crate::storage::{AccountRecord, Changeset, CommitBatch, StorageReader};
use crate::trie::StateUpdate;
use crate::{Error, Result};

/// A database error surfaced through revm (which needs an error type of its own).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DbError(pub String);

impl DBErrorMarker for DbError {}

impl From<Error> for DbError {
    fn from(e: Error) -> Self {
        DbError(e.to_string())
    }
}

fn to_info(rec: AccountRecord, code: Option<Bytecode>) -> AccountInfo {
    AccountInfo {
        balance: rec.balance,
        nonce: rec.nonce,
        code_hash: rec.code_hash,
        code,
        ..Default::default()
    }
}

fn is_empty_record(rec: &AccountRecord) -> bool {
    rec.nonce == 0 && rec.balance.is_zero() && rec.code_hash == KECCAK256_EMPTY
}

#[derive(Default)]
struct CachedStorage {
    slots: HashMap<U256, U256>,
    /// Every slot is in `slots` (the account was created or wiped since start-up).
    complete: bool,
}

/// The miner's cache of world state. See the module docs for why it is always current.
#[derive(Default)]
pub struct MinerState {
    accounts: HashMap<Address, Option<AccountRecord>>,
    storage: HashMap<Address, CachedStorage>,
    code: HashMap<B256, Bytecode>,
    /// Hashes of recent blocks for BLOCKHASH, including uncommitted ones.
    block_hashes: HashMap<u64, B256>,
}

impl MinerState {
    /// Drops everything cached (after an unwind rewrote the database underneath).
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Remembers a block hash for BLOCKHASH (the last 256 are kept).
    pub fn note_block_hash(&mut self, number: u64, hash: B256) {
        self.block_hashes.insert(number, hash);
        if number >= 256 {
            self.block_hashes.remove(&(number - 256));
        }
    }

    /// The current account, reading through to `reader`.
    pub fn account(
        &mut self,
        reader: &StorageReader,
        addr: Address,
    ) -> Result<Option<AccountRecord>> {
        if let Some(a) = self.accounts.get(&addr) {
            return Ok(*a);
        }
        let a = reader.account(&addr)?;
        self.accounts.insert(addr, a);
        Ok(a)
    }

    fn slot(&mut self, reader: &StorageReader, addr: Address, key: U256) -> Result<U256> {
        let cached = self.storage.entry(addr).or_default();
        if let Some(v) = cached.slots.get(&key) {
            return Ok(*v);
        }
        let v = if cached.complete { U256::ZERO } else { reader.storage(&addr, &key)? };
        cached.slots.insert(key, v);
        Ok(v)
    }

    fn code(&mut self, reader: &StorageReader, hash: B256) -> Result<Bytecode> {
        if hash == KECCAK256_EMPTY || hash.is_zero() {
            return Ok(Bytecode::default());
        }
        if let Some(c) = self.code.get(&hash) {
            return Ok(c.clone());
        }
        let bytes = reader
            .code(&hash)?
            .ok_or_else(|| Error::Corrupt(format!("code {hash} referenced but not stored")))?;
        let code = Bytecode::new_raw(bytes);
        self.code.insert(hash, code.clone());
        Ok(code)
    }

    /// Applies one record's state changes: updates the cache, appends what was overwritten
    /// to `changeset` and the new values to `diff`.
    pub fn apply(
        &mut self,
        reader: &StorageReader,
        changes: EvmState,
        changeset: &mut Changeset,
        diff: &mut StateDiff,
    ) -> Result<()> {
        for (addr, account) in changes {
            if !account.is_touched() {
                continue;
            }
            let old = self.account(reader, addr)?;
            if account.is_selfdestructed() || account.is_created() {
                self.wipe_storage(reader, addr, changeset, diff)?;
            }
            let new = if account.is_selfdestructed() {
                None
            } else {
                let mut code_hash = account.info.code_hash;
                if let Some(code) = &account.info.code {
                    if !code.is_empty() {
                        if code_hash == KECCAK256_EMPTY || code_hash.is_zero() {
                            code_hash = code.hash_slow();
                        }
                        if let std::collections::hash_map::Entry::Vacant(e) =
                            self.code.entry(code_hash)
                        {
                            diff.code.insert(code_hash, code.original_bytes());
                            e.insert(code.clone());
                        }
                    }
                }
                if code_hash.is_zero() {
                    code_hash = KECCAK256_EMPTY;
                }
                let rec = AccountRecord {
                    nonce: account.info.nonce,
                    balance: account.info.balance,
                    code_hash,
                };
                // EIP-161: a touched account left empty is removed.
                (!is_empty_record(&rec)).then_some(rec)
            };
            if new != old {
                changeset.accounts.push((addr, old));
                self.accounts.insert(addr, new);
                diff.accounts.insert(addr, new);
            }
            if account.is_selfdestructed() {
                continue;
            }
            for (key, slot) in account.storage {
                if !slot.is_changed() {
                    continue;
                }
                let before = self.slot(reader, addr, key)?;
                let after = slot.present_value();
                if before != after {
                    changeset.storage.push((addr, key, before));
                    self.storage.entry(addr).or_default().slots.insert(key, after);
                    diff.storage.insert((addr, key), after);
                }
            }
        }
        Ok(())
    }

    /// Sets an account directly (cheat codes such as `anvil_setBalance`), recording the change.
    pub fn set_account(
        &mut self,
        reader: &StorageReader,
        addr: Address,
        new: Option<AccountRecord>,
        changeset: &mut Changeset,
        diff: &mut StateDiff,
    ) -> Result<()> {
        let old = self.account(reader, addr)?;
        if old != new {
            changeset.accounts.push((addr, old));
            self.accounts.insert(addr, new);
            diff.accounts.insert(addr, new);
        }
        Ok(())
    }

    /// Sets a storage slot directly (`anvil_setStorageAt`), recording the change.
    pub fn set_slot(
        &mut self,
        reader: &StorageReader,
        addr: Address,
        key: U256,
        value: U256,
        changeset: &mut Changeset,
        diff: &mut StateDiff,
    ) -> Result<()> {
        let before = self.slot(reader, addr, key)?;
        if before != value {
            changeset.storage.push((addr, key, before));
            self.storage.entry(addr).or_default().slots.insert(key, value);
            diff.storage.insert((addr, key), value);
        }
        Ok(())
    }

    /// Stores code (`anvil_setCode`) and returns its hash.
    pub fn put_code(&mut self, code: Bytes, diff: &mut StateDiff) -> B256 {
        let bytecode = Bytecode::new_raw(code.clone());
        let hash = bytecode.hash_slow();
        if code.is_empty() {
            return KECCAK256_EMPTY;
        }
        if let std::collections::hash_map::Entry::Vacant(e) = self.code.entry(hash) {
            diff.code.insert(hash, code);
            e.insert(bytecode);
        }
        hash
    }

    fn wipe_storage(
        &mut self,
        reader: &StorageReader,
        addr: Address,
        changeset: &mut Changeset,
        diff: &mut StateDiff,
    ) -> Result<()> {
        let cached = self.storage.entry(addr).or_default();
        let mut current: HashMap<U256, U256> = HashMap::new();
        if !cached.complete {
            current.extend(reader.storage_of(&addr)?);
        }
        current.extend(cached.slots.iter().map(|(k, v)| (*k, *v)));
        for (key, value) in current {
            if !value.is_zero() {
                changeset.storage.push((addr, key, value));
            }
        }
        *cached = CachedStorage { slots: HashMap::new(), complete: true };
        diff.storage.retain(|(a, _), _| *a != addr);
        diff.wiped.insert(addr);
        Ok(())
    }

    /// A revm database over this cache for one execution.
    pub fn db<'a>(&'a mut self, reader: &'a StorageReader) -> MinerDb<'a> {
        MinerDb { state: self, reader }
    }
}

/// New values accumulated over a batch, written by one commit.
#[derive(Default, Debug, Clone)]
pub struct StateDiff {
    accounts: HashMap<Address, Option<AccountRecord>>,
    storage: HashMap<(Address, U256), U256>,
    wiped: HashSet<Address>,
    code: HashMap<B256, Bytes>,
}

impl StateDiff {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
            && self.storage.is_empty()
            && self.wiped.is_empty()
            && self.code.is_empty()
    }

    /// Folds this (later) diff into `earlier`: later values win, and a wipe here discards
    /// the earlier diff's slots of that account.
    pub fn merge_into(self, earlier: &mut StateDiff) {
        for addr in &self.wiped {
            earlier.storage.retain(|(a, _), _| a != addr);
            earlier.wiped.insert(*addr);
        }
        earlier.accounts.extend(self.accounts);
        earlier.storage.extend(self.storage);
        earlier.code.extend(self.code);
    }

    /// Moves the accumulated values into `batch`.
    pub fn drain_into(&mut self, batch: &mut CommitBatch) {
        batch.accounts.extend(self.accounts.drain());
        batch.storage.extend(self.storage.drain().map(|((a, k), v)| (a, k, v)));
        batch.wiped.extend(self.wiped.drain());
        batch.code.extend(self.code.drain());
    }

    /// These changes as the tries take them.
    pub fn trie_update(&self) -> StateUpdate {
        let mut storage: HashMap<Address, Vec<(U256, U256)>> = HashMap::new();
        for ((addr, key), value) in &self.storage {
            storage.entry(*addr).or_default().push((*key, *value));
        }
        StateUpdate { accounts: self.accounts.clone(), storage, wiped: self.wiped.clone() }
    }

    /// A commitment to these changes, chained into the block's state root when the node
    /// runs without Merkle-Patricia roots.
    pub fn digest(&self) -> B256 {
        let mut accounts: Vec<_> = self.accounts.iter().collect();
        accounts.sort_by_key(|(a, _)| **a);
        let mut storage: Vec<_> = self.storage.iter().collect();
        storage.sort_by_key(|(k, _)| **k);
        let mut buf = Vec::with_capacity(accounts.len() * 93 + storage.len() * 84);
        for (addr, rec) in accounts {
            buf.extend_from_slice(addr.as_slice());
            if let Some(r) = rec {
                buf.extend_from_slice(&r.nonce.to_be_bytes());
                buf.extend_from_slice(&r.balance.to_be_bytes::<32>());
                buf.extend_from_slice(r.code_hash.as_slice());
            }
        }
        for ((addr, key), value) in storage {
            buf.extend_from_slice(addr.as_slice());
            buf.extend_from_slice(&key.to_be_bytes::<32>());
            buf.extend_from_slice(&value.to_be_bytes::<32>());
        }
        alloy::primitives::keccak256(&buf)
    }
}

/// revm database over the miner's cache.
pub struct MinerDb<'a> {
    state: &'a mut MinerState,
    reader: &'a StorageReader,
}

impl Database for MinerDb<'_> {
    type Error = DbError;

    fn basic(&mut self, address: Address) -> std::result::Result<Option<AccountInfo>, DbError> {
        let Some(rec) = self.state.account(self.reader, address)? else { return Ok(None) };
        let code = self.state.code(self.reader, rec.code_hash)?;
        Ok(Some(to_info(rec, Some(code))))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> std::result::Result<Bytecode, DbError> {
        Ok(self.state.code(self.reader, code_hash)?)
    }

    fn storage(&mut self, address: Address, index: U256) -> std::result::Result<U256, DbError> {
        Ok(self.state.slot(self.reader, address, index)?)
    }

    fn block_hash(&mut self, number: u64) -> std::result::Result<B256, DbError> {
        if let Some(h) = self.state.block_hashes.get(&number) {
            return Ok(*h);
        }
        Ok(self.reader.header(number)?.map(|h| h.hash_slow()).unwrap_or_default())
    }
}

/// Old values that rewind the committed state to an earlier block.
#[derive(Default)]
pub struct Rewind {
    accounts: HashMap<Address, Option<AccountRecord>>,
    storage: HashMap<(Address, U256), U256>,
}

impl Rewind {
    /// Builds the overlay from change sets newer than the target block, ascending: the first
    /// value recorded for a key after the target is the value the key had at the target.
    pub fn from_changesets(changesets: Vec<(u64, Changeset)>) -> Self {
        let mut r = Rewind::default();
        for (_, cs) in changesets {
            for (addr, rec) in cs.accounts {
                r.accounts.entry(addr).or_insert(rec);
            }
            for (addr, key, value) in cs.storage {
                r.storage.entry((addr, key)).or_insert(value);
            }
        }
        r
    }
}

impl Rewind {
    /// The old values as a trie update: applied to the current tries, it gives the tries
    /// of the state this overlay rewinds to.
    pub fn trie_update(&self) -> StateUpdate {
        let mut storage: HashMap<Address, Vec<(U256, U256)>> = HashMap::new();
        for ((addr, key), value) in &self.storage {
            storage.entry(*addr).or_default().push((*key, *value));
        }
        StateUpdate { accounts: self.accounts.clone(), storage, wiped: HashSet::new() }
    }

    /// Number of accounts and slots it rewinds.
    pub fn len(&self) -> usize {
        self.accounts.len() + self.storage.len()
    }

    /// True when it rewinds nothing.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.storage.is_empty()
    }
}

/// revm database over a committed snapshot, optionally rewound to an earlier block.
pub struct SnapshotDb<'a> {
    reader: &'a StorageReader,
    rewind: Option<&'a Rewind>,
}

impl<'a> SnapshotDb<'a> {
    /// A view of `reader`, rewound by `rewind` if given.
    pub fn new(reader: &'a StorageReader, rewind: Option<&'a Rewind>) -> Self {
        Self { reader, rewind }
    }

    /// The account at this view.
    pub fn account(&self, addr: &Address) -> Result<Option<AccountRecord>> {
        if let Some(a) = self.rewind.and_then(|r| r.accounts.get(addr)) {
            return Ok(*a);
        }
        self.reader.account(addr)
    }

    /// A storage slot at this view.
    pub fn slot(&self, addr: &Address, key: &U256) -> Result<U256> {
        if let Some(v) = self.rewind.and_then(|r| r.storage.get(&(*addr, *key))) {
            return Ok(*v);
        }
        self.reader.storage(addr, key)
    }

    /// Code bytes by hash.
    pub fn code(&self, hash: &B256) -> Result<Bytes> {
        if *hash == KECCAK256_EMPTY || hash.is_zero() {
            return Ok(Bytes::new());
        }
        self.reader.code(hash)?.ok_or_else(|| Error::Corrupt(format!("code {hash} not stored")))
    }
}

impl Database for SnapshotDb<'_> {
    type Error = DbError;

    fn basic(&mut self, address: Address) -> std::result::Result<Option<AccountInfo>, DbError> {
        let Some(rec) = self.account(&address)? else { return Ok(None) };
        let code = Bytecode::new_raw(self.code(&rec.code_hash)?);
        Ok(Some(to_info(rec, Some(code))))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> std::result::Result<Bytecode, DbError> {
        Ok(Bytecode::new_raw(self.code(&code_hash)?))
    }

    fn storage(&mut self, address: Address, index: U256) -> std::result::Result<U256, DbError> {
        Ok(self.slot(&address, &index)?)
    }

    fn block_hash(&mut self, number: u64) -> std::result::Result<B256, DbError> {
        Ok(self.reader.header(number)?.map(|h| h.hash_slow()).unwrap_or_default())
    }
}
