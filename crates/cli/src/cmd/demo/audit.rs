//! `alara demo audit`: audited inference end to end on the chain of `--rpc-url` (by default
//! the data directory's node, or its chain opened in this process). It records in the data
//! directory's own log when `ALARA_LOG_KEY_PASSWORD` is set, and otherwise in a demo log of
//! its own (`<data-dir>/audit-demo`, public passphrase), so it never asks for a secret. The shipped
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

/// The demo's own audit trail's passphrase. It is public: the demo's trail is a
/// demonstration, kept apart from the data directory's real log (`<data-dir>/audit`), so
/// the demo never asks for a secret and never creates a real log identity.
pub const DEMO_PASSPHRASE: &str = "alara-demo-audit";

/// Where the demo keeps its trail: `<data-dir>/audit-demo`.
pub fn demo_trail_dir(ctx: &Context) -> PathBuf {
    ctx.data_dir.join("audit-demo")
}

/// The trail the demo records in, and its directory: the data directory's own log when
/// `ALARA_LOG_KEY_PASSWORD` is set (as `demo fl` does), otherwise the demo's own
/// ([`demo_trail_dir`], with the public [`DEMO_PASSPHRASE`]).
fn open_demo_trail(ctx: &Context) -> eyre::Result<(alara_audit::AuditTrail, PathBuf)> {
    let own = std::env::var(alara_audit::keyfile::PASSPHRASE_ENV).is_ok_and(|p| !p.is_empty());
    if own {
        let dir = super::super::audit::trail_dir(ctx);
        return Ok((super::super::audit::open_trail(ctx)?, dir));
    }
    let dir = demo_trail_dir(ctx);
    let mut config = alara_audit::TrailConfig::new(&dir, DEMO_PASSPHRASE);
    config.key_work_factor = 10;
    let trail = alara_audit::AuditTrail::open(config).wrap_err("opening the demo's audit trail")?;
    Ok((trail, dir))
}

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
    /// Where to write the first row's anchored receipt (default: `receipts/<leaf
    /// index>.json` in the log's directory).
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
    log_key: String,
    audit_dir: PathBuf,
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
    let (trail, audit_dir) = open_demo_trail(ctx)?;
    let trail = Arc::new(trail);
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
    // AuditAnchor keys a log by the account that anchors it, one log per account for
    // good: the demo's own log anchors from a demo account of its own (funded by the
    // connected one), so the connected account stays free for the data directory's log.
    let (anchor_provider, anchor_account) = if audit_dir == demo_trail_dir(ctx) {
        let key = super::demo_key("audit log")?;
        let account = key.address();
        let gas_money = alloy::primitives::U256::from(10u64).pow(alloy::primitives::U256::from(18));
        super::fund_if_below(
            &conn.provider,
            account,
            gas_money / alloy::primitives::U256::from(2),
            gas_money,
        )
        .await?;
        (alara_chain::client::provider_for(&conn.url, key)?, account)
    } else {
        (conn.provider.clone(), conn.signer)
    };
    let mut anchorer = Anchorer::setup(
        anchor_provider,
        anchor_account,
        trail.log(),
        &audit_dir,
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
        None => audit_dir.join("receipts").join(format!("{}.json", receipt.leaf_index)),
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
        log_key: trail.verifier().to_string(),
        audit_dir: audit_dir.clone(),
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
        println!("the decisions are in the audit log {}", summary.audit_dir.display());
        println!(
            "check it yourself: alara audit verify {} --onchain --key {}",
            path.display(),
            summary.log_key
        );
    })
}
