//! `/api/v1/registry`: the model marketplace — models and versions as `ModelRegistry` on
//! the served chain holds them (owner, prices, file and card hashes, parents and their
//! revenue shares), each version's card when its package is in this server's store, and
//! each version's paid usage (calls, revenue, payers) read from the `paid_inference`
//! entries of every audit log this server serves, receipts verified on request.

use std::sync::Arc;

use alara_audit::Hash;
use alara_market::model::artifact;
use alara_market::model::chain::{self as market_chain, ModelMarket, ModelMarketAddresses};
use alara_market::model::usage::{self, UsageReport};
use alloy::primitives::Address;
use alloy::providers::DynProvider;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::{blocking, ApiState};
use crate::Json;

/// Most models one answer lists.
const MAX_MODELS: u64 = 500;

/// The routes.
pub fn router() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::new().routes(routes!(models)).routes(routes!(model)).routes(routes!(model_usage))
}

/// A parent paid a share of every payment.
#[derive(Serialize, ToSchema)]
pub struct ParentView {
    /// `dataset` (a DataMarket listing) or `model`.
    pub kind: String,
    /// Listing or model id.
    pub id: u64,
    /// Who is paid.
    pub payee: String,
    /// Share in basis points.
    pub bps: u16,
}

/// One version.
#[derive(Serialize, ToSchema)]
pub struct VersionView {
    /// Version number (from 1).
    pub version: u32,
    /// SHA-256 of the model file, hex.
    pub file_sha256: String,
    /// SHA-256 of the card, hex.
    pub card_sha256: String,
    /// CID of the stored package.
    pub package: String,
    /// `onnx` or `safetensors`.
    pub format: String,
    /// Price of one call, base units, decimal.
    pub price_per_call: String,
    /// Price of a licence (0: not sold), decimal.
    pub license_price: String,
    /// Block time of publication, Unix seconds.
    pub published_at: u64,
    /// Takes no new channels or licences.
    pub deprecated: bool,
    /// Parents and shares.
    pub parents: Vec<ParentView>,
    /// The card's metadata when the package is in this store (`null` otherwise).
    #[schema(value_type = Object)]
    pub card: Option<serde_json::Value>,
    /// Paid calls recorded in the served logs.
    pub calls: u64,
    /// Revenue those calls earned through channels, decimal.
    pub revenue: String,
}

/// A model with its latest version.
#[derive(Serialize, ToSchema)]
pub struct ModelView {
    /// Model id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Owner (claims, receives the remainder of each split).
    pub owner: String,
    /// Payment asset (`0x000…` = ETH).
    pub token: String,
    /// Number of versions.
    pub versions: u32,
    /// The versions, latest last (only the latest in the list).
    pub detail: Vec<VersionView>,
}

/// The registry as this server sees it.
#[derive(Serialize, ToSchema)]
pub struct Registry {
    /// Whether the marketplace contracts are deployed on the served chain.
    pub deployed: bool,
    /// `ModelRegistry`, `InferenceChannels`, `ModelLicense`, when deployed.
    #[schema(value_type = Object)]
    pub contracts: Option<serde_json::Value>,
    /// The models.
    pub models: Vec<ModelView>,
}

async fn addresses(
    s: &ApiState,
) -> ApiResult<Option<(ModelMarket<DynProvider>, ModelMarketAddresses)>> {
    let provider = s.chain()?.clone();
    let book = alara_contracts::deploy::book_for(&provider, &s.config.data_dir)
        .await
        .map_err(|e| ApiError::chain(e.to_string()))?;
    let get = |n: &str| book.get(n);
    let (Some(data_market), Some(registry), Some(channels), Some(license)) = (
        get("DataMarket"),
        get(market_chain::REGISTRY_NAME),
        get(market_chain::CHANNELS_NAME),
        get(market_chain::LICENSE_NAME),
    ) else {
        return Ok(None);
    };
    let a = ModelMarketAddresses { data_market, registry, channels, license };
    let market = ModelMarket::new(a, provider, Address::ZERO)
        .await
        .map_err(|e| ApiError::chain(e.to_string()))?;
    Ok(Some((market, a)))
}

fn chain_err(e: alara_market::Error) -> ApiError {
    match e.revert_name().as_deref() {
        Some("UnknownModel") | Some("UnknownVersion") => ApiError::not_found(e.to_string()),
        _ => ApiError::chain(e.to_string()),
    }
}

/// The paid-inference entries of every served log, from the logs' incremental market
/// index (each call reads only entries appended since the last). Read once per request.
fn paid_entries(s: &ApiState) -> ApiResult<Vec<(String, alara_market::lineage::Sourced)>> {
    let mut entries = crate::routes::market::entries(s)?;
    entries.retain(|(_, e)| e.entry.body.kind_name() == "paid_inference");
    Ok(entries)
}

/// Calls and revenue of the model with file hash `model` in `entries` (from
/// [`paid_entries`]), per log, receipts verified when `verify`.
fn usage_across(
    s: &ApiState,
    entries: &[(String, alara_market::lineage::Sourced)],
    model: Hash,
    period_ms: u64,
    verify: bool,
) -> ApiResult<Vec<(String, UsageReport)>> {
    let mut out = Vec::new();
    for named in s.trails() {
        let rows = entries
            .iter()
            .filter(|(log, _)| *log == named.name)
            .map(|(_, e)| (e.leaf_index, e.entry.clone()));
        let r = usage::usage_of(rows, model, period_ms, verify.then_some(&*named.trail))
            .map_err(|e| ApiError::internal(format!("log {}: {e}", named.name)))?;
        if r.calls > 0 {
            out.push((named.name.clone(), r));
        }
    }
    Ok(out)
}

/// The paid-inference entries, read off the async runtime.
async fn paid_entries_blocking(
    s: &Arc<ApiState>,
) -> ApiResult<Arc<Vec<(String, alara_market::lineage::Sourced)>>> {
    let st = s.clone();
    Ok(Arc::new(blocking(move || paid_entries(&st)).await?))
}

async fn version_view(
    s: &Arc<ApiState>,
    entries: &[(String, alara_market::lineage::Sourced)],
    market: &ModelMarket<DynProvider>,
    id: u64,
    v: u32,
) -> ApiResult<VersionView> {
    let ver = market.version(id, v).await.map_err(chain_err)?;
    let parents = market.parents(id, v).await.map_err(chain_err)?;
    let card = s.store().ok().and_then(|store| {
        artifact::pull(store, &ver.cid, ver.file_hash.0, ver.card_hash.0)
            .ok()
            .and_then(|p| serde_json::to_value(&p.card.meta).ok())
    });
    let usage = usage_across(s, entries, Hash(ver.file_hash.0), u64::MAX, false)?;
    Ok(VersionView {
        version: v,
        file_sha256: hex::encode(ver.file_hash),
        card_sha256: hex::encode(ver.card_hash),
        package: ver.cid,
        format: format!("{:?}", ver.format).to_lowercase(),
        price_per_call: ver.price_per_call.to_string(),
        license_price: ver.license_price.to_string(),
        published_at: ver.published_at,
        deprecated: ver.deprecated,
        parents: parents
            .iter()
            .map(|p| ParentView {
                kind: format!("{:?}", p.kind).to_lowercase(),
                id: p.id,
                payee: format!("{:#x}", p.payee),
                bps: p.bps,
            })
            .collect(),
        card,
        calls: usage.iter().map(|(_, r)| r.calls).sum(),
        revenue: usage.iter().map(|(_, r)| r.revenue).sum::<u128>().to_string(),
    })
}

async fn model_view(
    s: &Arc<ApiState>,
    entries: &[(String, alara_market::lineage::Sourced)],
    market: &ModelMarket<DynProvider>,
    id: u64,
    all: bool,
) -> ApiResult<ModelView> {
    let m = market.model(id).await.map_err(chain_err)?;
    let first = if all { 1 } else { m.versions.max(1) };
    let mut detail = Vec::new();
    for v in first..=m.versions {
        detail.push(version_view(s, entries, market, id, v).await?);
    }
    Ok(ModelView {
        id,
        name: m.name,
        owner: format!("{:#x}", m.owner),
        token: format!("{:#x}", m.token.address()),
        versions: m.versions,
        detail,
    })
}

/// The registry's models, each with its latest version, parents, card and usage.
#[utoipa::path(get, path = "/registry", tag = "models",
    responses((status = 200, body = Registry), (status = 503, body = crate::error::ErrorBody)))]
async fn models(p: Principal, State(s): State<Arc<ApiState>>) -> ApiResult<Json<Registry>> {
    p.require(Role::Reader)?;
    let Some((market, a)) = addresses(&s).await? else {
        return Ok(Json(Registry { deployed: false, contracts: None, models: vec![] }));
    };
    let n = market
        .registry()
        .modelCount()
        .call()
        .await
        .map_err(|e| ApiError::chain(format!("ModelRegistry.modelCount: {e}")))?;
    let n = u64::try_from(n).unwrap_or(u64::MAX).min(MAX_MODELS);
    let entries = paid_entries_blocking(&s).await?;
    let mut models = Vec::new();
    for id in 1..=n {
        models.push(model_view(&s, &entries, &market, id, false).await?);
    }
    Ok(Json(Registry {
        deployed: true,
        contracts: Some(serde_json::json!({
            "registry": a.registry, "channels": a.channels, "license": a.license, "data_market": a.data_market,
        })),
        models,
    }))
}

/// One model with every version.
#[utoipa::path(get, path = "/registry/{id}", tag = "models", params(("id" = u64, Path, description = "Model id")),
    responses((status = 200, body = ModelView), (status = 404, body = crate::error::ErrorBody)))]
async fn model(
    p: Principal,
    State(s): State<Arc<ApiState>>,
    id: Result<Path<u64>, axum::extract::rejection::PathRejection>,
) -> ApiResult<Json<ModelView>> {
    p.require(Role::Reader)?;
    let Path(id) =
        id.map_err(|e| ApiError::bad_request(format!("the model id is a number: {e}")))?;
    let Some((market, _)) = addresses(&s).await? else {
        return Err(ApiError::not_found("the model marketplace is not deployed on this chain")
            .hint("`alara model publish` or `alara demo market` deploys it"));
    };
    let entries = paid_entries_blocking(&s).await?;
    Ok(Json(model_view(&s, &entries, &market, id, true).await?))
}

/// Which usage to report.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// Version (default: the latest).
    pub version: Option<u32>,
    /// `hour` or `day` (default).
    pub period: Option<String>,
}

/// Usage in one log.
#[derive(Serialize, ToSchema)]
pub struct LogUsage {
    /// The log's name.
    pub log: String,
    /// The report (periods, calls, revenue, receipts verified).
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
}

/// Calls and revenue of a version per period in every served log, every receipt verified
/// (inclusion proof and signed checkpoint).
#[utoipa::path(get, path = "/registry/{id}/usage", tag = "models",
    params(("id" = u64, Path, description = "Model id"), UsageQuery),
    responses((status = 200, body = Vec<LogUsage>), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
async fn model_usage(
    p: Principal,
    State(s): State<Arc<ApiState>>,
    id: Result<Path<u64>, axum::extract::rejection::PathRejection>,
    q: Result<Query<UsageQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Vec<LogUsage>>> {
    p.require(Role::Reader)?;
    let Path(id) =
        id.map_err(|e| ApiError::bad_request(format!("the model id is a number: {e}")))?;
    let Query(q) = q?;
    let period_ms = match q.period.as_deref().unwrap_or("day") {
        "day" => 86_400_000,
        "hour" => 3_600_000,
        other => {
            return Err(ApiError::bad_request(format!("period is `hour` or `day`, not {other:?}")))
        }
    };
    let Some((market, _)) = addresses(&s).await? else {
        return Err(ApiError::not_found("the model marketplace is not deployed on this chain"));
    };
    let m = market.model(id).await.map_err(chain_err)?;
    let v = q.version.unwrap_or(m.versions);
    if v == 0 || v > m.versions {
        return Err(ApiError::not_found(format!("model {id} has versions 1 to {}", m.versions)));
    }
    let ver = market.version(id, v).await.map_err(chain_err)?;
    let st = s.clone();
    let hash = Hash(ver.file_hash.0);
    let reports = blocking(move || {
        let entries = paid_entries(&st)?;
        usage_across(&st, &entries, hash, period_ms, true)
    })
    .await?;
    Ok(Json(
        reports
            .into_iter()
            .map(|(log, r)| LogUsage { log, report: serde_json::to_value(r).unwrap_or_default() })
            .collect(),
    ))
}
