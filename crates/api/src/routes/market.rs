//! `/api/v1/market` and `/api/v1/lineage`: the data market as its audit entries record it
//! — listings, sales and compute jobs with their steps — across every log this server
//! serves (seller, buyer and data owner each keep their own), and the lineage of a dataset
//! or model (dataset → jobs → models → inferences).
//!
//! Entries are indexed incrementally per log: each request reads only the entries appended
//! since the last one.

use std::collections::BTreeMap;
use std::sync::Arc;

use alara_audit::entry::EntryBody;
use alara_market::lineage::{self, Sourced};
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::{blocking, ApiState};
use crate::Json;

/// The routes.
pub fn router() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::new()
        .routes(routes!(listings))
        .routes(routes!(sales))
        .routes(routes!(jobs))
        .routes(routes!(trace))
}

/// The entries the market, lineage and FL routes read (lineage's kinds and payouts) of one
/// log seen so far.
#[derive(Default)]
pub struct MarketIndex {
    indexed: u64,
    entries: Vec<Sourced>,
}

/// Indexed entries from every served log (each extended to its current size), oldest
/// first, with the log's name.
pub fn entries(s: &ApiState) -> ApiResult<Vec<(String, Sourced)>> {
    let mut out = Vec::new();
    for named in s.trails() {
        let mut idx = named.market.lock();
        let log = named.trail.log();
        let size = log.size();
        let origin = log.origin().to_string();
        while idx.indexed < size {
            let i = idx.indexed;
            let entry = alara_audit::entry::Entry::decode(&log.entry(i)?)?;
            let kind = entry.body.kind_name();
            if lineage::KINDS.contains(&kind) || kind == "payout" || kind == "paid_inference" {
                idx.entries.push(Sourced { origin: origin.clone(), leaf_index: i, entry });
            }
            idx.indexed += 1;
        }
        out.extend(idx.entries.iter().map(|e| (named.name.clone(), e.clone())));
    }
    out.sort_by_key(|(_, e)| e.entry.time_ms);
    Ok(out)
}

/// Where an entry is.
#[derive(Serialize, ToSchema, Clone)]
pub struct At {
    /// The log's name in this API.
    pub log: String,
    /// Leaf index.
    pub index: u64,
    /// Entry time (Unix ms).
    pub time_ms: u64,
    /// Transaction hash, when the step was on-chain.
    pub tx: Option<String>,
}

/// Where `e` is.
pub fn at(log: &str, e: &Sourced, tx: Option<alara_audit::Hash>) -> At {
    At {
        log: log.to_string(),
        index: e.leaf_index,
        time_ms: e.entry.time_ms,
        tx: tx.map(|t| format!("0x{}", t.to_hex())),
    }
}

/// A dataset listed for sale.
#[derive(Serialize, ToSchema)]
pub struct Listing {
    /// Market-qualified listing id (`<chain>/<contract>/<id>`).
    pub listing: String,
    /// Ciphertext CID of the dataset.
    pub dataset: String,
    /// SHA-256 of the plaintext (the on-chain commitment), hex.
    pub plaintext: String,
    /// Seller.
    pub seller: String,
    /// Payment token.
    pub token: String,
    /// Price in base units (decimal string: amounts exceed 2^53).
    pub price: String,
    /// Price with its unit, e.g. `0.1 ETH (100000000000000000 wei)`.
    pub price_display: String,
    /// The entry.
    pub at: At,
}

/// Listings, oldest first.
#[utoipa::path(get, path = "/market/listings", tag = "market",
    responses((status = 200, body = Vec<Listing>)))]
async fn listings(State(s): State<Arc<ApiState>>, p: Principal) -> ApiResult<Json<Vec<Listing>>> {
    p.require(Role::Reader)?;
    blocking(move || {
        Ok(Json(
            entries(&s)?
                .iter()
                .filter_map(|(log, e)| match &e.entry.body {
                    EntryBody::DataListing(l) => Some(Listing {
                        listing: l.listing.clone(),
                        dataset: l.dataset.clone(),
                        plaintext: l.plaintext.to_hex(),
                        seller: l.seller.clone(),
                        token: l.token.clone(),
                        price: l.price.to_string(),
                        price_display: lineage::amount(l.price, &l.token),
                        at: at(log, e, l.tx),
                    }),
                    _ => None,
                })
                .collect(),
        ))
    })
    .await
}

/// A sale and its steps.
#[derive(Serialize, ToSchema)]
pub struct Sale {
    /// Market-qualified sale id.
    pub sale: String,
    /// Ciphertext CID of the dataset.
    pub dataset: String,
    /// Buyer.
    pub buyer: String,
    /// Seller.
    pub seller: String,
    /// Payment token.
    pub token: String,
    /// Amount in base units (decimal string).
    pub amount: String,
    /// Amount with its unit.
    pub amount_display: String,
    /// Steps (`paid`, `delivered`, `confirmed`, `released`, …), oldest first.
    pub steps: Vec<SaleStep>,
}

/// One step of a sale or job.
#[derive(Serialize, ToSchema)]
pub struct SaleStep {
    /// What happened.
    pub event: String,
    /// The entry.
    pub at: At,
}

/// Sales with their steps, oldest first; a sale seen by several parties' logs lists each
/// party's entry.
#[utoipa::path(get, path = "/market/sales", tag = "market",
    responses((status = 200, body = Vec<Sale>)))]
async fn sales(State(s): State<Arc<ApiState>>, p: Principal) -> ApiResult<Json<Vec<Sale>>> {
    p.require(Role::Reader)?;
    blocking(move || {
        let mut by_id: BTreeMap<String, Sale> = BTreeMap::new();
        let mut order = Vec::new();
        for (log, e) in entries(&s)? {
            let EntryBody::DataSale(d) = &e.entry.body else { continue };
            let sale = by_id.entry(d.sale.clone()).or_insert_with(|| {
                order.push(d.sale.clone());
                Sale {
                    sale: d.sale.clone(),
                    dataset: d.dataset.clone(),
                    buyer: d.buyer.clone(),
                    seller: d.seller.clone(),
                    token: d.token.clone(),
                    amount: d.amount.to_string(),
                    amount_display: lineage::amount(d.amount, &d.token),
                    steps: Vec::new(),
                }
            });
            sale.steps.push(SaleStep { event: d.event.clone(), at: at(&log, &e, d.tx) });
        }
        Ok(Json(order.iter().filter_map(|id| by_id.remove(id)).collect()))
    })
    .await
}

/// A compute-to-data job and its steps.
#[derive(Serialize, ToSchema)]
pub struct Job {
    /// Market-qualified job id.
    pub job: String,
    /// Ciphertext CID of the dataset.
    pub dataset: String,
    /// Hash of the allow-listed recipe, hex.
    pub algorithm: String,
    /// Who paid.
    pub buyer: String,
    /// The data owner who ran it.
    pub owner: String,
    /// SHA-256 of the result, once completed (hex).
    pub result: Option<String>,
    /// Version hash of the model it trained (hex), if any.
    pub model: Option<String>,
    /// Steps (`requested`, `completed`, `received`, `failed`, `refunded`), oldest first.
    pub steps: Vec<SaleStep>,
}

/// Compute-to-data jobs with their steps, oldest first.
#[utoipa::path(get, path = "/market/jobs", tag = "market",
    responses((status = 200, body = Vec<Job>)))]
async fn jobs(State(s): State<Arc<ApiState>>, p: Principal) -> ApiResult<Json<Vec<Job>>> {
    p.require(Role::Reader)?;
    blocking(move || {
        let mut by_id: BTreeMap<String, Job> = BTreeMap::new();
        let mut order = Vec::new();
        for (log, e) in entries(&s)? {
            let EntryBody::ComputeJob(j) = &e.entry.body else { continue };
            let job = by_id.entry(j.job.clone()).or_insert_with(|| {
                order.push(j.job.clone());
                Job {
                    job: j.job.clone(),
                    dataset: j.dataset.clone(),
                    algorithm: j.algorithm.to_hex(),
                    buyer: j.buyer.clone(),
                    owner: j.owner.clone(),
                    result: None,
                    model: None,
                    steps: Vec::new(),
                }
            });
            job.result = job.result.take().or(j.result.map(|h| h.to_hex()));
            job.model = job.model.take().or(j.model.map(|h| h.to_hex()));
            job.steps.push(SaleStep { event: j.event.clone(), at: at(&log, &e, j.tx) });
        }
        Ok(Json(order.iter().filter_map(|id| by_id.remove(id)).collect()))
    })
    .await
}

/// The lineage of a dataset (ciphertext CID) or a model (64 hex digits): listings, sales,
/// jobs, the models they trained and the inferences made with them, across every served
/// log, in time order.
#[utoipa::path(get, path = "/lineage/{target}", tag = "market",
    params(("target" = String, Path, description = "Dataset CID or model hash")),
    responses((status = 200, body = Object), (status = 400, body = crate::error::ErrorBody)))]
async fn trace(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    Path(target): Path<String>,
) -> ApiResult<Json<lineage::Lineage>> {
    p.require(Role::Reader)?;
    blocking(move || {
        let all: Vec<Sourced> = entries(&s)?
            .into_iter()
            .map(|(_, e)| e)
            .filter(|e| lineage::KINDS.contains(&e.entry.body.kind_name()))
            .collect();
        lineage::trace(&all, &target).map(Json).map_err(|e| {
            ApiError::bad_request(e.to_string())
                .hint("a dataset CID or a model's 64-hex-digit hash")
        })
    })
    .await
}
