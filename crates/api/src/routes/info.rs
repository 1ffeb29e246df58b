//! `/api/v1/info` and `/api/v1/chain/addresses`: what this server serves, the chain it
//! reads, and the platform's contracts on it (the address book).

use std::collections::BTreeMap;
use std::sync::Arc;

use alloy::eips::BlockNumberOrTag;
use alloy::providers::Provider;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::ApiState;
use crate::Json;

/// The routes.
pub fn router() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::new().routes(routes!(info)).routes(routes!(addresses))
}

/// The server and what it serves.
#[derive(Serialize, ToSchema)]
pub struct Info {
    /// Alara's version.
    pub version: String,
    /// The chain, when the server reads one and it answers.
    pub chain: Option<ChainInfo>,
    /// Why the chain is missing, when it is.
    pub chain_error: Option<String>,
    /// The platform's contracts on that chain (name → address).
    pub contracts: BTreeMap<String, String>,
    /// The audit log, when the server has one.
    pub audit: Option<AuditSummary>,
    /// Whether the content store is served.
    pub store: bool,
    /// Role of a request without a token (`null`: refused).
    pub anonymous_role: Option<Role>,
    /// The domain SIWE messages must name.
    pub siwe_domain: String,
    /// The caller, as the server sees it.
    pub caller: Principal,
}

/// The chain.
#[derive(Serialize, ToSchema)]
pub struct ChainInfo {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Latest block.
    pub head_block: u64,
    /// Hash of block 0.
    pub genesis_hash: String,
    /// JSON-RPC endpoint (what the dashboard reads blocks and anchors from).
    pub rpc_url: String,
}

/// The audit log in brief.
#[derive(Serialize, ToSchema)]
pub struct AuditSummary {
    /// Log name.
    pub origin: String,
    /// Entries.
    pub size: u64,
}

/// Chain id, head and genesis of the chain, read over JSON-RPC.
pub async fn chain_info(s: &ApiState) -> ApiResult<ChainInfo> {
    let provider = s.chain()?;
    let rpc = |m: &str, e: alloy::transports::TransportError| {
        ApiError::chain(format!("{m} failed: {e}")).hint("is the chain's node running?")
    };
    let chain_id = provider.get_chain_id().await.map_err(|e| rpc("eth_chainId", e))?;
    let head_block = provider.get_block_number().await.map_err(|e| rpc("eth_blockNumber", e))?;
    let genesis = provider
        .get_block_by_number(BlockNumberOrTag::Number(0))
        .await
        .map_err(|e| rpc("eth_getBlockByNumber", e))?
        .ok_or_else(|| ApiError::chain("the chain has no block 0"))?;
    Ok(ChainInfo {
        chain_id,
        head_block,
        genesis_hash: genesis.header.hash.to_string(),
        rpc_url: s.config.rpc_url.clone().unwrap_or_default(),
    })
}

async fn book(s: &ApiState) -> ApiResult<alara_contracts::AddressBook> {
    let provider = s.chain()?;
    alara_contracts::deploy::book_for(provider, &s.config.data_dir)
        .await
        .map_err(|e| ApiError::chain(e.to_string()))
}

/// What this server serves, the chain it reads and the caller's role.
#[utoipa::path(get, path = "/info", tag = "info", responses((status = 200, body = Info)))]
async fn info(State(s): State<Arc<ApiState>>, p: Principal) -> ApiResult<Json<Info>> {
    let (chain, chain_error) = match chain_info(&s).await {
        Ok(c) => (Some(c), None),
        Err(e) => (None, Some(e.message)),
    };
    let contracts = match (&chain, book(&s).await) {
        (Some(_), Ok(b)) => b.contracts.into_iter().map(|(k, v)| (k, v.to_string())).collect(),
        _ => BTreeMap::new(),
    };
    Ok(Json(Info {
        version: env!("CARGO_PKG_VERSION").to_string(),
        chain,
        chain_error,
        contracts,
        audit: s
            .audit_opt()
            .map(|t| AuditSummary { origin: t.log().origin().to_string(), size: t.log().size() }),
        store: s.store.is_some(),
        anonymous_role: s.config.anonymous_role,
        siwe_domain: s.config.siwe_domain.clone(),
        caller: p,
    }))
}

/// The address book of the chain: each platform contract and its deployment block.
#[derive(Serialize, ToSchema)]
pub struct Addresses {
    /// Chain id.
    pub chain_id: u64,
    /// Genesis hash the book belongs to.
    pub genesis_hash: String,
    /// Contract name → address.
    pub contracts: BTreeMap<String, String>,
    /// Contract name → deployment block.
    pub deployed_at: BTreeMap<String, u64>,
}

/// The platform's contracts on the chain.
#[utoipa::path(get, path = "/chain/addresses", tag = "info",
    responses((status = 200, body = Addresses), (status = 502, body = crate::error::ErrorBody)))]
async fn addresses(State(s): State<Arc<ApiState>>, p: Principal) -> ApiResult<Json<Addresses>> {
    p.require(Role::Reader)?;
    let b = book(&s).await?;
    Ok(Json(Addresses {
        chain_id: b.chain_id,
        genesis_hash: b.genesis_hash.to_string(),
        contracts: b.contracts.into_iter().map(|(k, v)| (k, v.to_string())).collect(),
        deployed_at: b.deployed_at,
    }))
}
