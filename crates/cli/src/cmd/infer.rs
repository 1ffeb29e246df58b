//! `alara infer`: run an ONNX model (alara-ml, tract) on rows of input and return each
//! output with an audit receipt.
//!
//! Every row becomes an `inference` entry holding what EU AI Act Art. 12 asks of a
//! high-risk system's log — period of use, model reference and version hash, a reference
//! to the input, the output, the verifying person — all personal parts as salted
//! commitments whose openings stay in the vault under the data subject.

use std::path::PathBuf;
use std::sync::Arc;

use alara_audit::audited::{InferenceAuditor, UseContext};
use alara_audit::entry::{now_ms, ModelRef};
use alara_audit::Hash;
use eyre::WrapErr;

use crate::context::Context;

/// Arguments of `alara infer`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The ONNX model file (e.g. models/breast_cancer_logreg.onnx).
    #[arg(long)]
    pub model: PathBuf,
    /// Input rows: a .json or .csv file, or inline JSON (`[[...], ...]`).
    #[arg(long)]
    pub input: String,
    /// Data subject of the rows (one for all), or a file with one subject id per line.
    #[arg(long)]
    pub subject: Option<String>,
    /// The natural person verifying the results (committed, never logged in clear).
    #[arg(long)]
    pub verified_by: Option<String>,
    /// Declared purpose of the use.
    #[arg(long, default_value = "decision support")]
    pub purpose: String,
    /// Name of the AI system in the log.
    #[arg(long, default_value = "alara-infer")]
    pub system: String,
    /// Write one receipt file per row here (`<leaf index>.json`).
    #[arg(long)]
    pub receipts_dir: Option<PathBuf>,
}

/// One row's answer.
#[derive(serde::Serialize)]
struct RowResult {
    row: usize,
    label: i64,
    probabilities: Vec<f32>,
    leaf_index: u64,
    receipt: serde_json::Value,
}

/// Runs `alara infer`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    let model = alara_ml::OnnxModel::load(&args.model)
        .wrap_err_with(|| format!("loading model {}", args.model.display()))?;
    let rows = alara_ml::input::read_rows(&args.input, model.feature_names())
        .wrap_err("reading --input")?;
    let subjects = match &args.subject {
        None => vec![],
        Some(s) if std::path::Path::new(s).is_file() => {
            crate::files::read_text(std::path::Path::new(s), crate::files::MAX_TEXT, "subjects")?
        }
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect(),
        Some(s) => vec![s.clone()],
    };
    // Run the model before unlocking the log key: a row of the wrong shape fails at once.
    let started = now_ms();
    let predictions = model.predict(&rows).wrap_err("running the model")?;
    let ended = now_ms();
    let trail = Arc::new(super::audit::open_trail(ctx)?);
    let id = args.model.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let auditor = InferenceAuditor::new(
        trail,
        ModelRef { id, version_hash: Hash(model.hash()) },
        &args.system,
    );
    let use_ctx = UseContext {
        subjects,
        verified_by: args.verified_by.clone(),
        purpose: args.purpose.clone(),
    };

    let audited = auditor.record(started, ended, &rows, &predictions, &use_ctx)?;
    let receipts = auditor.receipts(&audited)?;

    if let Some(dir) = &args.receipts_dir {
        std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
        for r in &receipts {
            let path = dir.join(format!("{}.json", r.leaf_index));
            crate::files::write(&path, r.to_json().as_bytes())?;
        }
    }
    let results: Vec<RowResult> = predictions
        .iter()
        .zip(&receipts)
        .enumerate()
        .map(|(i, (p, r))| RowResult {
            row: i,
            label: p.label,
            probabilities: p.probabilities.clone(),
            leaf_index: r.leaf_index,
            receipt: serde_json::to_value(r).unwrap_or_default(),
        })
        .collect();
    ctx.emit(&results, || {
        println!("model {} (sha256 {})", args.model.display(), model.hash_hex());
        println!("{:>5}  {:>6}  {:<24}  {:>8}", "row", "label", "probabilities", "entry");
        for r in &results {
            let probs: Vec<String> = r.probabilities.iter().map(|p| format!("{p:.3}")).collect();
            println!("{:>5}  {:>6}  {:<24}  {:>8}", r.row, r.label, probs.join(" "), r.leaf_index);
        }
        match &args.receipts_dir {
            Some(d) => println!(
                "{} receipts written to {} (verify: alara audit verify FILE)",
                results.len(),
                d.display()
            ),
            None => println!(
                "{} entries logged; --receipts-dir DIR writes the receipts, --json prints them",
                results.len()
            ),
        }
    })
}
