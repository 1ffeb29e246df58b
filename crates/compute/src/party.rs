//! The three parties of a task, each a state machine driven by [`tick`](Worker::tick): the
//! poster (posts, opens the evaluation set after the commit deadline, finalizes), a worker
//! (trains the recipe, commits, reveals its count and trace root, defends its claim) and a
//! validator (re-executes every revealed claim, challenges a wrong one with its own trace,
//! plays the game to the one-step and settles it). `alara compute worker|validate` run a
//! worker and a validator as processes; `alara demo compute` runs all of them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use alara_contracts::ComputeMarket;
use alara_store::{Blockstore, Store};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use serde::{Deserialize, Serialize};

use crate::chain::{self as onchain, Game, Market, Tier};
use crate::error::invalid;
use crate::eval::{EvalSet, DEFAULT_CHUNK_ROWS};
use crate::model::FixedModel;
use crate::recipe::Recipe;
use crate::trace::Trace;
use crate::{artifact, Error, Result};

pub use crate::chain::chain_time as chain_now;

/// The phase of a task at chain time `now`.
pub fn phase(t: &ComputeMarket::Task, now: u64) -> &'static str {
    if t.finalized {
        "final"
    } else if now < t.commitDeadline {
        "commit"
    } else if !t.evaluationOpen && now < t.revealDeadline {
        "awaiting-evaluation"
    } else if now < t.revealDeadline {
        "reveal"
    } else if now < t.revealDeadline + t.challengeWindow || t.unsettledGames > 0 {
        "challenge"
    } else {
        "finalizable"
    }
}

/// One move a party made (for logs and the demo's summary).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Move {
    /// The task.
    pub task: u64,
    /// What happened, one line.
    pub what: String,
    /// Gas used, if a transaction was sent.
    pub gas: Option<u64>,
}

fn moved(task: u64, what: String, gas: Option<u64>) -> Move {
    tracing::info!(task, gas, "{what}");
    Move { task, what, gas }
}

/// One move of `me` in game `game` with its own trace, as a [`Move`] (`None`: waiting).
async fn play_move<P: Provider + Clone>(
    game: &Game<P>,
    id: U256,
    task: u64,
    me: Address,
    trace: &Trace,
    model: &FixedModel,
    eval: &EvalSet,
) -> Result<Option<Move>> {
    let m = match game.advance(id, me, trace, model, eval).await {
        Ok(m) => m,
        // The other side moved between our read and our move: the game is over, or the
        // next pass reads its new state and moves again (a real failure repeats, and is
        // reported each pass).
        Err(e) => match game.outcome(id).await? {
            (true, w) => onchain::Move::Resolved(w),
            _ => {
                tracing::warn!(game = %id, error = %e, "move refused; trying again next pass");
                return Ok(None);
            }
        },
    };
    Ok(match m {
        onchain::Move::Revealed { mid, tx } => {
            Some(moved(task, format!("game {id}: {me:#x} revealed state {mid}"), Some(tx.gas_used)))
        }
        onchain::Move::Stepped { step, tx } => Some(moved(
            task,
            format!("game {id}: re-executed step {step} on-chain, {:?} won", tx.value),
            Some(tx.gas_used),
        )),
        onchain::Move::TimedOut(tx) => Some(moved(
            task,
            format!("game {id}: deadline passed, {:?} won", tx.value),
            Some(tx.gas_used),
        )),
        onchain::Move::Wait | onchain::Move::Resolved(_) => None,
    })
}

/// The market and its game, as one party.
#[derive(Clone)]
pub struct Chain<P: Provider + Clone> {
    /// The party's provider (its signer sends).
    pub provider: P,
    /// The party's address.
    pub me: Address,
    /// ComputeMarket.
    pub market: Market<P>,
    /// DisputeGame.
    pub game: Game<P>,
}

impl<P: Provider + Clone> Chain<P> {
    /// Both contracts at `market` (the game is read from it).
    pub async fn at(provider: P, me: Address, market: Address) -> Result<Chain<P>> {
        let market = Market::at(provider.clone(), market);
        let game = market.game().await?;
        Ok(Chain { provider, me, market, game })
    }

    /// The same contracts as another party.
    pub fn as_party(&self, provider: P, me: Address) -> Chain<P> {
        Chain {
            market: self.market.as_(provider.clone()),
            game: self.game.as_(provider.clone()),
            provider,
            me,
        }
    }

    /// Number of tasks.
    pub async fn task_count(&self) -> Result<u64> {
        let n = self.market.c.taskCount().call().await.map_err(
            alara_contracts::call::CallError::contract("taskCount", onchain::MARKET_DECODERS),
        )?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    /// Task `id`.
    pub async fn task(&self, id: u64) -> Result<ComputeMarket::Task> {
        self.market.task(U256::from(id)).await
    }

    /// Worker `w`'s submission to task `id`.
    pub async fn submission(&self, id: u64, w: Address) -> Result<ComputeMarket::Submission> {
        self.market.submission(U256::from(id), w).await
    }

    /// The workers of task `id`.
    pub async fn workers(&self, id: u64) -> Result<Vec<Address>> {
        self.market.workers(U256::from(id)).await
    }

    /// Withdraws what this party is owed in `token`; the amount (0 if nothing).
    pub async fn withdraw(&self, token: Address) -> Result<U256> {
        if self.market.owed(self.me, token).await?.is_zero() {
            return Ok(U256::ZERO);
        }
        Ok(self.market.withdraw(token).await?.value)
    }
}

/// What a task asks for, before it is posted.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// The recipe workers train.
    pub recipe: Recipe,
    /// Held-out fraction of the dataset.
    pub eval_fraction: f64,
    /// Rows per evaluation chunk.
    pub chunk_rows: usize,
    /// Split seed.
    pub seed: u64,
    /// Reward (wei, ETH).
    pub reward: U256,
    /// Worker stake and challenger bond (wei).
    pub stake: U256,
    /// Seconds until the commit deadline.
    pub commit_s: u64,
    /// Seconds from the commit deadline to the reveal deadline.
    pub reveal_s: u64,
    /// Seconds of the challenge window after the reveal deadline (0: Trusted tier).
    pub challenge_s: u64,
    /// Seconds each dispute move may take.
    pub move_s: u64,
}

impl Default for TaskSpec {
    fn default() -> Self {
        TaskSpec {
            recipe: Recipe::mlp(16),
            eval_fraction: 0.2,
            chunk_rows: DEFAULT_CHUNK_ROWS,
            seed: 7,
            reward: U256::from(1_000_000_000_000_000_000u128),
            stake: U256::from(100_000_000_000_000_000u128),
            commit_s: 600,
            reveal_s: 600,
            challenge_s: 600,
            move_s: 300,
        }
    }
}

/// What the poster keeps private until the commit deadline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PosterSecret {
    /// The task.
    pub task: u64,
    /// The held-out set.
    pub eval: EvalSet,
    /// The commitment's salt.
    pub salt: B256,
}

/// The poster of tasks; keeps each task's held-out set under `dir` until it opens it.
pub struct Poster<P: Provider + Clone, B: Blockstore> {
    /// The chain, as the poster.
    pub chain: Chain<P>,
    /// The content store.
    pub store: Store<B>,
    /// Where the held-out sets wait (`task-<id>.json`).
    pub dir: PathBuf,
}

impl<P: Provider + Clone, B: Blockstore> Poster<P, B> {
    fn secret_path(&self, task: u64) -> PathBuf {
        self.dir.join(format!("task-{task}.json"))
    }

    /// Splits `data`, publishes the training part, commits to the held-out part and posts
    /// the task; its id.
    pub async fn post(&self, spec: &TaskSpec, data: &alara_ml::Dataset) -> Result<u64> {
        let (train, test) = data.train_test_split(spec.eval_fraction, spec.seed)?;
        let eval = EvalSet::from_dataset(&test, spec.chunk_rows)?;
        let dataset_cid = artifact::put(&self.store, train.to_csv().as_bytes())?;
        let salt = B256::from(rand::random::<[u8; 32]>());
        let eval_commitment = eval.commitment(salt);
        // The held-out set is on disk before the task that commits to it exists: a poster
        // that dies right after posting can still open it (and so keep its reward).
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| invalid("poster directory", format!("{}: {e}", self.dir.display())))?;
        let secret = PosterSecret { task: 0, eval, salt };
        let bytes =
            serde_json::to_vec(&secret).map_err(|e| invalid("poster secret", e.to_string()))?;
        let pending = self.pending_path(eval_commitment);
        alara_store::write_atomic(&pending, &bytes)?;
        let eval = secret.eval;
        let now = chain_now(&self.chain.provider).await?;
        let commit_deadline = now + spec.commit_s;
        let posted = self
            .chain
            .market
            .post_task(&onchain::TaskSpec {
                recipe: spec.recipe.id(),
                dataset_cid,
                eval_commitment,
                chunk_count: eval.chunk_count() as u32,
                row_count: eval.row_count() as u32,
                token: Address::ZERO,
                reward: spec.reward,
                stake: spec.stake,
                commit_deadline,
                reveal_deadline: commit_deadline + spec.reveal_s,
                challenge_window: spec.challenge_s,
                move_timeout: spec.move_s,
                tier: if spec.challenge_s > 0 { Tier::Optimistic } else { Tier::Trusted },
            })
            .await?;
        let task = u64::try_from(posted.value).unwrap_or(u64::MAX);
        let secret = PosterSecret { task, eval, salt };
        let bytes =
            serde_json::to_vec(&secret).map_err(|e| invalid("poster secret", e.to_string()))?;
        alara_store::write_atomic(self.secret_path(task), &bytes)?;
        let _ = std::fs::remove_file(&pending);
        Ok(task)
    }

    /// Where a held-out set waits while the task committing to it is being posted.
    fn pending_path(&self, eval_commitment: B256) -> PathBuf {
        self.dir.join(format!("pending-{eval_commitment:x}.json"))
    }

    /// Publishes the held-out set of `task` and opens it on-chain.
    pub async fn open(&self, task: u64) -> Result<Move> {
        let mut path = self.secret_path(task);
        if !path.exists() {
            // Posted by a run that stopped before it filed the set under the task's id.
            let t = self.chain.task(task).await?;
            let pending = self.pending_path(t.evalCommitment);
            if pending.exists() {
                path = pending;
            }
        }
        let bytes = std::fs::read(&path).map_err(|e| {
            invalid(
                "task",
                format!(
                    "task {task}: no held-out set at {} ({e}); only its poster can open it",
                    path.display()
                ),
            )
        })?;
        let secret: PosterSecret = serde_json::from_slice(&bytes)
            .map_err(|e| invalid("poster secret", format!("{}: {e}", path.display())))?;
        let cid = artifact::put_json(&self.store, &secret.eval)?;
        let tx = self
            .chain
            .market
            .open_evaluation(U256::from(task), &secret.eval, secret.salt, &cid)
            .await?;
        Ok(moved(task, format!("the poster opened the held-out set {cid}"), Some(tx.gas_used)))
    }

    /// Finalizes `task`.
    pub async fn finalize(&self, task: u64) -> Result<Move> {
        let tx = self.chain.market.finalize(U256::from(task)).await?;
        let winner = if tx.value == Address::ZERO {
            "nobody".to_string()
        } else {
            format!("{:#x}", tx.value)
        };
        Ok(moved(task, format!("finalized: the reward went to {winner}"), Some(tx.gas_used)))
    }
}

/// What a worker files before it commits: enough to reveal (and defend) after a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct JobRecord {
    task: u64,
    model_cid: String,
    model_hash: B256,
    salt: B256,
}

/// Where a party's per-task state lives.
#[derive(Debug, Clone)]
struct Job {
    model: FixedModel,
    model_cid: String,
    salt: B256,
    revealed: Option<(Trace, EvalSet)>,
}

/// How a worker behaves.
#[derive(Debug, Clone, Default)]
pub struct WorkerConfig {
    /// Training seed.
    pub seed: u64,
    /// Demonstration only: claim this many more correct answers than the model gets, by
    /// faking the score step of the last chunk (and defend the lie).
    pub inflate: u64,
}

/// A worker.
pub struct Worker<P: Provider + Clone, B: Blockstore> {
    /// The chain, as the worker.
    pub chain: Chain<P>,
    /// The content store (datasets, evaluation sets, models).
    pub store: Store<B>,
    /// Behaviour.
    pub config: WorkerConfig,
    jobs: BTreeMap<u64, Job>,
    games: HashMap<U256, u64>,
    /// Where each commitment's salt and model are filed before the commit is sent.
    dir: Option<PathBuf>,
    /// The first block the next scan for challenges reads (`None`: not scanned yet).
    scanned_to: Option<u64>,
}

impl<P: Provider + Clone, B: Blockstore> Worker<P, B> {
    /// A worker with no jobs yet, keeping them in memory only.
    pub fn new(chain: Chain<P>, store: Store<B>, config: WorkerConfig) -> Self {
        Worker {
            chain,
            store,
            config,
            jobs: BTreeMap::new(),
            games: HashMap::new(),
            dir: None,
            scanned_to: None,
        }
    }

    /// Files each job (model CID, hash and commitment salt) in `dir` before committing, so
    /// a worker restarted after its commit still reveals and defends it.
    pub fn persist_in(mut self, dir: PathBuf) -> Self {
        self.dir = Some(dir);
        self
    }

    fn record_path(&self, task: u64) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("task-{task}.json")))
    }

    /// The job of `task` from memory, or from the record of an earlier run.
    fn job(&mut self, task: u64) -> Result<Option<Job>> {
        if let Some(j) = self.jobs.get(&task) {
            return Ok(Some(j.clone()));
        }
        let Some(path) = self.record_path(task).filter(|p| p.exists()) else { return Ok(None) };
        let bytes = std::fs::read(&path)
            .map_err(|e| invalid("worker record", format!("{}: {e}", path.display())))?;
        let r: JobRecord = serde_json::from_slice(&bytes)
            .map_err(|e| invalid("worker record", format!("{}: {e}", path.display())))?;
        let model = artifact::get_model(&self.store, &r.model_cid, r.model_hash)?;
        let job = Job { model, model_cid: r.model_cid, salt: r.salt, revealed: None };
        self.jobs.insert(task, job.clone());
        Ok(Some(job))
    }

    /// The model CIDs this worker has published (served to validators over HTTP).
    pub fn models(&self) -> Vec<(u64, String)> {
        self.jobs.iter().map(|(t, j)| (*t, j.model_cid.clone())).collect()
    }

    /// One pass over every task: commit, reveal, defend. The moves made.
    pub async fn tick(&mut self) -> Result<Vec<Move>> {
        let mut out = Vec::new();
        let now = chain_now(&self.chain.provider).await?;
        for id in 1..=self.chain.task_count().await? {
            let t = self.chain.task(id).await?;
            if t.finalized || t.poster == self.chain.me {
                continue;
            }
            let sub = self.chain.submission(id, self.chain.me).await?;
            if sub.commitment.is_zero() && now < t.commitDeadline {
                out.push(self.commit(id, &t).await?);
            } else if !sub.commitment.is_zero()
                && !sub.revealed
                && t.evaluationOpen
                && now < t.revealDeadline
            {
                out.extend(self.reveal(id, &t).await?);
            }
        }
        out.extend(self.defend().await?);
        Ok(out)
    }

    async fn commit(&mut self, id: u64, t: &ComputeMarket::Task) -> Result<Move> {
        let recipe = Recipe::known().into_iter().find(|r| r.id() == t.recipe).ok_or_else(|| {
            invalid(
                "task",
                format!("task {id} names recipe {}, which this worker does not know", t.recipe),
            )
        })?;
        let data = artifact::get_dataset(&self.store, &t.datasetCid)?;
        let model = recipe.train(&data, self.config.seed)?;
        let model_cid = artifact::put_json(&self.store, &model)?;
        let salt = B256::from(rand::random::<[u8; 32]>());
        if let Some(path) = self.record_path(id) {
            let record = JobRecord {
                task: id,
                model_cid: model_cid.clone(),
                model_hash: model.hash(),
                salt,
            };
            let bytes =
                serde_json::to_vec(&record).map_err(|e| invalid("worker record", e.to_string()))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| invalid("worker directory", format!("{}: {e}", dir.display())))?;
            }
            alara_store::write_atomic(&path, &bytes)?;
        }
        let tx =
            self.chain.market.commit_model(U256::from(id), self.chain.me, &model, salt).await?;
        let what = format!(
            "{:#x} trained {} ({} params) and committed to model {}",
            self.chain.me,
            recipe.model,
            model.n_params(),
            model.hash()
        );
        self.jobs.insert(id, Job { model, model_cid, salt, revealed: None });
        Ok(moved(id, what, Some(tx.gas_used)))
    }

    fn trace(&self, model: &FixedModel, eval: &EvalSet) -> Result<Trace> {
        let inflate = self.config.inflate;
        if inflate == 0 {
            return Trace::run(model, eval);
        }
        let last = crate::trace::step_count(model.layer_count(), eval.chunk_count()) - 1;
        Trace::run_with(model, eval, &move |s, st| {
            if s == last {
                st.correct += inflate;
            }
        })
    }

    async fn reveal(&mut self, id: u64, t: &ComputeMarket::Task) -> Result<Option<Move>> {
        let Some(job) = self.job(id)? else {
            // Committed by an earlier run of this worker that kept no record: nothing to reveal.
            return Ok(None);
        };
        let eval = artifact::get_eval(&self.store, &t.evalCid, t.evalRoot)?;
        let trace = self.trace(&job.model, &eval)?;
        let correct = (trace.correct()).min(u64::from(t.rowCount)) as u32;
        let tx = self
            .chain
            .market
            .reveal(U256::from(id), &job.model, job.salt, correct, trace.root(), &job.model_cid)
            .await?;
        let what = format!(
            "{:#x} revealed: {correct} of {} correct ({:.2}%), trace of {} steps",
            self.chain.me,
            t.rowCount,
            100.0 * f64::from(correct) / f64::from(t.rowCount.max(1)),
            trace.n()
        );
        if let Some(j) = self.jobs.get_mut(&id) {
            j.revealed = Some((trace, eval));
        }
        Ok(Some(moved(id, what, Some(tx.gas_used))))
    }

    async fn defend(&mut self) -> Result<Vec<Move>> {
        let mut out = Vec::new();
        // New challenges of this worker's claims since the last pass: from the market's
        // deployment block on the first pass, in pages (public RPCs cap `eth_getLogs`).
        let provider = &self.chain.provider;
        let market = self.chain.market.address();
        let from = match self.scanned_to {
            Some(next) => next,
            None => alara_contracts::deploy::first_block_with_code(provider, market).await?,
        };
        let head = provider
            .get_block_number()
            .await
            .map_err(|e| invalid("chain", format!("eth_blockNumber: {e}")))?;
        if from <= head {
            let filter = self.chain.market.c.Challenged_filter().topic2(self.chain.me.into_word());
            let logs = alara_contracts::logs::scan_range(
                provider,
                &filter.filter,
                from,
                head,
                alara_contracts::logs::PAGE,
            )
            .await?;
            for log in logs {
                let ev = log
                    .log_decode::<ComputeMarket::Challenged>()
                    .map_err(|e| invalid("chain", format!("a Challenged event: {e}")))?
                    .inner
                    .data;
                let task = u64::try_from(ev.taskId).unwrap_or_default();
                self.games.entry(ev.gameId).or_insert(task);
            }
            self.scanned_to = Some(head + 1);
        }
        // A claim revealed by an earlier run: its trace is recomputed (it is deterministic).
        let tasks: Vec<u64> = self.games.values().copied().collect();
        for task in tasks {
            if let Some(Job { model, revealed: None, .. }) = self.job(task)? {
                let t = self.chain.task(task).await?;
                if t.evaluationOpen {
                    let eval = artifact::get_eval(&self.store, &t.evalCid, t.evalRoot)?;
                    let trace = self.trace(&model, &eval)?;
                    if let Some(j) = self.jobs.get_mut(&task) {
                        j.revealed = Some((trace, eval));
                    }
                }
            }
        }
        for (&game, &task) in &self.games {
            let Some(Job { model, revealed: Some((trace, eval)), .. }) = self.jobs.get(&task)
            else {
                continue;
            };
            if let Some(m) =
                play_move(&self.chain.game, game, task, self.chain.me, trace, model, eval).await?
            {
                out.push(m);
            }
        }
        Ok(out)
    }
}

/// What a validator concluded about one submission.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    /// The task.
    pub task: u64,
    /// The worker.
    pub worker: Address,
    /// What the worker claimed.
    pub claimed: u32,
    /// What re-execution gives.
    pub recomputed: u32,
    /// The game opened against it, if any.
    pub game: Option<U256>,
}

struct Dispute {
    task: u64,
    model: FixedModel,
    eval: EvalSet,
    trace: Trace,
    settled: bool,
}

/// A validator: re-executes every revealed claim in its challenge window.
pub struct Validator<P: Provider + Clone, B: Blockstore> {
    /// The chain, as the validator.
    pub chain: Chain<P>,
    /// The content store.
    pub store: Store<B>,
    /// Workers' HTTP endpoints to fetch models from when the store lacks them.
    pub peers: Vec<String>,
    verdicts: BTreeMap<(u64, Address), Verdict>,
    disputes: HashMap<U256, Dispute>,
}

impl<P: Provider + Clone, B: Blockstore> Validator<P, B> {
    /// A validator that has checked nothing yet.
    pub fn new(chain: Chain<P>, store: Store<B>, peers: Vec<String>) -> Self {
        Validator { chain, store, peers, verdicts: BTreeMap::new(), disputes: HashMap::new() }
    }

    /// Every verdict so far.
    pub fn verdicts(&self) -> Vec<Verdict> {
        self.verdicts.values().cloned().collect()
    }

    async fn model(&self, cid: &str, hash: B256) -> Result<FixedModel> {
        if artifact::get(&self.store, cid).is_err() {
            let mut last = None;
            for peer in &self.peers {
                match fetch(peer, cid).await {
                    Ok(bytes) => {
                        artifact::import_verified(&self.store, cid, &bytes)?;
                        last = None;
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            if let Some(e) = last {
                return Err(e);
            }
        }
        artifact::get_model(&self.store, cid, hash)
    }

    /// One pass: check new claims, challenge wrong ones, play and settle games.
    pub async fn tick(&mut self) -> Result<Vec<Move>> {
        let mut out = Vec::new();
        let now = chain_now(&self.chain.provider).await?;
        for id in 1..=self.chain.task_count().await? {
            let t = self.chain.task(id).await?;
            let window = now >= t.revealDeadline && now < t.revealDeadline + t.challengeWindow;
            if t.finalized || !t.evaluationOpen || !window {
                continue;
            }
            for w in self.chain.workers(id).await? {
                if w == self.chain.me || self.verdicts.contains_key(&(id, w)) {
                    continue;
                }
                let sub = self.chain.submission(id, w).await?;
                if !sub.revealed || sub.invalid {
                    continue;
                }
                out.extend(self.check(id, &t, w, &sub).await?);
            }
        }
        let ids: Vec<U256> = self.disputes.keys().copied().collect();
        for game in ids {
            out.extend(self.advance(game).await?);
        }
        Ok(out)
    }

    async fn check(
        &mut self,
        id: u64,
        t: &ComputeMarket::Task,
        w: Address,
        sub: &ComputeMarket::Submission,
    ) -> Result<Option<Move>> {
        let hash = crate::model::model_hash(u64::from(sub.layerCount), sub.layersRoot);
        let model = match self.model(&sub.modelCid, hash).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(task = id, %w, "cannot check the claim: {e}");
                return Ok(None);
            }
        };
        let eval = artifact::get_eval(&self.store, &t.evalCid, t.evalRoot)?;
        let trace = Trace::run(&model, &eval)?;
        let recomputed = trace.correct() as u32;
        let mut verdict =
            Verdict { task: id, worker: w, claimed: sub.correct, recomputed, game: None };
        let mv = if recomputed == sub.correct {
            moved(
                id,
                format!("validator: {w:#x}'s claim of {} correct checks out", sub.correct),
                None,
            )
        } else {
            let tx =
                self.chain.market.challenge(U256::from(id), w, recomputed, trace.root()).await?;
            let game = tx.value;
            verdict.game = Some(game);
            self.disputes.insert(game, Dispute { task: id, model, eval, trace, settled: false });
            moved(
                id,
                format!(
                    "validator: {w:#x} claims {} correct, re-execution gives {recomputed}: challenged (game {game}, {} steps)",
                    sub.correct,
                    crate::trace::step_count(u64::from(sub.layerCount), u64::from(t.chunkCount))
                ),
                Some(tx.gas_used),
            )
        };
        self.verdicts.insert((id, w), verdict);
        Ok(Some(mv))
    }

    async fn advance(&mut self, game: U256) -> Result<Vec<Move>> {
        let mut out = Vec::new();
        let Some(d) = self.disputes.get(&game) else { return Ok(out) };
        if d.settled {
            return Ok(out);
        }
        let task = d.task;
        if let Some(m) =
            play_move(&self.chain.game, game, task, self.chain.me, &d.trace, &d.model, &d.eval)
                .await?
        {
            out.push(m);
        }
        let (resolved, _) = self.chain.game.outcome(game).await?;
        if resolved {
            let tx = self.chain.market.settle(U256::from(task), game).await?;
            let what = if tx.value.invalidated {
                format!("game {game}: settled, the claim is invalid and its stake slashed")
            } else {
                format!("game {game}: settled ({:?} won)", tx.value.winner)
            };
            out.push(moved(task, what, Some(tx.gas_used)));
            if let Some(d) = self.disputes.get_mut(&game) {
                d.settled = true;
            }
        }
        Ok(out)
    }
}

/// Fetches document `cid` from a worker's HTTP endpoint (`GET {peer}/v1/blocks/{cid}`),
/// reading at most [`artifact::MAX_DOCUMENT`] bytes and waiting at most [`PEER_TIMEOUT`]:
/// a peer can refuse or lie (the caller checks the bytes against the CID), but cannot make
/// the validator hold gigabytes or wait forever.
pub async fn fetch(peer: &str, cid: &str) -> Result<Vec<u8>> {
    let url = format!("{}/v1/blocks/{cid}", peer.trim_end_matches('/'));
    let fail = |detail: String| Error::Peer { peer: peer.to_string(), detail };
    let client = reqwest::Client::builder()
        .timeout(PEER_TIMEOUT)
        .build()
        .map_err(|e| fail(format!("HTTP client: {e}")))?;
    let mut resp = client.get(&url).send().await.map_err(|e| fail(format!("GET {url}: {e}")))?;
    if !resp.status().is_success() {
        return Err(fail(format!("GET {url}: HTTP {}", resp.status())));
    }
    let too_large = || fail(format!("{cid} is larger than {} bytes", artifact::MAX_DOCUMENT));
    if resp.content_length().is_some_and(|n| n > artifact::MAX_DOCUMENT) {
        return Err(too_large());
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| fail(format!("GET {url}: {e}")))? {
        if (out.len() + chunk.len()) as u64 > artifact::MAX_DOCUMENT {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// How long a validator waits for a peer's answer.
pub const PEER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The directory a poster keeps its held-out sets in, under a data directory.
pub fn poster_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("compute").join("poster")
}

/// The directory worker `me` files its jobs in, under a data directory.
pub fn worker_dir(data_dir: &Path, me: Address) -> PathBuf {
    data_dir.join("compute").join(format!("worker-{me:#x}"))
}
