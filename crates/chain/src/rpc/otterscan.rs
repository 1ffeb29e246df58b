//! Otterscan's `ots_*` answers that read the database only: block details and pages of a
//! block's transactions, address-history searches over the index [`crate::history`]
//! describes, the sender-and-nonce and creator look-ups, and `erigon_getHeaderByNumber`.
//! The methods that run a transaction again (`ots_traceTransaction`,
//! `ots_getInternalOperations`, `ots_getTransactionError`) run on the EVM pool from
//! `api.rs`, with [`crate::otterscan`].
//!
//! Where erigon (the node Otterscan was written against, whose answers its documentation
//! describes) and anvil differ, these answers are erigon's: a block's `logsBloom` and the
//! receipts' logs in `ots_getBlockTransactions` are null, a block's pages count from its
//! last transaction with `transactionCount` the whole block's, and a search's
//! `firstPage`/`lastPage` say whether more results exist, not whether the walk reached the
//! end of the chain.

use alloy::consensus::{Header, TxReceipt as _};
use alloy::primitives::{Address, B256, KECCAK256_EMPTY, U256};
use alloy::rpc::types::trace::otterscan::{
    BlockDetails, ContractCreator, InternalIssuance, OtsBlock, OtsBlockTransactions, OtsReceipt,
    OtsTransactionReceipt, TransactionsWithReceipts,
};
use alloy::rpc::types::{BlockTransactions, Transaction, TransactionReceipt};
use serde_json::Value;

use super::api::EthApi;
use super::convert::{self, to_value, RpcResult};
use crate::state::SnapshotDb;
use crate::storage::StorageReader;
use crate::{Error, Result};

/// A stored transaction and its receipt as RPC objects, reading each block's header once.
struct TxReader<'a> {
    reader: &'a StorageReader,
    block: Option<(u64, Header, B256)>,
}

impl<'a> TxReader<'a> {
    fn new(reader: &'a StorageReader) -> Self {
        Self { reader, block: None }
    }

    fn header(&mut self, number: u64) -> Result<&(u64, Header, B256)> {
        if self.block.as_ref().is_none_or(|(n, _, _)| *n != number) {
            let header = self
                .reader
                .header(number)?
                .ok_or_else(|| Error::Corrupt(format!("block {number} missing")))?;
            let hash = header.hash_slow();
            self.block = Some((number, header, hash));
        }
        self.block.as_ref().ok_or_else(|| Error::Corrupt(format!("block {number} missing")))
    }

    /// The transaction `hash` and its receipt with the block's timestamp; `logs` keeps the
    /// receipt's logs and bloom (searches) or nulls them (block pages, to keep them small).
    fn get(&mut self, hash: B256, logs: bool) -> Result<(Transaction, OtsTransactionReceipt)> {
        let (tx, receipt) = match (self.reader.tx(&hash)?, self.reader.receipt(&hash)?) {
            (Some(tx), Some(r)) => (tx, r),
            _ => {
                return Err(Error::Corrupt(format!("transaction {hash} is indexed but not stored")))
            }
        };
        let (_, header, block_hash) = self.header(tx.block_number)?;
        let receipt = convert::receipt_in(header, *block_hash, hash, &tx, receipt);
        let timestamp = header.timestamp;
        let tx = convert::tx_in(header, *block_hash, tx);
        Ok((tx, ots_receipt(receipt, timestamp, logs)))
    }
}

fn ots_receipt(r: TransactionReceipt, timestamp: u64, logs: bool) -> OtsTransactionReceipt {
    let receipt = r.map_inner(|envelope| OtsReceipt {
        status: envelope.status(),
        cumulative_gas_used: envelope.cumulative_gas_used(),
        r#type: envelope.tx_type() as u8,
        logs_bloom: logs.then(|| envelope.bloom()),
        logs: logs.then(|| envelope.into_logs()),
    });
    OtsTransactionReceipt { receipt, timestamp: Some(timestamp) }
}

impl EthApi {
    /// `ots_getBlockDetails`: the block without its transactions, with their count and the
    /// fees they paid (gas used × effective gas price, base fee included); null when the
    /// block does not exist. Issuance is zero: the chain pays no block rewards.
    pub(super) fn ots_block_details(
        &self,
        reader: &StorageReader,
        number: Option<u64>,
    ) -> RpcResult {
        let Some(block) =
            number.map(|n| convert::rpc_block(reader, n, false)).transpose()?.flatten()
        else {
            return Ok(Value::Null);
        };
        let mut total_fees = U256::ZERO;
        for hash in block.transactions.hashes() {
            if let Some(r) = reader.receipt(&hash)? {
                total_fees += U256::from(r.gas_used) * U256::from(r.effective_gas_price);
            }
        }
        let mut details =
            to_value(BlockDetails::new(block, InternalIssuance::default(), total_fees))?;
        // "The logsBloom attribute comes with null": Otterscan's documentation and erigon.
        if let Some(block) = details.get_mut("block").and_then(Value::as_object_mut) {
            block.insert("logsBloom".into(), Value::Null);
        }
        Ok(details)
    }

    /// `ots_getBlockTransactions`: page `page` of `size` transactions of block `number` with
    /// their receipts, null when the block does not exist. Pages count from the block's last
    /// transaction, as erigon's do (Otterscan lists a block's transactions newest first):
    /// page 0 holds the last `size`. Inputs are cut to their 4-byte selector, receipts carry
    /// no logs or bloom, and `transactionCount` is the whole block's.
    pub(super) fn ots_block_transactions(
        &self,
        reader: &StorageReader,
        number: u64,
        page: u64,
        size: u64,
    ) -> RpcResult {
        if number > self.head(reader)? {
            return Ok(Value::Null);
        }
        let Some(mut block) = convert::rpc_block(reader, number, false)? else {
            return Ok(Value::Null);
        };
        let hashes: Vec<B256> = block.transactions.hashes().collect();
        let count = hashes.len();
        let end = (count as u64).saturating_sub(page.saturating_mul(size)) as usize;
        let start = end.saturating_sub(size.min(count as u64) as usize);
        let mut txs = Vec::with_capacity(end - start);
        let mut receipts = Vec::with_capacity(end - start);
        let mut read = TxReader::new(reader);
        for hash in &hashes[start..end] {
            let (tx, receipt) = read.get(*hash, false)?;
            txs.push(tx);
            receipts.push(receipt);
        }
        block.transactions = BlockTransactions::Full(txs);
        let fullblock = OtsBlock { block, transaction_count: count };
        let mut answer = to_value(OtsBlockTransactions { fullblock, receipts })?;
        if let Some(block) = answer.get_mut("fullblock").and_then(Value::as_object_mut) {
            block.insert("logsBloom".into(), Value::Null);
        }
        Ok(answer)
    }

    /// `ots_searchTransactionsBefore` (`before`) and `ots_searchTransactionsAfter`: a page of
    /// the transactions `addr` appears in, strictly before or after block `block` (0: from
    /// the head, or from genesis), newest first either way. A page takes whole blocks, so it
    /// may hold more than `size`. `firstPage` is true when nothing newer is left (a search
    /// back from the head, or forward up to it), `lastPage` when nothing older is (a search
    /// forward from genesis, or back down to it).
    pub(super) fn ots_search(
        &self,
        reader: &StorageReader,
        addr: Address,
        block: u64,
        size: u64,
        before: bool,
    ) -> RpcResult {
        let head = self.head(reader)?;
        let size = size as usize;
        let (hashes, first_page, last_page) = if before {
            let from = if block == 0 { head } else { (block - 1).min(head) };
            let page = reader.address_history(&addr, 0..=from, true, size)?;
            (page.txs, block == 0 || block > head, !page.more)
        } else {
            let from = if block == 0 { 0 } else { block.saturating_add(1) };
            let page = reader.address_history(&addr, from..=head, false, size)?;
            let mut txs = page.txs;
            txs.reverse();
            (txs, !page.more, block == 0)
        };
        let mut txs = Vec::with_capacity(hashes.len());
        let mut receipts = Vec::with_capacity(hashes.len());
        let mut read = TxReader::new(reader);
        for hash in hashes {
            let (tx, receipt) = read.get(hash, true)?;
            txs.push(tx);
            receipts.push(receipt);
        }
        to_value(TransactionsWithReceipts { txs, receipts, first_page, last_page })
    }

    /// `ots_getContractCreator`: the transaction and the account (an EOA, or the contract
    /// whose CREATE/CREATE2 ran) that created the contract at `addr`; null for an address
    /// without code, or with code no transaction created (`anvil_setCode`).
    pub(super) fn ots_contract_creator(&self, reader: &StorageReader, addr: Address) -> RpcResult {
        let has_code = reader.account(&addr)?.is_some_and(|a| a.code_hash != KECCAK256_EMPTY);
        if !has_code {
            return Ok(Value::Null);
        }
        match reader.contract_creator(&addr)? {
            Some((creator, hash)) => to_value(ContractCreator { hash, creator }),
            None => Ok(Value::Null),
        }
    }

    /// `ots_hasCode`: whether `addr` holds code at `block`.
    pub(super) fn ots_has_code(
        &self,
        reader: &StorageReader,
        addr: Address,
        block: alloy::eips::BlockId,
    ) -> RpcResult {
        let (_, rewind) = self.state_at(reader, block)?;
        let account = SnapshotDb::new(reader, rewind.as_ref()).account(&addr)?;
        Ok(Value::Bool(account.is_some_and(|a| a.code_hash != KECCAK256_EMPTY)))
    }
}
