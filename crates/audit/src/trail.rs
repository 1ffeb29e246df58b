//! [`AuditTrail`]: the log, its key and the vault behind one handle — what the rest of
//! the platform calls to record entries, hand out receipts, erase a subject and answer
//! an auditor.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{NoteVerifier, SignedCheckpoint};
use crate::entry::{commit, Entry, EntryBody, Erasure};
use crate::hash::Hash;
use crate::keyfile;
use crate::log::{Appended, Log, LogConfig};
use crate::receipt::{LogInfo, Receipt, SCHEMA};
use crate::vault::{Opening, StoredOpening, Vault};
use crate::{Error, Result};

/// Key file name inside the trail directory.
pub const KEY_FILE: &str = "log-key.age";

/// How to open a trail.
#[derive(Clone)]
pub struct TrailConfig {
    /// Directory (`<data-dir>/audit` in the CLI).
    pub dir: PathBuf,
    /// Passphrase of the key file.
    pub passphrase: String,
    /// Name (origin) for a new key; default `alara.local/audit/<random>`.
    pub origin: Option<String>,
    /// See [`LogConfig::checkpoint_interval`].
    pub checkpoint_interval: Duration,
    /// scrypt work factor for a new key file.
    pub key_work_factor: u8,
}

impl std::fmt::Debug for TrailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrailConfig")
            .field("dir", &self.dir)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl TrailConfig {
    /// Defaults for `dir` with this key passphrase.
    pub fn new(dir: impl Into<PathBuf>, passphrase: impl Into<String>) -> Self {
        Self {
            dir: dir.into(),
            passphrase: passphrase.into(),
            origin: None,
            checkpoint_interval: Duration::ZERO,
            key_work_factor: keyfile::DEFAULT_WORK_FACTOR,
        }
    }
}

/// What an erasure did.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErasureReport {
    /// Commitments whose openings were deleted.
    pub commitments_erased: Vec<Hash>,
    /// Entries that carried them (they stay in the log and keep verifying).
    pub entries_affected: Vec<u64>,
    /// The `erasure` entry appended to the log.
    pub erasure_entry: u64,
}

/// Filter for [`AuditTrail::query`]; empty fields match everything.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Query {
    /// Entries at or after this time (Unix ms).
    pub from_ms: Option<u64>,
    /// Entries before this time (Unix ms).
    pub to_ms: Option<u64>,
    /// Entry kinds (`inference`, `payout`, …).
    pub kinds: Vec<String>,
    /// Model id or hex version hash.
    pub model: Option<String>,
    /// Data subject (looked up in the vault; nothing about subjects is in the log).
    pub subject: Option<String>,
    /// At most this many rows.
    pub limit: Option<usize>,
}

/// One entry found by a query.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Row {
    /// Leaf index.
    pub leaf_index: u64,
    /// Decoded entry.
    pub entry: Entry,
}

/// The audit trail.
pub struct AuditTrail {
    log: Log,
    vault: Vault,
    dir: PathBuf,
}

impl std::fmt::Debug for AuditTrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditTrail")
            .field("dir", &self.dir)
            .field("size", &self.log.size())
            .finish()
    }
}

impl AuditTrail {
    /// Opens or creates the trail: key file, log (with crash recovery) and vault.
    pub fn open(config: TrailConfig) -> Result<Self> {
        std::fs::create_dir_all(&config.dir).map_err(crate::error::io(&config.dir))?;
        let origin = config.origin.clone().unwrap_or_else(|| {
            let mut r = [0u8; 4];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut r);
            format!("alara.local/audit/{}", hex::encode(r))
        });
        let signer = keyfile::open_or_create(
            &config.dir.join(KEY_FILE),
            &config.passphrase,
            &origin,
            config.key_work_factor,
        )?;
        let mut log_config = LogConfig::new(config.dir.join("log"), signer);
        log_config.checkpoint_interval = config.checkpoint_interval;
        let log = Log::open(log_config)?;
        let vault = Vault::open(&config.dir.join("vault.redb"))?;
        Ok(Self { log, vault, dir: config.dir })
    }

    /// Opens the existing trail in `dir` for reading, without its key (so without its
    /// passphrase, and without scrypt's second of work): status, entries, queries,
    /// receipts against checkpoints already signed, proofs and exports. Appending,
    /// erasing and signing fail with [`Error::ReadOnly`]. Fails when no trail is there.
    pub fn open_read_only(dir: &Path) -> Result<Self> {
        let log = Log::open_read_only(&dir.join("log"))?;
        let vault = Vault::open(&dir.join("vault.redb"))?;
        Ok(Self { log, vault, dir: dir.to_path_buf() })
    }

    /// The log key of the trail in `dir`, read without unlocking anything (`None` when no
    /// trail is there).
    pub fn stored_verifier(dir: &Path) -> Result<Option<crate::NoteVerifier>> {
        Log::stored_verifier(&dir.join("log"))
    }

    /// The trail directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The underlying log (proofs, checkpoints, raw appends).
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// The vault of openings.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The log's verifier key.
    pub fn verifier(&self) -> &NoteVerifier {
        self.log.verifier()
    }

    /// Appends an entry that carries no personal data; returns once durable.
    pub fn append(&self, entry: &Entry) -> Result<Appended> {
        self.log.append(&entry.encode())
    }

    /// Appends entries; returns once all are durable.
    pub fn append_batch(&self, entries: &[Entry]) -> Result<Appended> {
        let bytes: Vec<Vec<u8>> = entries.iter().map(Entry::encode).collect();
        self.log.append_batch(&bytes)
    }

    /// Async [`AuditTrail::append_batch`].
    pub async fn append_batch_async(&self, entries: &[Entry]) -> Result<Appended> {
        let bytes: Vec<Vec<u8>> = entries.iter().map(Entry::encode).collect();
        self.log.append_batch_async(&bytes).await
    }

    /// Appends entries whose commitments are opened by `openings[i]` (one list per entry),
    /// storing the openings in the vault; returns once entries and openings are durable.
    pub fn record(&self, entries: &[(Entry, Vec<Opening>)]) -> Result<Appended> {
        let ticket = self.enqueue_with_openings(entries)?;
        if ticket.count == 0 {
            return Ok(Appended { index: ticket.index, count: 0, tree_size: self.log.size() });
        }
        self.vault.sync()?;
        let size = self.log.wait_durable(ticket.index + ticket.count - 1)?;
        Ok(Appended { index: ticket.index, count: ticket.count, tree_size: size })
    }

    /// Queues entries and stores their openings without waiting for durability; pair
    /// with [`AuditTrail::wait`] (for a decision that must not wait for the disk).
    pub fn enqueue_with_openings(
        &self,
        entries: &[(Entry, Vec<Opening>)],
    ) -> Result<crate::log::Ticket> {
        for (e, os) in entries {
            let cs = e.body.commitments();
            if let Some(o) = os.iter().find(|o| !cs.contains(&o.commitment())) {
                return Err(Error::Malformed {
                    what: "opening",
                    detail: format!(
                        "opening labelled {:?} opens no commitment of its {} entry",
                        o.label,
                        e.body.kind_name()
                    ),
                });
            }
        }
        let bytes: Vec<Vec<u8>> = entries.iter().map(|(e, _)| e.encode()).collect();
        let ticket = self.log.enqueue(&bytes)?;
        let items: Vec<(u64, &Opening)> = entries
            .iter()
            .enumerate()
            .flat_map(|(i, (_, os))| os.iter().map(move |o| (ticket.index + i as u64, o)))
            .collect();
        self.vault.put(&items)?;
        Ok(ticket)
    }

    /// Waits until entry `index` and every opening stored so far are durable.
    pub fn wait(&self, index: u64) -> Result<u64> {
        self.vault.sync()?;
        self.log.wait_durable(index)
    }

    /// The receipt of entry `index`: entry, inclusion proof and the first signed
    /// checkpoint covering it (waits for that checkpoint if needed).
    pub fn receipt(&self, index: u64) -> Result<Receipt> {
        self.log.wait_durable(index)?;
        let cp = self.log.checkpoint_covering(index)?;
        self.receipt_at(index, &cp)
    }

    /// The receipt of `index` against a given checkpoint of this log.
    pub fn receipt_at(&self, index: u64, cp: &SignedCheckpoint) -> Result<Receipt> {
        let bytes = self.log.entry(index)?;
        let entry = Entry::decode(&bytes)?;
        let proof = self.log.prove_inclusion(index, cp.checkpoint.size)?;
        Ok(Receipt {
            schema: SCHEMA.to_string(),
            log: LogInfo {
                origin: self.log.origin().to_string(),
                verifier_key: self.log.verifier().clone(),
            },
            entry,
            entry_bytes: B64.encode(&bytes),
            leaf_index: index,
            leaf_hash: crate::hash::leaf_hash(&bytes),
            inclusion_proof: proof.path,
            checkpoint: cp.note.clone(),
            anchor: None,
        })
    }

    /// Opens a commitment from the vault (None once erased).
    pub fn open_commitment(&self, commitment: &Hash) -> Result<Option<StoredOpening>> {
        self.vault.get(commitment)
    }

    /// GDPR Art. 17: deletes the subject's salts and payloads and appends an `erasure`
    /// entry. Earlier receipts keep verifying; their commitments no longer open.
    pub fn erase_subject(&self, subject: &str, basis: &str) -> Result<ErasureReport> {
        let entries_affected = self.vault.leaves_of(subject)?;
        let erased = self.vault.erase_subject(subject)?;
        // The request commitment's salt is dropped here: it links the entry to no one.
        let mut salt = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
        let request = commit(&salt, subject.as_bytes());
        let entry = Entry::now(EntryBody::Erasure(Erasure {
            basis: basis.to_string(),
            request,
            commitments_erased: erased.len() as u64,
        }));
        let a = self.append(&entry)?;
        Ok(ErasureReport { commitments_erased: erased, entries_affected, erasure_entry: a.index })
    }

    /// Entries matching `q`, oldest first.
    pub fn query(&self, q: &Query) -> Result<Vec<Row>> {
        let mut rows = Vec::new();
        self.scan(q, |row| {
            rows.push(row);
            Ok(())
        })?;
        Ok(rows)
    }

    fn scan(&self, q: &Query, mut f: impl FnMut(Row) -> Result<()>) -> Result<()> {
        for k in &q.kinds {
            if !crate::entry::KIND_NAMES.contains(&k.as_str()) && k != "unknown" {
                return Err(Error::Malformed {
                    what: "query",
                    detail: format!(
                        "unknown kind {k:?}; known: {}",
                        crate::entry::KIND_NAMES.join(", ")
                    ),
                });
            }
        }
        let subject_leaves = match &q.subject {
            Some(s) => Some(self.vault.leaves_of(s)?),
            None => None,
        };
        let model_hash = q.model.as_deref().and_then(|m| Hash::from_hex(m).ok());
        let size = self.log.size();
        let candidates: Box<dyn Iterator<Item = u64>> = match &subject_leaves {
            Some(l) => Box::new(l.clone().into_iter().filter(move |i| *i < size)),
            None => Box::new(0..size),
        };
        let mut n = 0usize;
        for i in candidates {
            if q.limit.is_some_and(|l| n >= l) {
                break;
            }
            let entry = Entry::decode(&self.log.entry(i)?)?;
            if q.from_ms.is_some_and(|t| entry.time_ms < t)
                || q.to_ms.is_some_and(|t| entry.time_ms >= t)
            {
                continue;
            }
            if !q.kinds.is_empty() && !q.kinds.iter().any(|k| k == entry.body.kind_name()) {
                continue;
            }
            if let Some(m) = &q.model {
                let by_hash = model_hash.is_some() && entry.body.model_hash() == model_hash;
                if !by_hash && entry.body.model_id() != Some(m.as_str()) {
                    continue;
                }
            }
            n += 1;
            f(Row { leaf_index: i, entry })?;
        }
        Ok(())
    }

    /// Writes the matching entries as JSON Lines, one self-contained receipt per line,
    /// all proven against the latest checkpoint. Returns the number of lines.
    pub fn export(&self, q: &Query, out: &mut dyn Write) -> Result<u64> {
        let Some(cp) = self.log.latest_checkpoint() else { return Ok(0) };
        let mut count = 0u64;
        let mut q = q.clone();
        q.to_ms = q.to_ms.or(Some(u64::MAX));
        self.scan(&q, |row| {
            if row.leaf_index >= cp.checkpoint.size {
                return Ok(());
            }
            let r = self.receipt_at(row.leaf_index, &cp)?;
            serde_json::to_writer(&mut *out, &r)?;
            out.write_all(b"\n").map_err(crate::error::io("export"))?;
            count += 1;
            Ok(())
        })?;
        Ok(count)
    }
}
