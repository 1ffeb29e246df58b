//! Deploying the core contracts once per chain.

use std::path::Path;

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;

use crate::{AddressBook, AlaraToken, Result};

/// Initial ALR supply in base units: 100 million tokens with 18 decimals, the fixed supply of
/// the brief's utility-token model.
pub fn initial_supply() -> U256 {
    U256::from(100_000_000u64) * U256::from(10u64).pow(U256::from(18))
}

/// The contracts `alara up` deploys and later commands expect.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CoreContracts {
    /// AlaraToken (ERC-20 + permit).
    pub token: Address,
}

/// Deploys the core contracts unless the address book already has them on this chain with
/// code in place, and records them in the book. Idempotent: a second call sends no
/// transaction. `treasury` receives the token supply (normally the deployer).
pub async fn deploy_core<P: Provider>(
    provider: &P,
    data_dir: &Path,
    treasury: Address,
) -> Result<CoreContracts> {
    let token = ensure(provider, data_dir, "AlaraToken", || async {
        let contract = AlaraToken::deploy(provider, treasury, initial_supply()).await?;
        Ok::<_, crate::Error>(*contract.address())
    })
    .await?;
    Ok(CoreContracts { token })
}

/// The address book of the chain `provider` talks to, as saved in `data_dir`, or an empty
/// one for that chain (a chain is known by its id and genesis hash, so a reset devnet with
/// the same id gets a fresh book).
pub async fn book_for<P: Provider>(provider: &P, data_dir: &Path) -> Result<AddressBook> {
    let chain_id = provider.get_chain_id().await?;
    let genesis_hash = provider
        .get_block_by_number(BlockNumberOrTag::Number(0))
        .await?
        .map(|b| b.header.hash)
        .unwrap_or_default();
    Ok(AddressBook::load(data_dir, chain_id, genesis_hash)?.unwrap_or(AddressBook {
        chain_id,
        genesis_hash,
        ..Default::default()
    }))
}

/// Deploys `name` once per chain: returns the address recorded in the address book while
/// code is still there (no transaction), otherwise runs `deploy`, records its address and
/// returns it. Every contract that `alara up` or a later command expects goes through here.
pub async fn ensure<P, F, Fut, E>(
    provider: &P,
    data_dir: &Path,
    name: &str,
    deploy: F,
) -> std::result::Result<Address, E>
where
    P: Provider,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<Address, E>>,
    E: From<crate::Error>,
{
    let mut book = book_for(provider, data_dir).await?;
    if let Some(addr) = deployed(provider, &book, name).await? {
        return Ok(addr);
    }
    // The head before deploying is at or before the deployment block: scans from it miss
    // nothing, and it costs no lookup of the deployment receipt.
    let before = provider.get_block_number().await.map_err(crate::Error::from)?;
    let addr = deploy().await?;
    tracing::info!(%addr, "deployed {name}");
    book.contracts.insert(name.into(), addr);
    book.deployed_at.insert(name.into(), before);
    book.save(data_dir)?;
    Ok(addr)
}

/// The block to start event scans of contract `name` at `address`: the one recorded in the
/// address book of `data_dir` when it names this address, else the first block with code
/// at `address`, found by binary search over `eth_getCode` (about 25 requests to a node
/// that serves past state; a node that does not makes this an error, never a scan from 0).
pub async fn deployment_block<P: Provider>(
    provider: &P,
    data_dir: &Path,
    name: &str,
    address: Address,
) -> Result<u64> {
    let book = book_for(provider, data_dir).await?;
    if book.get(name) == Some(address) {
        if let Some(block) = book.deployed_block(name) {
            return Ok(block);
        }
    }
    first_block_with_code(provider, address).await
}

/// The first block whose state has code at `address`; the head when there is no code there
/// now (nothing to scan). Fails when the node cannot answer for past blocks.
pub async fn first_block_with_code<P: Provider>(provider: &P, address: Address) -> Result<u64> {
    let head = provider.get_block_number().await?;
    let has_code = |n: u64| async move {
        provider.get_code_at(address).number(n).await.map(|c| !c.is_empty())
    };
    if !has_code(head).await? {
        return Ok(head);
    }
    // Invariant: code at `hi`; none at `lo - 1` (or lo == 0).
    let (mut lo, mut hi) = (0u64, head);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if has_code(mid).await? {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(lo)
}

/// The address of `name` from the book, if code is still there.
pub async fn deployed<P: Provider>(
    provider: &P,
    book: &AddressBook,
    name: &str,
) -> Result<Option<Address>> {
    match book.get(name) {
        Some(addr) if !provider.get_code_at(addr).await?.is_empty() => Ok(Some(addr)),
        _ => Ok(None),
    }
}
