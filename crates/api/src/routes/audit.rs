//! `/api/v1/audit`: the transparency log as Rekor serves one — status, entries (paged,
//! newest first, filtered server-side), lookup by leaf hash, receipts, inclusion and
//! consistency proofs, checkpoints, anchors, verification, and a JSON Lines export.

use std::collections::HashMap;
use std::sync::Arc;

use alara_audit::anchor::{AnchorRecord, AnchorState};
use alara_audit::entry::Entry;
use alara_audit::{AuditTrail, Hash, Receipt};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::{blocking, ApiState};
use crate::Json;

/// Most rows in one page.
pub const MAX_PAGE: usize = 500;

/// Most entries one filtered page looks at; past it the page ends early with a cursor,
/// so a rare filter over a large log costs many short requests, never one long one.
pub const SCAN_BUDGET: u64 = 20_000;

/// Most entries one export streams.
pub const MAX_EXPORT: usize = 100_000;

/// The routes.
pub fn router() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::new()
        .routes(routes!(logs))
        .routes(routes!(audit_status))
        .routes(routes!(list_entries, append_entry))
        .routes(routes!(get_entry))
        .routes(routes!(get_by_leaf))
        .routes(routes!(get_receipt))
        .routes(routes!(inclusion_proof))
        .routes(routes!(consistency_proof))
        .routes(routes!(latest_checkpoint))
        .routes(routes!(anchors))
        .routes(routes!(verify_receipt))
        .routes(routes!(export))
}

/// Leaf hash → index for entries `0..indexed` (built on the first lookup, extended as the
/// log grows; 40 bytes per entry).
#[derive(Default)]
pub struct LeafIndex {
    by_hash: HashMap<[u8; 32], u64>,
    indexed: u64,
}

impl LeafIndex {
    fn find(&mut self, trail: &AuditTrail, hash: &Hash) -> ApiResult<Option<u64>> {
        let size = trail.log().size();
        while self.indexed < size {
            let n = (size - self.indexed).min(65_536);
            for (i, leaf) in trail.log().leaves(self.indexed, n)?.into_iter().enumerate() {
                self.by_hash.entry(*leaf.as_bytes()).or_insert(self.indexed + i as u64);
            }
            self.indexed += n;
        }
        Ok(self.by_hash.get(hash.as_bytes()).copied())
    }
}

/// Which served log a route reads.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogParam {
    /// The log's name (`GET /audit/logs`); default: the server's own (`main`).
    pub log: Option<String>,
}

type Q<T> = Result<Query<T>, axum::extract::rejection::QueryRejection>;

/// A served log.
#[derive(Serialize, ToSchema)]
pub struct LogView {
    /// Its name (`?log=`).
    pub name: String,
    /// Its origin.
    pub origin: String,
    /// Entries.
    pub size: u64,
}

/// The logs this server serves; the first is the default of every route.
#[utoipa::path(get, path = "/logs", tag = "audit", responses((status = 200, body = Vec<LogView>)))]
async fn logs(State(s): State<Arc<ApiState>>, p: Principal) -> ApiResult<Json<Vec<LogView>>> {
    p.require(Role::Reader)?;
    Ok(Json(
        s.trails()
            .into_iter()
            .map(|t| LogView {
                name: t.name,
                origin: t.trail.log().origin().to_string(),
                size: t.trail.log().size(),
            })
            .collect(),
    ))
}

/// The log's state.
#[derive(Serialize, ToSchema)]
pub struct AuditStatus {
    /// The log's name in this API.
    pub name: String,
    /// The log's name (C2SP origin).
    pub origin: String,
    /// Its verifier key (C2SP vkey: `<name>+<key id>+<base64 key>`).
    pub verifier_key: String,
    /// Entries in the log.
    pub size: u64,
    /// The latest signed checkpoint, if any.
    pub checkpoint: Option<CheckpointView>,
    /// Where it is anchored, if it is.
    pub anchoring: Option<AnchoringView>,
}

/// A signed checkpoint.
#[derive(Serialize, ToSchema)]
pub struct CheckpointView {
    /// Tree size.
    pub size: u64,
    /// Root hash (hex).
    pub root: String,
    /// The signed note, as `audit verify` reads it.
    pub note: String,
}

/// The log's anchoring.
#[derive(Serialize, ToSchema)]
pub struct AnchoringView {
    /// Chain id.
    pub chain_id: u64,
    /// `AuditAnchor` contract.
    pub contract: String,
    /// The log's anchoring account.
    pub log_id: String,
    /// Anchored checkpoints, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub anchored: Vec<AnchorRecord>,
}

fn checkpoint_view(cp: &alara_audit::SignedCheckpoint) -> CheckpointView {
    CheckpointView {
        size: cp.checkpoint.size,
        root: cp.checkpoint.root.to_hex(),
        note: cp.note.clone(),
    }
}

fn anchor_state(trail: &AuditTrail) -> ApiResult<Option<AnchorState>> {
    Ok(AnchorState::load(trail.dir())?)
}

/// The log's size, key, latest checkpoint and anchoring.
#[utoipa::path(get, path = "/status", tag = "audit", params(LogParam),
    responses((status = 200, body = AuditStatus), (status = 503, body = crate::error::ErrorBody)))]
async fn audit_status(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    q: Q<LogParam>,
) -> ApiResult<Json<AuditStatus>> {
    p.require(Role::Reader)?;
    let named = s.trail(q?.0.log.as_deref())?;
    let (name, trail) = (named.name, named.trail);
    blocking(move || {
        let log = trail.log();
        Ok(Json(AuditStatus {
            name,
            origin: log.origin().to_string(),
            verifier_key: log.verifier().to_string(),
            size: log.size(),
            checkpoint: log.latest_checkpoint().as_ref().map(checkpoint_view),
            anchoring: anchor_state(&trail)?.map(|a| AnchoringView {
                chain_id: a.chain_id,
                contract: a.contract.to_string(),
                log_id: a.log_id.to_string(),
                anchored: a.anchored,
            }),
        }))
    })
    .await
}

/// Filters of the entry list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    /// The log's name; default: the server's own.
    pub log: Option<String>,
    /// Entries below this index (the previous page's `next_cursor`); default: the newest.
    pub cursor: Option<u64>,
    /// Rows per page, 1 to 500 (default 50).
    pub limit: Option<usize>,
    /// Only this kind (`inference`, `payout`, `data_sale`, …).
    pub kind: Option<String>,
    /// Only entries of this model (id or hex version hash).
    pub model: Option<String>,
    /// Only entries about this data subject (looked up in the vault; nothing about
    /// subjects is in the log).
    pub subject: Option<String>,
    /// Entries at or after this time (Unix ms).
    pub from_ms: Option<u64>,
    /// Entries before this time (Unix ms).
    pub to_ms: Option<u64>,
}

/// One entry.
#[derive(Serialize, ToSchema)]
pub struct EntryView {
    /// Leaf index.
    pub index: u64,
    /// `SHA-256(0x00 ‖ entry bytes)`, hex.
    pub leaf_hash: String,
    /// Entry kind.
    pub kind: String,
    /// Entry time (Unix ms).
    pub time_ms: u64,
    /// The entry, decoded.
    #[schema(value_type = Object)]
    pub entry: Entry,
    /// The entry's canonical bytes (hex) — what is hashed, for a client that checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_hex: Option<String>,
}

/// A page of entries, newest first.
#[derive(Serialize, ToSchema)]
pub struct EntryPage {
    /// The rows.
    pub items: Vec<EntryView>,
    /// Pass as `cursor` for the next page; absent at the log's start.
    pub next_cursor: Option<u64>,
    /// Entries in the log.
    pub size: u64,
    /// Entries looked at for this page.
    pub scanned: u64,
}

fn view(index: u64, bytes: &[u8], with_bytes: bool) -> ApiResult<EntryView> {
    let entry = Entry::decode(bytes)?;
    Ok(EntryView {
        index,
        leaf_hash: alara_audit::leaf_hash(bytes).to_hex(),
        kind: entry.body.kind_name().to_string(),
        time_ms: entry.time_ms,
        entry,
        bytes_hex: with_bytes.then(|| hex::encode(bytes)),
    })
}

fn page(trail: &AuditTrail, q: &EntriesQuery) -> ApiResult<EntryPage> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit must be 1 to {MAX_PAGE}, got {limit}")));
    }
    if let Some(k) = &q.kind {
        if !alara_audit::entry::KIND_NAMES.contains(&k.as_str()) {
            return Err(ApiError::bad_request(format!("unknown kind {k:?}"))
                .hint(format!("one of {}", alara_audit::entry::KIND_NAMES.join(", "))));
        }
    }
    let size = trail.log().size();
    let start = q.cursor.unwrap_or(size).min(size);
    let model_hash = q.model.as_deref().and_then(|m| Hash::from_hex(m).ok());
    // Candidates, newest first: the subject's leaves from the vault, or every index.
    let candidates: Box<dyn Iterator<Item = u64>> = match &q.subject {
        Some(subject) => {
            let mut leaves = trail.vault().leaves_of(subject)?;
            leaves.retain(|i| *i < start);
            leaves.sort_unstable();
            leaves.dedup();
            Box::new(leaves.into_iter().rev())
        }
        None => Box::new((0..start).rev()),
    };
    let (mut items, mut scanned, mut last) = (Vec::new(), 0u64, None);
    let mut exhausted = true;
    for i in candidates {
        if items.len() >= limit || scanned >= SCAN_BUDGET {
            exhausted = false;
            break;
        }
        scanned += 1;
        last = Some(i);
        let bytes = trail.log().entry(i)?;
        let row = view(i, &bytes, false)?;
        if q.from_ms.is_some_and(|t| row.time_ms < t) || q.to_ms.is_some_and(|t| row.time_ms >= t) {
            continue;
        }
        if q.kind.as_ref().is_some_and(|k| *k != row.kind) {
            continue;
        }
        if let Some(m) = &q.model {
            let by_hash = model_hash.is_some() && row.entry.body.model_hash() == model_hash;
            if !by_hash && row.entry.body.model_id() != Some(m.as_str()) {
                continue;
            }
        }
        items.push(row);
    }
    let next_cursor = match last {
        Some(l) if !exhausted && l > 0 => Some(l),
        _ => None,
    };
    Ok(EntryPage { items, next_cursor, size, scanned })
}

/// Entries, newest first, filtered by kind, model, subject and time; paged by cursor.
#[utoipa::path(get, path = "/entries", tag = "audit", params(EntriesQuery),
    responses((status = 200, body = EntryPage), (status = 400, body = crate::error::ErrorBody)))]
async fn list_entries(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    q: Result<Query<EntriesQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<EntryPage>> {
    p.require(Role::Reader)?;
    let Query(q) = q?;
    let trail = s.trail(q.log.as_deref())?.trail;
    blocking(move || page(&trail, &q).map(Json)).await
}

/// What was appended.
#[derive(Serialize, ToSchema)]
pub struct Appended {
    /// Leaf index of the entry.
    pub index: u64,
    /// Its leaf hash (hex).
    pub leaf_hash: String,
    /// Log size once it was durable.
    pub size: u64,
}

/// Appends one entry (the JSON form of an entry, as `GET /entries/{index}` shows it);
/// answered once the entry is durable. Entries carry commitments, never personal data:
/// the server refuses none of the kinds, but a client must commit to personal fields
/// itself.
#[utoipa::path(post, path = "/entries", tag = "audit",
    request_body(content = Object, description = "An entry: `time_ms`, `type` (its kind) and the kind's fields; amounts are decimal strings",
        example = json!({"time_ms": 1764633600000u64, "type": "payout", "context": "fl/task-7/round/3",
            "recipient": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "token": "ALR", "amount": "1000", "tx": null})),
    responses((status = 200, body = Appended), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
async fn append_entry(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    body: Result<axum::Json<Entry>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<Appended>> {
    p.require(Role::Writer)?;
    let axum::Json(entry) = body?;
    let trail = s.audit()?;
    blocking(move || {
        let bytes = entry.encode();
        let a = trail.append(&entry)?;
        Ok(Json(Appended {
            index: a.index,
            leaf_hash: alara_audit::leaf_hash(&bytes).to_hex(),
            size: a.tree_size,
        }))
    })
    .await
}

fn entry_at(trail: &AuditTrail, index: u64) -> ApiResult<EntryView> {
    let size = trail.log().size();
    if index >= size {
        return Err(ApiError::not_found(format!("no entry {index}: the log has {size}")));
    }
    view(index, &trail.log().entry(index)?, true)
}

/// One entry, decoded, with its bytes.
#[utoipa::path(get, path = "/entries/{index}", tag = "audit",
    params(("index" = u64, Path, description = "Leaf index"), LogParam),
    responses((status = 200, body = EntryView), (status = 404, body = crate::error::ErrorBody)))]
async fn get_entry(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    index: Result<Path<u64>, axum::extract::rejection::PathRejection>,
    q: Q<LogParam>,
) -> ApiResult<Json<EntryView>> {
    p.require(Role::Reader)?;
    let Path(index) = index?;
    let trail = s.trail(q?.0.log.as_deref())?.trail;
    blocking(move || entry_at(&trail, index).map(Json)).await
}

/// The entry whose leaf hash is this (64 hex digits).
#[utoipa::path(get, path = "/leaves/{leaf_hash}", tag = "audit",
    params(("leaf_hash" = String, Path, description = "Leaf hash, hex"), LogParam),
    responses((status = 200, body = EntryView), (status = 404, body = crate::error::ErrorBody)))]
async fn get_by_leaf(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    Path(hash): Path<String>,
    q: Q<LogParam>,
) -> ApiResult<Json<EntryView>> {
    p.require(Role::Reader)?;
    let named = s.trail(q?.0.log.as_deref())?;
    let h = Hash::from_hex(hash.trim_start_matches("0x")).map_err(|_| {
        ApiError::bad_request(format!("{hash:?} is not a leaf hash")).hint("64 hex digits")
    })?;
    let (trail, leaf_index) = (named.trail, named.leaf_index);
    blocking(move || {
        let index = leaf_index
            .lock()
            .find(&trail, &h)?
            .ok_or_else(|| ApiError::not_found(format!("no entry has leaf hash {}", h.to_hex())))?;
        entry_at(&trail, index).map(Json)
    })
    .await
}

/// Options of a receipt.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReceiptQuery {
    /// The log's name; default: the server's own.
    pub log: Option<String>,
    /// Add the on-chain anchor when one covers the entry (default true).
    pub anchored: Option<bool>,
}

/// The entry's receipt (schema `alara.audit.receipt/v2`, docs/receipt.md): entry, inclusion
/// proof, signed checkpoint and, once anchored, the anchor — verifiable offline with
/// `alara audit verify` or in the dashboard.
#[utoipa::path(get, path = "/entries/{index}/receipt", tag = "audit",
    params(("index" = u64, Path, description = "Leaf index"), ReceiptQuery),
    responses((status = 200, body = Object), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
async fn get_receipt(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    index: Result<Path<u64>, axum::extract::rejection::PathRejection>,
    q: Result<Query<ReceiptQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Receipt>> {
    p.require(Role::Reader)?;
    let (Path(index), Query(q)) = (index?, q?);
    let trail = s.trail(q.log.as_deref())?.trail;
    blocking(move || {
        let log = trail.log();
        let size = log.size();
        if index >= size {
            return Err(ApiError::not_found(format!("no entry {index}: the log has {size}")));
        }
        let cp =
            log.latest_checkpoint().filter(|c| c.checkpoint.size > index).ok_or_else(|| {
                ApiError::conflict(format!("no signed checkpoint covers entry {index} yet"))
                    .hint("the log signs a checkpoint at each commit; retry in a moment")
            })?;
        let first = log.checkpoint_covering(index).unwrap_or(cp);
        let mut receipt = trail.receipt_at(index, &first)?;
        if q.anchored.unwrap_or(true) {
            if let Some(state) = anchor_state(&trail)? {
                alara_audit::anchor::upgrade_receipt(&mut receipt, log, &state)?;
            }
        }
        Ok(Json(receipt))
    })
    .await
}

/// Parameters of an inclusion proof.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The log's name; default: the server's own.
    pub log: Option<String>,
    /// Leaf index.
    pub index: u64,
    /// Tree size (default: the latest checkpoint's).
    pub size: Option<u64>,
}

/// A Merkle proof (RFC 9162).
#[derive(Serialize, ToSchema)]
pub struct ProofView {
    /// First size (leaf index for inclusion, old size for consistency).
    pub from: u64,
    /// Tree size proven into.
    pub size: u64,
    /// Root at `size` (hex).
    pub root: String,
    /// The proof's hashes (hex), RFC 9162 order.
    pub hashes: Vec<String>,
}

fn hexes(h: &[Hash]) -> Vec<String> {
    h.iter().map(Hash::to_hex).collect()
}

fn proof_size(trail: &AuditTrail, size: Option<u64>) -> ApiResult<u64> {
    let latest = trail.log().latest_checkpoint().map_or(0, |c| c.checkpoint.size);
    let size = size.unwrap_or(latest);
    if size == 0 || size > trail.log().size() {
        return Err(ApiError::bad_request(format!(
            "size {size} is not a tree size of this log (1 to {})",
            trail.log().size()
        )));
    }
    Ok(size)
}

/// Inclusion proof of an entry in the tree of a size.
#[utoipa::path(get, path = "/proofs/inclusion", tag = "audit", params(InclusionQuery),
    responses((status = 200, body = ProofView), (status = 400, body = crate::error::ErrorBody)))]
async fn inclusion_proof(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    q: Result<Query<InclusionQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<ProofView>> {
    p.require(Role::Reader)?;
    let Query(q) = q?;
    let trail = s.trail(q.log.as_deref())?.trail;
    blocking(move || {
        let size = proof_size(&trail, q.size)?;
        if q.index >= size {
            return Err(ApiError::bad_request(format!(
                "index {} is not below size {size}",
                q.index
            )));
        }
        let proof = trail.log().prove_inclusion(q.index, size)?;
        Ok(Json(ProofView {
            from: q.index,
            size,
            root: trail.log().root_at(size)?.to_hex(),
            hashes: hexes(&proof.path),
        }))
    })
    .await
}

/// Parameters of a consistency proof.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The log's name; default: the server's own.
    pub log: Option<String>,
    /// Old tree size.
    pub old: u64,
    /// New tree size (default: the latest checkpoint's).
    pub new: Option<u64>,
}

/// Consistency proof between two tree sizes: the older tree is a prefix of the newer.
#[utoipa::path(get, path = "/proofs/consistency", tag = "audit", params(ConsistencyQuery),
    responses((status = 200, body = ProofView), (status = 400, body = crate::error::ErrorBody)))]
async fn consistency_proof(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    q: Result<Query<ConsistencyQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<ProofView>> {
    p.require(Role::Reader)?;
    let Query(q) = q?;
    let trail = s.trail(q.log.as_deref())?.trail;
    blocking(move || {
        let new = proof_size(&trail, q.new)?;
        if q.old == 0 || q.old > new {
            return Err(ApiError::bad_request(format!("old size {} is not 1 to {new}", q.old)));
        }
        let proof = trail.log().prove_consistency(q.old, new)?;
        Ok(Json(ProofView {
            from: q.old,
            size: new,
            root: trail.log().root_at(new)?.to_hex(),
            hashes: hexes(&proof.path),
        }))
    })
    .await
}

/// The latest signed checkpoint.
#[utoipa::path(get, path = "/checkpoints/latest", tag = "audit", params(LogParam),
    responses((status = 200, body = CheckpointView), (status = 404, body = crate::error::ErrorBody)))]
async fn latest_checkpoint(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    q: Q<LogParam>,
) -> ApiResult<Json<CheckpointView>> {
    p.require(Role::Reader)?;
    let cp = s.trail(q?.0.log.as_deref())?.trail.log().latest_checkpoint().ok_or_else(|| {
        ApiError::not_found("the log has no checkpoint yet").hint("append an entry first")
    })?;
    Ok(Json(checkpoint_view(&cp)))
}

/// Anchored checkpoints, oldest first (empty when the log is not anchored).
#[utoipa::path(get, path = "/anchors", tag = "audit", params(LogParam),
    responses((status = 200, body = Vec<Object>)))]
async fn anchors(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    q: Q<LogParam>,
) -> ApiResult<Json<Vec<AnchorRecord>>> {
    p.require(Role::Reader)?;
    let trail = s.trail(q?.0.log.as_deref())?.trail;
    blocking(move || Ok(Json(anchor_state(&trail)?.map(|a| a.anchored).unwrap_or_default()))).await
}

/// What a verification established.
#[derive(Serialize, ToSchema)]
pub struct VerifyResult {
    /// True when every check passed.
    pub valid: bool,
    /// The first check that failed, when one did.
    pub error: Option<String>,
    /// Leaf index.
    pub leaf_index: Option<u64>,
    /// Size of the signed checkpoint.
    pub tree_size: Option<u64>,
    /// Whether the key checked was this server's log key (pinned) rather than the
    /// receipt's own.
    pub key_pinned: bool,
    /// The anchored size, when the receipt's anchor verified offline.
    pub anchored_size: Option<u64>,
}

/// Checks a receipt offline against this server's log key (when it has a log; otherwise
/// against the receipt's own key, which proves integrity, not origin). Always 200 for a
/// receipt that parses; `valid` says the outcome.
#[utoipa::path(post, path = "/verify", tag = "audit", request_body(content = Object), params(LogParam),
    responses((status = 200, body = VerifyResult), (status = 400, body = crate::error::ErrorBody)))]
async fn verify_receipt(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    q: Q<LogParam>,
    body: axum::body::Bytes,
) -> ApiResult<Json<VerifyResult>> {
    p.require(Role::Reader)?;
    let log = q?.0.log;
    let receipt = Receipt::from_json(&body)?;
    // Pinned to the named log's key, or to the key of the served log with the receipt's
    // origin; a receipt of no served log is checked against its own key.
    let pinned = match log {
        Some(name) => Some(s.trail(Some(&name))?.trail.verifier().clone()),
        None => s
            .trails()
            .into_iter()
            .find(|t| t.trail.log().origin() == receipt.log.origin)
            .map(|t| t.trail.verifier().clone()),
    };
    Ok(Json(match receipt.verify_offline(pinned.as_ref()) {
        Ok(v) => VerifyResult {
            valid: true,
            error: None,
            leaf_index: Some(v.leaf_index),
            tree_size: Some(v.tree_size),
            key_pinned: v.key_pinned,
            anchored_size: v.anchored.map(|(size, _)| size),
        },
        Err(e) => VerifyResult {
            valid: false,
            error: Some(e.to_string()),
            leaf_index: Some(receipt.leaf_index),
            tree_size: None,
            key_pinned: pinned.is_some(),
            anchored_size: None,
        },
    }))
}

/// Filters of an export.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// The log's name; default: the server's own.
    pub log: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only entries of this model (id or hex version hash).
    pub model: Option<String>,
    /// Only entries about this data subject.
    pub subject: Option<String>,
    /// Entries at or after this time (Unix ms).
    pub from_ms: Option<u64>,
    /// Entries before this time (Unix ms).
    pub to_ms: Option<u64>,
    /// At most this many lines (default and maximum 100,000).
    pub limit: Option<usize>,
}

/// The matching entries as JSON Lines, one self-contained receipt per line, all proven
/// against the latest checkpoint (oldest first), as `alara audit export` writes them.
#[utoipa::path(get, path = "/export", tag = "audit", params(ExportQuery),
    responses((status = 200, content_type = "application/jsonl", body = String),
        (status = 400, body = crate::error::ErrorBody)))]
async fn export(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    q: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    p.require(Role::Reader)?;
    let Query(q) = q?;
    let limit = q.limit.unwrap_or(MAX_EXPORT);
    if !(1..=MAX_EXPORT).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit must be 1 to {MAX_EXPORT}")));
    }
    let query = alara_audit::Query {
        from_ms: q.from_ms,
        to_ms: q.to_ms,
        kinds: q.kind.into_iter().collect(),
        model: q.model,
        subject: q.subject,
        limit: Some(limit),
    };
    let trail = s.trail(q.log.as_deref())?.trail;
    let body = crate::stream::body_from_writer("audit export", move |out| {
        trail.export(&query, out).map(|_| ()).map_err(|e| e.to_string())
    });
    Ok(([(header::CONTENT_TYPE, "application/jsonl")], body).into_response())
}
