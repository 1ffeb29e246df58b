//! `alara demo fl`: simulated hospitals train a breast-cancer classifier together on the
//! chain of `--rpc-url` (by default the embedded one). Each hospital signs its update
//! (EIP-712); the coordinator checks the signatures, aggregates, and hands each closed
//! round to [`alara_fl::settle::Settler`] (global model in the store, ONE settlement
//! transaction, `training_round` audit entry) — the same path as `alara fl coordinator
//! --settle`; at the end every hospital claims its reward for all rounds with one proof.

use std::collections::HashMap;

use alara_audit::{AuditTrail, TrailConfig};
use alara_chain::client::provider_for;
use alara_fl::chain::{self, FederatedTraining};
use alara_fl::commitment::SignedCommitment;
use alara_fl::experiments::{centralized_accuracy, BenchSettings};
use alara_fl::settle::{self, Settler};
use alara_fl::{LocalTraining, Partition, SimConfig, Simulation, Strategy};
use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use eyre::WrapErr;
use serde::Serialize;

use crate::context::Context;

/// Arguments of `alara demo fl`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Simulated hospitals.
    #[arg(long, default_value_t = 5)]
    hospitals: usize,
    /// Training rounds (one settlement transaction each).
    #[arg(long, default_value_t = 5)]
    rounds: u64,
    /// Label skew across hospitals: Dirichlet α (omit for an IID split).
    #[arg(long)]
    dirichlet: Option<f64>,
    /// Aggregation: fedavg, fedprox:MU, fedadam[:LR], krum:F, multikrum:F, median[:F], trimmed:F.
    #[arg(long, default_value = "fedavg")]
    strategy: Strategy,
    /// Local epochs per round.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Seed (training and the hospitals' demo keys).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Serialize)]
struct RoundLine {
    round: u64,
    accuracy: f64,
    validation_loss: f64,
    participants: usize,
    rejected: usize,
    global_model_hash: B256,
    global_model_cid: String,
    rewards_root: B256,
    settle_tx: B256,
    settle_gas: u64,
}

#[derive(Serialize)]
struct Hospital {
    id: String,
    address: Address,
    samples: u64,
    reward: U256,
    claim_gas: u64,
}

#[derive(Serialize)]
struct Report {
    chain_id: u64,
    contract: Address,
    token: Address,
    task: U256,
    hospitals: usize,
    rounds: Vec<RoundLine>,
    centralized_accuracy: f64,
    federated_accuracy: f64,
    claims: Vec<Hospital>,
    pool: U256,
    paid: U256,
    settle_gas_max: u64,
    claim_gas_max: u64,
    audit_entries: usize,
    audit_dir: String,
    audit_note: Option<String>,
}

/// A hospital's demo key: deterministic from the seed, so a rerun uses the same accounts.
fn hospital_key(seed: u64, i: usize) -> eyre::Result<PrivateKeySigner> {
    super::demo_key(&format!("fl hospital {seed} {i}"))
}

/// The audit trail the demo writes to: the user's (`ALARA_LOG_KEY_PASSWORD` set) or a
/// demo trail under `<data-dir>/fl-demo/audit` with a fixed passphrase.
fn open_trail(ctx: &Context) -> eyre::Result<(AuditTrail, String, Option<String>)> {
    if let Ok(pass) = std::env::var(alara_audit::keyfile::PASSPHRASE_ENV) {
        if !pass.is_empty() {
            let dir = ctx.data_dir.join("audit");
            let trail = AuditTrail::open(TrailConfig::new(&dir, pass))
                .wrap_err("opening the audit trail")?;
            return Ok((trail, dir.display().to_string(), None));
        }
    }
    let dir = ctx.data_dir.join("fl-demo").join("audit");
    let mut cfg = TrailConfig::new(&dir, "alara-demo-fl");
    cfg.key_work_factor = 10;
    let trail = AuditTrail::open(cfg).wrap_err("opening the demo audit trail")?;
    Ok((
        trail,
        dir.display().to_string(),
        Some("ALARA_LOG_KEY_PASSWORD is not set: entries went to a demo trail with a fixed passphrase".into()),
    ))
}

/// Runs `alara demo fl`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    if args.hospitals < args.strategy.min_updates().max(1) {
        eyre::bail!(
            "{} needs at least {} hospitals, got {}",
            args.strategy.name(),
            args.strategy.min_updates(),
            args.hospitals
        );
    }
    let conn = ctx.connect().await?;
    let provider = conn.provider.clone();
    let me = conn.signer;
    let core = alara_contracts::deploy_core(&provider, &ctx.data_dir, me).await?;
    let contract = chain::ensure_deployed(&provider, &ctx.data_dir, core.token).await?;
    let ft = FederatedTraining::new(contract, provider.clone()).await?;

    // Simulated hospitals.
    let mut cfg = SimConfig::new("breast_cancer", args.hospitals, args.rounds);
    cfg.task_id = "demo-breast-cancer".into();
    cfg.strategy = args.strategy;
    cfg.seed = args.seed;
    cfg.local = LocalTraining {
        epochs: args.epochs,
        batch_size: 16,
        learning_rate: 0.5,
        ..Default::default()
    };
    if let Some(alpha) = args.dirichlet {
        cfg.partition = Partition::Dirichlet { alpha };
    }
    // Round artifacts where `alara fl coordinator` keeps them, so `alara fl replay` and the
    // dashboard's FL page read the demo's rounds too.
    let artifacts = ctx.data_dir.join("fl").join(&cfg.task_id);
    let mut sim = Simulation::with_artifacts(cfg.clone(), &artifacts)?;
    let ids = sim.client_ids();
    let keys: Vec<PrivateKeySigner> =
        (0..ids.len()).map(|i| hospital_key(args.seed, i)).collect::<eyre::Result<_>>()?;
    let accounts: HashMap<String, Address> =
        ids.iter().cloned().zip(keys.iter().map(|k| k.address())).collect();

    // Gas money for the hospitals' claims (a dev chain's faucet: the coordinator's ETH).
    for k in &keys {
        let (below, amount) =
            (U256::from(10u64).pow(U256::from(16)), U256::from(10u64).pow(U256::from(17)));
        super::fund_if_below(&provider, k.address(), below, amount).await?;
    }

    // The task: the pool is escrowed, the hospitals approved in one transaction.
    let per_round = U256::from(sim.task().reward_pool_per_round);
    let pool = per_round * U256::from(args.rounds);
    let config_hash = B256::from(sim.task().hash());
    let store = alara_store::Store::open(ctx.data_dir.join("store"))
        .wrap_err("opening the content store")?;
    let (audit, audit_dir, audit_note) = open_trail(ctx)?;
    let aggregator = args.strategy.name();
    let mut settler = Settler::create(
        ft,
        me,
        pool,
        config_hash,
        store,
        audit,
        accounts,
        &cfg.task_id,
        &aggregator,
    )
    .await?;
    let task = settler.task();
    let gate = settler.gate();
    let chain_task = settler.chain_task();
    let key_of: HashMap<String, PrivateKeySigner> =
        ids.iter().cloned().zip(keys.iter().cloned()).collect();
    let mut lines = Vec::new();

    while !sim.is_finished() {
        // Each hospital signs its update; the coordinator's gate checks it before
        // aggregating.
        let outcome = sim.run_round_gated(|u| {
            let key = key_of
                .get(&u.client_id)
                .ok_or_else(|| alara_fl::Error::Signature(format!("no key for {}", u.client_id)))?;
            let commitment = chain_task.commitment(u.round, u.update_hash, u.sample_count);
            let signed = SignedCommitment::sign(key, &chain_task.domain(), commitment)?;
            gate.check(
                &u.client_id,
                u.round,
                u.update_hash,
                u.sample_count,
                Some(&signed.signature),
            )
            .map(|_| ())
            .map_err(|reason| alara_fl::Error::Signature(reason.to_string()))
        })?;
        let record = &outcome.record;
        let settled = settler.settle(record, sim.coordinator().global()).await?;
        lines.push(RoundLine {
            round: record.round,
            accuracy: outcome.test.accuracy,
            validation_loss: record.validation.loss,
            participants: record.clients.len(),
            rejected: outcome.rejected.len(),
            global_model_hash: settled.settlement.global_model_hash,
            global_model_cid: settled.model_cid.clone(),
            rewards_root: settled.settlement.tree.root(),
            settle_tx: settled.tx.hash,
            settle_gas: settled.tx.gas_used,
        });
    }
    if settler.rounds().is_empty() {
        eyre::bail!("no round ran (--rounds 0?)");
    }

    // Every hospital claims once for all rounds, with its own key.
    let mut claims = Vec::new();
    let mut paid = U256::ZERO;
    for (id, key) in ids.iter().zip(&keys) {
        let samples = sim
            .coordinator()
            .records()
            .iter()
            .rev()
            .find_map(|r| r.clients.iter().find(|c| &c.client_id == id))
            .map_or(0, |c| c.sample_count);
        let ticket = settler.claim_ticket(key.address()).filter(|t| t.leaf.cumulative > U256::ZERO);
        let (reward, gas) = match ticket {
            Some(ticket) => {
                let hp = provider_for(&conn.url, key.clone())?;
                let client = FederatedTraining::new(contract, hp).await?;
                let payout = settle::claim(&client, &ticket).await?;
                settler.record_payout(&payout)?;
                (payout.tx.value, payout.tx.gas_used)
            }
            None => (U256::ZERO, 0),
        };
        paid += reward;
        claims.push(Hospital {
            id: id.clone(),
            address: key.address(),
            samples,
            reward,
            claim_gas: gas,
        });
    }
    let audit_entries = settler.audit_entries();

    let settings = BenchSettings { seed: args.seed, local: cfg.local, ..Default::default() };
    let centralized =
        tokio::task::spawn_blocking(move || centralized_accuracy("breast_cancer", &settings))
            .await??;
    let federated = lines.last().map_or(0.0, |l| l.accuracy);
    let report = Report {
        chain_id: conn.chain_id,
        contract,
        token: core.token,
        task,
        hospitals: args.hospitals,
        settle_gas_max: lines.iter().map(|l| l.settle_gas).max().unwrap_or(0),
        claim_gas_max: claims.iter().map(|c| c.claim_gas).max().unwrap_or(0),
        rounds: lines,
        centralized_accuracy: centralized,
        federated_accuracy: federated,
        claims,
        pool,
        paid,
        audit_entries,
        audit_dir,
        audit_note,
    };
    ctx.emit(&report, || print_report(&report))
}

fn alr(x: U256) -> String {
    let unit = U256::from(10u64).pow(U256::from(18));
    let whole = x / unit;
    let frac = (x % unit) / U256::from(10u64).pow(U256::from(12));
    format!("{whole}.{frac:06}")
}

fn print_report(r: &Report) {
    println!(
        "FederatedTraining {} on chain {} — task {}, {} hospitals, reward pool {} ALR",
        r.contract,
        r.chain_id,
        r.task,
        r.hospitals,
        alr(r.pool)
    );
    println!();
    println!("round  accuracy  centralized  participants  rejected  settle gas  global model CID");
    for l in &r.rounds {
        println!(
            "{:>5}  {:>7.2}%  {:>10.2}%  {:>12}  {:>8}  {:>10}  {}",
            l.round,
            100.0 * l.accuracy,
            100.0 * r.centralized_accuracy,
            l.participants,
            l.rejected,
            l.settle_gas,
            l.global_model_cid
        );
    }
    println!();
    println!("hospital        address                                      samples  reward (ALR)  claim gas");
    for c in &r.claims {
        println!(
            "{:<14}  {}  {:>7}  {:>12}  {:>9}",
            c.id,
            c.address,
            c.samples,
            alr(c.reward),
            c.claim_gas
        );
    }
    println!();
    println!(
        "federated {:.2}% vs centralized {:.2}%; one settlement per round (max {} gas), one claim per hospital (max {} gas); paid {} of {} ALR",
        100.0 * r.federated_accuracy,
        100.0 * r.centralized_accuracy,
        r.settle_gas_max,
        r.claim_gas_max,
        alr(r.paid),
        alr(r.pool)
    );
    println!("audit: {} entries in {}", r.audit_entries, r.audit_dir);
    if let Some(n) = &r.audit_note {
        println!("       {n}");
    }
}
