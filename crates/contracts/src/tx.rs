//! What a mined contract call returns to the typed clients built on these bindings.

use alloy::primitives::B256;
use alloy::rpc::types::TransactionReceipt;
use serde::Serialize;

/// A mined transaction and what it returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tx<T> {
    /// What the call produced (an id, an amount, or nothing).
    pub value: T,
    /// Transaction hash.
    pub hash: B256,
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

/// How sending a contract call through [`send_mined`] failed.
#[derive(Debug)]
pub enum SendError {
    /// The call reverts (found by simulation, before anything was signed) or could not be
    /// sent; revert data, when there is some, is in the error.
    Call(alloy::contract::Error),
    /// Sent, but waiting for its receipt failed.
    Pending(alloy::providers::PendingTransactionError),
    /// Mined, with status 0.
    Failed(B256),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Call(e) => write!(f, "{e}"),
            SendError::Pending(e) => write!(f, "waiting for the receipt: {e}"),
            SendError::Failed(tx) => write!(f, "transaction {tx} was mined but failed (status 0)"),
        }
    }
}

impl std::error::Error for SendError {}

/// Simulates `call` with `eth_call`, then sends it and waits for its receipt.
///
/// Simulating first is not a nicety: alloy's caching nonce filler hands out a nonce before
/// gas estimation, so a send that fails estimation leaves a nonce gap and every later
/// transaction of the client waits behind it forever. A refused call costs nothing here.
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
