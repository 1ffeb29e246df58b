//! `alara demo compute`: a verifiable compute task from post to payout, on the chain of
//! `--rpc-url` (the data directory's node, or its chain opened in this process).
//!
//! A poster posts a task on ComputeMarket: train the MLP recipe on 80% of the shipped
//! breast-cancer set, scored on the held-out 20% (committed, not published), 1 ETH reward,
//! 0.1 ETH stakes. Two workers train and commit; after the commit deadline the poster opens
//! the held-out set; both reveal their count of correct answers and the Merkle root of their
//! evaluation trace. One of them lies (it adds 5 to its count by faking its last score
//! step). The validator re-executes both claims, finds the lie and challenges it with its
//! own trace; the two play DisputeGame's bisection to the first diverging step, which the
//! chain re-executes — one operator, in Solidity fixed point. The liar loses its stake (half
//! to the validator), the honest worker wins the reward. The chain's clock is moved on
//! between phases (a dev chain's `evm_increaseTime`).

use alara_compute::party::{self, Poster, TaskSpec, Validator, Worker, WorkerConfig};
use alara_compute::recipe::Recipe;
use alloy::primitives::{Address, U256};
use alloy::providers::DynProvider;
use alloy::signers::local::PrivateKeySigner;
use eyre::{bail, WrapErr};
use serde::Serialize;

use crate::context::Context;

const ETHER: u128 = 1_000_000_000_000_000_000;

/// Arguments of `alara demo compute`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Correct answers the dishonest worker adds to its count.
    #[arg(long, default_value_t = 5)]
    inflate: u64,
}

#[derive(Serialize)]
struct Party {
    role: &'static str,
    address: String,
    withdrawn_wei: String,
}

#[derive(Serialize)]
struct Summary {
    chain_id: u64,
    market: String,
    game: String,
    task: u64,
    rows: u32,
    honest_correct: u32,
    liar_claimed: u32,
    liar_invalid: bool,
    dispute: Option<serde_json::Value>,
    winner: String,
    moves: Vec<party::Move>,
    parties: Vec<Party>,
}

fn key(what: &str) -> eyre::Result<PrivateKeySigner> {
    super::demo_key(&format!("compute {what}"))
}

/// Runs `alara demo compute`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    if args.inflate == 0 {
        bail!("--inflate must be at least 1: the demo needs a worker that lies");
    }
    let conn = ctx.connect().await?;
    let p = conn.provider.clone();
    let base = crate::cmd::compute::chain(ctx, &p, conn.signer).await?;
    let roles = [
        ("poster", key("poster")?),
        ("honest worker", key("honest worker")?),
        ("dishonest worker", key("dishonest worker")?),
        ("validator", key("validator")?),
    ];
    for (_, k) in &roles {
        super::fund_if_below(&p, k.address(), U256::from(2 * ETHER), U256::from(3 * ETHER)).await?;
    }
    let as_ = |k: &PrivateKeySigner| -> eyre::Result<party::Chain<DynProvider>> {
        let pp = alara_chain::client::provider_for(&conn.url, k.clone())?;
        Ok(base.as_party(pp, k.address()))
    };
    let store = || crate::cmd::nft::open_store(ctx);
    let spec = TaskSpec {
        recipe: Recipe::mlp(16),
        commit_s: 300,
        reveal_s: 300,
        challenge_s: 600,
        move_s: 120,
        ..TaskSpec::default()
    };
    let poster =
        Poster { chain: as_(&roles[0].1)?, store: store()?, dir: party::poster_dir(&ctx.data_dir) };
    let mut honest = Worker::new(as_(&roles[1].1)?, store()?, WorkerConfig { seed: 1, inflate: 0 });
    let mut liar =
        Worker::new(as_(&roles[2].1)?, store()?, WorkerConfig { seed: 2, inflate: args.inflate });
    let mut validator = Validator::new(as_(&roles[3].1)?, store()?, Vec::new());
    let bar = (!ctx.json).then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    });
    let say = |m: &str| {
        if let Some(b) = &bar {
            b.set_message(m.to_string());
        }
    };
    let mut moves = Vec::new();

    say("posting the task");
    let data = alara_ml::datasets::breast_cancer()?;
    let task = poster.post(&spec, &data).await?;
    say("two workers train the MLP and commit");
    moves.extend(honest.tick().await?);
    moves.extend(liar.tick().await?);
    super::warp(&p, spec.commit_s + 1, "compute").await?;
    say("the poster opens the held-out set; the workers reveal");
    moves.push(poster.open(task).await?);
    moves.extend(honest.tick().await?);
    moves.extend(liar.tick().await?);
    super::warp(&p, spec.reveal_s + 1, "compute").await?;

    say("the validator re-executes both claims and disputes the wrong one");
    let mut settled = false;
    for _ in 0..200 {
        let v = validator.tick().await?;
        settled |= v.iter().any(|m| m.what.contains(": settled"));
        moves.extend(v);
        moves.extend(liar.tick().await?);
        moves.extend(honest.tick().await?);
        if settled {
            break;
        }
    }
    if !settled {
        bail!("the dispute did not resolve within 200 passes");
    }
    super::warp(&p, spec.challenge_s + 1, "compute").await?;
    say("finalizing and withdrawing");
    moves.push(poster.finalize(task).await?);
    let mut parties = Vec::new();
    for (role, k) in &roles {
        let c = as_(k)?;
        let got = c.withdraw(Address::ZERO).await?;
        parties.push(Party {
            role,
            address: format!("{:#x}", k.address()),
            withdrawn_wei: got.to_string(),
        });
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }

    let t = base.task(task).await?;
    let h = base.submission(task, roles[1].1.address()).await?;
    let l = base.submission(task, roles[2].1.address()).await?;
    if t.winner != roles[1].1.address() || !l.invalid {
        bail!(
            "expected the honest worker to win and the liar's claim to be invalid; winner {:#x}, liar invalid {}",
            t.winner,
            l.invalid
        );
    }
    let dispute = match validator.verdicts().iter().find_map(|v| v.game) {
        Some(g) => {
            let game = base.game.game(g).await.wrap_err("reading the game")?;
            let n = alara_compute::trace::step_count(
                u64::from(game.layerCount),
                u64::from(game.chunkCount),
            );
            Some(serde_json::json!({
                "game": g.to_string(),
                "steps": n,
                "max_rounds": alara_compute::bisect::max_rounds(n),
                "diverging_step": game.lo,
                "winner": "challenger",
            }))
        }
        None => None,
    };
    let summary = Summary {
        chain_id: conn.chain_id,
        market: format!("{:#x}", base.market.address()),
        game: format!("{:#x}", base.game.address()),
        task,
        rows: t.rowCount,
        honest_correct: h.correct,
        liar_claimed: l.correct,
        liar_invalid: l.invalid,
        dispute,
        winner: format!("{:#x}", t.winner),
        moves,
        parties,
    };
    let eth = |w: &str| w.parse::<f64>().unwrap_or(0.0) / 1e18;
    ctx.emit(&summary, || {
        println!("Task {} on ComputeMarket {} (chain {}):", summary.task, summary.market, summary.chain_id);
        for m in &summary.moves {
            let gas = m.gas.map(|g| format!("  [{g} gas]")).unwrap_or_default();
            println!("  {}{gas}", m.what);
        }
        println!(
            "\nHonest worker: {} of {} correct, won the reward. Dishonest worker claimed {}: invalid, stake slashed.",
            summary.honest_correct, summary.rows, summary.liar_claimed
        );
        if let Some(d) = &summary.dispute {
            println!(
                "Dispute: {} steps, at most {} rounds, diverged at step {} — that one operator was re-executed on-chain.",
                d["steps"], d["max_rounds"], d["diverging_step"]
            );
        }
        for pt in &summary.parties {
            println!("  {:<17} {}  withdrew {:.4} ETH", pt.role, pt.address, eth(&pt.withdrawn_wei));
        }
    })
}
