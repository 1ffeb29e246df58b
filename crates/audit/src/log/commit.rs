//! Group commit: the committer thread (extends the tree, signs, writes a group and its
//! derived records to the page cache), the group syncer (one `fdatasync` for every group
//! written since its last, then publication), and the derived-file syncer.

use std::fs::File;
#[cfg(unix)]
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::format::{
    stored_sparse, write_all_vectored_at, write_atomic, DerivedMark, GroupHeader, Writers,
    CHECKPOINTS, DERIVED, ENTRIES, HEADER_LEN, NODES, NODE_FLOOR, OFFSETS,
};
use super::{Queue, Settings, Shared};
use crate::checkpoint::{Checkpoint, NoteSigner, SignedCheckpoint};
use crate::error::io;
use crate::tree::Frontier;
use crate::{Error, Result};

/// A group in the page cache, waiting for the `fdatasync` that makes it durable.
pub(super) struct Written {
    pub(super) mark: DerivedMark,
    pub(super) signed: Option<SignedCheckpoint>,
    pub(super) bytes: u64,
}

/// The hand-off from the committer to the syncer.
#[derive(Default)]
pub(super) struct Unsynced {
    pub(super) groups: Vec<Written>,
    /// Bytes written and not yet durable (including those being synced).
    pub(super) bytes: u64,
    pub(super) closed: bool,
}

/// Writer handles and state owned by the committer thread.
pub(super) struct Committer {
    pub(super) shared: Arc<Shared>,
    pub(super) signer: Option<NoteSigner>,
    pub(super) checkpoint_interval: Duration,
    pub(super) frontier: Frontier,
    pub(super) entries: File,
    pub(super) entries_len: u64,
    pub(super) nodes: File,
    pub(super) offsets: File,
    pub(super) checkpoints: File,
    pub(super) checkpoint_count: u64,
    pub(super) last_signed_size: u64,
    pub(super) last_signed_at: Instant,
    pub(super) spare: Queue,
    pub(super) nodes_buf: Vec<u8>,
    pub(super) offsets_buf: Vec<u8>,
    pub(super) syncer: Option<JoinHandle<()>>,
}

pub(super) fn derived_syncer(shared: Arc<Shared>, interval: Duration) {
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
pub(super) fn group_syncer(shared: Arc<Shared>) {
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
    /// The committer of a log whose derived files are trusted up to `mark`; its tree is
    /// `frontier` (of `mark.size` leaves) until [`Committer::recover`] replays the rest.
    pub(super) fn new(
        shared: Arc<Shared>,
        config: &Settings,
        frontier: Frontier,
        files: Writers,
        mark: DerivedMark,
    ) -> Self {
        Self {
            shared,
            signer: config.signer.clone(),
            checkpoint_interval: config.checkpoint_interval,
            frontier,
            entries: files.entries,
            entries_len: mark.entries_len,
            nodes: files.nodes,
            offsets: files.offsets,
            checkpoints: files.checkpoints,
            checkpoint_count: mark.checkpoints,
            last_signed_size: 0,
            last_signed_at: Instant::now(),
            spare: Queue::default(),
            nodes_buf: Vec::new(),
            offsets_buf: Vec::new(),
            syncer: None,
        }
    }

    /// Starts the three threads: the derived-file syncer (every `derived_sync_interval`),
    /// the group syncer and the committer itself. Returns the handles the log joins on
    /// close (the committer joins the group syncer).
    pub(super) fn spawn(mut self, derived_sync_interval: Duration) -> Result<Vec<JoinHandle<()>>> {
        let dir = self.shared.dir.clone();
        let sync_shared = self.shared.clone();
        let syncer = std::thread::Builder::new()
            .name("audit-log-sync".into())
            .spawn(move || derived_syncer(sync_shared, derived_sync_interval))
            .map_err(io(&dir))?;
        let durable_shared = self.shared.clone();
        self.syncer = Some(
            std::thread::Builder::new()
                .name("audit-log-fsync".into())
                .spawn(move || group_syncer(durable_shared))
                .map_err(io(&dir))?,
        );
        let thread = std::thread::Builder::new()
            .name("audit-log-commit".into())
            .spawn(move || self.run())
            .map_err(io(&dir))?;
        Ok(vec![thread, syncer])
    }

    pub(super) fn sync_derived(&mut self) -> Result<()> {
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
                    // A read-only log has no key and signs nothing.
                    let unsigned =
                        self.signer.is_some() && self.frontier.size() > self.last_signed_size;
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
        // A read-only log refuses appends, so it never gets here with a batch.
        let Some(signer) = self.signer.as_ref() else { return Err(Error::ReadOnly) };
        let signed = sign
            .then(|| signer.sign(&Checkpoint { origin: signer.name().to_string(), size, root }));
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
