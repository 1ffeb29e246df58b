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
    let addr = deploy().await?;
    tracing::info!(%addr, "deployed {name}");
    book.contracts.insert(name.into(), addr);
    book.save(data_dir)?;
    Ok(addr)
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
