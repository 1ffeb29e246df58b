//! `/api/v1/fl`: federated training tasks and their rounds, from the round artifacts the
//! coordinator publishes (`<data-dir>/fl/<task>/`: `task.json`, `round-NNNNNN/record.json`)
//! — validation accuracy and loss per round, each client's score and reward — and the
//! rounds' audit entries (`training_round`) with their settlement.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use alara_fl::round::RoundRecord;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::{blocking, ApiState};
use crate::Json;

/// Largest `task.json` or `record.json` read.
const MAX_RECORD: u64 = 16 << 20;

/// Most rounds one answer lists.
const MAX_ROUNDS: u64 = 10_000;

/// The routes.
pub fn router() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::new().routes(routes!(tasks)).routes(routes!(rounds)).routes(routes!(claims))
}

fn fl_dir(s: &ApiState) -> PathBuf {
    s.config.data_dir.join("fl")
}

/// A task id usable as a directory name: 1 to 64 of `A-Z a-z 0-9 . _ -`, not starting
/// with a dot (so no path can leave `<data-dir>/fl`).
fn task_dir(s: &ApiState, task: &str) -> ApiResult<PathBuf> {
    let ok = !task.is_empty()
        && task.len() <= 64
        && !task.starts_with('.')
        && task.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        return Err(ApiError::bad_request(format!("{task:?} is not a task id"))
            .hint("1 to 64 letters, digits, '.', '_' or '-'"));
    }
    let dir = fl_dir(s).join(task);
    if !dir.join("task.json").is_file() {
        return Err(ApiError::not_found(format!("no task {task:?} on this server"))
            .hint("GET /api/v1/fl/tasks lists them"));
    }
    Ok(dir)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &FsPath) -> ApiResult<T> {
    let bytes = alara_store::read_file_capped(path, MAX_RECORD).map_err(ApiError::internal)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))
}

fn round_count(dir: &FsPath) -> u64 {
    (1..=MAX_ROUNDS)
        .take_while(|r| alara_fl::artifacts::round_dir(dir, *r).join("record.json").is_file())
        .count() as u64
}

/// A training task.
#[derive(Serialize, ToSchema)]
pub struct Task {
    /// Task id.
    pub task_id: String,
    /// Rounds with a published record.
    pub rounds: u64,
    /// Validation accuracy of the latest round's global model.
    pub latest_accuracy: Option<f64>,
    /// Clients in the latest round.
    pub latest_participants: Option<usize>,
}

/// Tasks with round artifacts on this server.
#[utoipa::path(get, path = "/fl/tasks", tag = "fl", responses((status = 200, body = Vec<Task>)))]
async fn tasks(State(s): State<Arc<ApiState>>, p: Principal) -> ApiResult<Json<Vec<Task>>> {
    p.require(Role::Reader)?;
    blocking(move || {
        let mut out = Vec::new();
        let Ok(dirs) = std::fs::read_dir(fl_dir(&s)) else { return Ok(Json(out)) };
        let mut names: Vec<String> = dirs
            .filter_map(Result::ok)
            .filter(|d| d.path().join("task.json").is_file())
            .filter_map(|d| d.file_name().into_string().ok())
            .collect();
        names.sort();
        for task_id in names.into_iter().take(1000) {
            let dir = fl_dir(&s).join(&task_id);
            let rounds = round_count(&dir);
            let latest: Option<RoundRecord> = (rounds > 0)
                .then(|| {
                    read_json(&alara_fl::artifacts::round_dir(&dir, rounds).join("record.json"))
                })
                .transpose()?;
            out.push(Task {
                task_id,
                rounds,
                latest_accuracy: latest.as_ref().map(|r| r.validation.accuracy),
                latest_participants: latest.as_ref().map(|r| r.clients.len()),
            });
        }
        Ok(Json(out))
    })
    .await
}

/// One round.
#[derive(Serialize, ToSchema)]
pub struct Round {
    /// Round number (from 1).
    pub round: u64,
    /// Validation accuracy of the new global model.
    pub accuracy: f64,
    /// Validation loss (mean cross-entropy).
    pub loss: f64,
    /// SHA-256 of the new global model, hex.
    pub global_model_hash: String,
    /// Reward pool of the round (token base units, decimal string).
    pub reward_pool: String,
    /// Client-level ε so far, when differential privacy is on.
    pub dp_epsilon: Option<f64>,
    /// Each accepted client.
    pub clients: Vec<RoundClient>,
}

/// A client's part in a round.
#[derive(Serialize, ToSchema)]
pub struct RoundClient {
    /// Client id.
    pub client_id: String,
    /// Samples it reported.
    pub sample_count: u64,
    /// Whether the aggregator used its update.
    pub selected: bool,
    /// Normalised contribution score (the round's sum to 1).
    pub score: f64,
    /// Whether it was flagged as a free rider.
    pub free_rider: bool,
    /// Reward of this round (base units, decimal string).
    pub reward: String,
    /// Reward of all rounds so far (base units, decimal string).
    pub cumulative_reward: String,
}

/// The rounds of a task, with accuracy, loss, scores and rewards.
#[utoipa::path(get, path = "/fl/tasks/{task}/rounds", tag = "fl",
    params(("task" = String, Path, description = "Task id")),
    responses((status = 200, body = Vec<Round>), (status = 404, body = crate::error::ErrorBody)))]
async fn rounds(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    Path(task): Path<String>,
) -> ApiResult<Json<Vec<Round>>> {
    p.require(Role::Reader)?;
    blocking(move || {
        let dir = task_dir(&s, &task)?;
        let mut out = Vec::new();
        for r in 1..=round_count(&dir) {
            let rec: RoundRecord =
                read_json(&alara_fl::artifacts::round_dir(&dir, r).join("record.json"))?;
            out.push(Round {
                round: rec.round,
                accuracy: rec.validation.accuracy,
                loss: rec.validation.loss,
                global_model_hash: hex::encode(rec.global_model_hash),
                reward_pool: rec.reward_pool.to_string(),
                dp_epsilon: rec.dp_epsilon,
                clients: rec
                    .clients
                    .iter()
                    .map(|c| RoundClient {
                        client_id: c.client_id.clone(),
                        sample_count: c.sample_count,
                        selected: c.selected,
                        score: c.score.score,
                        free_rider: c.score.free_rider.is_some(),
                        reward: c.reward.to_string(),
                        cumulative_reward: c.cumulative_reward.to_string(),
                    })
                    .collect(),
            });
        }
        Ok(Json(out))
    })
    .await
}

/// A client's claim of its rewards, as the coordinator's log records it.
#[derive(Serialize, ToSchema)]
pub struct Claim {
    /// The task.
    pub task: String,
    /// The client's account.
    pub recipient: String,
    /// Reward token.
    pub token: String,
    /// Amount paid (base units, decimal string).
    pub amount: String,
    /// The entry (with the claim transaction).
    pub at: crate::routes::market::At,
}

/// Claims paid for a task (`payout` entries with context `fl/<task>/claim`), oldest first.
#[utoipa::path(get, path = "/fl/tasks/{task}/claims", tag = "fl",
    params(("task" = String, Path, description = "Task id")),
    responses((status = 200, body = Vec<Claim>)))]
async fn claims(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    Path(task): Path<String>,
) -> ApiResult<Json<Vec<Claim>>> {
    p.require(Role::Reader)?;
    blocking(move || {
        let context = format!("fl/{task}/claim");
        Ok(Json(
            crate::routes::market::entries(&s)?
                .iter()
                .filter_map(|(log, e)| match &e.entry.body {
                    alara_audit::entry::EntryBody::Payout(p) if p.context == context => {
                        Some(Claim {
                            task: task.clone(),
                            recipient: p.recipient.clone(),
                            token: p.token.clone(),
                            amount: p.amount.to_string(),
                            at: crate::routes::market::at(log, e, p.tx),
                        })
                    }
                    _ => None,
                })
                .collect(),
        ))
    })
    .await
}
