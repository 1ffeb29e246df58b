//! `alara fl …`: federated learning — simulate many clients in one process, run a
//! coordinator and clients as separate processes over HTTP, split a dataset into client
//! files, and replay a round from its published artifacts. With `coordinator --settle`
//! the networked coordinator admits only registered clients with signed updates and
//! settles every round on-chain (the same [`alara_fl::settle::Settler`] as `demo fl`);
//! `client --claim` then claims the client's reward with its own account.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use std::collections::HashMap;

use alara_fl::chain::{self, FederatedTraining};
use alara_fl::settle::{self, Settler};
use alara_fl::{
    net::{self, ClientOptions, CoordinatorService, RoundTiming},
    round::task_config,
    sim::{flag_name, split_dataset},
    Behavior, Coordinator, DpConfig, LocalOptimizer, LocalTraining, ModelKind, ModelSpec,
    Partition, RoundArtifacts, SimConfig, Simulation, Strategy,
};
use alloy::primitives::{Address, B256, U256};
use eyre::WrapErr;

use crate::context::Context;

/// Model and training options shared by `simulate` and `coordinator`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainingArgs {
    /// Shipped dataset: breast_cancer or digits.
    #[arg(long, default_value = "breast_cancer")]
    pub dataset: String,
    /// Model: logistic or mlp:HIDDEN.
    #[arg(long, default_value = "logistic")]
    pub model: ModelKind,
    /// Aggregation: fedavg, fedprox:MU, fedadam[:LR], krum:F, multikrum:F, median[:F], trimmed:F.
    #[arg(long, default_value = "fedavg")]
    pub strategy: Strategy,
    /// Rounds.
    #[arg(long, default_value_t = 10)]
    pub rounds: u64,
    /// Local epochs per round.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Local minibatch size.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Local learning rate.
    #[arg(long, default_value_t = 0.5)]
    pub lr: f64,
    /// Use Adam locally instead of SGD.
    #[arg(long)]
    pub adam: bool,
    /// DP-FedAvg: clip each update to this L2 norm (enables DP).
    #[arg(long)]
    pub dp_clip: Option<f64>,
    /// DP-FedAvg noise multiplier z.
    #[arg(long, default_value_t = 1.0, requires = "dp_clip")]
    pub dp_noise: f64,
    /// DP δ.
    #[arg(long, default_value_t = 1e-5, requires = "dp_clip")]
    pub dp_delta: f64,
    /// Master seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl TrainingArgs {
    fn local(&self) -> LocalTraining {
        LocalTraining {
            epochs: self.epochs,
            batch_size: self.batch_size,
            learning_rate: self.lr,
            optimizer: if self.adam { LocalOptimizer::Adam } else { LocalOptimizer::Sgd },
            proximal_mu: 0.0,
        }
    }

    fn dp(&self) -> Option<DpConfig> {
        self.dp_clip.map(|c| DpConfig {
            clip_norm: c,
            noise_multiplier: self.dp_noise,
            delta: self.dp_delta,
        })
    }
}

/// `alara fl` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Simulate a federated task with many virtual clients in this process.
    Simulate(SimulateArgs),
    /// Split a shipped dataset into one CSV file per client (for `alara fl client`).
    Partition(PartitionArgs),
    /// Run the coordinator: an HTTP service that collects updates and closes rounds.
    Coordinator(CoordinatorArgs),
    /// Run one client: train on a local CSV file and send updates to a coordinator.
    Client(ClientArgs),
    /// Recompute a round from published artifacts and compare with its record.
    Replay(ReplayArgs),
}

/// Arguments of `alara fl simulate`.
#[derive(clap::Args, Debug)]
pub struct SimulateArgs {
    #[command(flatten)]
    training: TrainingArgs,
    /// Virtual clients.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Clients sampled per round (default: all).
    #[arg(long)]
    clients_per_round: Option<usize>,
    /// Partition: iid, dirichlet:ALPHA, shards:K, unbalanced:SIGMA.
    #[arg(long, default_value = "iid")]
    partition: Partition,
    /// Adversarial clients, KIND:COUNT with KIND one of sign-flip, replace, label-flip,
    /// zero, copy, random (repeatable), e.g. --adversary label-flip:20.
    #[arg(long = "adversary")]
    adversaries: Vec<String>,
    /// Worker threads for client training (results do not depend on it).
    #[arg(long)]
    threads: Option<usize>,
    /// Write replay artifacts to this directory.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Arguments of `alara fl partition`.
#[derive(clap::Args, Debug)]
pub struct PartitionArgs {
    /// Shipped dataset.
    #[arg(long, default_value = "breast_cancer")]
    dataset: String,
    /// Clients.
    #[arg(long, default_value_t = 3)]
    clients: usize,
    /// Partition: iid, dirichlet:ALPHA, shards:K, unbalanced:SIGMA.
    #[arg(long, default_value = "iid")]
    partition: Partition,
    /// Seed (use the coordinator's seed so the validation/test parts are held out).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory for client-N.csv files.
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `alara fl coordinator`.
#[derive(clap::Args, Debug)]
pub struct CoordinatorArgs {
    #[command(flatten)]
    training: TrainingArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7070")]
    listen: SocketAddr,
    /// Task identifier.
    #[arg(long, default_value = "fl-task")]
    task_id: String,
    /// Minimum updates to close a round at the deadline.
    #[arg(long, default_value_t = 2)]
    quorum: usize,
    /// Close a round as soon as this many updates arrived.
    #[arg(long)]
    expected_clients: Option<usize>,
    /// Seconds a round waits for clients.
    #[arg(long, default_value_t = 30.0)]
    deadline_secs: f64,
    /// Artifact directory (default: <data-dir>/fl/<task-id>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Settle every round on the chain of --rpc-url, sending as --account/--keystore (the
    /// task's coordinator): store the global model, one settleRound per round, audit
    /// entries (ALARA_LOG_KEY_PASSWORD). Only --client ids with signed updates count.
    #[arg(long)]
    settle: bool,
    /// A registered client, ID=ADDRESS (repeatable; required with --settle): its updates
    /// must carry an EIP-712 commitment signed by ADDRESS.
    #[arg(long = "client", requires = "settle")]
    clients: Vec<String>,
    /// Existing on-chain task to settle (its coordinator must be this account); default:
    /// create one.
    #[arg(long, requires = "settle")]
    chain_task: Option<u64>,
    /// Reward pool of a created task, in token base units (default: the task's pool per
    /// round × rounds).
    #[arg(long, requires = "settle")]
    pool: Option<u128>,
}

/// Arguments of `alara fl client`.
#[derive(clap::Args, Debug)]
pub struct ClientArgs {
    /// Coordinator URL.
    #[arg(long, default_value = "http://127.0.0.1:7070")]
    coordinator: String,
    /// This client's identifier ([A-Za-z0-9_.-], 1-64 characters).
    #[arg(long)]
    id: String,
    /// Local data: CSV with a header and a label column; never leaves this process.
    #[arg(long)]
    data: PathBuf,
    /// Poll period in milliseconds.
    #[arg(long, default_value_t = 200)]
    poll_ms: u64,
    /// Leave after this many rounds.
    #[arg(long)]
    max_rounds: Option<u64>,
    /// Sign updates with --account/--keystore (needed by a `--settle` coordinator) and,
    /// at the end, claim the reward on the chain of --rpc-url.
    #[arg(long)]
    claim: bool,
}

/// Arguments of `alara fl replay`.
#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// Artifact directory written by `simulate --out` or `coordinator`.
    #[arg(long)]
    dir: PathBuf,
    /// Round to replay (default: every round).
    #[arg(long)]
    round: Option<u64>,
}

/// Runs an `alara fl` subcommand.
pub async fn run(ctx: &Context, command: Command) -> eyre::Result<()> {
    match command {
        Command::Simulate(args) => simulate(ctx, args).await,
        Command::Partition(args) => partition(ctx, args),
        Command::Coordinator(args) => coordinator(ctx, args).await,
        Command::Client(args) => client(ctx, args).await,
        Command::Replay(args) => replay(ctx, args),
    }
}

fn parse_adversaries(list: &[String]) -> eyre::Result<Vec<(Behavior, usize)>> {
    list.iter()
        .map(|s| {
            let (kind, count) = s.rsplit_once(':').ok_or_else(|| {
                eyre::eyre!("--adversary `{s}`: expected KIND:COUNT, e.g. label-flip:20")
            })?;
            let count: usize =
                count.parse().wrap_err_with(|| format!("--adversary `{s}`: bad count"))?;
            Ok((kind.parse::<Behavior>()?, count))
        })
        .collect()
}

async fn simulate(ctx: &Context, args: SimulateArgs) -> eyre::Result<()> {
    let t = &args.training;
    let mut cfg = SimConfig::new(&t.dataset, args.clients, t.rounds);
    cfg.model = t.model;
    cfg.local = t.local();
    cfg.strategy = t.strategy;
    cfg.dp = t.dp();
    cfg.seed = t.seed;
    cfg.partition = args.partition;
    cfg.clients_per_round = args.clients_per_round;
    cfg.adversaries = parse_adversaries(&args.adversaries)?;
    if let Some(n) = args.threads {
        cfg.threads = n;
    }
    let out = args.out.clone();
    let json = ctx.json;
    let rounds = t.rounds;
    let records = tokio::task::spawn_blocking(move || -> eyre::Result<_> {
        let mut sim = match &out {
            Some(dir) => Simulation::with_artifacts(cfg, dir)?,
            None => Simulation::new(cfg)?,
        };
        let bar = progress(rounds, json);
        if !json {
            println!(
                "{:>5}  {:>8}  {:>9}  {:>8}  {:>8}  {:>7}  {:>8}  {:>8}",
                "round",
                "test acc",
                "val loss",
                "accepted",
                "rejected",
                "flagged",
                "train s",
                "agg s"
            );
        }
        let mut rows = Vec::new();
        sim.run(|o| {
            let flagged = o.record.clients.iter().filter(|c| c.score.free_rider.is_some()).count();
            if !json {
                bar.suspend(|| {
                    println!(
                        "{:>5}  {:>8.4}  {:>9.4}  {:>8}  {:>8}  {:>7}  {:>8.3}  {:>8.3}",
                        o.record.round,
                        o.test.accuracy,
                        o.record.validation.loss,
                        o.record.clients.len(),
                        o.rejected.len(),
                        flagged,
                        o.train_time.as_secs_f64(),
                        o.aggregate_time.as_secs_f64()
                    )
                });
            }
            bar.inc(1);
            rows.push(serde_json::json!({
                "round": o.record.round,
                "test_accuracy": o.test.accuracy,
                "global_model_hash": hex::encode(o.record.global_model_hash),
                "accepted": o.record.clients.len(),
                "rejected": o.rejected,
                "flagged": flagged,
            }));
        })?;
        bar.finish_and_clear();
        let last = sim.coordinator().records().last().cloned();
        Ok((rows, last))
    })
    .await??;
    let (rows, last) = records;
    ctx.emit(&serde_json::json!({ "rounds": rows, "last_record": last }), || {
        if let Some(r) = &last {
            println!("final global model {}", hex::encode(r.global_model_hash));
            let mut top: Vec<_> = r.clients.iter().collect();
            top.sort_by(|a, b| b.score.score.total_cmp(&a.score.score));
            println!("top contributors of round {}:", r.round);
            for c in top.iter().take(5) {
                println!(
                    "  {:<14} score {:.4}  reward {}  flag {}",
                    c.client_id,
                    c.score.score,
                    c.reward,
                    flag_name(c.score.free_rider)
                );
            }
            if let Some(eps) = r.dp_epsilon {
                println!("DP: client-level ε = {eps:.3} after {} rounds (upper bound, no sampling amplification)", r.round);
            }
        }
        if let Some(dir) = &args.out {
            println!("artifacts in {} (check with `alara fl replay --dir {}`)", dir.display(), dir.display());
        }
    })
}

fn partition(ctx: &Context, args: PartitionArgs) -> eyre::Result<()> {
    let splits = split_dataset(&args.dataset, 0.2, 0.1, args.seed)?;
    let parts = alara_fl::partition::partition(
        &splits.train,
        args.clients,
        args.partition,
        alara_fl::rng::derive_seed(args.seed, "partition", &[]),
    )?;
    std::fs::create_dir_all(&args.out)
        .wrap_err_with(|| format!("creating {}", args.out.display()))?;
    let mut files = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let path = args.out.join(format!("client-{i}.csv"));
        splits.train.subset(p)?.write_csv(&path)?;
        files.push(serde_json::json!({ "file": path, "samples": p.len() }));
    }
    ctx.emit(&files, || {
        for f in &files {
            println!("{}  {} samples", f["file"].as_str().unwrap_or_default(), f["samples"]);
        }
    })
}

async fn coordinator(ctx: &Context, args: CoordinatorArgs) -> eyre::Result<()> {
    let t = &args.training;
    let splits = split_dataset(&t.dataset, 0.2, 0.1, t.seed)?;
    let spec = ModelSpec {
        kind: t.model,
        n_features: splits.train.n_features(),
        n_classes: splits.train.n_classes,
    };
    let (config, initial) = task_config(
        &args.task_id,
        t.seed,
        spec,
        t.local(),
        t.strategy,
        t.dp(),
        t.rounds,
        args.quorum,
        splits.standardizer.clone(),
        &splits.validation,
    )?;
    let out = args.out.clone().unwrap_or_else(|| ctx.data_dir.join("fl").join(&args.task_id));
    let coord = Coordinator::new(config, &splits.validation, initial)?
        .with_artifacts(&out, &splits.validation)?;
    let timing = RoundTiming {
        deadline: Duration::from_secs_f64(args.deadline_secs.max(0.1)),
        expected_clients: args.expected_clients,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .wrap_err_with(|| format!("binding {}", args.listen))?;
    let (records, service, settled) = if args.settle {
        let (records, service, settled) =
            settled_coordinator(ctx, &args, coord, timing, listener, &out).await?;
        (records, service, Some(settled))
    } else {
        if !args.clients.is_empty() {
            eyre::bail!("--client needs --settle");
        }
        let service = CoordinatorService::new(coord, timing);
        announce(&args, &listener, &out, "any client id (no --settle)")?;
        let records = net::serve(listener, service.clone(), Duration::from_secs(2)).await?;
        (records, service, None)
    };
    let rejections = service.rejections();
    let stats = service.rejection_stats();
    let json = serde_json::json!({
        "records": records,
        "rejections": rejections,
        "rejection_stats": stats,
        "chain": settled,
    });
    ctx.emit(&json, || {
        println!(
            "{:>5}  {:>8}  {:>9}  {:>9}  global model",
            "round", "clients", "val acc", "val loss"
        );
        for r in &records {
            println!(
                "{:>5}  {:>8}  {:>9.4}  {:>9.4}  {}",
                r.round,
                r.clients.len(),
                r.validation.accuracy,
                r.validation.loss,
                hex::encode(r.global_model_hash)
            );
        }
        for rj in &rejections {
            println!("rejected {} (round {}): {}", rj.client_id, rj.round, rj.reason);
        }
        if stats.total > rejections.len() as u64 {
            println!("{} rejections in all (the last {} shown)", stats.total, rejections.len());
        }
        if let Some(s) = &settled {
            println!(
                "settled on chain {}: FederatedTraining {} task {}, {} rounds, {} audit entries",
                s.chain_id,
                s.contract,
                s.task,
                s.settle_txs.len(),
                s.audit_entries
            );
        }
        println!("artifacts in {}", out.display());
    })
}

fn announce(
    args: &CoordinatorArgs,
    listener: &tokio::net::TcpListener,
    out: &std::path::Path,
    admits: &str,
) -> eyre::Result<()> {
    eprintln!(
        "coordinator for task `{}` on http://{} ({} rounds, quorum {}, deadline {}s, admits {admits}); artifacts in {}",
        args.task_id,
        listener.local_addr()?,
        args.training.rounds,
        args.quorum,
        args.deadline_secs,
        out.display()
    );
    Ok(())
}

/// What `coordinator --settle` did on-chain.
#[derive(serde::Serialize)]
struct Settled {
    chain_id: u64,
    contract: Address,
    task: U256,
    settle_txs: Vec<B256>,
    settle_gas: Vec<u64>,
    audit_entries: usize,
}

fn parse_clients(list: &[String]) -> eyre::Result<HashMap<String, Address>> {
    let mut out = HashMap::new();
    for c in list {
        let (id, address) =
            c.split_once('=').ok_or_else(|| eyre::eyre!("--client `{c}`: expected ID=ADDRESS"))?;
        if !alara_fl::round::valid_client_id(id) {
            eyre::bail!("--client `{c}`: the id must be 1-64 characters of [A-Za-z0-9_.-]");
        }
        let address: Address =
            address.parse().wrap_err_with(|| format!("--client `{c}`: bad address"))?;
        if out.insert(id.to_string(), address).is_some() {
            eyre::bail!("--client: `{id}` is given twice");
        }
    }
    Ok(out)
}

async fn settled_coordinator(
    ctx: &Context,
    args: &CoordinatorArgs,
    coord: Coordinator,
    timing: RoundTiming,
    listener: tokio::net::TcpListener,
    out: &std::path::Path,
) -> eyre::Result<(Vec<alara_fl::RoundRecord>, std::sync::Arc<CoordinatorService>, Settled)> {
    let accounts = parse_clients(&args.clients)?;
    if accounts.is_empty() {
        eyre::bail!("--settle needs the registered clients: --client ID=ADDRESS (repeatable)");
    }
    let conn = ctx.connect().await?;
    let provider = conn.provider.clone();
    let core = alara_contracts::deploy_core(&provider, &ctx.data_dir, conn.signer).await?;
    let contract = chain::ensure_deployed(&provider, &ctx.data_dir, core.token).await?;
    let ft = FederatedTraining::new(contract, provider.clone()).await?;
    let store = alara_store::Store::open(ctx.data_dir.join("store"))
        .wrap_err("opening the content store")?;
    let trail = crate::cmd::audit::open_trail(ctx)?;
    let aggregator = coord.config().strategy.name();
    let settler = match args.chain_task {
        Some(task) => {
            let task = U256::from(task);
            let state = ft.task(task).await?;
            if state.coordinator != conn.signer {
                eyre::bail!(
                    "task {task} is coordinated by {}, this account is {}",
                    state.coordinator,
                    conn.signer
                );
            }
            let mut approved: Vec<Address> = accounts.values().copied().collect();
            approved.sort();
            ft.add_clients(task, &approved).await?;
            Settler::new(ft, task, store, trail, accounts, &args.task_id, &aggregator).await?
        }
        None => {
            let per_round = U256::from(coord.config().reward_pool_per_round);
            let pool =
                args.pool.map(U256::from).unwrap_or(per_round * U256::from(coord.config().rounds));
            let config_hash = B256::from(coord.config().hash());
            Settler::create(
                ft,
                conn.signer,
                pool,
                config_hash,
                store,
                trail,
                accounts,
                &args.task_id,
                &aggregator,
            )
            .await?
        }
    };
    let chain_task = settler.chain_task();
    let service = CoordinatorService::gated(coord, timing, settler.gate());
    announce(
        args,
        &listener,
        out,
        &format!(
            "{} registered clients; settling task {} of {} on chain {}",
            args.clients.len(),
            chain_task.task,
            chain_task.contract,
            chain_task.chain_id
        ),
    )?;
    let settler = std::sync::Arc::new(tokio::sync::Mutex::new(settler));
    let (svc, st) = (service.clone(), settler.clone());
    let records = net::serve_with(listener, service.clone(), Duration::from_secs(5), move |record, global| {
        let (svc, st) = (svc.clone(), st.clone());
        async move {
            let mut s = st.lock().await;
            let settled = s.settle(&record, &global).await?;
            tracing::info!(round = record.round, tx = %settled.tx.hash, gas = settled.tx.gas_used, "round settled");
            let accounts: Vec<Address> = s.gate().clients().values().copied().collect();
            let tickets: Vec<_> = accounts.into_iter().filter_map(|a| s.claim_ticket(a)).collect();
            svc.publish_tickets(record.round, tickets);
            Ok(())
        }
    })
    .await?;
    let s = settler.lock().await;
    let settled = Settled {
        chain_id: chain_task.chain_id,
        contract: chain_task.contract,
        task: chain_task.task,
        settle_txs: s.rounds().iter().map(|r| r.tx.hash).collect(),
        settle_gas: s.rounds().iter().map(|r| r.tx.gas_used).collect(),
        audit_entries: s.audit_entries(),
    };
    Ok((records, service, settled))
}

async fn client(ctx: &Context, args: ClientArgs) -> eyre::Result<()> {
    let data = alara_ml::datasets::load_csv(&args.data)?;
    let signer = if args.claim { Some(ctx.wallet()?.signer()?) } else { None };
    let opts = ClientOptions {
        coordinator: args.coordinator.clone(),
        client_id: args.id.clone(),
        poll: Duration::from_millis(args.poll_ms.max(10)),
        max_rounds: args.max_rounds,
        patience: Duration::from_secs(30),
        signer,
    };
    let report = net::run_client(&opts, &data).await?;
    let mut paid: Option<serde_json::Value> = None;
    if args.claim {
        let ticket = report.claim.as_ref().ok_or_else(|| {
            eyre::eyre!("the coordinator published no claim for this account (not settling on-chain, or no reward)")
        })?;
        let conn = ctx.connect().await?;
        if conn.chain_id != ticket.chain.chain_id {
            eyre::bail!(
                "the coordinator settles on chain {}, --rpc-url is chain {}",
                ticket.chain.chain_id,
                conn.chain_id
            );
        }
        let ft = FederatedTraining::new(ticket.chain.contract, conn.provider.clone()).await?;
        let payout = settle::claim(&ft, ticket).await?;
        paid = Some(serde_json::json!({
            "task": ticket.chain.task,
            "round": ticket.round,
            "amount": payout.tx.value,
            "tx": payout.tx.hash,
            "gas": payout.tx.gas_used,
        }));
    }
    let json = serde_json::json!({
        "submitted": report.submitted,
        "rejected": report.rejected,
        "paid": paid,
    });
    ctx.emit(&json, || {
        for (round, hash) in &report.submitted {
            println!("round {round}: submitted update {hash}");
        }
        for (round, why) in &report.rejected {
            println!("round {round}: rejected: {why}");
        }
        if let Some(p) = &paid {
            println!(
                "claimed {} (task {}, round {} tree): tx {}",
                p["amount"], p["task"], p["round"], p["tx"]
            );
        }
    })
}

fn replay(ctx: &Context, args: ReplayArgs) -> eyre::Result<()> {
    let artifacts = RoundArtifacts::load(&args.dir)?;
    let rounds: Vec<u64> = match args.round {
        Some(r) => vec![r],
        None => (1..=artifacts.rounds.len() as u64).collect(),
    };
    let mut out = Vec::new();
    for r in rounds {
        let record = alara_fl::verify_round(&artifacts, r)?;
        out.push(serde_json::json!({
            "round": r,
            "global_model_hash": hex::encode(record.global_model_hash),
            "record_hash": hex::encode(record.hash()),
            "clients": record.clients.len(),
            "identical": true,
        }));
    }
    ctx.emit(&out, || {
        for o in &out {
            println!(
                "round {}: replayed {} clients, global model {} — identical to the published record",
                o["round"], o["clients"], o["global_model_hash"].as_str().unwrap_or_default()
            );
        }
    })
}

/// A progress bar for `len` steps (hidden for `--json` and quiet runs).
pub(crate) fn progress(len: u64, hidden: bool) -> indicatif::ProgressBar {
    if hidden {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
