//! Event scans that work on public RPCs.
//!
//! Providers cap the block range of `eth_getLogs` (often 10,000 blocks, some 1,000 or fewer)
//! and the number of logs per answer. A scan therefore starts at the contract's deployment
//! block ([`crate::deploy::deployment_block`]), never at block 0, and walks to the head in
//! pages of at most [`PAGE`] blocks; when a provider refuses a page as too wide or too full,
//! the page is halved and retried, down to a single block.

use alloy::eips::BlockNumberOrTag;
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};

use crate::call::CallError;

/// Blocks per `eth_getLogs` request: within every public provider's cap that we know of.
pub const PAGE: u64 = 1_000;

/// All logs matching `filter` (its address and topics; its block range is ignored) from
/// `from_block` to the current head, in pages of at most [`PAGE`] blocks, oldest first.
pub async fn scan<P: Provider>(
    provider: &P,
    filter: &Filter,
    from_block: u64,
) -> Result<Vec<Log>, CallError> {
    let head = provider.get_block_number().await.map_err(CallError::rpc("eth_blockNumber"))?;
    scan_range(provider, filter, from_block, head, PAGE).await
}

/// Like [`scan`], over `from..=to` with pages of at most `page` blocks.
pub async fn scan_range<P: Provider>(
    provider: &P,
    filter: &Filter,
    from: u64,
    to: u64,
    page: u64,
) -> Result<Vec<Log>, CallError> {
    let mut out = Vec::new();
    let mut start = from;
    let mut width = page.max(1);
    while start <= to {
        let end = start.saturating_add(width - 1).min(to);
        let f = filter
            .clone()
            .from_block(BlockNumberOrTag::Number(start))
            .to_block(BlockNumberOrTag::Number(end));
        match provider.get_logs(&f).await {
            Ok(logs) => {
                out.extend(logs);
                if end == u64::MAX {
                    break;
                }
                start = end + 1;
            }
            Err(e) if width > 1 && is_too_wide(&e) => width = (end - start).div_ceil(2).max(1),
            Err(source) => return Err(CallError::rpc("eth_getLogs")(source)),
        }
    }
    Ok(out)
}

/// Whether a provider refused an `eth_getLogs` because the range or the answer was too big
/// (error -32005 and the messages Infura, Alchemy, QuickNode, geth and Alara's node use).
fn is_too_wide(e: &alloy::transports::TransportError) -> bool {
    let Some(resp) = e.as_error_resp() else { return false };
    let msg = resp.message.to_ascii_lowercase();
    resp.code == -32005
        || ["range", "more than", "too many", "limit exceeded", "exceed"]
            .iter()
            .any(|needle| msg.contains(needle))
}
