//! What a mined contract call returns to the typed clients built on these bindings.

use alloy::rpc::types::TransactionReceipt;
use serde::Serialize;

/// A mined transaction and what it returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tx<T> {
    /// What the call produced (an id, an amount, or nothing).
    pub value: T,
    /// Transaction hash.
    pub hash: alloy::primitives::B256,
    /// Gas used by the whole transaction.
    pub gas_used: u64,
    /// Block it was mined in.
    pub block: u64,
}

impl<T> Tx<T> {
    /// `value` with the hash, gas and block of `receipt`.
    pub fn from_receipt(receipt: &TransactionReceipt, value: T) -> Self {
        Tx {
            value,
            hash: receipt.transaction_hash,
            gas_used: receipt.gas_used,
            block: receipt.block_number.unwrap_or_default(),
        }
    }
}
