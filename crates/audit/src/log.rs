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

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
#[cfg(unix)]
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, NoteSigner, NoteVerifier, SignedCheckpoint};
use crate::error::io;
use crate::hash::{leaf_hash, node_hash, sha256, Hash};
use crate::proof::{self, ConsistencyProof, InclusionProof};
use crate::tree::{node_position, stored_nodes, Frontier, Subtrees};
use crate::{Error, Result};

const MAGIC: &[u8; 4] = b"ALG1";
const HEADER_LEN: usize = 64;
const ENTRIES: &str = "entries.log";
const NODES: &str = "nodes.bin";
const OFFSETS: &str = "offsets.bin";
const CHECKPOINTS: &str = "checkpoints.bin";
const DERIVED: &str = "derived.json";
const IDENTITY: &str = "log.json";

/// Lowest subtree height kept in `nodes.bin`: 2 hashes per 16 entries (4 bytes per entry
/// instead of 64); lower subtrees are rehashed from at most 16 entries when a proof needs
/// them.
pub const NODE_FLOOR: u32 = 4;

/// Hashes stored in `nodes.bin` for a tree of `size` leaves.
fn stored_sparse(size: u64) -> u64 {
    stored_nodes(size >> NODE_FLOOR)
}

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
            max_entry_size: 1 << 20,
            max_pending_bytes: 64 << 20,
            derived_sync_interval: Duration::from_secs(1),
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

/// A group in the page cache, waiting for the `fdatasync` that makes it durable.
struct Written {
    mark: DerivedMark,
    signed: Option<SignedCheckpoint>,
    bytes: u64,
}

/// The hand-off from the committer to the syncer.
#[derive(Default)]
struct Unsynced {
    groups: Vec<Written>,
    /// Bytes written and not yet durable (including those being synced).
    bytes: u64,
    closed: bool,
}

/// Lengths of the derived files (what `derived.json` records).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
struct DerivedMark {
    size: u64,
    entries_len: u64,
    checkpoints: u64,
    /// [`NODE_FLOOR`] of the layout (absent in files written before it existed: such
    /// derived files are rebuilt).
    #[serde(default)]
    node_floor: u32,
}

impl DerivedMark {
    fn new(size: u64, entries_len: u64, checkpoints: u64) -> Self {
        Self { size, entries_len, checkpoints, node_floor: NODE_FLOOR }
    }
}

#[derive(Serialize, Deserialize)]
struct Identity {
    origin: String,
    verifier: NoteVerifier,
}

struct Readers {
    entries: File,
    nodes: File,
    offsets: File,
    checkpoints: File,
    /// Stored node hashes read so far, by position (immutable once durable). Receipts of
    /// entries in the same group share most of their proof path; this saves those reads.
    node_cache: Mutex<std::collections::HashMap<u64, Hash>>,
}

/// Node hashes kept in [`Readers::node_cache`] before it starts over (~2.5 MB).
const NODE_CACHE_CAP: usize = 1 << 16;

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
    /// Signs checkpoints outside the committer (see [`Log::sign_checkpoint`]).
    signer: NoteSigner,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").field("dir", &self.shared.dir).field("size", &self.size()).finish()
    }
}

fn open_rw(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io(path))
}

fn read_exact_at(f: &File, buf: &mut [u8], offset: u64, path: &Path) -> Result<()> {
    f.read_exact_at(buf, offset).map_err(io(path))
}

/// Complete subtree hashes of the first `size` leaves: read from `nodes.bin` from
/// [`NODE_FLOOR`] up, recomputed from the entries below it.
struct NodeFile<'a> {
    readers: &'a Readers,
    path: &'a Path,
    size: u64,
    /// Leaf hashes of the last block of 2^`NODE_FLOOR` leaves read: a proof needs several
    /// subtrees of the same block.
    block: std::cell::RefCell<Option<(u64, Vec<Hash>)>>,
}

impl<'a> NodeFile<'a> {
    fn new(readers: &'a Readers, path: &'a Path, size: u64) -> Self {
        Self { readers, path, size, block: std::cell::RefCell::new(None) }
    }

    /// The leaf hashes of entries `start..start + count` (one read for their offsets, one
    /// for the length of the last, one for their bytes).
    fn leaf_hashes(&self, start: u64, count: u64) -> Result<Vec<Hash>> {
        let corrupt = |detail: String| Error::Corrupt { path: self.path.to_path_buf(), detail };
        let mut offs = vec![0u8; count as usize * 8];
        read_exact_at(&self.readers.offsets, &mut offs, start * 8, self.path)?;
        let offs: Vec<u64> = offs
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        let (Some(&first), Some(&last)) = (offs.first(), offs.last()) else {
            return Ok(Vec::new());
        };
        let out_of_order =
            || corrupt(format!("offsets of entries {start}..{} are out of order", start + count));
        let mut len = [0u8; 4];
        read_exact_at(&self.readers.entries, &mut len, last, self.path)?;
        let end =
            last.checked_add(4 + u64::from(u32::from_le_bytes(len))).ok_or_else(out_of_order)?;
        // Entries are at most 1 MiB, so a sane span is bounded; a corrupt offset is not.
        let span_len = end.checked_sub(first).filter(|l| *l <= (count << 21) + (1 << 24));
        let span_len = span_len.ok_or_else(out_of_order)?;
        let mut span = vec![0u8; span_len as usize];
        read_exact_at(&self.readers.entries, &mut span, first, self.path)?;
        offs.iter()
            .map(|&o| {
                let at = o.checked_sub(first).ok_or_else(out_of_order)? as usize;
                let n = span
                    .get(at..at.saturating_add(4))
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
                match n.and_then(|n| span.get(at + 4..(at + 4).saturating_add(n))) {
                    Some(data) => Ok(leaf_hash(data)),
                    None => Err(corrupt(format!("entry at offset {o} runs past its group"))),
                }
            })
            .collect()
    }
}

impl Subtrees for NodeFile<'_> {
    fn complete(&self, level: u32, index: u64) -> Result<Hash> {
        let end = (index + 1).checked_shl(level).unwrap_or(u64::MAX);
        if level >= 64 || end > self.size {
            return Err(Error::OutOfRange {
                what: "subtree end",
                requested: end,
                available: self.size,
            });
        }
        if level < NODE_FLOOR {
            let start = index << level;
            let block = start >> NODE_FLOOR;
            let mut cached = self.block.borrow_mut();
            let fresh = match &*cached {
                Some((b, leaves)) => {
                    *b != block || (leaves.len() as u64) < (end - (block << NODE_FLOOR))
                }
                None => true,
            };
            if fresh {
                let first = block << NODE_FLOOR;
                let count = (self.size - first).min(1 << NODE_FLOOR);
                *cached = Some((block, self.leaf_hashes(first, count)?));
            }
            let leaves = cached.as_ref().map_or(&[][..], |(_, l)| l.as_slice());
            let from = (start - (block << NODE_FLOOR)) as usize;
            let mut layer = leaves[from..from + (1usize << level)].to_vec();
            while layer.len() > 1 {
                layer = layer.chunks_exact(2).map(|p| node_hash(&p[0], &p[1])).collect();
            }
            return Ok(layer[0]);
        }
        let pos = node_position(level - NODE_FLOOR, index);
        if let Some(h) = self.readers.node_cache.lock().get(&pos) {
            return Ok(*h);
        }
        let mut buf = [0u8; 32];
        read_exact_at(&self.readers.nodes, &mut buf, pos * 32, self.path)?;
        let mut cache = self.readers.node_cache.lock();
        if cache.len() >= NODE_CACHE_CAP {
            cache.clear();
        }
        cache.insert(pos, Hash(buf));
        Ok(Hash(buf))
    }
}

fn header_checksum(h: &[u8]) -> [u8; 8] {
    let d = sha256(&h[..56]);
    let mut out = [0u8; 8];
    out.copy_from_slice(&d.0[..8]);
    out
}

struct GroupHeader {
    count: u32,
    body_len: u32,
    note_len: u32,
    first_index: u64,
    root: Hash,
}

impl GroupHeader {
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..4].copy_from_slice(MAGIC);
        h[4..8].copy_from_slice(&self.count.to_le_bytes());
        h[8..12].copy_from_slice(&self.body_len.to_le_bytes());
        h[12..16].copy_from_slice(&self.note_len.to_le_bytes());
        h[16..24].copy_from_slice(&self.first_index.to_le_bytes());
        h[24..56].copy_from_slice(&self.root.0);
        let c = header_checksum(&h);
        h[56..].copy_from_slice(&c);
        h
    }

    fn decode(h: &[u8; HEADER_LEN]) -> Option<Self> {
        if &h[..4] != MAGIC || h[56..] != header_checksum(h) {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let mut fi = [0u8; 8];
        fi.copy_from_slice(&h[16..24]);
        let mut root = [0u8; 32];
        root.copy_from_slice(&h[24..56]);
        Some(Self {
            count: u32_at(4),
            body_len: u32_at(8),
            note_len: u32_at(12),
            first_index: u64::from_le_bytes(fi),
            root: Hash(root),
        })
    }
}

/// Splits a group body into records; `None` if the lengths do not tile it exactly.
fn parse_records(body: &[u8], count: u32) -> Option<Vec<(usize, usize)>> {
    let mut out = Vec::with_capacity(count as usize);
    let mut pos = 0usize;
    for _ in 0..count {
        let len_bytes: [u8; 4] = body.get(pos..pos + 4)?.try_into().ok()?;
        let len = u32::from_le_bytes(len_bytes) as usize;
        let start = pos + 4;
        let end = start.checked_add(len)?;
        if end > body.len() {
            return None;
        }
        out.push((start, end));
        pos = end;
    }
    (pos == body.len()).then_some(out)
}

/// Writer handles and state owned by the committer thread.
struct Committer {
    shared: Arc<Shared>,
    signer: NoteSigner,
    checkpoint_interval: Duration,
    frontier: Frontier,
    entries: File,
    entries_len: u64,
    nodes: File,
    offsets: File,
    checkpoints: File,
    checkpoint_count: u64,
    last_signed_size: u64,
    last_signed_at: Instant,
    spare: Queue,
    nodes_buf: Vec<u8>,
    offsets_buf: Vec<u8>,
    syncer: Option<JoinHandle<()>>,
}

impl Log {
    /// Opens (or creates) the log in `config.dir`, recovering from any crash.
    pub fn open(config: LogConfig) -> Result<Self> {
        let dir = config.dir.clone();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let verifier = config.signer.verifier();
        let id_path = dir.join(IDENTITY);
        match std::fs::read(&id_path) {
            Ok(bytes) => {
                let id: Identity = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
                    path: dir.clone(),
                    detail: format!("{IDENTITY}: {e}"),
                })?;
                if id.verifier != verifier {
                    return Err(Error::Key {
                        path: id_path,
                        detail: format!(
                            "this log is signed by {}, but the key given is {}; use the log's own key file",
                            id.verifier, verifier
                        ),
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let id = Identity {
                    origin: config.signer.name().to_string(),
                    verifier: verifier.clone(),
                };
                write_atomic(&id_path, &serde_json::to_vec_pretty(&id)?)?;
            }
            Err(e) => return Err(Error::Io { path: id_path, source: e }),
        }

        let p = |n: &str| dir.join(n);
        let entries_w = open_rw(&p(ENTRIES))?;
        let nodes_w = open_rw(&p(NODES))?;
        let offsets_w = open_rw(&p(OFFSETS))?;
        let checkpoints_w = open_rw(&p(CHECKPOINTS))?;

        // Trust derived files only up to their last sync.
        let mark: DerivedMark = match std::fs::read(p(DERIVED)) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_default(),
            Err(_) => DerivedMark::default(),
        };
        let mark = if mark.node_floor == NODE_FLOOR {
            mark
        } else {
            if mark.size > 0 {
                tracing::info!(dir = %dir.display(), "derived files have an older layout; rebuilding them");
            }
            DerivedMark::new(0, 0, 0)
        };
        let entries_len = entries_w.metadata().map_err(io(p(ENTRIES)))?.len();
        let nodes_len = nodes_w.metadata().map_err(io(p(NODES)))?.len();
        let offsets_len = offsets_w.metadata().map_err(io(p(OFFSETS)))?.len();
        let cps_len = checkpoints_w.metadata().map_err(io(p(CHECKPOINTS)))?.len();
        let mark = if mark.entries_len > entries_len
            || stored_sparse(mark.size) * 32 > nodes_len
            || mark.size * 8 > offsets_len
            || mark.checkpoints * 16 > cps_len
        {
            tracing::warn!(dir = %dir.display(), "derived files shorter than their sync mark; rebuilding from the start");
            DerivedMark::new(0, 0, 0)
        } else {
            mark
        };
        nodes_w.set_len(stored_sparse(mark.size) * 32).map_err(io(p(NODES)))?;
        offsets_w.set_len(mark.size * 8).map_err(io(p(OFFSETS)))?;
        checkpoints_w.set_len(mark.checkpoints * 16).map_err(io(p(CHECKPOINTS)))?;

        let readers = Readers {
            entries: File::open(p(ENTRIES)).map_err(io(p(ENTRIES)))?,
            nodes: File::open(p(NODES)).map_err(io(p(NODES)))?,
            offsets: File::open(p(OFFSETS)).map_err(io(p(OFFSETS)))?,
            checkpoints: File::open(p(CHECKPOINTS)).map_err(io(p(CHECKPOINTS)))?,
            node_cache: Mutex::new(std::collections::HashMap::new()),
        };
        let frontier =
            Frontier::from_subtrees(&NodeFile::new(&readers, &dir, mark.size), mark.size)?;
        let (tx, _) = tokio::sync::watch::channel((0u64, false));
        let shared = Arc::new(Shared {
            dir: dir.clone(),
            verifier,
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
        });
        let mut committer = Committer {
            shared: shared.clone(),
            signer: config.signer.clone(),
            checkpoint_interval: config.checkpoint_interval,
            frontier,
            entries: entries_w,
            entries_len: mark.entries_len,
            nodes: nodes_w,
            offsets: offsets_w,
            checkpoints: checkpoints_w,
            checkpoint_count: mark.checkpoints,
            last_signed_size: 0,
            last_signed_at: Instant::now(),
            spare: Queue::default(),
            nodes_buf: Vec::new(),
            offsets_buf: Vec::new(),
            syncer: None,
        };
        committer.recover(entries_len)?;

        let size = committer.frontier.size();
        {
            let mut q = shared.queue.lock();
            q.next_index = size;
        }
        let latest = if committer.checkpoint_count > 0 {
            Some(read_checkpoint(&shared, committer.checkpoint_count - 1)?)
        } else {
            None
        };
        committer.last_signed_size = latest.as_ref().map_or(0, |c| c.checkpoint.size);
        {
            let mut d = shared.durable.lock();
            d.size = size;
            d.checkpoints = committer.checkpoint_count;
            d.latest = latest;
        }
        shared.durable_tx.send_replace((size, false));
        // Make the recovered state the new sync mark right away, so a crash loop never
        // replays the same tail twice.
        committer.sync_derived()?;

        let sync_shared = shared.clone();
        let sync_interval = config.derived_sync_interval;
        let syncer = std::thread::Builder::new()
            .name("audit-log-sync".into())
            .spawn(move || derived_syncer(sync_shared, sync_interval))
            .map_err(io(&dir))?;
        let durable_shared = shared.clone();
        committer.syncer = Some(
            std::thread::Builder::new()
                .name("audit-log-fsync".into())
                .spawn(move || group_syncer(durable_shared))
                .map_err(io(&dir))?,
        );
        let thread = std::thread::Builder::new()
            .name("audit-log-commit".into())
            .spawn(move || committer.run())
            .map_err(io(&dir))?;
        Ok(Self { shared, threads: Mutex::new(vec![thread, syncer]), signer: config.signer })
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
        self.signer.sign_extended(&checkpoint, extensions)
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
            self.shared.durable_cv.wait(&mut d);
        }
    }

    /// Waits (async) until entry `index` is durable; returns the durable size then.
    pub async fn wait_durable_async(&self, index: u64) -> Result<u64> {
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

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    Ok(())
}

fn derived_syncer(shared: Arc<Shared>, interval: Duration) {
    let mut last = DerivedMark::default();
    loop {
        {
            let mut q = shared.queue.lock();
            if !q.shutdown {
                shared.sync_cv.wait_for(&mut q, interval);
            }
            if q.shutdown {
                return; // the committer syncs on its way out
            }
        }
        let mark = *shared.written.lock();
        if mark == last {
            continue;
        }
        if let Err(e) = sync_derived_files(&shared, mark) {
            tracing::warn!(error = %e, "syncing derived audit files failed; will retry");
            continue;
        }
        last = mark;
    }
}

/// The second stage of group commit: one `fdatasync` for all groups written since the
/// last, then publication of the durable state.
fn group_syncer(shared: Arc<Shared>) {
    let mut taken = Vec::new();
    loop {
        {
            let mut u = shared.unsynced.lock();
            while u.groups.is_empty() && !u.closed {
                shared.unsynced_cv.wait(&mut u);
            }
            if u.groups.is_empty() {
                return;
            }
            std::mem::swap(&mut u.groups, &mut taken);
        }
        if let Err(e) = shared.readers.entries.sync_data() {
            let e = Error::Io { path: shared.dir.join(ENTRIES), source: e };
            tracing::error!(error = %e, "audit log: fdatasync failed; the log stops");
            shared.stop(e.to_string());
            let mut u = shared.unsynced.lock();
            u.closed = true;
            u.groups.clear();
            shared.unsynced_cv.notify_all();
            return;
        }
        let bytes: u64 = taken.iter().map(|w| w.bytes).sum();
        let signed = taken.iter_mut().rev().find_map(|w| w.signed.take());
        let Some(last) = taken.last() else { continue };
        let mark = last.mark;
        *shared.written.lock() = mark;
        {
            let mut d = shared.durable.lock();
            d.size = mark.size;
            d.checkpoints = mark.checkpoints;
            if signed.is_some() {
                d.latest = signed;
            }
        }
        shared.durable_tx.send_replace((mark.size, false));
        shared.durable_cv.notify_all();
        taken.clear();
        shared.unsynced.lock().bytes -= bytes;
        shared.unsynced_cv.notify_all();
    }
}

fn sync_derived_files(shared: &Shared, mark: DerivedMark) -> Result<()> {
    let _one_at_a_time = shared.derived_sync.lock();
    let r = &shared.readers;
    // fdatasync through read handles flushes the file, whoever wrote it.
    for (f, name) in [(&r.nodes, NODES), (&r.offsets, OFFSETS), (&r.checkpoints, CHECKPOINTS)] {
        f.sync_data().map_err(io(shared.dir.join(name)))?;
    }
    write_atomic(&shared.dir.join(DERIVED), &serde_json::to_vec(&mark)?)
}

impl Committer {
    /// Replays groups after the derived mark, truncating a torn tail.
    fn recover(&mut self, file_len: u64) -> Result<()> {
        let path = self.shared.dir.join(ENTRIES);
        let mut reader = BufReader::with_capacity(1 << 20, File::open(&path).map_err(io(&path))?);
        std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(self.entries_len))
            .map_err(io(&path))?;
        let mut pos = self.entries_len;
        let mut replayed = 0u64;
        loop {
            if pos == file_len {
                break;
            }
            match self.replay_group(&mut reader, pos)? {
                Some(len) => {
                    pos += len;
                    replayed += 1;
                }
                None => {
                    tracing::warn!(
                        offset = pos,
                        dropped = file_len - pos,
                        "audit log: cutting a torn tail"
                    );
                    self.entries.set_len(pos).map_err(io(&path))?;
                    self.entries.sync_all().map_err(io(&path))?;
                    break;
                }
            }
        }
        self.entries_len = pos;
        if replayed > 0 {
            tracing::info!(
                groups = replayed,
                size = self.frontier.size(),
                "audit log: replayed groups"
            );
        }
        Ok(())
    }

    /// Replays one group at `pos`; `Ok(None)` when it is torn or does not match its root.
    fn replay_group(&mut self, reader: &mut BufReader<File>, pos: u64) -> Result<Option<u64>> {
        let mut h = [0u8; HEADER_LEN];
        if reader.read_exact(&mut h).is_err() {
            return Ok(None);
        }
        let Some(header) = GroupHeader::decode(&h) else { return Ok(None) };
        if header.first_index != self.frontier.size() {
            return Ok(None);
        }
        let mut rest = vec![0u8; header.note_len as usize + header.body_len as usize];
        if reader.read_exact(&mut rest).is_err() {
            return Ok(None);
        }
        let (note, body) = rest.split_at(header.note_len as usize);
        let Some(records) = parse_records(body, header.count) else { return Ok(None) };
        let mut frontier = self.frontier.clone();
        let mut nodes = Vec::with_capacity(records.len() * 64);
        for (s, e) in &records {
            frontier.push(leaf_hash(&body[*s..*e]), |level, n| {
                if level >= NODE_FLOOR {
                    nodes.extend_from_slice(&n.0);
                }
            });
        }
        if frontier.root() != header.root {
            return Ok(None);
        }
        let checkpoint = if note.is_empty() {
            None
        } else {
            let parsed =
                std::str::from_utf8(note).ok().and_then(|n| SignedCheckpoint::parse(n).ok());
            match parsed {
                Some(cp)
                    if cp.verify(&self.shared.verifier).is_ok()
                        && cp.checkpoint.size == frontier.size()
                        && cp.checkpoint.root == header.root =>
                {
                    Some(cp)
                }
                _ => return Ok(None),
            }
        };
        let data_start = pos + HEADER_LEN as u64 + u64::from(header.note_len);
        let mut offsets = Vec::with_capacity(records.len() * 8);
        for (s, _) in &records {
            offsets.extend_from_slice(&(data_start + *s as u64 - 4).to_le_bytes());
        }
        self.frontier = frontier;
        let dir = &self.shared.dir;
        self.nodes
            .write_all_at(&nodes, self.nodes.metadata().map_err(io(dir))?.len())
            .map_err(io(dir.join(NODES)))?;
        append(&mut self.offsets, &offsets, dir, OFFSETS)?;
        if checkpoint.is_some() {
            let mut rec = [0u8; 16];
            rec[..8].copy_from_slice(&self.frontier.size().to_le_bytes());
            rec[8..].copy_from_slice(&pos.to_le_bytes());
            append(&mut self.checkpoints, &rec, dir, CHECKPOINTS)?;
            self.checkpoint_count += 1;
        }
        Ok(Some(HEADER_LEN as u64 + rest.len() as u64))
    }

    fn sync_derived(&mut self) -> Result<()> {
        let mark = DerivedMark::new(self.frontier.size(), self.entries_len, self.checkpoint_count);
        *self.shared.written.lock() = mark;
        sync_derived_files(&self.shared, mark)
    }

    /// Closes the hand-off and waits until the syncer has published every written group.
    fn drain_syncer(&mut self) {
        self.shared.unsynced.lock().closed = true;
        self.shared.unsynced_cv.notify_all();
        if let Some(t) = self.syncer.take() {
            let _ = t.join();
        }
    }

    fn run(mut self) {
        let result = self.run_inner();
        self.drain_syncer();
        let result = result.and_then(|()| {
            if let Some(e) = self.shared.durable.lock().failed.clone() {
                return Err(Error::Closed(e));
            }
            self.sync_derived()
        });
        let msg = match result {
            Ok(()) => "closed".to_string(),
            Err(e) => {
                tracing::error!(error = %e, "audit log committer failed");
                e.to_string()
            }
        };
        self.shared.stop(msg);
    }

    fn run_inner(&mut self) -> Result<()> {
        loop {
            let mut batch = std::mem::take(&mut self.spare);
            {
                let mut q = self.shared.queue.lock();
                loop {
                    if !q.leaves.is_empty() {
                        break;
                    }
                    let unsigned = self.frontier.size() > self.last_signed_size;
                    let due = self.last_signed_at.elapsed() >= self.checkpoint_interval;
                    if unsigned && (due || q.checkpoint_wanted) {
                        break; // an empty group that only signs
                    }
                    if q.shutdown {
                        return Ok(());
                    }
                    let wait = if unsigned {
                        self.checkpoint_interval.saturating_sub(self.last_signed_at.elapsed())
                    } else {
                        Duration::from_secs(3600)
                    };
                    self.shared.work.wait_for(&mut q, wait.max(Duration::from_micros(100)));
                }
                std::mem::swap(&mut q.body, &mut batch.body);
                std::mem::swap(&mut q.rel, &mut batch.rel);
                std::mem::swap(&mut q.leaves, &mut batch.leaves);
                let force = std::mem::take(&mut q.checkpoint_wanted);
                batch.checkpoint_wanted = force;
            }
            self.shared.space.notify_all();
            self.commit(&batch)?;
            batch.body.clear();
            batch.rel.clear();
            batch.leaves.clear();
            self.spare = batch;
        }
    }

    fn commit(&mut self, batch: &Queue) -> Result<()> {
        let dir = self.shared.dir.clone();
        let first_index = self.frontier.size();
        self.nodes_buf.clear();
        self.offsets_buf.clear();
        let nodes_buf = &mut self.nodes_buf;
        for leaf in &batch.leaves {
            self.frontier.push(*leaf, |level, h| {
                if level >= NODE_FLOOR {
                    nodes_buf.extend_from_slice(&h.0);
                }
            });
        }
        let size = self.frontier.size();
        let root = self.frontier.root();
        let sign = size > self.last_signed_size
            && (batch.checkpoint_wanted
                || self.last_signed_at.elapsed() >= self.checkpoint_interval);
        let signed = sign.then(|| {
            self.signer.sign(&Checkpoint { origin: self.signer.name().to_string(), size, root })
        });
        let note = signed.as_ref().map_or(&[][..], |s| s.note.as_bytes());
        let header = GroupHeader {
            count: batch.leaves.len() as u32,
            body_len: batch.body.len() as u32,
            note_len: note.len() as u32,
            first_index,
            root,
        };
        let group_start = self.entries_len;
        let data_start = group_start + HEADER_LEN as u64 + note.len() as u64;
        for rel in &batch.rel {
            self.offsets_buf.extend_from_slice(&(data_start + u64::from(*rel)).to_le_bytes());
        }
        let entries_path = dir.join(ENTRIES);
        let hdr = header.encode();
        let mut bufs = [
            std::io::IoSlice::new(&hdr),
            std::io::IoSlice::new(note),
            std::io::IoSlice::new(&batch.body),
        ];
        // Room in the hand-off first: at most `max_pending_bytes` written and not durable.
        {
            let mut u = self.shared.unsynced.lock();
            while u.bytes > 0 && u.bytes as usize >= self.shared.max_pending_bytes && !u.closed {
                self.shared.unsynced_cv.wait(&mut u);
            }
            if u.closed {
                let failed = self.shared.durable.lock().failed.clone();
                return Err(Error::Closed(failed.unwrap_or_else(|| "syncer stopped".into())));
            }
        }
        write_all_vectored_at(&self.entries, &mut bufs, group_start).map_err(io(&entries_path))?;
        self.entries_len = data_start + batch.body.len() as u64;

        // Derived files: page cache now, synced by the background syncer.
        self.nodes
            .write_all_at(&self.nodes_buf, stored_sparse(first_index) * 32)
            .map_err(io(dir.join(NODES)))?;
        self.offsets
            .write_all_at(&self.offsets_buf, first_index * 8)
            .map_err(io(dir.join(OFFSETS)))?;
        if signed.is_some() {
            let mut rec = [0u8; 16];
            rec[..8].copy_from_slice(&size.to_le_bytes());
            rec[8..].copy_from_slice(&group_start.to_le_bytes());
            self.checkpoints
                .write_all_at(&rec, self.checkpoint_count * 16)
                .map_err(io(dir.join(CHECKPOINTS)))?;
            self.checkpoint_count += 1;
            self.last_signed_size = size;
            self.last_signed_at = Instant::now();
        }
        let written = Written {
            mark: DerivedMark::new(size, self.entries_len, self.checkpoint_count),
            signed,
            bytes: self.entries_len - group_start,
        };
        {
            let mut u = self.shared.unsynced.lock();
            u.bytes += written.bytes;
            u.groups.push(written);
        }
        self.shared.unsynced_cv.notify_all();
        Ok(())
    }
}

fn append(f: &mut File, bytes: &[u8], dir: &Path, name: &str) -> Result<()> {
    let len = f.metadata().map_err(io(dir.join(name)))?.len();
    f.write_all_at(bytes, len).map_err(io(dir.join(name)))
}

fn write_all_vectored_at(
    f: &File,
    bufs: &mut [std::io::IoSlice<'_>],
    mut offset: u64,
) -> std::io::Result<()> {
    // pwritev is not in std; a few large writes cost the same.
    for b in bufs.iter() {
        f.write_all_at(b, offset)?;
        offset += b.len() as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::MemoryTree;

    fn signer() -> NoteSigner {
        NoteSigner::new("alara.test/log", [3u8; 32]).unwrap()
    }

    #[test]
    fn append_prove_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut mem = MemoryTree::default();
        {
            let log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
            for i in 0..50u32 {
                let data = format!("entry {i}");
                let a = log.append(data.as_bytes()).unwrap();
                assert_eq!(a.index, u64::from(i));
                mem.push(leaf_hash(data.as_bytes()));
            }
            let a = log.append_batch(&[b"x".to_vec(), b"y".to_vec()]).unwrap();
            assert_eq!((a.index, a.count), (50, 2));
            mem.push(leaf_hash(b"x"));
            mem.push(leaf_hash(b"y"));
            assert_eq!(log.root_at(52).unwrap(), mem.root(52).unwrap());
            assert_eq!(log.entry(7).unwrap(), b"entry 7");
            let cp = log.checkpoint_covering(51).unwrap();
            assert_eq!(cp.checkpoint.size, 52);
            cp.verify(log.verifier()).unwrap();
        }
        let log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
        assert_eq!(log.size(), 52);
        log.verify_integrity().unwrap();
        for size in [1u64, 13, 52] {
            let root = mem.root(size).unwrap();
            for i in 0..size {
                log.prove_inclusion(i, size)
                    .unwrap()
                    .verify(&mem.complete(0, i).unwrap(), &root)
                    .unwrap();
            }
            let c = log.prove_consistency(size, 52).unwrap();
            c.verify(&root, &mem.root(52).unwrap()).unwrap();
        }
        assert!(log.entry(52).is_err());
        assert!(log.prove_inclusion(0, 53).is_err());
    }

    #[test]
    fn torn_tail_is_cut_and_derived_files_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
            for i in 0..20u32 {
                log.append(&i.to_be_bytes()).unwrap();
            }
        }
        // A torn group: a valid-looking prefix of garbage after the last group.
        let entries = dir.path().join(ENTRIES);
        let mut f = OpenOptions::new().append(true).open(&entries).unwrap();
        f.write_all(b"ALG1 torn group that never finished").unwrap();
        // Derived files lost beyond their mark, and the mark reset.
        std::fs::remove_file(dir.path().join(DERIVED)).unwrap();
        std::fs::write(dir.path().join(NODES), b"").unwrap();
        let log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
        assert_eq!(log.size(), 20);
        log.verify_integrity().unwrap();
        assert_eq!(log.append(b"after").unwrap().index, 20);
        log.verify_integrity().unwrap();
    }

    #[test]
    fn flipped_byte_in_a_group_cuts_the_log_there() {
        let dir = tempfile::tempdir().unwrap();
        let len_after_first;
        {
            let log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
            log.append(b"first").unwrap();
            len_after_first = std::fs::metadata(dir.path().join(ENTRIES)).unwrap().len();
            log.append(b"second").unwrap();
        }
        std::fs::remove_file(dir.path().join(DERIVED)).unwrap();
        let mut bytes = std::fs::read(dir.path().join(ENTRIES)).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(dir.path().join(ENTRIES), &bytes).unwrap();
        let log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
        assert_eq!(log.size(), 1);
        assert_eq!(std::fs::metadata(dir.path().join(ENTRIES)).unwrap().len(), len_after_first);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Sparse node storage: for batches of any sizes, reopened at any point (with the
        /// derived files kept or lost), every proof matches the in-memory tree.
        #[test]
        fn sparse_nodes_match_the_memory_tree(
            batches in proptest::collection::vec((1usize..40, 0u8..4), 1..12),
            probes in proptest::collection::vec((proptest::prelude::any::<u64>(), proptest::prelude::any::<u64>()), 8),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut mem = MemoryTree::default();
            let mut log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
            for (n, reopen) in batches {
                let items: Vec<Vec<u8>> =
                    (0..n).map(|i| format!("e{}-{i}", mem.len()).into_bytes()).collect();
                log.append_batch(&items).unwrap();
                items.iter().for_each(|d| mem.push(leaf_hash(d)));
                if reopen > 0 {
                    drop(log);
                    if reopen == 2 {
                        std::fs::remove_file(dir.path().join(DERIVED)).unwrap();
                    }
                    if reopen == 3 {
                        // A mark from before the sparse layout: the derived files are rebuilt.
                        std::fs::write(
                            dir.path().join(DERIVED),
                            format!(r#"{{"size":{},"entries_len":0,"checkpoints":0}}"#, mem.len()),
                        )
                        .unwrap();
                    }
                    log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
                }
            }
            let n = mem.len();
            proptest::prop_assert_eq!(log.size(), n);
            proptest::prop_assert_eq!(log.root_at(n).unwrap(), mem.root(n).unwrap());
            for (a, b) in probes {
                let size = 1 + b % n;
                let i = a % size;
                let root = mem.root(size).unwrap();
                proptest::prop_assert_eq!(log.leaf(i).unwrap(), mem.complete(0, i).unwrap());
                log.prove_inclusion(i, size).unwrap().verify(&mem.complete(0, i).unwrap(), &root).unwrap();
                log.prove_consistency(size, n).unwrap().verify(&root, &mem.root(n).unwrap()).unwrap();
            }
            log.verify_integrity().unwrap();
        }
    }

    /// A damaged offsets file is reported as an error wherever it is read, never a panic.
    #[test]
    fn corrupt_offsets_give_errors_not_panics() {
        for damage in 0..2 {
            let dir = tempfile::tempdir().unwrap();
            {
                let log = Log::open(LogConfig::new(dir.path(), signer())).unwrap();
                for i in 0..40u32 {
                    log.append(format!("entry {i}").as_bytes()).unwrap();
                }
            }
            let path = dir.path().join(OFFSETS);
            let mut bytes = std::fs::read(&path).unwrap();
            if damage == 0 {
                bytes.iter_mut().for_each(|b| *b = 0xff); // offsets past any file
            } else {
                let mut offs: Vec<[u8; 8]> =
                    bytes.chunks_exact(8).map(|c| c.try_into().unwrap()).collect();
                offs.reverse(); // valid offsets, out of order
                bytes = offs.concat();
            }
            std::fs::write(&path, &bytes).unwrap();
            match Log::open(LogConfig::new(dir.path(), signer())) {
                Err(e) => assert!(!e.to_string().is_empty()),
                Ok(log) => {
                    assert!(log.verify_integrity().is_err(), "damage {damage} went unnoticed");
                    assert!(log.leaves(32, 8).is_err());
                    let _ = log.prove_inclusion(33, 40);
                }
            }
        }
    }

    #[test]
    fn other_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Log::open(LogConfig::new(dir.path(), signer())).unwrap());
        let other = NoteSigner::new("alara.test/log", [4u8; 32]).unwrap();
        let err = Log::open(LogConfig::new(dir.path(), other)).unwrap_err().to_string();
        assert!(err.contains("signed by"), "{err}");
    }

    #[test]
    fn checkpoint_interval_still_covers_every_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = LogConfig::new(dir.path(), signer());
        cfg.checkpoint_interval = Duration::from_secs(3600);
        let log = Log::open(cfg).unwrap();
        log.append(b"a").unwrap();
        let first = log.checkpoint_covering(0).unwrap();
        log.append(b"b").unwrap();
        // The interval has not elapsed, so the receipt request forces one.
        let second = log.checkpoint_covering(1).unwrap();
        assert_eq!(second.checkpoint.size, 2);
        assert!(first.checkpoint.size >= 1);
        assert_eq!(log.checkpoint_covering(0).unwrap(), first);
    }

    #[test]
    fn concurrent_writers_get_distinct_indices() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(Log::open(LogConfig::new(dir.path(), signer())).unwrap());
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    (0..50)
                        .map(|i| log.append(format!("{t}/{i}").as_bytes()).unwrap().index)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<u64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..400).collect::<Vec<_>>());
        log.verify_integrity().unwrap();
    }
}
