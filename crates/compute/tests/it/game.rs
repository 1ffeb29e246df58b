//! `DisputeGame` on the embedded chain and anvil: whole games between an honest party and a
//! liar on the shipped models, every guard of every function (decoded into the typed
//! `DisputeGameErrors`), the deadlines and both sides' timeouts, and property tests that
//! the contract's runtime (`applyLayer`, `scoreStep`, `tensorHash`) is the Rust runtime bit
//! for bit and that a game stops at exactly the one corrupted step of a random trace.

use std::fmt::Debug;
use std::path::PathBuf;

use alara_chain::testing::{backends, Backend, TestChain};
use alara_compute::bisect::{max_rounds, Bisection};
use alara_compute::chain::{
    chain_time, from_sol_tensor, sol_tensor, step_proof, Game, Move, Phase, Winner, GAME_DECODERS,
};
use alara_compute::eval::{Chunk, EvalSet};
use alara_compute::fixed::{self, Layer, Op, Tensor};
use alara_compute::model::FixedModel;
use alara_compute::trace::{final_leaf, state_leaf, step_kind, Trace};
use alara_contracts::call::CallError;
use alara_contracts::DisputeGame::{self, DisputeGameErrors};
use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::sol_types::{SolEvent, SolInterface};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Dev account indices by role: the arbiter opens the games.
const ARBITER: usize = 0;
const CLAIMER: usize = 1;
const CHALLENGER: usize = 2;
const STRANGER: usize = 3;
const ACCOUNTS: usize = 4;

/// The move timeout of the games (seconds): long enough that no test crosses a deadline by
/// accident, even on a wall-clock chain.
const TIMEOUT: u64 = 1_000;

fn addr(i: usize) -> Address {
    alara_chain::dev::dev_addresses()[i]
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ------------------------------------------------------------------ the chain

/// A chain with one DisputeGame and one client (one provider) per account.
struct Env {
    backend: Backend,
    /// The chain (it stops when dropped).
    chain: TestChain,
    games: Vec<Game<DynProvider>>,
}

impl Env {
    async fn start(backend: Backend) -> Env {
        let chain = TestChain::start(backend).await.unwrap();
        let providers: Vec<DynProvider> = (0..ACCOUNTS).map(|i| chain.provider(i)).collect();
        let game = Game::deploy(providers[ARBITER].clone()).await.unwrap();
        let games = providers.into_iter().map(|p| game.as_(p)).collect();
        Env { backend, chain, games }
    }

    /// The contract as dev account `i`.
    fn g(&self, i: usize) -> &Game<DynProvider> {
        &self.games[i]
    }

    fn p(&self) -> &DynProvider {
        self.g(ARBITER).c.provider()
    }

    async fn now(&self) -> u64 {
        chain_time(self.p()).await.unwrap()
    }

    /// Moves the clock `secs` forward and mines a block at the new time.
    async fn warp(&self, secs: u64) {
        let p = self.p();
        let _: serde_json::Value = p.raw_request("evm_increaseTime".into(), (secs,)).await.unwrap();
        let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
    }

    /// The next block gets timestamp `t` exactly.
    async fn set_next_timestamp(&self, t: u64) {
        let _: serde_json::Value =
            self.p().raw_request("evm_setNextBlockTimestamp".into(), (t,)).await.unwrap();
    }

    /// Mines an empty block at timestamp `t`; its number.
    async fn mine_at(&self, t: u64) -> u64 {
        self.set_next_timestamp(t).await;
        let _: serde_json::Value = self.p().raw_request("evm_mine".into(), ()).await.unwrap();
        let n = self.p().get_block_number().await.unwrap();
        assert_eq!(self.block_time(n).await, t, "{}: block {n} is at {t}", self.backend);
        n
    }

    async fn block_time(&self, n: u64) -> u64 {
        self.p().get_block_by_number(n.into()).await.unwrap().unwrap().header.timestamp
    }

    /// The first event `E` the game emitted in transaction `tx`.
    async fn event<E: SolEvent>(&self, tx: B256) -> E {
        let r = self.p().get_transaction_receipt(tx).await.unwrap().unwrap();
        r.inner
            .logs()
            .iter()
            .filter(|l| l.address() == self.g(ARBITER).address())
            .find_map(|l| l.log_decode::<E>().ok())
            .map(|l| l.inner.data)
            .unwrap_or_else(|| panic!("{}: no {} in {tx}", self.backend, E::SIGNATURE))
    }

    /// Every event `E` the game emitted in transaction `tx`.
    async fn events<E: SolEvent>(&self, tx: B256) -> Vec<E> {
        let r = self.p().get_transaction_receipt(tx).await.unwrap().unwrap();
        r.inner
            .logs()
            .iter()
            .filter(|l| l.address() == self.g(ARBITER).address())
            .filter_map(|l| l.log_decode::<E>().ok())
            .map(|l| l.inner.data)
            .collect()
    }

    async fn open(&self, params: DisputeGame::GameParams) -> U256 {
        self.g(ARBITER).open(params).await.unwrap().value
    }

    async fn record(&self, id: U256) -> DisputeGame::Game {
        self.g(ARBITER).game(id).await.unwrap()
    }

    async fn phase(&self, id: U256) -> Phase {
        Phase::from_code(self.record(id).await.phase)
    }

    /// Both parties reveal from their traces until the game reaches its one-step phase; the
    /// mids revealed.
    async fn bisect(&self, id: U256, claimer: &Trace, challenger: &Trace) -> Vec<u64> {
        let mut mids = Vec::new();
        while self.phase(id).await == Phase::Bisect {
            let mid = self.g(ARBITER).mid(id).await.unwrap();
            mids.push(mid);
            for (role, t) in [(CLAIMER, claimer), (CHALLENGER, challenger)] {
                self.g(role).reveal(id, t.leaf(mid).unwrap(), t.proof(mid)).await.unwrap();
            }
            assert!(mids.len() <= 64, "{}: the bisection does not end", self.backend);
        }
        assert_eq!(self.phase(id).await, Phase::Step, "{}", self.backend);
        mids
    }
}

/// The `DisputeGame` error `r` reverted with.
#[track_caller]
fn game_err<T: Debug>(r: alara_compute::Result<T>, backend: Backend) -> DisputeGameErrors {
    match r {
        Ok(v) => panic!("{backend}: expected a revert, the call succeeded: {v:?}"),
        Err(alara_compute::Error::Contract(e)) => {
            let data = e.revert_data().unwrap_or_else(|| panic!("{backend}: not a revert: {e}"));
            DisputeGameErrors::abi_decode(data)
                .unwrap_or_else(|_| panic!("{backend}: not a DisputeGame error: {e}"))
        }
        Err(e) => panic!("{backend}: expected a revert, got {e}"),
    }
}

/// Asserts that `e` matches `pattern` (with an optional guard), naming the backend.
macro_rules! assert_err {
    ($e:expr, $pattern:pat $(if $guard:expr)?, $backend:expr) => {{
        let e = $e;
        assert!(
            matches!(&e, $pattern $(if $guard)?),
            "{}: expected {}, got {:?}",
            $backend,
            stringify!($pattern $(if $guard)?),
            e
        );
    }};
}

fn phase_of(p: u8) -> Phase {
    Phase::from_code(p)
}

fn winner_of(w: u8) -> Winner {
    Winner::from_code(w)
}

// ------------------------------------------------------------------ models and traces

fn shipped(file: &str) -> FixedModel {
    let bytes = std::fs::read(repo().join("models").join(file)).unwrap();
    FixedModel::from_onnx(&bytes, file).unwrap()
}

/// The first `rows` rows of the breast-cancer set in chunks of 8.
fn breast_cancer(rows: usize) -> EvalSet {
    let data = alara_ml::datasets::breast_cancer().unwrap();
    let subset = data.subset(&(0..rows).collect::<Vec<_>>()).unwrap();
    EvalSet::from_dataset(&subset, 8).unwrap()
}

/// The logistic regression (ADD, MUL, GEMM: `L = 3`) on 4 chunks: `n = 16` steps.
fn logreg() -> (FixedModel, EvalSet) {
    let model = shipped("breast_cancer_logreg.onnx");
    assert_eq!(model.layer_count(), 3);
    (model, breast_cancer(32))
}

/// The MLP (ADD, MUL, GEMM, RELU, GEMM: `L = 5`) on 3 chunks: `n = 18` steps.
fn mlp() -> (FixedModel, EvalSet) {
    let model = shipped("breast_cancer_mlp.onnx");
    assert_eq!(model.layer_count(), 5);
    (model, breast_cancer(24))
}

/// A liar's trace: the honest one with one row of step `step`'s output shifted by ±16.0
/// (every later step recomputed from it), the first row and sign that changes the count;
/// for a score step (or if no shift changes a prediction), one more correct answer claimed.
fn liar(model: &FixedModel, eval: &EvalSet, honest: &Trace, step: u64) -> Trace {
    let rows = honest.state(step + 1).and_then(|st| st.act.as_ref()).map_or(0, |t| t.rows);
    for row in 0..rows as usize {
        for delta in [16 << 16, -(16 << 16)] {
            let t = Trace::run_with(model, eval, &|s, st| {
                if s == step {
                    if let Some(t) = st.act.as_mut() {
                        let cols = t.cols as usize;
                        for v in &mut t.data[row * cols..(row + 1) * cols] {
                            *v = v.saturating_add(delta);
                        }
                    }
                }
            })
            .unwrap();
            if t.correct() != honest.correct() {
                return t;
            }
        }
    }
    Trace::run_with(model, eval, &|s, st| {
        if s == step {
            st.correct += 1;
        }
    })
    .unwrap()
}

/// Checks that `liar` is `honest` up to state `step` and differs from state `step + 1` on.
fn assert_diverges_at(honest: &Trace, liar: &Trace, step: u64) {
    assert_eq!(honest.n(), liar.n());
    for s in 0..=honest.n() {
        if s <= step {
            assert_eq!(honest.leaf(s), liar.leaf(s), "state {s} is before the fault");
        } else {
            assert_ne!(honest.leaf(s), liar.leaf(s), "state {s} is after the fault at {step}");
        }
    }
    assert_ne!(honest.correct(), liar.correct());
}

fn params(
    model: &FixedModel,
    eval: &EvalSet,
    claimer: &Trace,
    challenger: &Trace,
    move_timeout: u64,
) -> DisputeGame::GameParams {
    DisputeGame::GameParams {
        claimer: addr(CLAIMER),
        challenger: addr(CHALLENGER),
        layerCount: model.layer_count() as u32,
        layersRoot: model.layers_root(),
        evalRoot: eval.root(),
        chunkCount: eval.chunk_count() as u32,
        claimerTraceRoot: claimer.root(),
        challengerTraceRoot: challenger.root(),
        claimedCorrect: claimer.correct() as u32,
        challengerCorrect: challenger.correct() as u32,
        moveTimeout: move_timeout,
    }
}

/// The mids the off-chain bisection reveals, in order, and where it ends.
fn reference_mids(claimer: &Trace, challenger: &Trace) -> (Vec<u64>, Bisection) {
    let mut b = Bisection::new(claimer.n(), claimer.correct(), challenger.correct());
    let mut mids = Vec::new();
    while !b.is_done() {
        let mid = b.mid();
        mids.push(mid);
        b.record(claimer.leaf(mid).unwrap(), challenger.leaf(mid).unwrap());
    }
    assert_eq!(b, Bisection::play(claimer, challenger));
    (mids, b)
}

/// A game played to its end by both parties through [`Game::advance`], in turn.
struct Played {
    claimer_mids: Vec<u64>,
    challenger_mids: Vec<u64>,
    /// The step proven, who proved it, the transaction and the winner it reported.
    step: u64,
    stepper: usize,
    step_tx: B256,
    winner: Winner,
}

async fn play(
    env: &Env,
    id: U256,
    claimer: &Trace,
    challenger: &Trace,
    model: &FixedModel,
    eval: &EvalSet,
) -> Played {
    let backend = env.backend;
    let sides = [(CLAIMER, claimer), (CHALLENGER, challenger)];
    let (mut claimer_mids, mut challenger_mids) = (Vec::new(), Vec::new());
    for _ in 0..(4 * (64 + claimer.n())) {
        let mut progressed = false;
        for &(role, trace) in &sides {
            match env.g(role).advance(id, addr(role), trace, model, eval).await.unwrap() {
                Move::Revealed { mid, .. } => {
                    (if role == CLAIMER { &mut claimer_mids } else { &mut challenger_mids })
                        .push(mid);
                    progressed = true;
                }
                Move::Stepped { step, tx } => {
                    // The other party sees the game over, with the same winner.
                    let other = if role == CLAIMER { CHALLENGER } else { CLAIMER };
                    let trace = if role == CLAIMER { challenger } else { claimer };
                    let seen = env.g(other).advance(id, addr(other), trace, model, eval).await;
                    assert_eq!(seen.unwrap(), Move::Resolved(tx.value), "{backend}");
                    return Played {
                        claimer_mids,
                        challenger_mids,
                        step,
                        stepper: role,
                        step_tx: tx.hash,
                        winner: tx.value,
                    };
                }
                m @ (Move::TimedOut(_) | Move::Resolved(_)) => {
                    panic!("{backend}: {m:?} in a game both parties play")
                }
                Move::Wait => {}
            }
        }
        assert!(progressed, "{backend}: neither party could move");
    }
    panic!("{backend}: the game did not reach its one-step proof")
}

/// `⌊log2 n⌋`.
fn floor_log2(n: u64) -> u32 {
    63 - n.leading_zeros()
}

/// Plays one game between `honest` and `liar` (the liar claiming if `liar_claims`) and checks
/// everything about it: the rounds, the step proven, the winner, the events and the record.
async fn honest_beats_liar(
    env: &Env,
    model: &FixedModel,
    eval: &EvalSet,
    fault: u64,
    liar_claims: bool,
) {
    let backend = env.backend;
    let what = format!("{backend}, fault at step {fault}, liar claims: {liar_claims}");
    let honest = Trace::run(model, eval).unwrap();
    let liar = liar(model, eval, &honest, fault);
    assert_diverges_at(&honest, &liar, fault);
    let (claimer, challenger) = if liar_claims { (&liar, &honest) } else { (&honest, &liar) };
    let n = honest.n();

    let opened = env.g(ARBITER).open(params(model, eval, claimer, challenger, TIMEOUT)).await;
    let opened = opened.unwrap();
    let id = opened.value;
    let ev: DisputeGame::GameOpened = env.event(opened.hash).await;
    assert_eq!(ev.gameId, id, "{what}");
    assert_eq!(
        (ev.arbiter, ev.claimer, ev.challenger),
        (addr(ARBITER), addr(CLAIMER), addr(CHALLENGER)),
        "{what}"
    );
    assert_eq!(ev.steps, n, "{what}");
    assert_eq!(
        (u64::from(ev.claimedCorrect), u64::from(ev.challengerCorrect)),
        (claimer.correct(), challenger.correct()),
        "{what}"
    );
    assert_eq!(ev.deadline, env.block_time(opened.block).await + TIMEOUT, "{what}");

    let played = play(env, id, claimer, challenger, model, eval).await;
    let (mids, reference) = reference_mids(claimer, challenger);
    let rounds = played.claimer_mids.len() as u32;
    assert_eq!(played.claimer_mids, mids, "{what}: the claimer's reveals");
    assert_eq!(played.challenger_mids, mids, "{what}: the challenger's reveals");
    assert_eq!(rounds, reference.rounds, "{what}");
    assert!(rounds <= max_rounds(n), "{what}: {rounds} rounds > ⌈log2 {n}⌉");
    assert!(rounds >= floor_log2(n), "{what}: {rounds} rounds < ⌊log2 {n}⌋");
    if n.is_power_of_two() {
        assert_eq!(rounds, max_rounds(n), "{what}: n = {n} takes exactly log2 n rounds");
    }

    let expected = if liar_claims { Winner::Challenger } else { Winner::Claimer };
    assert_eq!(played.step, fault, "{what}: the one-step proof is of the fault");
    assert_eq!(played.winner, expected, "{what}");
    // The first to move in the one-step phase proves it: the claimer, honest or not (the
    // liar's witness of the agreed state is the honest one).
    assert_eq!(played.stepper, CLAIMER, "{what}");
    assert_eq!(env.g(STRANGER).outcome(id).await.unwrap(), (true, expected), "{what}");

    let resolved: Vec<DisputeGame::GameResolved> = env.events(played.step_tx).await;
    assert_eq!(resolved.len(), 1, "{what}");
    assert_eq!(resolved[0].gameId, id, "{what}");
    assert_eq!(winner_of(resolved[0].winner), expected, "{what}");
    assert!(!resolved[0].byTimeout, "{what}");
    let stepped: DisputeGame::Stepped = env.event(played.step_tx).await;
    assert_eq!((stepped.gameId, stepped.step), (id, fault), "{what}");
    assert_eq!(stepped.computed, honest.leaf(fault + 1).unwrap(), "{what}");
    assert_eq!(stepped.submitter, addr(CLAIMER), "{what}");

    let g = env.record(id).await;
    assert_eq!(phase_of(g.phase), Phase::Resolved, "{what}");
    assert_eq!(winner_of(g.winner), expected, "{what}");
    assert_eq!((g.lo, g.hi), (fault, fault + 1), "{what}");
    assert_eq!(g.agreed, honest.leaf(fault).unwrap(), "{what}");
    assert_eq!(g.claimerHi, claimer.leaf(fault + 1).unwrap(), "{what}");
    assert_eq!(g.challengerHi, challenger.leaf(fault + 1).unwrap(), "{what}");
    assert_eq!(g.arbiter, addr(ARBITER), "{what}");
}

#[tokio::test]
async fn an_honest_party_beats_a_liar_at_the_first_diverging_step_on_the_shipped_models() {
    for backend in backends() {
        let env = Env::start(backend).await;
        // logreg: chunk c's steps are 4c (ADD), 4c + 1 (MUL), 4c + 2 (GEMM), 4c + 3 (score).
        let (model, eval) = logreg();
        assert_eq!(Trace::run(&model, &eval).unwrap().n(), 16);
        honest_beats_liar(&env, &model, &eval, 6, true).await;
        honest_beats_liar(&env, &model, &eval, 6, false).await;
        honest_beats_liar(&env, &model, &eval, 11, true).await;
        honest_beats_liar(&env, &model, &eval, 13, false).await;
        honest_beats_liar(&env, &model, &eval, 0, false).await;
        // mlp: chunk c's steps are 6c + 0..5 (ADD, MUL, GEMM, RELU, GEMM), 6c + 5 (score).
        let (model, eval) = mlp();
        assert_eq!(Trace::run(&model, &eval).unwrap().n(), 18);
        honest_beats_liar(&env, &model, &eval, 8, true).await;
        honest_beats_liar(&env, &model, &eval, 3, false).await;
        honest_beats_liar(&env, &model, &eval, 16, true).await;
        honest_beats_liar(&env, &model, &eval, 17, false).await;
    }
}

/// Both parties run [`Game::play`] at once, each with its own account (as two processes
/// do), until the game is over.
#[tokio::test]
async fn both_parties_play_concurrently_to_the_honest_sides_win() {
    use std::time::Duration;
    let poll = Duration::from_millis(20);
    for backend in backends() {
        let (model, eval) = logreg();
        let honest = Trace::run(&model, &eval).unwrap();
        let liar = liar(&model, &eval, &honest, 6);
        for liar_claims in [true, false] {
            // A fresh chain each time: the race for the one-step proof may leave the loser
            // of the race with a refused transaction.
            let env = Env::start(backend).await;
            let (claimer, challenger) =
                if liar_claims { (&liar, &honest) } else { (&honest, &liar) };
            let id = env.open(params(&model, &eval, claimer, challenger, TIMEOUT)).await;
            let patience = Duration::from_secs(15);
            let (a, b) = tokio::join!(
                env.g(CLAIMER).play(id, addr(CLAIMER), claimer, &model, &eval, poll, patience),
                env.g(CHALLENGER).play(
                    id,
                    addr(CHALLENGER),
                    challenger,
                    &model,
                    &eval,
                    poll,
                    patience
                ),
            );
            let (a, b) = match (a, b) {
                (Ok(a), Ok(b)) => (a, b),
                (a, b) => panic!(
                    "{backend}, liar claims: {liar_claims}: the claimer's play ended with \
                     {:?}, the challenger's with {:?}; the game is {:?}",
                    a.map(|p| p.winner),
                    b.map(|p| p.winner),
                    env.record(id).await
                ),
            };
            let expected = if liar_claims { Winner::Challenger } else { Winner::Claimer };
            assert_eq!((a.winner, b.winner), (expected, expected), "{backend}");
            let (mids, _) = reference_mids(claimer, challenger);
            let mut steps = Vec::new();
            for played in [&a, &b] {
                let mut revealed = Vec::new();
                for m in &played.moves {
                    match m {
                        Move::Revealed { mid, .. } => revealed.push(*mid),
                        Move::Stepped { step, tx } => steps.push((*step, tx.value)),
                        m => panic!("{backend}: {m:?} in a game both parties play"),
                    }
                }
                assert_eq!(revealed, mids, "{backend}");
            }
            assert_eq!(steps, vec![(6, expected)], "{backend}: one proof of the fault");
            assert_eq!(env.g(STRANGER).outcome(id).await.unwrap(), (true, expected));
        }
    }
}

/// A party whose opponent is silent waits, gives up after its patience, and wins by
/// `timeout` once the deadline has passed.
#[tokio::test]
async fn play_waits_for_a_silent_opponent_then_times_it_out() {
    use std::time::Duration;
    let poll = Duration::from_millis(20);
    for backend in backends() {
        let (model, eval) = logreg();
        let honest = Trace::run(&model, &eval).unwrap();
        let liar = liar(&model, &eval, &honest, 6);
        // The challenger plays alone: it reveals, then waits for the silent claimer and
        // gives up after its patience (the clock stands still without blocks).
        let env = Env::start(backend).await;
        let id = env.open(params(&model, &eval, &liar, &honest, TIMEOUT)).await;
        let g = env.g(CHALLENGER);
        let r = g.play(id, addr(CHALLENGER), &honest, &model, &eval, poll, Duration::ZERO).await;
        assert!(matches!(r, Err(alara_compute::Error::Timeout { .. })), "{backend}: {r:?}");
        let rec = env.record(id).await;
        assert!(rec.challengerRevealed && !rec.claimerRevealed, "{backend}");
        env.warp(TIMEOUT + 10).await;
        let played = g.play(id, addr(CHALLENGER), &honest, &model, &eval, poll, poll).await;
        let played = played.unwrap();
        assert_eq!(played.winner, Winner::Challenger, "{backend}");
        match played.moves.as_slice() {
            [Move::TimedOut(tx)] => assert_eq!(tx.value, Winner::Challenger, "{backend}"),
            m => panic!("{backend}: expected one timeout, got {m:?}"),
        }
    }
}

/// A JSON-RPC proxy to `upstream` that holds the first `eth_sendRawTransaction` it sees:
/// it signals `held`, waits for `resume`, then forwards it. Its URL.
async fn holding_proxy(
    upstream: String,
) -> (String, tokio::sync::oneshot::Receiver<()>, tokio::sync::oneshot::Sender<()>) {
    use axum::routing::post;
    use axum::{Json, Router};
    use serde_json::Value;
    use std::sync::Arc;
    let (held_tx, held_rx) = tokio::sync::oneshot::channel();
    let (resume_tx, resume_rx) = tokio::sync::oneshot::channel::<()>();
    let gate = Arc::new(tokio::sync::Mutex::new(Some((held_tx, resume_rx))));
    let client = reqwest::Client::new();
    let app = Router::new().route(
        "/",
        post(move |Json(body): Json<Value>| {
            let (gate, client, upstream) = (gate.clone(), client.clone(), upstream.clone());
            async move {
                let sends = |v: &Value| {
                    v.get("method").and_then(Value::as_str) == Some("eth_sendRawTransaction")
                };
                let send = match &body {
                    Value::Array(a) => a.iter().any(sends),
                    v => sends(v),
                };
                if send {
                    if let Some((held, resume)) = gate.lock().await.take() {
                        let _ = held.send(());
                        let _ = resume.await;
                    }
                }
                let r = client.post(&upstream).json(&body).send().await.unwrap();
                Json(r.json::<Value>().await.unwrap())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, held_rx, resume_tx)
}

/// Both parties reveal in the same round, as two independent processes do: the claimer's
/// reveal is simulated and priced while the challenger has not revealed yet, and the
/// challenger's reveal is mined before the claimer's is sent. The claimer's reveal then
/// completes the round (it runs the bisection) and must still be mined.
#[tokio::test]
async fn a_reveal_that_completes_the_round_after_the_other_party_moved_first_is_mined() {
    use alloy::network::EthereumWallet;
    use alloy::providers::ProviderBuilder;
    use std::time::Duration;
    for backend in backends() {
        let env = Env::start(backend).await;
        let (model, eval) = logreg();
        let honest = Trace::run(&model, &eval).unwrap();
        let liar = liar(&model, &eval, &honest, 6);
        let id = env.open(params(&model, &eval, &liar, &honest, TIMEOUT)).await;
        let (url, held, resume) = holding_proxy(env.chain.url().to_string()).await;
        let p = ProviderBuilder::new()
            .wallet(EthereumWallet::from(alara_chain::dev::dev_signer(CLAIMER)))
            .connect_http(url.parse().unwrap())
            .erased();
        let claimer = Game::at(p, env.g(ARBITER).address());
        let (mine, ()) =
            tokio::join!(claimer.reveal(id, liar.leaf(8).unwrap(), liar.proof(8)), async {
                let held = tokio::time::timeout(Duration::from_secs(30), held).await;
                held.expect("the claimer sends its reveal").unwrap();
                let tx = env.g(CHALLENGER).reveal(id, honest.leaf(8).unwrap(), honest.proof(8));
                tx.await.unwrap();
                resume.send(()).unwrap();
            });
        if let Err(alara_compute::Error::Contract(CallError::Failed { tx, .. })) = &mine {
            use alloy::consensus::Transaction as _;
            let sent = env.p().get_transaction_by_hash(*tx).await.unwrap().unwrap();
            let r = env.p().get_transaction_receipt(*tx).await.unwrap().unwrap();
            panic!(
                "{backend}: the claimer's reveal completing the round failed on-chain: gas used \
                 {} of its limit {} (estimated before the challenger's reveal landed)",
                r.gas_used,
                sent.gas_limit()
            );
        }
        mine.unwrap();
        let g = env.record(id).await;
        assert_eq!((g.lo, g.hi), (0, 8), "{backend}: the round is bisected");
        assert_eq!(env.g(ARBITER).mid(id).await.unwrap(), 4, "{backend}");
    }
}

// ------------------------------------------------------------------ guards

fn some_params() -> DisputeGame::GameParams {
    DisputeGame::GameParams {
        claimer: addr(CLAIMER),
        challenger: addr(CHALLENGER),
        layerCount: 3,
        layersRoot: B256::repeat_byte(1),
        evalRoot: B256::repeat_byte(2),
        chunkCount: 5,
        claimerTraceRoot: B256::repeat_byte(3),
        challengerTraceRoot: B256::repeat_byte(4),
        claimedCorrect: 7,
        challengerCorrect: 9,
        moveTimeout: TIMEOUT,
    }
}

#[tokio::test]
async fn open_refuses_bad_parties_counts_and_timeouts_and_numbers_its_games() {
    for backend in backends() {
        let env = Env::start(backend).await;
        let g = env.g(ARBITER);
        let with = |f: &dyn Fn(&mut DisputeGame::GameParams)| {
            let mut p = some_params();
            f(&mut p);
            p
        };
        for (claimer, challenger) in [
            (addr(CLAIMER), addr(CLAIMER)),
            (Address::ZERO, addr(CHALLENGER)),
            (addr(CLAIMER), Address::ZERO),
            (Address::ZERO, Address::ZERO),
        ] {
            let p = with(&|p| {
                p.claimer = claimer;
                p.challenger = challenger;
            });
            assert_err!(
                game_err(g.open(p).await, backend),
                DisputeGameErrors::InvalidParties(e) if e.claimer == claimer && e.challenger == challenger,
                backend
            );
        }
        let p = with(&|p| p.layerCount = 0);
        assert_err!(
            game_err(g.open(p).await, backend),
            DisputeGameErrors::InvalidLayerCount(e) if e.layerCount == 0,
            backend
        );
        let p = with(&|p| p.chunkCount = 0);
        assert_err!(
            game_err(g.open(p).await, backend),
            DisputeGameErrors::InvalidChunkCount(e) if e.chunkCount == 0,
            backend
        );
        let p = with(&|p| p.moveTimeout = 0);
        assert_err!(
            game_err(g.open(p).await, backend),
            DisputeGameErrors::InvalidMoveTimeout(e) if e.moveTimeout == 0,
            backend
        );
        let p = with(&|p| p.challengerCorrect = p.claimedCorrect);
        assert_err!(
            game_err(g.open(p).await, backend),
            DisputeGameErrors::CountsAgree(e) if e.count == 7,
            backend
        );
        assert_eq!(g.c.gameCount().call().await.unwrap(), U256::ZERO, "{backend}");

        // Valid games are numbered from 1, by anyone (the opener is the arbiter), and start
        // at (0, n) with state 0 agreed and both final states as claimed.
        let first = g.open(some_params()).await.unwrap();
        assert_eq!(first.value, U256::from(1), "{backend}");
        let second = env.g(STRANGER).open(with(&|p| p.challengerCorrect = 0)).await.unwrap();
        assert_eq!(second.value, U256::from(2), "{backend}");
        assert_eq!(g.c.gameCount().call().await.unwrap(), U256::from(2), "{backend}");
        let r = env.record(first.value).await;
        assert_eq!(r.arbiter, addr(ARBITER), "{backend}");
        assert_eq!(env.record(second.value).await.arbiter, addr(STRANGER), "{backend}");
        assert_eq!(phase_of(r.phase), Phase::Bisect, "{backend}");
        assert_eq!((r.lo, r.hi), (0, 20), "{backend}: n = 5 · (3 + 1)");
        assert_eq!(r.agreed, state_leaf(0, B256::ZERO, 0), "{backend}");
        assert_eq!(r.claimerHi, final_leaf(20, 7), "{backend}");
        assert_eq!(r.challengerHi, final_leaf(20, 9), "{backend}");
        assert_eq!(r.deadline, env.block_time(first.block).await + TIMEOUT, "{backend}");
        assert!(!r.claimerRevealed && !r.challengerRevealed, "{backend}");
        assert_eq!(g.mid(first.value).await.unwrap(), 10, "{backend}");
        assert_eq!(g.outcome(first.value).await.unwrap(), (false, Winner::None), "{backend}");
    }
}

#[tokio::test]
async fn every_call_on_an_unknown_game_is_refused() {
    for backend in backends() {
        let env = Env::start(backend).await;
        let g = env.g(CLAIMER);
        let known = env.open(some_params()).await;
        assert_eq!(known, U256::from(1), "{backend}");
        let (model, eval) = logreg();
        let honest = Trace::run(&model, &eval).unwrap();
        let proof = step_proof(&honest, 0, &model, &eval).unwrap();
        for id in [U256::ZERO, U256::from(2), U256::MAX] {
            let unknown = |e: &DisputeGameErrors| matches!(e, DisputeGameErrors::UnknownGame(u) if u.gameId == id);
            let errors = [
                game_err(g.game(id).await, backend),
                game_err(g.outcome(id).await, backend),
                game_err(g.mid(id).await, backend),
                game_err(g.reveal(id, honest.leaf(10).unwrap(), honest.proof(10)).await, backend),
                game_err(g.step(id, proof.clone()).await, backend),
                game_err(g.timeout(id).await, backend),
            ];
            for e in &errors {
                assert!(unknown(e), "{backend}: game {id}: expected UnknownGame, got {e:?}");
            }
        }
    }
}

#[tokio::test]
async fn reveals_are_refused_from_strangers_twice_with_bad_proofs_and_out_of_phase() {
    for backend in backends() {
        let env = Env::start(backend).await;
        let (model, eval) = logreg();
        let honest = Trace::run(&model, &eval).unwrap();
        let liar = liar(&model, &eval, &honest, 9);
        let id = env.open(params(&model, &eval, &liar, &honest, TIMEOUT)).await;
        let (claimer, challenger) = (env.g(CLAIMER), env.g(CHALLENGER));

        // Neither the arbiter nor a stranger is a party, even with a valid leaf and proof.
        for who in [ARBITER, STRANGER] {
            let r = env.g(who).reveal(id, honest.leaf(8).unwrap(), honest.proof(8)).await;
            assert_err!(
                game_err(r, backend),
                DisputeGameErrors::NotAParty(e) if e.gameId == id && e.caller == addr(who),
                backend
            );
        }

        // Bad proofs: the leaf with the next leaf's proof, a leaf not in the trace, a
        // tampered proof, and a leaf without its proof.
        let mid = 8;
        let other = liar.leaf(mid + 1).unwrap();
        let mut tampered = liar.proof(mid);
        tampered[1].0[0] ^= 1;
        let bad: [(B256, Vec<B256>); 4] = [
            (liar.leaf(mid).unwrap(), liar.proof(mid + 1)),
            (B256::repeat_byte(0x5a), liar.proof(mid)),
            (liar.leaf(mid).unwrap(), tampered),
            (other, Vec::new()),
        ];
        for (leaf, proof) in bad {
            assert_err!(
                game_err(claimer.reveal(id, leaf, proof).await, backend),
                DisputeGameErrors::BadTraceProof(e)
                    if e.gameId == id && e.party == addr(CLAIMER) && e.leaf == leaf,
                backend
            );
        }
        // The challenger's leaf with its proof is under the challenger's root, not the
        // claimer's: each party reveals against its own root.
        let (leaf, proof) = (honest.leaf(mid).unwrap(), honest.proof(mid));
        assert_err!(
            game_err(claimer.reveal(id, leaf, proof.clone()).await, backend),
            DisputeGameErrors::BadTraceProof(e) if e.party == addr(CLAIMER) && e.leaf == leaf,
            backend
        );
        let r = challenger.reveal(id, liar.leaf(12).unwrap(), liar.proof(12)).await;
        assert_err!(
            game_err(r, backend),
            DisputeGameErrors::BadTraceProof(e) if e.party == addr(CHALLENGER),
            backend
        );
        let g = env.record(id).await;
        assert!(!g.claimerRevealed && !g.challengerRevealed, "{backend}: refusals change nothing");

        // A good reveal, then the same move replayed: refused, and the round does not move.
        let tx = claimer.reveal(id, liar.leaf(mid).unwrap(), liar.proof(mid)).await.unwrap();
        let ev: DisputeGame::LeafRevealed = env.event(tx.hash).await;
        assert_eq!(
            (ev.gameId, ev.party, ev.mid, ev.leaf),
            (id, addr(CLAIMER), mid, liar.leaf(mid).unwrap()),
            "{backend}"
        );
        for _ in 0..2 {
            let r = claimer.reveal(id, liar.leaf(mid).unwrap(), liar.proof(mid)).await;
            assert_err!(
                game_err(r, backend),
                DisputeGameErrors::AlreadyRevealed(e)
                    if e.gameId == id && e.party == addr(CLAIMER) && e.mid == mid,
                backend
            );
        }
        let g = env.record(id).await;
        assert!(g.claimerRevealed && !g.challengerRevealed, "{backend}");
        assert_eq!((g.lo, g.hi, g.claimerMid), (0, 16, liar.leaf(mid).unwrap()), "{backend}");

        // The challenger's reveal completes the round: they agree at 8 (the fault is at 9).
        let tx = challenger.reveal(id, honest.leaf(mid).unwrap(), honest.proof(mid)).await.unwrap();
        let bisected: DisputeGame::Bisected = env.event(tx.hash).await;
        let t = env.block_time(tx.block).await;
        assert_eq!(
            (bisected.lo, bisected.hi, bisected.deadline),
            (8, 16, t + TIMEOUT),
            "{backend}"
        );
        let g = env.record(id).await;
        assert_eq!((g.lo, g.hi, g.agreed), (8, 16, honest.leaf(8).unwrap()), "{backend}");
        assert!(!g.claimerRevealed && !g.challengerRevealed, "{backend}: a new round");
        assert_eq!(g.deadline, t + TIMEOUT, "{backend}: the bisection restarts the clock");
        // In the new round the challenger moves first and replays its move: refused too.
        let mid = env.g(ARBITER).mid(id).await.unwrap();
        assert_eq!(mid, 12, "{backend}");
        challenger.reveal(id, honest.leaf(mid).unwrap(), honest.proof(mid)).await.unwrap();
        let r = challenger.reveal(id, honest.leaf(mid).unwrap(), honest.proof(mid)).await;
        assert_err!(
            game_err(r, backend),
            DisputeGameErrors::AlreadyRevealed(e) if e.party == addr(CHALLENGER) && e.mid == 12,
            backend
        );
        // A reveal does not move the deadline.
        assert_eq!(env.record(id).await.deadline, t + TIMEOUT, "{backend}");
        claimer.reveal(id, liar.leaf(mid).unwrap(), liar.proof(mid)).await.unwrap();
        let mids = env.bisect(id, &liar, &honest).await;
        assert_eq!(mids, vec![10, 9], "{backend}");

        // In the one-step phase and after the resolution, reveals are out of phase.
        assert_eq!(env.g(ARBITER).mid(id).await.unwrap(), 9, "{backend}: mid is the step");
        for (who, t) in [(CLAIMER, &liar), (CHALLENGER, &honest)] {
            let r = env.g(who).reveal(id, t.leaf(9).unwrap(), t.proof(9)).await;
            assert_err!(
                game_err(r, backend),
                DisputeGameErrors::WrongPhase(e) if e.gameId == id && phase_of(e.phase) == Phase::Step,
                backend
            );
        }
        let won = challenger.step(id, step_proof(&honest, 9, &model, &eval).unwrap()).await;
        assert_eq!(won.unwrap().value, Winner::Challenger, "{backend}");
        for (who, t) in [(CLAIMER, &liar), (CHALLENGER, &honest)] {
            let r = env.g(who).reveal(id, t.leaf(9).unwrap(), t.proof(9)).await;
            assert_err!(
                game_err(r, backend),
                DisputeGameErrors::WrongPhase(e) if phase_of(e.phase) == Phase::Resolved,
                backend
            );
        }
    }
}

/// A Step-phase game at step `fault` of the logreg, the claimer lying: the game, the honest
/// proof and the traces.
async fn at_step(
    env: &Env,
    model: &FixedModel,
    eval: &EvalSet,
    fault: u64,
) -> (U256, DisputeGame::StepProof, Trace, Trace) {
    let honest = Trace::run(model, eval).unwrap();
    let liar = liar(model, eval, &honest, fault);
    let id = env.open(params(model, eval, &liar, &honest, TIMEOUT)).await;
    // Out of phase until the bisection is over.
    let proof = step_proof(&honest, fault, model, eval).unwrap();
    assert_err!(
        game_err(env.g(STRANGER).step(id, proof.clone()).await, env.backend),
        DisputeGameErrors::WrongPhase(e) if e.gameId == id && phase_of(e.phase) == Phase::Bisect,
        env.backend
    );
    env.bisect(id, &liar, &honest).await;
    let g = env.record(id).await;
    assert_eq!((g.lo, g.hi), (fault, fault + 1), "{}", env.backend);
    (id, proof, honest, liar)
}

/// `f` applied to a copy of `p`.
fn altered(
    p: &DisputeGame::StepProof,
    f: impl FnOnce(&mut DisputeGame::StepProof),
) -> DisputeGame::StepProof {
    let mut p = p.clone();
    f(&mut p);
    p
}

fn flip(h: &mut B256) {
    h.0[31] ^= 1;
}

/// The tensor with its first value changed.
fn bump(t: &mut DisputeGame::Tensor) {
    let mut data = t.data.to_vec();
    data[3] ^= 1;
    t.data = data.into();
}

#[tokio::test]
async fn step_proofs_are_checked_against_the_agreed_state_the_model_and_the_set() {
    for backend in backends() {
        let env = Env::start(backend).await;
        let (model, eval) = logreg();
        let stranger = env.g(STRANGER);

        // Step 4: layer 0 (ADD) of chunk 1 reads the chunk's features.
        let (id, good, honest, _) = at_step(&env, &model, &eval, 4).await;
        let agreed = honest.leaf(4).unwrap();
        let p = altered(&good, |p| p.correct += U256::from(1));
        let given = state_leaf(4, good.actHash, honest.state(4).unwrap().correct + 1);
        assert_err!(
            game_err(stranger.step(id, p).await, backend),
            DisputeGameErrors::AgreedStateMismatch(e)
                if e.step == U256::from(4) && e.agreed == agreed && e.given == given,
            backend
        );
        let p = altered(&good, |p| flip(&mut p.actHash));
        assert_err!(
            game_err(stranger.step(id, p).await, backend),
            DisputeGameErrors::AgreedStateMismatch(e) if e.agreed == agreed,
            backend
        );
        for p in [
            altered(&good, |p| flip(&mut p.chunkProof[0])),
            altered(&good, |p| p.chunkProof.clear()),
            altered(&good, |p| flip(&mut p.featuresHash)),
            altered(&good, |p| flip(&mut p.labelsHash)),
        ] {
            assert_err!(
                game_err(stranger.step(id, p).await, backend),
                DisputeGameErrors::BadChunkProof(e) if e.chunk == U256::from(1),
                backend
            );
        }
        let p = altered(&good, |p| bump(&mut p.chunk));
        assert_err!(
            game_err(stranger.step(id, p).await, backend),
            DisputeGameErrors::ChunkTensorMismatch(e)
                if e.chunk == U256::from(1) && e.expected == good.featuresHash,
            backend
        );
        for p in [
            altered(&good, |p| flip(&mut p.layerProof[0])),
            altered(&good, |p| p.layerProof.clear()),
            // Another operator, or other params, are not layer 0 of the model.
            altered(&good, |p| p.op = Op::Mul.code()),
            altered(&good, |p| bump(&mut p.a)),
            // Layer 1 (MUL) with its own proof is a valid layer, but not at index 0.
            altered(&good, |p| {
                let l = &model.layers[1];
                (p.op, p.a, p.b) = (l.op.code(), sol_tensor(&l.a), sol_tensor(&l.b));
                p.layerProof = model.layer_proof(1);
            }),
        ] {
            assert_err!(
                game_err(stranger.step(id, p).await, backend),
                DisputeGameErrors::BadLayerProof(e) if e.layer == U256::ZERO,
                backend
            );
        }
        assert_eq!(env.phase(id).await, Phase::Step, "{backend}: refusals change nothing");
        // Anyone may prove the step; the honest challenger wins.
        let tx = stranger.step(id, good.clone()).await.unwrap();
        assert_eq!(tx.value, Winner::Challenger, "{backend}");
        let stepped: DisputeGame::Stepped = env.event(tx.hash).await;
        assert_eq!(stepped.submitter, addr(STRANGER), "{backend}");
        assert_err!(
            game_err(stranger.step(id, good).await, backend),
            DisputeGameErrors::WrongPhase(e) if phase_of(e.phase) == Phase::Resolved,
            backend
        );

        // Step 5: layer 1 (MUL) of chunk 1 reads the agreed activation.
        let (id, good, honest, _) = at_step(&env, &model, &eval, 5).await;
        let p = altered(&good, |p| bump(&mut p.act));
        assert_err!(
            game_err(stranger.step(id, p).await, backend),
            DisputeGameErrors::ActivationMismatch(e)
                if e.actHash == honest.state(5).unwrap().act_hash() && e.given != e.actHash,
            backend
        );
        let p = altered(&good, |p| flip(&mut p.layerProof[1]));
        assert_err!(
            game_err(stranger.step(id, p).await, backend),
            DisputeGameErrors::BadLayerProof(e) if e.layer == U256::from(1),
            backend
        );
        // The chunk is not read by a middle layer: its proof and tensor are ignored.
        let p = altered(&good, |p| {
            p.chunkProof = vec![B256::repeat_byte(9)];
            p.chunk = sol_tensor(&Tensor::row(vec![1, 2, 3]));
        });
        assert_eq!(stranger.step(id, p).await.unwrap().value, Winner::Challenger, "{backend}");

        // Step 7: the score step of chunk 1 reads the logits and the chunk's labels.
        let (id, good, _, _) = at_step(&env, &model, &eval, 7).await;
        let p = altered(&good, |p| bump(&mut p.act));
        assert_err!(
            game_err(stranger.step(id, p).await, backend),
            DisputeGameErrors::ActivationMismatch(_),
            backend
        );
        let p = altered(&good, |p| flip(&mut p.chunkProof[1]));
        assert_err!(
            game_err(stranger.step(id, p).await, backend),
            DisputeGameErrors::BadChunkProof(e) if e.chunk == U256::from(1),
            backend
        );
        let p = altered(&good, |p| bump(&mut p.chunk));
        assert_err!(
            game_err(stranger.step(id, p).await, backend),
            DisputeGameErrors::ChunkTensorMismatch(e) if e.expected == good.labelsHash,
            backend
        );
        let p = altered(&good, |p| p.correct += U256::from(1));
        assert_err!(
            game_err(stranger.step(id, p).await, backend),
            DisputeGameErrors::AgreedStateMismatch(e) if e.step == U256::from(7),
            backend
        );
        assert_eq!(stranger.step(id, good).await.unwrap().value, Winner::Challenger, "{backend}");
    }
}

#[tokio::test]
async fn a_step_matching_neither_party_resolves_for_neither() {
    for backend in backends() {
        let env = Env::start(backend).await;
        let (model, eval) = logreg();
        // Both lie at the score step 11, by one and by two correct answers.
        let lie = |k: u64| {
            Trace::run_with(&model, &eval, &|s, st| {
                if s == 11 {
                    st.correct += k;
                }
            })
            .unwrap()
        };
        let (a, b) = (lie(1), lie(2));
        let id = env.open(params(&model, &eval, &a, &b, TIMEOUT)).await;
        let played = play(&env, id, &a, &b, &model, &eval).await;
        assert_eq!((played.step, played.winner), (11, Winner::Neither), "{backend}");
        let ev: DisputeGame::GameResolved = env.event(played.step_tx).await;
        assert_eq!(winner_of(ev.winner), Winner::Neither, "{backend}");
        assert_eq!(env.g(ARBITER).outcome(id).await.unwrap(), (true, Winner::Neither));
    }
}

// ------------------------------------------------------------------ deadlines and timeouts

/// `timeout` evaluated at block `block` (an `eth_call`), so the contract sees exactly that
/// block's timestamp.
async fn timeout_at(env: &Env, id: U256, block: u64) -> alara_compute::Result<Winner> {
    let g = env.g(STRANGER);
    g.c.timeout(id).block(block.into()).call().await.map(winner_of).map_err(|e| {
        alara_compute::Error::Contract(CallError::from_contract("timeout", GAME_DECODERS, e))
    })
}

/// Resolves `id` by `timeout` (sent by a stranger) and checks the outcome and the event.
async fn times_out_for(env: &Env, id: U256, expected: Winner, what: &str) {
    let backend = env.backend;
    let tx = env.g(STRANGER).timeout(id).await.unwrap();
    assert_eq!(tx.value, expected, "{backend}: {what}");
    let ev: DisputeGame::GameResolved = env.event(tx.hash).await;
    assert_eq!((ev.gameId, winner_of(ev.winner), ev.byTimeout), (id, expected, true), "{backend}");
    assert_eq!(env.g(ARBITER).outcome(id).await.unwrap(), (true, expected), "{backend}: {what}");
    // Over: no second timeout, no move.
    assert_err!(
        game_err(env.g(STRANGER).timeout(id).await, backend),
        DisputeGameErrors::WrongPhase(e) if phase_of(e.phase) == Phase::Resolved,
        backend
    );
}

#[tokio::test]
async fn deadlines_are_inclusive_and_a_timeout_resolves_against_the_silent_party() {
    for backend in backends() {
        let env = Env::start(backend).await;
        let (model, eval) = logreg();
        let honest = Trace::run(&model, &eval).unwrap();
        let liar = liar(&model, &eval, &honest, 6);
        let open = || env.open(params(&model, &eval, &liar, &honest, TIMEOUT));
        let (claimer, challenger) = (env.g(CLAIMER), env.g(CHALLENGER));

        // Nobody moved: too early to time out; after the deadline no reveal is taken, and
        // the silent claimer loses.
        let id = open().await;
        let deadline = env.record(id).await.deadline;
        assert_err!(
            game_err(env.g(STRANGER).timeout(id).await, backend),
            DisputeGameErrors::DeadlineNotReached(e) if e.gameId == id && e.deadline == deadline,
            backend
        );
        env.warp(TIMEOUT + 10).await;
        assert!(env.now().await > deadline, "{backend}");
        for (who, t) in [(CLAIMER, &liar), (CHALLENGER, &honest)] {
            let r = env.g(who).reveal(id, t.leaf(8).unwrap(), t.proof(8)).await;
            assert_err!(
                game_err(r, backend),
                DisputeGameErrors::DeadlinePassed(e) if e.gameId == id && e.deadline == deadline,
                backend
            );
        }
        times_out_for(&env, id, Winner::Challenger, "nobody revealed").await;
        let r = claimer.reveal(id, liar.leaf(8).unwrap(), liar.proof(8)).await;
        assert_err!(
            game_err(r, backend),
            DisputeGameErrors::WrongPhase(e) if phase_of(e.phase) == Phase::Resolved,
            backend
        );
        let r = challenger.step(id, step_proof(&honest, 6, &model, &eval).unwrap()).await;
        assert_err!(
            game_err(r, backend),
            DisputeGameErrors::WrongPhase(e) if phase_of(e.phase) == Phase::Resolved,
            backend
        );

        // The claimer revealed, the challenger is silent: the challenger loses.
        let id = open().await;
        claimer.reveal(id, liar.leaf(8).unwrap(), liar.proof(8)).await.unwrap();
        assert_err!(
            game_err(env.g(STRANGER).timeout(id).await, backend),
            DisputeGameErrors::DeadlineNotReached(_),
            backend
        );
        env.warp(TIMEOUT + 10).await;
        times_out_for(&env, id, Winner::Claimer, "the challenger is silent").await;

        // The challenger revealed, the claimer is silent: the claimer loses.
        let id = open().await;
        challenger.reveal(id, honest.leaf(8).unwrap(), honest.proof(8)).await.unwrap();
        env.warp(TIMEOUT + 10).await;
        times_out_for(&env, id, Winner::Challenger, "the claimer is silent").await;

        // A silent party in a later round: the deadline counts from the last bisection.
        let id = open().await;
        claimer.reveal(id, liar.leaf(8).unwrap(), liar.proof(8)).await.unwrap();
        let tx = challenger.reveal(id, honest.leaf(8).unwrap(), honest.proof(8)).await.unwrap();
        let deadline = env.block_time(tx.block).await + TIMEOUT;
        assert_eq!(env.record(id).await.deadline, deadline, "{backend}");
        claimer.reveal(id, liar.leaf(4).unwrap(), liar.proof(4)).await.unwrap();
        env.warp(TIMEOUT + 10).await;
        times_out_for(&env, id, Winner::Claimer, "the challenger is silent in round 2").await;

        // The one-step phase: nobody proves the step in time, and the claimer loses (an
        // honest claimer can always prove its step), even though the challenger lies here.
        let id = env.open(params(&model, &eval, &honest, &liar, TIMEOUT)).await;
        env.bisect(id, &honest, &liar).await;
        let deadline = env.record(id).await.deadline;
        assert_err!(
            game_err(env.g(STRANGER).timeout(id).await, backend),
            DisputeGameErrors::DeadlineNotReached(e) if e.deadline == deadline,
            backend
        );
        env.warp(TIMEOUT + 10).await;
        let r = claimer.step(id, step_proof(&honest, 6, &model, &eval).unwrap()).await;
        assert_err!(
            game_err(r, backend),
            DisputeGameErrors::DeadlinePassed(e) if e.deadline == deadline,
            backend
        );
        times_out_for(&env, id, Winner::Challenger, "nobody proved the step").await;

        // The client's `advance` calls `timeout` itself once the deadline has passed.
        let id = open().await;
        env.warp(TIMEOUT + 10).await;
        match challenger.advance(id, addr(CHALLENGER), &honest, &model, &eval).await.unwrap() {
            Move::TimedOut(tx) => assert_eq!(tx.value, Winner::Challenger, "{backend}"),
            m => panic!("{backend}: expected a timeout, got {m:?}"),
        }

        // Exactly at the deadline a move is still taken and nobody is late; one second
        // later no move is taken and `timeout` is.
        let id = open().await;
        let deadline = env.record(id).await.deadline;
        env.set_next_timestamp(deadline).await;
        let tx = claimer.reveal(id, liar.leaf(8).unwrap(), liar.proof(8)).await.unwrap();
        assert_eq!(env.block_time(tx.block).await, deadline, "{backend}: mined at the deadline");
        assert_err!(
            game_err(timeout_at(&env, id, tx.block).await, backend),
            DisputeGameErrors::DeadlineNotReached(e) if e.deadline == deadline,
            backend
        );
        let late = env.mine_at(deadline + 1).await;
        assert_eq!(timeout_at(&env, id, late).await.unwrap(), Winner::Claimer, "{backend}");
        let r = challenger.reveal(id, honest.leaf(8).unwrap(), honest.proof(8)).await;
        assert_err!(game_err(r, backend), DisputeGameErrors::DeadlinePassed(_), backend);
        times_out_for(&env, id, Winner::Claimer, "the challenger missed the deadline").await;

        // The same at the one-step deadline: a proof mined exactly at it resolves the game.
        let id = open().await;
        env.bisect(id, &liar, &honest).await;
        let deadline = env.record(id).await.deadline;
        env.set_next_timestamp(deadline).await;
        let tx = challenger.step(id, step_proof(&honest, 6, &model, &eval).unwrap()).await;
        let tx = tx.unwrap();
        assert_eq!(env.block_time(tx.block).await, deadline, "{backend}");
        assert_eq!(tx.value, Winner::Challenger, "{backend}");
    }
}

// ------------------------------------------------------------------ the runtime, bit for bit

/// The operators as `docs/compute.md` defines them, written again from the document (not
/// from `fixed.rs`), so the contract and the Rust runtime are both checked against it.
fn spec_apply(layer: &Layer, x: &Tensor) -> Option<Tensor> {
    let sat = |v: i128| v.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32;
    let round = |v: i128| (v + (1 << 15)) >> 16;
    let (rows, cols) = (x.rows as usize, x.cols as usize);
    let (a, b) = (&layer.a, &layer.b);
    let empty = |t: &Tensor| t.rows == 0 && t.cols == 0;
    let (out_cols, data) = match layer.op {
        Op::Gemm => {
            if a.rows != x.cols || b.rows != 1 || b.cols != a.cols {
                return None;
            }
            let n = a.cols as usize;
            let mut out = Vec::new();
            for r in 0..rows {
                for j in 0..n {
                    let acc: i128 = (0..cols)
                        .map(|k| i128::from(x.data[r * cols + k]) * i128::from(a.data[k * n + j]))
                        .sum();
                    out.push(sat(round(acc) + i128::from(b.data[j])));
                }
            }
            (a.cols, out)
        }
        Op::Add | Op::Mul => {
            if a.rows != 1 || a.cols != x.cols || !empty(b) {
                return None;
            }
            let f = |i: usize, v: i32| {
                let (v, c) = (i128::from(v), i128::from(a.data[i % cols]));
                sat(if layer.op == Op::Add { v + c } else { round(v * c) })
            };
            (x.cols, x.data.iter().enumerate().map(|(i, &v)| f(i, v)).collect())
        }
        Op::Relu | Op::Sigmoid => {
            if !empty(a) || !empty(b) {
                return None;
            }
            let plan = |v: i32| -> i32 {
                let a = i64::from(v).abs();
                let y = match a {
                    a if a >= 327_680 => 65_536,
                    a if a >= 155_648 => (a >> 5) + 55_296,
                    a if a >= 65_536 => (a >> 3) + 40_960,
                    a => (a >> 2) + 32_768,
                };
                (if v >= 0 { y } else { 65_536 - y }) as i32
            };
            let f = |v: i32| if layer.op == Op::Relu { v.max(0) } else { plan(v) };
            (x.cols, x.data.iter().map(|&v| f(v)).collect())
        }
    };
    Some(Tensor::new(x.rows, out_cols, data).unwrap())
}

/// The score step from the document.
fn spec_score(logits: &Tensor, labels: &Tensor) -> Option<u64> {
    if logits.cols == 0 || labels.cols != 1 || labels.rows != logits.rows {
        return None;
    }
    let c = logits.cols as usize;
    Some(
        (0..logits.rows as usize)
            .filter(|&r| {
                let row = &logits.data[r * c..(r + 1) * c];
                let max = *row.iter().max().unwrap();
                let pred = row.iter().position(|&v| v == max).unwrap();
                i64::from(labels.data[r]) == pred as i64
            })
            .count() as u64,
    )
}

/// `keccak256(abi.encodePacked(uint32 rows, uint32 cols, bytes data))`, from the document.
fn spec_hash(t: &Tensor) -> B256 {
    let mut buf = Vec::new();
    buf.extend_from_slice(&t.rows.to_be_bytes());
    buf.extend_from_slice(&t.cols.to_be_bytes());
    for v in &t.data {
        buf.extend_from_slice(&v.to_be_bytes());
    }
    keccak256(buf)
}

/// Values that reach every branch: small reals, the rounding boundaries, PLAN's
/// breakpoints, and the ends of the `int32` range.
fn value() -> impl Strategy<Value = i32> {
    let edges = vec![
        i32::MIN,
        i32::MIN + 1,
        i32::MAX,
        i32::MAX - 1,
        0,
        1,
        -1,
        1 << 15,
        -(1 << 15),
        (1 << 15) + 1,
        -(1 << 15) - 1,
        65_536,
        -65_536,
        65_535,
        -65_535,
        155_648,
        -155_648,
        155_647,
        -155_647,
        327_680,
        -327_680,
        327_679,
        -327_679,
        1 << 30,
        -(1 << 30),
    ];
    prop_oneof![
        4 => -(8 << 16)..(8 << 16),
        2 => any::<i32>(),
        2 => proptest::sample::select(edges),
        1 => (i32::MAX - (1 << 17))..=i32::MAX,
        1 => i32::MIN..=(i32::MIN + (1 << 17)),
    ]
}

fn tensor_of(rows: u32, cols: u32) -> BoxedStrategy<Tensor> {
    proptest::collection::vec(value(), (rows * cols) as usize)
        .prop_map(move |d| Tensor::new(rows, cols, d).unwrap())
        .boxed()
}

/// A layer of operator `op` and an input it fits: `rows` rows, `k` columns in, `n` out.
fn layer_case(
    op: Op,
    rows: std::ops::Range<u32>,
    k: std::ops::Range<u32>,
    n: std::ops::Range<u32>,
) -> BoxedStrategy<(Layer, Tensor)> {
    (rows, k, n)
        .prop_flat_map(move |(rows, k, n)| {
            let x = tensor_of(rows, k);
            match op {
                Op::Gemm => (x, tensor_of(k, n), tensor_of(1, n))
                    .prop_map(|(x, w, b)| (Layer::gemm(w, b), x))
                    .boxed(),
                Op::Add => (x, tensor_of(1, k)).prop_map(|(x, c)| (Layer::add(c), x)).boxed(),
                Op::Mul => (x, tensor_of(1, k)).prop_map(|(x, c)| (Layer::mul(c), x)).boxed(),
                Op::Relu | Op::Sigmoid => x.prop_map(move |x| (Layer::unary(op), x)).boxed(),
            }
        })
        .boxed()
}

/// A layer with params of random shapes (often not fitting the input).
fn any_shape_case() -> BoxedStrategy<(Layer, Tensor)> {
    let shape = || (0u32..4, 0u32..4);
    (0u8..5, shape(), shape(), shape())
        .prop_flat_map(|(op, (xr, xc), (ar, ac), (br, bc))| {
            (tensor_of(xr, xc), tensor_of(ar, ac), tensor_of(br, bc))
                .prop_map(move |(x, a, b)| (Layer { op: Op::from_code(op + 1).unwrap(), a, b }, x))
        })
        .boxed()
}

/// Logits with many ties and extremes, and labels that are sometimes no class at all.
fn score_case() -> BoxedStrategy<(Tensor, Tensor)> {
    (0u32..6, 1u32..5)
        .prop_flat_map(|(rows, cols)| {
            let logit = prop_oneof![
                3 => -2i32..3,
                1 => Just(i32::MIN),
                1 => Just(i32::MAX),
                1 => value(),
            ];
            let label = prop_oneof![
                6 => 0..cols as i32,
                1 => Just(cols as i32),
                1 => Just(-1),
                1 => any::<i32>(),
            ];
            (
                proptest::collection::vec(logit, (rows * cols) as usize),
                proptest::collection::vec(label, rows as usize),
            )
                .prop_map(move |(l, y)| {
                    (Tensor::new(rows, cols, l).unwrap(), Tensor::new(rows, 1, y).unwrap())
                })
        })
        .boxed()
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// The contract's `applyLayer` of `layer` on `x`: its output, or the error it reverted with.
async fn chain_apply(
    env: &Env,
    layer: &Layer,
    x: &Tensor,
) -> Result<Result<Tensor, DisputeGameErrors>, TestCaseError> {
    match env.g(ARBITER).apply_layer(layer, x).await {
        Ok(t) => Ok(Ok(t)),
        Err(alara_compute::Error::Contract(e)) => {
            let data = e.revert_data().ok_or_else(|| fail(&e))?;
            Ok(Err(DisputeGameErrors::abi_decode(data).map_err(|_| fail(&e))?))
        }
        Err(e) => Err(fail(e)),
    }
}

/// One `applyLayer` case: the contract, the Rust runtime and the document agree, on the
/// output and its hash, or all refuse (the contract with `ShapeMismatch(op)`).
async fn check_layer(env: &Env, layer: &Layer, x: &Tensor) -> Result<(), TestCaseError> {
    let rust = fixed::apply(layer, x).ok();
    let spec = spec_apply(layer, x);
    prop_assert_eq!(&rust, &spec, "the Rust runtime against the document");
    let chain = chain_apply(env, layer, x).await?;
    match (chain, rust) {
        (Ok(out), Some(rust)) => {
            prop_assert_eq!(&out, &rust, "{} applyLayer({:?}, {:?})", env.backend, layer, x);
            let h = env.g(ARBITER).tensor_hash(&out).await.map_err(fail)?;
            prop_assert_eq!(h, rust.hash());
            prop_assert_eq!(h, spec_hash(&rust));
        }
        (Err(DisputeGameErrors::ShapeMismatch(e)), None) => {
            prop_assert_eq!(e.op, layer.op.code());
        }
        (chain, rust) => {
            return Err(fail(format!(
                "{}: the contract answered {chain:?}, Rust {rust:?} for {layer:?} on {x:?}",
                env.backend
            )))
        }
    }
    Ok(())
}

async fn check_score(env: &Env, logits: &Tensor, labels: &Tensor) -> Result<(), TestCaseError> {
    let rust = fixed::score(logits, labels).ok();
    prop_assert_eq!(rust, spec_score(logits, labels), "the Rust runtime against the document");
    let chain = env.g(ARBITER).score_step(logits, labels).await;
    match (chain, rust) {
        (Ok(k), Some(rust)) => prop_assert_eq!(k, rust, "scoreStep({:?}, {:?})", logits, labels),
        (Err(e), None) => {
            let e = game_err::<()>(Err(e), env.backend);
            prop_assert!(
                matches!(e, DisputeGameErrors::ShapeMismatch(ref s) if s.op == 0),
                "{:?}",
                e
            );
        }
        (chain, rust) => {
            return Err(fail(format!(
                "{}: the contract answered {chain:?}, Rust {rust:?} for {logits:?}, {labels:?}",
                env.backend
            )))
        }
    }
    Ok(())
}

async fn check_hash(env: &Env, t: &Tensor) -> Result<(), TestCaseError> {
    let h = env.g(ARBITER).tensor_hash(t).await.map_err(fail)?;
    prop_assert_eq!(h, t.hash());
    prop_assert_eq!(h, spec_hash(t));
    // The data bytes round-trip through the contract's encoding.
    prop_assert_eq!(&from_sol_tensor(&sol_tensor(t)).map_err(fail)?, t);
    Ok(())
}

#[test]
fn apply_layer_score_step_and_tensor_hash_match_the_rust_runtime_bit_for_bit() {
    let rt = runtime();
    let env = rt.block_on(Env::start(Backend::Embedded));
    for op in [Op::Gemm, Op::Add, Op::Mul, Op::Relu, Op::Sigmoid] {
        // Small shapes (empty ones included), then a few as wide as the shipped models'.
        runner(32)
            .run(&layer_case(op, 0..5, 0..6, 0..5), |(layer, x)| {
                rt.block_on(check_layer(&env, &layer, &x))
            })
            .unwrap_or_else(|e| panic!("{}: {e}", op.name()));
        runner(6)
            .run(&layer_case(op, 1..17, 1..33, 1..17), |(layer, x)| {
                rt.block_on(check_layer(&env, &layer, &x))
            })
            .unwrap_or_else(|e| panic!("{} (wide): {e}", op.name()));
    }
    runner(32)
        .run(&any_shape_case(), |(layer, x)| rt.block_on(check_layer(&env, &layer, &x)))
        .unwrap();
    runner(32)
        .run(&score_case(), |(logits, labels)| rt.block_on(check_score(&env, &logits, &labels)))
        .unwrap();
    let shapes = (0u32..5, 0u32..7).prop_flat_map(|(r, c)| tensor_of(r, c));
    runner(32).run(&shapes, |t| rt.block_on(check_hash(&env, &t))).unwrap();
}

/// Hand-picked cases at the edges, with their values worked out from the document.
fn edge_cases() -> Vec<(Layer, Tensor, Vec<i32>)> {
    let (max, min) = (i32::MAX, i32::MIN);
    let t = |r: u32, c: u32, d: Vec<i32>| Tensor::new(r, c, d).unwrap();
    vec![
        // Saturation up and down, after exact sums (the sum over k never wraps).
        (
            Layer::gemm(t(2, 1, vec![max, max]), Tensor::row(vec![max])),
            t(2, 2, vec![max, max, min, min]),
            vec![max, min],
        ),
        (
            Layer::gemm(t(2, 1, vec![max, min]), Tensor::row(vec![0])),
            t(1, 2, vec![max, max]),
            vec![
                // (max·max + max·min + 2^15) >> 16 = (-max + 2^15) >> 16 = -32768 (toward −∞).
                -32_768,
            ],
        ),
        // The rounding shift: (1·2^15 + 2^15) >> 16 = 1, (-2^15 + 2^15) >> 16 = 0,
        // (-2^15 - 1 + 2^15) >> 16 = -1; odd and even widths.
        (Layer::gemm(t(1, 1, vec![1 << 15]), Tensor::row(vec![0])), t(1, 1, vec![1]), vec![1]),
        (Layer::gemm(t(1, 1, vec![1 << 15]), Tensor::row(vec![0])), t(1, 1, vec![-1]), vec![0]),
        (
            Layer::gemm(t(1, 1, vec![(1 << 15) + 1]), Tensor::row(vec![0])),
            t(1, 1, vec![-1]),
            vec![-1],
        ),
        (
            Layer::gemm(t(3, 2, vec![1 << 16, 2 << 16, 3 << 16, 4 << 16, 5 << 16, 6 << 16]), {
                Tensor::row(vec![1, -1])
            }),
            t(1, 3, vec![1 << 16, 1 << 16, -(1 << 16)]),
            vec![(-1 << 16) + 1, (0 << 16) - 1],
        ),
        (
            Layer::gemm(t(4, 1, vec![1 << 16, 1 << 16, 1 << 16, 1 << 16]), Tensor::row(vec![max])),
            t(2, 4, vec![1, 2, 3, 4, -1, -2, -3, -4]),
            vec![max, max - 10],
        ),
        // A GEMM with no inputs is its bias; with no outputs, nothing.
        (
            Layer::gemm(t(0, 2, vec![]), Tensor::row(vec![5, min])),
            t(2, 0, vec![]),
            vec![5, min, 5, min],
        ),
        (Layer::gemm(t(2, 0, vec![]), t(1, 0, vec![])), t(1, 2, vec![1, 2]), vec![]),
        (
            Layer::add(Tensor::row(vec![1, -1, min, max])),
            t(2, 4, vec![max, min, min, max, 0, 0, -1, 1]),
            vec![max, min, min, max, 1, -1, min, max],
        ),
        // min·min and max·max saturate; (-2^15 + 2^15) >> 16 = 0, (-2^15 - 1 + 2^15) >> 16 = -1.
        (
            Layer::mul(Tensor::row(vec![min, max, 1 << 15, (1 << 15) + 1])),
            t(1, 4, vec![min, max, -1, -1]),
            vec![max, max, 0, -1],
        ),
        (Layer::mul(Tensor::row(vec![min])), t(2, 1, vec![max, min]), vec![min, max]),
        // max · 0.5 = (2^46 - 2^15 + 2^15) >> 16 = 2^30; min · 0.5 = -2^30.
        (
            Layer::mul(Tensor::row(vec![1 << 15])),
            t(2, 1, vec![max, min]),
            vec![1 << 30, -(1 << 30)],
        ),
        (Layer::unary(Op::Relu), t(1, 5, vec![min, -1, 0, 1, max]), vec![0, 0, 0, 1, max]),
        (
            Layer::unary(Op::Sigmoid),
            t(
                2,
                8,
                vec![
                    min, max, 327_680, 327_679, 155_648, 155_647, 65_536, 65_535, 0, -1, -65_536,
                    -65_535, -155_648, -155_647, -327_680, -327_679,
                ],
            ),
            vec![
                0,
                65_536,
                65_536,
                (327_679 >> 5) + 55_296,
                (155_648 >> 5) + 55_296,
                (155_647 >> 3) + 40_960,
                (65_536 >> 3) + 40_960,
                (65_535 >> 2) + 32_768,
                32_768,
                65_536 - 32_768,
                65_536 - 49_152,
                65_536 - ((65_535 >> 2) + 32_768),
                65_536 - ((155_648 >> 5) + 55_296),
                65_536 - ((155_647 >> 3) + 40_960),
                0,
                65_536 - ((327_679 >> 5) + 55_296),
            ],
        ),
    ]
}

#[tokio::test]
async fn the_runtime_edges_agree_with_the_document_on_both_backends() {
    for backend in backends() {
        let env = Env::start(backend).await;
        for (layer, x, expected) in edge_cases() {
            let rust = fixed::apply(&layer, &x).unwrap();
            assert_eq!(rust.data, expected, "Rust {layer:?} on {x:?}");
            assert_eq!(Some(&rust), spec_apply(&layer, &x).as_ref());
            check_layer(&env, &layer, &x).await.unwrap_or_else(|e| panic!("{backend}: {e}"));
        }
        // Ties go to the lowest column; a negative or too large label never matches.
        let t = |r: u32, c: u32, d: Vec<i32>| Tensor::new(r, c, d).unwrap();
        let logits = t(
            5,
            3,
            vec![
                5,
                5,
                5, //
                i32::MIN,
                i32::MIN,
                i32::MAX, //
                -1,
                -1,
                -2, //
                0,
                0,
                0, //
                i32::MIN,
                i32::MIN,
                i32::MIN,
            ],
        );
        for (labels, k) in [
            (vec![0, 2, 0, 0, 0], 5),
            (vec![1, 2, 1, -1, 0], 2),
            (vec![-1, -1, -1, 3, i32::MAX], 0),
            (vec![0, i32::MIN, 0, 0, 1], 3),
        ] {
            let labels = t(5, 1, labels);
            assert_eq!(fixed::score(&logits, &labels).unwrap(), k);
            assert_eq!(env.g(ARBITER).score_step(&logits, &labels).await.unwrap(), k, "{backend}");
        }
        for (logits, labels) in
            [(t(2, 0, vec![]), t(2, 1, vec![0, 0])), (t(1, 2, vec![1, 2]), t(2, 1, vec![0, 1]))]
        {
            assert_err!(
                game_err(env.g(ARBITER).score_step(&logits, &labels).await, backend),
                DisputeGameErrors::ShapeMismatch(e) if e.op == 0,
                backend
            );
        }
        // Hashes of the empty tensor and of a 1 × 1 tensor, from the document's encoding.
        for t in [Tensor::empty(), t(1, 1, vec![-2]), t(3, 0, vec![])] {
            let h = env.g(ARBITER).tensor_hash(&t).await.unwrap();
            assert_eq!((h, h), (t.hash(), spec_hash(&t)), "{backend}");
        }
        let mut packed = vec![0, 0, 0, 1, 0, 0, 0, 1];
        packed.extend((-2i32).to_be_bytes());
        assert_eq!(t(1, 1, vec![-2]).hash(), keccak256(&packed));

        // Data of the wrong length and unknown operators are refused by name.
        let c = &env.g(ARBITER).c;
        let bad = DisputeGame::Tensor { rows: 2, cols: 2, data: vec![0u8; 12].into() };
        let empty = sol_tensor(&Tensor::empty());
        let err = |e: alloy::contract::Error| {
            game_err::<()>(
                Err(alara_compute::Error::Contract(CallError::from_contract(
                    "c",
                    GAME_DECODERS,
                    e,
                ))),
                backend,
            )
        };
        assert_err!(
            err(c.tensorHash(bad.clone()).call().await.unwrap_err()),
            DisputeGameErrors::DataLengthMismatch(e) if e.rows == 2 && e.cols == 2 && e.length == U256::from(12),
            backend
        );
        let r = c.applyLayer(Op::Relu.code(), bad.clone(), empty.clone(), empty.clone());
        assert_err!(
            err(r.call().await.unwrap_err()),
            DisputeGameErrors::DataLengthMismatch(_),
            backend
        );
        let x = sol_tensor(&Tensor::row(vec![1, 2]));
        for op in [0u8, 6, 255] {
            let r = c.applyLayer(op, x.clone(), empty.clone(), empty.clone());
            assert_err!(
                err(r.call().await.unwrap_err()),
                DisputeGameErrors::UnknownOp(e) if e.op == op,
                backend
            );
        }
    }
}

// ------------------------------------------------------------------ random games

fn xorshift_tensor(rows: u32, cols: u32, seed: u64, scale: i64) -> Tensor {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let data = (0..rows * cols)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 23 {
                0 => i32::MAX,
                1 => i32::MIN,
                _ => ((x % (2 * scale as u64 + 1)) as i64 - scale) as i32,
            }
        })
        .collect();
    Tensor::new(rows, cols, data).unwrap()
}

/// A random model: widths 1 to 5, any mix of the five operators.
fn random_model(seed: u64, width: u32, ops: &[u8]) -> FixedModel {
    let mut layers = Vec::new();
    let mut w = width;
    for (i, &op) in ops.iter().enumerate() {
        let s = seed.wrapping_add(i as u64 * 31);
        layers.push(match op % 5 {
            0 => {
                let out = 1 + (s % 5) as u32;
                let l = Layer::gemm(
                    xorshift_tensor(w, out, s, 3 << 16),
                    xorshift_tensor(1, out, s + 1, 1 << 16),
                );
                w = out;
                l
            }
            1 => Layer::add(xorshift_tensor(1, w, s, 2 << 16)),
            2 => Layer::mul(xorshift_tensor(1, w, s, 2 << 16)),
            3 => Layer::unary(Op::Relu),
            _ => Layer::unary(Op::Sigmoid),
        });
    }
    FixedModel::new(width, layers).unwrap()
}

/// `rows` random rows in chunks of `chunk`, labels mostly classes (sometimes not).
fn random_eval(seed: u64, width: u32, rows: u32, classes: u32, chunk: u32) -> EvalSet {
    let x = xorshift_tensor(rows, width, seed ^ 0x5555, 4 << 16);
    let mut chunks = Vec::new();
    let mut r = 0;
    while r < rows {
        let take = chunk.min(rows - r);
        let w = width as usize;
        let features = x.data[r as usize * w..(r + take) as usize * w].to_vec();
        let labels = (r..r + take)
            .map(|i| {
                let l = (u64::from(i) * 7 + seed) % u64::from(classes + 1);
                if l == u64::from(classes) {
                    -1
                } else {
                    l as i32
                }
            })
            .collect();
        chunks.push(Chunk {
            features: Tensor::new(take, width, features).unwrap(),
            labels: Tensor::new(take, 1, labels).unwrap(),
        });
        r += take;
    }
    EvalSet { chunks }
}

/// One random game: corrupt step `fault` (one value of its output moved by `delta`, and
/// `extra` more correct answers claimed, whichever first changes the count), replay every
/// later step from it, and play both sides with `advance`.
async fn corrupted_step_game(
    env: &Env,
    (seed, width, ops, rows, chunk): (u64, u32, Vec<u8>, u32, u32),
    (fault_at, at, delta, liar_claims): (u64, usize, i32, bool),
) -> Result<(), TestCaseError> {
    let model = random_model(seed, width, &ops);
    let eval = random_eval(seed, width, rows, model.output_width(), chunk);
    let honest = Trace::run(&model, &eval).map_err(fail)?;
    let n = honest.n();
    let fault = fault_at % n;
    let corrupt = |extra: u64| {
        Trace::run_with(&model, &eval, &|s, st| {
            if s == fault {
                if let Some(t) = st.act.as_mut() {
                    let i = at % t.data.len();
                    t.data[i] = t.data[i].wrapping_add(delta);
                }
                st.correct += extra;
            }
        })
        .map_err(fail)
    };
    // The count moves by `extra` plus a change that `extra` does not affect, so one of 0
    // and 1 changes it.
    let liar = [corrupt(0)?, corrupt(1)?]
        .into_iter()
        .find(|t| t.correct() != honest.correct())
        .ok_or_else(|| fail("no corruption changes the count"))?;
    for s in 0..=n {
        prop_assert_eq!(liar.leaf(s) == honest.leaf(s), s <= fault, "state {}", s);
    }
    let (claimer, challenger) = if liar_claims { (&liar, &honest) } else { (&honest, &liar) };
    let id = env.g(ARBITER).open(params(&model, &eval, claimer, challenger, TIMEOUT)).await;
    let id = id.map_err(fail)?.value;
    let played = play(env, id, claimer, challenger, &model, &eval).await;
    let what = format!(
        "{:?} of a model of {} layers, n = {n}",
        step_kind(fault, model.layer_count()),
        model.layer_count()
    );
    prop_assert_eq!(played.step, fault, "{}", what);
    let expected = if liar_claims { Winner::Challenger } else { Winner::Claimer };
    prop_assert_eq!(played.winner, expected, "{}", what);
    prop_assert_eq!(env.g(ARBITER).outcome(id).await.map_err(fail)?, (true, expected));
    let rounds = played.claimer_mids.len() as u32;
    prop_assert_eq!(rounds, Bisection::play(claimer, challenger).rounds);
    prop_assert!(rounds <= max_rounds(n), "{} rounds for n = {}", rounds, n);
    let g = env.record(id).await;
    prop_assert_eq!((g.lo, g.hi), (fault, fault + 1));
    let ev: DisputeGame::GameResolved = env.event(played.step_tx).await;
    prop_assert_eq!((winner_of(ev.winner), ev.byTimeout), (expected, false));
    Ok(())
}

#[test]
fn a_game_on_a_random_graph_stops_at_the_one_corrupted_step_and_the_honest_side_wins() {
    let rt = runtime();
    let env = rt.block_on(Env::start(Backend::Embedded));
    let graph = (any::<u64>(), 1u32..5, proptest::collection::vec(0u8..5, 1..5), 1u32..10, 1u32..5);
    let delta =
        prop_oneof![1i32..1000, -1000i32..0, (1i32 << 16)..(16 << 16), i32::MIN..-(1 << 16)];
    let fault = (any::<u64>(), any::<usize>(), delta, any::<bool>());
    let mut runner = TestRunner::new(Config {
        cases: 16,
        failure_persistence: None,
        max_shrink_iters: 16,
        ..Config::default()
    });
    runner
        .run(&(graph, fault), |(graph, fault)| rt.block_on(corrupted_step_game(&env, graph, fault)))
        .unwrap();
}
