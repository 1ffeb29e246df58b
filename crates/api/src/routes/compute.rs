//! `/api/v1/compute`: verifiable compute — the tasks of this chain's `ComputeMarket` with
//! their phase (derived from the latest block's time and the task's flags), every worker's
//! submission (revealed count of correct answers, accuracy, trace root, whether a dispute
//! proved it wrong), every dispute on a task with its `DisputeGame`, and each game's moves
//! read from the game's events: who revealed which state, how each bisection moved the
//! interval `[lo, hi]`, the one-step proof and the resolution, each with its transaction
//! and the gas it used (docs/compute.md defines the game).

use std::collections::HashMap;
use std::sync::Arc;

use alara_compute::bisect::max_rounds;
use alara_compute::chain::{Phase, Winner};
use alara_contracts::call::{decoder, CallError, Decoder};
use alara_contracts::ComputeMarket::{self, ComputeMarketInstance};
use alara_contracts::DisputeGame::{self, DisputeGameInstance};
use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::{SolEvent, SolValue};
use axum::extract::{Path, State};
use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::ApiState;
use crate::Json;

/// Most tasks one answer lists (the newest).
const MAX_TASKS: u64 = 200;

/// The address-book names the contracts are recorded under.
const MARKET_NAME: &str = "ComputeMarket";
const GAME_NAME: &str = "DisputeGame";

/// What deploys them, for the hints of "not deployed" answers.
const DEPLOY_HINT: &str = "`alara demo compute` deploys ComputeMarket and DisputeGame";

/// Concurrent chain reads of the task list.
const CONCURRENCY: usize = 8;

const MARKET_DECODERS: &[Decoder] = &[decoder::<ComputeMarket::ComputeMarketErrors>];
const GAME_DECODERS: &[Decoder] = &[decoder::<DisputeGame::DisputeGameErrors>];

/// The routes.
pub fn router() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::new()
        .routes(routes!(compute_tasks))
        .routes(routes!(compute_task))
        .routes(routes!(compute_game))
}

// ---------------------------------------------------------------- answers

/// The two contracts.
#[derive(Serialize, ToSchema)]
pub struct ComputeContracts {
    /// `ComputeMarket`.
    pub market: String,
    /// `DisputeGame`, the game contract the market opens its disputes on (`GAME()`).
    pub game: String,
}

/// A task as `ComputeMarket.task(id)` holds it, with its derived phase.
#[derive(Serialize, ToSchema)]
pub struct TaskView {
    /// Task id (from 1).
    pub id: u64,
    /// Who posted it and escrowed the reward.
    pub poster: String,
    /// `trusted` (no disputes) or `optimistic` (claims can be disputed during the challenge
    /// window).
    pub tier: String,
    /// As of the latest block's time: `commit` (before the commit deadline),
    /// `awaiting-evaluation` (commits closed, the poster has not opened the evaluation set),
    /// `reveal` (the set is open, workers reveal until the reveal deadline), `challenge`
    /// (the challenge window, or disputes still unsettled), `finalizable` (nothing can change
    /// the outcome any more and only `finalize` is left), `final` (finalized). The CLI's
    /// `alara compute status` names them the same.
    pub phase: String,
    /// Whether `finalize` ran (rewards and stakes credited).
    pub finalized: bool,
    /// Whether `finalize` may be called now.
    pub finalizable: bool,
    /// Commits are accepted before this time (Unix seconds).
    pub commit_deadline: u64,
    /// Reveals are accepted before this time (Unix seconds).
    pub reveal_deadline: u64,
    /// Seconds after the reveal deadline during which claims can be disputed (0: Trusted).
    pub challenge_window: u64,
    /// `reveal_deadline + challenge_window`: from then on the task can be finalized.
    pub challenge_ends_at: u64,
    /// Seconds each move of a dispute may take.
    pub move_timeout: u64,
    /// The reward, in base units (wei for ETH), decimal.
    pub reward: String,
    /// Each worker's stake and each challenger's bond, in base units, decimal.
    pub stake: String,
    /// The payment asset (`0x0000…0000`: ETH).
    pub token: String,
    /// Chunks of the evaluation set.
    pub chunk_count: u32,
    /// Rows of the evaluation set.
    pub row_count: u32,
    /// Whether the poster opened the evaluation set.
    pub evaluation_open: bool,
    /// Workers that committed (submissions).
    pub submissions: u32,
    /// Submissions revealed.
    pub revealed: u32,
    /// Games opened on the task and not yet settled.
    pub unsettled_games: u32,
    /// The winner once finalized (none if nobody won, or not finalized yet).
    pub winner: Option<String>,
    /// The winner's count of correct answers.
    pub winner_correct: Option<u32>,
    /// The training recipe's hash.
    pub recipe: String,
    /// CID of the training data.
    pub dataset_cid: String,
    /// The poster's commitment to the evaluation set.
    pub eval_commitment: String,
    /// The evaluation set's Merkle root, once opened.
    pub eval_root: Option<String>,
    /// CID of the evaluation set, once opened.
    pub eval_cid: Option<String>,
}

/// The tasks of the chain's ComputeMarket.
#[derive(Serialize, ToSchema)]
pub struct ComputeAnswer {
    /// Whether ComputeMarket is deployed on the served chain (recorded in the address book).
    pub deployed: bool,
    /// The contracts, when deployed.
    pub contracts: Option<ComputeContracts>,
    /// The latest block's time (Unix seconds): the phases are as of then.
    pub chain_time: u64,
    /// Tasks posted in all.
    pub total: u64,
    /// The newest tasks (at most 200), newest first.
    pub tasks: Vec<TaskView>,
    /// When not deployed: what deploys the contracts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// One worker's submission.
#[derive(Serialize, ToSchema)]
pub struct SubmissionView {
    /// The worker.
    pub worker: String,
    /// `committed` (not revealed), `valid` (revealed, not disproven) or `invalid` (a
    /// dispute proved the claim wrong, or both parties wrong).
    pub status: String,
    /// The commitment to the model.
    pub commitment: String,
    /// Whether the worker revealed.
    pub revealed: bool,
    /// Whether a settled dispute made the submission invalid.
    pub invalid: bool,
    /// Whether it won the reward.
    pub winner: bool,
    /// Reveal order: 1 for the task's first reveal, 2 for the next, …
    pub reveal_order: Option<u32>,
    /// Layers of the revealed model.
    pub layer_count: Option<u32>,
    /// The claimed count of correct answers on the evaluation set.
    pub correct: Option<u32>,
    /// `correct / row_count` in percent (two decimals).
    pub accuracy_pct: Option<f64>,
    /// `keccak256(abi.encode(layerCount, layersRoot))`, what the commitment binds.
    pub model_hash: Option<String>,
    /// The model's layer root.
    pub layers_root: Option<String>,
    /// The root of the worker's trace.
    pub trace_root: Option<String>,
    /// Where the model is stored.
    pub model_cid: Option<String>,
}

/// A DisputeGame's state.
#[derive(Serialize, ToSchema)]
pub struct GameView {
    /// Game id (from 1).
    pub game_id: u64,
    /// Who opened it (the market, for the market's disputes).
    pub arbiter: String,
    /// Whether the served ComputeMarket opened it (only those games move money).
    pub by_market: bool,
    /// The claimer (the worker whose claim is disputed).
    pub claimer: String,
    /// The challenger.
    pub challenger: String,
    /// The claimer's count of correct answers.
    pub claimed_correct: u32,
    /// The challenger's count.
    pub challenger_correct: u32,
    /// `bisect` (rounds of reveals), `step` (waiting for the one-step proof) or `resolved`.
    pub phase: String,
    /// `none` (not resolved), `claimer`, `challenger` or `neither` (the re-executed step
    /// matched neither party).
    pub winner: String,
    /// Whether it was resolved by a timeout (none: not resolved).
    pub resolved_by_timeout: Option<bool>,
    /// The traces agree at state `lo` …
    pub lo: u64,
    /// … and disagree at state `hi`.
    pub hi: u64,
    /// `n = chunks · (layers + 1)`: the steps of the evaluation (states 0 to n).
    pub steps: u64,
    /// The state the current round reveals, `(lo + hi) / 2` (bisect phase only).
    pub mid: Option<u64>,
    /// Once `hi = lo + 1`: the step (from state `lo` to `lo + 1`) the traces diverge on.
    pub diverging_step: Option<u64>,
    /// What that step computes: `layer <l> of chunk <c>` or `score of chunk <c>`.
    pub diverging_operation: Option<String>,
    /// Bisection rounds played.
    pub rounds: u32,
    /// The most rounds a game over `steps` steps takes: ⌈log2 n⌉.
    pub max_rounds: u32,
    /// Whether the claimer revealed in the current round.
    pub claimer_revealed: bool,
    /// Whether the challenger revealed in the current round.
    pub challenger_revealed: bool,
    /// The current move is due by this time (Unix seconds).
    pub deadline: u64,
    /// Whether that deadline has passed without the game being resolved (anyone may call
    /// `timeout`).
    pub overdue: bool,
    /// Seconds each move may take.
    pub move_timeout: u64,
    /// Layers of the disputed model.
    pub layer_count: u32,
    /// Chunks of the evaluation set.
    pub chunk_count: u32,
    /// The model's layer root.
    pub layers_root: String,
    /// The evaluation set's root.
    pub eval_root: String,
    /// The claimer's trace root.
    pub claimer_trace_root: String,
    /// The challenger's trace root.
    pub challenger_trace_root: String,
}

/// A dispute on a task: the market's record and the game's state.
#[derive(Serialize, ToSchema)]
pub struct DisputeView {
    /// The game id.
    pub game_id: u64,
    /// The worker whose claim is disputed.
    pub worker: String,
    /// The challenger.
    pub challenger: String,
    /// The challenger's count of correct answers.
    pub challenger_correct: u32,
    /// The challenger's bond, in base units, decimal.
    pub bond: String,
    /// Whether `settleDispute` applied the outcome.
    pub settled: bool,
    /// Whether the settlement made the submission invalid (none: not settled).
    pub invalidated: Option<bool>,
    /// The game.
    pub game: GameView,
}

/// One task with its submissions and disputes.
#[derive(Serialize, ToSchema)]
pub struct TaskAnswer {
    /// The contracts.
    pub contracts: ComputeContracts,
    /// The latest block's time (Unix seconds).
    pub chain_time: u64,
    /// The task.
    pub task: TaskView,
    /// Every worker's submission, in commit order.
    pub submissions: Vec<SubmissionView>,
    /// Every dispute on the task, in the order they were opened.
    pub disputes: Vec<DisputeView>,
}

/// The market's record of a game it opened.
#[derive(Serialize, ToSchema)]
pub struct GameDispute {
    /// The task.
    pub task_id: u64,
    /// The worker whose claim is disputed.
    pub worker: String,
    /// The challenger.
    pub challenger: String,
    /// The challenger's count of correct answers.
    pub challenger_correct: u32,
    /// The bond, in base units, decimal.
    pub bond: String,
    /// Whether the outcome was applied.
    pub settled: bool,
    /// Whether the settlement made the submission invalid (none: not settled).
    pub invalidated: Option<bool>,
}

/// One move of a game, from the events of its transaction.
#[derive(Serialize, ToSchema)]
pub struct Move {
    /// `opened`, `reveal` (a party's state at `mid`), `bisect` (both revealed: the interval
    /// is now `[lo, hi]`), `step` (the one-step proof re-executed step `step`), `resolved`,
    /// or `settled` (the market applied the outcome).
    pub kind: String,
    /// The bisection round a `reveal` or `bisect` belongs to (from 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round: Option<u32>,
    /// The block.
    pub block: u64,
    /// The block's time (Unix seconds), when the node reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<u64>,
    /// The transaction.
    pub tx_hash: String,
    /// Gas used by the whole transaction (shared by the moves of one transaction: the
    /// second reveal of a round also bisects; a one-step proof also resolves).
    pub gas_used: u64,
    /// Who moved: the revealing party, the proof's submitter, the opener.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub party: Option<String>,
    /// `claimer` or `challenger` for a reveal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The state index revealed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mid: Option<u64>,
    /// The state leaf revealed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaf: Option<String>,
    /// The interval after the move (`opened` and `bisect`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lo: Option<u64>,
    /// The interval after the move (`opened` and `bisect`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hi: Option<u64>,
    /// For `bisect`: whether the two leaves at mid agreed (`lo` moved up) or not (`hi`
    /// moved down).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreed: Option<bool>,
    /// The next deadline (`opened` and `bisect`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<u64>,
    /// The step re-executed (`step`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    /// The state leaf the contract computed (`step`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computed: Option<String>,
    /// `claimer`, `challenger` or `neither` (`resolved`, `settled`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub winner: Option<String>,
    /// Whether a timeout resolved it (`resolved`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_timeout: Option<bool>,
    /// Whether the settlement made the submission invalid (`settled`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalidated: Option<bool>,
}

/// One game with its moves.
#[derive(Serialize, ToSchema)]
pub struct GameAnswer {
    /// The contracts.
    pub contracts: ComputeContracts,
    /// The latest block's time (Unix seconds).
    pub chain_time: u64,
    /// The game.
    pub game: GameView,
    /// The market's record, when the served ComputeMarket opened the game.
    pub dispute: Option<GameDispute>,
    /// Every move, oldest first.
    pub moves: Vec<Move>,
    /// Gas of all the game's transactions (each counted once).
    pub gas_used_total: u64,
}

// ---------------------------------------------------------------- chain access

/// The deployed contracts and the chain.
struct Deployed {
    provider: DynProvider,
    market: ComputeMarketInstance<DynProvider>,
    game: DisputeGameInstance<DynProvider>,
}

impl Deployed {
    fn contracts(&self) -> ComputeContracts {
        ComputeContracts {
            market: self.market.address().to_string(),
            game: self.game.address().to_string(),
        }
    }

    /// The block to scan the market's events from.
    async fn market_from(&self, s: &ApiState) -> ApiResult<u64> {
        let addr = *self.market.address();
        alara_contracts::deploy::deployment_block(
            &self.provider,
            &s.config.data_dir,
            MARKET_NAME,
            addr,
        )
        .await
        .map_err(|e| ApiError::chain(e.to_string()))
    }

    /// The block to scan the game contract's events from.
    async fn game_from(&self, s: &ApiState) -> ApiResult<u64> {
        let addr = *self.game.address();
        alara_contracts::deploy::deployment_block(
            &self.provider,
            &s.config.data_dir,
            GAME_NAME,
            addr,
        )
        .await
        .map_err(|e| ApiError::chain(e.to_string()))
    }

    /// Logs matching `filter` from `from`, oldest first.
    async fn scan(&self, filter: &Filter, from: u64) -> ApiResult<Vec<Log>> {
        alara_contracts::logs::scan(&self.provider, filter, from)
            .await
            .map_err(|e| ApiError::chain(e.to_string()))
    }
}

/// The market from the address book (with code on the chain) and its game, or `None`.
async fn deployed(s: &ApiState) -> ApiResult<Option<Deployed>> {
    let provider = s.chain()?.clone();
    let book = alara_contracts::deploy::book_for(&provider, &s.config.data_dir)
        .await
        .map_err(|e| ApiError::chain(e.to_string()))?;
    let Some(market) = alara_contracts::deploy::deployed(&provider, &book, MARKET_NAME)
        .await
        .map_err(|e| ApiError::chain(e.to_string()))?
    else {
        return Ok(None);
    };
    let market = ComputeMarket::new(market, provider.clone());
    let game = market.GAME().call().await.map_err(view("GAME", MARKET_DECODERS))?;
    let game = DisputeGame::new(game, provider.clone());
    Ok(Some(Deployed { provider, market, game }))
}

/// The error of a failed view call `call`, its revert decoded with `decoders`.
fn view(
    call: &'static str,
    decoders: &'static [Decoder],
) -> impl FnOnce(alloy::contract::Error) -> ApiError {
    move |e| ApiError::chain(CallError::from_contract(call, decoders, e).to_string())
}

/// The latest block's time.
async fn chain_time(p: &DynProvider) -> ApiResult<u64> {
    let block = p
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .map_err(|e| ApiError::chain(format!("eth_getBlockByNumber(latest): {e}")))?
        .ok_or_else(|| ApiError::chain("the chain answered no latest block"))?;
    Ok(block.header.timestamp)
}

fn u64_of(v: U256) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

fn topic(id: u64) -> B256 {
    B256::from(U256::from(id))
}

async fn task_view(d: &Deployed, id: u64, now: u64) -> ApiResult<(TaskView, Vec<Address>)> {
    let m = &d.market;
    let t = m.task(U256::from(id)).call().await.map_err(view("task", MARKET_DECODERS))?;
    let workers =
        m.workers(U256::from(id)).call().await.map_err(view("workers", MARKET_DECODERS))?;
    let (winner, winner_correct) = if t.finalized && t.winner != Address::ZERO {
        let w = m.winner(U256::from(id)).call().await.map_err(view("winner", MARKET_DECODERS))?;
        (Some(w.account.to_string()), Some(w.correct))
    } else {
        (None, None)
    };
    let ends = t.revealDeadline.saturating_add(t.challengeWindow);
    let out = TaskView {
        id,
        poster: t.poster.to_string(),
        tier: if t.tier == 1 { "optimistic" } else { "trusted" }.into(),
        phase: alara_compute::party::phase(&t, now).into(),
        finalized: t.finalized,
        finalizable: !t.finalized && now >= ends && t.unsettledGames == 0,
        commit_deadline: t.commitDeadline,
        reveal_deadline: t.revealDeadline,
        challenge_window: t.challengeWindow,
        challenge_ends_at: ends,
        move_timeout: t.moveTimeout,
        reward: t.reward.to_string(),
        stake: t.stake.to_string(),
        token: t.token.to_string(),
        chunk_count: t.chunkCount,
        row_count: t.rowCount,
        evaluation_open: t.evaluationOpen,
        submissions: u32::try_from(workers.len()).unwrap_or(u32::MAX),
        revealed: t.revealCount,
        unsettled_games: t.unsettledGames,
        winner,
        winner_correct,
        recipe: t.recipe.to_string(),
        dataset_cid: t.datasetCid.clone(),
        eval_commitment: t.evalCommitment.to_string(),
        eval_root: t.evaluationOpen.then(|| t.evalRoot.to_string()),
        eval_cid: t.evaluationOpen.then(|| t.evalCid.clone()),
    };
    Ok((out, workers))
}

/// How many bisections each game had and whether a timeout resolved it, from the game
/// contract's `Bisected` and `GameResolved` events.
#[derive(Default)]
struct GameEvents {
    rounds: u32,
    by_timeout: Option<bool>,
}

fn game_view(
    id: u64,
    g: &DisputeGame::Game,
    ev: &GameEvents,
    market: Address,
    now: u64,
) -> GameView {
    let layers = u64::from(g.layerCount);
    let steps = alara_compute::trace::step_count(layers, u64::from(g.chunkCount));
    let converged = g.hi == g.lo + 1 && g.phase >= 2;
    let diverging_operation = converged.then(|| {
        let (c, l) = (g.lo / (layers + 1), g.lo % (layers + 1));
        if l == layers {
            format!("score of chunk {c}")
        } else {
            format!("layer {l} of chunk {c}")
        }
    });
    GameView {
        game_id: id,
        arbiter: g.arbiter.to_string(),
        by_market: g.arbiter == market,
        claimer: g.claimer.to_string(),
        challenger: g.challenger.to_string(),
        claimed_correct: g.claimedCorrect,
        challenger_correct: g.challengerCorrect,
        phase: Phase::from_code(g.phase).name().into(),
        winner: Winner::from_code(g.winner).name().into(),
        resolved_by_timeout: if g.phase == 3 { ev.by_timeout } else { None },
        lo: g.lo,
        hi: g.hi,
        steps,
        mid: (g.phase == 1).then(|| (g.lo + g.hi) / 2),
        diverging_step: converged.then_some(g.lo),
        diverging_operation,
        rounds: ev.rounds,
        max_rounds: max_rounds(steps),
        claimer_revealed: g.claimerRevealed,
        challenger_revealed: g.challengerRevealed,
        deadline: g.deadline,
        overdue: g.phase != 3 && now > g.deadline,
        move_timeout: g.moveTimeout,
        layer_count: g.layerCount,
        chunk_count: g.chunkCount,
        layers_root: g.layersRoot.to_string(),
        eval_root: g.evalRoot.to_string(),
        claimer_trace_root: g.claimerTraceRoot.to_string(),
        challenger_trace_root: g.challengerTraceRoot.to_string(),
    }
}

/// The game id of an event whose first indexed topic is the game id.
fn topic_id(log: &Log) -> Option<u64> {
    log.topics().get(1).map(|t| u64_of(U256::from_be_bytes(t.0)))
}

// ---------------------------------------------------------------- handlers

/// The market's tasks, newest first (at most 200), each with its phase as of the latest
/// block, deadlines, reward and stake, submissions and winner.
#[utoipa::path(get, path = "/compute", tag = "compute",
    responses((status = 200, body = ComputeAnswer), (status = 502, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
async fn compute_tasks(
    p: Principal,
    State(s): State<Arc<ApiState>>,
) -> ApiResult<Json<ComputeAnswer>> {
    p.require(Role::Reader)?;
    let now = chain_time(s.chain()?).await?;
    let Some(d) = deployed(&s).await? else {
        return Ok(Json(ComputeAnswer {
            deployed: false,
            contracts: None,
            chain_time: now,
            total: 0,
            tasks: vec![],
            hint: Some(DEPLOY_HINT.into()),
        }));
    };
    let total =
        u64_of(d.market.taskCount().call().await.map_err(view("taskCount", MARKET_DECODERS))?);
    let oldest = total.saturating_sub(MAX_TASKS - 1).max(1);
    let d = &d;
    let tasks: Vec<TaskView> = futures_util::stream::iter((oldest..=total).rev())
        .map(|id| async move { task_view(d, id, now).await.map(|(v, _)| v) })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    Ok(Json(ComputeAnswer {
        deployed: true,
        contracts: Some(d.contracts()),
        chain_time: now,
        total,
        tasks,
        hint: None,
    }))
}

/// Parses a path id: a whole number from 1 (`what` names it in the message).
fn path_id(
    id: Result<Path<u64>, axum::extract::rejection::PathRejection>,
    what: &str,
) -> ApiResult<u64> {
    match id {
        Ok(Path(n)) if n > 0 => Ok(n),
        Ok(_) => {
            Err(ApiError::bad_request(format!("the {what} id is a whole number from 1, not 0")))
        }
        Err(e) => Err(ApiError::bad_request(format!(
            "the {what} id is a whole number from 1: {}",
            e.body_text()
        ))
        .hint(format!("e.g. /api/v1/compute/{what}s/1"))),
    }
}

/// One task with every worker's submission (accuracy, trace root, valid or proven wrong)
/// and every dispute on it with its game (phase, interval, rounds, winner).
#[utoipa::path(get, path = "/compute/tasks/{id}", tag = "compute",
    params(("id" = u64, Path, description = "Task id (from 1)")),
    responses((status = 200, body = TaskAnswer), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 502, body = crate::error::ErrorBody)))]
async fn compute_task(
    p: Principal,
    State(s): State<Arc<ApiState>>,
    id: Result<Path<u64>, axum::extract::rejection::PathRejection>,
) -> ApiResult<Json<TaskAnswer>> {
    p.require(Role::Reader)?;
    let id = path_id(id, "task")?;
    let Some(d) = deployed(&s).await? else {
        return Err(
            ApiError::not_found("ComputeMarket is not deployed on this chain").hint(DEPLOY_HINT)
        );
    };
    let total =
        u64_of(d.market.taskCount().call().await.map_err(view("taskCount", MARKET_DECODERS))?);
    if id > total {
        return Err(ApiError::not_found(format!("no task {id}: the market has {total} tasks"))
            .hint("GET /api/v1/compute lists them"));
    }
    let now = chain_time(&d.provider).await?;
    let (task, workers) = task_view(&d, id, now).await?;
    let winner = task.winner.clone();

    let mut submissions = Vec::with_capacity(workers.len());
    for w in &workers {
        let sub = d
            .market
            .submission(U256::from(id), *w)
            .call()
            .await
            .map_err(view("submission", MARKET_DECODERS))?;
        let revealed = sub.revealed;
        let model_hash =
            keccak256((U256::from(sub.layerCount), sub.layersRoot).abi_encode_params());
        let accuracy = (task.row_count > 0).then(|| {
            (f64::from(sub.correct) * 10_000.0 / f64::from(task.row_count)).round() / 100.0
        });
        submissions.push(SubmissionView {
            worker: w.to_string(),
            status: if sub.invalid {
                "invalid"
            } else if revealed {
                "valid"
            } else {
                "committed"
            }
            .into(),
            commitment: sub.commitment.to_string(),
            revealed,
            invalid: sub.invalid,
            winner: winner.as_deref() == Some(w.to_string().as_str()),
            reveal_order: revealed.then_some(sub.revealOrder),
            layer_count: revealed.then_some(sub.layerCount),
            correct: revealed.then_some(sub.correct),
            accuracy_pct: if revealed { accuracy } else { None },
            model_hash: revealed.then(|| model_hash.to_string()),
            layers_root: revealed.then(|| sub.layersRoot.to_string()),
            trace_root: revealed.then(|| sub.traceRoot.to_string()),
            model_cid: revealed.then(|| sub.modelCid.clone()),
        });
    }

    // The disputes: every `Challenged` of this task, and `DisputeSettled` for how each ended.
    let mut disputes = Vec::new();
    if task.tier == "optimistic" && task.revealed > 0 {
        let from = d.market_from(&s).await?;
        let filter = Filter::new()
            .address(*d.market.address())
            .event_signature(vec![
                ComputeMarket::Challenged::SIGNATURE_HASH,
                ComputeMarket::DisputeSettled::SIGNATURE_HASH,
            ])
            .topic1(topic(id));
        let logs = d.scan(&filter, from).await?;
        let mut challenged = Vec::new();
        let mut invalidated: HashMap<u64, bool> = HashMap::new();
        for log in &logs {
            if let Ok(c) = log.log_decode::<ComputeMarket::Challenged>() {
                challenged.push(c.inner.data);
            } else if let Ok(x) = log.log_decode::<ComputeMarket::DisputeSettled>() {
                invalidated.insert(u64_of(x.inner.data.gameId), x.inner.data.invalidated);
            }
        }
        let ids: Vec<u64> = challenged.iter().map(|c| u64_of(c.gameId)).collect();
        let mut events: HashMap<u64, GameEvents> = HashMap::new();
        if !ids.is_empty() {
            let from = d.game_from(&s).await?;
            let filter = Filter::new()
                .address(*d.game.address())
                .event_signature(vec![
                    DisputeGame::Bisected::SIGNATURE_HASH,
                    DisputeGame::GameResolved::SIGNATURE_HASH,
                ])
                .topic1(ids.iter().map(|g| topic(*g)).collect::<Vec<_>>());
            for log in d.scan(&filter, from).await? {
                let Some(g) = topic_id(&log) else { continue };
                let e = events.entry(g).or_default();
                if log.log_decode::<DisputeGame::Bisected>().is_ok() {
                    e.rounds += 1;
                } else if let Ok(r) = log.log_decode::<DisputeGame::GameResolved>() {
                    e.by_timeout = Some(r.inner.data.byTimeout);
                }
            }
        }
        let market = *d.market.address();
        for c in challenged {
            let gid = u64_of(c.gameId);
            let rec = d
                .market
                .dispute(c.gameId)
                .call()
                .await
                .map_err(view("dispute", MARKET_DECODERS))?;
            let g = d.game.game(c.gameId).call().await.map_err(view("game", GAME_DECODERS))?;
            let ev = events.remove(&gid).unwrap_or_default();
            disputes.push(DisputeView {
                game_id: gid,
                worker: c.worker.to_string(),
                challenger: c.challenger.to_string(),
                challenger_correct: c.challengerCorrect,
                bond: c.bond.to_string(),
                settled: rec.settled,
                invalidated: if rec.settled { invalidated.get(&gid).copied() } else { None },
                game: game_view(gid, &g, &ev, market, now),
            });
        }
    }
    Ok(Json(TaskAnswer { contracts: d.contracts(), chain_time: now, task, submissions, disputes }))
}

/// One dispute game with every move from its events — each reveal (who, at which state),
/// each bisection of `[lo, hi]`, the one-step proof, the resolution and the market's
/// settlement — with each move's transaction and the gas it used.
#[utoipa::path(get, path = "/compute/games/{id}", tag = "compute",
    params(("id" = u64, Path, description = "Game id (from 1)")),
    responses((status = 200, body = GameAnswer), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 502, body = crate::error::ErrorBody)))]
async fn compute_game(
    p: Principal,
    State(s): State<Arc<ApiState>>,
    id: Result<Path<u64>, axum::extract::rejection::PathRejection>,
) -> ApiResult<Json<GameAnswer>> {
    p.require(Role::Reader)?;
    let id = path_id(id, "game")?;
    let Some(d) = deployed(&s).await? else {
        return Err(
            ApiError::not_found("ComputeMarket is not deployed on this chain").hint(DEPLOY_HINT)
        );
    };
    let count = u64_of(d.game.gameCount().call().await.map_err(view("gameCount", GAME_DECODERS))?);
    if id > count {
        return Err(ApiError::not_found(format!("no game {id}: DisputeGame has {count} games"))
            .hint("a task's disputes (GET /api/v1/compute/tasks/{id}) name their games"));
    }
    let now = chain_time(&d.provider).await?;
    let g = d.game.game(U256::from(id)).call().await.map_err(view("game", GAME_DECODERS))?;
    let market = *d.market.address();

    let from = d.game_from(&s).await?;
    let filter = Filter::new()
        .address(*d.game.address())
        .event_signature(vec![
            DisputeGame::GameOpened::SIGNATURE_HASH,
            DisputeGame::LeafRevealed::SIGNATURE_HASH,
            DisputeGame::Bisected::SIGNATURE_HASH,
            DisputeGame::Stepped::SIGNATURE_HASH,
            DisputeGame::GameResolved::SIGNATURE_HASH,
        ])
        .topic1(topic(id));
    let mut logs = d.scan(&filter, from).await?;

    let mut dispute = None;
    if g.arbiter == market {
        let rec = d
            .market
            .dispute(U256::from(id))
            .call()
            .await
            .map_err(view("dispute", MARKET_DECODERS))?;
        if rec.challenger != Address::ZERO {
            let from = d.market_from(&s).await?;
            let filter = Filter::new()
                .address(market)
                .event_signature(ComputeMarket::DisputeSettled::SIGNATURE_HASH)
                .topic2(topic(id));
            let settled = d.scan(&filter, from).await?;
            let invalidated = settled
                .iter()
                .find_map(|l| l.log_decode::<ComputeMarket::DisputeSettled>().ok())
                .map(|l| l.inner.data.invalidated);
            logs.extend(settled);
            dispute = Some(GameDispute {
                task_id: u64_of(rec.taskId),
                worker: rec.worker.to_string(),
                challenger: rec.challenger.to_string(),
                challenger_correct: rec.challengerCorrect,
                bond: rec.bond.to_string(),
                settled: rec.settled,
                invalidated: if rec.settled { invalidated } else { None },
            });
        }
    }
    logs.sort_by_key(|l| (l.block_number.unwrap_or(0), l.log_index.unwrap_or(0)));

    // Gas per transaction, each receipt read once.
    let mut gas: HashMap<B256, u64> = HashMap::new();
    for log in &logs {
        let Some(tx) = log.transaction_hash else { continue };
        if gas.contains_key(&tx) {
            continue;
        }
        let r = d
            .provider
            .get_transaction_receipt(tx)
            .await
            .map_err(|e| ApiError::chain(format!("eth_getTransactionReceipt({tx}): {e}")))?
            .ok_or_else(|| ApiError::chain(format!("no receipt for transaction {tx}")))?;
        gas.insert(tx, r.gas_used);
    }

    let mut moves = Vec::with_capacity(logs.len());
    let mut ev = GameEvents::default();
    // `lo` before each bisection, to tell whether the two leaves at mid agreed.
    let mut lo = 0u64;
    for log in &logs {
        let tx = log.transaction_hash.unwrap_or_default();
        let mut m = Move {
            kind: String::new(),
            round: None,
            block: log.block_number.unwrap_or(0),
            time: log.block_timestamp,
            tx_hash: tx.to_string(),
            gas_used: gas.get(&tx).copied().unwrap_or(0),
            party: None,
            role: None,
            mid: None,
            leaf: None,
            lo: None,
            hi: None,
            agreed: None,
            deadline: None,
            step: None,
            computed: None,
            winner: None,
            by_timeout: None,
            invalidated: None,
        };
        if let Ok(e) = log.log_decode::<DisputeGame::GameOpened>() {
            let e = e.inner.data;
            m.kind = "opened".into();
            m.party = Some(e.arbiter.to_string());
            lo = 0;
            (m.lo, m.hi, m.deadline) = (Some(0), Some(e.steps), Some(e.deadline));
        } else if let Ok(e) = log.log_decode::<DisputeGame::LeafRevealed>() {
            let e = e.inner.data;
            m.kind = "reveal".into();
            m.round = Some(ev.rounds + 1);
            m.role = Some(if e.party == g.claimer { "claimer" } else { "challenger" }.into());
            m.party = Some(e.party.to_string());
            (m.mid, m.leaf) = (Some(e.mid), Some(e.leaf.to_string()));
        } else if let Ok(e) = log.log_decode::<DisputeGame::Bisected>() {
            let e = e.inner.data;
            ev.rounds += 1;
            m.kind = "bisect".into();
            m.round = Some(ev.rounds);
            m.agreed = Some(e.lo != lo);
            lo = e.lo;
            (m.lo, m.hi, m.deadline) = (Some(e.lo), Some(e.hi), Some(e.deadline));
        } else if let Ok(e) = log.log_decode::<DisputeGame::Stepped>() {
            let e = e.inner.data;
            m.kind = "step".into();
            m.party = Some(e.submitter.to_string());
            (m.step, m.computed) = (Some(e.step), Some(e.computed.to_string()));
        } else if let Ok(e) = log.log_decode::<DisputeGame::GameResolved>() {
            let e = e.inner.data;
            m.kind = "resolved".into();
            ev.by_timeout = Some(e.byTimeout);
            (m.winner, m.by_timeout) =
                (Some(Winner::from_code(e.winner).name().into()), Some(e.byTimeout));
        } else if let Ok(e) = log.log_decode::<ComputeMarket::DisputeSettled>() {
            let e = e.inner.data;
            m.kind = "settled".into();
            (m.winner, m.invalidated) =
                (Some(Winner::from_code(e.winner).name().into()), Some(e.invalidated));
        } else {
            continue;
        }
        moves.push(m);
    }
    let gas_used_total = gas.values().sum();
    Ok(Json(GameAnswer {
        contracts: d.contracts(),
        chain_time: now,
        game: game_view(id, &g, &ev, market, now),
        dispute,
        moves,
        gas_used_total,
    }))
}
