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

/// How sending a contract call through [`send_mined`] failed. New code uses
/// [`crate::call::send`], which also decodes reverts by name; this stays until every client
/// has moved over.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The call reverts (found by simulation, before anything was signed) or could not be
    /// sent; revert data, when there is some, is in the error.
    #[error("{0}")]
    Call(alloy::contract::Error),
    /// Sent, but waiting for its receipt failed.
    #[error("waiting for the receipt: {0}")]
    Pending(alloy::providers::PendingTransactionError),
    /// Mined, with status 0.
    #[error("transaction {0} was mined but failed (status 0)")]
    Failed(alloy::primitives::B256),
}

/// Simulates `call` with `eth_call`, then sends it and waits for its receipt (see
/// [`crate::call::send`] for why the simulation comes first).
pub async fn send_mined<P, D>(
    call: &alloy::contract::CallBuilder<P, D, alloy::network::Ethereum>,
) -> Result<TransactionReceipt, SendError>
where
    P: alloy::providers::Provider,
    D: alloy::contract::CallDecoder,
{
    call.call_raw().await.map_err(SendError::Call)?;
    let receipt = call
        .send()
        .await
        .map_err(SendError::Call)?
        .get_receipt()
        .await
        .map_err(SendError::Pending)?;
    if !receipt.status() {
        return Err(SendError::Failed(receipt.transaction_hash));
    }
    Ok(receipt)
}
