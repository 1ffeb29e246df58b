//! The durable, append-only Merkle log with group commit.
//!
//! # Files (in the log directory)
//!
//! | file | content | durability |
//! |---|---|---|
//! | `entries.log` | groups: 64-byte header, optional signed checkpoint note, records (`u32 len ‖ bytes`) | fsynced before any append in the group is acknowledged |
//! | `nodes.bin` | every complete subtree of 2^[`NODE_FLOOR`] or more leaves, 32 bytes each, in post-order ([`crate::tree::node_position`] over blocks of 2^`NODE_FLOOR` leaves) | derived; synced in the background |
//! | `offsets.bin` | `u64` offset of each record in `entries.log` | derived |
//! | `checkpoints.bin` | `(size u64, group offset u64)` of each signed checkpoint | derived |
//! | `derived.json` | lengths of the derived files as of their last sync | written after that sync |
//! | `log.json` | origin and verifier key of the log | written once |
//!
//! A group header holds the tree root after the group (and a checksum of the header), so
//! recovery replays groups beyond the last derived sync, recomputes their hashes, and cuts
//! the file at the first group whose root does not match: a torn tail is dropped, and every
//! acknowledged group, being fsynced, is intact. Derived files are truncated to their last
//! synced length and rebuilt from there.
//!
//! Subtrees below 2^`NODE_FLOOR` leaves are not stored: a proof recomputes the few it needs
//! from one read of their entries. Storing every node would cost 64 bytes per entry on
//! top of a ~180-byte entry, and durable appends are bound by the disk's bandwidth.
//!
//! The parts: `format` (file names, group header, records), `nodes` (subtree hashes for
//! proofs), `commit` (the committer and the two syncers) and `recovery` (replay on open).
//!
//! # Group commit
//!
//! Writers hash their leaves in their own thread, then take a short lock to get indices
//! and copy their bytes into the pending group. Two stages follow, each on its own thread:
//!
//! 1. the committer takes the whole pending group, extends the tree (one node hash per
//!    leaf, amortised), signs a checkpoint when due, and writes the group and its derived
//!    records to the page cache;
//! 2. the syncer issues one `fdatasync` for every group written since its last one, then
//!    publishes the new durable size and wakes the writers.
//!
//! So while group *k* is on its way to the disk, group *k+1* is hashed and written, and
//! group *k+2* fills. Nothing is acknowledged, and no reader sees a node, offset or
//! checkpoint record, before the group holding it is durable.

#[cfg(unix)]
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, NoteSigner, NoteVerifier, SignedCheckpoint};
use crate::error::io;
use crate::hash::{leaf_hash, Hash};
use crate::proof::{self, ConsistencyProof, InclusionProof};
use crate::tree::{Frontier, Subtrees};
use crate::{Error, Result};

mod commit;
mod format;
mod nodes;
mod recovery;
#[cfg(test)]
mod tests;

use commit::{Committer, Unsynced};
pub use format::NODE_FLOOR;
use format::{
    lock, read_exact_at, DerivedMark, GroupHeader, Identity, Writers, HEADER_LEN, IDENTITY,
};
use nodes::{NodeFile, Readers};

/// Default largest entry, in bytes.
const MAX_ENTRY_SIZE: usize = 1 << 20;
/// Default pending bytes at which writers wait.
const MAX_PENDING_BYTES: usize = 64 << 20;

/// How a log behaves.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// Directory of the log's files (created if missing).
    pub dir: PathBuf,
    /// The key that signs checkpoints; its name is the log's origin.
    pub signer: NoteSigner,
    /// Minimum time between signed checkpoints; zero signs one per group commit, so a
    /// receipt is available as soon as its entry is durable.
    pub checkpoint_interval: Duration,
    /// Largest entry accepted, in bytes.
    pub max_entry_size: usize,
    /// Pending bytes at which writers wait for the committer (back-pressure).
    pub max_pending_bytes: usize,
    /// How often the derived files (node hashes, offsets) are synced, bounding replay
    /// after a crash.
    pub derived_sync_interval: Duration,
}

impl LogConfig {
    /// Defaults: a checkpoint per group commit, 1 MiB entries, 64 MiB pending, derived
    /// files synced every second.
    pub fn new(dir: impl Into<PathBuf>, signer: NoteSigner) -> Self {
        Self {
            dir: dir.into(),
            signer,
            checkpoint_interval: Duration::ZERO,
            max_entry_size: MAX_ENTRY_SIZE,
            max_pending_bytes: MAX_PENDING_BYTES,
            derived_sync_interval: Duration::from_secs(1),
        }
    }
}

/// A log's settings once its key is known: what [`Log::open`] and [`Log::open_read_only`]
/// start from.
struct Settings {
    dir: PathBuf,
    verifier: NoteVerifier,
    /// `None` for a read-only log, which never signs (it never commits).
    signer: Option<NoteSigner>,
    checkpoint_interval: Duration,
    max_entry_size: usize,
    max_pending_bytes: usize,
    derived_sync_interval: Duration,
}

impl From<LogConfig> for Settings {
    fn from(c: LogConfig) -> Self {
        Self {
            dir: c.dir,
            verifier: c.signer.verifier(),
            signer: Some(c.signer),
            checkpoint_interval: c.checkpoint_interval,
            max_entry_size: c.max_entry_size,
            max_pending_bytes: c.max_pending_bytes,
            derived_sync_interval: c.derived_sync_interval,
        }
    }
}

/// Acknowledgement of durable appends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appended {
    /// Index of the first appended entry.
    pub index: u64,
    /// Number of entries appended by the call.
    pub count: u64,
    /// Durable tree size when acknowledged (at least `index + count`).
    pub tree_size: u64,
}

/// Entries queued but perhaps not yet durable: the indices they will have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// Index of the first entry.
    pub index: u64,
    /// Number of entries.
    pub count: u64,
}

#[derive(Default)]
struct Queue {
    body: Vec<u8>,
    rel: Vec<u32>,
    leaves: Vec<Hash>,
    next_index: u64,
    shutdown: bool,
    checkpoint_wanted: bool,
}

#[derive(Clone, Debug, Default)]
struct Durable {
    size: u64,
    checkpoints: u64,
    latest: Option<SignedCheckpoint>,
    failed: Option<String>,
}

struct Shared {
    dir: PathBuf,
    verifier: NoteVerifier,
    max_entry_size: usize,
    max_pending_bytes: usize,
    readers: Readers,
    queue: Mutex<Queue>,
    work: Condvar,
    space: Condvar,
    /// Wakes the derived-file syncer (only on shutdown; it otherwise sleeps its interval).
    sync_cv: Condvar,
    durable: Mutex<Durable>,
    durable_cv: Condvar,
    durable_tx: tokio::sync::watch::Sender<(u64, bool)>,
    /// Latest durable derived lengths (derived files not necessarily synced), for the
    /// derived-file syncer.
    written: Mutex<DerivedMark>,
    unsynced: Mutex<Unsynced>,
    unsynced_cv: Condvar,
    /// Held while the derived files are synced and `derived.json` replaced: the background
    /// syncer and the committer's final sync must not share the temporary file.
    derived_sync: Mutex<()>,
}

impl Shared {
    fn new(config: &Settings, readers: Readers, mark: DerivedMark) -> Self {
        let (tx, _) = tokio::sync::watch::channel((0u64, false));
        Self {
            dir: config.dir.clone(),
            verifier: config.verifier.clone(),
            max_entry_size: config.max_entry_size,
            max_pending_bytes: config.max_pending_bytes,
            readers,
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            space: Condvar::new(),
            sync_cv: Condvar::new(),
            durable: Mutex::new(Durable::default()),
            durable_cv: Condvar::new(),
            durable_tx: tx,
            written: Mutex::new(mark),
            unsynced: Mutex::new(Unsynced::default()),
            unsynced_cv: Condvar::new(),
            derived_sync: Mutex::new(()),
        }
    }

    /// Marks the log stopped (closed or failed, `msg` says which) and wakes everyone who
    /// waits for durability or for room.
    fn stop(&self, msg: String) {
        let size = {
            let mut d = self.durable.lock();
            d.failed = Some(msg);
            d.size
        };
        self.durable_tx.send_replace((size, true));
        self.durable_cv.notify_all();
        self.space.notify_all();
    }
}

/// The audit log. Cheap to share behind an `Arc`; appends from many threads are grouped.
pub struct Log {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Signs checkpoints outside the committer (see [`Log::sign_checkpoint`]); `None` when
    /// opened read-only.
    signer: Option<NoteSigner>,
    /// The directory's exclusive lock; declared last, so it is released only after
    /// [`Log::close`] has joined the committer and the syncer.
    _lock: std::fs::File,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").field("dir", &self.shared.dir).field("size", &self.size()).finish()
    }
}

impl Log {
    /// Opens (or creates) the log in `config.dir`, recovering from any crash.
    pub fn open(config: LogConfig) -> Result<Self> {
        let dir = config.dir.clone();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let lock = lock(&dir)?;
        Identity::check_or_create(&dir, &config.signer)?;
        Self::start(config.into(), lock)
    }

    /// Opens the existing log in `dir` without its signing key, for reading: sizes,
    /// entries, proofs and the checkpoints already signed. Appends are refused
    /// ([`Error::ReadOnly`]) and nothing new is signed. A torn tail left by a crash is
    /// still cut off, as on any open. Fails when there is no log in `dir`.
    pub fn open_read_only(dir: &Path) -> Result<Self> {
        let Some(verifier) = Self::stored_verifier(dir)? else {
            return Err(Error::Io {
                path: dir.join(IDENTITY),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no audit log here (it is created by the first command that writes one)",
                ),
            });
        };
        let lock = lock(dir)?;
        Self::start(
            Settings {
                dir: dir.to_path_buf(),
                verifier,
                signer: None,
                checkpoint_interval: Duration::ZERO,
                max_entry_size: MAX_ENTRY_SIZE,
                max_pending_bytes: MAX_PENDING_BYTES,
                // Nothing is appended, so nothing needs syncing: wake rarely.
                derived_sync_interval: Duration::from_secs(3600),
            },
            lock,
        )
    }

    fn start(config: Settings, lock: std::fs::File) -> Result<Self> {
        let dir = config.dir.clone();
        let writers = Writers::open(&dir)?;
        let mark = DerivedMark::trusted(&dir, &writers)?;
        let readers = Readers::open(&dir)?;
        let frontier =
            Frontier::from_subtrees(&NodeFile::new(&readers, &dir, mark.size), mark.size)?;
        let shared = Arc::new(Shared::new(&config, readers, mark));
        let mut committer = Committer::new(shared.clone(), &config, frontier, writers, mark);
        committer.recover()?;
        committer.publish_recovered()?;
        let threads = committer.spawn(config.derived_sync_interval)?;
        Ok(Self { shared, threads: Mutex::new(threads), signer: config.signer, _lock: lock })
    }

    /// Opened without its key ([`Log::open_read_only`]): nothing is appended or signed.
    fn read_only(&self) -> bool {
        self.signer.is_none()
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The verifier key of the log's checkpoints.
    pub fn verifier(&self) -> &NoteVerifier {
        &self.shared.verifier
    }

    /// The log's origin (its checkpoints' first line).
    pub fn origin(&self) -> &str {
        self.shared.verifier.name()
    }

    /// Durable tree size: entries acknowledged so far.
    pub fn size(&self) -> u64 {
        self.shared.durable.lock().size
    }

    /// The latest signed checkpoint, if any.
    pub fn latest_checkpoint(&self) -> Option<SignedCheckpoint> {
        self.shared.durable.lock().latest.clone()
    }

    /// The verifier key recorded in the log directory `dir`, without opening the log or
    /// its key (`None` when there is no log there).
    pub fn stored_verifier(dir: &Path) -> Result<Option<NoteVerifier>> {
        let path = dir.join(IDENTITY);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let id: Identity = serde_json::from_slice(&bytes)
                    .map_err(|e| Error::Corrupt { path: path.clone(), detail: e.to_string() })?;
                Ok(Some(id.verifier))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Io { path, source: e }),
        }
    }

    /// Signs a checkpoint of the first `size` durable entries whose note carries the
    /// `extensions` lines after the root (for example an anchor's chain binding). It is not
    /// stored in the log: the caller keeps it (an anchored receipt carries it).
    pub fn sign_checkpoint(&self, size: u64, extensions: &[String]) -> Result<SignedCheckpoint> {
        let durable = self.size();
        if size == 0 || size > durable {
            return Err(Error::OutOfRange {
                what: "checkpoint size",
                requested: size,
                available: durable,
            });
        }
        let root = self.root_at(size)?;
        let checkpoint = Checkpoint { origin: self.origin().to_string(), size, root };
        match &self.signer {
            Some(signer) => signer.sign_extended(&checkpoint, extensions),
            None => Err(Error::ReadOnly),
        }
    }

    /// Number of checkpoints signed so far.
    pub fn checkpoint_count(&self) -> u64 {
        self.shared.durable.lock().checkpoints
    }

    /// Queues entries without waiting for durability; see [`Log::wait_durable`].
    pub fn enqueue<T: AsRef<[u8]>>(&self, items: &[T]) -> Result<Ticket> {
        let leaves: Vec<Hash> = items.iter().map(|d| leaf_hash(d.as_ref())).collect();
        self.enqueue_hashed(items, &leaves)
    }

    /// Like [`Log::enqueue`] with leaf hashes the caller already computed
    /// (`leaves[i] == leaf_hash(items[i])`; the committer does not re-check).
    fn enqueue_hashed<T: AsRef<[u8]>>(&self, items: &[T], leaves: &[Hash]) -> Result<Ticket> {
        let mut bytes = 0usize;
        for d in items {
            let len = d.as_ref().len();
            if len > self.shared.max_entry_size {
                return Err(Error::EntryTooLarge { size: len, limit: self.shared.max_entry_size });
            }
            bytes += len + 4;
        }
        if self.read_only() {
            return Err(Error::ReadOnly);
        }
        let mut q = self.shared.queue.lock();
        loop {
            if q.shutdown {
                return Err(Error::Closed("shutting down".into()));
            }
            if q.body.is_empty() || q.body.len() + bytes <= self.shared.max_pending_bytes {
                break;
            }
            if let Some(e) = self.shared.durable.lock().failed.clone() {
                return Err(Error::Closed(e));
            }
            self.shared.space.wait_for(&mut q, Duration::from_millis(100));
        }
        if q.body.len() + bytes > u32::MAX as usize {
            return Err(Error::EntryTooLarge {
                size: bytes,
                limit: u32::MAX as usize - q.body.len(),
            });
        }
        let index = q.next_index;
        q.body.reserve(bytes);
        for d in items {
            let d = d.as_ref();
            let rel = q.body.len() as u32;
            q.rel.push(rel);
            q.body.extend_from_slice(&(d.len() as u32).to_le_bytes());
            q.body.extend_from_slice(d);
        }
        q.leaves.extend_from_slice(leaves);
        q.next_index += items.len() as u64;
        drop(q);
        self.shared.work.notify_one();
        Ok(Ticket { index, count: items.len() as u64 })
    }

    /// Blocks until entry `index` is durable; returns the durable size then.
    pub fn wait_durable(&self, index: u64) -> Result<u64> {
        let mut d = self.shared.durable.lock();
        loop {
            if d.size > index {
                return Ok(d.size);
            }
            if let Some(e) = &d.failed {
                return Err(Error::Closed(e.clone()));
            }
            if self.read_only() {
                // Nothing will be appended: an entry not there now never will be.
                return Err(Error::OutOfRange {
                    what: "entry",
                    requested: index,
                    available: d.size,
                });
            }
            self.shared.durable_cv.wait(&mut d);
        }
    }

    /// Waits (async) until entry `index` is durable; returns the durable size then.
    pub async fn wait_durable_async(&self, index: u64) -> Result<u64> {
        if self.read_only() {
            return self.wait_durable(index);
        }
        let mut rx = self.shared.durable_tx.subscribe();
        let (size, failed) = *rx
            .wait_for(|(size, failed)| *size > index || *failed)
            .await
            .map_err(|_| Error::Closed("log dropped".into()))?;
        if size > index {
            Ok(size)
        } else {
            let failed_msg = self.shared.durable.lock().failed.clone();
            Err(Error::Closed(failed_msg.unwrap_or_else(|| format!("failed={failed}"))))
        }
    }

    /// Appends one entry and returns once it is durable.
    pub fn append(&self, data: &[u8]) -> Result<Appended> {
        self.append_batch(&[data])
    }

    /// Appends entries (consecutive indices) and returns once all are durable.
    pub fn append_batch<T: AsRef<[u8]>>(&self, items: &[T]) -> Result<Appended> {
        let t = self.enqueue(items)?;
        if t.count == 0 {
            return Ok(Appended { index: t.index, count: 0, tree_size: self.size() });
        }
        let size = self.wait_durable(t.index + t.count - 1)?;
        Ok(Appended { index: t.index, count: t.count, tree_size: size })
    }

    /// Async [`Log::append_batch`]: the caller's task yields while the group commits.
    pub async fn append_batch_async<T: AsRef<[u8]>>(&self, items: &[T]) -> Result<Appended> {
        let t = self.enqueue(items)?;
        if t.count == 0 {
            return Ok(Appended { index: t.index, count: 0, tree_size: self.size() });
        }
        let size = self.wait_durable_async(t.index + t.count - 1).await?;
        Ok(Appended { index: t.index, count: t.count, tree_size: size })
    }

    fn nodes(&self, size: u64) -> NodeFile<'_> {
        NodeFile::new(&self.shared.readers, &self.shared.dir, size)
    }

    fn check_size(&self, size: u64) -> Result<u64> {
        let durable = self.size();
        if size > durable {
            return Err(Error::OutOfRange {
                what: "tree size",
                requested: size,
                available: durable,
            });
        }
        Ok(durable)
    }

    /// The bytes of entry `index`.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>> {
        let size = self.size();
        if index >= size {
            return Err(Error::OutOfRange {
                what: "entry index",
                requested: index,
                available: size,
            });
        }
        let r = &self.shared.readers;
        let mut off = [0u8; 8];
        read_exact_at(&r.offsets, &mut off, index * 8, &self.shared.dir)?;
        let off = u64::from_le_bytes(off);
        let mut len = [0u8; 4];
        read_exact_at(&r.entries, &mut len, off, &self.shared.dir)?;
        let mut data = vec![0u8; u32::from_le_bytes(len) as usize];
        read_exact_at(&r.entries, &mut data, off + 4, &self.shared.dir)?;
        Ok(data)
    }

    /// The leaf hash of entry `index`.
    pub fn leaf(&self, index: u64) -> Result<Hash> {
        let size = self.size();
        self.nodes(size).complete(0, index)
    }

    /// The leaf hashes of entries `start..start + count` (durable ones), read in one pass.
    pub fn leaves(&self, start: u64, count: u64) -> Result<Vec<Hash>> {
        let size = self.size();
        let end = start.saturating_add(count);
        if end > size {
            return Err(Error::OutOfRange { what: "entry index", requested: end, available: size });
        }
        let nodes = self.nodes(size);
        let mut out = Vec::with_capacity(count as usize);
        let mut at = start;
        while at < end {
            // Bounded reads: a chunk of 256 entries is ~50 KB of typical entries.
            let n = (end - at).min(256);
            out.extend(nodes.leaf_hashes(at, n)?);
            at += n;
        }
        Ok(out)
    }

    /// Root of the tree of `size` leaves (any durable size).
    pub fn root_at(&self, size: u64) -> Result<Hash> {
        self.check_size(size)?;
        self.nodes(size).root(size)
    }

    /// Inclusion proof of `index` in the tree of `size` leaves.
    pub fn prove_inclusion(&self, index: u64, size: u64) -> Result<InclusionProof> {
        self.check_size(size)?;
        proof::prove_inclusion(&self.nodes(size), index, size)
    }

    /// Consistency proof between two durable sizes.
    pub fn prove_consistency(&self, old_size: u64, new_size: u64) -> Result<ConsistencyProof> {
        self.check_size(new_size)?;
        proof::prove_consistency(&self.nodes(new_size), old_size, new_size)
    }

    /// The `n`-th signed checkpoint (0 = oldest).
    pub fn checkpoint(&self, n: u64) -> Result<SignedCheckpoint> {
        let count = self.checkpoint_count();
        if n >= count {
            return Err(Error::OutOfRange { what: "checkpoint", requested: n, available: count });
        }
        read_checkpoint(&self.shared, n)
    }

    /// The oldest signed checkpoint whose tree contains entry `index`, waiting for one to be
    /// signed when the entry is newer than the latest checkpoint.
    pub fn checkpoint_covering(&self, index: u64) -> Result<SignedCheckpoint> {
        loop {
            let (count, latest_size) = {
                let d = self.shared.durable.lock();
                (d.checkpoints, d.latest.as_ref().map_or(0, |c| c.checkpoint.size))
            };
            if latest_size > index {
                // Usually the entry is in the latest checkpoint's last group.
                if count < 2 || checkpoint_size(&self.shared, count - 2)? <= index {
                    let latest = self.shared.durable.lock().latest.clone();
                    if let Some(cp) = latest.filter(|c| c.checkpoint.size == latest_size) {
                        return Ok(cp);
                    }
                }
                // Binary search for the first checkpoint with size > index.
                let (mut lo, mut hi) = (0u64, count - 1);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    if checkpoint_size(&self.shared, mid)? > index {
                        hi = mid;
                    } else {
                        lo = mid + 1;
                    }
                }
                return read_checkpoint(&self.shared, lo);
            }
            self.wait_durable(index)?;
            if self.read_only() {
                // Only the log's key can sign the checkpoint this entry needs.
                return Err(Error::ReadOnly);
            }
            {
                let mut q = self.shared.queue.lock();
                q.checkpoint_wanted = true;
            }
            self.shared.work.notify_one();
            let mut d = self.shared.durable.lock();
            if d.latest.as_ref().map_or(0, |c| c.checkpoint.size) <= index && d.failed.is_none() {
                self.shared.durable_cv.wait_for(&mut d, Duration::from_millis(50));
            }
            if let Some(e) = &d.failed {
                return Err(Error::Closed(e.clone()));
            }
        }
    }

    /// Re-reads every entry, recomputes every stored node hash and checks the latest
    /// checkpoint's root and signature. Costs a full pass; for tests and `alara audit check`.
    pub fn verify_integrity(&self) -> Result<u64> {
        let size = self.size();
        let corrupt = |detail: String| Error::Corrupt { path: self.shared.dir.clone(), detail };
        let mut frontier = Frontier::new();
        let mut pos = 0u64;
        let mut stored = [0u8; 32];
        // Leaf hashes in chunks: a pass over the whole log in bounded memory.
        let chunks = (0..size).step_by(1 << 16).map(|start| (start, (size - start).min(1 << 16)));
        let leaves = chunks.map(|(start, n)| self.leaves(start, n).map(|l| (start, l)));
        for chunk in leaves {
            let (start, hashes) = chunk?;
            for (k, leaf) in hashes.into_iter().enumerate() {
                let i = start + k as u64;
                let mut mismatch = None;
                frontier.push(leaf, |level, h| {
                    if level < NODE_FLOOR {
                        return;
                    }
                    if mismatch.is_none() {
                        let ok =
                            self.shared.readers.nodes.read_exact_at(&mut stored, pos * 32).is_ok();
                        if !ok || stored != h.0 {
                            mismatch = Some(pos);
                        }
                    }
                    pos += 1;
                });
                if let Some(p) = mismatch {
                    return Err(corrupt(format!(
                        "node {p} (while adding entry {i}) differs from the recomputed hash"
                    )));
                }
            }
        }
        if let Some(cp) = self.latest_checkpoint() {
            cp.verify(&self.shared.verifier)?;
            let root = self.root_at(cp.checkpoint.size)?;
            if root != cp.checkpoint.root {
                return Err(corrupt(format!(
                    "latest checkpoint root {} but tree says {root}",
                    cp.checkpoint.root
                )));
            }
        }
        if frontier.size() != size {
            return Err(corrupt("size mismatch".into()));
        }
        Ok(size)
    }

    /// Stops accepting appends, commits what is pending, syncs and joins the threads.
    pub fn close(&self) {
        self.shared.queue.lock().shutdown = true;
        self.shared.work.notify_all();
        self.shared.space.notify_all();
        self.shared.sync_cv.notify_all();
        for t in self.threads.lock().drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        self.close();
    }
}

fn checkpoint_size(shared: &Shared, n: u64) -> Result<u64> {
    let mut rec = [0u8; 8];
    read_exact_at(&shared.readers.checkpoints, &mut rec, n * 16, &shared.dir)?;
    Ok(u64::from_le_bytes(rec))
}

fn read_checkpoint(shared: &Shared, n: u64) -> Result<SignedCheckpoint> {
    let mut rec = [0u8; 16];
    read_exact_at(&shared.readers.checkpoints, &mut rec, n * 16, &shared.dir)?;
    let mut off = [0u8; 8];
    off.copy_from_slice(&rec[8..]);
    let off = u64::from_le_bytes(off);
    let mut h = [0u8; HEADER_LEN];
    read_exact_at(&shared.readers.entries, &mut h, off, &shared.dir)?;
    let header = GroupHeader::decode(&h).ok_or_else(|| Error::Corrupt {
        path: shared.dir.clone(),
        detail: format!("checkpoint {n} points at offset {off}, which is not a group header"),
    })?;
    let mut note = vec![0u8; header.note_len as usize];
    read_exact_at(&shared.readers.entries, &mut note, off + HEADER_LEN as u64, &shared.dir)?;
    let note = String::from_utf8(note).map_err(|_| Error::Corrupt {
        path: shared.dir.clone(),
        detail: format!("checkpoint {n} is not UTF-8"),
    })?;
    SignedCheckpoint::parse(&note)
}
