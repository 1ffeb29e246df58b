//! Recovery on open: the derived files are trusted up to their last sync, then the
//! groups after it are replayed, and the file is cut at the first group that is torn or
//! does not match its root.

use std::fs::File;
use std::io::{BufReader, Read};
#[cfg(unix)]
use std::os::unix::fs::FileExt;

use super::commit::Committer;
use std::path::Path;

use super::format::{
    append, parse_records, stored_sparse, DerivedMark, GroupHeader, Writers, CHECKPOINTS, DERIVED,
    ENTRIES, HEADER_LEN, NODES, NODE_FLOOR, OFFSETS,
};
use super::read_checkpoint;
use crate::checkpoint::SignedCheckpoint;
use crate::error::io;
use crate::hash::leaf_hash;
use crate::Result;

impl Committer {
    /// Replays groups after the derived mark, truncating a torn tail.
    pub(super) fn recover(&mut self) -> Result<()> {
        let path = self.shared.dir.join(ENTRIES);
        let file_len = self.entries.metadata().map_err(io(&path))?.len();
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
}

impl Committer {
    /// Makes the recovered log the published state: the next index, the latest
    /// checkpoint and the durable size; then syncs the derived files, so that a crash loop
    /// never replays the same tail twice.
    pub(super) fn publish_recovered(&mut self) -> Result<()> {
        let shared = self.shared.clone();
        let size = self.frontier.size();
        shared.queue.lock().next_index = size;
        let latest = if self.checkpoint_count > 0 {
            Some(read_checkpoint(&shared, self.checkpoint_count - 1)?)
        } else {
            None
        };
        self.last_signed_size = latest.as_ref().map_or(0, |c| c.checkpoint.size);
        {
            let mut d = shared.durable.lock();
            d.size = size;
            d.checkpoints = self.checkpoint_count;
            d.latest = latest;
        }
        shared.durable_tx.send_replace((size, false));
        self.sync_derived()
    }
}

impl DerivedMark {
    /// How far the derived files can be trusted: their last sync mark, when it has the
    /// current layout and the files are at least that long; otherwise nothing (they are
    /// rebuilt from the start). The derived files are cut to the mark.
    pub(super) fn trusted(dir: &Path, w: &Writers) -> Result<Self> {
        let p = |n: &str| dir.join(n);
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
        let entries_len = w.entries.metadata().map_err(io(p(ENTRIES)))?.len();
        let nodes_len = w.nodes.metadata().map_err(io(p(NODES)))?.len();
        let offsets_len = w.offsets.metadata().map_err(io(p(OFFSETS)))?.len();
        let cps_len = w.checkpoints.metadata().map_err(io(p(CHECKPOINTS)))?.len();
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
        w.nodes.set_len(stored_sparse(mark.size) * 32).map_err(io(p(NODES)))?;
        w.offsets.set_len(mark.size * 8).map_err(io(p(OFFSETS)))?;
        w.checkpoints.set_len(mark.checkpoints * 16).map_err(io(p(CHECKPOINTS)))?;
        Ok(mark)
    }
}
