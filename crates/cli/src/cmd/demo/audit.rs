//! `alara demo audit`: audited inference end to end on the chain of `--rpc-url` (by default
//! the `alara up` node, or the embedded chain opened in this process). The shipped
//! breast-cancer classifier scores a few rows of the UCI dataset, each decision becomes an
//! `inference` entry in the audit log (inputs and outputs only as salted commitments), the
//! log's checkpoint is anchored in `AuditAnchor` with one transaction, and the first row's
//! receipt is written and verified on-chain — what `alara audit verify --onchain` does.

use std::path::PathBuf;
use std::sync::Arc;

use alara_audit::anchor::{self, AnchorPolicy, Anchorer, OnchainVerified};
use alara_audit::audited::{InferenceAuditor, UseContext};
use alara_audit::entry::{now_ms, ModelRef};
use alara_audit::Hash;
use eyre::{bail, WrapErr};
use serde::Serialize;

use crate::context::Context;

/// The shipped model (see `models/README.md`), embedded so the demo runs from any directory.
const SHIPPED_MODEL: &[u8] = include_bytes!("../../../../../models/breast_cancer_logreg.onnx");
const SHIPPED_MODEL_ID: &str = "breast_cancer_logreg.onnx";

/// Arguments of `alara demo audit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Rows of the UCI breast-cancer dataset to score (from the first).
    #[arg(long, default_value_t = 3)]
    rows: usize,
    /// Another ONNX classifier taking the dataset's 30 features (default: the shipped one).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Data subject the rows belong to (erase it later with `alara audit erase --subject`).
    #[arg(long, default_value = "demo-patient")]
    subject: String,
    /// Where to write the first row's anchored receipt (default:
    /// `<data-dir>/audit/receipts/<leaf index>.json`).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Serialize)]
struct Row {
    row: usize,
    label: i64,
    dataset_label: u32,
    probabilities: Vec<f32>,
    leaf_index: u64,
}

#[derive(Serialize)]
struct Summary {
    model: String,
    model_sha256: String,
    subject: String,
    rows: Vec<Row>,
    contract: String,
    chain_id: u64,
    anchored_size: u64,
    anchor_tx: String,
    anchor_block: u64,
    anchor_gas: u64,
    receipt: PathBuf,
    onchain: OnchainVerified,
}

/// Runs `alara demo audit`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    if args.rows == 0 {
        bail!("--rows must be at least 1");
    }
    let (model, model_id) = match &args.model {
        Some(p) => (
            alara_ml::OnnxModel::load(p).wrap_err_with(|| format!("loading {}", p.display()))?,
            p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        ),
        None => (alara_ml::OnnxModel::from_bytes(SHIPPED_MODEL)?, SHIPPED_MODEL_ID.to_string()),
    };
    let data = alara_ml::datasets::breast_cancer()?;
    let n = args.rows.min(data.len());
    let inputs = &data.features[..n];

    let conn = ctx.connect().await?;
    let contract = anchor::ensure_deployed(&conn.provider, &ctx.data_dir)
        .await
        .wrap_err("deploying AuditAnchor")?;
    let trail = Arc::new(super::super::audit::open_trail(ctx)?);
    let auditor = InferenceAuditor::new(
        trail.clone(),
        ModelRef { id: model_id.clone(), version_hash: Hash(model.hash()) },
        "alara-demo-audit",
    );
    let use_ctx = UseContext {
        subjects: vec![args.subject.clone()],
        verified_by: Some("demo clinician".into()),
        purpose: "demo: breast-cancer screening support".into(),
    };
    let started = now_ms();
    let predictions = model.predict(inputs).wrap_err("running the model")?;
    let audited = auditor.record(started, now_ms(), inputs, &predictions, &use_ctx)?;
    let receipts = auditor.receipts(&audited)?;

    // Anchor the checkpoint that covers the rows: one transaction for all of them.
    let mut anchorer = Anchorer::setup(
        conn.provider.clone(),
        conn.signer,
        trail.log(),
        &super::super::audit::trail_dir(ctx),
        contract,
        AnchorPolicy::default(),
    )
    .await?;
    let last = audited.last().map_or(0, |a| a.leaf_index);
    let mut anchored = None;
    for _ in 0..3 {
        if let Some(a) = anchorer.tick(trail.log(), true).await? {
            anchored = Some(a);
        }
        if anchorer.state().covering(last).is_some() {
            break;
        }
    }
    let Some(rec) = anchorer.state().covering(last).cloned() else {
        bail!("the anchor transaction is still pending; run `alara audit anchor` later");
    };
    let _ = anchored;

    let mut receipt = receipts[0].clone();
    if !anchor::upgrade_receipt(&mut receipt, trail.log(), anchorer.state())? {
        bail!("no anchor covers entry {}", receipt.leaf_index);
    }
    let path = match &args.out {
        Some(p) => p.clone(),
        None => super::super::audit::trail_dir(ctx)
            .join("receipts")
            .join(format!("{}.json", receipt.leaf_index)),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    }
    crate::files::write(&path, receipt.to_json().as_bytes())?;
    let pins = anchor::Pins { contract, key: trail.verifier().clone() };
    let onchain = anchor::verify_onchain(&conn.provider, &receipt, &pins, Some(trail.log()))
        .await
        .wrap_err("on-chain verification of the fresh receipt")?;

    let summary = Summary {
        model: model_id,
        model_sha256: model.hash_hex(),
        subject: args.subject.clone(),
        rows: predictions
            .iter()
            .zip(&audited)
            .enumerate()
            .map(|(i, (p, a))| Row {
                row: i,
                label: p.label,
                dataset_label: data.labels[i],
                probabilities: p.probabilities.clone(),
                leaf_index: a.leaf_index,
            })
            .collect(),
        contract: contract.to_string(),
        chain_id: conn.chain_id,
        anchored_size: rec.size,
        anchor_tx: rec.tx_hash.clone(),
        anchor_block: rec.block_number,
        anchor_gas: rec.gas_used,
        receipt: path.clone(),
        onchain,
    };
    ctx.emit(&summary, || {
        println!("model {} (sha256 {})", summary.model, summary.model_sha256);
        println!("{:>4}  {:>6}  {:>8}  {:<16}  {:>6}", "row", "label", "dataset", "probabilities", "entry");
        for r in &summary.rows {
            let probs: Vec<String> = r.probabilities.iter().map(|p| format!("{p:.3}")).collect();
            println!(
                "{:>4}  {:>6}  {:>8}  {:<16}  {:>6}",
                r.row,
                r.label,
                r.dataset_label,
                probs.join(" "),
                r.leaf_index
            );
        }
        println!(
            "{} decisions logged for subject {:?} (inputs, outputs and the verifying person only as salted commitments)",
            summary.rows.len(),
            summary.subject
        );
        println!(
            "anchored the log at size {} in AuditAnchor {} (chain {}): tx {} block {}, {} gas",
            summary.anchored_size,
            summary.contract,
            summary.chain_id,
            summary.anchor_tx,
            summary.anchor_block,
            summary.anchor_gas
        );
        println!("receipt of entry {} written to {}", receipts[0].leaf_index, path.display());
        println!(
            "verified on-chain: the key is registered for account {}, Anchored event found, verifyInclusion {}",
            summary.onchain.log_id, summary.onchain.contract_inclusion
        );
        println!("check it yourself: alara audit verify {} --onchain", path.display());
    })
}
