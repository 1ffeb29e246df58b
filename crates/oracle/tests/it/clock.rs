//! The chain's clock in contract tests: what time it is, and moving it on (both backends
//! answer `evm_increaseTime` and `anvil_mine`).

use alara_chain::testing::TestChain;
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionReceipt;

/// The latest block's timestamp.
pub(crate) async fn now(p: &DynProvider) -> u64 {
    p.get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp
}

/// The timestamp of the block a receipt is in.
pub(crate) async fn block_time(p: &DynProvider, r: &TransactionReceipt) -> u64 {
    let n = r.block_number.unwrap();
    p.get_block_by_number(n.into()).await.unwrap().unwrap().header.timestamp
}

/// Moves the chain's clock forward by `secs` and mines a block.
pub(crate) async fn advance(chain: &TestChain, secs: u64) {
    let p = chain.provider(0);
    let _: serde_json::Value = p.raw_request("evm_increaseTime".into(), (secs,)).await.unwrap();
    chain.mine_blocks(1).await.unwrap();
}

/// Makes the next block one second after the head, on every backend (anvil would let it share
/// the head's second when it comes within it, and a contract that stores `block.timestamp`
/// would then rewrite an unchanged slot, 2,800 gas less).
pub(crate) async fn next_second(chain: &TestChain) {
    let p = chain.provider(0);
    let t = now(&p).await + 1;
    let _: serde_json::Value =
        p.raw_request("evm_setNextBlockTimestamp".into(), (t,)).await.unwrap();
}

/// Moves the chain's clock to at least `t` and mines a block.
pub(crate) async fn warp(chain: &TestChain, t: u64) {
    let at = now(&chain.provider(0)).await;
    if t > at {
        advance(chain, t - at).await;
    } else {
        chain.mine_blocks(1).await.unwrap();
    }
    assert!(now(&chain.provider(0)).await >= t);
}
