//! Complete subtree hashes for proofs: `nodes.bin` from [`NODE_FLOOR`] up, the few lower
//! ones recomputed from the entries they cover.

use std::fs::File;
use std::path::Path;

use parking_lot::Mutex;

use super::format::{read_exact_at, CHECKPOINTS, ENTRIES, NODES, NODE_FLOOR, OFFSETS};
use crate::error::io;
use crate::hash::{leaf_hash, node_hash, Hash};
use crate::tree::{node_position, Subtrees};
use crate::{Error, Result};

/// Read handles of the log's files, shared by every reader thread (positioned reads).
pub(super) struct Readers {
    pub(super) entries: File,
    pub(super) nodes: File,
    pub(super) offsets: File,
    pub(super) checkpoints: File,
    /// Stored node hashes read so far, by position (immutable once durable). Receipts of
    /// entries in the same group share most of their proof path; this saves those reads.
    pub(super) node_cache: Mutex<std::collections::HashMap<u64, Hash>>,
}

/// Node hashes kept in [`Readers::node_cache`] before it starts over (~2.5 MB).
const NODE_CACHE_CAP: usize = 1 << 16;

/// Complete subtree hashes of the first `size` leaves: read from `nodes.bin` from
/// [`NODE_FLOOR`] up, recomputed from the entries below it.
pub(super) struct NodeFile<'a> {
    pub(super) readers: &'a Readers,
    pub(super) path: &'a Path,
    pub(super) size: u64,
    /// Leaf hashes of the last block of 2^`NODE_FLOOR` leaves read: a proof needs several
    /// subtrees of the same block.
    pub(super) block: std::cell::RefCell<Option<(u64, Vec<Hash>)>>,
}

impl<'a> NodeFile<'a> {
    pub(super) fn new(readers: &'a Readers, path: &'a Path, size: u64) -> Self {
        Self { readers, path, size, block: std::cell::RefCell::new(None) }
    }

    /// The leaf hashes of entries `start..start + count` (one read for their offsets, one
    /// for the length of the last, one for their bytes).
    pub(super) fn leaf_hashes(&self, start: u64, count: u64) -> Result<Vec<Hash>> {
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

impl Readers {
    /// Opens read handles of the log's data files (the writers created them).
    pub(super) fn open(dir: &Path) -> Result<Self> {
        let open = |name: &str| {
            let path = dir.join(name);
            File::open(&path).map_err(io(path))
        };
        Ok(Self {
            entries: open(ENTRIES)?,
            nodes: open(NODES)?,
            offsets: open(OFFSETS)?,
            checkpoints: open(CHECKPOINTS)?,
            node_cache: Mutex::new(std::collections::HashMap::new()),
        })
    }
}
