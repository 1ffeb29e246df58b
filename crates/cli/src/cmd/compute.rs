//! `alara compute …`: verifiable compute tasks on ComputeMarket, as the account of
//! `--account`/`--keystore` on the chain of `--rpc-url`, with this data directory's store.
//! A poster submits, opens the held-out set after the commit deadline and finalizes; a
//! worker process trains, commits, reveals and defends its claim; a validator process
//! re-executes every claim and disputes a wrong one down to one operator re-executed
//! on-chain.

use std::sync::Arc;
use std::time::Duration;

use alara_compute::party::{self, Chain, Poster, TaskSpec, Validator, Worker, WorkerConfig};
use alara_compute::recipe::Recipe;
use alloy::primitives::{Address, U256};
use alloy::providers::DynProvider;
use eyre::WrapErr;
use serde::Serialize;

use crate::context::Context;

#[derive(clap::Subcommand, Debug)]
#[command(after_help = "Examples:
  alara compute submit --recipe mlp --dataset breast_cancer --reward 1 --stake 0.1
  alara compute --account 1 worker --listen 127.0.0.1:7101 &
  alara compute --account 3 validate --peer http://127.0.0.1:7101 &
  alara compute open 1          (after the commit deadline: publishes the held-out set)
  alara compute status 1
  alara compute finalize 1      (after the challenge window)")]
/// Verifiable compute commands.
pub enum Command {
    /// Post a task: train a recipe on a dataset; the best count on a held-out set wins.
    Submit(SubmitArgs),
    /// As the poster: publish and open the held-out set (after the commit deadline).
    Open {
        /// Task id.
        task: u64,
    },
    /// Settle a task once its challenge window has passed: pay the winner, refund stakes.
    Finalize {
        /// Task id.
        task: u64,
    },
    /// Run a worker: train, commit, reveal and defend claims, until Ctrl-C.
    Worker(WorkerArgs),
    /// Run a validator: re-execute every claim, challenge wrong ones, play the games.
    Validate(ValidateArgs),
    /// Tasks, or one task with its submissions and disputes.
    Status {
        /// Task id (default: every task).
        task: Option<u64>,
    },
    /// Withdraw what this account is owed (rewards, returned stakes, slashed shares).
    Withdraw,
}

/// Arguments of `alara compute submit`.
#[derive(clap::Args, Debug)]
pub struct SubmitArgs {
    /// The recipe: `logistic` or `mlp`.
    #[arg(long, default_value = "mlp")]
    recipe: String,
    /// A shipped dataset (`breast_cancer`, `digits`) or a CSV file (last column `label`).
    #[arg(long, default_value = "breast_cancer")]
    dataset: String,
    /// Reward in ETH, escrowed now.
    #[arg(long, default_value = "1")]
    reward: String,
    /// Each worker's stake and each challenger's bond, in ETH.
    #[arg(long, default_value = "0.1")]
    stake: String,
    /// Fraction of the dataset held out for scoring.
    #[arg(long, default_value_t = 0.2)]
    eval_fraction: f64,
    /// Rows per evaluation chunk (one dispute step scores one chunk).
    #[arg(long, default_value_t = 16)]
    chunk_rows: usize,
    /// Seconds until the commit deadline.
    #[arg(long, default_value_t = 600)]
    commit_window: u64,
    /// Seconds from the commit deadline to the reveal deadline.
    #[arg(long, default_value_t = 600)]
    reveal_window: u64,
    /// Seconds claims may be disputed after the reveal deadline (0: trusted tier, no disputes).
    #[arg(long, default_value_t = 600)]
    challenge_window: u64,
    /// Seconds each dispute move may take.
    #[arg(long, default_value_t = 300)]
    move_timeout: u64,
}

/// Arguments of `alara compute worker`.
#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    /// Serve published models and status over HTTP here (e.g. 127.0.0.1:7101).
    #[arg(long)]
    listen: Option<String>,
    /// Training seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seconds between passes over the tasks.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// One pass, then exit.
    #[arg(long)]
    once: bool,
    /// Demonstration only: claim this many more correct answers than the model gets.
    #[arg(long, default_value_t = 0, hide = true)]
    inflate: u64,
}

/// Arguments of `alara compute validate`.
#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// A worker's HTTP endpoint to fetch models from (repeatable).
    #[arg(long)]
    peer: Vec<String>,
    /// Seconds between passes.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// One pass, then exit.
    #[arg(long)]
    once: bool,
}

/// Parses an ETH amount (`1`, `0.25`) into wei.
pub fn parse_eth(s: &str) -> eyre::Result<U256> {
    alloy::primitives::utils::parse_ether(s.trim())
        .map_err(|e| eyre::eyre!("{s:?} is not an amount of ETH ({e}); write e.g. 1 or 0.25"))
}

/// The compute contracts of this chain, deployed (and recorded in the address book) on
/// first use, as the connected account.
pub async fn chain(
    ctx: &Context,
    p: &DynProvider,
    me: Address,
) -> eyre::Result<Chain<DynProvider>> {
    let game = alara_contracts::deploy::ensure(p, &ctx.data_dir, "DisputeGame", || async {
        let g = alara_contracts::DisputeGame::deploy(p.clone())
            .await
            .map_err(alara_contracts::Error::from)?;
        Ok::<_, eyre::Report>(*g.address())
    })
    .await?;
    let market = alara_contracts::deploy::ensure(p, &ctx.data_dir, "ComputeMarket", || async {
        let m = alara_contracts::ComputeMarket::deploy(p.clone(), game)
            .await
            .map_err(alara_contracts::Error::from)?;
        Ok::<_, eyre::Report>(*m.address())
    })
    .await?;
    let _ = game;
    Ok(Chain::at(p.clone(), me, market).await?)
}

fn open_store(ctx: &Context) -> eyre::Result<alara_store::Store<alara_store::FsBlockstore>> {
    crate::cmd::nft::open_store(ctx)
}

fn dataset(name: &str) -> eyre::Result<alara_ml::Dataset> {
    let path = std::path::Path::new(name);
    if path.extension().is_some_and(|e| e == "csv") || path.exists() {
        return alara_ml::datasets::load_csv(path)
            .wrap_err_with(|| format!("reading the dataset {}", path.display()));
    }
    Ok(alara_ml::datasets::by_name(name)?)
}

#[derive(Serialize)]
struct TaskRow {
    id: u64,
    phase: &'static str,
    poster: String,
    reward_wei: String,
    stake_wei: String,
    rows: u32,
    chunks: u32,
    evaluation_open: bool,
    commit_deadline: u64,
    reveal_deadline: u64,
    challenge_ends: u64,
    winner: Option<String>,
    submissions: Vec<SubmissionRow>,
}

#[derive(Serialize)]
struct SubmissionRow {
    worker: String,
    revealed: bool,
    invalid: bool,
    correct: u32,
    model_cid: String,
}

async fn task_row(c: &Chain<DynProvider>, id: u64, now: u64) -> eyre::Result<TaskRow> {
    let t = c.task(id).await?;
    let mut submissions = Vec::new();
    for w in c.workers(id).await? {
        let s = c.submission(id, w).await?;
        submissions.push(SubmissionRow {
            worker: format!("{w:#x}"),
            revealed: s.revealed,
            invalid: s.invalid,
            correct: s.correct,
            model_cid: s.modelCid,
        });
    }
    Ok(TaskRow {
        id,
        phase: party::phase(&t, now),
        poster: format!("{:#x}", t.poster),
        reward_wei: t.reward.to_string(),
        stake_wei: t.stake.to_string(),
        rows: t.rowCount,
        chunks: t.chunkCount,
        evaluation_open: t.evaluationOpen,
        commit_deadline: t.commitDeadline,
        reveal_deadline: t.revealDeadline,
        challenge_ends: t.revealDeadline + t.challengeWindow,
        winner: (t.finalized && t.winner != Address::ZERO).then(|| format!("{:#x}", t.winner)),
        submissions,
    })
}

/// Runs `alara compute …`.
pub async fn run(ctx: &Context, command: Command) -> eyre::Result<()> {
    let conn = ctx.connect().await?;
    let p = conn.provider.clone();
    let c = chain(ctx, &p, conn.signer).await?;
    match command {
        Command::Submit(a) => {
            let spec = TaskSpec {
                recipe: Recipe::by_name(&a.recipe)?,
                eval_fraction: a.eval_fraction,
                chunk_rows: a.chunk_rows,
                seed: 7,
                reward: parse_eth(&a.reward)?,
                stake: parse_eth(&a.stake)?,
                commit_s: a.commit_window,
                reveal_s: a.reveal_window,
                challenge_s: a.challenge_window,
                move_s: a.move_timeout,
            };
            let data = dataset(&a.dataset)?;
            let poster =
                Poster { chain: c, store: open_store(ctx)?, dir: party::poster_dir(&ctx.data_dir) };
            let id = poster.post(&spec, &data).await?;
            ctx.emit(&serde_json::json!({ "task": id }), || {
                println!(
                    "task {id} posted: {} on {} ({} rows held out), reward {} ETH; commit within {} s",
                    a.recipe, a.dataset, ((data.len() as f64) * a.eval_fraction).ceil(), a.reward, a.commit_window
                );
                println!("open the held-out set after the commit deadline: alara compute open {id}");
            })
        }
        Command::Open { task } => {
            let poster =
                Poster { chain: c, store: open_store(ctx)?, dir: party::poster_dir(&ctx.data_dir) };
            let m = poster.open(task).await?;
            ctx.emit(&m, || println!("task {task}: {}", m.what))
        }
        Command::Finalize { task } => {
            let poster = Poster {
                chain: c.clone(),
                store: open_store(ctx)?,
                dir: party::poster_dir(&ctx.data_dir),
            };
            let m = poster.finalize(task).await?;
            let now = party::chain_now(&p).await?;
            let row = task_row(&c, task, now).await?;
            ctx.emit(&row, || {
                println!(
                    "task {task}: {}; winner {}",
                    m.what,
                    row.winner.clone().unwrap_or_else(|| "none".into())
                );
                println!("everyone paid withdraws with: alara compute --account N withdraw");
            })
        }
        Command::Withdraw => {
            let amount = c.withdraw(Address::ZERO).await?;
            ctx.emit(&serde_json::json!({ "withdrawn_wei": amount.to_string() }), || {
                println!("withdrew {} ETH", alloy::primitives::utils::format_ether(amount))
            })
        }
        Command::Status { task } => {
            let now = party::chain_now(&p).await?;
            let ids: Vec<u64> = match task {
                Some(t) => vec![t],
                None => (1..=c.task_count().await?).rev().take(50).collect(),
            };
            let mut rows = Vec::new();
            for id in ids {
                rows.push(task_row(&c, id, now).await?);
            }
            ctx.emit(&rows, || {
                if rows.is_empty() {
                    println!("no tasks yet: alara compute submit --help");
                }
                for r in &rows {
                    println!(
                        "task {}: {} · {} rows in {} chunks · reward {} ETH · winner {}",
                        r.id,
                        r.phase,
                        r.rows,
                        r.chunks,
                        alloy::primitives::utils::format_ether(
                            r.reward_wei.parse::<U256>().unwrap_or_default()
                        ),
                        r.winner.clone().unwrap_or_else(|| "-".into())
                    );
                    for s in &r.submissions {
                        let state = if s.invalid {
                            "INVALID"
                        } else if s.revealed {
                            "revealed"
                        } else {
                            "committed"
                        };
                        println!(
                            "  {} {state} {}",
                            s.worker,
                            if s.revealed {
                                format!("{} correct", s.correct)
                            } else {
                                String::new()
                            }
                        );
                    }
                }
            })
        }
        Command::Worker(a) => {
            let store = open_store(ctx)?;
            let shared = Arc::new(alara_compute::net::Shared {
                store: open_store(ctx)?,
                status: parking_lot::Mutex::new(alara_compute::net::Status {
                    address: format!("{:#x}", conn.signer),
                    ..Default::default()
                }),
            });
            if let Some(listen) = &a.listen {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .wrap_err_with(|| format!("listening on {listen}"))?;
                let url = format!("http://{}", listener.local_addr()?);
                if !ctx.json {
                    println!("worker {:#x} serving its models at {url}", conn.signer);
                }
                let router = alara_compute::net::router(shared.clone());
                tokio::spawn(async move { axum::serve(listener, router).await });
            }
            let dir = party::worker_dir(&ctx.data_dir, conn.signer);
            let mut w = Worker::new(c, store, WorkerConfig { seed: a.seed, inflate: a.inflate })
                .persist_in(dir);
            loop {
                let moves = w.tick().await;
                if let Ok(moves) = &moves {
                    let mut st = shared.status.lock();
                    st.models = w.models();
                    st.moves.extend(moves.iter().cloned());
                    let excess = st.moves.len().saturating_sub(200);
                    st.moves.drain(..excess);
                }
                if !report(ctx, moves.map_err(Into::into), a.once, a.interval).await? {
                    return Ok(());
                }
            }
        }
        Command::Validate(a) => {
            let mut v = Validator::new(c, open_store(ctx)?, a.peer.clone());
            loop {
                let moves = v.tick().await;
                if !report(ctx, moves.map_err(Into::into), a.once, a.interval).await? {
                    return Ok(());
                }
            }
        }
    }
}

/// Prints a pass's moves, then waits `interval` seconds; `false` when the loop should
/// stop (`--once`, Ctrl-C). A failed pass (a node restarting, a peer down) is reported and
/// retried, except with `--once`.
async fn report(
    ctx: &Context,
    moves: eyre::Result<Vec<party::Move>>,
    once: bool,
    interval: f64,
) -> eyre::Result<bool> {
    match moves {
        Ok(moves) => {
            for m in moves {
                if ctx.json {
                    println!("{}", serde_json::to_string(&m)?);
                } else {
                    let gas = m.gas.map(|g| format!(" ({g} gas)")).unwrap_or_default();
                    println!("task {}: {}{gas}", m.task, m.what);
                }
            }
        }
        Err(e) if !once => eprintln!("warning: {e:#}"),
        Err(e) => return Err(e),
    }
    if once {
        return Ok(false);
    }
    let interval = Duration::from_secs_f64(interval.clamp(0.05, 3600.0));
    tokio::select! {
        _ = tokio::time::sleep(interval) => Ok(true),
        _ = tokio::signal::ctrl_c() => Ok(false),
    }
}
