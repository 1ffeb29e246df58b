//! `alara audit …`: the verifiable audit trail from the command line — receipts and their
//! verification (offline and on-chain), anchoring, erasure, queries and exports.
//!
//! The trail lives in `<data-dir>/audit`; its signing key is age-encrypted there and
//! unlocked with `ALARA_LOG_KEY_PASSWORD` (or a prompt on a terminal) by the commands that
//! write or sign (`infer`, `erase`, `anchor`, `receipt`). Reading (`status`, `list`,
//! `export`, `check`, `verify`) needs no secret.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use alara_audit::anchor::{self, AnchorPolicy, AnchorState, Anchorer, Pins};
use alara_audit::{AuditTrail, NoteVerifier, Query, Receipt, TrailConfig};
use eyre::{bail, eyre, WrapErr};

use crate::context::Context;

/// `alara audit` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Verify a receipt: hashes, inclusion proof and checkpoint signature, offline; with
    /// --onchain also the anchor against the pinned contract and key: the anchor event, the
    /// key's account, consistency with the current anchor and the contract's verifyInclusion.
    Verify {
        /// The receipt file (JSON, as written by `alara infer` or `alara audit receipt`).
        receipt: PathBuf,
        /// The log key you trust (`name+hash+base64`). Without it the receipt's own key
        /// is used offline (integrity, not who signed); --onchain then uses the local
        /// log's key, and without a local log it needs --key.
        #[arg(long)]
        key: Option<String>,
        /// Also check against the chain (--rpc-url).
        #[arg(long)]
        onchain: bool,
        /// The AuditAnchor you trust (with --onchain). Default: the one in this data dir's
        /// address book for the chain. Never the receipt's own.
        #[arg(long, requires = "onchain")]
        contract: Option<String>,
    },
    /// Print the receipt of an entry, or upgrade a receipt with the latest anchor.
    Receipt {
        /// Leaf index of the entry.
        #[arg(long, conflicts_with = "upgrade", required_unless_present = "upgrade")]
        index: Option<u64>,
        /// Receipt file to upgrade with a consistency proof to the anchored checkpoint
        /// (rewritten in place unless --out is given).
        #[arg(long)]
        upgrade: Option<PathBuf>,
        /// Write the receipt here instead of stdout / in place.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Erase a data subject (GDPR Art. 17): delete their salts and payloads and log an
    /// erasure entry. Every receipt keeps verifying; the commitments no longer open.
    Erase {
        /// The subject id used when the entries were recorded.
        #[arg(long)]
        subject: String,
        /// Legal basis recorded in the erasure entry.
        #[arg(long, default_value = "GDPR Art. 17(1)")]
        basis: String,
    },
    /// List entries, filtered by time, kind, model or subject.
    List(Filter),
    /// Export entries as JSON Lines, one self-contained receipt per line, for an auditor.
    Export {
        #[command(flatten)]
        filter: Filter,
        /// Output file (`-` for stdout).
        #[arg(long, default_value = "-")]
        out: String,
    },
    /// Anchor the latest checkpoint on-chain (AuditAnchor), once or as a service (--watch).
    Anchor {
        /// Anchor now even below the batch size.
        #[arg(long)]
        force: bool,
        /// Keep running: anchor every --every-entries entries or --every-secs seconds.
        #[arg(long)]
        watch: bool,
        /// Batch size in entries.
        #[arg(long, default_value_t = AnchorPolicy::default().every_entries)]
        every_entries: u64,
        /// Longest time between anchors, in seconds.
        #[arg(long, default_value_t = AnchorPolicy::default().every.as_secs())]
        every_secs: u64,
        /// Use this AuditAnchor instead of the address book's (which is deployed and
        /// recorded on first use).
        #[arg(long)]
        contract: Option<String>,
    },
    /// Show the log: size, latest checkpoint, key, anchors.
    Status,
    /// Re-read the whole log and check every stored hash and the latest checkpoint.
    Check,
    /// Crash-test writer used by `alara bench audit --crash` (appends until killed).
    #[command(hide = true)]
    CrashWriter {
        /// Log directory.
        #[arg(long)]
        dir: PathBuf,
        /// Writer threads.
        #[arg(long, default_value_t = 4)]
        threads: usize,
    },
}

/// Entry filter shared by `list` and `export`.
#[derive(clap::Args, Debug, Clone)]
pub struct Filter {
    /// Entries at or after this Unix time in milliseconds.
    #[arg(long)]
    pub from_ms: Option<u64>,
    /// Entries before this Unix time in milliseconds.
    #[arg(long)]
    pub to_ms: Option<u64>,
    /// Only this kind (repeatable): inference, model_registered, data_access,
    /// training_round, oracle_report, oracle_round, payout, erasure, data_listing, data_sale,
    /// compute_job, claim_assessment, artwork.
    #[arg(long = "kind")]
    pub kinds: Vec<String>,
    /// Only entries about this model (id or hex version hash).
    #[arg(long)]
    pub model: Option<String>,
    /// Only entries about this data subject (looked up in the vault).
    #[arg(long)]
    pub subject: Option<String>,
    /// At most this many entries.
    #[arg(long)]
    pub limit: Option<usize>,
}

impl From<Filter> for Query {
    fn from(f: Filter) -> Self {
        Query {
            from_ms: f.from_ms,
            to_ms: f.to_ms,
            kinds: f.kinds,
            model: f.model,
            subject: f.subject,
            limit: f.limit,
        }
    }
}

/// The trail directory under the data dir.
pub fn trail_dir(ctx: &Context) -> PathBuf {
    ctx.data_dir.join("audit")
}

/// Opens the trail to write to it, with its signing key (unlocked with
/// `ALARA_LOG_KEY_PASSWORD` or a prompt). On first use this creates the log and its key,
/// a new log identity: that is said on stderr, and on a terminal it is confirmed first
/// and the passphrase asked twice.
pub fn open_trail(ctx: &Context) -> eyre::Result<AuditTrail> {
    let dir = trail_dir(ctx);
    let key = dir.join(alara_audit::trail::KEY_FILE);
    let pass = if key.exists() {
        crate::context::log_key_passphrase()?
    } else {
        crate::context::new_log_key_passphrase(&dir)?
    };
    let trail = AuditTrail::open(TrailConfig::new(&dir, pass))
        .wrap_err_with(|| format!("opening the audit trail in {}", dir.display()))?;
    if !key.exists() {
        bail!("the audit log key was not written to {}", key.display());
    }
    Ok(trail)
}

/// Opens the trail for reading only: no key, no passphrase (`status`, `list`, `export`,
/// `check`, `lineage`).
pub fn open_trail_read_only(ctx: &Context) -> eyre::Result<AuditTrail> {
    let dir = trail_dir(ctx);
    if AuditTrail::stored_verifier(&dir)?.is_none() {
        bail!(
            "no audit log in {} yet: `alara infer` (or `alara audit` commands that write) \
             creates it; `alara demo audit` keeps its own in {}",
            dir.display(),
            crate::cmd::demo::audit::demo_trail_dir(ctx).display()
        );
    }
    AuditTrail::open_read_only(&dir)
        .wrap_err_with(|| format!("opening the audit trail in {} to read it", dir.display()))
}

/// Runs an `alara audit` subcommand.
pub async fn run(ctx: &Context, command: Command) -> eyre::Result<()> {
    match command {
        Command::Verify { receipt, key, onchain, contract } => {
            verify(ctx, &receipt, key.as_deref(), onchain, contract.as_deref()).await
        }
        Command::Receipt { index, upgrade, out } => receipt(ctx, index, upgrade, out),
        Command::Erase { subject, basis } => {
            let trail = open_trail(ctx)?;
            let report = trail.erase_subject(&subject, &basis)?;
            ctx.emit(&report, || {
                println!(
                    "erased {} commitments in {} entries; erasure logged as entry {}",
                    report.commitments_erased.len(),
                    report.entries_affected.len(),
                    report.erasure_entry
                );
                println!(
                    "earlier receipts still verify; their commitments can no longer be opened"
                );
            })
        }
        Command::List(filter) => {
            let trail = open_trail_read_only(ctx)?;
            let rows = trail.query(&filter.into())?;
            ctx.emit(&rows, || {
                println!("{:>8}  {:>14}  {:<16}  detail", "index", "time_ms", "kind");
                for r in &rows {
                    let detail = match &r.entry.body {
                        alara_audit::entry::EntryBody::Inference(i) => {
                            format!("{} model {}", i.system, i.model.id)
                        }
                        other => other.model_id().unwrap_or("").to_string(),
                    };
                    println!(
                        "{:>8}  {:>14}  {:<16}  {detail}",
                        r.leaf_index,
                        r.entry.time_ms,
                        r.entry.body.kind_name()
                    );
                }
                println!("{} entries", rows.len());
            })
        }
        Command::Export { filter, out } => {
            let trail = open_trail_read_only(ctx)?;
            let n = if out == "-" {
                let stdout = std::io::stdout();
                let mut lock = stdout.lock();
                trail.export(&filter.into(), &mut lock)?
            } else {
                // Written beside `out` and renamed into place once complete.
                let file = alara_store::AtomicFile::create(&out)
                    .wrap_err_with(|| format!("creating {out}"))?;
                let mut f = std::io::BufWriter::new(file);
                let n = trail.export(&filter.into(), &mut f)?;
                let file = f.into_inner().map_err(|e| e.into_error()).wrap_err("writing")?;
                file.commit().wrap_err_with(|| format!("writing {out}"))?;
                n
            };
            if out != "-" {
                ctx.emit(&serde_json::json!({ "exported": n, "file": out }), || {
                    println!("exported {n} receipts to {out}")
                })?;
            }
            Ok(())
        }
        Command::Anchor { force, watch, every_entries, every_secs, contract } => {
            let policy = AnchorPolicy {
                every_entries,
                every: Duration::from_secs(every_secs),
                ..Default::default()
            };
            anchor_cmd(ctx, force, watch, policy, contract).await
        }
        Command::Status => status(ctx),
        Command::Check => {
            let trail = open_trail_read_only(ctx)?;
            let size = trail.log().verify_integrity()?;
            ctx.emit(&serde_json::json!({ "ok": true, "size": size }), || {
                println!("log verified: {size} entries, every node hash recomputed, latest checkpoint checked")
            })
        }
        Command::CrashWriter { dir, threads } => {
            alara_audit::crash::run_writer(&dir, threads, Duration::from_secs(120))?;
            Ok(())
        }
    }
}

/// A receipt file, refused as soon as it grows past the largest receipt (so `/dev/zero` or a
/// huge file fails at once instead of being read whole).
fn read_receipt_file(path: &Path) -> eyre::Result<Vec<u8>> {
    alara_store::read_file_capped(path, alara_audit::receipt::MAX_RECEIPT_BYTES as u64)
        .wrap_err_with(|| format!("reading the receipt {}", path.display()))
}

async fn verify(
    ctx: &Context,
    path: &Path,
    key: Option<&str>,
    onchain: bool,
    contract: Option<&str>,
) -> eyre::Result<()> {
    let bytes = read_receipt_file(path)?;
    let receipt = Receipt::from_json(&bytes)
        .wrap_err_with(|| format!("{} is not a valid receipt", path.display()))?;
    let pinned = key.map(NoteVerifier::parse).transpose().wrap_err("--key")?;
    let offline = receipt.verify_offline(pinned.as_ref()).wrap_err("receipt does NOT verify")?;
    let chain = if onchain {
        Some(
            verify_onchain(ctx, &receipt, pinned, contract)
                .await
                .wrap_err("on-chain check failed")?,
        )
    } else {
        None
    };
    let out = serde_json::json!({ "valid": true, "offline": offline, "onchain": chain });
    ctx.emit(&out, || {
        println!("receipt verifies: entry {} ({}) is in the tree of {} leaves, root {}", offline.leaf_index, offline.kind, offline.tree_size, offline.root);
        if offline.key_pinned {
            println!("checkpoint signed by the pinned key {}", receipt.log.verifier_key);
        } else if chain.is_some() {
            println!("checkpoint signed by {} (the local log's key, registered on-chain)", receipt.log.verifier_key);
        } else {
            println!("checkpoint signed by {} (the receipt's own key: pin it with --key)", receipt.log.verifier_key);
        }
        match (&offline.anchored, &receipt.anchor) {
            (Some((size, _)), Some(a)) => println!("anchored at size {size} on chain {} in tx {} (block {})", a.chain_id, a.tx_hash, a.block_number),
            _ => println!("not anchored yet (upgrade later with `alara audit receipt --upgrade`)"),
        }
        if let Some(c) = &chain {
            println!(
                "on-chain: AuditAnchor {} registers the key for account {}; anchor event found; {}; verifyInclusion returned true",
                c.contract,
                c.log_id,
                if c.latest {
                    "it is the log's latest anchor".to_string()
                } else {
                    format!("consistent with the current anchor (size {})", c.current.0)
                }
            );
        }
    })
}

/// `--onchain`: the contract and the key are the verifier's own (flags, address book,
/// local log), never the receipt's.
async fn verify_onchain(
    ctx: &Context,
    receipt: &Receipt,
    key: Option<NoteVerifier>,
    contract: Option<&str>,
) -> eyre::Result<anchor::OnchainVerified> {
    let local = AuditTrail::stored_verifier(&trail_dir(ctx))?;
    let key = match key.or_else(|| local.clone()) {
        Some(k) => k,
        None => bail!(
            "--onchain needs the log key you trust: pass --key name+hash+base64 (the log's operator publishes it; `alara audit status` prints it where the log is)"
        ),
    };
    let conn = ctx.connect().await?;
    let contract = match contract {
        Some(c) => c.parse().map_err(|e| eyre!("--contract {c:?}: {e}"))?,
        None => anchor::recorded(&conn.provider, &ctx.data_dir).await?.ok_or_else(|| {
            eyre!(
                "no AuditAnchor recorded for chain {} in {}: pass --contract ADDR (the AuditAnchor the log's operator publishes)",
                conn.chain_id,
                ctx.data_dir.display()
            )
        })?,
    };
    let pins = Pins { contract, key };
    match anchor::verify_onchain(&conn.provider, receipt, &pins, None).await {
        // A superseded anchor needs a consistency proof to the current one: the local log,
        // when it is this log, makes it.
        Err(alara_audit::Error::Superseded { .. }) if local.as_ref() == Some(&pins.key) => {
            let trail = open_trail_read_only(ctx)?;
            Ok(anchor::verify_onchain(&conn.provider, receipt, &pins, Some(trail.log())).await?)
        }
        other => Ok(other?),
    }
}

fn receipt(
    ctx: &Context,
    index: Option<u64>,
    upgrade: Option<PathBuf>,
    out: Option<PathBuf>,
) -> eyre::Result<()> {
    let trail = open_trail(ctx)?;
    let (mut r, target) = match (index, upgrade) {
        (Some(i), None) => (trail.receipt(i)?, out),
        (None, Some(path)) => {
            let bytes = read_receipt_file(&path)?;
            (Receipt::from_json(&bytes)?, Some(out.unwrap_or(path)))
        }
        _ => bail!("give --index N or --upgrade FILE"),
    };
    if r.log.verifier_key != *trail.verifier() {
        bail!(
            "receipt is from log {}, this data dir holds {}",
            r.log.verifier_key,
            trail.verifier()
        );
    }
    let anchored = match AnchorState::load(&trail_dir(ctx))? {
        Some(state) => anchor::upgrade_receipt(&mut r, trail.log(), &state)?,
        None => false,
    };
    r.verify_offline(Some(trail.verifier()))?;
    let text = r.to_json();
    match target {
        Some(path) => {
            crate::files::write(&path, text.as_bytes())?;
            ctx.emit(&serde_json::json!({ "file": path, "anchored": anchored }), || {
                println!(
                    "wrote {} ({})",
                    path.display(),
                    if anchored { "anchored" } else { "not anchored yet" }
                )
            })
        }
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

async fn anchor_cmd(
    ctx: &Context,
    force: bool,
    watch: bool,
    policy: AnchorPolicy,
    contract: Option<String>,
) -> eyre::Result<()> {
    let trail = Arc::new(open_trail(ctx)?);
    let conn = ctx.connect().await?;
    let contract = match contract {
        Some(c) => c.parse().map_err(|e| eyre!("--contract {c:?}: {e}"))?,
        None => anchor::ensure_deployed(&conn.provider, &ctx.data_dir).await?,
    };
    let mut anchorer = Anchorer::setup(
        conn.provider.clone(),
        conn.signer,
        trail.log(),
        &trail_dir(ctx),
        contract,
        policy,
    )
    .await?;
    if watch {
        eprintln!(
            "anchoring every {} entries or {} s to {} on chain {}; Ctrl-C to stop",
            policy.every_entries,
            policy.every.as_secs(),
            anchorer.state().contract,
            conn.chain_id
        );
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        anchorer.run(trail.log(), Duration::from_secs(1), stop).await;
        return Ok(());
    }
    let rec = anchorer.tick(trail.log(), force).await?;
    let state = anchorer.state().clone();
    ctx.emit(&serde_json::json!({ "anchored": rec, "state": state }), || match &rec {
        Some(r) => println!(
            "anchored size {} root {} in tx {} (block {}, {} gas)",
            r.size, r.root, r.tx_hash, r.block_number, r.gas_used
        ),
        None => match &state.pending {
            Some(p) => println!("transaction {} for size {} is pending", p.tx_hash, p.size),
            None => println!("nothing to anchor (use --force below the batch size)"),
        },
    })
}

fn status(ctx: &Context) -> eyre::Result<()> {
    let trail = open_trail_read_only(ctx)?;
    let log = trail.log();
    let cp = log.latest_checkpoint();
    let anchors = AnchorState::load(&trail_dir(ctx))?;
    let out = serde_json::json!({
        "dir": trail.dir(),
        "origin": log.origin(),
        "verifier_key": log.verifier().to_string(),
        "size": log.size(),
        "checkpoints": log.checkpoint_count(),
        "latest_checkpoint": cp.as_ref().map(|c| &c.note),
        "anchors": anchors,
    });
    ctx.emit(&out, || {
        println!("audit log   {}", trail.dir().display());
        println!("origin      {}", log.origin());
        println!("key         {}", log.verifier());
        println!("entries     {}", log.size());
        println!("checkpoints {}", log.checkpoint_count());
        match &anchors {
            Some(a) => match a.anchored.last() {
                Some(l) => println!(
                    "anchored    size {} on chain {} ({}), tx {}",
                    l.size, a.chain_id, a.contract, l.tx_hash
                ),
                None => println!("anchored    not yet (contract {})", a.contract),
            },
            None => println!("anchored    never (run `alara audit anchor`)"),
        }
    })
}
