//! `ComputeMarket` on the embedded chain and anvil: a task from post to payout with exact
//! balances (in ETH and in an ERC-20), a copier, a slashed liar, a slashed lying challenger,
//! a game both sides play at once, disputes lost by `timeout`, the refunds of missed
//! deadlines, every named error reachable from outside, the `MAX_WORKERS` bound, and a
//! worker contract that tries to re-enter the market from its payout.
//!
//! The tasks score two tiny models (a GEMM and a RELU on two features) on an evaluation set
//! of two chunks of four rows, so every dispute is six steps, at most three rounds and one
//! on-chain step: the whole file stays fast while each game is played for real.

use std::fmt::Debug;
use std::time::Duration;

use alara_chain::testing::{backends, Backend, TestChain};
use alara_chain::{Mining, NodeConfig};
use alara_compute::chain::{
    chain_time, Game, Market, Move, TaskSpec, Tier, Winner, MARKET_DECODERS,
};
use alara_compute::eval::{Chunk, EvalSet};
use alara_compute::fixed::{Layer, Op, Tensor};
use alara_compute::model::FixedModel;
use alara_compute::party::phase;
use alara_compute::trace::{step_count, State, Trace};
use alara_contracts::call::{describe_revert, send};
use alara_contracts::ComputeMarket::{self, ComputeMarketErrors};
use alara_contracts::DisputeGame::{self, DisputeGameErrors};
use alara_contracts::{AlaraToken, FeeOnTransferToken, ReentrantWorker};
use alloy::consensus::Transaction as _;
use alloy::contract::{CallBuilder, CallDecoder};
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::{SolCall, SolInterface};

/// Dev accounts by role.
const POSTER: usize = 0;
const A: usize = 1;
const B: usize = 2;
const C: usize = 3;
/// Challengers (validators).
const V: usize = 4;
const X: usize = 5;
/// Never takes part (or drives the attacker contract).
const STRANGER: usize = 6;
const ACCOUNTS: usize = 7;

/// Odd amounts, so that every split's rounding shows: the reward leaves a remainder of 2
/// when shared by three, half the stake rounds down.
const REWARD: u128 = 1_000_000_000_000_000_001;
const STAKE: u128 = 100_000_000_000_000_001;
const ROWS: u32 = 8;
const CHUNKS: u32 = 2;
/// The honest counts of the two models on the set.
const GOOD_COUNT: u32 = 6;
const WEAK_COUNT: u32 = 4;
/// Steps of every trace: 2 chunks × (2 layers + 1).
const STEPS: u64 = 6;
const COMMIT_S: u64 = 1_000;
const REVEAL_S: u64 = 1_000;
const WINDOW: u64 = 3_000;
const MOVE_S: u64 = 300;
const POLL: Duration = Duration::from_millis(20);
const PATIENCE: Duration = Duration::from_secs(60);

fn wei(v: u128) -> U256 {
    U256::from(v)
}

fn addr(i: usize) -> Address {
    alara_chain::dev::dev_signer(i).address()
}

// ---------------------------------------------------------------- models and traces

fn q(v: i32) -> i32 {
    v << 16
}

/// Two chunks of four rows, two features, labels 0/1.
fn eval_set() -> EvalSet {
    let chunk = |rows: &[([i32; 2], i32)]| Chunk {
        features: Tensor::new(
            rows.len() as u32,
            2,
            rows.iter().flat_map(|(f, _)| f.map(q)).collect(),
        )
        .unwrap(),
        labels: Tensor::new(rows.len() as u32, 1, rows.iter().map(|(_, l)| *l).collect()).unwrap(),
    };
    EvalSet {
        chunks: vec![
            chunk(&[([1, 0], 0), ([0, 1], 1), ([2, 1], 0), ([1, 3], 1)]),
            chunk(&[([3, 0], 0), ([0, 2], 1), ([1, 2], 0), ([2, 1], 1)]),
        ],
    }
}

fn model(bias: [i32; 2]) -> FixedModel {
    let w = Tensor::new(2, 2, [1, 0, 0, 1].map(q).to_vec()).unwrap();
    FixedModel::new(
        2,
        vec![Layer::gemm(w, Tensor::row(bias.map(q).to_vec())), Layer::unary(Op::Relu)],
    )
    .unwrap()
}

/// Predicts the larger feature: 6 of the 8 rows.
fn good() -> FixedModel {
    model([0, 0])
}

/// Always predicts class 0: 4 of the 8 rows.
fn weak() -> FixedModel {
    model([10, 0])
}

/// The trace of `model` whose last score step adds `delta` to the count (a lie about the
/// count that is honest everywhere else).
fn miscounted(model: &FixedModel, eval: &EvalSet, delta: i64) -> Trace {
    let last = step_count(model.layer_count(), eval.chunk_count()) - 1;
    Trace::run_with(model, eval, &move |s, st: &mut State| {
        if s == last {
            st.correct = st.correct.checked_add_signed(delta).unwrap();
        }
    })
    .unwrap()
}

/// The trace of `model` whose first GEMM pushes row 0 to class 1 (a wrong operator result
/// that changes the count by one).
fn misfed(model: &FixedModel, eval: &EvalSet) -> Trace {
    Trace::run_with(model, eval, &|s, st: &mut State| {
        if s == 0 {
            let act = st.act.as_mut().unwrap();
            act.data[1] = act.data[1].saturating_add(q(16));
        }
    })
    .unwrap()
}

/// A worker's model, salt and the trace it reveals.
#[derive(Clone)]
struct Job {
    model: FixedModel,
    salt: B256,
    trace: Trace,
}

impl Job {
    fn honest(model: FixedModel, tag: u8, eval: &EvalSet) -> Job {
        let trace = Trace::run(&model, eval).unwrap();
        Job { model, salt: B256::repeat_byte(tag), trace }
    }

    fn lying(model: FixedModel, tag: u8, trace: Trace) -> Job {
        Job { model, salt: B256::repeat_byte(tag), trace }
    }

    fn count(&self) -> u32 {
        u32::try_from(self.trace.correct()).unwrap()
    }
}

// ---------------------------------------------------------------- errors

/// The ComputeMarket error `r` reverted with.
#[track_caller]
fn market_err<T: Debug>(r: alara_compute::Result<T>, backend: Backend) -> ComputeMarketErrors {
    revert_of(r, backend)
}

/// The DisputeGame error `r` reverted with.
#[track_caller]
fn game_err<T: Debug>(r: alara_compute::Result<T>, backend: Backend) -> DisputeGameErrors {
    revert_of(r, backend)
}

/// The error of contract errors `E` that `r` reverted with.
#[track_caller]
fn revert_of<E: SolInterface, T: Debug>(r: alara_compute::Result<T>, backend: Backend) -> E {
    let e = match r {
        Ok(v) => panic!("{backend}: expected a revert, the call succeeded: {v:?}"),
        Err(e) => e,
    };
    let data = match &e {
        alara_compute::Error::Contract(c) => c.revert_data().cloned(),
        _ => None,
    }
    .unwrap_or_else(|| panic!("{backend}: expected a revert, got {e}"));
    E::abi_decode(&data).unwrap_or_else(|_| {
        panic!(
            "{backend}: not a {} error: {}",
            std::any::type_name::<E>(),
            describe_revert(&data, MARKET_DECODERS)
        )
    })
}

/// Asserts that the result `$r` is the revert `$variant`, with the given field values.
macro_rules! assert_reverts {
    ($backend:expr, $r:expr, $variant:ident $({ $($field:ident : $value:expr),* $(,)? })?) => {{
        let backend = $backend;
        match market_err($r, backend) {
            ComputeMarketErrors::$variant(_e) => {
                $($(
                    assert_eq!(
                        _e.$field, $value,
                        "{backend}: {}.{}", stringify!($variant), stringify!($field)
                    );
                )*)?
            }
            other => panic!("{backend}: expected {}, got {other:?}", stringify!($variant)),
        }
    }};
}

/// Sends a call built by hand (another value than the client would send, a field it would
/// not send), simulated first as the client does.
async fn raw<P: Provider, D: CallDecoder>(
    call: &'static str,
    b: CallBuilder<P, D>,
) -> alara_compute::Result<TransactionReceipt> {
    Ok(send(call, &b, MARKET_DECODERS).await?)
}

// ---------------------------------------------------------------- fixture

struct Fx {
    backend: Backend,
    _chain: TestChain,
    ps: Vec<DynProvider>,
    ms: Vec<Market<DynProvider>>,
    gs: Vec<Game<DynProvider>>,
    eval: EvalSet,
    eval_salt: B256,
}

impl Fx {
    async fn start(backend: Backend) -> Fx {
        let chain = TestChain::start(backend).await.unwrap_or_else(|e| panic!("{backend}: {e}"));
        Fx::on(backend, chain).await
    }

    /// The market deployed on `chain`.
    async fn on(backend: Backend, chain: TestChain) -> Fx {
        let ps: Vec<DynProvider> = (0..ACCOUNTS).map(|i| chain.provider(i)).collect();
        let market = Market::deploy(ps[POSTER].clone()).await.unwrap();
        let game = market.game().await.unwrap();
        let ms = ps.iter().map(|p| market.as_(p.clone())).collect();
        let gs = ps.iter().map(|p| game.as_(p.clone())).collect();
        let eval = eval_set();
        assert_eq!(Trace::run(&good(), &eval).unwrap().correct(), u64::from(GOOD_COUNT));
        assert_eq!(Trace::run(&weak(), &eval).unwrap().correct(), u64::from(WEAK_COUNT));
        assert_eq!(step_count(good().layer_count(), eval.chunk_count()), STEPS);
        Fx { backend, _chain: chain, ps, ms, gs, eval, eval_salt: B256::repeat_byte(0xe5) }
    }

    fn m(&self, i: usize) -> &Market<DynProvider> {
        &self.ms[i]
    }

    fn g(&self, i: usize) -> &Game<DynProvider> {
        &self.gs[i]
    }

    async fn now(&self) -> u64 {
        chain_time(&self.ps[POSTER]).await.unwrap()
    }

    /// A task on the shared evaluation set, its deadlines from now.
    async fn spec(&self, tier: Tier) -> TaskSpec {
        let commit = self.now().await + COMMIT_S;
        TaskSpec {
            recipe: B256::repeat_byte(0x0c),
            dataset_cid: "bafkreidataset".into(),
            eval_commitment: self.eval.commitment(self.eval_salt),
            chunk_count: CHUNKS,
            row_count: ROWS,
            token: Address::ZERO,
            reward: wei(REWARD),
            stake: wei(STAKE),
            commit_deadline: commit,
            reveal_deadline: commit + REVEAL_S,
            challenge_window: if tier == Tier::Optimistic { WINDOW } else { 0 },
            move_timeout: MOVE_S,
            tier,
        }
    }

    async fn post(&self, spec: &TaskSpec) -> U256 {
        self.m(POSTER).post_task(spec).await.unwrap().value
    }

    /// Worker `i` stakes and commits to `job`'s model; the commitment.
    async fn commit(&self, i: usize, task: U256, job: &Job) -> B256 {
        self.m(i).commit_model(task, addr(i), &job.model, job.salt).await.unwrap().value
    }

    async fn open(&self, task: U256) {
        self.m(POSTER)
            .open_evaluation(task, &self.eval, self.eval_salt, "bafkreieval")
            .await
            .unwrap();
    }

    /// Worker `i` reveals `job` (its count and trace root, honest or not).
    async fn reveal(&self, i: usize, task: U256, job: &Job) -> B256 {
        self.m(i)
            .reveal_trace(task, &job.model, job.salt, &job.trace, &format!("bafkreimodel{i}"))
            .await
            .unwrap()
            .hash
    }

    /// Moves the chain's clock past `t` and mines a block there.
    async fn warp_past(&self, t: u64) {
        let now = self.now().await;
        if now <= t {
            let p = &self.ps[POSTER];
            let _: serde_json::Value =
                p.raw_request("evm_increaseTime".into(), (t - now + 1,)).await.unwrap();
            let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
        }
        assert!(self.now().await > t, "{}: the clock did not pass {t}", self.backend);
    }

    async fn balance(&self, who: Address) -> U256 {
        self.ps[POSTER].get_balance(who).await.unwrap()
    }

    async fn market_balance(&self) -> U256 {
        self.balance(self.m(POSTER).address()).await
    }

    /// What transaction `hash` cost its sender.
    async fn fee(&self, hash: B256) -> U256 {
        let r = self.ps[POSTER].get_transaction_receipt(hash).await.unwrap().unwrap();
        U256::from(r.gas_used) * U256::from(r.effective_gas_price)
    }

    async fn owed(&self, i: usize) -> U256 {
        self.m(POSTER).owed(addr(i), Address::ZERO).await.unwrap()
    }

    /// Account `i` withdraws exactly `expected` wei: the event says so, and its balance
    /// moves by that minus the gas it paid. Nothing owed: `NothingToWithdraw`.
    async fn withdraw_exact(&self, i: usize, expected: U256) {
        let b = self.backend;
        assert_eq!(self.owed(i).await, expected, "{b}: owed to account {i}");
        if expected.is_zero() {
            assert_reverts!(
                b,
                self.m(i).withdraw(Address::ZERO).await,
                NothingToWithdraw { account: addr(i), token: Address::ZERO }
            );
            return;
        }
        let before = self.balance(addr(i)).await;
        let tx = self.m(i).withdraw(Address::ZERO).await.unwrap();
        assert_eq!(tx.value, expected, "{b}: withdrawn by account {i}");
        let fee = self.fee(tx.hash).await;
        assert_eq!(self.balance(addr(i)).await + fee, before + expected, "{b}: account {i}");
        assert_eq!(self.owed(i).await, U256::ZERO, "{b}: account {i} owed after withdrawing");
        assert_reverts!(b, self.m(i).withdraw(Address::ZERO).await, NothingToWithdraw);
    }

    /// Every account withdraws what `expected` says (others nothing), and the market is left
    /// holding nothing: everything escrowed was paid out, to the wei.
    async fn settle_up(&self, expected: &[(usize, U256)]) {
        for i in 0..ACCOUNTS {
            let due = expected.iter().filter(|(j, _)| *j == i).map(|(_, v)| *v).sum();
            self.withdraw_exact(i, due).await;
        }
        assert_eq!(
            self.market_balance().await,
            U256::ZERO,
            "{}: the market kept money",
            self.backend
        );
    }

    /// `i` challenges `worker`'s claim on `task` with `trace`'s count and root; the game.
    async fn challenge(&self, i: usize, task: U256, worker: usize, trace: &Trace) -> U256 {
        let count = u32::try_from(trace.correct()).unwrap();
        self.m(i).challenge(task, addr(worker), count, trace.root()).await.unwrap().value
    }

    /// Both sides play `game` to its end with their own traces of `model`, taking turns
    /// (the claimer's `Game::advance`, then the challenger's, …) as `alara bench compute`
    /// drives them: every move is mined before the other side reads the game. The winner,
    /// after checking that each side revealed once per round, that nobody was late and that
    /// one side proved the step.
    async fn duel(
        &self,
        game: U256,
        model: &FixedModel,
        (claimer, claimer_trace): (usize, &Trace),
        (challenger, challenger_trace): (usize, &Trace),
        rounds: usize,
    ) -> Winner {
        let b = self.backend;
        let sides = [(claimer, claimer_trace), (challenger, challenger_trace)];
        let mut moves: [Vec<Move>; 2] = [Vec::new(), Vec::new()];
        let mut winner = None;
        'game: for _ in 0..4 * (rounds + 2) {
            for (k, (i, trace)) in sides.iter().enumerate() {
                let m = self.g(*i).advance(game, addr(*i), trace, model, &self.eval).await.unwrap();
                match m {
                    Move::Resolved(w) => {
                        winner = Some(w);
                        break 'game;
                    }
                    Move::Wait => {}
                    m => moves[k].push(m),
                }
            }
        }
        let winner =
            winner.unwrap_or_else(|| panic!("{b}: game {game} did not resolve: {moves:?}"));
        let (resolved, outcome) = self.g(POSTER).outcome(game).await.unwrap();
        assert!(resolved && outcome == winner, "{b}: outcome {resolved} {outcome:?}");
        for side in &moves {
            let reveals = side.iter().filter(|m| matches!(m, Move::Revealed { .. })).count();
            assert_eq!(reveals, rounds, "{b}: reveals of one side: {side:?}");
            assert!(!side.iter().any(|m| matches!(m, Move::TimedOut(_))), "{b}: nobody was late");
        }
        let stepped: Vec<&Move> =
            moves.iter().flatten().filter(|m| matches!(m, Move::Stepped { .. })).collect();
        assert!(
            matches!(stepped.as_slice(), [Move::Stepped { tx, .. }] if tx.value == winner),
            "{b}: one step proof resolved the game: {stepped:?}"
        );
        winner
    }
}

// ---------------------------------------------------------------- 1. the honest path

/// An Optimistic task end to end: the reward escrowed, two salted commitments, the set
/// opened against its commitment, two reveals, no challenge, and `finalize` pays the best
/// count (not the first reveal) and returns both stakes, to the wei. A Trusted task beside it
/// breaks a tie by reveal order.
#[tokio::test]
async fn honest_task_pays_the_best_count_and_returns_the_stakes() {
    for backend in backends() {
        let b = backend;
        let fx = Fx::start(b).await;
        let spec = fx.spec(Tier::Optimistic).await;
        let poster_before = fx.balance(addr(POSTER)).await;
        let posted = fx.m(POSTER).post_task(&spec).await.unwrap();
        let t = posted.value;
        assert_eq!(t, U256::from(1), "{b}: the first task id");
        let fee = fx.fee(posted.hash).await;
        assert_eq!(fx.balance(addr(POSTER)).await + fee + wei(REWARD), poster_before, "{b}");
        assert_eq!(fx.market_balance().await, wei(REWARD), "{b}: the reward is escrowed");
        let task = fx.m(A).task(t).await.unwrap();
        assert_eq!(task.poster, addr(POSTER));
        assert_eq!((task.tier, task.reward, task.stake), (1, wei(REWARD), wei(STAKE)), "{b}");
        assert_eq!((task.chunkCount, task.rowCount), (CHUNKS, ROWS));
        assert_eq!(task.evalCommitment, fx.eval.commitment(fx.eval_salt));
        assert!(task.evalRoot.is_zero() && !task.evaluationOpen, "{b}: the set is not public");
        assert_eq!(phase(&task, fx.now().await), "commit");

        // Two workers commit; the commitment is the one the contract computes.
        let (ja, jb) = (Job::honest(good(), 0xa1, &fx.eval), Job::honest(weak(), 0xb1, &fx.eval));
        let ca = fx.commit(A, t, &ja).await;
        let on_chain = fx
            .m(A)
            .c
            .submissionCommitment(t, addr(A), ja.model.hash(), ja.salt)
            .call()
            .await
            .unwrap();
        assert_eq!(ca, on_chain, "{b}: Rust and Solidity agree on the commitment");
        let cb = fx.commit(B, t, &jb).await;
        assert_ne!(ca, cb);
        assert_eq!(fx.m(A).workers(t).await.unwrap(), vec![addr(A), addr(B)], "{b}");
        let sa = fx.m(A).submission(t, addr(A)).await.unwrap();
        assert_eq!((sa.commitment, sa.revealed), (ca, false), "{b}");
        assert_eq!(fx.market_balance().await, wei(REWARD + 2 * STAKE), "{b}: both stakes held");

        // The poster opens the set: it is the one committed to.
        fx.warp_past(spec.commit_deadline).await;
        assert_eq!(phase(&fx.m(A).task(t).await.unwrap(), fx.now().await), "awaiting-evaluation");
        let committed = fx
            .m(A)
            .c
            .evalCommitment(fx.eval.root(), U256::from(CHUNKS), U256::from(ROWS), fx.eval_salt)
            .call()
            .await
            .unwrap();
        assert_eq!(
            committed, task.evalCommitment,
            "{b}: Rust and Solidity agree on evalCommitment"
        );
        fx.open(t).await;
        let task = fx.m(A).task(t).await.unwrap();
        assert!(task.evaluationOpen, "{b}");
        assert_eq!((task.evalRoot, task.evalCid.as_str()), (fx.eval.root(), "bafkreieval"), "{b}");
        assert_eq!(phase(&task, fx.now().await), "reveal");

        // B reveals first, A second with the better count.
        fx.reveal(B, t, &jb).await;
        fx.reveal(A, t, &ja).await;
        let sa = fx.m(A).submission(t, addr(A)).await.unwrap();
        assert!(sa.revealed && !sa.invalid, "{b}");
        assert_eq!((sa.correct, sa.revealOrder, sa.layerCount), (GOOD_COUNT, 2, 2), "{b}");
        assert_eq!((sa.layersRoot, sa.traceRoot), (ja.model.layers_root(), ja.trace.root()));
        assert_eq!(sa.modelCid, format!("bafkreimodel{A}"));
        let sb = fx.m(A).submission(t, addr(B)).await.unwrap();
        assert_eq!((sb.correct, sb.revealOrder), (WEAK_COUNT, 1), "{b}");

        // Nobody challenges; the window closes.
        fx.warp_past(spec.reveal_deadline).await;
        assert_eq!(phase(&fx.m(A).task(t).await.unwrap(), fx.now().await), "challenge");
        assert_reverts!(
            b,
            fx.m(STRANGER).finalize(t).await,
            TooEarly { taskId: t, opensAt: U256::from(spec.reveal_deadline + WINDOW) }
        );
        fx.warp_past(spec.reveal_deadline + WINDOW - 1).await;
        assert_eq!(phase(&fx.m(A).task(t).await.unwrap(), fx.now().await), "finalizable");
        assert_eq!(fx.m(STRANGER).finalize(t).await.unwrap().value, addr(A), "{b}: the best count");
        let task = fx.m(A).task(t).await.unwrap();
        assert!(task.finalized && task.winner == addr(A), "{b}");
        assert_eq!(fx.m(A).winner(t).await.unwrap(), (true, addr(A), GOOD_COUNT), "{b}");
        assert_eq!(phase(&task, fx.now().await), "final");

        // A Trusted task: equal counts, the earlier reveal (B, who committed second) wins,
        // final at the reveal deadline.
        let spec2 = fx.spec(Tier::Trusted).await;
        let t2 = fx.post(&spec2).await;
        let (ja2, jb2) = (Job::honest(good(), 0xa2, &fx.eval), Job::honest(good(), 0xb2, &fx.eval));
        fx.commit(A, t2, &ja2).await;
        fx.commit(B, t2, &jb2).await;
        fx.warp_past(spec2.commit_deadline).await;
        fx.open(t2).await;
        fx.reveal(B, t2, &jb2).await;
        fx.reveal(A, t2, &ja2).await;
        fx.warp_past(spec2.reveal_deadline - 1).await;
        assert_eq!(fx.m(STRANGER).finalize(t2).await.unwrap().value, addr(B), "{b}: the tie");
        assert_eq!(fx.m(A).winner(t2).await.unwrap(), (true, addr(B), GOOD_COUNT), "{b}");

        fx.settle_up(&[
            (A, wei(REWARD + STAKE)),
            (B, wei(STAKE)),
            (A, wei(STAKE)),
            (B, wei(REWARD + STAKE)),
        ])
        .await;
    }
}

/// The same lifecycle with an ERC-20 reward and stakes: both escrowed by `transferFrom`
/// (no ETH accepted with them), paid out by `withdraw(token)`, to the unit.
#[tokio::test]
async fn a_token_task_escrows_and_pays_in_the_token() {
    for backend in backends() {
        let b = backend;
        let fx = Fx::start(b).await;
        let market = fx.m(POSTER).address();
        let supply = wei(100 * REWARD);
        let token = AlaraToken::deploy(fx.ps[POSTER].clone(), addr(POSTER), supply).await.unwrap();
        let tok = *token.address();
        for i in [A, B] {
            send("transfer", &token.transfer(addr(i), wei(STAKE)), &[]).await.unwrap();
        }
        for i in [POSTER, A, B] {
            let as_i = AlaraToken::new(tok, fx.ps[i].clone());
            send("approve", &as_i.approve(market, U256::MAX), &[]).await.unwrap();
        }
        let balance = |who: Address| {
            let call = token.balanceOf(who);
            async move { call.call().await.unwrap() }
        };
        let spec = TaskSpec { token: tok, ..fx.spec(Tier::Optimistic).await };
        let eth_before = fx.market_balance().await;
        let t = fx.post(&spec).await;
        assert_eq!(balance(market).await, wei(REWARD), "{b}: the reward is escrowed");
        assert_eq!(fx.market_balance().await, eth_before, "{b}: and no ETH");

        let (ja, jb) = (Job::honest(good(), 0xa1, &fx.eval), Job::honest(weak(), 0xb1, &fx.eval));
        let ca = fx.m(A).commitment(t, addr(A), &ja.model, ja.salt).await.unwrap();
        let call = fx.m(A).c.commit(t, ca).value(wei(STAKE));
        assert_reverts!(
            b,
            raw("commit", call).await,
            WrongPayment { expected: U256::ZERO, sent: wei(STAKE) }
        );
        fx.commit(A, t, &ja).await;
        fx.commit(B, t, &jb).await;
        assert_eq!(balance(market).await, wei(REWARD + 2 * STAKE), "{b}: both stakes");
        assert_eq!((balance(addr(A)).await, balance(addr(B)).await), (U256::ZERO, U256::ZERO));
        fx.warp_past(spec.commit_deadline).await;
        fx.open(t).await;
        fx.reveal(A, t, &ja).await;
        fx.reveal(B, t, &jb).await;
        fx.warp_past(spec.reveal_deadline + WINDOW).await;
        assert_eq!(fx.m(STRANGER).finalize(t).await.unwrap().value, addr(A), "{b}");

        for (i, due) in [(A, REWARD + STAKE), (B, STAKE)] {
            assert_eq!(fx.m(i).owed(addr(i), tok).await.unwrap(), wei(due), "{b}");
            assert_reverts!(
                b,
                fx.m(i).withdraw(Address::ZERO).await,
                NothingToWithdraw { account: addr(i), token: Address::ZERO }
            );
            assert_eq!(fx.m(i).withdraw(tok).await.unwrap().value, wei(due), "{b}");
            assert_eq!(balance(addr(i)).await, wei(due), "{b}: account {i}'s tokens");
            assert_reverts!(b, fx.m(i).withdraw(tok).await, NothingToWithdraw);
        }
        assert_reverts!(
            b,
            fx.m(POSTER).withdraw(tok).await,
            NothingToWithdraw { account: addr(POSTER), token: tok }
        );
        assert_eq!(balance(market).await, U256::ZERO, "{b}: the market kept tokens");
        assert_eq!(balance(addr(POSTER)).await, supply - wei(REWARD + 2 * STAKE), "{b}");
    }
}

/// A task takes at most `MAX_WORKERS` workers (64 worker contracts here), and `finalize`
/// still pays all of them: the reward shared equally, the remainder to the first.
#[tokio::test]
async fn a_task_takes_at_most_max_workers() {
    for backend in backends() {
        let b = backend;
        let fx = Fx::start(b).await;
        let max = fx.m(POSTER).c.MAX_WORKERS().call().await.unwrap();
        assert_eq!(max, U256::from(64), "{b}");
        let spec = fx.spec(Tier::Optimistic).await;
        let t = fx.post(&spec).await;
        let p = fx.ps[STRANGER].clone();
        let market = fx.m(STRANGER).address();
        let mut workers = Vec::new();
        for k in 0..=64u64 {
            let w = ReentrantWorker::deploy(p.clone()).await.unwrap();
            let commitment = B256::from(U256::from(k + 1));
            let data = ComputeMarket::commitCall { taskId: t, commitment }.abi_encode();
            let r = raw("execute", w.execute(market, data.into()).value(wei(STAKE))).await;
            if k < 64 {
                r.unwrap();
                workers.push(*w.address());
            } else {
                assert_reverts!(b, r, TooManyWorkers { taskId: t });
            }
        }
        assert_eq!(fx.m(POSTER).workers(t).await.unwrap(), workers, "{b}");
        assert_eq!(fx.market_balance().await, wei(REWARD + 64 * STAKE), "{b}");
        // The poster never opens the set: every one of the 64 is credited.
        fx.warp_past(spec.reveal_deadline + WINDOW).await;
        let tx = fx.m(STRANGER).finalize(t).await.unwrap();
        assert_eq!(tx.value, Address::ZERO, "{b}");
        let share = REWARD / 64;
        let mut total = U256::ZERO;
        for (k, w) in workers.iter().enumerate() {
            let owed = fx.m(POSTER).owed(*w, Address::ZERO).await.unwrap();
            let due = STAKE + share + if k == 0 { REWARD % 64 } else { 0 };
            assert_eq!(owed, wei(due), "{b}: worker {k}");
            total += owed;
        }
        assert_eq!(total, fx.market_balance().await, "{b}: everything held is owed");
    }
}

// ---------------------------------------------------------------- 2. a copier

/// B copies A's commitment from the chain and, once A revealed, A's model and salt from A's
/// reveal transaction: the commitment binds A's address, so B cannot reveal it; a late
/// copier cannot commit at all; B's stake is forfeited and A wins.
#[tokio::test]
async fn a_copied_commitment_cannot_be_revealed_by_the_copier() {
    for backend in backends() {
        let b = backend;
        let fx = Fx::start(b).await;
        let spec = fx.spec(Tier::Optimistic).await;
        let t = fx.post(&spec).await;
        let ja = Job::honest(good(), 0xa1, &fx.eval);
        let ca = fx.commit(A, t, &ja).await;

        // B replays A's commitment (it is public) with its own stake: accepted, the contract
        // cannot tell.
        let seen = fx.m(B).submission(t, addr(A)).await.unwrap().commitment;
        assert_eq!(seen, ca);
        fx.m(B).commit(t, seen).await.unwrap();

        fx.warp_past(spec.commit_deadline).await;
        // Too late for anyone else to join, even with a commitment of its own to A's model.
        let own = fx.m(C).commitment(t, addr(C), &ja.model, ja.salt).await.unwrap();
        assert_reverts!(
            b,
            fx.m(C).commit(t, own).await,
            TooLate { taskId: t, closedAt: U256::from(spec.commit_deadline) }
        );
        assert_reverts!(b, fx.m(C).commit(t, seen).await, TooLate);
        // B cannot swap its commitment for one bound to its own address either.
        let b_own = fx.m(B).commitment(t, addr(B), &ja.model, ja.salt).await.unwrap();
        assert_reverts!(b, fx.m(B).commit(t, b_own).await, TooLate);

        fx.open(t).await;
        // Before A reveals, B knows nothing but the commitment.
        assert_reverts!(
            b,
            fx.m(B)
                .reveal(t, &ja.model, B256::repeat_byte(0x99), GOOD_COUNT, ja.trace.root(), "x")
                .await,
            CommitmentMismatch { taskId: t, worker: addr(B) }
        );
        let reveal_tx = fx.reveal(A, t, &ja).await;

        // B reads A's reveal from the chain: the model's layer root, the salt, the count.
        let tx = fx.ps[B].get_transaction_by_hash(reveal_tx).await.unwrap().unwrap();
        let copied = ComputeMarket::revealCall::abi_decode(tx.input()).unwrap();
        assert_eq!((copied.salt, copied.layersRoot), (ja.salt, ja.model.layers_root()), "{b}");
        let call = fx.m(B).c.reveal(
            t,
            copied.layerCount,
            copied.layersRoot,
            copied.salt,
            copied.correct,
            copied.traceRoot,
            copied.modelCid.clone(),
        );
        assert_reverts!(
            b,
            raw("reveal", call).await,
            CommitmentMismatch { taskId: t, worker: addr(B) }
        );
        assert_reverts!(
            b,
            fx.m(B).reveal_trace(t, &ja.model, ja.salt, &ja.trace, "copy").await,
            CommitmentMismatch { taskId: t, worker: addr(B) }
        );
        let sb = fx.m(B).submission(t, addr(B)).await.unwrap();
        assert!(!sb.revealed && sb.commitment == ca, "{b}");

        fx.warp_past(spec.reveal_deadline + WINDOW).await;
        assert_eq!(fx.m(STRANGER).finalize(t).await.unwrap().value, addr(A), "{b}: B cannot win");
        // B's unrevealed stake goes to the poster.
        fx.settle_up(&[(A, wei(REWARD + STAKE)), (POSTER, wei(STAKE))]).await;
    }
}

// ---------------------------------------------------------------- 3. a liar is slashed

/// B's weak model claims 3 more correct answers than it gets, enough to beat A. A validator
/// re-executes it, challenges with the honest trace, and the two play the game through to
/// the last score step, which the chain re-executes. `settleDispute` slashes B: half its
/// stake to the validator (rounded down), the rest to the poster, the bond back; A wins.
#[tokio::test]
async fn an_inflated_count_is_disproven_and_its_stake_slashed() {
    for backend in backends() {
        let b = backend;
        let fx = Fx::start(b).await;
        let spec = fx.spec(Tier::Optimistic).await;
        let t = fx.post(&spec).await;
        let ja = Job::honest(good(), 0xa1, &fx.eval);
        let liar = Job::lying(weak(), 0xb1, miscounted(&weak(), &fx.eval, 3));
        assert_eq!(liar.count(), WEAK_COUNT + 3);
        assert!(liar.count() > ja.count(), "the lie would win");
        fx.commit(A, t, &ja).await;
        fx.commit(B, t, &liar).await;
        fx.warp_past(spec.commit_deadline).await;
        fx.open(t).await;
        fx.reveal(A, t, &ja).await;
        fx.reveal(B, t, &liar).await;
        fx.warp_past(spec.reveal_deadline).await;

        // The validator re-executes B's revealed model on the opened set and disagrees.
        let sub = fx.m(V).submission(t, addr(B)).await.unwrap();
        assert_eq!(sub.correct, liar.count());
        let honest = Trace::run(&weak(), &fx.eval).unwrap();
        assert_ne!(u64::from(sub.correct), honest.correct());
        let game = fx.challenge(V, t, B, &honest).await;
        assert_eq!(fx.m(V).game_of(t, addr(B), addr(V)).await.unwrap(), game, "{b}");
        let d = fx.m(V).dispute(game).await.unwrap();
        assert_eq!((d.taskId, d.worker, d.challenger), (t, addr(B), addr(V)), "{b}");
        assert_eq!((d.challengerCorrect, d.bond, d.settled), (WEAK_COUNT, wei(STAKE), false));
        assert_eq!(fx.m(V).task(t).await.unwrap().unsettledGames, 1, "{b}");
        assert_eq!(fx.market_balance().await, wei(REWARD + 3 * STAKE), "{b}: the bond is held");

        let winner = fx.duel(game, &weak(), (B, &liar.trace), (V, &honest), 3).await;
        assert_eq!(winner, Winner::Challenger, "{b}");
        let g = fx.g(V).game(game).await.unwrap();
        assert_eq!((g.lo, g.hi), (STEPS - 1, STEPS), "{b}: the diverging step is the last score");

        let settled = fx.m(STRANGER).settle(t, game).await.unwrap().value;
        assert_eq!((settled.winner, settled.invalidated), (Winner::Challenger, true), "{b}");
        let sub = fx.m(V).submission(t, addr(B)).await.unwrap();
        assert!(sub.invalid && sub.revealed, "{b}: the lie is invalid");
        assert!(fx.m(V).dispute(game).await.unwrap().settled);
        assert_eq!(fx.m(V).task(t).await.unwrap().unsettledGames, 0, "{b}");
        // The split is applied at settlement, before finalize.
        assert_eq!(fx.owed(V).await, wei(STAKE / 2 + STAKE), "{b}: half the stake and the bond");
        assert_eq!(fx.owed(POSTER).await, wei(STAKE - STAKE / 2), "{b}: the other half");
        assert_eq!(fx.owed(B).await, U256::ZERO, "{b}");

        fx.warp_past(spec.reveal_deadline + WINDOW).await;
        assert_eq!(fx.m(STRANGER).finalize(t).await.unwrap().value, addr(A), "{b}: the honest win");
        assert_eq!(fx.m(V).winner(t).await.unwrap(), (true, addr(A), GOOD_COUNT), "{b}");
        fx.settle_up(&[
            (A, wei(REWARD + STAKE)),
            (V, wei(STAKE / 2 + STAKE)),
            (POSTER, wei(STAKE - STAKE / 2)),
        ])
        .await;
    }
}

// ---------------------------------------------------------------- 4. a liar challenging

/// A's honest claim is challenged by X with a trace whose first GEMM is wrong: the game
/// bisects to step 0, the chain re-executes the GEMM and A wins, taking X's bond. Beside it,
/// B lies and C challenges B with another lie: the step matches neither, so B's claim is
/// invalid and B's stake and C's bond both go to the poster.
#[tokio::test]
async fn a_lying_challenger_loses_its_bond() {
    for backend in backends() {
        let b = backend;
        let fx = Fx::start(b).await;
        let spec = fx.spec(Tier::Optimistic).await;
        let t = fx.post(&spec).await;
        let ja = Job::honest(good(), 0xa1, &fx.eval);
        let jb = Job::lying(weak(), 0xb1, miscounted(&weak(), &fx.eval, 1));
        fx.commit(A, t, &ja).await;
        fx.commit(B, t, &jb).await;
        fx.warp_past(spec.commit_deadline).await;
        fx.open(t).await;
        fx.reveal(A, t, &ja).await;
        fx.reveal(B, t, &jb).await;
        fx.warp_past(spec.reveal_deadline).await;

        let wrong = misfed(&good(), &fx.eval);
        assert_eq!(wrong.correct(), u64::from(GOOD_COUNT) - 1);
        let g1 = fx.challenge(X, t, A, &wrong).await;
        let winner = fx.duel(g1, &good(), (A, &ja.trace), (X, &wrong), 2).await;
        assert_eq!(winner, Winner::Claimer, "{b}");
        let g = fx.g(X).game(g1).await.unwrap();
        assert_eq!((g.lo, g.hi), (0, 1), "{b}: the first GEMM is where they part");
        let s = fx.m(STRANGER).settle(t, g1).await.unwrap().value;
        assert_eq!((s.winner, s.invalidated), (Winner::Claimer, false), "{b}");
        assert!(!fx.m(X).submission(t, addr(A)).await.unwrap().invalid, "{b}: the claim stands");
        assert_eq!(fx.owed(A).await, wei(STAKE), "{b}: X's bond went to A");
        assert_eq!(fx.owed(X).await, U256::ZERO, "{b}");

        // Both wrong.
        let also_wrong = miscounted(&weak(), &fx.eval, -1);
        let g2 = fx.challenge(C, t, B, &also_wrong).await;
        let winner = fx.duel(g2, &weak(), (B, &jb.trace), (C, &also_wrong), 3).await;
        assert_eq!(winner, Winner::Neither, "{b}");
        let s = fx.m(STRANGER).settle(t, g2).await.unwrap().value;
        assert_eq!((s.winner, s.invalidated), (Winner::Neither, true), "{b}");
        assert!(fx.m(C).submission(t, addr(B)).await.unwrap().invalid, "{b}");
        assert_eq!(fx.owed(POSTER).await, wei(2 * STAKE), "{b}: B's stake and C's bond");
        assert_eq!((fx.owed(B).await, fx.owed(C).await), (U256::ZERO, U256::ZERO), "{b}");

        fx.warp_past(spec.reveal_deadline + WINDOW).await;
        assert_eq!(fx.m(STRANGER).finalize(t).await.unwrap().value, addr(A), "{b}");
        fx.settle_up(&[(A, wei(REWARD + 2 * STAKE)), (POSTER, wei(2 * STAKE))]).await;
    }
}

/// The two parties of a dispute play it as two independent processes do: each runs
/// `Game::play` at the same time, on a chain that mines one block a second, so that (as on
/// any real network) both reveals of a round land in the same block. The game must still
/// resolve for the honest challenger.
#[tokio::test]
async fn both_parties_playing_at_once_resolve_their_game() {
    let mut failures = Vec::new();
    for backend in backends() {
        let b = backend;
        let chain = match backend {
            Backend::Embedded => {
                let config = NodeConfig {
                    mining: Mining::Interval(Duration::from_secs(1)),
                    ..NodeConfig::ephemeral()
                };
                TestChain::embedded_with(config).await
            }
            Backend::Anvil => TestChain::anvil_with(&["--block-time", "1"]),
        }
        .unwrap_or_else(|e| panic!("{b}: {e}"));
        let fx = Fx::on(b, chain).await;
        let spec = fx.spec(Tier::Optimistic).await;
        let t = fx.post(&spec).await;
        let liar = Job::lying(weak(), 0xb1, miscounted(&weak(), &fx.eval, 3));
        fx.commit(B, t, &liar).await;
        fx.warp_past(spec.commit_deadline).await;
        fx.open(t).await;
        fx.reveal(B, t, &liar).await;
        fx.warp_past(spec.reveal_deadline).await;
        let honest = Trace::run(&weak(), &fx.eval).unwrap();
        let game = fx.challenge(V, t, B, &honest).await;

        let (model, eval) = (weak(), fx.eval.clone());
        let played = tokio::try_join!(
            fx.g(B).play(game, addr(B), &liar.trace, &model, &eval, POLL, PATIENCE),
            fx.g(V).play(game, addr(V), &honest, &model, &eval, POLL, PATIENCE),
        );
        match played {
            Ok((claimer, challenger)) => {
                assert_eq!(claimer.winner, Winner::Challenger, "{b}");
                assert_eq!(challenger.winner, Winner::Challenger, "{b}");
                let outcome = fx.g(V).outcome(game).await.unwrap();
                assert_eq!(outcome, (true, Winner::Challenger), "{b}");
            }
            Err(e) => {
                let mut why = format!("{b}: {e}");
                if let alara_compute::Error::Contract(alara_contracts::call::CallError::Failed {
                    tx,
                    ..
                }) = &e
                {
                    let r = fx.ps[POSTER].get_transaction_receipt(*tx).await.unwrap().unwrap();
                    let sent = fx.ps[POSTER].get_transaction_by_hash(*tx).await.unwrap().unwrap();
                    let g = fx.g(V).game(game).await.unwrap();
                    let oog = if r.gas_used == sent.gas_limit() { ": out of gas" } else { "" };
                    why += &format!(
                        " (it used {} of its {} gas{oog}; the game is still in phase {} with \
                         lo {} hi {})",
                        r.gas_used,
                        sent.gas_limit(),
                        g.phase,
                        g.lo,
                        g.hi
                    );
                }
                failures.push(why);
            }
        }
    }
    assert!(failures.is_empty(), "a game played by both sides at once failed: {failures:#?}");
}

// ---------------------------------------------------------------- 5. timeouts and refunds

/// A worker silent in its dispute loses it by `timeout` (its stake is slashed as if it had
/// lied); a challenger silent in its dispute loses its bond to the worker.
#[tokio::test]
async fn a_silent_party_loses_its_dispute_by_timeout() {
    for backend in backends() {
        let b = backend;
        let fx = Fx::start(b).await;
        let spec = fx.spec(Tier::Optimistic).await;
        let t = fx.post(&spec).await;
        let ja = Job::honest(good(), 0xa1, &fx.eval);
        let jb = Job::honest(weak(), 0xb1, &fx.eval);
        fx.commit(A, t, &ja).await;
        fx.commit(B, t, &jb).await;
        fx.warp_past(spec.commit_deadline).await;
        fx.open(t).await;
        fx.reveal(A, t, &ja).await;
        fx.reveal(B, t, &jb).await;
        fx.warp_past(spec.reveal_deadline).await;

        // V disputes A (wrongly, but A never answers); X disputes B and never answers.
        let v_trace = misfed(&good(), &fx.eval);
        let ga = fx.challenge(V, t, A, &v_trace).await;
        let x_trace = miscounted(&weak(), &fx.eval, 1);
        let gb = fx.challenge(X, t, B, &x_trace).await;
        let m = fx.g(V).advance(ga, addr(V), &v_trace, &good(), &fx.eval).await.unwrap();
        assert!(matches!(m, Move::Revealed { mid: 3, .. }), "{b}: {m:?}");
        let m = fx.g(B).advance(gb, addr(B), &jb.trace, &weak(), &fx.eval).await.unwrap();
        assert!(matches!(m, Move::Revealed { mid: 3, .. }), "{b}: {m:?}");
        // Each now waits for the other.
        for (i, g, tr, md) in [(V, ga, &v_trace, good()), (B, gb, &jb.trace, weak())] {
            let m = fx.g(i).advance(g, addr(i), tr, &md, &fx.eval).await.unwrap();
            assert_eq!(m, Move::Wait, "{b}");
        }
        // A timeout before the deadline is refused by the game.
        let deadline = fx.g(V).game(ga).await.unwrap().deadline;
        match game_err(fx.g(STRANGER).timeout(ga).await, b) {
            DisputeGameErrors::DeadlineNotReached(e) => {
                assert_eq!((e.gameId, e.deadline), (ga, deadline), "{b}")
            }
            other => panic!("{b}: expected DeadlineNotReached, got {other:?}"),
        }
        fx.warp_past(deadline.max(fx.g(V).game(gb).await.unwrap().deadline)).await;

        let m = fx.g(V).advance(ga, addr(V), &v_trace, &good(), &fx.eval).await.unwrap();
        assert!(matches!(&m, Move::TimedOut(tx) if tx.value == Winner::Challenger), "{b}: {m:?}");
        let m = fx.g(B).advance(gb, addr(B), &jb.trace, &weak(), &fx.eval).await.unwrap();
        assert!(matches!(&m, Move::TimedOut(tx) if tx.value == Winner::Claimer), "{b}: {m:?}");
        // The late parties find their games over.
        let m = fx.g(A).advance(ga, addr(A), &ja.trace, &good(), &fx.eval).await.unwrap();
        assert_eq!(m, Move::Resolved(Winner::Challenger), "{b}");
        let m = fx.g(X).advance(gb, addr(X), &x_trace, &weak(), &fx.eval).await.unwrap();
        assert_eq!(m, Move::Resolved(Winner::Claimer), "{b}");

        let s = fx.m(STRANGER).settle(t, ga).await.unwrap().value;
        assert_eq!((s.winner, s.invalidated), (Winner::Challenger, true), "{b}");
        let s = fx.m(STRANGER).settle(t, gb).await.unwrap().value;
        assert_eq!((s.winner, s.invalidated), (Winner::Claimer, false), "{b}");
        assert!(fx.m(V).submission(t, addr(A)).await.unwrap().invalid, "{b}");
        assert!(!fx.m(V).submission(t, addr(B)).await.unwrap().invalid, "{b}");

        fx.warp_past(spec.reveal_deadline + WINDOW).await;
        assert_eq!(fx.m(STRANGER).finalize(t).await.unwrap().value, addr(B), "{b}: A is out");
        fx.settle_up(&[
            (B, wei(REWARD + STAKE + STAKE)),
            (V, wei(STAKE / 2 + STAKE)),
            (POSTER, wei(STAKE - STAKE / 2)),
        ])
        .await;
    }
}

/// Missed deadlines: a poster that never opens the set forfeits the reward to the
/// committers in equal shares (the remainder to the first) and every stake returns; with
/// nobody committed the reward returns to the poster; a set opened but never revealed on
/// returns the reward and the unrevealed stakes to the poster.
#[tokio::test]
async fn missed_deadlines_refund() {
    for backend in backends() {
        let b = backend;
        let fx = Fx::start(b).await;
        let spec = fx.spec(Tier::Optimistic).await;
        let never_opened = fx.post(&spec).await;
        let nobody_came = fx.post(&spec).await;
        let nobody_revealed = fx.post(&spec).await;
        for (i, w) in [A, B, C].into_iter().enumerate() {
            let job = Job::honest(good(), 0x10 + i as u8, &fx.eval);
            fx.commit(w, never_opened, &job).await;
        }
        for w in [A, B] {
            fx.commit(w, nobody_revealed, &Job::honest(weak(), 0x20 + w as u8, &fx.eval)).await;
        }
        fx.warp_past(spec.commit_deadline).await;
        fx.open(nobody_revealed).await;
        let job = Job::honest(good(), 0x10, &fx.eval);
        assert_reverts!(
            b,
            fx.m(A).reveal_trace(never_opened, &job.model, job.salt, &job.trace, "m").await,
            EvaluationNotOpen { taskId: never_opened }
        );
        fx.warp_past(spec.reveal_deadline + WINDOW).await;
        for t in [never_opened, nobody_came, nobody_revealed] {
            assert_eq!(fx.m(STRANGER).finalize(t).await.unwrap().value, Address::ZERO, "{b}");
            assert_eq!(fx.m(STRANGER).winner(t).await.unwrap(), (true, Address::ZERO, 0), "{b}");
        }
        let share = REWARD / 3;
        fx.settle_up(&[
            (A, wei(STAKE + share + REWARD % 3)),
            (B, wei(STAKE + share)),
            (C, wei(STAKE + share)),
            (POSTER, wei(REWARD)),
            (POSTER, wei(REWARD + 2 * STAKE)),
        ])
        .await;
    }
}

// ---------------------------------------------------------------- 6. guards

/// The constructor, `postTask`'s parameter checks and payment, and unknown tasks.
#[tokio::test]
async fn posting_guards() {
    for backend in backends() {
        let b = backend;
        let fx = Fx::start(b).await;
        assert_reverts!(
            b,
            Market::deploy_on(fx.ps[POSTER].clone(), addr(STRANGER)).await,
            GameNotAContract { game: addr(STRANGER) }
        );

        let ok = fx.spec(Tier::Optimistic).await;
        let fxr = &fx;
        let post = move |s: TaskSpec| async move { fxr.m(POSTER).post_task(&s).await };
        assert_reverts!(
            b,
            post(TaskSpec { tier: Tier::Trusted, ..ok.clone() }).await,
            InvalidChallengeWindow { tier: 0, challengeWindow: WINDOW }
        );
        assert_reverts!(
            b,
            post(TaskSpec { challenge_window: 0, ..ok.clone() }).await,
            InvalidChallengeWindow { tier: 1, challengeWindow: 0 }
        );
        let mut params = ok.params();
        params.tier = 2;
        assert_reverts!(
            b,
            raw("postTask", fx.m(POSTER).c.postTask(params).value(wei(REWARD))).await,
            InvalidTier { tier: 2 }
        );
        let now = fx.now().await;
        assert_reverts!(
            b,
            post(TaskSpec { commit_deadline: now, ..ok.clone() }).await,
            InvalidDeadlines { commitDeadline: now, revealDeadline: ok.reveal_deadline }
        );
        assert_reverts!(
            b,
            post(TaskSpec { reveal_deadline: ok.commit_deadline, ..ok.clone() }).await,
            InvalidDeadlines {
                commitDeadline: ok.commit_deadline,
                revealDeadline: ok.commit_deadline
            }
        );
        assert_reverts!(b, post(TaskSpec { reward: U256::ZERO, ..ok.clone() }).await, ZeroReward);
        assert_reverts!(b, post(TaskSpec { stake: U256::ZERO, ..ok.clone() }).await, ZeroStake);
        assert_reverts!(b, post(TaskSpec { chunk_count: 0, ..ok.clone() }).await, ZeroChunkCount);
        assert_reverts!(
            b,
            post(TaskSpec { row_count: 1, ..ok.clone() }).await,
            RowCountBelowChunkCount { rowCount: 1, chunkCount: CHUNKS }
        );
        assert_reverts!(b, post(TaskSpec { move_timeout: 0, ..ok.clone() }).await, ZeroMoveTimeout);
        assert_reverts!(
            b,
            post(TaskSpec { eval_commitment: B256::ZERO, ..ok.clone() }).await,
            ZeroCommitment
        );
        for sent in [REWARD - 1, REWARD + 1, 0] {
            let call = fx.m(POSTER).c.postTask(ok.params()).value(wei(sent));
            assert_reverts!(
                b,
                raw("postTask", call).await,
                WrongPayment { expected: wei(REWARD), sent: wei(sent) }
            );
        }

        // Token rewards: no ETH with them, and the whole amount must arrive.
        let supply = wei(10 * REWARD);
        let fot = FeeOnTransferToken::deploy(fx.ps[POSTER].clone(), U256::from(100), supply)
            .await
            .unwrap();
        let token = *fot.address();
        send("approve", &fot.approve(fx.m(POSTER).address(), supply), &[]).await.unwrap();
        let in_token = TaskSpec { token, ..ok.clone() };
        let call = fx.m(POSTER).c.postTask(in_token.params()).value(U256::from(1));
        assert_reverts!(
            b,
            raw("postTask", call).await,
            WrongPayment { expected: U256::ZERO, sent: U256::from(1) }
        );
        assert_reverts!(
            b,
            post(in_token).await,
            FeeOnTransfer {
                token: token,
                expected: wei(REWARD),
                received: wei(REWARD - REWARD / 100)
            }
        );

        // Nothing was posted; every task-taking call knows there is no task 1.
        assert_eq!(fx.m(POSTER).c.taskCount().call().await.unwrap(), U256::ZERO, "{b}");
        let one = U256::from(1);
        assert_reverts!(b, fx.m(A).task(one).await, UnknownTask { taskId: one });
        assert_reverts!(b, fx.m(A).submission(one, addr(A)).await, UnknownTask { taskId: one });
        assert_reverts!(b, fx.m(A).workers(one).await, UnknownTask { taskId: one });
        assert_reverts!(b, fx.m(A).winner(one).await, UnknownTask { taskId: one });
        assert_reverts!(
            b,
            raw("commit", fx.m(A).c.commit(one, B256::repeat_byte(1))).await,
            UnknownTask { taskId: one }
        );
        let call = fx.m(POSTER).c.openEvaluation(one, fx.eval.root(), fx.eval_salt, "e".into());
        assert_reverts!(b, raw("openEvaluation", call).await, UnknownTask { taskId: one });
        let job = Job::honest(good(), 1, &fx.eval);
        assert_reverts!(
            b,
            fx.m(A).reveal_trace(one, &job.model, job.salt, &job.trace, "m").await,
            UnknownTask { taskId: one }
        );
        let call = fx.m(V).c.challenge(one, addr(A), 1, B256::ZERO);
        assert_reverts!(b, raw("challenge", call).await, UnknownTask { taskId: one });
        assert_reverts!(b, fx.m(V).settle(one, one).await, UnknownTask { taskId: one });
        assert_reverts!(b, fx.m(V).finalize(one).await, UnknownTask { taskId: one });

        // The valid spec posts.
        assert_eq!(post(ok).await.unwrap().value, one, "{b}");
    }
}

/// `commit`, `openEvaluation` and `reveal`.
#[tokio::test]
async fn commit_open_and_reveal_guards() {
    for backend in backends() {
        let b = backend;
        let fx = Fx::start(b).await;
        let spec = fx.spec(Tier::Optimistic).await;
        let t = fx.post(&spec).await;
        let never_opened = fx.post(&spec).await;
        let ja = Job::honest(good(), 0xa1, &fx.eval);
        let jb = Job::honest(weak(), 0xb1, &fx.eval);
        let jc = Job::honest(weak(), 0xc1, &fx.eval);

        // Before the commit deadline.
        let poster_c = fx.m(POSTER).commitment(t, addr(POSTER), &ja.model, ja.salt).await.unwrap();
        assert_reverts!(b, fx.m(POSTER).commit(t, poster_c).await, PosterCannotWork { taskId: t });
        assert_reverts!(b, fx.m(A).commit(t, B256::ZERO).await, ZeroCommitment);
        let ca = fx.commit(A, t, &ja).await;
        assert_reverts!(
            b,
            fx.m(A).commit(t, ca).await,
            AlreadyCommitted { taskId: t, worker: addr(A) }
        );
        let other = fx.m(A).commitment(t, addr(A), &jb.model, jb.salt).await.unwrap();
        assert_reverts!(b, fx.m(A).commit(t, other).await, AlreadyCommitted);
        let cb = fx.m(B).commitment(t, addr(B), &jb.model, jb.salt).await.unwrap();
        for sent in [STAKE - 1, STAKE + 1, 0] {
            let call = fx.m(B).c.commit(t, cb).value(wei(sent));
            assert_reverts!(
                b,
                raw("commit", call).await,
                WrongPayment { expected: wei(STAKE), sent: wei(sent) }
            );
        }
        fx.commit(B, t, &jb).await;
        fx.commit(C, t, &jc).await;
        assert_reverts!(
            b,
            fx.m(A).reveal_trace(t, &ja.model, ja.salt, &ja.trace, "m").await,
            EvaluationNotOpen { taskId: t }
        );
        assert_reverts!(
            b,
            fx.m(A).open_evaluation(t, &fx.eval, fx.eval_salt, "e").await,
            NotPoster { taskId: t, caller: addr(A) }
        );
        assert_reverts!(
            b,
            fx.m(POSTER).open_evaluation(t, &fx.eval, fx.eval_salt, "e").await,
            TooEarly { taskId: t, opensAt: U256::from(spec.commit_deadline) }
        );

        fx.warp_past(spec.commit_deadline).await;
        let late = fx.m(STRANGER).commitment(t, addr(STRANGER), &ja.model, ja.salt).await.unwrap();
        assert_reverts!(
            b,
            fx.m(STRANGER).commit(t, late).await,
            TooLate { taskId: t, closedAt: U256::from(spec.commit_deadline) }
        );
        assert_reverts!(
            b,
            fx.m(A).open_evaluation(t, &fx.eval, fx.eval_salt, "e").await,
            NotPoster { taskId: t, caller: addr(A) }
        );
        assert_reverts!(
            b,
            fx.m(POSTER).open_evaluation(t, &fx.eval, B256::repeat_byte(0x01), "e").await,
            EvalCommitmentMismatch { taskId: t }
        );
        let mut other_set = fx.eval.clone();
        other_set.chunks[1].labels.data[0] = 1;
        assert_reverts!(
            b,
            fx.m(POSTER).open_evaluation(t, &other_set, fx.eval_salt, "e").await,
            EvalCommitmentMismatch { taskId: t }
        );
        fx.open(t).await;
        assert_reverts!(
            b,
            fx.m(POSTER).open_evaluation(t, &fx.eval, fx.eval_salt, "e").await,
            EvaluationAlreadyOpen { taskId: t }
        );

        // Reveals.
        assert_reverts!(
            b,
            fx.m(STRANGER).reveal_trace(t, &ja.model, ja.salt, &ja.trace, "m").await,
            NotCommitted { taskId: t, worker: addr(STRANGER) }
        );
        assert_reverts!(
            b,
            fx.m(A).reveal_trace(t, &ja.model, jb.salt, &ja.trace, "m").await,
            CommitmentMismatch { taskId: t, worker: addr(A) }
        );
        assert_reverts!(
            b,
            fx.m(A).reveal_trace(t, &jb.model, ja.salt, &ja.trace, "m").await,
            CommitmentMismatch { taskId: t, worker: addr(A) }
        );
        let zero_layers =
            fx.m(A).c.reveal(t, 0, ja.model.layers_root(), ja.salt, 1, ja.trace.root(), "m".into());
        assert_reverts!(b, raw("reveal", zero_layers).await, InvalidLayerCount { layerCount: 0 });
        assert_reverts!(
            b,
            fx.m(A).reveal(t, &ja.model, ja.salt, ROWS + 1, ja.trace.root(), "m").await,
            CountAboveRows { correct: ROWS + 1, rowCount: ROWS }
        );
        // A full count is a claim like any other.
        fx.m(A).reveal(t, &ja.model, ja.salt, ROWS, ja.trace.root(), "m").await.unwrap();
        // The same reveal, replayed.
        assert_reverts!(
            b,
            fx.m(A).reveal(t, &ja.model, ja.salt, ROWS, ja.trace.root(), "m").await,
            AlreadyRevealed { taskId: t, worker: addr(A) }
        );
        assert_reverts!(
            b,
            fx.m(A).reveal_trace(t, &ja.model, ja.salt, &ja.trace, "m").await,
            AlreadyRevealed { taskId: t, worker: addr(A) }
        );
        fx.reveal(B, t, &jb).await;

        fx.warp_past(spec.reveal_deadline).await;
        assert_reverts!(
            b,
            fx.m(C).reveal_trace(t, &jc.model, jc.salt, &jc.trace, "m").await,
            TooLate { taskId: t, closedAt: U256::from(spec.reveal_deadline) }
        );
        assert_reverts!(
            b,
            fx.m(POSTER).open_evaluation(never_opened, &fx.eval, fx.eval_salt, "e").await,
            TooLate { taskId: never_opened, closedAt: U256::from(spec.reveal_deadline) }
        );
        let s = fx.m(A).submission(t, addr(A)).await.unwrap();
        assert_eq!((s.correct, s.revealOrder), (ROWS, 1), "{b}: the refused calls changed nothing");
    }
}

/// `challenge`, `settleDispute`, `finalize` and `withdraw`.
#[tokio::test]
async fn challenge_settle_finalize_and_withdraw_guards() {
    for backend in backends() {
        let b = backend;
        let fx = Fx::start(b).await;
        let spec = fx.spec(Tier::Optimistic).await;
        let t = fx.post(&spec).await;
        let trusted_spec = TaskSpec { challenge_window: 0, tier: Tier::Trusted, ..spec.clone() };
        let trusted = fx.post(&trusted_spec).await;
        let ja = Job::honest(good(), 0xa1, &fx.eval);
        let jb = Job::honest(weak(), 0xb1, &fx.eval);
        let jc = Job::honest(weak(), 0xc1, &fx.eval);
        for task in [t, trusted] {
            fx.commit(A, task, &ja).await;
            fx.commit(B, task, &jb).await;
        }
        fx.commit(C, t, &jc).await;
        fx.warp_past(spec.commit_deadline).await;
        for task in [t, trusted] {
            fx.open(task).await;
            fx.reveal(A, task, &ja).await;
            fx.reveal(B, task, &jb).await;
        }
        let wrong = misfed(&good(), &fx.eval);
        let wrong_count = u32::try_from(wrong.correct()).unwrap();

        // Before the reveal deadline.
        assert_reverts!(
            b,
            fx.m(V).challenge(trusted, addr(A), wrong_count, wrong.root()).await,
            NotOptimistic { taskId: trusted }
        );
        assert_reverts!(
            b,
            fx.m(V).challenge(t, addr(A), wrong_count, wrong.root()).await,
            TooEarly { taskId: t, opensAt: U256::from(spec.reveal_deadline) }
        );
        assert_reverts!(
            b,
            fx.m(V).finalize(trusted).await,
            TooEarly { taskId: trusted, opensAt: U256::from(spec.reveal_deadline) }
        );
        assert_reverts!(
            b,
            fx.m(V).finalize(t).await,
            TooEarly { taskId: t, opensAt: U256::from(spec.reveal_deadline + WINDOW) }
        );

        fx.warp_past(spec.reveal_deadline).await;
        // The Trusted task is final now, once.
        assert_eq!(fx.m(V).finalize(trusted).await.unwrap().value, addr(A), "{b}");
        assert_reverts!(b, fx.m(V).finalize(trusted).await, AlreadyFinalized { taskId: trusted });
        assert_reverts!(
            b,
            fx.m(V).challenge(trusted, addr(A), wrong_count, wrong.root()).await,
            NotOptimistic { taskId: trusted }
        );

        assert_reverts!(
            b,
            fx.m(V).challenge(t, addr(C), 1, wrong.root()).await,
            NotRevealed { taskId: t, worker: addr(C) }
        );
        assert_reverts!(
            b,
            fx.m(V).challenge(t, addr(STRANGER), 1, wrong.root()).await,
            NotRevealed { taskId: t, worker: addr(STRANGER) }
        );
        assert_reverts!(
            b,
            fx.m(A).challenge(t, addr(A), wrong_count, wrong.root()).await,
            SelfChallenge { taskId: t, worker: addr(A) }
        );
        assert_reverts!(
            b,
            fx.m(V).challenge(t, addr(A), GOOD_COUNT, wrong.root()).await,
            CountsAgree { count: GOOD_COUNT }
        );
        for sent in [STAKE - 1, STAKE + 1, 0] {
            let call = fx.m(V).c.challenge(t, addr(A), wrong_count, wrong.root()).value(wei(sent));
            assert_reverts!(
                b,
                raw("challenge", call).await,
                WrongPayment { expected: wei(STAKE), sent: wei(sent) }
            );
        }
        let g1 = fx.challenge(V, t, A, &wrong).await;
        assert_reverts!(
            b,
            fx.m(V).challenge(t, addr(A), wrong_count - 1, wrong.root()).await,
            AlreadyChallenged { taskId: t, worker: addr(A), challenger: addr(V), gameId: g1 }
        );
        assert_reverts!(b, fx.m(V).settle(t, g1).await, GameNotResolved { gameId: g1 });
        assert_reverts!(
            b,
            fx.m(V).settle(trusted, g1).await,
            UnknownDispute { taskId: trusted, gameId: g1 }
        );
        let missing = g1 + U256::from(100);
        assert_reverts!(
            b,
            fx.m(V).settle(t, missing).await,
            UnknownDispute { taskId: t, gameId: missing }
        );
        // A game opened on the same DisputeGame by someone else is not the market's.
        let foreign = fx
            .g(STRANGER)
            .open(DisputeGame::GameParams {
                claimer: addr(A),
                challenger: addr(V),
                layerCount: 2,
                layersRoot: ja.model.layers_root(),
                evalRoot: fx.eval.root(),
                chunkCount: CHUNKS,
                claimerTraceRoot: ja.trace.root(),
                challengerTraceRoot: wrong.root(),
                claimedCorrect: GOOD_COUNT,
                challengerCorrect: wrong_count,
                moveTimeout: 1,
            })
            .await
            .unwrap()
            .value;
        assert_reverts!(
            b,
            fx.m(V).settle(t, foreign).await,
            UnknownDispute { taskId: t, gameId: foreign }
        );

        // V wins by A's silence, inside the window; settled once.
        fx.g(V).advance(g1, addr(V), &wrong, &good(), &fx.eval).await.unwrap();
        fx.warp_past(fx.g(V).game(g1).await.unwrap().deadline).await;
        assert_eq!(fx.g(STRANGER).timeout(g1).await.unwrap().value, Winner::Challenger, "{b}");
        assert!(fx.m(V).settle(t, g1).await.unwrap().value.invalidated, "{b}");
        assert_reverts!(b, fx.m(V).settle(t, g1).await, AlreadySettled { gameId: g1 });
        assert_reverts!(
            b,
            fx.m(X).challenge(t, addr(A), 1, wrong.root()).await,
            SubmissionInvalid { taskId: t, worker: addr(A) }
        );

        // A game still open when the window closes holds finalize up.
        let bad = miscounted(&weak(), &fx.eval, 2);
        let g2 = fx.challenge(X, t, B, &bad).await;
        fx.warp_past(spec.reveal_deadline + WINDOW - 1).await;
        assert_reverts!(
            b,
            fx.m(V).challenge(t, addr(B), 1, wrong.root()).await,
            TooLate { taskId: t, closedAt: U256::from(spec.reveal_deadline + WINDOW) }
        );
        assert_reverts!(
            b,
            fx.m(V).finalize(t).await,
            UnsettledGames { taskId: t, count: U256::from(1) }
        );
        fx.warp_past(fx.g(X).game(g2).await.unwrap().deadline).await;
        assert_eq!(fx.g(STRANGER).timeout(g2).await.unwrap().value, Winner::Challenger, "{b}");
        fx.m(STRANGER).settle(t, g2).await.unwrap();
        assert_reverts!(b, fx.m(STRANGER).settle(t, g2).await, AlreadySettled { gameId: g2 });
        // Both revealed claims are disproven: nobody wins, the reward returns to the poster.
        assert_eq!(fx.m(V).finalize(t).await.unwrap().value, Address::ZERO, "{b}");
        assert_reverts!(b, fx.m(V).finalize(t).await, AlreadyFinalized { taskId: t });
        assert_reverts!(
            b,
            fx.m(STRANGER).withdraw(some_token()).await,
            NothingToWithdraw { account: addr(STRANGER), token: some_token() }
        );

        let half = STAKE / 2;
        fx.settle_up(&[
            // The Trusted task: A's reward and stake, B's stake.
            (A, wei(REWARD + STAKE)),
            (B, wei(STAKE)),
            // The Optimistic one: both slashed, C never revealed, nobody won.
            (V, wei(half + STAKE)),
            (X, wei(half + STAKE)),
            (POSTER, wei(2 * (STAKE - half) + STAKE + REWARD)),
        ])
        .await;
    }
}

/// A token address nobody is owed anything in.
fn some_token() -> Address {
    Address::repeat_byte(0x70)
}

// ---------------------------------------------------------------- 7. reentrancy

/// A worker contract wins one task and is refunded on another; each time it withdraws, its
/// `receive` tries to re-enter the market (`withdraw` again, then `finalize` of a task ready
/// to finalize): both re-entries revert with OpenZeppelin's `ReentrancyGuardReentrantCall`,
/// and it is paid exactly its due, once.
/// A payee whose `receive` reverts: `withdraw` fails with `TransferFailed` and the credit
/// stays, to be withdrawn in full once it accepts ETH again. Nothing is lost either way.
#[tokio::test]
async fn a_payee_that_refuses_eth_keeps_its_credit() {
    for backend in backends() {
        let b = backend;
        let fx = Fx::start(b).await;
        let p = fx.ps[STRANGER].clone();
        let payee = ReentrantWorker::deploy(p.clone()).await.unwrap();
        let me = *payee.address();
        let market = fx.m(STRANGER).address();
        let exec = |data: Vec<u8>, value: U256| {
            let call = payee.execute(market, Bytes::from(data)).value(value);
            async move { raw("execute", call).await }
        };
        // Its only committer, on a task whose set is never opened: owed stake and reward.
        let spec = fx.spec(Tier::Optimistic).await;
        let task = fx.post(&spec).await;
        let job = Job::honest(good(), 0x78, &fx.eval);
        let c = fx.m(STRANGER).commitment(task, me, &job.model, job.salt).await.unwrap();
        exec(ComputeMarket::commitCall { taskId: task, commitment: c }.abi_encode(), wei(STAKE))
            .await
            .unwrap();
        fx.warp_past(spec.reveal_deadline + WINDOW).await;
        fx.m(STRANGER).finalize(task).await.unwrap();
        let due = wei(STAKE + REWARD);
        assert_eq!(fx.m(STRANGER).owed(me, Address::ZERO).await.unwrap(), due, "{b}");

        send("refuse", &payee.refuse(true), &[]).await.unwrap();
        let withdraw = ComputeMarket::withdrawCall { token: Address::ZERO }.abi_encode();
        let held = fx.market_balance().await;
        assert_reverts!(
            b,
            exec(withdraw.clone(), U256::ZERO).await,
            TransferFailed { to: me, amount: due }
        );
        assert_eq!(fx.m(STRANGER).owed(me, Address::ZERO).await.unwrap(), due, "{b}: kept");
        assert_eq!(fx.market_balance().await, held, "{b}: nothing left the market");

        send("refuse", &payee.refuse(false), &[]).await.unwrap();
        let before = fx.balance(me).await;
        exec(withdraw, U256::ZERO).await.unwrap();
        assert_eq!(fx.balance(me).await, before + due, "{b}: paid in full");
        assert_eq!(fx.m(STRANGER).owed(me, Address::ZERO).await.unwrap(), U256::ZERO, "{b}");
    }
}

#[tokio::test]
async fn a_reentrant_worker_is_paid_once() {
    for backend in backends() {
        let b = backend;
        let fx = Fx::start(b).await;
        let p = fx.ps[STRANGER].clone();
        let attacker = ReentrantWorker::deploy(p.clone()).await.unwrap();
        let me = *attacker.address();
        let market = fx.m(STRANGER).address();
        let exec = |data: Vec<u8>, value: U256| {
            let call = attacker.execute(market, Bytes::from(data)).value(value);
            async move { raw("execute", call).await }
        };

        let spec = fx.spec(Tier::Optimistic).await;
        let won = fx.post(&spec).await;
        let refunded = fx.post(&spec).await;
        let spare = fx.post(&spec).await;
        let mine = Job::honest(good(), 0x77, &fx.eval);
        let other = Job::honest(weak(), 0xb1, &fx.eval);
        for task in [won, refunded] {
            let c = fx.m(STRANGER).commitment(task, me, &mine.model, mine.salt).await.unwrap();
            exec(
                ComputeMarket::commitCall { taskId: task, commitment: c }.abi_encode(),
                wei(STAKE),
            )
            .await
            .unwrap();
        }
        fx.commit(B, won, &other).await;
        assert_eq!(fx.m(B).workers(won).await.unwrap(), vec![me, addr(B)], "{b}");
        fx.warp_past(spec.commit_deadline).await;
        fx.open(won).await;
        let reveal = ComputeMarket::revealCall {
            taskId: won,
            layerCount: 2,
            layersRoot: mine.model.layers_root(),
            salt: mine.salt,
            correct: mine.count(),
            traceRoot: mine.trace.root(),
            modelCid: "bafkreiattacker".into(),
        };
        exec(reveal.abi_encode(), U256::ZERO).await.unwrap();
        fx.reveal(B, won, &other).await;
        fx.warp_past(spec.reveal_deadline + WINDOW).await;
        assert_eq!(fx.m(STRANGER).finalize(won).await.unwrap().value, me, "{b}");

        // First payout: the win. Re-enter `withdraw`.
        let withdraw = ComputeMarket::withdrawCall { token: Address::ZERO }.abi_encode();
        let due = wei(REWARD + STAKE);
        assert_eq!(fx.m(STRANGER).owed(me, Address::ZERO).await.unwrap(), due, "{b}");
        send("arm", &attacker.arm(market, withdraw.clone().into()), &[]).await.unwrap();
        let (before, held) = (fx.balance(me).await, fx.market_balance().await);
        exec(withdraw.clone(), U256::ZERO).await.unwrap();
        assert_eq!(fx.balance(me).await, before + due, "{b}: paid its due");
        assert_eq!(fx.market_balance().await, held - due, "{b}: and no more");
        assert_eq!(attacker.reentries().call().await.unwrap(), U256::from(1), "{b}");
        assert!(!attacker.reentrySucceeded().call().await.unwrap(), "{b}: re-entered withdraw");
        let data = attacker.reentryRevertData().call().await.unwrap();
        assert!(
            matches!(
                ComputeMarketErrors::abi_decode(&data),
                Ok(ComputeMarketErrors::ReentrancyGuardReentrantCall(_))
            ),
            "{b}: {}",
            describe_revert(&data, MARKET_DECODERS)
        );
        assert_eq!(fx.m(STRANGER).owed(me, Address::ZERO).await.unwrap(), U256::ZERO, "{b}");
        assert_reverts!(
            b,
            exec(withdraw.clone(), U256::ZERO).await,
            NothingToWithdraw { account: me, token: Address::ZERO }
        );

        // Second payout: the refund of a task never opened (its stake and the whole reward,
        // as its only committer). Re-enter `finalize` of a task that is ready for it.
        assert_eq!(fx.m(STRANGER).finalize(refunded).await.unwrap().value, Address::ZERO, "{b}");
        let due = wei(STAKE + REWARD);
        assert_eq!(fx.m(STRANGER).owed(me, Address::ZERO).await.unwrap(), due, "{b}");
        let finalize = ComputeMarket::finalizeCall { taskId: spare }.abi_encode();
        send("arm", &attacker.arm(market, finalize.into()), &[]).await.unwrap();
        let (before, held) = (fx.balance(me).await, fx.market_balance().await);
        exec(withdraw, U256::ZERO).await.unwrap();
        assert_eq!(fx.balance(me).await, before + due, "{b}: paid its refund");
        assert_eq!(fx.market_balance().await, held - due, "{b}");
        assert_eq!(attacker.reentries().call().await.unwrap(), U256::from(2), "{b}");
        assert!(!attacker.reentrySucceeded().call().await.unwrap(), "{b}: re-entered finalize");
        let data = attacker.reentryRevertData().call().await.unwrap();
        assert!(
            matches!(
                ComputeMarketErrors::abi_decode(&data),
                Ok(ComputeMarketErrors::ReentrancyGuardReentrantCall(_))
            ),
            "{b}: {}",
            describe_revert(&data, MARKET_DECODERS)
        );
        // The re-entered finalize did nothing; from outside it works.
        assert!(!fx.m(STRANGER).task(spare).await.unwrap().finalized, "{b}");
        assert_eq!(fx.m(STRANGER).finalize(spare).await.unwrap().value, Address::ZERO, "{b}");

        // The rest: B's stake, the spare task's reward back to the poster.
        fx.settle_up(&[(B, wei(STAKE)), (POSTER, wei(REWARD))]).await;
        // Everything it holds is what it was due: its stakes came from its driver.
        assert_eq!(fx.balance(me).await, wei(2 * (REWARD + STAKE)), "{b}");
    }
}
