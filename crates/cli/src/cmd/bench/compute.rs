//! `alara bench compute`, one run, side by side:
//! - the fixed-point runtime's accuracy beside tract (float) on the shipped models;
//! - a dispute over a worker's evaluation score played to the diverging operator on the
//!   embedded chain and on anvil: rounds beside ⌈log2 n⌉, the gas of every move, the one-step
//!   gas of the largest operator, the whole dispute's gas;
//! - the zk peer on the same MLP inference: EZKL's setup, prove and verify times, peak
//!   memory, proof size, and its EVM verifier's gas on the embedded chain.

use std::path::PathBuf;

use alara_chain::testing::{Backend, TestChain};
use alara_compute::bench::{
    accuracy, dispute, largest_gemm_step, run_zk_peer, verifier_gas, Accuracy, Dispute, ZkPeer,
};
use alara_compute::chain::Game;
use alara_compute::eval::EvalSet;
use alara_compute::model::FixedModel;
use eyre::WrapErr;

use crate::context::Context;

/// Arguments of `alara bench compute`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Python with `ezkl` for the zk peer (default: `$ALARA_PYTHON`, else the repository's
    /// `.venv/bin/python`, which `scripts/test.sh` installs).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Skip the zk peer (it takes minutes).
    #[arg(long)]
    pub no_zk: bool,
    /// Only the runtime's accuracy (no chain, no zk peer).
    #[arg(long)]
    pub no_chain: bool,
}

fn repo() -> eyre::Result<PathBuf> {
    alara_chain::tools::repo_root().ok_or_else(|| {
        eyre::eyre!(
            "run `alara bench compute` inside the repository (it reads models/ and scripts/)"
        )
    })
}

/// Runs `alara bench compute`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    let repo = repo()?;
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
    say("fixed point beside tract on the shipped models");
    let mut acc: Vec<Accuracy> = Vec::new();
    for file in ["breast_cancer_logreg.onnx", "breast_cancer_mlp.onnx"] {
        acc.push(accuracy(&repo.join("models"), file)?);
    }
    let mut disputes: Vec<(String, Dispute)> = Vec::new();
    let mut zk: Option<ZkPeer> = None;
    if !args.no_chain {
        let mlp = std::fs::read(repo.join("models/breast_cancer_mlp.onnx"))
            .wrap_err("reading models/breast_cancer_mlp.onnx")?;
        let model = FixedModel::from_onnx(&mlp, "breast_cancer_mlp.onnx")?;
        let data = alara_ml::datasets::breast_cancer()?;
        let whole = EvalSet::from_dataset(&data, 16)?;
        let one_row = alara_ml::Dataset {
            features: data.features[..1].to_vec(),
            labels: data.labels[..1].to_vec(),
            feature_names: data.feature_names.clone(),
            n_classes: data.n_classes,
        };
        let single = EvalSet::from_dataset(&one_row, 1)?;
        let cases = [
            ("evaluation score, 569 rows in 16-row chunks", &whole, whole.chunk_count() / 2),
            ("one inference (the zk peer's)", &single, 0),
        ];
        for backend in [Backend::Embedded, Backend::Anvil] {
            say(&format!("disputes played to the diverging operator on {backend}"));
            let chain =
                TestChain::start(backend).await.map_err(|e| eyre::eyre!("{e}")).wrap_err_with(
                    || format!("starting {backend} (anvil comes from node_modules: run `npm ci`)"),
                )?;
            let dev = alara_chain::dev::dev_addresses();
            let game = Game::deploy(chain.provider(0)).await?;
            for (label, eval, chunk) in &cases {
                let fault = largest_gemm_step(&model, *chunk)
                    .ok_or_else(|| eyre::eyre!("the shipped MLP has no GEMM"))?;
                let d = dispute(
                    label,
                    &game,
                    chain.provider(0),
                    (chain.provider(1), dev[1]),
                    (chain.provider(2), dev[2]),
                    (&model, eval),
                    fault,
                )
                .await?;
                disputes.push((backend.to_string(), d));
            }
        }
        if !args.no_zk {
            let python = args
                .python
                .clone()
                .or_else(|| std::env::var_os("ALARA_PYTHON").map(PathBuf::from))
                .unwrap_or_else(|| repo.join(".venv/bin/python"));
            say("the zk peer: EZKL setup, prove, verify (minutes)");
            let out = tempdir()?;
            let report = {
                let (python, repo, out) = (python.clone(), repo.clone(), out.clone());
                tokio::task::spawn_blocking(move || {
                    run_zk_peer(&python, &repo, &out).map_err(eyre::Report::from)
                })
                .await??
            };
            say("the zk peer's verifier on the embedded chain");
            let chain =
                TestChain::start(Backend::Embedded).await.map_err(|e| eyre::eyre!("{e}"))?;
            let from = alara_chain::dev::dev_addresses()[0];
            zk = Some(verifier_gas(&chain.provider(0), from, report).await?);
            let _ = std::fs::remove_dir_all(&out);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let out = serde_json::json!({ "accuracy": acc, "disputes": disputes, "zk_peer": zk });
    ctx.emit(&out, || {
        println!("Fixed-point runtime beside tract (float32), every row of breast_cancer.csv:");
        println!(
            "{:<28} {:>7} {:>9} {:>9} {:>7} {:>8}",
            "model", "params", "tract", "fixed", "lost", "differ"
        );
        for a in &acc {
            println!(
                "{:<28} {:>7} {:>8.2}% {:>8.2}% {:>6.2} {:>8}",
                a.model, a.params, a.tract_pct, a.fixed_pct, a.lost_points, a.rows_differing
            );
        }
        if !disputes.is_empty() {
            println!(
                "\nDisputes over the shipped MLP (the claimer faults the largest GEMM; the honest \
                 challenger must win):"
            );
            println!(
                "{:<9} {:<46} {:>5} {:>7} {:>8} {:>10} {:>10} {:>10}  step re-executed",
                "chain", "what", "steps", "rounds", "⌈log2n⌉", "open gas", "reveal gas", "step gas",
            );
        }
        for (backend, d) in &disputes {
            let per_reveal = if d.reveal_gas.is_empty() {
                0
            } else {
                d.reveal_gas.iter().sum::<u64>() / d.reveal_gas.len() as u64
            };
            println!(
                "{:<9} {:<46} {:>5} {:>7} {:>8} {:>10} {:>10} {:>10}  {} (step {}), total {} gas, {} won",
                backend,
                d.label,
                d.steps,
                d.rounds,
                d.log2_bound,
                d.open_gas,
                format!("{per_reveal}/move"),
                d.step_gas,
                d.step_op,
                d.step,
                d.total_gas,
                d.winner
            );
        }
        if disputes.iter().any(|(b, _)| b == "anvil") {
            println!(
                "(anvil lets two blocks of one second share a timestamp: a round mined in the \
                 previous round's second rewrites an unchanged deadline there, 2,800 gas less; \
                 the embedded chain, like geth, gives every block its own second)"
            );
        }
        if let Some(z) = &zk {
            println!("\nzk peer (EZKL) on the same MLP inference:");
            println!("{}", alara_compute::bench::describe_zk(z));
        }
    })
}

fn tempdir() -> eyre::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("alara-bench-zk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
