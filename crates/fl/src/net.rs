//! Networked mode: the coordinator as an axum HTTP service and a client loop over
//! reqwest. Only weights travel (canonical safetensors bodies); each client keeps its
//! own data file. The service wraps the same [`Coordinator`] as the simulation.
//!
//! API (all under `/v1`):
//! - `GET  /task`: [`TaskInfo`] (open round, hashes, deadline, standardiser, …);
//! - `GET  /model`: the global model, `application/octet-stream` safetensors, header
//!   `x-alara-round`;
//! - `POST /update/{client_id}/{round}/{sample_count}`: body = safetensors weights,
//!   optional header `x-alara-update-hash` (hex) checked against the body; answers
//!   `200 {"update_hash"}` or an error `{"error"}` with 400 (malformed, NaN/Inf, bad
//!   sample count), 409 (wrong round, replayed, duplicate), 410 (task finished) or 413
//!   (body over the limit);
//! - `GET  /records`: the closed rounds' [`RoundRecord`]s.
//!
//! Rounds close when every expected client has submitted, or at the deadline once the
//! quorum is met; below quorum at the deadline the round stays open for another
//! deadline period, so a client that disconnects mid-round cannot stall it.

use std::{
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use alara_ml::{Dataset, Standardizer};
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
    model::{ModelSpec, Weights},
    rng,
    round::{hex32, ClientUpdate, Coordinator, Rejection, RoundRecord},
    train::{train_local, LocalTraining},
    Error, RejectReason, Result,
};

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
}

/// Shared state of the coordinator service.
pub struct CoordinatorService {
    coord: Mutex<Coordinator>,
    deadline: Mutex<Instant>,
    timing: RoundTiming,
    max_body: usize,
    rejections: Mutex<Vec<Rejection>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the coordinator half-updated (it
    // mutates only after all checks), so keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl CoordinatorService {
    /// Wraps `coord`.
    pub fn new(coord: Coordinator, timing: RoundTiming) -> Arc<Self> {
        // Safetensors of the model plus header slack.
        let max_body = coord.config().model.n_params() * 4 + 16 * 1024;
        Arc::new(Self {
            coord: Mutex::new(coord),
            deadline: Mutex::new(Instant::now() + timing.deadline),
            timing,
            max_body,
            rejections: Mutex::new(Vec::new()),
        })
    }

    /// Largest accepted request body.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// The task's records so far.
    pub fn records(&self) -> Vec<RoundRecord> {
        lock(&self.coord).records().to_vec()
    }

    /// Rejected submissions so far.
    pub fn rejections(&self) -> Vec<Rejection> {
        lock(&self.rejections).clone()
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
        }
    }
}

/// Drives round closing every `period` until the task finishes.
pub async fn drive_rounds(service: Arc<CoordinatorService>, period: Duration) -> Result<()> {
    loop {
        let s = service.clone();
        let closed = tokio::task::spawn_blocking(move || s.tick())
            .await
            .map_err(|e| Error::Network(format!("round task failed: {e}")))?;
        if let Err(e) = closed {
            tracing::error!("closing the round failed: {e}");
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
        .route("/v1/update/{client_id}/{round}/{samples}", post(post_update))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(service)
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
                    _ => StatusCode::BAD_REQUEST,
                },
                _ => StatusCode::BAD_REQUEST,
            };
            if let Error::RejectedUpdate { client, round, reason } = &e {
                lock(&s.rejections).push(Rejection {
                    client_id: client.clone(),
                    round: *round,
                    reason: reason.clone(),
                });
            }
            tracing::warn!("{e}");
            error(status, e.to_string())
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
    let app = router(service.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });
    drive_rounds(service.clone(), Duration::from_millis(25)).await?;
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
}

/// What a client did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientReport {
    /// Rounds it submitted to, and the update hashes.
    pub submitted: Vec<(u64, String)>,
    /// Submissions the coordinator rejected, with its message.
    pub rejected: Vec<(u64, String)>,
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
    let mut report = ClientReport { submitted: Vec::new(), rejected: Vec::new() };
    let mut done_round = 0u64;
    let mut local: Option<Dataset> = None;
    let mut unreachable_since: Option<Instant> = None;
    loop {
        let task: TaskInfo = match async {
            http.get(format!("{base}/v1/task")).send().await?.error_for_status()?.json().await
        }
        .await
        {
            Ok(t) => {
                unreachable_since = None;
                t
            }
            Err(e) => {
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
        if task.finished || opts.max_rounds.is_some_and(|m| report.submitted.len() as u64 >= m) {
            return Ok(report);
        }
        if task.round > done_round {
            let bytes = http
                .get(format!("{base}/v1/model"))
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(net("fetching the model"))?
                .bytes()
                .await
                .map_err(net("reading the model"))?;
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
            let resp = http
                .post(format!(
                    "{base}/v1/update/{}/{}/{}",
                    opts.client_id, task.round, update.sample_count
                ))
                .header("x-alara-update-hash", hex::encode(update.update_hash))
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(update.weights.to_safetensors())
                .send()
                .await
                .map_err(net("posting the update"))?;
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
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
