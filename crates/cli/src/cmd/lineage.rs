//! `alara lineage <cid|model-hash>`: dataset CID → listings, sales and compute jobs → the
//! models those jobs trained → the inferences made with them, read from audit entries.

use std::path::PathBuf;

use alara_audit::AuditTrail;
use alara_market::lineage::{self, Sourced};
use eyre::WrapErr;

use crate::context::Context;

/// Arguments of `alara lineage`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  alara lineage bafybeig…                 a dataset: its listings, sales, jobs, models, inferences
  alara lineage 0x3f2a…(64 hex digits)    a model: the datasets and jobs it came from, its inferences
  alara lineage bafy… --receipts lab.jsonl  also read receipts exported by another party")]
pub struct Args {
    /// A dataset's ciphertext CID, or a model's SHA-256 (64 hex digits, `0x` optional).
    target: String,
    /// JSON Lines of audit receipts (`alara audit export`) from other parties; each is
    /// verified offline before it is used.
    #[arg(long)]
    receipts: Vec<PathBuf>,
    /// Do not read this data directory's own trail (only --receipts and the demo trails).
    #[arg(long)]
    no_own_trail: bool,
}

/// Runs `alara lineage`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    let mut entries: Vec<Sourced> = Vec::new();
    let mut sources = Vec::new();
    let own = crate::cmd::audit::trail_dir(ctx);
    if !args.no_own_trail && AuditTrail::stored_verifier(&own)?.is_some() {
        let trail = crate::cmd::audit::open_trail_read_only(ctx)?;
        entries.extend(lineage::from_trail(&trail)?);
        sources.push(own.display().to_string());
    }
    // The demonstrations' trails (read without their keys).
    for (_, dir, _) in crate::cmd::demo::demo_trails(&ctx.data_dir) {
        if AuditTrail::stored_verifier(&dir)?.is_some() {
            let trail = AuditTrail::open_read_only(&dir)
                .wrap_err_with(|| format!("opening the demo trail {}", dir.display()))?;
            entries.extend(lineage::from_trail(&trail)?);
            sources.push(dir.display().to_string());
        }
    }
    for path in &args.receipts {
        let text = crate::files::read_text(path, crate::files::MAX_TEXT, "receipts")?;
        entries.extend(lineage::from_receipts(&text).wrap_err_with(|| {
            format!(
                "{}: a receipt does not verify; lineage uses only verified entries",
                path.display()
            )
        })?);
        sources.push(path.display().to_string());
    }
    if sources.is_empty() {
        eyre::bail!(
            "no audit entries to read: {} has no trail; run `alara demo data`, use `alara data …` \
             with ALARA_LOG_KEY_PASSWORD set, or pass --receipts FILE",
            ctx.data_dir.display()
        );
    }
    let l = lineage::trace(&entries, &args.target)?;
    let out = serde_json::json!({ "sources": sources, "lineage": l });
    ctx.emit(&out, || print!("{}", l.render()))
}
