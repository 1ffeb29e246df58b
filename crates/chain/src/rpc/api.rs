//! Answers to each request: the one `match` over [`Request`]. Log queries and filters are
//! in `filter.rs`, Otterscan's `ots_*` answers in `otterscan.rs`, stored records become
//! RPC objects in `convert.rs`.

use alloy::rpc::types::trace::geth::{GethDebugTracingOptions, GethTrace};
use std::sync::Arc;

use alloy::consensus::{Header, Transaction as _};
use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use alloy::rpc::types::{FeeHistory, Transaction, TransactionRequest};
use alloy::signers::SignerSync;
use parking_lot::Mutex;
use serde_json::{json, Value};

use super::convert::{self, to_value, RpcResult};
use super::filter::{FilterKind, Filters};
use super::limits::{Budget, Cancel, EvmPool};
use super::request::{parse_body_with, Body, Call, MineOptions, Request};
use super::{Response, RpcError};
use crate::exec::{self, BlockContext, Leniency};
use crate::node::{AccountChange, Node, SUGGESTED_PRIORITY_FEE};
use crate::state::{Rewind, SnapshotDb};
use crate::storage::{meta, StorageReader};
use crate::trie::Layered;
use crate::{Error, Result, MAX_TIMESTAMP};

/// Blocks one message to the miner mines at most: a long `anvil_mine` is sent in chunks,
/// each committed on its own, so memory stays flat and a dropped request stops mining at
/// the next chunk.
const MINE_CHUNK: u64 = 1000;

/// Most accounts and slots `eth_getProof` undoes to reach an older block.
pub const MAX_PROOF_REWIND: usize = 1_000_000;

fn header_not_found() -> RpcError {
    RpcError::new(-32000, "header not found")
}

fn tx_not_found(hash: B256) -> RpcError {
    Error::InvalidParams(format!(
        "transaction {hash} not found (pending transactions are traced once mined)"
    ))
    .into()
}

/// The Ethereum JSON-RPC API over an embedded [`Node`].
pub struct EthApi {
    pub(super) node: Arc<Node>,
    pub(super) filters: Mutex<Filters>,
    client_version: String,
    pub(super) evm: EvmPool,
}

impl EthApi {
    /// An API answering for `node`.
    pub fn new(node: Arc<Node>) -> Self {
        Self {
            evm: EvmPool::new(node.config()),
            node,
            filters: Mutex::new(Filters::default()),
            client_version: format!("alara/v{}/revm", env!("CARGO_PKG_VERSION")),
        }
    }

    /// A handle for one EVM worker: the same node, without the RPC state (filters, pool).
    pub(super) fn for_worker(node: Arc<Node>) -> Self {
        Self::new(node)
    }

    /// The node behind this API.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Answers an HTTP body holding one request or a batch. `None` means no response is
    /// due (a lone notification).
    pub async fn handle_body(&self, body: &[u8]) -> Option<Value> {
        let bytes = self.handle_body_bytes(body).await?;
        Some(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// [`EthApi::handle_body`] as the serialized JSON the transport sends. The whole body
    /// shares one budget: logs, answer bytes and mined blocks are capped per HTTP
    /// request, not only per call.
    pub async fn handle_body_bytes(&self, body: &[u8]) -> Option<Vec<u8>> {
        let config = self.node.config();
        let mut budget = Budget::new(config);
        match parse_body_with(body, config.max_batch_requests) {
            Body::Invalid(response) => Some(serialize(&response)),
            Body::One(call) => {
                let response = self.answer(call, &mut budget).await?;
                let id = response.id.clone();
                let bytes = serialize_off_thread(response).await;
                Some(if budget.take_bytes(bytes.len()) {
                    bytes
                } else {
                    serialize(&Response::err(id, Budget::too_large(config)))
                })
            }
            Body::Batch(calls) => {
                let mut out = b"[".to_vec();
                for call in calls {
                    // Let other connections' requests in between a batch's entries.
                    tokio::task::yield_now().await;
                    let Some(response) = self.answer(call, &mut budget).await else { continue };
                    let id = response.id.clone();
                    let mut bytes = serialize_off_thread(response).await;
                    if !budget.take_bytes(bytes.len()) {
                        drop(bytes);
                        bytes = serialize(&Response::err(id, Budget::too_large(config)));
                    }
                    if out.len() > 1 {
                        out.push(b',');
                    }
                    out.extend_from_slice(&bytes);
                }
                out.push(b']');
                (out.len() > 2).then_some(out)
            }
        }
    }

    async fn answer(&self, call: Call, budget: &mut Budget) -> Option<Response> {
        let (id, notification, request) = match call {
            Call::Invalid(response) => return Some(response),
            Call::Request { id, notification, request, .. } => (id, notification, request),
        };
        let result = match request {
            // Once the answer is full, nothing more is run for it.
            Ok(_) if budget.bytes_left == 0 => Err(Budget::too_large(self.node.config())),
            Ok(req) => self.handle_in(req, budget).await,
            Err(e) => Err(e),
        };
        if notification {
            return None;
        }
        Some(match result {
            Ok(v) => Response::ok(id, v),
            Err(e) => Response::err(id, e),
        })
    }

    /// Answers one parsed request (with the allowance of a request of its own).
    pub async fn handle(&self, req: Request) -> RpcResult {
        self.handle_in(req, &mut Budget::new(self.node.config())).await
    }

    /// Answers one parsed request, within what is left of its HTTP request's `budget`.
    async fn handle_in(&self, req: Request, budget: &mut Budget) -> RpcResult {
        use Request::*;
        let node = &self.node;
        match req {
            Web3ClientVersion => to_value(&self.client_version),
            Web3Sha3(data) => to_value(keccak256(&data)),
            NetVersion => to_value(node.chain_id().to_string()),
            NetListening => Ok(Value::Bool(true)),
            NetPeerCount => to_value(U256::ZERO),
            EthChainId => to_value(U256::from(node.chain_id())),
            EthBlockNumber => to_value(U256::from(self.head(&node.reader()?)?)),
            EthAccounts => to_value(node.accounts()),
            EthSyncing | EthMining => Ok(Value::Bool(false)),
            EthHashrate => to_value(U256::ZERO),
            EthCoinbase => to_value(Address::ZERO),
            EthProtocolVersion => to_value("0x41"),
            EthGasPrice => {
                let base = self.next_base_fee(&node.reader()?)?;
                to_value(U256::from(base as u128 + SUGGESTED_PRIORITY_FEE))
            }
            EthMaxPriorityFeePerGas => to_value(U256::from(SUGGESTED_PRIORITY_FEE)),
            EthBlobBaseFee => to_value(U256::from(1)),
            EthFeeHistory(count, newest, percentiles) => {
                self.fee_history(count, newest, &percentiles)
            }
            EthGetBalance(addr, block) => {
                let account = self.account_at(addr, block)?;
                to_value(account.map(|a| a.balance).unwrap_or_default())
            }
            EthGetTransactionCount(addr, block) => {
                if block == BlockId::pending() {
                    return to_value(U256::from(node.pending_nonce(addr).await?));
                }
                let account = self.account_at(addr, block)?;
                to_value(U256::from(account.map(|a| a.nonce).unwrap_or_default()))
            }
            EthGetCode(addr, block) => {
                let reader = node.reader()?;
                let (_, rewind) = self.state_at(&reader, block)?;
                let view = SnapshotDb::new(&reader, rewind.as_ref());
                let code = match view.account(&addr)? {
                    Some(a) => view.code(&a.code_hash)?,
                    None => Bytes::new(),
                };
                to_value(code)
            }
            EthGetStorageAt(addr, slot, block) => {
                let reader = node.reader()?;
                let (_, rewind) = self.state_at(&reader, block)?;
                let value = SnapshotDb::new(&reader, rewind.as_ref()).slot(&addr, &slot)?;
                to_value(B256::from(value))
            }
            EthGetProof(addr, keys, block) => {
                // Rewinding the tries to an older block can take a while: off the I/O threads,
                // within the time budget.
                let node = node.clone();
                let out = self
                    .evm
                    .run("eth_getProof", move |_| Self::for_worker(node).proof(addr, &keys, block))
                    .await?;
                to_value(out)
            }
            EthCall(tx, block) => {
                let node = node.clone();
                let out = self
                    .evm
                    .run("eth_call", move |_| Self::for_worker(node).call(&tx, block))
                    .await?;
                to_value(out)
            }
            DebugTraceTransaction(hash, opts) => {
                let node = node.clone();
                let out = self
                    .evm
                    .run("debug_traceTransaction", move |_| {
                        Self::for_worker(node).trace_transaction(hash, &opts)
                    })
                    .await?;
                to_value(out)
            }
            DebugTraceCall(tx, block, opts) => {
                let node = node.clone();
                let out = self
                    .evm
                    .run("debug_traceCall", move |_| {
                        Self::for_worker(node).trace_call(&tx, block, &opts)
                    })
                    .await?;
                to_value(out)
            }
            OtsGetApiLevel => to_value(crate::otterscan::API_LEVEL),
            OtsHasCode(addr, block) => self.ots_has_code(&node.reader()?, addr, block),
            OtsTraceTransaction(hash) => {
                let node = node.clone();
                let out = self
                    .evm
                    .run("ots_traceTransaction", move |_| {
                        Self::for_worker(node).replay(hash, |db, chain_id, ctx, env| {
                            crate::otterscan::trace_entries(db, chain_id, ctx, env)
                        })
                    })
                    .await?;
                to_value(out)
            }
            OtsGetInternalOperations(hash) => {
                let node = node.clone();
                let out = self
                    .evm
                    .run("ots_getInternalOperations", move |_| {
                        Self::for_worker(node).replay(hash, |db, chain_id, ctx, env| {
                            crate::otterscan::internal_operations(db, chain_id, ctx, env)
                        })
                    })
                    .await?;
                to_value(out)
            }
            OtsGetTransactionError(hash) => {
                // Only a failed transaction has revert data: the receipt says so without
                // running anything.
                let failed = match node.reader()?.receipt(&hash)? {
                    Some(r) => !alloy::consensus::TxReceipt::status(&r.receipt),
                    None => return Err(tx_not_found(hash)),
                };
                if !failed {
                    return to_value(Bytes::new());
                }
                let node = node.clone();
                let out = self
                    .evm
                    .run("ots_getTransactionError", move |_| {
                        Self::for_worker(node).replay(hash, |db, chain_id, ctx, env| {
                            crate::otterscan::revert_output(db, chain_id, ctx, env)
                        })
                    })
                    .await?;
                to_value(out)
            }
            OtsGetBlockDetails(tag) => {
                let reader = node.reader()?;
                let n = self.number_of(&reader, tag)?;
                self.ots_block_details(&reader, n)
            }
            OtsGetBlockDetailsByHash(hash) => {
                let reader = node.reader()?;
                let n = reader.block_number(&hash)?;
                self.ots_block_details(&reader, n)
            }
            OtsGetBlockTransactions(number, page, size) => {
                self.ots_block_transactions(&node.reader()?, number, page, size)
            }
            OtsSearchTransactionsBefore(addr, block, size) => {
                self.ots_search(&node.reader()?, addr, block, size, true)
            }
            OtsSearchTransactionsAfter(addr, block, size) => {
                self.ots_search(&node.reader()?, addr, block, size, false)
            }
            OtsGetTransactionBySenderAndNonce(sender, nonce) => {
                to_value(node.reader()?.tx_by_sender_nonce(&sender, nonce)?)
            }
            OtsGetContractCreator(addr) => self.ots_contract_creator(&node.reader()?, addr),
            ErigonGetHeaderByNumber(tag) => {
                let reader = node.reader()?;
                match self.number_of(&reader, tag)? {
                    Some(n) => convert::block(&reader, n, false),
                    None => Ok(Value::Null),
                }
            }
            EthEstimateGas(tx, block) => {
                to_value(U256::from(self.estimate_on_pool("eth_estimateGas", tx, block).await?))
            }
            EthSendRawTransaction(raw) => to_value(node.send_raw(&raw).await?),
            EthSendTransaction(tx) => to_value(self.send_transaction(tx).await?),
            EthGetTransactionByHash(hash) => {
                let reader = node.reader()?;
                if let Some(stored) = reader.tx(&hash)? {
                    return to_value(convert::tx(&reader, stored)?);
                }
                match node.pending_tx(&hash) {
                    Some(p) => to_value(Transaction {
                        inner: alloy::consensus::transaction::Recovered::new_unchecked(
                            p.envelope, p.sender,
                        ),
                        block_hash: None,
                        block_number: None,
                        transaction_index: None,
                        effective_gas_price: None,
                        block_timestamp: None,
                    }),
                    None => Ok(Value::Null),
                }
            }
            EthGetTransactionReceipt(hash) => {
                let reader = node.reader()?;
                match (reader.tx(&hash)?, reader.receipt(&hash)?) {
                    (Some(tx), Some(r)) => to_value(convert::receipt(&reader, hash, &tx, r)?),
                    _ => Ok(Value::Null),
                }
            }
            EthGetBlockByNumber(tag, full) => {
                let reader = node.reader()?;
                match self.number_of(&reader, tag)? {
                    Some(n) => convert::block(&reader, n, full),
                    None => Ok(Value::Null),
                }
            }
            EthGetBlockByHash(hash, full) => {
                let reader = node.reader()?;
                match reader.block_number(&hash)? {
                    Some(n) => convert::block(&reader, n, full),
                    None => Ok(Value::Null),
                }
            }
            EthGetBlockReceipts(block) => {
                let reader = node.reader()?;
                let Some(n) = self.block_id_number(&reader, block)? else { return Ok(Value::Null) };
                let mut out = Vec::new();
                for hash in reader.block_tx_hashes(n)? {
                    if let (Some(tx), Some(r)) = (reader.tx(&hash)?, reader.receipt(&hash)?) {
                        out.push(convert::receipt(&reader, hash, &tx, r)?);
                    }
                }
                to_value(out)
            }
            EthGetBlockTransactionCountByNumber(tag) => {
                let reader = node.reader()?;
                match self.number_of(&reader, tag)? {
                    Some(n) => to_value(U256::from(reader.block_tx_hashes(n)?.len())),
                    None => Ok(Value::Null),
                }
            }
            EthGetBlockTransactionCountByHash(hash) => {
                let reader = node.reader()?;
                match reader.block_number(&hash)? {
                    Some(n) => to_value(U256::from(reader.block_tx_hashes(n)?.len())),
                    None => Ok(Value::Null),
                }
            }
            EthGetTransactionByBlockNumberAndIndex(tag, index) => {
                let reader = node.reader()?;
                match self.number_of(&reader, tag)? {
                    Some(n) => convert::tx_at(&reader, n, index.0),
                    None => Ok(Value::Null),
                }
            }
            EthGetTransactionByBlockHashAndIndex(hash, index) => {
                let reader = node.reader()?;
                match reader.block_number(&hash)? {
                    Some(n) => convert::tx_at(&reader, n, index.0),
                    None => Ok(Value::Null),
                }
            }
            EthGetUncleCountByBlockNumber(_) | EthGetUncleCountByBlockHash(_) => {
                to_value(U256::ZERO)
            }
            EthGetLogs(filter) => self.logs_on_pool("eth_getLogs", *filter, None, budget).await,
            EthSign(addr, msg) | PersonalSign(msg, addr) => {
                let signer = self.unlocked(&addr)?;
                let sig =
                    signer.sign_message_sync(&msg).map_err(|e| Error::Signer(e.to_string()))?;
                to_value(Bytes::from(sig.as_bytes().to_vec()))
            }
            EthSignTypedDataV4(addr, typed) => {
                let signer = self.unlocked(&addr)?;
                let hash = typed
                    .eip712_signing_hash()
                    .map_err(|e| RpcError::invalid_params(format!("eth_signTypedData_v4: {e}")))?;
                let sig = signer.sign_hash_sync(&hash).map_err(|e| Error::Signer(e.to_string()))?;
                to_value(Bytes::from(sig.as_bytes().to_vec()))
            }
            EthNewFilter(filter) => self.install(FilterKind::Logs(filter)),
            EthNewBlockFilter => self.install(FilterKind::Blocks),
            EthNewPendingTransactionFilter => self.install(FilterKind::PendingTransactions),
            EthGetFilterChanges(id) => self.filter_changes(id, budget).await,
            EthGetFilterLogs(id) => self.filter_logs(id, budget).await,
            EthUninstallFilter(id) => Ok(Value::Bool(self.uninstall(id))),
            EvmSnapshot => to_value(node.snapshot().await?),
            EvmRevert(id) => Ok(Value::Bool(node.revert(id).await?)),
            EvmMine(MineOptions { timestamp, blocks }) => {
                let blocks = blocks.unwrap_or(1).max(1);
                budget.take_blocks("evm_mine", blocks, node.config())?;
                if let Some(ts) = timestamp {
                    self.check_next_timestamp("evm_mine", ts)?;
                }
                self.mine_chunked(blocks, timestamp).await?;
                to_value("0x0")
            }
            EvmIncreaseTime(seconds) => {
                let reader = node.reader()?;
                let offset = reader.meta_i64(meta::TIME_OFFSET)?.unwrap_or(0);
                let now = crate::node::now_secs() as i64;
                let fits = offset
                    .checked_add(seconds)
                    .and_then(|o| o.checked_add(now))
                    .is_some_and(|t| t <= MAX_TIMESTAMP as i64);
                if !fits {
                    return Err(RpcError::invalid_params(format!(
                        "evm_increaseTime: moving the clock {seconds} s forward passes the \
                         latest timestamp the node accepts ({MAX_TIMESTAMP})"
                    )));
                }
                to_value(node.increase_time(seconds).await?)
            }
            EvmSetNextBlockTimestamp(ts) => {
                self.check_next_timestamp("evm_setNextBlockTimestamp", ts)?;
                node.set_next_timestamp(ts).await?;
                Ok(Value::Null)
            }
            AnvilMine(blocks, interval) => {
                let blocks = blocks.max(1);
                budget.take_blocks("anvil_mine", blocks, node.config())?;
                match interval {
                    Some(step) => {
                        let head_ts = self.head_header(&node.reader()?)?.timestamp;
                        let last = step
                            .checked_mul(blocks)
                            .and_then(|d| d.checked_add(head_ts))
                            .filter(|t| *t <= MAX_TIMESTAMP);
                        if last.is_none() {
                            return Err(RpcError::invalid_params(format!(
                                "anvil_mine: {blocks} blocks {step} s apart would pass the \
                                 latest timestamp the node accepts ({MAX_TIMESTAMP})"
                            )));
                        }
                        for i in 1..=blocks {
                            node.mine(1, Some(head_ts + step * i)).await?;
                        }
                    }
                    None => self.mine_chunked(blocks, None).await?,
                }
                Ok(Value::Null)
            }
            AnvilSetBalance(addr, balance) => {
                node.set_account(addr, AccountChange::Balance(balance)).await?;
                Ok(Value::Null)
            }
            AnvilSetNonce(addr, nonce) => {
                node.set_account(addr, AccountChange::Nonce(nonce)).await?;
                Ok(Value::Null)
            }
            AnvilSetCode(addr, code) => {
                node.set_account(addr, AccountChange::Code(code)).await?;
                Ok(Value::Null)
            }
            AnvilSetStorageAt(addr, slot, value) => {
                node.set_storage(addr, slot, U256::from_be_bytes(value.0)).await?;
                Ok(Value::Bool(true))
            }
        }
    }

    /// Mines `blocks` blocks in chunks of [`MINE_CHUNK`], the first at `timestamp`.
    async fn mine_chunked(&self, blocks: u64, mut timestamp: Option<u64>) -> Result<()> {
        let mut left = blocks;
        while left > 0 {
            let n = left.min(MINE_CHUNK);
            self.node.mine(n, timestamp.take()).await?;
            left -= n;
        }
        Ok(())
    }

    /// Refuses a timestamp for the next block that is before the head's or past
    /// [`MAX_TIMESTAMP`].
    fn check_next_timestamp(&self, method: &str, ts: u64) -> std::result::Result<(), RpcError> {
        if ts > MAX_TIMESTAMP {
            return Err(RpcError::invalid_params(format!(
                "{method}: timestamp {ts} is past the latest the node accepts ({MAX_TIMESTAMP})"
            )));
        }
        let head = self.head_header(&self.node.reader()?)?.timestamp;
        if ts < head {
            return Err(RpcError::invalid_params(format!(
                "{method}: timestamp {ts} is before the head block's {head}; block timestamps \
                 cannot go backwards"
            )));
        }
        Ok(())
    }

    /// [`EthApi::estimate_gas`] on the EVM pool.
    async fn estimate_on_pool(
        &self,
        method: &str,
        tx: TransactionRequest,
        block: BlockId,
    ) -> std::result::Result<u64, RpcError> {
        let node = self.node.clone();
        self.evm
            .run(method, move |cancel| Self::for_worker(node).estimate_gas(&tx, block, cancel))
            .await
    }

    fn unlocked(
        &self,
        addr: &Address,
    ) -> std::result::Result<&alloy::signers::local::PrivateKeySigner, RpcError> {
        self.node.signer(addr).ok_or_else(|| {
            RpcError::new(
                -32000,
                format!("no signer available for {addr}: the account is not unlocked on this node"),
            )
        })
    }

    pub(super) fn head(&self, reader: &StorageReader) -> Result<u64> {
        reader.meta_u64(meta::HEAD)?.ok_or_else(|| Error::Corrupt("no head block".into()))
    }

    fn head_header(&self, reader: &StorageReader) -> Result<Header> {
        let n = self.head(reader)?;
        reader.header(n)?.ok_or_else(|| Error::Corrupt(format!("head block {n} missing")))
    }

    fn next_base_fee(&self, reader: &StorageReader) -> Result<u64> {
        let head = self.head_header(reader)?;
        Ok(head
            .next_block_base_fee(alloy::eips::eip1559::BaseFeeParams::ethereum())
            .unwrap_or(crate::node::INITIAL_BASE_FEE))
    }

    /// The block number a tag refers to, if that block exists.
    pub(super) fn number_of(
        &self,
        reader: &StorageReader,
        tag: BlockNumberOrTag,
    ) -> Result<Option<u64>> {
        let head = self.head(reader)?;
        Ok(match tag {
            BlockNumberOrTag::Earliest => Some(0),
            BlockNumberOrTag::Number(n) => (n <= head).then_some(n),
            _ => Some(head),
        })
    }

    fn block_id_number(&self, reader: &StorageReader, id: BlockId) -> Result<Option<u64>> {
        match id {
            BlockId::Number(tag) => self.number_of(reader, tag),
            BlockId::Hash(h) => reader.block_number(&h.block_hash),
        }
    }

    /// The header at `block` and, for an older block, the overlay that rewinds state to it.
    pub(super) fn state_at(
        &self,
        reader: &StorageReader,
        block: BlockId,
    ) -> std::result::Result<(Header, Option<Rewind>), RpcError> {
        let n = self.block_id_number(reader, block)?.ok_or_else(header_not_found)?;
        let header = reader.header(n)?.ok_or_else(header_not_found)?;
        if n == self.head(reader)? {
            return Ok((header, None));
        }
        let last = reader.meta_u64(meta::LAST_SEQ)?.unwrap_or(0);
        let from = match reader.block_seq(n)? {
            Some(seq) => seq + 1,
            None => 1, // genesis: every record is newer
        };
        Ok((header, Some(Rewind::from_changesets(reader.changesets(from, last)?))))
    }

    /// `eth_getProof`: the account and slots proven against the state root of `block`'s
    /// header. An older block's tries are the current ones with the later change sets
    /// undone in memory, so the cost grows with the changes since; further back than
    /// [`MAX_PROOF_REWIND`] changed accounts and slots is refused.
    fn proof(
        &self,
        addr: Address,
        keys: &[alloy::serde::JsonStorageKey],
        block: BlockId,
    ) -> std::result::Result<alloy::rpc::types::EIP1186AccountProofResponse, RpcError> {
        if !self.node.config().merkle_state_root {
            return Err(Error::Unsupported(
                "eth_getProof needs Merkle state roots, which this node runs without \
                 (NodeConfig::merkle_state_root)"
                    .into(),
            )
            .into());
        }
        let reader = self.node.reader()?;
        let n = self.block_id_number(&reader, block)?.ok_or_else(header_not_found)?;
        let header = reader.header(n)?.ok_or_else(header_not_found)?;
        // State at a block is the state right after its own record: later records, cheat
        // codes included, are undone so that the proof matches the header's root.
        let from = reader.block_seq(n)?.map_or(1, |seq| seq + 1);
        let rewind = Rewind::from_changesets(reader.changesets(from, u64::MAX)?);
        if rewind.len() > MAX_PROOF_REWIND {
            return Err(RpcError::new(
                -32000,
                format!(
                    "eth_getProof: block {n} is too far behind the head ({} accounts and slots \
                     changed since, at most {MAX_PROOF_REWIND} are undone); ask for a newer block",
                    rewind.len()
                ),
            ));
        }
        let (root, overlay) = rewind.trie_update().apply(&reader, &mut |a| reader.account(a))?;
        if root != header.state_root {
            return Err(Error::Corrupt(format!(
                "the stored tries give state root {root} at block {n}, its header says {}",
                header.state_root
            ))
            .into());
        }
        let src = Layered { top: &overlay, below: &reader };
        let slots: Vec<B256> = keys.iter().map(|k| k.as_b256()).collect();
        let p = crate::trie::prove_account(&src, &addr, &slots)?;
        let account = p.account_or_empty();
        Ok(alloy::rpc::types::EIP1186AccountProofResponse {
            address: addr,
            balance: account.balance,
            code_hash: account.code_hash,
            nonce: account.nonce,
            storage_hash: account.storage_root,
            account_proof: p.proof,
            storage_proof: keys
                .iter()
                .zip(p.storage)
                .map(|(key, s)| alloy::rpc::types::EIP1186StorageProof {
                    key: *key,
                    value: s.value,
                    proof: s.proof,
                })
                .collect(),
        })
    }

    fn account_at(
        &self,
        addr: Address,
        block: BlockId,
    ) -> std::result::Result<Option<crate::storage::AccountRecord>, RpcError> {
        let reader = self.node.reader()?;
        let (_, rewind) = self.state_at(&reader, block)?;
        Ok(SnapshotDb::new(&reader, rewind.as_ref()).account(&addr)?)
    }

    fn call_context(&self, header: &Header) -> BlockContext {
        BlockContext {
            hardfork: self.node.config().hardfork,
            number: header.number,
            timestamp: header.timestamp,
            base_fee: header.base_fee_per_gas.unwrap_or_default(),
            gas_limit: header.gas_limit,
            prevrandao: header.mix_hash,
            coinbase: header.beneficiary,
        }
    }

    fn run_call(
        &self,
        tx: &TransactionRequest,
        block: BlockId,
        gas: Option<u64>,
    ) -> std::result::Result<exec::Outcome, RpcError> {
        let reader = self.node.reader()?;
        let (header, rewind) = self.state_at(&reader, block)?;
        let view = SnapshotDb::new(&reader, rewind.as_ref());
        let (env, leniency) = self.call_env(&view, tx, &header, gas)?;
        let ctx = self.call_context(&header);
        Ok(exec::execute(view, self.node.chain_id(), &ctx, env, leniency)?)
    }

    /// The environment of a call of `tx` on `view` in the block of `header`, as `eth_call`
    /// runs it (nonce from the state, no base fee when no gas price is given).
    fn call_env(
        &self,
        view: &SnapshotDb<'_>,
        tx: &TransactionRequest,
        header: &Header,
        gas: Option<u64>,
    ) -> std::result::Result<(revm::context::TxEnv, Leniency), RpcError> {
        let nonce = match tx.nonce {
            Some(n) => n,
            None => view.account(&tx.from.unwrap_or_default())?.map(|a| a.nonce).unwrap_or(0),
        };
        let cap = header.gas_limit.min(self.node.config().rpc_gas_cap);
        let mut env = exec::call_env(tx, self.node.chain_id(), cap, nonce);
        if let Some(g) = gas {
            env.gas_limit = g;
        }
        let leniency = Leniency { no_base_fee: env.gas_price == 0, no_nonce_check: true };
        if env.gas_price == 0 {
            env.gas_priority_fee = None;
        }
        Ok((env, leniency))
    }

    /// Re-runs the transaction `hash` on the state before it (its block's parent, then the
    /// transactions before it in the block) with a tracer.
    fn trace_transaction(
        &self,
        hash: B256,
        opts: &GethDebugTracingOptions,
    ) -> std::result::Result<GethTrace, RpcError> {
        self.replay(hash, |db, chain_id, ctx, env| {
            crate::trace::trace(db, chain_id, ctx, env, Leniency::default(), opts)
        })
    }

    /// Runs `run` on the mined transaction `hash` and the state it saw: its block's parent
    /// with the transactions before it in the block applied.
    pub(super) fn replay<T>(
        &self,
        hash: B256,
        run: impl FnOnce(
            &mut revm::database::State<SnapshotDb<'_>>,
            u64,
            &BlockContext,
            revm::context::TxEnv,
        ) -> Result<T>,
    ) -> std::result::Result<T, RpcError> {
        let reader = self.node.reader()?;
        let stored = reader.tx(&hash)?.ok_or_else(|| tx_not_found(hash))?;
        let number = stored.block_number;
        let header = reader.header(number)?.ok_or_else(header_not_found)?;
        let parent = BlockId::number(number.saturating_sub(1));
        let (_, rewind) = self.state_at(&reader, parent)?;
        let ctx = self.call_context(&header);
        let chain_id = self.node.chain_id();
        let mut db = revm::database::State::builder()
            .with_database(SnapshotDb::new(&reader, rewind.as_ref()))
            .build();
        for earlier in reader.block_tx_hashes(number)? {
            if earlier == hash {
                break;
            }
            let tx = reader.tx(&earlier)?.ok_or_else(|| {
                Error::Corrupt(format!("block {number} lists {earlier}, which is not stored"))
            })?;
            let env = exec::tx_env(&tx.envelope, tx.sender);
            let outcome = exec::execute(&mut db, chain_id, &ctx, env, Leniency::default())?;
            revm::DatabaseCommit::commit(&mut db, outcome.state);
        }
        let env = exec::tx_env(&stored.envelope, stored.sender);
        Ok(run(&mut db, chain_id, &ctx, env)?)
    }

    /// Runs `tx` as `eth_call` would, with a tracer.
    fn trace_call(
        &self,
        tx: &TransactionRequest,
        block: BlockId,
        opts: &GethDebugTracingOptions,
    ) -> std::result::Result<GethTrace, RpcError> {
        let reader = self.node.reader()?;
        let (header, rewind) = self.state_at(&reader, block)?;
        let view = SnapshotDb::new(&reader, rewind.as_ref());
        let (env, leniency) = self.call_env(&view, tx, &header, None)?;
        let ctx = self.call_context(&header);
        Ok(crate::trace::trace(view, self.node.chain_id(), &ctx, env, leniency, opts)?)
    }

    fn call(
        &self,
        tx: &TransactionRequest,
        block: BlockId,
    ) -> std::result::Result<Bytes, RpcError> {
        let outcome = self.run_call(tx, block, None)?;
        if let Some(e) = exec::result_error(&outcome.result) {
            return Err(e.into());
        }
        Ok(outcome.result.into_output().unwrap_or_default())
    }

    /// Binary search for the least gas limit that succeeds, as geth does.
    fn estimate_gas(
        &self,
        tx: &TransactionRequest,
        block: BlockId,
        cancel: &Cancel,
    ) -> std::result::Result<u64, RpcError> {
        let reader = self.node.reader()?;
        let limit = self.head_header(&reader)?.gas_limit.min(self.node.config().rpc_gas_cap);
        let cap = tx.gas.unwrap_or(limit).min(limit);
        drop(reader);
        let first = self.run_call(tx, block, Some(cap))?;
        if let Some(e) = exec::result_error(&first.result) {
            return Err(e.into());
        }
        let used = first.result.tx_gas_used();
        let refunded = first.result.gas().inner_refunded();
        let succeeds = |gas: u64| -> std::result::Result<bool, RpcError> {
            if cancel.is_cancelled() {
                return Err(RpcError::new(-32000, "execution aborted (the request timed out)"));
            }
            match self.run_call(tx, block, Some(gas)) {
                Ok(o) => Ok(o.result.is_success()),
                Err(e) if e.code == -32000 && e.message.starts_with("intrinsic gas too low") => {
                    Ok(false)
                }
                Err(e) => Err(e),
            }
        };
        // Most transactions succeed with what they used plus refunds and the 63/64 rule.
        let optimistic = ((used + refunded + 2300) * 64 / 63).min(cap);
        let (mut lo, mut hi) = (used.saturating_sub(1), cap);
        if optimistic < hi && succeeds(optimistic)? {
            hi = optimistic;
        }
        while hi - lo > 1 && (hi - lo) * 1000 > hi * 15 {
            let mid = lo + (hi - lo) / 2;
            if succeeds(mid)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    }

    async fn send_transaction(
        &self,
        mut tx: TransactionRequest,
    ) -> std::result::Result<B256, RpcError> {
        let from = tx
            .from
            .ok_or_else(|| RpcError::invalid_params("eth_sendTransaction: from is required"))?;
        self.unlocked(&from)?;
        if tx.nonce.is_none() {
            tx.nonce = Some(self.node.pending_nonce(from).await?);
        }
        tx.chain_id = Some(self.node.chain_id());
        if tx.gas.is_none() {
            let estimate = self
                .estimate_on_pool(
                    "eth_sendTransaction (its gas estimate)",
                    tx.clone(),
                    BlockId::pending(),
                )
                .await?;
            tx.gas = Some(estimate);
        }
        if tx.gas_price.is_none() {
            let base = self.next_base_fee(&self.node.reader()?)? as u128;
            let tip = tx.max_priority_fee_per_gas.unwrap_or(SUGGESTED_PRIORITY_FEE);
            tx.max_priority_fee_per_gas = Some(tip);
            if tx.max_fee_per_gas.is_none() {
                tx.max_fee_per_gas = Some(2 * base + tip);
            }
        }
        if tx.to.is_none() {
            tx.to = Some(alloy::primitives::TxKind::Create);
        }
        let typed = tx.build_typed_tx().map_err(|req| {
            RpcError::invalid_params(format!(
                "eth_sendTransaction: incomplete transaction: {req:?}"
            ))
        })?;
        Ok(self.node.send_unsigned(from, typed).await?)
    }

    fn fee_history(&self, count: u64, newest: BlockNumberOrTag, percentiles: &[f64]) -> RpcResult {
        let reader = self.node.reader()?;
        let newest = self.number_of(&reader, newest)?.ok_or_else(header_not_found)?;
        let count = count.clamp(1, 1024);
        let oldest = newest.saturating_sub(count - 1);
        let headers = reader.headers(oldest, newest)?;
        let mut base_fees = Vec::with_capacity(headers.len() + 1);
        let mut ratios = Vec::with_capacity(headers.len());
        let mut rewards = Vec::with_capacity(headers.len());
        for h in &headers {
            let base = h.base_fee_per_gas.unwrap_or_default();
            base_fees.push(base as u128);
            ratios.push(if h.gas_limit == 0 {
                0.0
            } else {
                h.gas_used as f64 / h.gas_limit as f64
            });
            if !percentiles.is_empty() {
                let mut tips: Vec<(u128, u64)> = Vec::new();
                for hash in reader.block_tx_hashes(h.number)? {
                    if let (Some(tx), Some(r)) = (reader.tx(&hash)?, reader.receipt(&hash)?) {
                        let tip = tx.envelope.effective_tip_per_gas(base).unwrap_or_default();
                        tips.push((tip, r.gas_used));
                    }
                }
                tips.sort_unstable();
                let total: u64 = tips.iter().map(|t| t.1).sum();
                let row = percentiles
                    .iter()
                    .map(|p| {
                        let threshold = (total as f64 * p / 100.0) as u64;
                        let mut acc = 0u64;
                        tips.iter()
                            .find(|(_, g)| {
                                acc += g;
                                acc >= threshold
                            })
                            .or(tips.last())
                            .map(|t| t.0)
                            .unwrap_or(0)
                    })
                    .collect::<Vec<u128>>();
                rewards.push(row);
            }
        }
        if let Some(last) = headers.last() {
            base_fees.push(
                last.next_block_base_fee(alloy::eips::eip1559::BaseFeeParams::ethereum())
                    .unwrap_or_default() as u128,
            );
        }
        let n = base_fees.len();
        to_value(FeeHistory {
            base_fee_per_gas: base_fees,
            gas_used_ratio: ratios,
            base_fee_per_blob_gas: vec![1; n],
            blob_gas_used_ratio: vec![0.0; n.saturating_sub(1)],
            oldest_block: oldest,
            reward: (!percentiles.is_empty()).then_some(rewards),
        })
    }
}

/// `response` as JSON bytes.
fn serialize(response: &Response) -> Vec<u8> {
    serde_json::to_vec(response).unwrap_or_else(|e| {
        let err = RpcError::new(-32603, format!("serializing the answer: {e}"));
        json!(Response::err(Value::Null, err)).to_string().into_bytes()
    })
}

/// [`serialize`], on a blocking thread when the answer is long (many logs, receipts or
/// transactions), so that writing (and freeing) it does not hold up other connections.
async fn serialize_off_thread(response: Response) -> Vec<u8> {
    const LONG: usize = 64;
    let long = match &response.result {
        Some(Value::Array(items)) => items.len() > LONG,
        Some(Value::Object(o)) => {
            o.get("transactions").and_then(Value::as_array).is_some_and(|t| t.len() > LONG)
        }
        _ => false,
    };
    if !long {
        return serialize(&response);
    }
    let id = response.id.clone();
    tokio::task::spawn_blocking(move || serialize(&response)).await.unwrap_or_else(|e| {
        serialize(&Response::err(id, RpcError::new(-32603, format!("serializing the answer: {e}"))))
    })
}
