//! Durable chain data in redb: blocks, transactions, receipts, state, and the change sets
//! that let `evm_revert` unwind history.
//!
//! Every mutation arrives as one [`CommitBatch`] — possibly many blocks — and is written in
//! one redb write transaction with `Durability::Immediate`, so a batch is either entirely on
//! disk or not at all, and one fsync covers every block in it (group commit). Readers open
//! redb read transactions, which see a consistent snapshot of what has been committed and
//! never what is still being mined. The trie nodes behind the state root (see
//! [`crate::trie`]) are written in the same transaction as the state they commit to.
//!
//! Values are small fixed layouts (or RLP for consensus types) rather than a generic
//! serializer: the write path runs once per transaction and is benchmarked.
//!
//! The address-history indexes (schema 3) are written with the blocks they index, so a
//! block and its entries are durable together and `evm_revert` removes both:
//!
//! | table | key | value | answers |
//! |---|---|---|---|
//! | `address_txs` | address ‖ block ‖ index | tx hash | `ots_searchTransactionsBefore`/`After` |
//! | `sender_nonces` | sender ‖ nonce ‖ block ‖ index | tx hash | `ots_getTransactionBySenderAndNonce` |
//! | `creations` | contract ‖ block ‖ index | creator ‖ tx hash | `ots_getContractCreator` |
//! | `block_appearances` | block | each transaction's [`Appearances`] | removing a block's entries |
//!
//! Numbers in keys are big-endian, so each address's entries sort in chain order and a page
//! of its history is one range read. What a transaction is indexed under is described in
//! [`crate::history`].

use std::path::Path;

use alloy::consensus::{Header, ReceiptEnvelope, Transaction as _, TxEnvelope};
use alloy::eips::eip2718::{Decodable2718, Encodable2718};
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::rlp::{Decodable, Encodable};
use alloy_trie::Nibbles;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::history::Appearances;
use crate::trie::{NodeOverlay, NodeRead, TrieId};
use crate::{Error, Result};

const HEADERS: TableDefinition<u64, &[u8]> = TableDefinition::new("headers");
const BODIES: TableDefinition<u64, &[u8]> = TableDefinition::new("bodies");
const BLOCK_SEQ: TableDefinition<u64, u64> = TableDefinition::new("block_seq");
const HASH_TO_NUMBER: TableDefinition<&[u8; 32], u64> = TableDefinition::new("hash_to_number");
const TXS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("txs");
const RECEIPTS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("receipts");
const ACCOUNTS: TableDefinition<&[u8; 20], &[u8]> = TableDefinition::new("accounts");
const STORAGE: TableDefinition<&[u8; 52], &[u8; 32]> = TableDefinition::new("storage");
const CODE: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("code");
const CHANGESETS: TableDefinition<u64, &[u8]> = TableDefinition::new("changesets");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Account-trie nodes by nibble path (one byte a nibble).
const ACCOUNT_TRIE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("account_trie");
/// Storage-trie nodes by keccak(address) followed by the nibble path.
const STORAGE_TRIE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("storage_trie");
/// Transactions by the addresses they appear in: address ‖ block ‖ index → hash.
const ADDRESS_TXS: TableDefinition<&[u8; 32], &[u8; 32]> = TableDefinition::new("address_txs");
/// Transactions by sender and nonce: sender ‖ nonce ‖ block ‖ index → hash (a nonce set
/// back with `anvil_setNonce` can be used twice; the newest use is the answer).
const SENDER_NONCES: TableDefinition<&[u8; 40], &[u8; 32]> = TableDefinition::new("sender_nonces");
/// Contract creations: contract ‖ block ‖ index → creator ‖ hash.
const CREATIONS: TableDefinition<&[u8; 32], &[u8; 52]> = TableDefinition::new("creations");
/// Each block's transactions' [`Appearances`], to remove exactly its index entries.
const BLOCK_APPEARANCES: TableDefinition<u64, &[u8]> = TableDefinition::new("block_appearances");

/// Layout version of the database; bump when a table's encoding changes.
/// Version 2: Merkle-Patricia state roots and the trie node tables.
/// Version 3: the address-history indexes (`address_txs`, `sender_nonces`, `creations`,
/// `block_appearances`).
const SCHEMA_VERSION: u64 = 3;

/// What each older layout lacks, for the error that refuses it.
fn schema_change_since(version: u64) -> &'static str {
    match version {
        0 | 1 => "Merkle-Patricia state roots and the address-history indexes of ots_*",
        2 => {
            "the address-history indexes of ots_* (ots_searchTransactionsBefore/After, \
              ots_getContractCreator, ots_getTransactionBySenderAndNonce), which are built as \
              blocks are mined and cannot be added to an existing chain"
        }
        _ => "a layout this build does not know (the directory was written by a newer build)",
    }
}

/// An account's state, without storage and code bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountRecord {
    /// Transaction count.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// keccak256 of the code (`KECCAK_EMPTY` for none).
    pub code_hash: B256,
}

impl AccountRecord {
    const LEN: usize = 8 + 32 + 32;

    fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[..8].copy_from_slice(&self.nonce.to_be_bytes());
        out[8..40].copy_from_slice(&self.balance.to_be_bytes::<32>());
        out[40..].copy_from_slice(self.code_hash.as_slice());
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != Self::LEN {
            return Err(Error::Corrupt(format!("account record of {} bytes", bytes.len())));
        }
        Ok(Self {
            nonce: u64::from_be_bytes(
                Reader(bytes)
                    .array()
                    .ok_or_else(|| Error::Corrupt("account record too short".into()))?,
            ),
            balance: U256::from_be_slice(&bytes[8..40]),
            code_hash: B256::from_slice(&bytes[40..]),
        })
    }
}

/// A mined transaction with where it landed.
#[derive(Debug, Clone)]
pub struct StoredTx {
    /// The signed transaction.
    pub envelope: TxEnvelope,
    /// Recovered sender.
    pub sender: Address,
    /// Block number.
    pub block_number: u64,
    /// Index in the block.
    pub index: u64,
}

impl StoredTx {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(36 + self.envelope.encode_2718_len());
        out.extend_from_slice(&self.block_number.to_be_bytes());
        out.extend_from_slice(&(self.index as u32).to_be_bytes());
        out.extend_from_slice(self.sender.as_slice());
        self.envelope.encode_2718(&mut out);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < 32 {
            return Err(Error::Corrupt("transaction record too short".into()));
        }
        let mut rest = &bytes[32..];
        let envelope = TxEnvelope::decode_2718(&mut rest)
            .map_err(|e| Error::Corrupt(format!("stored transaction: {e}")))?;
        let short = || Error::Corrupt("transaction record too short".into());
        let mut r = Reader(bytes);
        Ok(Self {
            block_number: u64::from_be_bytes(r.array().ok_or_else(short)?),
            index: u32::from_be_bytes(r.array().ok_or_else(short)?) as u64,
            sender: Address::from(r.array::<20>().ok_or_else(short)?),
            envelope,
        })
    }
}

/// A receipt with the fields the RPC needs that the consensus receipt lacks.
#[derive(Debug, Clone)]
pub struct StoredReceipt {
    /// The consensus receipt (status, cumulative gas, logs, bloom).
    pub receipt: ReceiptEnvelope,
    /// Gas used by this transaction alone.
    pub gas_used: u64,
    /// Price per gas actually paid.
    pub effective_gas_price: u128,
    /// Sender.
    pub from: Address,
    /// Recipient (`None` for contract creation).
    pub to: Option<Address>,
    /// Address of the contract created, if any.
    pub contract_address: Option<Address>,
    /// Index of this receipt's first log within the block.
    pub first_log_index: u64,
}

impl StoredReceipt {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.receipt.encode_2718_len());
        out.extend_from_slice(&self.gas_used.to_be_bytes());
        out.extend_from_slice(&self.effective_gas_price.to_be_bytes());
        out.extend_from_slice(self.from.as_slice());
        put_opt_address(&mut out, self.to);
        put_opt_address(&mut out, self.contract_address);
        out.extend_from_slice(&(self.first_log_index as u32).to_be_bytes());
        self.receipt.encode_2718(&mut out);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        let corrupt = || Error::Corrupt("receipt record too short".into());
        let mut r = Reader(bytes);
        let gas_used = u64::from_be_bytes(r.array::<8>().ok_or_else(corrupt)?);
        let effective_gas_price = u128::from_be_bytes(r.array::<16>().ok_or_else(corrupt)?);
        let from = Address::from_slice(r.take(20).ok_or_else(corrupt)?);
        let to = r.opt_address().ok_or_else(corrupt)?;
        let contract_address = r.opt_address().ok_or_else(corrupt)?;
        let first_log_index = u32::from_be_bytes(r.array::<4>().ok_or_else(corrupt)?) as u64;
        let mut rest = r.0;
        let receipt = ReceiptEnvelope::decode_2718(&mut rest)
            .map_err(|e| Error::Corrupt(format!("stored receipt: {e}")))?;
        Ok(Self {
            receipt,
            gas_used,
            effective_gas_price,
            from,
            to,
            contract_address,
            first_log_index,
        })
    }
}

fn put_opt_address(out: &mut Vec<u8>, a: Option<Address>) {
    match a {
        Some(a) => {
            out.push(1);
            out.extend_from_slice(a.as_slice());
        }
        None => out.push(0),
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// The next `N` bytes as an array.
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn opt_address(&mut self) -> Option<Option<Address>> {
        match self.take(1)?[0] {
            0 => Some(None),
            _ => Some(Some(Address::from_slice(self.take(20)?))),
        }
    }
}

/// What one state-changing record (a block, or a cheat such as `anvil_setBalance`)
/// overwrote: enough to put the state back as it was.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changeset {
    /// The block this record produced, if it was a block.
    pub block: Option<u64>,
    /// Accounts as they were before (`None`: did not exist).
    pub accounts: Vec<(Address, Option<AccountRecord>)>,
    /// Storage slots as they were before (zero: empty).
    pub storage: Vec<(Address, U256, U256)>,
}

impl Changeset {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            9 + self.accounts.len() * (21 + AccountRecord::LEN) + self.storage.len() * 85,
        );
        match self.block {
            Some(n) => {
                out.push(1);
                out.extend_from_slice(&n.to_be_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&(self.accounts.len() as u32).to_be_bytes());
        for (addr, rec) in &self.accounts {
            out.extend_from_slice(addr.as_slice());
            match rec {
                Some(r) => {
                    out.push(1);
                    out.extend_from_slice(&r.encode());
                }
                None => out.push(0),
            }
        }
        out.extend_from_slice(&(self.storage.len() as u32).to_be_bytes());
        for (addr, key, val) in &self.storage {
            out.extend_from_slice(addr.as_slice());
            out.extend_from_slice(&key.to_be_bytes::<32>());
            out.extend_from_slice(&val.to_be_bytes::<32>());
        }
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        let corrupt = || Error::Corrupt("change set truncated".into());
        let mut r = Reader(bytes);
        let block = match r.take(1).ok_or_else(corrupt)?[0] {
            0 => None,
            _ => Some(u64::from_be_bytes(r.array::<8>().ok_or_else(corrupt)?)),
        };
        let n = u32::from_be_bytes(r.array::<4>().ok_or_else(corrupt)?);
        // Never trust a stored count for an allocation: bound it by the bytes left.
        let mut accounts = Vec::with_capacity((n as usize).min(r.0.len() / 21));
        for _ in 0..n {
            let addr = Address::from_slice(r.take(20).ok_or_else(corrupt)?);
            let rec = match r.take(1).ok_or_else(corrupt)?[0] {
                0 => None,
                _ => Some(AccountRecord::decode(r.take(AccountRecord::LEN).ok_or_else(corrupt)?)?),
            };
            accounts.push((addr, rec));
        }
        let n = u32::from_be_bytes(r.array::<4>().ok_or_else(corrupt)?);
        let mut storage = Vec::with_capacity((n as usize).min(r.0.len() / 84));
        for _ in 0..n {
            let addr = Address::from_slice(r.take(20).ok_or_else(corrupt)?);
            let key = U256::from_be_slice(r.take(32).ok_or_else(corrupt)?);
            let val = U256::from_be_slice(r.take(32).ok_or_else(corrupt)?);
            storage.push((addr, key, val));
        }
        Ok(Self { block, accounts, storage })
    }
}

/// A block as the miner produced it, ready to be written.
#[derive(Debug, Clone)]
pub struct BlockRecord {
    /// Sealed header.
    pub header: Header,
    /// keccak256 of the RLP header.
    pub hash: B256,
    /// Transactions in block order.
    pub txs: Vec<(B256, StoredTx)>,
    /// Receipts in block order (same length as `txs`).
    pub receipts: Vec<StoredReceipt>,
    /// What each transaction adds to the address-history indexes, in block order (same
    /// length as `txs`).
    pub appearances: Vec<Appearances>,
}

/// Encodes a block's [`Appearances`]: per transaction, a count and the addresses, then a
/// count and the `(contract, creator)` pairs.
fn encode_appearances(all: &[Appearances]) -> Vec<u8> {
    let len = all.iter().map(|a| 8 + 20 * a.addresses.len() + 40 * a.creations.len()).sum();
    let mut out = Vec::with_capacity(len);
    for a in all {
        out.extend_from_slice(&(a.addresses.len() as u32).to_be_bytes());
        for addr in &a.addresses {
            out.extend_from_slice(addr.as_slice());
        }
        out.extend_from_slice(&(a.creations.len() as u32).to_be_bytes());
        for (contract, creator) in &a.creations {
            out.extend_from_slice(contract.as_slice());
            out.extend_from_slice(creator.as_slice());
        }
    }
    out
}

fn decode_appearances(bytes: &[u8]) -> Result<Vec<Appearances>> {
    let corrupt = || Error::Corrupt("block appearances truncated".into());
    let mut r = Reader(bytes);
    let mut all = Vec::new();
    while !r.0.is_empty() {
        let n = u32::from_be_bytes(r.array().ok_or_else(corrupt)?) as usize;
        // Never trust a stored count for an allocation: bound it by the bytes left.
        let mut addresses = Vec::with_capacity(n.min(r.0.len() / 20));
        for _ in 0..n {
            addresses.push(Address::from(r.array::<20>().ok_or_else(corrupt)?));
        }
        let n = u32::from_be_bytes(r.array().ok_or_else(corrupt)?) as usize;
        let mut creations = Vec::with_capacity(n.min(r.0.len() / 40));
        for _ in 0..n {
            let contract = Address::from(r.array::<20>().ok_or_else(corrupt)?);
            let creator = Address::from(r.array::<20>().ok_or_else(corrupt)?);
            creations.push((contract, creator));
        }
        all.push(Appearances { addresses, creations });
    }
    Ok(all)
}

/// `address ‖ block ‖ index`, the key of `address_txs` and `creations`.
fn history_key(addr: &Address, block: u64, index: u32) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..20].copy_from_slice(addr.as_slice());
    k[20..28].copy_from_slice(&block.to_be_bytes());
    k[28..].copy_from_slice(&index.to_be_bytes());
    k
}

/// `sender ‖ nonce ‖ block ‖ index`, the key of `sender_nonces`.
fn sender_nonce_key(sender: &Address, nonce: u64, block: u64, index: u32) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..20].copy_from_slice(sender.as_slice());
    k[20..28].copy_from_slice(&nonce.to_be_bytes());
    k[28..36].copy_from_slice(&block.to_be_bytes());
    k[36..].copy_from_slice(&index.to_be_bytes());
    k
}

/// Block and index of a `history_key`.
fn history_key_position(key: &[u8; 32]) -> (u64, u32) {
    let mut block = [0u8; 8];
    block.copy_from_slice(&key[20..28]);
    let mut index = [0u8; 4];
    index.copy_from_slice(&key[28..]);
    (u64::from_be_bytes(block), u32::from_be_bytes(index))
}

/// The address-history tables of one write transaction.
struct HistoryTables<'txn> {
    by_address: redb::Table<'txn, &'static [u8; 32], &'static [u8; 32]>,
    by_sender_nonce: redb::Table<'txn, &'static [u8; 40], &'static [u8; 32]>,
    creations: redb::Table<'txn, &'static [u8; 32], &'static [u8; 52]>,
    blocks: redb::Table<'txn, u64, &'static [u8]>,
}

impl<'txn> HistoryTables<'txn> {
    fn open(txn: &'txn redb::WriteTransaction) -> Result<Self> {
        Ok(Self {
            by_address: txn.open_table(ADDRESS_TXS).map_err(db_err)?,
            by_sender_nonce: txn.open_table(SENDER_NONCES).map_err(db_err)?,
            creations: txn.open_table(CREATIONS).map_err(db_err)?,
            blocks: txn.open_table(BLOCK_APPEARANCES).map_err(db_err)?,
        })
    }

    /// Indexes the transactions of `block`.
    fn add(&mut self, block: &BlockRecord) -> Result<()> {
        let n = block.header.number;
        for (i, (hash, tx)) in block.txs.iter().enumerate() {
            let index = tx.index as u32;
            let nonce = tx.envelope.nonce();
            self.by_sender_nonce
                .insert(&sender_nonce_key(&tx.sender, nonce, n, index), &hash.0)
                .map_err(db_err)?;
            let Some(appearances) = block.appearances.get(i) else { continue };
            for addr in &appearances.addresses {
                self.by_address.insert(&history_key(addr, n, index), &hash.0).map_err(db_err)?;
            }
            for (contract, creator) in &appearances.creations {
                let mut value = [0u8; 52];
                value[..20].copy_from_slice(creator.as_slice());
                value[20..].copy_from_slice(hash.as_slice());
                self.creations.insert(&history_key(contract, n, index), &value).map_err(db_err)?;
            }
        }
        if !block.txs.is_empty() {
            self.blocks
                .insert(n, encode_appearances(&block.appearances).as_slice())
                .map_err(db_err)?;
        }
        Ok(())
    }

    /// Removes the entries of block `n`, whose transactions are `txs`.
    fn remove(&mut self, n: u64, txs: &[StoredTx]) -> Result<()> {
        let appearances = match self.blocks.remove(n).map_err(db_err)? {
            Some(v) => decode_appearances(v.value())?,
            None => Vec::new(),
        };
        for tx in txs {
            let index = tx.index as u32;
            let key = sender_nonce_key(&tx.sender, tx.envelope.nonce(), n, index);
            self.by_sender_nonce.remove(&key).map_err(db_err)?;
            let Some(a) = appearances.get(tx.index as usize) else { continue };
            for addr in &a.addresses {
                self.by_address.remove(&history_key(addr, n, index)).map_err(db_err)?;
            }
            for (contract, _) in &a.creations {
                self.creations.remove(&history_key(contract, n, index)).map_err(db_err)?;
            }
        }
        Ok(())
    }
}

/// One page of an address's history (see [`StorageReader::address_history`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryPage {
    /// Hashes of the transactions, in the order walked.
    pub txs: Vec<B256>,
    /// More transactions of the address lie beyond the page in the direction walked.
    pub more: bool,
}

/// Everything one group commit writes.
#[derive(Debug, Default)]
pub struct CommitBatch {
    /// New blocks in ascending order.
    pub blocks: Vec<BlockRecord>,
    /// Final account values (`None`: deleted).
    pub accounts: Vec<(Address, Option<AccountRecord>)>,
    /// Final storage values (zero: deleted).
    pub storage: Vec<(Address, U256, U256)>,
    /// Accounts whose whole stored storage must be cleared before `storage` is applied.
    pub wiped: Vec<Address>,
    /// New code by hash.
    pub code: Vec<(B256, Bytes)>,
    /// Change sets keyed by record sequence number, ascending.
    pub changesets: Vec<(u64, Changeset)>,
    /// Metadata to set (head, sequence, clock).
    pub meta: Vec<(&'static str, Vec<u8>)>,
    /// Trie nodes written by the batch's records.
    pub trie: NodeOverlay,
}

/// Metadata keys.
pub mod meta {
    /// Number of the head block.
    pub const HEAD: &str = "head";
    /// Sequence number of the newest change set.
    pub const LAST_SEQ: &str = "last_seq";
    /// Seconds added to the wall clock for new block timestamps (`evm_increaseTime`).
    pub const TIME_OFFSET: &str = "time_offset";
    /// Chain id the database was created with.
    pub const CHAIN_ID: &str = "chain_id";
    /// Layout version.
    pub const SCHEMA: &str = "schema";
    /// 1 when headers carry Merkle-Patricia state roots (and the tries are kept), 0 when
    /// they carry the chained digest of state changes.
    pub const MERKLE_ROOT: &str = "merkle_root";
}

/// The chain database.
pub struct Storage {
    db: redb::Database,
}

/// Writes one account (or deletes it, for `None`): the same in a commit and an unwind.
fn put_account(
    accounts: &mut redb::Table<&'static [u8; 20], &'static [u8]>,
    addr: &Address,
    rec: Option<&AccountRecord>,
) -> Result<()> {
    match rec {
        Some(r) => accounts.insert(&addr.0 .0, r.encode().as_slice()).map(drop),
        None => accounts.remove(&addr.0 .0).map(drop),
    }
    .map_err(db_err)
}

/// Writes one storage slot; zero deletes it (an absent slot reads as zero).
fn put_slot(
    storage: &mut redb::Table<&'static [u8; 52], &'static [u8; 32]>,
    addr: &Address,
    slot: &U256,
    value: &U256,
) -> Result<()> {
    let key = storage_key(addr, slot);
    if value.is_zero() {
        storage.remove(&key).map(drop)
    } else {
        storage.insert(&key, &value.to_be_bytes::<32>()).map(drop)
    }
    .map_err(db_err)
}

/// The key of a trie node in its table.
fn trie_key(id: TrieId, path: &Nibbles) -> Vec<u8> {
    match id {
        TrieId::Accounts => path.to_vec(),
        TrieId::Storage(owner) => {
            let mut k = Vec::with_capacity(32 + path.len());
            k.extend_from_slice(owner.as_slice());
            k.extend(path.to_vec());
            k
        }
    }
}

/// Writes trie nodes (wiped tries first, as their later nodes are in the overlay).
fn write_trie(txn: &redb::WriteTransaction, trie: &NodeOverlay) -> Result<()> {
    if trie.is_empty() {
        return Ok(());
    }
    let mut accounts = txn.open_table(ACCOUNT_TRIE).map_err(db_err)?;
    let mut storage = txn.open_table(STORAGE_TRIE).map_err(db_err)?;
    for (id, t) in trie.tries() {
        let table = match id {
            TrieId::Accounts => &mut accounts,
            TrieId::Storage(owner) => {
                if t.wiped {
                    let lo = owner.to_vec();
                    let mut hi = owner.to_vec();
                    // Path bytes are nibbles (< 0x10), so every key of this trie sorts below.
                    hi.push(0x10);
                    storage
                        .retain_in::<&[u8], _>(lo.as_slice()..hi.as_slice(), |_, _| false)
                        .map_err(db_err)?;
                }
                &mut storage
            }
        };
        for (path, node) in &t.nodes {
            let key = trie_key(*id, path);
            match node {
                Some(rlp) => table.insert(key.as_slice(), rlp.as_slice()).map(drop),
                None => table.remove(key.as_slice()).map(drop),
            }
            .map_err(db_err)?;
        }
    }
    Ok(())
}

fn storage_key(addr: &Address, slot: &U256) -> [u8; 52] {
    let mut k = [0u8; 52];
    k[..20].copy_from_slice(addr.as_slice());
    k[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    k
}

impl Storage {
    /// Opens (or creates) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::Io(dir.to_path_buf(), e))?;
        }
        let db =
            redb::Database::builder().set_cache_size(256 << 20).create(path).map_err(
                |e| match e {
                    redb::DatabaseError::DatabaseAlreadyOpen => {
                        Error::AlreadyOpen(path.to_path_buf())
                    }
                    e => Error::Db(e.into()),
                },
            )?;
        Self::init(db)
    }

    /// An in-memory database (for `--ephemeral` and tests).
    pub fn in_memory() -> Result<Self> {
        let db = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| Error::Db(e.into()))?;
        Self::init(db)
    }

    fn init(db: redb::Database) -> Result<Self> {
        let txn = db.begin_write().map_err(db_err)?;
        {
            // Create every table so read transactions never meet a missing one.
            txn.open_table(HEADERS).map_err(db_err)?;
            txn.open_table(BODIES).map_err(db_err)?;
            txn.open_table(BLOCK_SEQ).map_err(db_err)?;
            txn.open_table(HASH_TO_NUMBER).map_err(db_err)?;
            txn.open_table(TXS).map_err(db_err)?;
            txn.open_table(RECEIPTS).map_err(db_err)?;
            txn.open_table(ACCOUNTS).map_err(db_err)?;
            txn.open_table(STORAGE).map_err(db_err)?;
            txn.open_table(CODE).map_err(db_err)?;
            txn.open_table(CHANGESETS).map_err(db_err)?;
            txn.open_table(ACCOUNT_TRIE).map_err(db_err)?;
            txn.open_table(STORAGE_TRIE).map_err(db_err)?;
            txn.open_table(ADDRESS_TXS).map_err(db_err)?;
            txn.open_table(SENDER_NONCES).map_err(db_err)?;
            txn.open_table(CREATIONS).map_err(db_err)?;
            txn.open_table(BLOCK_APPEARANCES).map_err(db_err)?;
            let mut meta = txn.open_table(META).map_err(db_err)?;
            let schema = meta.get(meta::SCHEMA).map_err(db_err)?.map(|v| be_u64(v.value()));
            match schema {
                None => {
                    meta.insert(meta::SCHEMA, SCHEMA_VERSION.to_be_bytes().as_slice())
                        .map_err(db_err)?;
                }
                Some(v) if v == SCHEMA_VERSION => {}
                Some(v) => {
                    return Err(Error::Corrupt(format!(
                        "database layout version {v}, this build reads version {SCHEMA_VERSION} \
                         (which adds {}); start with a fresh --data-dir, or keep using the \
                         build that wrote this one",
                        schema_change_since(v)
                    )))
                }
            }
        }
        txn.commit().map_err(db_err)?;
        Ok(Self { db })
    }

    /// A consistent read view of everything committed so far.
    pub fn reader(&self) -> Result<StorageReader> {
        Ok(StorageReader { txn: self.db.begin_read().map_err(db_err)? })
    }

    /// Writes `batch` atomically and durably (one fsync).
    pub fn commit(&self, batch: &CommitBatch) -> Result<()> {
        let mut txn = self.db.begin_write().map_err(db_err)?;
        txn.set_quick_repair(true);
        {
            let mut headers = txn.open_table(HEADERS).map_err(db_err)?;
            let mut bodies = txn.open_table(BODIES).map_err(db_err)?;
            let mut hashes = txn.open_table(HASH_TO_NUMBER).map_err(db_err)?;
            let mut txs = txn.open_table(TXS).map_err(db_err)?;
            let mut receipts = txn.open_table(RECEIPTS).map_err(db_err)?;
            let mut block_seq = txn.open_table(BLOCK_SEQ).map_err(db_err)?;
            let mut history = HistoryTables::open(&txn)?;
            let mut buf = Vec::with_capacity(1024);
            for block in &batch.blocks {
                let n = block.header.number;
                buf.clear();
                block.header.encode(&mut buf);
                headers.insert(n, buf.as_slice()).map_err(db_err)?;
                let body: Vec<u8> = block.txs.iter().flat_map(|(h, _)| h.0).collect();
                bodies.insert(n, body.as_slice()).map_err(db_err)?;
                hashes.insert(&block.hash.0, n).map_err(db_err)?;
                for ((hash, tx), receipt) in block.txs.iter().zip(&block.receipts) {
                    txs.insert(&hash.0, tx.encode().as_slice()).map_err(db_err)?;
                    receipts.insert(&hash.0, receipt.encode().as_slice()).map_err(db_err)?;
                }
                history.add(block)?;
            }
            let mut changesets = txn.open_table(CHANGESETS).map_err(db_err)?;
            for (seq, cs) in &batch.changesets {
                changesets.insert(*seq, cs.encode().as_slice()).map_err(db_err)?;
                if let Some(n) = cs.block {
                    block_seq.insert(n, *seq).map_err(db_err)?;
                }
            }
            let mut accounts = txn.open_table(ACCOUNTS).map_err(db_err)?;
            for (addr, rec) in &batch.accounts {
                put_account(&mut accounts, addr, rec.as_ref())?;
            }
            let mut storage = txn.open_table(STORAGE).map_err(db_err)?;
            for addr in &batch.wiped {
                let lo = storage_key(addr, &U256::ZERO);
                let hi = storage_key(addr, &U256::MAX);
                storage.retain_in::<&[u8; 52], _>(&lo..=&hi, |_, _| false).map_err(db_err)?;
            }
            for (addr, slot, value) in &batch.storage {
                put_slot(&mut storage, addr, slot, value)?;
            }
            let mut code = txn.open_table(CODE).map_err(db_err)?;
            for (hash, bytes) in &batch.code {
                code.insert(&hash.0, bytes.as_ref()).map_err(db_err)?;
            }
            let mut meta = txn.open_table(META).map_err(db_err)?;
            for (key, value) in &batch.meta {
                meta.insert(*key, value.as_slice()).map_err(db_err)?;
            }
        }
        write_trie(&txn, &batch.trie)?;
        txn.commit().map_err(db_err)?;
        Ok(())
    }

    /// Undoes every record with a sequence number above `to_seq`, newest first: restores
    /// the state they overwrote, writes `trie` (the tries as they were at `to_seq`) and
    /// deletes the blocks they produced. One transaction.
    pub fn unwind(
        &self,
        to_seq: u64,
        trie: &NodeOverlay,
        meta_updates: &[(&'static str, Vec<u8>)],
    ) -> Result<()> {
        let mut txn = self.db.begin_write().map_err(db_err)?;
        txn.set_quick_repair(true);
        {
            let mut changesets = txn.open_table(CHANGESETS).map_err(db_err)?;
            let mut undo: Vec<(u64, Changeset)> = Vec::new();
            for item in changesets.range((to_seq + 1)..).map_err(db_err)? {
                let (k, v) = item.map_err(db_err)?;
                undo.push((k.value(), Changeset::decode(v.value())?));
            }
            let mut accounts = txn.open_table(ACCOUNTS).map_err(db_err)?;
            let mut storage = txn.open_table(STORAGE).map_err(db_err)?;
            let mut headers = txn.open_table(HEADERS).map_err(db_err)?;
            let mut bodies = txn.open_table(BODIES).map_err(db_err)?;
            let mut hashes = txn.open_table(HASH_TO_NUMBER).map_err(db_err)?;
            let mut txs = txn.open_table(TXS).map_err(db_err)?;
            let mut receipts = txn.open_table(RECEIPTS).map_err(db_err)?;
            let mut block_seq = txn.open_table(BLOCK_SEQ).map_err(db_err)?;
            let mut history = HistoryTables::open(&txn)?;
            for (seq, cs) in undo.iter().rev() {
                for (addr, rec) in &cs.accounts {
                    put_account(&mut accounts, addr, rec.as_ref())?;
                }
                for (addr, slot, value) in &cs.storage {
                    put_slot(&mut storage, addr, slot, value)?;
                }
                if let Some(n) = cs.block {
                    let header = headers.remove(n).map_err(db_err)?;
                    if let Some(h) = header {
                        let header = decode_header(h.value())?;
                        hashes.remove(&header.hash_slow().0).map_err(db_err)?;
                    }
                    if let Some(body) = bodies.remove(n).map_err(db_err)? {
                        let mut hashes_of = Reader(body.value());
                        let mut removed = Vec::new();
                        while let Some(hash) = hashes_of.array::<32>() {
                            if let Some(tx) = txs.remove(&hash).map_err(db_err)? {
                                removed.push(StoredTx::decode(tx.value())?);
                            }
                            receipts.remove(&hash).map_err(db_err)?;
                        }
                        history.remove(n, &removed)?;
                    }
                    block_seq.remove(n).map_err(db_err)?;
                }
                changesets.remove(*seq).map_err(db_err)?;
            }
            let mut meta = txn.open_table(META).map_err(db_err)?;
            for (key, value) in meta_updates {
                meta.insert(*key, value.as_slice()).map_err(db_err)?;
            }
        }
        write_trie(&txn, trie)?;
        txn.commit().map_err(db_err)?;
        Ok(())
    }
}

/// A consistent snapshot of the committed chain.
pub struct StorageReader {
    txn: redb::ReadTransaction,
}

impl StorageReader {
    /// A metadata value as u64.
    pub fn meta_u64(&self, key: &str) -> Result<Option<u64>> {
        let t = self.txn.open_table(META).map_err(db_err)?;
        Ok(t.get(key).map_err(db_err)?.map(|v| be_u64(v.value())))
    }

    /// A metadata value as i64.
    pub fn meta_i64(&self, key: &str) -> Result<Option<i64>> {
        Ok(self.meta_u64(key)?.map(|v| v as i64))
    }

    /// Header of block `number`.
    pub fn header(&self, number: u64) -> Result<Option<Header>> {
        let t = self.txn.open_table(HEADERS).map_err(db_err)?;
        t.get(number).map_err(db_err)?.map(|v| decode_header(v.value())).transpose()
    }

    /// Headers of blocks `from..=to` in order (missing ones skipped).
    pub fn headers(&self, from: u64, to: u64) -> Result<Vec<Header>> {
        let t = self.txn.open_table(HEADERS).map_err(db_err)?;
        let mut out = Vec::new();
        for item in t.range(from..=to).map_err(db_err)? {
            let (_, v) = item.map_err(db_err)?;
            out.push(decode_header(v.value())?);
        }
        Ok(out)
    }

    /// Number of the block with hash `hash`.
    pub fn block_number(&self, hash: &B256) -> Result<Option<u64>> {
        let t = self.txn.open_table(HASH_TO_NUMBER).map_err(db_err)?;
        Ok(t.get(&hash.0).map_err(db_err)?.map(|v| v.value()))
    }

    /// Transaction hashes of block `number`, in order.
    pub fn block_tx_hashes(&self, number: u64) -> Result<Vec<B256>> {
        let t = self.txn.open_table(BODIES).map_err(db_err)?;
        Ok(t.get(number)
            .map_err(db_err)?
            .map(|v| v.value().chunks_exact(32).map(B256::from_slice).collect())
            .unwrap_or_default())
    }

    /// The change-set sequence number of block `number`.
    pub fn block_seq(&self, number: u64) -> Result<Option<u64>> {
        let t = self.txn.open_table(BLOCK_SEQ).map_err(db_err)?;
        Ok(t.get(number).map_err(db_err)?.map(|v| v.value()))
    }

    /// A mined transaction.
    pub fn tx(&self, hash: &B256) -> Result<Option<StoredTx>> {
        let t = self.txn.open_table(TXS).map_err(db_err)?;
        t.get(&hash.0).map_err(db_err)?.map(|v| StoredTx::decode(v.value())).transpose()
    }

    /// A receipt.
    pub fn receipt(&self, hash: &B256) -> Result<Option<StoredReceipt>> {
        let t = self.txn.open_table(RECEIPTS).map_err(db_err)?;
        t.get(&hash.0).map_err(db_err)?.map(|v| StoredReceipt::decode(v.value())).transpose()
    }

    /// Current account state.
    pub fn account(&self, addr: &Address) -> Result<Option<AccountRecord>> {
        let t = self.txn.open_table(ACCOUNTS).map_err(db_err)?;
        t.get(&addr.0 .0).map_err(db_err)?.map(|v| AccountRecord::decode(v.value())).transpose()
    }

    /// Current value of a storage slot.
    pub fn storage(&self, addr: &Address, slot: &U256) -> Result<U256> {
        let t = self.txn.open_table(STORAGE).map_err(db_err)?;
        Ok(t.get(&storage_key(addr, slot))
            .map_err(db_err)?
            .map(|v| U256::from_be_bytes(*v.value()))
            .unwrap_or_default())
    }

    /// Every stored slot of `addr` (for wiping on self-destruct).
    pub fn storage_of(&self, addr: &Address) -> Result<Vec<(U256, U256)>> {
        let t = self.txn.open_table(STORAGE).map_err(db_err)?;
        let lo = storage_key(addr, &U256::ZERO);
        let hi = storage_key(addr, &U256::MAX);
        let mut out = Vec::new();
        for item in t.range::<&[u8; 52]>(&lo..=&hi).map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            out.push((U256::from_be_slice(&k.value()[20..]), U256::from_be_bytes(*v.value())));
        }
        Ok(out)
    }

    /// Code by hash.
    pub fn code(&self, hash: &B256) -> Result<Option<Bytes>> {
        let t = self.txn.open_table(CODE).map_err(db_err)?;
        Ok(t.get(&hash.0).map_err(db_err)?.map(|v| Bytes::copy_from_slice(v.value())))
    }

    /// Change sets with sequence numbers in `from..=to`, ascending.
    pub fn changesets(&self, from: u64, to: u64) -> Result<Vec<(u64, Changeset)>> {
        let t = self.txn.open_table(CHANGESETS).map_err(db_err)?;
        let mut out = Vec::new();
        for item in t.range(from..=to).map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            out.push((k.value(), Changeset::decode(v.value())?));
        }
        Ok(out)
    }
}

impl StorageReader {
    /// One page of the transactions `addr` appears in (see [`crate::history`]) within
    /// `blocks`, walked newest first or oldest first. A page takes whole blocks: it ends at
    /// the first block boundary once it holds `page_size` transactions, so it may hold more.
    pub fn address_history(
        &self,
        addr: &Address,
        blocks: std::ops::RangeInclusive<u64>,
        newest_first: bool,
        page_size: usize,
    ) -> Result<HistoryPage> {
        let mut page = HistoryPage::default();
        if blocks.is_empty() {
            return Ok(page);
        }
        let t = self.txn.open_table(ADDRESS_TXS).map_err(db_err)?;
        let lo = history_key(addr, *blocks.start(), 0);
        let hi = history_key(addr, *blocks.end(), u32::MAX);
        let range = t.range::<&[u8; 32]>(&lo..=&hi).map_err(db_err)?;
        let mut walk: Box<dyn Iterator<Item = _>> =
            if newest_first { Box::new(range.rev()) } else { Box::new(range) };
        let mut last_block = None;
        for item in walk.by_ref() {
            let (k, v) = item.map_err(db_err)?;
            let (block, _) = history_key_position(k.value());
            if page.txs.len() >= page_size && last_block != Some(block) {
                page.more = true;
                break;
            }
            last_block = Some(block);
            page.txs.push(B256::from(*v.value()));
        }
        Ok(page)
    }

    /// The newest mined transaction of `sender` with `nonce`.
    pub fn tx_by_sender_nonce(&self, sender: &Address, nonce: u64) -> Result<Option<B256>> {
        let t = self.txn.open_table(SENDER_NONCES).map_err(db_err)?;
        let lo = sender_nonce_key(sender, nonce, 0, 0);
        let hi = sender_nonce_key(sender, nonce, u64::MAX, u32::MAX);
        match t.range::<&[u8; 40]>(&lo..=&hi).map_err(db_err)?.next_back() {
            Some(item) => Ok(Some(B256::from(*item.map_err(db_err)?.1.value()))),
            None => Ok(None),
        }
    }

    /// The newest creation of `contract`: who created it (the account whose CREATE or
    /// CREATE2, or whose transaction, made it) and in which transaction.
    pub fn contract_creator(&self, contract: &Address) -> Result<Option<(Address, B256)>> {
        let t = self.txn.open_table(CREATIONS).map_err(db_err)?;
        let lo = history_key(contract, 0, 0);
        let hi = history_key(contract, u64::MAX, u32::MAX);
        match t.range::<&[u8; 32]>(&lo..=&hi).map_err(db_err)?.next_back() {
            Some(item) => {
                let value = *item.map_err(db_err)?.1.value();
                Ok(Some((Address::from_slice(&value[..20]), B256::from_slice(&value[20..]))))
            }
            None => Ok(None),
        }
    }
}

impl NodeRead for StorageReader {
    fn node(&self, id: TrieId, path: &Nibbles) -> Result<Option<Vec<u8>>> {
        let table = match id {
            TrieId::Accounts => ACCOUNT_TRIE,
            TrieId::Storage(_) => STORAGE_TRIE,
        };
        let t = self.txn.open_table(table).map_err(db_err)?;
        Ok(t.get(trie_key(id, path).as_slice()).map_err(db_err)?.map(|v| v.value().to_vec()))
    }
}

fn decode_header(bytes: &[u8]) -> Result<Header> {
    Header::decode(&mut &bytes[..]).map_err(|e| Error::Corrupt(format!("stored header: {e}")))
}

fn be_u64(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = bytes.len().min(8);
    b[8 - n..].copy_from_slice(&bytes[bytes.len() - n..]);
    u64::from_be_bytes(b)
}

fn db_err(e: impl Into<redb::Error>) -> Error {
    Error::Db(e.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_account() -> impl Strategy<Value = AccountRecord> {
        (any::<u64>(), any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(nonce, bal, code)| {
            AccountRecord { nonce, balance: U256::from_be_bytes(bal), code_hash: B256::from(code) }
        })
    }

    proptest! {
        #[test]
        fn changeset_roundtrips(
            block in proptest::option::of(any::<u64>()),
            accounts in proptest::collection::vec((any::<[u8; 20]>(), proptest::option::of(arb_account())), 0..8),
            storage in proptest::collection::vec((any::<[u8; 20]>(), any::<[u8; 32]>(), any::<[u8; 32]>()), 0..8),
        ) {
            let cs = Changeset {
                block,
                accounts: accounts.into_iter().map(|(a, r)| (Address::from(a), r)).collect(),
                storage: storage.into_iter().map(|(a, k, v)| (Address::from(a), U256::from_be_bytes(k), U256::from_be_bytes(v))).collect(),
            };
            prop_assert_eq!(Changeset::decode(&cs.encode()).unwrap(), cs);
        }

        #[test]
        fn truncated_changesets_are_errors_not_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Changeset::decode(&bytes);
            let _ = StoredReceipt::decode(&bytes);
            let _ = StoredTx::decode(&bytes);
            let _ = decode_appearances(&bytes);
        }

        #[test]
        fn appearances_roundtrip(
            all in proptest::collection::vec(
                (
                    proptest::collection::vec(any::<[u8; 20]>(), 0..6),
                    proptest::collection::vec((any::<[u8; 20]>(), any::<[u8; 20]>()), 0..3),
                ),
                0..5,
            ),
        ) {
            let all: Vec<Appearances> = all
                .into_iter()
                .map(|(addresses, creations)| Appearances {
                    addresses: addresses.into_iter().map(Address::from).collect(),
                    creations: creations
                        .into_iter()
                        .map(|(c, k)| (Address::from(c), Address::from(k)))
                        .collect(),
                })
                .collect();
            prop_assert_eq!(decode_appearances(&encode_appearances(&all)).unwrap(), all);
        }

        #[test]
        fn history_keys_sort_in_chain_order(
            a in any::<(u64, u32)>(),
            b in any::<(u64, u32)>(),
        ) {
            let addr = Address::repeat_byte(3);
            let (ka, kb) = (history_key(&addr, a.0, a.1), history_key(&addr, b.0, b.1));
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            prop_assert_eq!(history_key_position(&ka), a);
        }
    }

    #[test]
    fn a_schema_2_directory_is_refused_with_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        drop(Storage::open(&path).unwrap());
        {
            let db = redb::Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(META)
                .unwrap()
                .insert(meta::SCHEMA, 2u64.to_be_bytes().as_slice())
                .unwrap();
            txn.commit().unwrap();
        }
        let err = Storage::open(&path).err().expect("must refuse").to_string();
        assert!(err.contains("layout version 2, this build reads version 3"), "{err}");
        assert!(err.contains("address-history indexes"), "{err}");
        assert!(err.contains("fresh --data-dir"), "{err}");
    }

    #[test]
    fn schema_version_mismatch_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        drop(Storage::open(&path).unwrap());
        {
            let db = redb::Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(META)
                .unwrap()
                .insert(meta::SCHEMA, 99u64.to_be_bytes().as_slice())
                .unwrap();
            txn.commit().unwrap();
        }
        let err = Storage::open(&path).err().expect("must refuse");
        assert!(err.to_string().contains("layout version 99"), "{err}");
    }
}
