//! Stored records to the RPC objects clients expect (alloy's types, so they serialize as
//! other nodes' do).

use alloy::consensus::{Header, Transaction as _, TxEnvelope};
use alloy::primitives::{B256, U256};
use alloy::rpc::types::{Block, BlockTransactions, Log, Transaction, TransactionReceipt};
use serde::Serialize;
use serde_json::Value;

use super::RpcError;
use crate::storage::{StorageReader, StoredReceipt, StoredTx};
use crate::{Error, Result};

/// What one request answers.
pub(super) type RpcResult = std::result::Result<Value, RpcError>;

/// `v` as a JSON result.
pub(super) fn to_value<T: Serialize>(v: T) -> RpcResult {
    serde_json::to_value(v)
        .map_err(|e| RpcError::new(-32603, format!("serializing the result: {e}")))
}

/// A mined transaction with its block's hash, number and the price it paid.
pub(super) fn tx(reader: &StorageReader, stored: StoredTx) -> Result<Transaction> {
    let header = reader
        .header(stored.block_number)?
        .ok_or_else(|| Error::Corrupt(format!("block {} missing", stored.block_number)))?;
    Ok(tx_in(&header, header.hash_slow(), stored))
}

/// [`tx`] when the block header is at hand.
pub(super) fn tx_in(header: &Header, block_hash: B256, stored: StoredTx) -> Transaction {
    let price = stored.envelope.effective_gas_price(header.base_fee_per_gas);
    Transaction {
        inner: alloy::consensus::transaction::Recovered::new_unchecked(
            stored.envelope,
            stored.sender,
        ),
        block_hash: Some(block_hash),
        block_number: Some(stored.block_number),
        transaction_index: Some(stored.index),
        effective_gas_price: Some(price),
        // As anvil (and Otterscan's transaction lists) show it.
        block_timestamp: Some(header.timestamp),
    }
}

/// The transaction at `index` in block `number`, or null.
pub(super) fn tx_at(reader: &StorageReader, number: u64, index: usize) -> RpcResult {
    match reader.block_tx_hashes(number)?.get(index) {
        Some(hash) => match reader.tx(hash)? {
            Some(stored) => to_value(tx(reader, stored)?),
            None => Ok(Value::Null),
        },
        None => Ok(Value::Null),
    }
}

/// A receipt's logs with their block, transaction and log index.
pub(super) fn receipt_logs(
    header: &Header,
    block_hash: B256,
    tx_hash: B256,
    tx_index: u64,
    r: &StoredReceipt,
) -> Vec<Log> {
    r.receipt
        .logs()
        .iter()
        .enumerate()
        .map(|(i, log)| Log {
            inner: log.clone(),
            block_hash: Some(block_hash),
            block_number: Some(header.number),
            block_timestamp: Some(header.timestamp),
            transaction_hash: Some(tx_hash),
            transaction_index: Some(tx_index),
            log_index: Some(r.first_log_index + i as u64),
            removed: false,
        })
        .collect()
}

/// A transaction receipt as `eth_getTransactionReceipt` answers it.
pub(super) fn receipt(
    reader: &StorageReader,
    hash: B256,
    tx: &StoredTx,
    r: StoredReceipt,
) -> Result<TransactionReceipt> {
    let header = reader
        .header(tx.block_number)?
        .ok_or_else(|| Error::Corrupt(format!("block {} missing", tx.block_number)))?;
    Ok(receipt_in(&header, header.hash_slow(), hash, tx, r))
}

/// [`receipt`] when the block header is at hand.
pub(super) fn receipt_in(
    header: &Header,
    block_hash: B256,
    hash: B256,
    tx: &StoredTx,
    r: StoredReceipt,
) -> TransactionReceipt {
    let logs = receipt_logs(header, block_hash, hash, tx.index, &r);
    let inner = r.receipt.clone().map_logs(|_| ());
    let inner = rebuild_with_logs(inner, logs);
    TransactionReceipt {
        inner,
        transaction_hash: hash,
        transaction_index: Some(tx.index),
        block_hash: Some(block_hash),
        block_number: Some(tx.block_number),
        gas_used: r.gas_used,
        effective_gas_price: r.effective_gas_price,
        blob_gas_used: None,
        blob_gas_price: None,
        from: r.from,
        to: r.to,
        contract_address: r.contract_address,
    }
}

/// Block `number` with transaction hashes or (`full`) whole transactions, or null.
pub(super) fn block(reader: &StorageReader, number: u64, full: bool) -> RpcResult {
    match rpc_block(reader, number, full)? {
        Some(block) => to_value(block),
        None => Ok(Value::Null),
    }
}

/// Block `number` as [`block`] answers it, if it exists.
pub(super) fn rpc_block(reader: &StorageReader, number: u64, full: bool) -> Result<Option<Block>> {
    let Some(header) = reader.header(number)? else { return Ok(None) };
    let hash = header.hash_slow();
    let hashes = reader.block_tx_hashes(number)?;
    let mut txs: Vec<TxEnvelope> = Vec::with_capacity(hashes.len());
    let mut full_txs = Vec::new();
    for h in &hashes {
        if let Some(stored) = reader.tx(h)? {
            txs.push(stored.envelope.clone());
            if full {
                full_txs.push(tx_in(&header, hash, stored));
            }
        }
    }
    let size = alloy::consensus::Block {
        header: header.clone(),
        body: alloy::consensus::BlockBody {
            transactions: txs,
            ommers: vec![],
            withdrawals: Some(Default::default()),
        },
    };
    let size = alloy::rlp::Encodable::length(&size);
    let transactions =
        if full { BlockTransactions::Full(full_txs) } else { BlockTransactions::Hashes(hashes) };
    Ok(Some(Block {
        header: alloy::rpc::types::Header {
            hash,
            inner: header,
            total_difficulty: Some(U256::ZERO),
            size: Some(U256::from(size)),
        },
        uncles: vec![],
        transactions,
        withdrawals: Some(Default::default()),
    }))
}

fn rebuild_with_logs(
    inner: alloy::consensus::ReceiptEnvelope<()>,
    logs: Vec<Log>,
) -> alloy::consensus::ReceiptEnvelope<Log> {
    use alloy::consensus::{Receipt, ReceiptEnvelope, ReceiptWithBloom};
    let convert = |r: ReceiptWithBloom<Receipt<()>>| ReceiptWithBloom {
        receipt: Receipt {
            status: r.receipt.status,
            cumulative_gas_used: r.receipt.cumulative_gas_used,
            logs,
        },
        logs_bloom: r.logs_bloom,
    };
    match inner {
        ReceiptEnvelope::Legacy(r) => ReceiptEnvelope::Legacy(convert(r)),
        ReceiptEnvelope::Eip2930(r) => ReceiptEnvelope::Eip2930(convert(r)),
        ReceiptEnvelope::Eip1559(r) => ReceiptEnvelope::Eip1559(convert(r)),
        ReceiptEnvelope::Eip4844(r) => ReceiptEnvelope::Eip4844(convert(r)),
        ReceiptEnvelope::Eip7702(r) => ReceiptEnvelope::Eip7702(convert(r)),
    }
}
