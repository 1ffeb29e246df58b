//! Typed clients of `DisputeGame` and `ComputeMarket` over any alloy [`Provider`]: deploy
//! both, post a task, commit, open the evaluation, reveal, challenge, settle, finalize,
//! withdraw, read a task, a submission or a game; and [`Game::play`], which drives one
//! party's side of a dispute to its resolution from that party's [`Trace`].
//!
//! Every transaction goes through [`alara_contracts::call::send`] (simulated first, reverts
//! decoded by name) and returns a [`Tx`] with its gas. A refused call is
//! [`Error::Contract`]; its revert data decodes with the generated
//! `ComputeMarketErrors` and `DisputeGameErrors`.

use std::time::{Duration, Instant};

use alara_contracts::call::{decoder, event_of, send, CallError, Decoder};
use alara_contracts::AlaraToken::AlaraTokenErrors;
use alara_contracts::ComputeMarket::{self, ComputeMarketErrors, ComputeMarketInstance};
use alara_contracts::DisputeGame::{self, DisputeGameErrors, DisputeGameInstance};
use alara_contracts::Tx;
use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::Provider;
use serde::{Deserialize, Serialize};

use crate::error::invalid;
use crate::eval::EvalSet;
use crate::fixed::{Layer, Tensor};
use crate::model::FixedModel;
use crate::trace::{StepWitness, Trace};
use crate::{Error, Result};

/// Decoders of a game call.
pub const GAME_DECODERS: &[Decoder] = &[decoder::<DisputeGameErrors>];

/// How long [`Game::play`] keeps retrying a refused move (reading the game again each
/// time) before it reports the refusal: a pending move of the other party is mined within
/// a block time.
const REFUSED_GRACE: Duration = Duration::from_secs(30);

/// Gas a reveal is sent with beyond its estimate, for the bisection it runs when the other
/// party's reveal of the round is mined first: the interval, up to three leaves written
/// from zero (22,100 each), the next deadline, the phase and the event.
pub const REVEAL_BISECT_GAS: u64 = 100_000;
/// Decoders of a market call: the market's errors, the game's (a challenge opens a game),
/// then an ERC-20's (stakes and rewards may be tokens).
pub const MARKET_DECODERS: &[Decoder] =
    &[decoder::<ComputeMarketErrors>, decoder::<DisputeGameErrors>, decoder::<AlaraTokenErrors>];

/// Who won a game (`DisputeGame.Winner`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Winner {
    /// Not resolved yet.
    None,
    /// The claim stands.
    Claimer,
    /// The claim was proven wrong.
    Challenger,
    /// The re-executed step matched neither party: both were wrong.
    Neither,
}

impl Winner {
    /// The winner of an on-chain code (an unknown code reads as `None`).
    pub fn from_code(code: u8) -> Winner {
        match code {
            1 => Winner::Claimer,
            2 => Winner::Challenger,
            3 => Winner::Neither,
            _ => Winner::None,
        }
    }

    /// Its name in answers and logs (as serialised).
    pub fn name(self) -> &'static str {
        match self {
            Winner::None => "none",
            Winner::Claimer => "claimer",
            Winner::Challenger => "challenger",
            Winner::Neither => "neither",
        }
    }

    /// The on-chain code.
    pub fn code(self) -> u8 {
        match self {
            Winner::None => 0,
            Winner::Claimer => 1,
            Winner::Challenger => 2,
            Winner::Neither => 3,
        }
    }
}

/// The phase of a game (`DisputeGame.Phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// No such game.
    None,
    /// Rounds of reveals.
    Bisect,
    /// Waiting for the one-step proof.
    Step,
    /// Over.
    Resolved,
}

impl Phase {
    /// The phase of an on-chain code.
    pub fn from_code(code: u8) -> Phase {
        match code {
            1 => Phase::Bisect,
            2 => Phase::Step,
            3 => Phase::Resolved,
            _ => Phase::None,
        }
    }

    /// Its name in answers and logs (as serialised).
    pub fn name(self) -> &'static str {
        match self {
            Phase::None => "none",
            Phase::Bisect => "bisect",
            Phase::Step => "step",
            Phase::Resolved => "resolved",
        }
    }
}

/// A task's tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// No disputes: claims are final when revealed.
    Trusted,
    /// Claims can be disputed during the challenge window.
    Optimistic,
}

impl Tier {
    /// The on-chain code.
    pub fn code(self) -> u8 {
        match self {
            Tier::Trusted => 0,
            Tier::Optimistic => 1,
        }
    }
}

/// A tensor as the contract takes it.
pub fn sol_tensor(t: &Tensor) -> DisputeGame::Tensor {
    DisputeGame::Tensor { rows: t.rows, cols: t.cols, data: Bytes::from(t.data_bytes()) }
}

/// A tensor the contract returned.
pub fn from_sol_tensor(t: &DisputeGame::Tensor) -> Result<Tensor> {
    Tensor::from_data_bytes(t.rows, t.cols, &t.data)
}

/// The one-step proof of a witness, as `DisputeGame.step` takes it. The chunk's proof and
/// tensor go only where the step reads them (a chunk's first layer, its score step).
pub fn step_proof_of(w: &StepWitness) -> DisputeGame::StepProof {
    let empty = sol_tensor(&Tensor::empty());
    let reads_chunk = w.layer.is_none() || w.layer_index == 0;
    let (op, a, b) = match &w.layer {
        Some(Layer { op, a, b }) => (op.code(), sol_tensor(a), sol_tensor(b)),
        None => (0, empty.clone(), empty.clone()),
    };
    DisputeGame::StepProof {
        actHash: w.act_hash,
        correct: U256::from(w.correct),
        act: sol_tensor(&w.act),
        op,
        a,
        b,
        layerProof: w.layer_proof.clone(),
        featuresHash: w.features_hash,
        labelsHash: w.labels_hash,
        chunkProof: if reads_chunk { w.chunk_proof.clone() } else { Vec::new() },
        chunk: if reads_chunk { sol_tensor(&w.chunk_data) } else { empty },
    }
}

/// The one-step proof of step `step` of `trace` (the model and set it was run on).
pub fn step_proof(
    trace: &Trace,
    step: u64,
    model: &FixedModel,
    eval: &EvalSet,
) -> Result<DisputeGame::StepProof> {
    Ok(step_proof_of(&trace.witness(step, model, eval)?))
}

/// The latest block's timestamp: the clock deadlines are compared with.
pub async fn chain_time<P: Provider>(p: &P) -> Result<u64> {
    let block = p
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .map_err(CallError::rpc("eth_getBlockByNumber"))?
        .ok_or_else(|| invalid("chain", "it has no latest block"))?;
    Ok(block.header.timestamp)
}

/// What one call of [`Game::advance`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    /// Revealed the party's leaf at `mid`.
    Revealed {
        /// The state revealed.
        mid: u64,
        /// The transaction.
        tx: Tx<()>,
    },
    /// Submitted the one-step proof of `step`, which resolved the game.
    Stepped {
        /// The step re-executed.
        step: u64,
        /// The transaction and the winner.
        tx: Tx<Winner>,
    },
    /// Called `timeout` after a deadline, which resolved the game.
    TimedOut(Tx<Winner>),
    /// Nothing to do until the other party moves (or the deadline passes).
    Wait,
    /// The game is over.
    Resolved(Winner),
}

/// A game played to its end by [`Game::play`]: the winner and every move made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Played {
    /// Who won.
    pub winner: Winner,
    /// The moves this party made, in order (no [`Move::Wait`]s).
    pub moves: Vec<Move>,
}

/// A DisputeGame contract.
#[derive(Clone, Debug)]
pub struct Game<P> {
    /// The contract.
    pub c: DisputeGameInstance<P>,
}

impl<P: Provider + Clone> Game<P> {
    /// Deploys a new DisputeGame.
    pub async fn deploy(p: P) -> Result<Self> {
        let builder = DisputeGame::deploy_builder(p.clone());
        builder
            .call_raw()
            .await
            .map_err(CallError::contract("DisputeGame constructor", GAME_DECODERS))?;
        let address = builder
            .deploy()
            .await
            .map_err(CallError::contract("DisputeGame constructor", GAME_DECODERS))?;
        Ok(Game::at(p, address))
    }

    /// The contract at `address`.
    pub fn at(p: P, address: Address) -> Self {
        Game { c: DisputeGame::new(address, p) }
    }

    /// Its address.
    pub fn address(&self) -> Address {
        *self.c.address()
    }

    /// The same contract as another account.
    pub fn as_(&self, p: P) -> Self {
        Game::at(p, self.address())
    }

    /// Opens a game directly (the sender becomes its arbiter; a market opens its own games
    /// through `challenge`). The game id.
    pub async fn open(&self, params: DisputeGame::GameParams) -> Result<Tx<U256>> {
        let r = send("open", &self.c.open(params), GAME_DECODERS).await?;
        let ev: DisputeGame::GameOpened = event_of(&r, self.address(), "open")?;
        Ok(Tx::from_receipt(&r, ev.gameId))
    }

    /// Reveals `leaf`, the sender's state leaf at the round's mid, with its proof.
    ///
    /// The gas estimate is made against the current state, in which the other party may not
    /// have revealed yet; if its reveal of the round is mined first, this one also bisects
    /// (moves the interval, stores the leaves it keeps and the next deadline), so it is sent
    /// with [`REVEAL_BISECT_GAS`] more than the estimate.
    pub async fn reveal(&self, game: U256, leaf: B256, proof: Vec<B256>) -> Result<Tx<()>> {
        let call = self.c.reveal(game, leaf, proof);
        let estimate = call
            .estimate_gas()
            .await
            .map_err(|e| CallError::from_contract("reveal", GAME_DECODERS, e))?;
        let call = call.gas(estimate.saturating_add(REVEAL_BISECT_GAS));
        let r = send("reveal", &call, GAME_DECODERS).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Submits the one-step proof; the winner it resolved the game for.
    pub async fn step(&self, game: U256, proof: DisputeGame::StepProof) -> Result<Tx<Winner>> {
        let r = send("step", &self.c.step(game, proof), GAME_DECODERS).await?;
        let ev: DisputeGame::GameResolved = event_of(&r, self.address(), "step")?;
        Ok(Tx::from_receipt(&r, Winner::from_code(ev.winner)))
    }

    /// Resolves a game whose deadline passed against the party that did not move.
    pub async fn timeout(&self, game: U256) -> Result<Tx<Winner>> {
        let r = send("timeout", &self.c.timeout(game), GAME_DECODERS).await?;
        let ev: DisputeGame::GameResolved = event_of(&r, self.address(), "timeout")?;
        Ok(Tx::from_receipt(&r, Winner::from_code(ev.winner)))
    }

    /// The game's record.
    pub async fn game(&self, game: U256) -> Result<DisputeGame::Game> {
        Ok(self.c.game(game).call().await.map_err(CallError::contract("game", GAME_DECODERS))?)
    }

    /// Whether the game is resolved, and who won.
    pub async fn outcome(&self, game: U256) -> Result<(bool, Winner)> {
        let o = self
            .c
            .outcome(game)
            .call()
            .await
            .map_err(CallError::contract("outcome", GAME_DECODERS))?;
        Ok((o.resolved, Winner::from_code(o.winner)))
    }

    /// The state the current round reveals (in the one-step phase, the step to prove).
    pub async fn mid(&self, game: U256) -> Result<u64> {
        Ok(self.c.mid(game).call().await.map_err(CallError::contract("mid", GAME_DECODERS))?)
    }

    /// `applyLayer` evaluated by the contract (an `eth_call`).
    pub async fn apply_layer(&self, layer: &Layer, x: &Tensor) -> Result<Tensor> {
        let call = self.c.applyLayer(
            layer.op.code(),
            sol_tensor(x),
            sol_tensor(&layer.a),
            sol_tensor(&layer.b),
        );
        let out = call.call().await.map_err(CallError::contract("applyLayer", GAME_DECODERS))?;
        from_sol_tensor(&out)
    }

    /// `scoreStep` evaluated by the contract (an `eth_call`).
    pub async fn score_step(&self, logits: &Tensor, labels: &Tensor) -> Result<u64> {
        let call = self.c.scoreStep(sol_tensor(logits), sol_tensor(labels));
        let n = call.call().await.map_err(CallError::contract("scoreStep", GAME_DECODERS))?;
        u64::try_from(n).map_err(|_| invalid("score", format!("{n} correct answers")))
    }

    /// `tensorHash` evaluated by the contract.
    pub async fn tensor_hash(&self, t: &Tensor) -> Result<B256> {
        Ok(self
            .c
            .tensorHash(sol_tensor(t))
            .call()
            .await
            .map_err(CallError::contract("tensorHash", GAME_DECODERS))?)
    }

    /// The next move of `me` (the claimer or the challenger of `game`) with its trace
    /// `trace` of `model` on `eval`: reveal its leaf at the round's mid if it has not, submit
    /// the one-step proof when the game reached it and `trace` holds the agreed state, call
    /// `timeout` once the deadline passed, or wait.
    pub async fn advance(
        &self,
        game: U256,
        me: Address,
        trace: &Trace,
        model: &FixedModel,
        eval: &EvalSet,
    ) -> Result<Move> {
        let g = self.game(game).await?;
        let phase = Phase::from_code(g.phase);
        if phase == Phase::Resolved {
            return Ok(Move::Resolved(Winner::from_code(g.winner)));
        }
        let revealed = if me == g.claimer {
            g.claimerRevealed
        } else if me == g.challenger {
            g.challengerRevealed
        } else {
            return Err(invalid("party", format!("{me} is neither side of game {game}")));
        };
        let late = chain_time(self.c.provider()).await? > g.deadline;
        if late {
            return Ok(Move::TimedOut(self.timeout(game).await?));
        }
        match phase {
            Phase::Bisect if !revealed => {
                let mid = (g.lo + g.hi) / 2;
                let leaf = trace.leaf(mid).ok_or_else(|| {
                    invalid("trace", format!("no state {mid} in a trace of {} steps", trace.n()))
                })?;
                let tx = self.reveal(game, leaf, trace.proof(mid)).await?;
                Ok(Move::Revealed { mid, tx })
            }
            Phase::Step if trace.leaf(g.lo) == Some(g.agreed) => {
                let proof = step_proof(trace, g.lo, model, eval)?;
                Ok(Move::Stepped { step: g.lo, tx: self.step(game, proof).await? })
            }
            // Waiting for the other party's reveal, or a one-step this trace cannot prove.
            _ => Ok(Move::Wait),
        }
    }

    /// Plays `me`'s side of `game` until it is resolved: [`Game::advance`] again and again,
    /// sleeping `poll` while the other party has to move. Fails with
    /// [`Error::Timeout`] after `patience` without a resolution (a dev chain's clock moves
    /// only with its blocks, so a silent opponent is timed out only once blocks come).
    #[allow(
        clippy::too_many_arguments,
        reason = "a party's whole side of the game: what it plays with, and how long it waits"
    )]
    pub async fn play(
        &self,
        game: U256,
        me: Address,
        trace: &Trace,
        model: &FixedModel,
        eval: &EvalSet,
        poll: Duration,
        patience: Duration,
    ) -> Result<Played> {
        let start = Instant::now();
        let mut moves = Vec::new();
        let mut refused: Option<Instant> = None;
        loop {
            let next = match self.advance(game, me, trace, model, eval).await {
                Ok(m) => {
                    refused = None;
                    m
                }
                // The other party may have moved between our read and our move (both may
                // step, or both call `timeout`), and a node that estimates against its
                // pending block refuses a move the mined state still allows: then the game is
                // over, or our next read sees the new state. A move refused again and again
                // is an error.
                Err(e) => match self.outcome(game).await? {
                    (true, winner) => Move::Resolved(winner),
                    _ if refused.get_or_insert_with(Instant::now).elapsed() < REFUSED_GRACE => {
                        tracing::debug!(%game, error = %e, "move refused; reading the game again");
                        Move::Wait
                    }
                    _ => return Err(e),
                },
            };
            match next {
                Move::Resolved(winner) => return Ok(Played { winner, moves }),
                Move::Wait => {
                    if start.elapsed() > patience {
                        return Err(Error::Timeout {
                            what: format!("game {game} to resolve"),
                            seconds: patience.as_secs(),
                        });
                    }
                    tokio::time::sleep(poll).await;
                }
                m => moves.push(m),
            }
        }
    }
}

/// What `postTask` takes, in Rust terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// The training recipe's hash.
    pub recipe: B256,
    /// Where the training set is.
    pub dataset_cid: String,
    /// `EvalSet::commitment(salt)` of the held-out set.
    pub eval_commitment: B256,
    /// Chunks of the held-out set.
    pub chunk_count: u32,
    /// Rows of the held-out set.
    pub row_count: u32,
    /// address(0) for ETH, else an ERC-20 (approve the market first).
    pub token: Address,
    /// The reward.
    pub reward: U256,
    /// Each worker's stake and each challenger's bond.
    pub stake: U256,
    /// Commits until then (unix seconds, chain time).
    pub commit_deadline: u64,
    /// Reveals until then.
    pub reveal_deadline: u64,
    /// Seconds after the reveal deadline during which claims can be disputed (0 for Trusted).
    pub challenge_window: u64,
    /// Seconds each move of a dispute may take.
    pub move_timeout: u64,
    /// The tier.
    pub tier: Tier,
}

impl TaskSpec {
    /// The contract's struct.
    pub fn params(&self) -> ComputeMarket::TaskParams {
        ComputeMarket::TaskParams {
            recipe: self.recipe,
            datasetCid: self.dataset_cid.clone(),
            evalCommitment: self.eval_commitment,
            chunkCount: self.chunk_count,
            rowCount: self.row_count,
            token: self.token,
            reward: self.reward,
            stake: self.stake,
            commitDeadline: self.commit_deadline,
            revealDeadline: self.reveal_deadline,
            challengeWindow: self.challenge_window,
            moveTimeout: self.move_timeout,
            tier: self.tier.code(),
        }
    }
}

/// How a settled dispute was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// The game's winner.
    pub winner: Winner,
    /// Whether this settlement made the submission invalid.
    pub invalidated: bool,
}

/// A ComputeMarket contract.
#[derive(Clone, Debug)]
pub struct Market<P> {
    /// The contract.
    pub c: ComputeMarketInstance<P>,
}

impl<P: Provider + Clone> Market<P> {
    /// Deploys a DisputeGame and a ComputeMarket on it.
    pub async fn deploy(p: P) -> Result<Self> {
        let game = Game::deploy(p.clone()).await?;
        Market::deploy_on(p, game.address()).await
    }

    /// Deploys a ComputeMarket on the DisputeGame at `game`.
    pub async fn deploy_on(p: P, game: Address) -> Result<Self> {
        let builder = ComputeMarket::deploy_builder(p.clone(), game);
        let what = "ComputeMarket constructor";
        builder.call_raw().await.map_err(CallError::contract(what, MARKET_DECODERS))?;
        let address = builder.deploy().await.map_err(CallError::contract(what, MARKET_DECODERS))?;
        Ok(Market::at(p, address))
    }

    /// The market at `address`.
    pub fn at(p: P, address: Address) -> Self {
        Market { c: ComputeMarket::new(address, p) }
    }

    /// Its address.
    pub fn address(&self) -> Address {
        *self.c.address()
    }

    /// The same market as another account.
    pub fn as_(&self, p: P) -> Self {
        Market::at(p, self.address())
    }

    /// The DisputeGame this market opens its games on.
    pub async fn game(&self) -> Result<Game<P>> {
        let address =
            self.c.GAME().call().await.map_err(CallError::contract("GAME", MARKET_DECODERS))?;
        Ok(Game::at(self.c.provider().clone(), address))
    }

    /// The chain id, which submission commitments include.
    pub async fn chain_id(&self) -> Result<u64> {
        Ok(self.c.provider().get_chain_id().await.map_err(CallError::rpc("eth_chainId"))?)
    }

    /// `worker`'s commitment to `model` on `task` under `salt`.
    pub async fn commitment(
        &self,
        task: U256,
        worker: Address,
        model: &FixedModel,
        salt: B256,
    ) -> Result<B256> {
        let task_id = u64::try_from(task).map_err(|_| invalid("task id", task.to_string()))?;
        Ok(crate::commit::submission_commitment(
            self.chain_id().await?,
            self.address(),
            task_id,
            worker,
            model.hash(),
            salt,
        ))
    }

    /// Posts a task, escrowing its reward (sent as value for ETH; an ERC-20 must be
    /// approved first). The task id.
    pub async fn post_task(&self, spec: &TaskSpec) -> Result<Tx<U256>> {
        let value = if spec.token == Address::ZERO { spec.reward } else { U256::ZERO };
        let r =
            send("postTask", &self.c.postTask(spec.params()).value(value), MARKET_DECODERS).await?;
        let ev: ComputeMarket::TaskPosted = event_of(&r, self.address(), "postTask")?;
        Ok(Tx::from_receipt(&r, ev.taskId))
    }

    /// Commits `commitment` to `task`, staking the task's stake.
    pub async fn commit(&self, task: U256, commitment: B256) -> Result<Tx<()>> {
        let t = self.task(task).await?;
        let value = if t.token == Address::ZERO { t.stake } else { U256::ZERO };
        let r =
            send("commit", &self.c.commit(task, commitment).value(value), MARKET_DECODERS).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Commits `worker`'s (the sender's) `model` under `salt`; the commitment.
    pub async fn commit_model(
        &self,
        task: U256,
        worker: Address,
        model: &FixedModel,
        salt: B256,
    ) -> Result<Tx<B256>> {
        let commitment = self.commitment(task, worker, model, salt).await?;
        let tx = self.commit(task, commitment).await?;
        Ok(Tx { value: commitment, hash: tx.hash, gas_used: tx.gas_used, block: tx.block })
    }

    /// The poster opens the evaluation set `eval`, committed under `salt`, stored at `cid`.
    pub async fn open_evaluation(
        &self,
        task: U256,
        eval: &EvalSet,
        salt: B256,
        cid: &str,
    ) -> Result<Tx<()>> {
        let call = self.c.openEvaluation(task, eval.root(), salt, cid.to_string());
        let r = send("openEvaluation", &call, MARKET_DECODERS).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// The sender reveals `model` (committed under `salt`, stored at `cid`) and claims
    /// `correct` correct answers with trace root `trace_root`.
    pub async fn reveal(
        &self,
        task: U256,
        model: &FixedModel,
        salt: B256,
        correct: u32,
        trace_root: B256,
        cid: &str,
    ) -> Result<Tx<()>> {
        let layers = u32::try_from(model.layer_count())
            .map_err(|_| invalid("model", format!("{} layers", model.layer_count())))?;
        let call = self.c.reveal(
            task,
            layers,
            model.layers_root(),
            salt,
            correct,
            trace_root,
            cid.to_string(),
        );
        let r = send("reveal", &call, MARKET_DECODERS).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Reveals `model` with the count and root of its honest `trace`.
    pub async fn reveal_trace(
        &self,
        task: U256,
        model: &FixedModel,
        salt: B256,
        trace: &Trace,
        cid: &str,
    ) -> Result<Tx<()>> {
        let correct = u32::try_from(trace.correct())
            .map_err(|_| invalid("trace", format!("{} correct answers", trace.correct())))?;
        self.reveal(task, model, salt, correct, trace.root(), cid).await
    }

    /// Disputes `worker`'s claim with the sender's count `correct` and trace root, posting
    /// the bond. The game id.
    pub async fn challenge(
        &self,
        task: U256,
        worker: Address,
        correct: u32,
        trace_root: B256,
    ) -> Result<Tx<U256>> {
        let t = self.task(task).await?;
        let value = if t.token == Address::ZERO { t.stake } else { U256::ZERO };
        let call = self.c.challenge(task, worker, correct, trace_root).value(value);
        let r = send("challenge", &call, MARKET_DECODERS).await?;
        let ev: ComputeMarket::Challenged = event_of(&r, self.address(), "challenge")?;
        Ok(Tx::from_receipt(&r, ev.gameId))
    }

    /// Applies the outcome of resolved game `game` of `task`.
    pub async fn settle(&self, task: U256, game: U256) -> Result<Tx<Settled>> {
        let r = send("settleDispute", &self.c.settleDispute(task, game), MARKET_DECODERS).await?;
        let ev: ComputeMarket::DisputeSettled = event_of(&r, self.address(), "settleDispute")?;
        let settled = Settled { winner: Winner::from_code(ev.winner), invalidated: ev.invalidated };
        Ok(Tx::from_receipt(&r, settled))
    }

    /// Finalizes `task`; its winner (address(0): none).
    pub async fn finalize(&self, task: U256) -> Result<Tx<Address>> {
        let r = send("finalize", &self.c.finalize(task), MARKET_DECODERS).await?;
        let ev: ComputeMarket::Finalized = event_of(&r, self.address(), "finalize")?;
        Ok(Tx::from_receipt(&r, ev.winner))
    }

    /// Withdraws what the sender is owed in `token` (address(0) = ETH); the amount.
    pub async fn withdraw(&self, token: Address) -> Result<Tx<U256>> {
        let r = send("withdraw", &self.c.withdraw(token), MARKET_DECODERS).await?;
        let ev: ComputeMarket::Withdrawn = event_of(&r, self.address(), "withdraw")?;
        Ok(Tx::from_receipt(&r, ev.amount))
    }

    /// The task's record.
    pub async fn task(&self, task: U256) -> Result<ComputeMarket::Task> {
        Ok(self.c.task(task).call().await.map_err(CallError::contract("task", MARKET_DECODERS))?)
    }

    /// `worker`'s submission to `task`.
    pub async fn submission(
        &self,
        task: U256,
        worker: Address,
    ) -> Result<ComputeMarket::Submission> {
        Ok(self
            .c
            .submission(task, worker)
            .call()
            .await
            .map_err(CallError::contract("submission", MARKET_DECODERS))?)
    }

    /// The workers of `task`, in commit order.
    pub async fn workers(&self, task: U256) -> Result<Vec<Address>> {
        Ok(self
            .c
            .workers(task)
            .call()
            .await
            .map_err(CallError::contract("workers", MARKET_DECODERS))?)
    }

    /// Whether `task` is finalized, its winner (address(0): none) and the winner's count.
    pub async fn winner(&self, task: U256) -> Result<(bool, Address, u32)> {
        let w = self
            .c
            .winner(task)
            .call()
            .await
            .map_err(CallError::contract("winner", MARKET_DECODERS))?;
        Ok((w.finalized, w.account, w.correct))
    }

    /// The dispute of game `game` (all zero if this market did not open it).
    pub async fn dispute(&self, game: U256) -> Result<ComputeMarket::Dispute> {
        Ok(self
            .c
            .dispute(game)
            .call()
            .await
            .map_err(CallError::contract("dispute", MARKET_DECODERS))?)
    }

    /// The game `challenger` opened against `worker` on `task` (0: none).
    pub async fn game_of(&self, task: U256, worker: Address, challenger: Address) -> Result<U256> {
        Ok(self
            .c
            .gameOf(task, worker, challenger)
            .call()
            .await
            .map_err(CallError::contract("gameOf", MARKET_DECODERS))?)
    }

    /// What `account` is owed in `token`.
    pub async fn owed(&self, account: Address, token: Address) -> Result<U256> {
        Ok(self
            .c
            .owed(account, token)
            .call()
            .await
            .map_err(CallError::contract("owed", MARKET_DECODERS))?)
    }
}
