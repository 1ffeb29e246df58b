//! The miner thread, which owns every state change, and the committer thread, which makes
//! each batch durable before anyone is answered.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::consensus::constants::{EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH};
use alloy::consensus::proofs::{calculate_receipt_root, calculate_transaction_root};
use alloy::consensus::{Header, Receipt, ReceiptEnvelope, Transaction as _, TxEnvelope, TxType};
use alloy::eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy::primitives::{keccak256, Address, Bloom, Bytes, B256, B64, KECCAK256_EMPTY, U256};
use parking_lot::Mutex;

use super::pool::{Pool, PoolTx};
use super::{
    next_base_fee, now_secs, AccountChange, AfterCommit, Mining, Msg, NodeConfig, PendingTx, Reply,
    TrieCacheCounters, MAX_NONCE_GAP,
};
use crate::exec::{self, BlockContext, Leniency};
use crate::history::{AppearanceInspector, Appearances};
use crate::state::{MinerState, Rewind, StateDiff};
use crate::storage::{
    meta, AccountRecord, BlockRecord, Changeset, CommitBatch, Storage, StorageReader,
    StoredReceipt, StoredTx,
};
use crate::trie::{Layered, NodeOverlay};
use crate::{Error, Result};

/// Most messages the miner takes into one batch (one commit).
const MAX_BATCH: usize = 4096;

struct SnapshotPoint {
    seq: u64,
    head: u64,
    time_offset: i64,
}

/// Work in progress: what the miner has done since it last handed a batch to the committer.
struct Batch {
    reader: StorageReader,
    commit: CommitBatch,
    diff: StateDiff,
    done: Vec<AfterCommit>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.commit.blocks.is_empty()
            && self.commit.changesets.is_empty()
            && self.diff.is_empty()
            && self.done.is_empty()
    }

    /// Answers everyone waiting on this batch with `error` (it will never be written).
    fn fail(self, error: &str) {
        let result = Err(Error::Corrupt(error.to_string()));
        for done in self.done {
            done(&result);
        }
    }
}

/// A batch on its way to disk: written by the committer thread, which then answers those
/// waiting for it and tells the miner.
struct Sealed {
    commit: CommitBatch,
    done: Vec<AfterCommit>,
}

/// The committer thread: one durable commit at a time, answers only after the fsync.
fn run_committer(
    storage: Arc<Storage>,
    pending: Arc<Mutex<HashMap<B256, PendingTx>>>,
    batches: Receiver<Sealed>,
    miner: Sender<Msg>,
) {
    while let Ok(sealed) = batches.recv() {
        let started = Instant::now();
        let result = storage.commit(&sealed.commit);
        {
            let mut pending = pending.lock();
            for block in &sealed.commit.blocks {
                for (hash, _) in &block.txs {
                    pending.remove(hash);
                }
            }
        }
        match &result {
            Ok(()) => {
                tracing::debug!(blocks = sealed.commit.blocks.len(), elapsed = ?started.elapsed(), "committed batch");
            }
            Err(e) => {
                tracing::error!(error = %e, "commit failed; the batch is dropped");
            }
        }
        for done in sealed.done {
            done(&result);
        }
        if miner.send(Msg::Committed(result.map_err(|e| e.to_string()))).is_err() {
            return;
        }
    }
}

pub(super) struct Miner {
    config: NodeConfig,
    storage: Arc<Storage>,
    state: MinerState,
    pool: Pool,
    pending: Arc<Mutex<HashMap<B256, PendingTx>>>,
    head: Header,
    head_hash: B256,
    last_seq: u64,
    time_offset: i64,
    next_timestamp: Option<u64>,
    snapshots: BTreeMap<U256, SnapshotPoint>,
    next_snapshot: U256,
    /// The batch being filled.
    open: Option<Batch>,
    /// A sealed batch is with the committer.
    in_flight: bool,
    to_committer: Option<Sender<Sealed>>,
    /// Messages that arrived while waiting for a commit to finish.
    deferred: std::collections::VecDeque<Msg>,
    /// Trie nodes written since start-up, the last reload or the last cut: like `state`,
    /// always at least as new as the open batch's reader, so a node absent here is right
    /// there. Cut back to the open batch's own writes once a commit leaves more than
    /// [`NodeConfig::trie_cache_nodes`] (see [`Miner::bound_trie_cache`]).
    trie: NodeOverlay,
    trie_cache: Arc<TrieCacheCounters>,
}

impl Miner {
    pub(super) fn new(
        config: NodeConfig,
        storage: Arc<Storage>,
        pending: Arc<Mutex<HashMap<B256, PendingTx>>>,
        trie_cache: Arc<TrieCacheCounters>,
    ) -> Result<Self> {
        let mut miner = Miner {
            config,
            storage,
            state: MinerState::default(),
            pool: Pool::default(),
            pending,
            head: Header::default(),
            head_hash: B256::ZERO,
            last_seq: 0,
            time_offset: 0,
            next_timestamp: None,
            snapshots: BTreeMap::new(),
            next_snapshot: U256::from(1),
            open: None,
            in_flight: false,
            to_committer: None,
            deferred: std::collections::VecDeque::new(),
            trie: NodeOverlay::default(),
            trie_cache,
        };
        miner.reload()?;
        Ok(miner)
    }

    /// Re-reads head, sequence and clock from the database (start-up, after an unwind or
    /// a failed commit) and forgets the cache.
    fn reload(&mut self) -> Result<()> {
        let reader = self.storage.reader()?;
        let head =
            reader.meta_u64(meta::HEAD)?.ok_or_else(|| Error::Corrupt("no head block".into()))?;
        self.head = reader
            .header(head)?
            .ok_or_else(|| Error::Corrupt(format!("head block {head} missing")))?;
        self.head_hash = self.head.hash_slow();
        self.last_seq = reader.meta_u64(meta::LAST_SEQ)?.unwrap_or(0);
        self.time_offset = reader.meta_i64(meta::TIME_OFFSET)?.unwrap_or(0);
        self.state.clear();
        self.trie.clear();
        for h in reader.headers(head.saturating_sub(255), head)? {
            self.state.note_block_hash(h.number, h.hash_slow());
        }
        Ok(())
    }

    /// The miner loop. Blocks are mined into the open batch; whenever the committer is
    /// idle the open batch is sealed and handed over, so mining goes on during the fsync
    /// and a batch holds whatever arrived while the previous one was being written.
    pub(super) fn run(&mut self, rx: Receiver<Msg>, me: Sender<Msg>) {
        let (to_committer, batches) = mpsc::channel();
        let (storage, pending) = (self.storage.clone(), self.pending.clone());
        let committer = std::thread::Builder::new()
            .name("alara-commit".into())
            .spawn(move || run_committer(storage, pending, batches, me));
        let committer = match committer {
            Ok(handle) => handle,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the committer thread");
                return;
            }
        };
        self.to_committer = Some(to_committer);
        self.serve(&rx);
        // Closing the channel ends the committer; wait so that the database is released
        // when the node's shutdown returns.
        self.to_committer = None;
        let _ = committer.join();
    }

    fn serve(&mut self, rx: &Receiver<Msg>) {
        loop {
            let first = match self.deferred.pop_front() {
                Some(m) => Ok(m),
                None => match self.config.mining {
                    Mining::Auto => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    Mining::Interval(_) => rx.recv_timeout(Duration::from_secs(3600)),
                },
            };
            let first = match first {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            if !self.dispatch(first, rx) {
                return;
            }
            for _ in 1..MAX_BATCH {
                let next = match self.deferred.pop_front() {
                    Some(m) => m,
                    None => match rx.try_recv() {
                        Ok(m) => m,
                        Err(_) => break,
                    },
                };
                if !self.dispatch(next, rx) {
                    return;
                }
            }
            self.hand_off();
        }
    }

    fn new_batch(&self) -> Result<Batch> {
        Ok(Batch {
            reader: self.storage.reader()?,
            commit: CommitBatch::default(),
            diff: StateDiff::default(),
            done: Vec::new(),
        })
    }

    /// Handles one message; false on shutdown.
    fn dispatch(&mut self, msg: Msg, rx: &Receiver<Msg>) -> bool {
        match msg {
            Msg::Shutdown => {
                self.drain(rx);
                false
            }
            Msg::Revert { id, reply } => {
                self.drain(rx);
                let _ = reply.send(self.revert(id));
                true
            }
            Msg::Committed(result) => {
                self.in_flight = false;
                if result.is_ok() {
                    self.bound_trie_cache();
                }
                if let Err(e) = result {
                    // The open batch was mined on top of state that is not on disk.
                    if let Some(open) = self.open.take() {
                        open.fail(&e);
                    }
                    if let Err(e) = self.reload() {
                        tracing::error!(error = %e, "reloading after a failed commit failed");
                    }
                }
                true
            }
            msg => {
                let mut batch = match self.open.take() {
                    Some(b) => b,
                    None => match self.new_batch() {
                        Ok(b) => b,
                        Err(e) => {
                            tracing::error!(error = %e, "cannot read the chain database");
                            return true;
                        }
                    },
                };
                self.handle(msg, &mut batch);
                self.open = Some(batch);
                true
            }
        }
    }

    /// Called when a commit is durable and none is in flight: every cached trie node but
    /// the open batch's own writes is now on disk. Past the bound, the cache keeps only
    /// those, and the open batch reads the rest from a new snapshot that sees the commit
    /// (its old one predates it). Without this the cache would hold every node written
    /// since start-up.
    fn bound_trie_cache(&mut self) {
        use std::sync::atomic::Ordering::Relaxed;
        let mut nodes = self.trie.len();
        if nodes > self.config.trie_cache_nodes {
            match self.storage.reader() {
                Ok(reader) => {
                    match self.open.as_mut() {
                        Some(open) => {
                            open.reader = reader;
                            self.trie = open.commit.trie.clone();
                        }
                        None => self.trie.clear(),
                    }
                    nodes = self.trie.len();
                    self.trie_cache.evictions.fetch_add(1, Relaxed);
                }
                Err(e) => tracing::warn!(error = %e, "trie cache not cut: no database snapshot"),
            }
        }
        self.trie_cache.nodes.store(nodes, Relaxed);
    }

    /// Seals the open batch and gives it to the committer, if the committer is idle.
    fn hand_off(&mut self) {
        if self.in_flight {
            return;
        }
        let Some(mut batch) = self.open.take() else { return };
        if batch.is_empty() {
            return;
        }
        batch.diff.drain_into(&mut batch.commit);
        batch.commit.meta = vec![
            (meta::HEAD, self.head.number.to_be_bytes().to_vec()),
            (meta::LAST_SEQ, self.last_seq.to_be_bytes().to_vec()),
            (meta::TIME_OFFSET, self.time_offset.to_be_bytes().to_vec()),
        ];
        let sealed = Sealed { commit: batch.commit, done: batch.done };
        match &self.to_committer {
            Some(tx) if tx.send(sealed).is_ok() => self.in_flight = true,
            _ => tracing::error!("the committer thread is gone; the batch is dropped"),
        }
    }

    /// Writes everything mined so far and waits until it is durable; other messages that
    /// arrive meanwhile are kept, in order, for later.
    fn drain(&mut self, rx: &Receiver<Msg>) {
        loop {
            self.hand_off();
            if !self.in_flight {
                return;
            }
            match rx.recv() {
                Ok(Msg::Committed(result)) => {
                    self.dispatch(Msg::Committed(result), rx);
                }
                Ok(other) => self.deferred.push_back(other),
                Err(_) => return,
            }
        }
    }

    fn handle(&mut self, msg: Msg, batch: &mut Batch) {
        match msg {
            Msg::Submit(tx) => self.submit(*tx, batch),
            Msg::Mine { blocks, timestamp, reply } => {
                let mut result = Ok(self.head.number);
                for i in 0..blocks.max(1) {
                    if let Some(ts) = timestamp.filter(|_| i == 0) {
                        self.next_timestamp = Some(ts);
                    }
                    let txs = self.take_executable();
                    match self.mine_block(txs, batch, true) {
                        Ok(_) => result = Ok(self.head.number),
                        Err(e) => {
                            result = Err(e);
                            break;
                        }
                    }
                }
                after_commit(batch, reply, result);
            }
            Msg::SetAccount { addr, change, reply } => {
                let r = self.set_account(addr, change, batch);
                after_commit(batch, reply, r);
            }
            Msg::SetStorage { addr, key, value, reply } => {
                let mut cs = Changeset::default();
                let mut diff = StateDiff::default();
                let r = self
                    .state
                    .set_slot(&batch.reader, addr, key, value, &mut cs, &mut diff)
                    .and_then(|()| self.update_trie(&diff, batch).map(drop));
                diff.merge_into(&mut batch.diff);
                self.record(cs, batch);
                after_commit(batch, reply, r);
            }
            Msg::IncreaseTime { seconds, reply } => {
                // Blocks faster than one a second run the chain's clock ahead of the offset
                // wall clock (each is a second past its parent): jump from the head's time,
                // so the next block is at least `seconds` after it and a deadline that far
                // ahead has passed.
                let wall = (now_secs() as i64).saturating_add(self.time_offset);
                let ahead = (self.head.timestamp as i64).saturating_sub(wall).max(0);
                self.time_offset = self.time_offset.saturating_add(ahead).saturating_add(seconds);
                let total = self.time_offset;
                after_commit(batch, reply, Ok(total));
            }
            Msg::SetNextTimestamp { timestamp, reply } => {
                let r = if timestamp < self.head.timestamp {
                    Err(Error::InvalidParams(format!(
                        "timestamp {timestamp} is before the head block's {}",
                        self.head.timestamp
                    )))
                } else {
                    self.next_timestamp = Some(timestamp);
                    Ok(())
                };
                let _ = reply.send(r);
            }
            Msg::Snapshot { reply } => {
                let id = self.next_snapshot;
                self.next_snapshot += U256::from(1);
                self.snapshots.insert(
                    id,
                    SnapshotPoint {
                        seq: self.last_seq,
                        head: self.head.number,
                        time_offset: self.time_offset,
                    },
                );
                after_commit(batch, reply, Ok(id));
            }
            Msg::PendingNonce { addr, reply } => {
                let r = self.state.account(&batch.reader, addr).map(|a| {
                    let state = a.map(|a| a.nonce).unwrap_or(0);
                    self.pool.highest_nonce(&addr).map_or(state, |n| state.max(n + 1))
                });
                let _ = reply.send(r);
            }
            Msg::Tick => {
                let txs = self.take_executable();
                if let Err(e) = self.mine_block(txs, batch, true) {
                    tracing::error!(error = %e, "interval block failed");
                }
            }
            // `dispatch` handles these itself; they never reach a batch.
            Msg::Revert { .. } | Msg::Shutdown | Msg::Committed(_) => {}
        }
    }

    fn set_account(
        &mut self,
        addr: Address,
        change: AccountChange,
        batch: &mut Batch,
    ) -> Result<()> {
        let mut rec = self.state.account(&batch.reader, addr)?.unwrap_or(AccountRecord {
            nonce: 0,
            balance: U256::ZERO,
            code_hash: KECCAK256_EMPTY,
        });
        match change {
            AccountChange::Balance(b) => rec.balance = b,
            AccountChange::Nonce(n) => rec.nonce = n,
            AccountChange::Code(code) => rec.code_hash = self.state.put_code(code, &mut batch.diff),
        }
        let mut cs = Changeset::default();
        let mut diff = StateDiff::default();
        let r = self
            .state
            .set_account(&batch.reader, addr, Some(rec), &mut cs, &mut diff)
            .and_then(|()| self.update_trie(&diff, batch).map(drop));
        diff.merge_into(&mut batch.diff);
        self.record(cs, batch);
        r
    }

    /// Applies one record's changes to the tries (cache and batch); returns the state root.
    /// Without Merkle roots it does nothing and returns zero.
    fn update_trie(&mut self, diff: &StateDiff, batch: &mut Batch) -> Result<B256> {
        if !self.config.merkle_state_root {
            return Ok(B256::ZERO);
        }
        let update = diff.trie_update();
        let (root, changes) = {
            let base = Layered { top: &self.trie, below: &batch.reader };
            let (state, reader) = (&mut self.state, &batch.reader);
            update.apply(&base, &mut |a| state.account(reader, *a))?
        };
        changes.clone().merge_into(&mut self.trie);
        changes.merge_into(&mut batch.commit.trie);
        Ok(root)
    }

    fn record(&mut self, cs: Changeset, batch: &mut Batch) {
        if cs.accounts.is_empty() && cs.storage.is_empty() && cs.block.is_none() {
            return;
        }
        self.last_seq += 1;
        batch.commit.changesets.push((self.last_seq, cs));
    }

    /// Validates a new transaction against current state and the pool, then mines it
    /// (automine) or queues it.
    fn submit(&mut self, mut tx: PoolTx, batch: &mut Batch) {
        let mut reply = tx.reply.take();
        let mut respond_now = |r: Result<B256>| {
            if let Some(reply) = reply.take() {
                let _ = reply.send(r);
            }
        };
        let account = match self.state.account(&batch.reader, tx.sender) {
            Ok(a) => a.unwrap_or_default(),
            Err(e) => return respond_now(Err(e)),
        };
        if self.pending.lock().contains_key(&tx.hash) {
            // In the pool, or mined into a batch that is not durable yet.
            return respond_now(Err(Error::InvalidTx("already known".into())));
        }
        let nonce = tx.envelope.nonce();
        if nonce < account.nonce {
            return respond_now(Err(Error::InvalidTx(format!(
                "nonce too low: next nonce {}, tx nonce {nonce}",
                account.nonce
            ))));
        }
        if let Some(existing) = self.pool.by_sender.get(&tx.sender).and_then(|q| q.get(&nonce)) {
            if existing.hash == tx.hash {
                return respond_now(Err(Error::InvalidTx("already known".into())));
            }
            let old = existing.envelope.max_fee_per_gas();
            if tx.envelope.max_fee_per_gas() < old + old / 10 {
                return respond_now(Err(Error::InvalidTx(
                    "replacement transaction underpriced".into(),
                )));
            }
        }
        if nonce > account.nonce + MAX_NONCE_GAP {
            return respond_now(Err(Error::InvalidTx(format!(
                "nonce too high: next nonce {}, tx nonce {nonce} (at most {MAX_NONCE_GAP} may be queued ahead)",
                account.nonce
            ))));
        }
        if tx.envelope.gas_limit() > self.config.gas_limit {
            return respond_now(Err(Error::InvalidTx(format!(
                "exceeds block gas limit: gas {} > block gas limit {}",
                tx.envelope.gas_limit(),
                self.config.gas_limit
            ))));
        }
        let base_fee = next_base_fee(&self.head);
        let max_fee = tx.envelope.max_fee_per_gas();
        if max_fee < base_fee as u128 {
            return respond_now(Err(Error::InvalidTx(format!(
                "max fee per gas less than block base fee: address {}, maxFeePerGas: {max_fee}, baseFee: {base_fee}",
                tx.sender
            ))));
        }
        let cost = U256::from(tx.envelope.gas_limit()) * U256::from(max_fee) + tx.envelope.value();
        if account.balance < cost {
            return respond_now(Err(Error::InvalidTx(format!(
                "insufficient funds for gas * price + value: address {} have {} want {cost}",
                tx.sender, account.balance
            ))));
        }

        // Everything else execution would refuse (intrinsic gas, fee fields, initcode size,
        // a sender with code), checked before the transaction is taken and answered.
        let ctx = self.peek_block_context();
        let env = exec::tx_env(&tx.envelope, tx.sender);
        let db = self.state.db(&batch.reader);
        if let Err(e) = exec::validate(db, self.config.chain_id, &ctx, env, nonce == account.nonce)
        {
            return respond_now(Err(e));
        }

        let (hash, sender) = (tx.hash, tx.sender);
        self.pending.lock().insert(hash, PendingTx { envelope: tx.envelope.clone(), sender });
        match self.config.mining {
            Mining::Auto if nonce == account.nonce => {
                // Answered now, as geth and anvil do: the transaction is valid and taken.
                // Its receipt and block are served only from the database, so nothing is
                // visible before the batch it is mined in is durable.
                respond_now(Ok(hash));
                self.automine_from(tx, batch);
            }
            _ => {
                // Queued behind a nonce gap, or waiting for the next interval block.
                if let Some(old) = self.pool.insert(tx) {
                    self.pending.lock().remove(&old.hash);
                }
                respond_now(Ok(hash));
            }
        }
    }

    /// Mines `tx` in a block of its own, then any queued successors of its sender.
    fn automine_from(&mut self, tx: PoolTx, batch: &mut Batch) {
        let sender = tx.sender;
        let mut next = Some(tx);
        while let Some(tx) = next.take() {
            let nonce = tx.envelope.nonce();
            if let Err(e) = self.mine_block(vec![tx], batch, false) {
                tracing::error!(error = %e, "mining failed");
                return;
            }
            next = self.pool.take(&sender, nonce + 1);
        }
    }

    /// Pooled transactions that can run now: in nonce order per sender, and across senders
    /// in order of arrival (the head of each sender's run goes first when it came first).
    fn take_executable(&mut self) -> Vec<PoolTx> {
        let reader = match self.storage.reader() {
            Ok(r) => r,
            Err(_) => return Vec::new(),
        };
        let senders: Vec<Address> = self.pool.by_sender.keys().copied().collect();
        let mut runs: Vec<std::collections::VecDeque<PoolTx>> = Vec::new();
        for sender in senders {
            let mut nonce = match self.state.account(&reader, sender) {
                Ok(a) => a.map(|a| a.nonce).unwrap_or(0),
                Err(_) => continue,
            };
            let mut run = std::collections::VecDeque::new();
            while let Some(tx) = self.pool.take(&sender, nonce) {
                run.push_back(tx);
                nonce += 1;
            }
            if !run.is_empty() {
                runs.push(run);
            }
        }
        let mut out = Vec::with_capacity(runs.iter().map(|r| r.len()).sum());
        while let Some(first) =
            runs.iter_mut().filter(|r| !r.is_empty()).min_by_key(|r| r.front().map(|t| t.arrival))
        {
            out.extend(first.pop_front());
        }
        out
    }

    /// The context of the next block, which takes a timestamp set for it.
    fn block_context(&mut self) -> BlockContext {
        let ctx = self.peek_block_context();
        if self.next_timestamp.take().is_some() {
            // As anvil does: the clock goes on from a timestamp set for a block, rather than
            // waiting for the wall clock to catch up with it.
            self.time_offset = (ctx.timestamp as i64).saturating_sub(now_secs() as i64);
        }
        ctx
    }

    /// The context the next block would have, changing nothing. Its timestamp is the
    /// (offset) wall clock, but always past the head's, as geth makes it (anvil lets two
    /// blocks of one second share a timestamp): a contract that stores `block.timestamp`
    /// would otherwise cost less in a gas estimate against a block of the head's second than
    /// mined in the next (an SSTORE of an unchanged value is cheap), and the estimate fell
    /// short.
    fn peek_block_context(&self) -> BlockContext {
        let wall = (now_secs() as i64).saturating_add(self.time_offset).max(0) as u64;
        let timestamp =
            self.next_timestamp.unwrap_or_else(|| wall.max(self.head.timestamp.saturating_add(1)));
        BlockContext {
            number: self.head.number + 1,
            timestamp,
            base_fee: next_base_fee(&self.head),
            gas_limit: self.config.gas_limit,
            prevrandao: keccak256(self.head_hash),
            coinbase: Address::ZERO,
            hardfork: self.config.hardfork,
        }
    }

    /// Executes `txs` into one new block. Transactions that are refused get their error
    /// and are left out; with `allow_empty` false, a block nobody got into is not made.
    fn mine_block(&mut self, txs: Vec<PoolTx>, batch: &mut Batch, allow_empty: bool) -> Result<()> {
        let ctx = self.block_context();
        let mut changeset = Changeset { block: Some(ctx.number), ..Default::default() };
        let mut block_diff = StateDiff::default();
        let mut included: Vec<(B256, StoredTx)> = Vec::with_capacity(txs.len());
        let mut receipts: Vec<StoredReceipt> = Vec::with_capacity(txs.len());
        let mut appearances: Vec<Appearances> = Vec::with_capacity(txs.len());
        let mut cumulative = 0u64;
        let mut log_index = 0u64;
        for tx in txs {
            if cumulative + tx.envelope.gas_limit() > ctx.gas_limit {
                // Does not fit: back to the pool for the next block.
                self.pool.put_back(tx);
                continue;
            }
            let env = exec::tx_env(&tx.envelope, tx.sender);
            // Watched while it runs, for the address-history indexes: replaying every
            // transaction later to answer a search would cost far more.
            let outcome = exec::inspect(
                self.state.db(&batch.reader),
                self.config.chain_id,
                &ctx,
                env,
                Leniency::default(),
                AppearanceInspector::default(),
            );
            let (outcome, watched) = match outcome {
                Ok(o) => o,
                Err(e) => {
                    // Valid when it was taken, but not against this block's state (geth
                    // drops such a transaction from its pool the same way).
                    self.pending.lock().remove(&tx.hash);
                    tracing::warn!(tx = %tx.hash, error = %e, "transaction dropped: it cannot run in this block");
                    continue;
                }
            };
            self.state.apply(&batch.reader, outcome.state, &mut changeset, &mut block_diff)?;
            let gas_used = outcome.result.tx_gas_used();
            cumulative += gas_used;
            let success = outcome.result.is_success();
            appearances.push(watched.into_appearances(success));
            let logs = outcome.result.into_logs();
            let n_logs = logs.len() as u64;
            let receipt = Receipt { status: success.into(), cumulative_gas_used: cumulative, logs };
            let tx_type = tx.envelope.tx_type();
            let envelope = receipt_envelope(tx_type, receipt);
            let to = tx.envelope.to();
            let contract_address = to.is_none().then(|| tx.sender.create(tx.envelope.nonce()));
            receipts.push(StoredReceipt {
                receipt: envelope,
                gas_used,
                effective_gas_price: tx.envelope.effective_gas_price(Some(ctx.base_fee)),
                from: tx.sender,
                to,
                contract_address,
                first_log_index: log_index,
            });
            log_index += n_logs;
            let index = included.len() as u64;
            included.push((
                tx.hash,
                StoredTx {
                    envelope: tx.envelope,
                    sender: tx.sender,
                    block_number: ctx.number,
                    index,
                },
            ));
        }
        if included.is_empty() && !allow_empty {
            return Ok(());
        }

        let envelopes: Vec<&TxEnvelope> = included.iter().map(|(_, t)| &t.envelope).collect();
        let receipt_envs: Vec<&ReceiptEnvelope> = receipts.iter().map(|r| &r.receipt).collect();
        let logs_bloom = receipts.iter().fold(Bloom::ZERO, |mut acc, r| {
            acc.accrue_bloom(r.receipt.logs_bloom());
            acc
        });
        let state_root = if self.config.merkle_state_root {
            self.update_trie(&block_diff, batch)?
        } else {
            keccak256([self.head.state_root.0, block_diff.digest().0].concat())
        };
        let header = Header {
            parent_hash: self.head_hash,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: ctx.coinbase,
            state_root,
            transactions_root: calculate_transaction_root(&envelopes),
            receipts_root: calculate_receipt_root(&receipt_envs),
            logs_bloom,
            difficulty: U256::ZERO,
            number: ctx.number,
            gas_limit: ctx.gas_limit,
            gas_used: cumulative,
            timestamp: ctx.timestamp,
            extra_data: Bytes::new(),
            mix_hash: ctx.prevrandao,
            nonce: B64::ZERO,
            base_fee_per_gas: Some(ctx.base_fee),
            withdrawals_root: Some(EMPTY_ROOT_HASH),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(B256::ZERO),
            requests_hash: ctx.hardfork.has_requests().then_some(EMPTY_REQUESTS_HASH),
            ..Default::default()
        };
        let hash = header.hash_slow();
        self.state.note_block_hash(header.number, hash);
        block_diff.merge_into(&mut batch.diff);
        self.record(changeset, batch);
        self.head = header.clone();
        self.head_hash = hash;
        batch.commit.blocks.push(BlockRecord {
            header,
            hash,
            txs: included,
            receipts,
            appearances,
        });
        Ok(())
    }

    fn revert(&mut self, id: U256) -> Result<bool> {
        let Some(point) = self.snapshots.remove(&id) else { return Ok(false) };
        self.snapshots.retain(|k, _| *k < id);
        // The tries as they were at the snapshot: the current ones with the later records'
        // old values put back (everything mined is on disk: `dispatch` drained first).
        let trie = if self.config.merkle_state_root {
            let reader = self.storage.reader()?;
            let rewind = Rewind::from_changesets(reader.changesets(point.seq + 1, u64::MAX)?);
            rewind.trie_update().apply(&reader, &mut |a| reader.account(a))?.1
        } else {
            NodeOverlay::default()
        };
        self.storage.unwind(
            point.seq,
            &trie,
            &[
                (meta::HEAD, point.head.to_be_bytes().to_vec()),
                (meta::LAST_SEQ, point.seq.to_be_bytes().to_vec()),
                (meta::TIME_OFFSET, point.time_offset.to_be_bytes().to_vec()),
            ],
        )?;
        self.pool = Pool::default();
        self.pending.lock().clear();
        self.next_timestamp = None;
        self.reload()?;
        Ok(true)
    }
}

/// Queues `reply` to be answered with `result` once the batch is durable.
fn after_commit<T: Send + 'static>(batch: &mut Batch, reply: Reply<T>, result: Result<T>) {
    batch.done.push(Box::new(move |commit: &Result<()>| {
        let r = match commit {
            Ok(()) => result,
            Err(e) => Err(Error::Corrupt(format!("the change could not be stored: {e}"))),
        };
        let _ = reply.send(r);
    }));
}

fn receipt_envelope(tx_type: TxType, receipt: Receipt) -> ReceiptEnvelope {
    let with_bloom = receipt.with_bloom();
    match tx_type {
        TxType::Legacy => ReceiptEnvelope::Legacy(with_bloom),
        TxType::Eip2930 => ReceiptEnvelope::Eip2930(with_bloom),
        TxType::Eip1559 => ReceiptEnvelope::Eip1559(with_bloom),
        TxType::Eip4844 => ReceiptEnvelope::Eip4844(with_bloom),
        TxType::Eip7702 => ReceiptEnvelope::Eip7702(with_bloom),
    }
}
