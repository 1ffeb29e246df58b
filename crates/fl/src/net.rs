//! Networked mode: the coordinator as an axum HTTP service and a client loop over
//! reqwest. Only weights travel (canonical safetensors bodies); each client keeps its
//! own data file. The service wraps the same [`Coordinator`] as the simulation.
//!
//! API (all under `/v1`):
//! - `GET  /task`: [`TaskInfo`] (open round, hashes, deadline, standardiser, …);
//! - `GET  /model`: the global model, `application/octet-stream` safetensors, header
//!   `x-alara-round`;
//! - `POST /update/{client_id}/{round}/{sample_count}`: body = safetensors weights,
//!   optional header `x-alara-update-hash` (hex) checked against the body, and — when the
//!   coordinator has a [`ClientGate`] (settling on-chain) — the header
//!   `x-alara-signature`: hex of the client's 65-byte EIP-712 `UpdateCommitment`
//!   signature; answers `200 {"update_hash"}` or an error `{"error"}` with 400
//!   (malformed, NaN/Inf, bad sample count), 403 (unknown client id, missing or wrong
//!   signature), 409 (wrong round, replayed, duplicate), 410 (task finished) or 413 (body
//!   over the limit);
//! - `GET  /records`: the closed rounds' [`RoundRecord`]s;
//! - `GET  /claim/{address}`: the [`ClaimTicket`] (leaf and proof) of a client in the
//!   latest settled round, 404 before that.
//!
//! Rejections are kept bounded: the last [`MAX_REJECTIONS`] records and a count per
//! reason; the first [`LOGGED_REJECTIONS`] are logged (client ids cut to 64 characters),
//! then one summary line per [`LOG_EVERY`] rejections. The client reads every response
//! body with a size limit while streaming, so an oversized answer is refused before it is
//! buffered.
//!
//! Rounds close when every expected client has submitted, or at the deadline once the
//! quorum is met; below quorum at the deadline the round stays open for another
//! deadline period, so a client that disconnects mid-round cannot stall it.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    future::Future,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use alara_ml::{Dataset, Standardizer};
use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use axum::{
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};

use crate::{
    artifacts::hex32,
    commitment::SignedCommitment,
    model::{ModelSpec, Weights},
    rng,
    round::{ClientUpdate, Coordinator, Rejection, RoundRecord},
    settle::{ChainTask, ClaimTicket, ClientGate},
    train::{train_local, LocalTraining},
    Error, RejectReason, Result,
};

/// Rejection records kept (the most recent ones).
pub const MAX_REJECTIONS: usize = 256;
/// Rejections logged one by one before switching to summaries.
pub const LOGGED_REJECTIONS: u64 = 64;
/// After [`LOGGED_REJECTIONS`], one summary log line per this many rejections.
pub const LOG_EVERY: u64 = 1000;
/// Longest client id kept in a record or a log line (longer ones are cut, with `…`).
pub const MAX_LOGGED_ID: usize = 64;
/// Largest `/v1/task` or `/v1/claim` answer a client reads.
pub const MAX_JSON_BODY: usize = 1 << 20;

fn cut(id: &str) -> String {
    if id.len() <= MAX_LOGGED_ID {
        return id.to_string();
    }
    let mut end = MAX_LOGGED_ID;
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &id[..end], id.len())
}

/// A rejection message cut to a bounded length (the reasons themselves are short; what
/// is left is attacker-chosen text such as a header value).
fn cut_message(m: &str) -> String {
    const MAX: usize = 512;
    if m.len() <= MAX {
        return m.to_string();
    }
    let mut end = MAX;
    while !m.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &m[..end])
}

/// Bounded record of rejected submissions.
#[derive(Debug, Default)]
struct Rejections {
    recent: VecDeque<Rejection>,
    total: u64,
    by_reason: BTreeMap<&'static str, u64>,
}

impl Rejections {
    fn push(&mut self, r: Rejection) {
        self.total += 1;
        *self.by_reason.entry(reason_kind(&r.reason)).or_default() += 1;
        if self.recent.len() == MAX_REJECTIONS {
            self.recent.pop_front();
        }
        self.recent.push_back(r);
    }
}

fn reason_kind(r: &RejectReason) -> &'static str {
    match r {
        RejectReason::WrongRound { .. } => "wrong_round",
        RejectReason::Replayed { .. } => "replayed",
        RejectReason::Duplicate => "duplicate",
        RejectReason::Malformed(_) => "malformed",
        RejectReason::SampleCount { .. } => "sample_count",
        RejectReason::HashMismatch { .. } => "hash_mismatch",
        RejectReason::RoundClosed => "round_closed",
        RejectReason::UnknownClient => "unknown_client",
        RejectReason::BadSignature(_) => "bad_signature",
    }
}

/// Counts of rejected submissions since the start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectionStats {
    /// All rejections.
    pub total: u64,
    /// Per reason (`unknown_client`, `bad_signature`, `malformed`, …).
    pub by_reason: BTreeMap<String, u64>,
}

/// Round timing of the networked coordinator.
#[derive(Debug, Clone, Copy)]
pub struct RoundTiming {
    /// Time a round stays open waiting for clients.
    pub deadline: Duration,
    /// Close as soon as this many updates arrived (None: wait for the deadline).
    pub expected_clients: Option<usize>,
}

/// What a client learns from `GET /v1/task`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    /// Task identifier.
    pub task_id: String,
    /// Task seed (clients derive their training seed from it).
    pub seed: u64,
    /// Open round.
    pub round: u64,
    /// Rounds in the task.
    pub rounds: u64,
    /// All rounds closed.
    pub finished: bool,
    /// Model architecture.
    pub model: ModelSpec,
    /// Local training to run.
    pub local: LocalTraining,
    /// Standardisation to apply to local data.
    pub standardizer: Standardizer,
    /// Hash of the current global model.
    #[serde(with = "hex32")]
    pub global_model_hash: [u8; 32],
    /// Updates accepted in the open round.
    pub received: usize,
    /// Updates needed to close at the deadline.
    pub needed: usize,
    /// Milliseconds until the deadline.
    pub deadline_ms: u64,
    /// The task on-chain when the coordinator settles rounds there: updates must then
    /// carry the client's EIP-712 commitment signature.
    #[serde(default)]
    pub chain: Option<ChainTask>,
    /// Last round settled on-chain (0: none, or not settling).
    #[serde(default)]
    pub settled_round: u64,
}

/// Shared state of the coordinator service.
pub struct CoordinatorService {
    coord: Mutex<Coordinator>,
    deadline: Mutex<Instant>,
    timing: RoundTiming,
    max_body: usize,
    rejections: Mutex<Rejections>,
    gate: Option<ClientGate>,
    tickets: Mutex<(u64, HashMap<Address, ClaimTicket>)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the coordinator half-updated (it
    // mutates only after all checks), so keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl CoordinatorService {
    /// Wraps `coord`, accepting updates from any valid client id (experiments on one
    /// machine; see [`CoordinatorService::gated`]).
    pub fn new(coord: Coordinator, timing: RoundTiming) -> Arc<Self> {
        Self::build(coord, timing, None)
    }

    /// Wraps `coord`, counting only updates that pass `gate`: registered client ids with
    /// an `UpdateCommitment` signed by their account.
    pub fn gated(coord: Coordinator, timing: RoundTiming, gate: ClientGate) -> Arc<Self> {
        Self::build(coord, timing, Some(gate))
    }

    fn build(coord: Coordinator, timing: RoundTiming, gate: Option<ClientGate>) -> Arc<Self> {
        // Safetensors of the model plus header slack.
        let max_body = coord.config().model.n_params() * 4 + 16 * 1024;
        Arc::new(Self {
            coord: Mutex::new(coord),
            deadline: Mutex::new(Instant::now() + timing.deadline),
            timing,
            max_body,
            rejections: Mutex::new(Rejections::default()),
            gate,
            tickets: Mutex::new((0, HashMap::new())),
        })
    }

    /// Publishes the claim tickets of settled round `round` (served at `/v1/claim`).
    pub fn publish_tickets(&self, round: u64, tickets: impl IntoIterator<Item = ClaimTicket>) {
        let mut t = lock(&self.tickets);
        t.0 = round;
        t.1 = tickets.into_iter().map(|k| (k.leaf.client, k)).collect();
    }

    /// Counts of rejected submissions.
    pub fn rejection_stats(&self) -> RejectionStats {
        let r = lock(&self.rejections);
        RejectionStats {
            total: r.total,
            by_reason: r.by_reason.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    /// Largest accepted request body.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// The task's records so far.
    pub fn records(&self) -> Vec<RoundRecord> {
        lock(&self.coord).records().to_vec()
    }

    /// The most recent rejected submissions (at most [`MAX_REJECTIONS`]; client ids cut
    /// to [`MAX_LOGGED_ID`] characters).
    pub fn rejections(&self) -> Vec<Rejection> {
        lock(&self.rejections).recent.iter().cloned().collect()
    }

    /// `true` once every round is closed.
    pub fn is_finished(&self) -> bool {
        lock(&self.coord).is_finished()
    }

    /// The current global model.
    pub fn global(&self) -> Weights {
        lock(&self.coord).global().clone()
    }

    /// Closes the open round if it is due: everyone expected has submitted, or the
    /// deadline passed with the quorum met. Past the deadline without quorum, the
    /// deadline moves one period on. Returns the record of a closed round.
    pub fn tick(&self) -> Result<Option<RoundRecord>> {
        let mut coord = lock(&self.coord);
        if coord.is_finished() {
            return Ok(None);
        }
        let n = coord.pending();
        let everyone = self.timing.expected_clients.is_some_and(|e| n >= e);
        let mut deadline = lock(&self.deadline);
        let past = Instant::now() >= *deadline;
        if everyone || (past && n >= coord.needed()) {
            let record = coord.close_round()?;
            *deadline = Instant::now() + self.timing.deadline;
            tracing::info!(round = record.round, clients = record.clients.len(), "round closed");
            return Ok(Some(record));
        }
        if past {
            tracing::warn!(
                round = coord.round(),
                received = n,
                needed = coord.needed(),
                "deadline passed below quorum; extending"
            );
            *deadline = Instant::now() + self.timing.deadline;
        }
        Ok(None)
    }

    fn info(&self) -> TaskInfo {
        let coord = lock(&self.coord);
        let c = coord.config();
        let left = lock(&self.deadline).saturating_duration_since(Instant::now());
        TaskInfo {
            task_id: c.task_id.clone(),
            seed: c.seed,
            round: coord.round(),
            rounds: c.rounds,
            finished: coord.is_finished(),
            model: c.model,
            local: c.local,
            standardizer: c.standardizer.clone(),
            global_model_hash: coord.global().hash(),
            received: coord.pending(),
            needed: coord.needed(),
            deadline_ms: left.as_millis() as u64,
            chain: self.gate.as_ref().map(|g| *g.chain()),
            settled_round: lock(&self.tickets).0,
        }
    }
}

/// Drives round closing every `period` until the task finishes.
pub async fn drive_rounds(service: Arc<CoordinatorService>, period: Duration) -> Result<()> {
    drive_rounds_with(service, period, |_, _| async { Ok(()) }).await
}

/// Like [`drive_rounds`], calling `on_close(record, global model)` after each closed
/// round (settlement on-chain) before the next tick; an error of `on_close` stops the task.
pub async fn drive_rounds_with<F, Fut>(
    service: Arc<CoordinatorService>,
    period: Duration,
    mut on_close: F,
) -> Result<()>
where
    F: FnMut(RoundRecord, Weights) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    loop {
        let s = service.clone();
        let closed = tokio::task::spawn_blocking(move || s.tick())
            .await
            .map_err(|e| Error::Network(format!("round task failed: {e}")))?;
        match closed {
            Ok(Some(record)) => on_close(record, service.global()).await?,
            Ok(None) => {}
            Err(e) => tracing::error!("closing the round failed: {e}"),
        }
        if service.is_finished() {
            return Ok(());
        }
        tokio::time::sleep(period).await;
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(ErrorBody { error: msg.into() })).into_response()
}

/// The coordinator's HTTP routes.
pub fn router(service: Arc<CoordinatorService>) -> Router {
    let limit = service.max_body;
    Router::new()
        .route("/v1/task", get(get_task))
        .route("/v1/model", get(get_model))
        .route("/v1/records", get(get_records))
        .route("/v1/claim/{address}", get(get_claim))
        .route("/v1/update/{client_id}/{round}/{samples}", post(post_update))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_response(json_errors))
        .with_state(service)
}

/// Every error answer is the documented `{"error"}` JSON, including those axum writes
/// itself as plain text (413 from the body limit, 400 for a path segment that is not a
/// number or overflows u64, 404 for an unknown route, 405).
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let bytes = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    error(status, message)
}

async fn get_task(State(s): State<Arc<CoordinatorService>>) -> Json<TaskInfo> {
    Json(s.info())
}

async fn get_model(State(s): State<Arc<CoordinatorService>>) -> Response {
    let (round, bytes) = {
        let c = lock(&s.coord);
        (c.round(), c.global().to_safetensors())
    };
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::HeaderName::from_static("x-alara-round"), round.to_string()),
        ],
        bytes,
    )
        .into_response()
}

async fn get_records(State(s): State<Arc<CoordinatorService>>) -> Json<Vec<RoundRecord>> {
    Json(s.records())
}

async fn get_claim(
    State(s): State<Arc<CoordinatorService>>,
    Path(address): Path<String>,
) -> Response {
    let Ok(address) = address.parse::<Address>() else {
        return error(StatusCode::BAD_REQUEST, "expected a 0x-prefixed 20-byte address");
    };
    let t = lock(&s.tickets);
    match t.1.get(&address) {
        Some(ticket) => Json(ticket.clone()).into_response(),
        None if t.0 == 0 => error(StatusCode::NOT_FOUND, "no round settled on-chain yet"),
        None => error(
            StatusCode::NOT_FOUND,
            format!("{address} has no leaf in the round {} reward tree", t.0),
        ),
    }
}

#[derive(Serialize, Deserialize)]
struct Accepted {
    update_hash: String,
}

async fn post_update(
    State(s): State<Arc<CoordinatorService>>,
    Path((client_id, round, samples)): Path<(String, u64, u64)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let spec = lock(&s.coord).config().model;
    let result = (|| {
        let mut update = ClientUpdate::from_bytes(spec, &client_id, round, samples, &body)?;
        if let Some(claimed) = headers.get("x-alara-update-hash") {
            let claimed = claimed.to_str().unwrap_or_default();
            let parsed: Option<[u8; 32]> =
                hex::decode(claimed).ok().and_then(|v| v.try_into().ok());
            match parsed {
                Some(h) => update.update_hash = h,
                None => {
                    return Err(Error::RejectedUpdate {
                        client: client_id.clone(),
                        round,
                        reason: RejectReason::Malformed(format!(
                            "x-alara-update-hash `{claimed}` is not 64 hex digits"
                        )),
                    })
                }
            }
        }
        if let Some(gate) = &s.gate {
            let signature = headers
                .get("x-alara-signature")
                .map(|v| hex::decode(v.as_bytes().strip_prefix(b"0x").unwrap_or(v.as_bytes())));
            let signature = match signature {
                Some(Ok(b)) => Some(b),
                Some(Err(_)) => {
                    return Err(Error::RejectedUpdate {
                        client: client_id.clone(),
                        round,
                        reason: RejectReason::BadSignature("x-alara-signature is not hex".into()),
                    })
                }
                None => None,
            };
            gate.check(&client_id, round, update.update_hash, samples, signature.as_deref())
                .map_err(|reason| Error::RejectedUpdate {
                    client: client_id.clone(),
                    round,
                    reason,
                })?;
        }
        let hash = update.update_hash;
        lock(&s.coord).submit(update)?;
        Ok(hash)
    })();
    match result {
        Ok(hash) => {
            (StatusCode::OK, Json(Accepted { update_hash: hex::encode(hash) })).into_response()
        }
        Err(e) => {
            let status = match &e {
                Error::RejectedUpdate { reason, .. } => match reason {
                    RejectReason::WrongRound { .. }
                    | RejectReason::Replayed { .. }
                    | RejectReason::Duplicate => StatusCode::CONFLICT,
                    RejectReason::RoundClosed => StatusCode::GONE,
                    RejectReason::UnknownClient | RejectReason::BadSignature(_) => {
                        StatusCode::FORBIDDEN
                    }
                    _ => StatusCode::BAD_REQUEST,
                },
                _ => StatusCode::BAD_REQUEST,
            };
            // Messages and records carry the client id cut short: an id is attacker-chosen.
            let (e, total) = {
                let mut r = lock(&s.rejections);
                let e = match e {
                    Error::RejectedUpdate { client, round, reason } => {
                        let client = cut(&client);
                        r.push(Rejection {
                            client_id: client.clone(),
                            round,
                            reason: reason.clone(),
                        });
                        Error::RejectedUpdate { client, round, reason }
                    }
                    other => {
                        r.total += 1;
                        other
                    }
                };
                (e, r.total)
            };
            let message = cut_message(&e.to_string());
            if total <= LOGGED_REJECTIONS {
                tracing::warn!("{message}");
            } else if total % LOG_EVERY == 0 {
                tracing::warn!(
                    rejected = total,
                    "{total} updates rejected so far (only the first {LOGGED_REJECTIONS} are logged one by one)"
                );
            }
            error(status, message)
        }
    }
}

/// Serves `service` on `listener` and closes rounds until the task finishes; returns
/// the records. The server keeps answering for `linger` after the last round so
/// clients can see that the task finished.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<CoordinatorService>,
    linger: Duration,
) -> Result<Vec<RoundRecord>> {
    serve_with(listener, service, linger, |_, _| async { Ok(()) }).await
}

/// Like [`serve`], calling `on_close(record, global model)` after each closed round (see
/// [`drive_rounds_with`]).
pub async fn serve_with<F, Fut>(
    listener: tokio::net::TcpListener,
    service: Arc<CoordinatorService>,
    linger: Duration,
    on_close: F,
) -> Result<Vec<RoundRecord>>
where
    F: FnMut(RoundRecord, Weights) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let app = router(service.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });
    let driven = drive_rounds_with(service.clone(), Duration::from_millis(25), on_close).await;
    if let Err(e) = driven {
        let _ = stop_tx.send(());
        let _ = server.await;
        return Err(e);
    }
    tokio::time::sleep(linger).await;
    let _ = stop_tx.send(());
    server
        .await
        .map_err(|e| Error::Network(format!("server task failed: {e}")))?
        .map_err(|e| Error::Network(format!("server failed: {e}")))?;
    Ok(service.records())
}

/// Options of a networked client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Coordinator base URL, e.g. `http://127.0.0.1:7070`.
    pub coordinator: String,
    /// This client's identifier.
    pub client_id: String,
    /// Poll period.
    pub poll: Duration,
    /// Stop after this many submitted rounds (simulates leaving; None: until finished).
    pub max_rounds: Option<u64>,
    /// Give up when the coordinator is unreachable for this long.
    pub patience: Duration,
    /// The client's key: signs each update's EIP-712 commitment (required by a
    /// coordinator that settles on-chain) and names its claim.
    pub signer: Option<PrivateKeySigner>,
}

/// What a client did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientReport {
    /// Rounds it submitted to, and the update hashes.
    pub submitted: Vec<(u64, String)>,
    /// Submissions the coordinator rejected, with its message.
    pub rejected: Vec<(u64, String)>,
    /// The claim for the last settled round, when the coordinator settles on-chain.
    #[serde(default)]
    pub claim: Option<ClaimTicket>,
}

/// Reads a response body of at most `limit` bytes, chunk by chunk: a declared or actual
/// length over the limit is an error before more than `limit` bytes are held.
pub async fn read_limited(
    mut resp: reqwest::Response,
    limit: usize,
    what: &str,
) -> Result<Vec<u8>> {
    let too_big = |seen: u64| Error::TooLarge { what: what.to_string(), limit, seen };
    if let Some(len) = resp.content_length() {
        if len > limit as u64 {
            return Err(too_big(len));
        }
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(net(what))? {
        if out.len() + chunk.len() > limit {
            return Err(too_big((out.len() + chunk.len()) as u64));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    what: &str,
) -> Result<std::result::Result<T, reqwest::StatusCode>> {
    let resp = http.get(url).send().await.map_err(net(what))?;
    let status = resp.status();
    let bytes = read_limited(resp, MAX_JSON_BODY, what).await?;
    if !status.is_success() {
        return Ok(Err(status));
    }
    Ok(Ok(serde_json::from_slice(&bytes)
        .map_err(|e| Error::Network(format!("{what}: not the expected JSON: {e}")))?))
}

fn net<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> Error + '_ {
    move |e| Error::Network(format!("{what}: {e}"))
}

/// Runs a client: polls the task, trains on `data` (raw features; the task's
/// standardiser is applied here) for each new round and posts the update, until the
/// task finishes.
pub async fn run_client(opts: &ClientOptions, data: &Dataset) -> Result<ClientReport> {
    if !crate::round::valid_client_id(&opts.client_id) {
        return Err(Error::Config(format!(
            "client id `{}` must be 1-64 characters of [A-Za-z0-9_.-]",
            opts.client_id
        )));
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(net("building the HTTP client"))?;
    let base = opts.coordinator.trim_end_matches('/');
    let mut report = ClientReport { submitted: Vec::new(), rejected: Vec::new(), claim: None };
    let mut done_round = 0u64;
    let mut local: Option<Dataset> = None;
    let mut unreachable_since: Option<Instant> = None;
    loop {
        let task: TaskInfo = match get_json(&http, &format!("{base}/v1/task"), "GET /v1/task").await
        {
            Ok(Ok(t)) => {
                unreachable_since = None;
                t
            }
            Err(e @ Error::TooLarge { .. }) => return Err(e),
            Ok(Err(status)) => {
                let e = format!("status {status}");
                let since = *unreachable_since.get_or_insert_with(Instant::now);
                if since.elapsed() > opts.patience {
                    return Err(Error::Network(format!("coordinator {base}: GET /v1/task: {e}")));
                }
                tokio::time::sleep(opts.poll).await;
                continue;
            }
            Err(e) => {
                if unreachable_since.is_none() {
                    // Said once, so a wrong URL is not 30 silent seconds.
                    tracing::warn!(
                        "coordinator {base} does not answer ({e}); retrying for {} s",
                        opts.patience.as_secs()
                    );
                }
                let since = *unreachable_since.get_or_insert_with(Instant::now);
                if since.elapsed() > opts.patience {
                    if done_round > 0 {
                        // The coordinator went away after we took part: the task is over.
                        return Ok(report);
                    }
                    return Err(Error::Network(format!("coordinator {base} unreachable: {e}")));
                }
                tokio::time::sleep(opts.poll).await;
                continue;
            }
        };
        if task.chain.is_some() && opts.signer.is_none() {
            return Err(Error::Config(
                "the coordinator settles on-chain and needs signed updates: give the client a key"
                    .into(),
            ));
        }
        let left = opts.max_rounds.is_some_and(|m| report.submitted.len() as u64 >= m);
        if task.finished || left {
            if let (Some(_), Some(key)) = (task.chain, &opts.signer) {
                if !report.submitted.is_empty() {
                    // Wait for the last round this client took part in to be settled.
                    let last = report.submitted.last().map_or(0, |s| s.0);
                    if task.settled_round < last.max(if task.finished { task.rounds } else { 0 }) {
                        tokio::time::sleep(opts.poll).await;
                        continue;
                    }
                    let url = format!("{base}/v1/claim/{}", key.address());
                    report.claim = get_json(&http, &url, "GET /v1/claim").await?.ok();
                }
            }
            return Ok(report);
        }
        if task.round > done_round {
            let resp = http
                .get(format!("{base}/v1/model"))
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(net("fetching the model"))?;
            // The canonical safetensors of this model, plus header slack.
            let limit = task.model.n_params() * 4 + 16 * 1024;
            let bytes = read_limited(resp, limit, "GET /v1/model").await?;
            let global = Weights::from_safetensors(task.model, &bytes)?;
            if global.hash() != task.global_model_hash {
                // The round moved on between the two requests; poll again.
                tokio::time::sleep(opts.poll).await;
                continue;
            }
            let data = match &local {
                Some(d) => d.clone(),
                None => {
                    let mut d = task.standardizer.transform(data)?;
                    d.n_classes = task.model.n_classes;
                    local = Some(d.clone());
                    d
                }
            };
            let seed = rng::client_seed(task.seed, task.round, &opts.client_id);
            let cfg = task.local;
            let weights =
                tokio::task::spawn_blocking(move || train_local(&global, &data, &cfg, seed))
                    .await
                    .map_err(net("training task"))??;
            let update = ClientUpdate::new(&opts.client_id, task.round, data_len(&local), weights);
            let mut req = http
                .post(format!(
                    "{base}/v1/update/{}/{}/{}",
                    opts.client_id, task.round, update.sample_count
                ))
                .header("x-alara-update-hash", hex::encode(update.update_hash));
            if let (Some(chain), Some(key)) = (task.chain, &opts.signer) {
                let c = chain.commitment(task.round, update.update_hash, update.sample_count);
                let signed = SignedCommitment::sign(key, &chain.domain(), c)?;
                req = req.header("x-alara-signature", hex::encode(&signed.signature));
            }
            let resp = req
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(update.weights.to_safetensors())
                .send()
                .await
                .map_err(net("posting the update"))?;
            let status = resp.status();
            let text = read_limited(resp, MAX_JSON_BODY, "POST /v1/update")
                .await
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            if status.is_success() {
                report.submitted.push((task.round, hex::encode(update.update_hash)));
            } else {
                report.rejected.push((task.round, format!("{status}: {text}")));
            }
            done_round = task.round;
        }
        tokio::time::sleep(opts.poll).await;
    }
}

fn data_len(d: &Option<Dataset>) -> u64 {
    d.as_ref().map_or(0, |d| d.len() as u64)
}
