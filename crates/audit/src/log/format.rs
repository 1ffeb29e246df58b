//! The on-disk format: file names, the group header, records, the derived-file mark and
//! the identity file, and the positioned I/O the other parts share.

use std::fs::{File, OpenOptions};
use std::io::Write;
#[cfg(unix)]
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{NoteSigner, NoteVerifier};
use crate::error::io;
use crate::hash::{sha256, Hash};
use crate::tree::stored_nodes;
use crate::{Error, Result};

pub(super) const MAGIC: &[u8; 4] = b"ALG1";
pub(super) const HEADER_LEN: usize = 64;
pub(super) const ENTRIES: &str = "entries.log";
pub(super) const NODES: &str = "nodes.bin";
pub(super) const OFFSETS: &str = "offsets.bin";
pub(super) const CHECKPOINTS: &str = "checkpoints.bin";
pub(super) const DERIVED: &str = "derived.json";
pub(super) const IDENTITY: &str = "log.json";
pub(super) const LOCK: &str = "lock";

/// Takes the log's exclusive lock (an advisory `flock` on `dir/lock`, released when the
/// returned file is dropped, and by the kernel when the process dies — even by `kill -9`).
/// Every open, read-only ones included, takes it: recovery cuts torn tails and rewrites the
/// derived files, which must never happen under a live writer.
pub(super) fn lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK);
    let f = open_rw(&path)?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Busy { path: dir.to_path_buf() }),
        Err(std::fs::TryLockError::Error(e)) => Err(io(path)(e)),
    }
}

/// Lowest subtree height kept in `nodes.bin`: 2 hashes per 16 entries (4 bytes per entry
/// instead of 64); lower subtrees are rehashed from at most 16 entries when a proof needs
/// them.
pub const NODE_FLOOR: u32 = 4;

/// Hashes stored in `nodes.bin` for a tree of `size` leaves.
pub(super) fn stored_sparse(size: u64) -> u64 {
    stored_nodes(size >> NODE_FLOOR)
}

/// Lengths of the derived files (what `derived.json` records).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(super) struct DerivedMark {
    pub(super) size: u64,
    pub(super) entries_len: u64,
    pub(super) checkpoints: u64,
    /// [`NODE_FLOOR`] of the layout (absent in files written before it existed: such
    /// derived files are rebuilt).
    #[serde(default)]
    pub(super) node_floor: u32,
}

impl DerivedMark {
    pub(super) fn new(size: u64, entries_len: u64, checkpoints: u64) -> Self {
        Self { size, entries_len, checkpoints, node_floor: NODE_FLOOR }
    }
}

/// What `log.json` records: the log's origin and the key its checkpoints verify with.
#[derive(Serialize, Deserialize)]
pub(super) struct Identity {
    pub(super) origin: String,
    pub(super) verifier: NoteVerifier,
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

pub(super) fn read_exact_at(f: &File, buf: &mut [u8], offset: u64, path: &Path) -> Result<()> {
    f.read_exact_at(buf, offset).map_err(io(path))
}

fn header_checksum(h: &[u8]) -> [u8; 8] {
    let d = sha256(&h[..56]);
    let mut out = [0u8; 8];
    out.copy_from_slice(&d.0[..8]);
    out
}

/// The 64-byte header of a group in `entries.log`: magic, record count, body and note
/// lengths, index of the first entry, tree root after the group, and a checksum of the
/// rest.
pub(super) struct GroupHeader {
    pub(super) count: u32,
    pub(super) body_len: u32,
    pub(super) note_len: u32,
    pub(super) first_index: u64,
    pub(super) root: Hash,
}

impl GroupHeader {
    pub(super) fn encode(&self) -> [u8; HEADER_LEN] {
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

    pub(super) fn decode(h: &[u8; HEADER_LEN]) -> Option<Self> {
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
pub(super) fn parse_records(body: &[u8], count: u32) -> Option<Vec<(usize, usize)>> {
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

pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    Ok(())
}

pub(super) fn append(f: &mut File, bytes: &[u8], dir: &Path, name: &str) -> Result<()> {
    let len = f.metadata().map_err(io(dir.join(name)))?.len();
    f.write_all_at(bytes, len).map_err(io(dir.join(name)))
}

pub(super) fn write_all_vectored_at(
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

impl Identity {
    /// Checks `log.json` against the key given, or writes it for a new log: a log is only
    /// ever opened with its own key.
    pub(super) fn check_or_create(dir: &Path, signer: &NoteSigner) -> Result<()> {
        let verifier = signer.verifier();
        let id_path = dir.join(IDENTITY);
        match std::fs::read(&id_path) {
            Ok(bytes) => {
                let id: Identity = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
                    path: dir.to_path_buf(),
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
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let id = Identity { origin: signer.name().to_string(), verifier };
                write_atomic(&id_path, &serde_json::to_vec_pretty(&id)?)
            }
            Err(e) => Err(Error::Io { path: id_path, source: e }),
        }
    }
}

/// Write handles of the log's four data files, opened (created if missing) for the
/// committer.
pub(super) struct Writers {
    pub(super) entries: File,
    pub(super) nodes: File,
    pub(super) offsets: File,
    pub(super) checkpoints: File,
}

impl Writers {
    pub(super) fn open(dir: &Path) -> Result<Self> {
        Ok(Self {
            entries: open_rw(&dir.join(ENTRIES))?,
            nodes: open_rw(&dir.join(NODES))?,
            offsets: open_rw(&dir.join(OFFSETS))?,
            checkpoints: open_rw(&dir.join(CHECKPOINTS))?,
        })
    }
}
