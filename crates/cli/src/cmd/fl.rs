//! `alara fl …`: federated learning — simulate many clients in one process, run a
//! coordinator and clients as separate processes over HTTP, split a dataset into client
//! files, and replay a round from its published artifacts.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use alara_fl::{
    net::{self, ClientOptions, CoordinatorService, RoundTiming},
    round::task_config,
    sim::{flag_name, split_dataset},
    Behavior, Coordinator, DpConfig, LocalOptimizer, LocalTraining, ModelKind, ModelSpec,
    Partition, RoundArtifacts, SimConfig, Simulation, Strategy,
};
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
    let service = CoordinatorService::new(coord, timing);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .wrap_err_with(|| format!("binding {}", args.listen))?;
    eprintln!(
        "coordinator for task `{}` on http://{} ({} rounds, quorum {}, deadline {}s); artifacts in {}",
        args.task_id,
        listener.local_addr()?,
        t.rounds,
        args.quorum,
        args.deadline_secs,
        out.display()
    );
    let records = net::serve(listener, service.clone(), Duration::from_secs(2)).await?;
    let rejections = service.rejections();
    ctx.emit(&serde_json::json!({ "records": records, "rejections": rejections }), || {
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
        println!("artifacts in {}", out.display());
    })
}

async fn client(ctx: &Context, args: ClientArgs) -> eyre::Result<()> {
    let data = alara_ml::datasets::load_csv(&args.data)?;
    let opts = ClientOptions {
        coordinator: args.coordinator.clone(),
        client_id: args.id.clone(),
        poll: Duration::from_millis(args.poll_ms.max(10)),
        max_rounds: args.max_rounds,
        patience: Duration::from_secs(30),
    };
    let report = net::run_client(&opts, &data).await?;
    ctx.emit(&report, || {
        for (round, hash) in &report.submitted {
            println!("round {round}: submitted update {hash}");
        }
        for (round, why) in &report.rejected {
            println!("round {round}: rejected: {why}");
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

fn progress(len: u64, hidden: bool) -> indicatif::ProgressBar {
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
