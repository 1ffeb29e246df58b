//! A worker's commitment to its model, made before the evaluation set is opened.

use alloy::primitives::{Address, B256};

use crate::model::{hash_words, word};

/// `keccak256(abi.encode(uint256 chainid, address market, uint256 taskId, address worker,
/// bytes32 modelHash, bytes32 salt))`: bound to one chain, one market, one task and one
/// worker, so a commitment copied from the mempool cannot be revealed by anyone else.
pub fn submission_commitment(
    chain_id: u64,
    market: Address,
    task_id: u64,
    worker: Address,
    model_hash: B256,
    salt: B256,
) -> B256 {
    hash_words(&[
        word(chain_id),
        market.into_word(),
        word(task_id),
        worker.into_word(),
        model_hash,
        salt,
    ])
}
