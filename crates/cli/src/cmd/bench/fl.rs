//! `alara bench fl`: federated learning accuracy against centralised training,
//! robustness to 20% attackers, wall time per round at 1,000 clients, settlement gas on an
//! in-memory embedded chain against the seed's one transaction per hospital per round,
//! and free riders. One run, printed as one report (or `--json`).

use alara_chain::{dev, Node, NodeConfig};
use alara_contracts::AlaraToken;
use alara_fl::{
    experiments::{BenchPlan, BenchSettings, ChainCost},
    ModelKind,
};

use crate::context::Context;

/// Arguments of `alara bench fl`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Clients in the accuracy, robustness and free-rider experiments.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Rounds on breast cancer (the goal: within 1% of centralised in ≤ 10).
    #[arg(long, default_value_t = 10)]
    rounds: u64,
    /// Maximum rounds on digits (the table reports the rounds needed).
    #[arg(long, default_value_t = 40)]
    digits_rounds: u64,
    /// Rounds in each robustness and free-rider run.
    #[arg(long, default_value_t = 10)]
    robust_rounds: u64,
    /// Dataset of the robustness and free-rider runs: breast_cancer or digits.
    #[arg(long, default_value = "breast_cancer")]
    robust_dataset: String,
    /// Virtual clients in the scale run.
    #[arg(long, default_value_t = 1000)]
    scale_clients: usize,
    /// Rounds timed in the scale run.
    #[arg(long, default_value_t = 3)]
    scale_rounds: u64,
    /// Model: logistic or mlp:HIDDEN.
    #[arg(long, default_value = "logistic")]
    model: ModelKind,
    /// Local epochs.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Local learning rate.
    #[arg(long, default_value_t = 0.5)]
    lr: f64,
    /// Worker threads for client training (default: all cores; results do not depend on it).
    #[arg(long)]
    threads: Option<usize>,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Hospitals in the chain-cost scenario (leaves of each reward tree).
    #[arg(long, default_value_t = 1000)]
    hospitals: usize,
    /// Rounds in the chain-cost scenario.
    #[arg(long, default_value_t = 10)]
    chain_rounds: u64,
    /// Gas price for the chain-cost comparison, in gwei.
    #[arg(long, default_value_t = 1.0)]
    gas_price_gwei: f64,
}

/// Measures settlement and claim gas on a fresh in-memory embedded chain.
async fn chain_cost(hospitals: usize, rounds: u64, gas_price_gwei: f64) -> eyre::Result<ChainCost> {
    let node = Node::open(NodeConfig::ephemeral())?;
    let server = alara_chain::serve(node, "127.0.0.1:0".parse()?).await?;
    let signer = dev::dev_signer(0);
    let me = signer.address();
    let provider = alara_chain::client::provider_for(&server.url(), signer)?;
    let token = *AlaraToken::deploy(&provider, me, alara_contracts::deploy::initial_supply())
        .await?
        .address();
    let p = alara_fl::chain::gas_profile(provider, me, token, hospitals, rounds).await?;
    Ok(ChainCost { gas: p, gas_price_gwei })
}

/// Runs `alara bench fl`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    let plan = BenchPlan {
        clients: args.clients,
        rounds: args.rounds,
        digits_rounds: args.digits_rounds,
        robust_rounds: args.robust_rounds,
        robust_dataset: args.robust_dataset.clone(),
        scale_clients: args.scale_clients,
        scale_rounds: args.scale_rounds,
    };
    let mut settings = BenchSettings { model: args.model, seed: args.seed, ..Default::default() };
    settings.local.epochs = args.epochs;
    settings.local.learning_rate = args.lr;
    if let Some(t) = args.threads {
        settings.threads = t.max(1);
    }
    let quiet = ctx.json;
    let chain = chain_cost(args.hospitals, args.chain_rounds, args.gas_price_gwei).await?;
    let mut report = tokio::task::spawn_blocking(move || {
        let bar = if quiet {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(plan.steps())
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {msg:44} [{bar:25}] {pos}/{len} {elapsed}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        let mut first = true;
        let report = plan.run(&settings, |label| {
            if !first {
                bar.inc(1);
            }
            first = false;
            bar.set_message(label.to_string());
        });
        bar.finish_and_clear();
        report
    })
    .await??;
    report.chain = Some(chain);
    ctx.emit(&report, || print!("{report}"))
}
