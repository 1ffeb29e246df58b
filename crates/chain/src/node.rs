//! The embedded node: configuration, the public handle, and the miner thread that owns
//! every state change.
//!
//! All writes — transactions, cheat codes, snapshots — are messages to one miner thread,
//! so they are applied in one order without locks. The miner drains whatever messages are
//! waiting, mines them (one block per transaction in automine mode), and writes the whole
//! batch in one durable commit before it answers anyone: an acknowledged transaction is on
//! disk, and many concurrent senders share one fsync.
//!
//! | file | what |
//! |---|---|
//! | `node.rs` | [`NodeConfig`], the [`Node`] handle, the messages it sends the miner |
//! | `node/pool.rs` | transactions waiting to be mined, by sender and nonce |
//! | `node/miner.rs` | the miner and committer threads; executing a block |
//! | `node/genesis.rs` | block 0 and the dev accounts' balances |

mod genesis;
mod miner;
mod pool;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::consensus::{Header, SignableTransaction, Transaction as _, TxEnvelope};
use alloy::eips::eip1559::BaseFeeParams;
use alloy::eips::eip2718::Decodable2718;
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::exec::Hardfork;
use crate::storage::{meta, Storage, StorageReader};
use crate::{dev, Error, Result};
use miner::Miner;
use pool::PoolTx;

/// Chain id of the embedded devnet (the same as anvil's and hardhat's).
pub const DEFAULT_CHAIN_ID: u64 = 31337;
/// Block gas limit.
pub const DEFAULT_GAS_LIMIT: u64 = 30_000_000;
/// Base fee of the genesis block: 1 gwei, as in anvil.
pub const INITIAL_BASE_FEE: u64 = 1_000_000_000;
/// Priority fee the node suggests (`eth_maxPriorityFeePerGas`).
pub const SUGGESTED_PRIORITY_FEE: u128 = 1_000_000_000;
/// How far ahead of the account's nonce a queued transaction may be.
pub const MAX_NONCE_GAP: u64 = 1024;
/// Most logs one `eth_getLogs` returns unless [`NodeConfig::max_logs_results`] says otherwise.
pub const MAX_LOGS: usize = 10_000;
/// Default [`NodeConfig::max_batch_requests`]: 1000, as geth.
pub const MAX_BATCH_REQUESTS: usize = 1000;
/// Default [`NodeConfig::max_response_bytes`]: 25 MiB, geth's batch response limit.
pub const MAX_RESPONSE_BYTES: usize = 25 << 20;
/// Default [`NodeConfig::evm_timeout`]: 5 s, geth's `--rpc.evmtimeout`.
pub const EVM_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`NodeConfig::max_mine_blocks`].
pub const MAX_MINE_BLOCKS: u64 = 100_000;
/// Default [`NodeConfig::max_connections`].
pub const MAX_CONNECTIONS: usize = 1024;
/// Default [`NodeConfig::header_read_timeout`].
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`NodeConfig::body_read_timeout`].
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`NodeConfig::trie_cache_nodes`]: some 60 MB of nodes (redb's own page cache
/// holds what is dropped).
pub const TRIE_CACHE_NODES: usize = 100_000;
/// Latest block timestamp the node accepts: 2^53 - 1 seconds, the largest integer a
/// JavaScript client holds exactly (about 285 million years from 1970), so that no
/// timestamp arithmetic can overflow.
pub const MAX_TIMESTAMP: u64 = (1 << 53) - 1;

/// Default [`NodeConfig::evm_workers`]: one per core but one, so that a core is left for
/// answering everything else; at least one.
pub fn default_evm_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1)).max(1)
}

/// When blocks are mined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mining {
    /// One block per transaction, as soon as it arrives.
    Auto,
    /// One block every interval with whatever is pending (possibly none).
    Interval(Duration),
}

/// How to run a node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Chain id (EIP-155).
    pub chain_id: u64,
    /// Database file; `None` keeps everything in memory.
    pub db_path: Option<PathBuf>,
    /// Mining mode.
    pub mining: Mining,
    /// Block gas limit.
    pub gas_limit: u64,
    /// Fund and unlock the ten dev accounts at genesis.
    pub dev_accounts: bool,
    /// Rules in force.
    pub hardfork: Hardfork,
    /// Widest block range (`toBlock - fromBlock + 1`) one log query may span; wider ones
    /// are refused with `-32005` as public providers do. `None`: no limit.
    pub max_logs_range: Option<u64>,
    /// Most logs one log query returns; more is refused with `-32005`. One batch returns
    /// at most this many logs in total, too.
    pub max_logs_results: usize,
    /// Most requests in one JSON-RPC batch; a longer batch is refused as a whole (`-32600`).
    pub max_batch_requests: usize,
    /// Most bytes of one HTTP answer (a whole batch). Once a batch's answers reach it, the
    /// rest of the batch is answered with `-32003` "response too large".
    pub max_response_bytes: usize,
    /// Time budget of one `eth_call` or `eth_estimateGas` (waiting for a worker included);
    /// over it the request gets an error naming the limit.
    pub evm_timeout: Duration,
    /// Most gas one `eth_call` or `eth_estimateGas` may use (never more than the block gas
    /// limit), as geth's `--rpc.gascap`.
    pub rpc_gas_cap: u64,
    /// Threads that run `eth_call`/`eth_estimateGas`, off the threads that answer
    /// everything else; more calls wait for one.
    pub evm_workers: usize,
    /// Most blocks one `anvil_mine`/`evm_mine` (or one batch of them) may mine.
    pub max_mine_blocks: u64,
    /// Most open HTTP connections; more are answered with 503 and closed at once.
    pub max_connections: usize,
    /// Time a connection has to send a complete request head, from when it is accepted or
    /// its previous answer was sent: slow headers and idle keep-alive connections are
    /// closed when it passes, so it is also the idle timeout.
    pub header_read_timeout: Duration,
    /// Time a request has to send its whole body once its head is in; over it the request
    /// gets 408 and the connection is closed.
    pub body_read_timeout: Duration,
    /// Headers carry the Ethereum (Merkle-Patricia) state root and `eth_getProof` is
    /// served. Off, the state root chains a keccak digest of each block's changes and no
    /// trie is kept: only for measuring what the trie costs. Fixed when the database is
    /// created.
    pub merkle_state_root: bool,
    /// Most trie nodes the miner keeps in memory beyond the batch it is mining: once a
    /// commit leaves more, those already on disk are dropped and read back from the
    /// database when needed.
    pub trie_cache_nodes: usize,
}

impl NodeConfig {
    /// An in-memory devnet with automine and the dev accounts.
    pub fn ephemeral() -> Self {
        Self {
            chain_id: DEFAULT_CHAIN_ID,
            db_path: None,
            mining: Mining::Auto,
            gas_limit: DEFAULT_GAS_LIMIT,
            dev_accounts: true,
            hardfork: Hardfork::default(),
            max_logs_range: None,
            max_logs_results: MAX_LOGS,
            max_batch_requests: MAX_BATCH_REQUESTS,
            max_response_bytes: MAX_RESPONSE_BYTES,
            evm_timeout: EVM_TIMEOUT,
            rpc_gas_cap: DEFAULT_GAS_LIMIT,
            evm_workers: default_evm_workers(),
            max_mine_blocks: MAX_MINE_BLOCKS,
            max_connections: MAX_CONNECTIONS,
            header_read_timeout: HEADER_READ_TIMEOUT,
            body_read_timeout: BODY_READ_TIMEOUT,
            merkle_state_root: true,
            trie_cache_nodes: TRIE_CACHE_NODES,
        }
    }

    /// The chain of an Alara data directory: `<data_dir>/chain/chain.redb`, the one that
    /// `alara up` serves and that every command opens when no node is running, so a data
    /// directory holds exactly one chain.
    pub fn in_data_dir(data_dir: &std::path::Path) -> Self {
        Self::persistent(data_dir.join("chain"))
    }

    /// A devnet persisted in `data_dir/chain.redb`.
    pub fn persistent(data_dir: impl Into<PathBuf>) -> Self {
        Self { db_path: Some(data_dir.into().join("chain.redb")), ..Self::ephemeral() }
    }
}

type Reply<T> = oneshot::Sender<Result<T>>;

/// Work to do once a batch is durable (or failed): answering a request, usually.
type AfterCommit = Box<dyn FnOnce(&Result<()>) + Send>;

enum Msg {
    Submit(Box<PoolTx>),
    Mine {
        blocks: u64,
        timestamp: Option<u64>,
        reply: Reply<u64>,
    },
    SetAccount {
        addr: Address,
        change: AccountChange,
        reply: Reply<()>,
    },
    SetStorage {
        addr: Address,
        key: U256,
        value: U256,
        reply: Reply<()>,
    },
    IncreaseTime {
        seconds: i64,
        reply: Reply<i64>,
    },
    SetNextTimestamp {
        timestamp: u64,
        reply: Reply<()>,
    },
    Snapshot {
        reply: Reply<U256>,
    },
    Revert {
        id: U256,
        reply: Reply<bool>,
    },
    PendingNonce {
        addr: Address,
        reply: Reply<u64>,
    },
    Tick,
    Shutdown,
    /// From the committer: the batch handed over last is durable (or failed).
    Committed(std::result::Result<(), String>),
}

/// A cheat-code change to one account.
#[derive(Debug, Clone)]
pub enum AccountChange {
    /// Set the balance.
    Balance(U256),
    /// Set the nonce.
    Nonce(u64),
    /// Replace the code.
    Code(Bytes),
}

/// What the miner's trie-node cache holds ([`Node::trie_cache`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrieCacheStats {
    /// Nodes in the cache after the last commit.
    pub nodes: usize,
    /// Times the cache went over [`NodeConfig::trie_cache_nodes`] and was cut back.
    pub evictions: u64,
}

/// [`TrieCacheStats`] shared between the miner, which updates them, and the node.
#[derive(Debug, Default)]
pub(crate) struct TrieCacheCounters {
    pub(crate) nodes: std::sync::atomic::AtomicUsize,
    pub(crate) evictions: std::sync::atomic::AtomicU64,
}

/// A transaction in the pool, for `eth_getTransactionByHash` before it is mined.
#[derive(Debug, Clone)]
pub struct PendingTx {
    /// The transaction.
    pub envelope: TxEnvelope,
    /// Its sender.
    pub sender: Address,
}

/// Handle to a running embedded node. Cheap to clone through `Arc`.
pub struct Node {
    config: NodeConfig,
    storage: Arc<Storage>,
    to_miner: Mutex<Sender<Msg>>,
    pending: Arc<Mutex<HashMap<B256, PendingTx>>>,
    trie_cache: Arc<TrieCacheCounters>,
    signers: HashMap<Address, PrivateKeySigner>,
    miner: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("config", &self.config).finish_non_exhaustive()
    }
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

fn next_base_fee(parent: &Header) -> u64 {
    parent.next_block_base_fee(BaseFeeParams::ethereum()).unwrap_or(INITIAL_BASE_FEE)
}

impl Node {
    /// Opens the node's database (creating the genesis block on first use) and starts
    /// the miner. Returns quickly even for a long chain: nothing is replayed.
    pub fn open(config: NodeConfig) -> Result<Arc<Node>> {
        let storage = Arc::new(match &config.db_path {
            Some(path) => Storage::open(path)?,
            None => Storage::in_memory()?,
        });
        let reader = storage.reader()?;
        match reader.meta_u64(meta::CHAIN_ID)? {
            Some(id) if id != config.chain_id => {
                return Err(Error::InvalidParams(format!(
                    "the data directory holds chain {id}, not chain {}; use another --data-dir",
                    config.chain_id
                )))
            }
            Some(_) => {
                let merkle = reader.meta_u64(meta::MERKLE_ROOT)? == Some(1);
                if merkle != config.merkle_state_root {
                    return Err(Error::InvalidParams(format!(
                        "the data directory was created with Merkle state roots {}, this node \
                         is configured with them {}; use another --data-dir",
                        if merkle { "on" } else { "off" },
                        if config.merkle_state_root { "on" } else { "off" },
                    )));
                }
            }
            None => genesis::write_genesis(&storage, &config)?,
        }
        drop(reader);

        let (tx, rx) = mpsc::channel();
        let pending = Arc::new(Mutex::new(HashMap::new()));
        let trie_cache = Arc::new(TrieCacheCounters::default());
        let mut miner =
            Miner::new(config.clone(), storage.clone(), pending.clone(), trie_cache.clone())?;
        let to_self = tx.clone();
        let handle = std::thread::Builder::new()
            .name("alara-miner".into())
            .spawn(move || miner.run(rx, to_self))
            .map_err(|e| Error::Io(PathBuf::from("miner thread"), e))?;
        if let Mining::Interval(every) = config.mining {
            let ticker = tx.clone();
            std::thread::Builder::new()
                .name("alara-interval".into())
                .spawn(move || loop {
                    std::thread::sleep(every);
                    if ticker.send(Msg::Tick).is_err() {
                        break;
                    }
                })
                .map_err(|e| Error::Io(PathBuf::from("interval thread"), e))?;
        }
        let signers = if config.dev_accounts {
            dev::dev_signers().into_iter().map(|s| (s.address(), s)).collect()
        } else {
            HashMap::new()
        };
        Ok(Arc::new(Node {
            config,
            storage,
            to_miner: Mutex::new(tx),
            pending,
            trie_cache,
            signers,
            miner: Mutex::new(Some(handle)),
        }))
    }

    /// The configuration the node runs with.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// Chain id.
    pub fn chain_id(&self) -> u64 {
        self.config.chain_id
    }

    /// A consistent read view of everything committed.
    pub fn reader(&self) -> Result<StorageReader> {
        self.storage.reader()
    }

    /// The unlocked account `addr`, if this node holds its key.
    pub fn signer(&self, addr: &Address) -> Option<&PrivateKeySigner> {
        self.signers.get(addr)
    }

    /// Addresses of the unlocked accounts, dev account 0 first.
    pub fn accounts(&self) -> Vec<Address> {
        if self.config.dev_accounts {
            dev::dev_addresses()
        } else {
            Vec::new()
        }
    }

    /// What the miner's trie-node cache holds (for tests and monitoring).
    pub fn trie_cache(&self) -> TrieCacheStats {
        use std::sync::atomic::Ordering::Relaxed;
        TrieCacheStats {
            nodes: self.trie_cache.nodes.load(Relaxed),
            evictions: self.trie_cache.evictions.load(Relaxed),
        }
    }

    /// A transaction still in the pool.
    pub fn pending_tx(&self, hash: &B256) -> Option<PendingTx> {
        self.pending.lock().get(hash).cloned()
    }

    async fn ask<T>(&self, msg: impl FnOnce(Reply<T>) -> Msg) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.to_miner.lock().send(msg(tx)).map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?
    }

    /// Decodes, checks and submits a raw EIP-2718 transaction. Returns once the transaction
    /// is validated and taken (pooled, or being mined in automine mode), as geth and anvil
    /// answer `eth_sendRawTransaction`; its receipt and block are served only once the
    /// batch it was mined in is durable, so `kill -9` loses nothing whose receipt was seen.
    pub async fn send_raw(&self, raw: &[u8]) -> Result<B256> {
        let mut buf = raw;
        let envelope = TxEnvelope::decode_2718(&mut buf)
            .map_err(|e| Error::InvalidParams(format!("transaction could not be decoded: {e}")))?;
        if !buf.is_empty() {
            return Err(Error::InvalidParams(format!(
                "transaction could not be decoded: {} trailing bytes",
                buf.len()
            )));
        }
        self.send_envelope(envelope).await
    }

    /// Submits a signed transaction (see [`Node::send_raw`]).
    pub async fn send_envelope(&self, envelope: TxEnvelope) -> Result<B256> {
        use alloy::consensus::transaction::SignerRecoverable;
        if envelope.is_eip4844() {
            return Err(Error::InvalidTx(
                "transaction type not supported: blob transactions (EIP-4844)".into(),
            ));
        }
        if let Some(id) = envelope.chain_id() {
            if id != self.config.chain_id {
                return Err(Error::InvalidTx(format!(
                    "invalid chain id for signer: have {id} want {}",
                    self.config.chain_id
                )));
            }
        }
        let sender = envelope.recover_signer().map_err(|_| {
            Error::InvalidTx("invalid sender: the signature does not recover".into())
        })?;
        let hash = *envelope.tx_hash();
        let (tx, rx) = oneshot::channel();
        let msg =
            Msg::Submit(Box::new(PoolTx { envelope, hash, sender, reply: Some(tx), arrival: 0 }));
        self.to_miner.lock().send(msg).map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?
    }

    /// Signs `tx` with the unlocked account `from` and submits it.
    pub async fn send_unsigned(
        &self,
        from: Address,
        tx: alloy::consensus::TypedTransaction,
    ) -> Result<B256> {
        use alloy::network::TxSignerSync;
        let signer = self.signer(&from).ok_or_else(|| {
            Error::InvalidTx(format!(
                "no signer available for {from}: the account is not unlocked on this node"
            ))
        })?;
        let envelope = match tx {
            alloy::consensus::TypedTransaction::Legacy(mut t) => {
                let sig = signer
                    .sign_transaction_sync(&mut t)
                    .map_err(|e| Error::Signer(e.to_string()))?;
                TxEnvelope::from(t.into_signed(sig))
            }
            alloy::consensus::TypedTransaction::Eip2930(mut t) => {
                let sig = signer
                    .sign_transaction_sync(&mut t)
                    .map_err(|e| Error::Signer(e.to_string()))?;
                TxEnvelope::from(t.into_signed(sig))
            }
            alloy::consensus::TypedTransaction::Eip1559(mut t) => {
                let sig = signer
                    .sign_transaction_sync(&mut t)
                    .map_err(|e| Error::Signer(e.to_string()))?;
                TxEnvelope::from(t.into_signed(sig))
            }
            alloy::consensus::TypedTransaction::Eip7702(mut t) => {
                let sig = signer
                    .sign_transaction_sync(&mut t)
                    .map_err(|e| Error::Signer(e.to_string()))?;
                TxEnvelope::from(t.into_signed(sig))
            }
            alloy::consensus::TypedTransaction::Eip4844(_) => {
                return Err(Error::InvalidTx(
                    "transaction type not supported: blob transactions (EIP-4844)".into(),
                ))
            }
        };
        self.send_envelope(envelope).await
    }

    /// The next nonce for `addr` counting pooled transactions.
    pub async fn pending_nonce(&self, addr: Address) -> Result<u64> {
        self.ask(|reply| Msg::PendingNonce { addr, reply }).await
    }

    /// Mines `blocks` blocks (with pending transactions, if any); returns the new head.
    pub async fn mine(&self, blocks: u64, timestamp: Option<u64>) -> Result<u64> {
        self.ask(|reply| Msg::Mine { blocks, timestamp, reply }).await
    }

    /// Changes one account directly (`anvil_setBalance`, `anvil_setNonce`, `anvil_setCode`).
    pub async fn set_account(&self, addr: Address, change: AccountChange) -> Result<()> {
        self.ask(|reply| Msg::SetAccount { addr, change, reply }).await
    }

    /// Sets one storage slot directly (`anvil_setStorageAt`).
    pub async fn set_storage(&self, addr: Address, key: U256, value: U256) -> Result<()> {
        self.ask(|reply| Msg::SetStorage { addr, key, value, reply }).await
    }

    /// Moves the clock forward for future blocks; returns the total offset in seconds.
    pub async fn increase_time(&self, seconds: i64) -> Result<i64> {
        self.ask(|reply| Msg::IncreaseTime { seconds, reply }).await
    }

    /// Fixes the timestamp of the next block.
    pub async fn set_next_timestamp(&self, timestamp: u64) -> Result<()> {
        self.ask(|reply| Msg::SetNextTimestamp { timestamp, reply }).await
    }

    /// Takes a snapshot of the chain; returns its id.
    pub async fn snapshot(&self) -> Result<U256> {
        self.ask(|reply| Msg::Snapshot { reply }).await
    }

    /// Reverts to snapshot `id` (deleting it and every later one); false if unknown.
    pub async fn revert(&self, id: U256) -> Result<bool> {
        self.ask(|reply| Msg::Revert { id, reply }).await
    }

    /// Stops the miner after it finishes the batch in hand.
    pub fn shutdown(&self) {
        let _ = self.to_miner.lock().send(Msg::Shutdown);
        if let Some(h) = self.miner.lock().take() {
            let _ = h.join();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.shutdown();
    }
}
