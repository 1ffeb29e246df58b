//! Streaming UnixFS importer with Kubo's `ipfs add` defaults: fixed-size chunks
//! (256 KiB), a balanced DAG of at most 174 links per node, CIDv0 with dag-pb leaves, or
//! CIDv1 with raw leaves. The same bytes give the same CID as Kubo.
//!
//! Memory is one chunk plus at most 174 pending links per DAG layer, whatever the file
//! size.

use std::io::{self, Read, Write};

use cid::Cid;
use sha2::{Digest, Sha256};

use crate::block::{cid_for, CidVersion};
use crate::blockstore::Blockstore;
use crate::dag_pb::{PbLink, PbNode, DAG_PB, RAW};
use crate::unixfs::{file_leaf_frame, DataType, UnixFsData};
use crate::{Error, Result};

/// Kubo's default chunk size (`--chunker=size-262144`).
pub const DEFAULT_CHUNK_SIZE: usize = 256 * 1024;
/// Kubo's largest allowed chunk size.
pub const MAX_CHUNK_SIZE: usize = 1024 * 1024;
/// Kubo's balanced layout fan-out.
pub const DEFAULT_MAX_LINKS: usize = 174;

/// Bytes reserved before and after a chunk for the dag-pb leaf frame.
const HEAD_ROOM: usize = 32;
const TAIL_ROOM: usize = 16;

/// How to add a file. [`Default`] is Kubo's `ipfs add`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AddOptions {
    /// CID version of the dag-pb nodes (`--cid-version`).
    pub cid_version: CidVersion,
    /// Raw leaves (`--raw-leaves`); `None` means Kubo's choice: on for CIDv1, off for CIDv0.
    pub raw_leaves: Option<bool>,
    /// Chunk size in bytes (`--chunker=size-N`), 1 to 1 MiB.
    pub chunk_size: usize,
    /// Links per node of the balanced layout (Kubo: 174).
    pub max_links: usize,
    /// Pin the root (`--pin`, on by default).
    pub pin: bool,
}

impl Default for AddOptions {
    fn default() -> Self {
        Self {
            cid_version: CidVersion::V0,
            raw_leaves: None,
            chunk_size: DEFAULT_CHUNK_SIZE,
            max_links: DEFAULT_MAX_LINKS,
            pin: true,
        }
    }
}

impl AddOptions {
    /// Kubo's `ipfs add --cid-version 1`: CIDv1, raw leaves.
    pub fn v1() -> Self {
        Self { cid_version: CidVersion::V1, ..Self::default() }
    }

    /// Whether leaves are raw blocks.
    pub fn raw_leaves(&self) -> bool {
        self.raw_leaves.unwrap_or(self.cid_version == CidVersion::V1)
    }

    fn validate(&self) -> Result<()> {
        if self.chunk_size == 0 || self.chunk_size > MAX_CHUNK_SIZE {
            return Err(Error::InvalidOptions(format!(
                "chunk size must be 1..={MAX_CHUNK_SIZE} bytes, not {}",
                self.chunk_size
            )));
        }
        if self.max_links < 2 {
            return Err(Error::InvalidOptions(format!(
                "a node needs room for at least 2 links, not {}",
                self.max_links
            )));
        }
        Ok(())
    }
}

/// The result of an add.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AddResult {
    /// Root CID.
    #[serde(serialize_with = "crate::serialize_cid")]
    pub cid: Cid,
    /// File size in bytes.
    pub size: u64,
    /// Bytes of all blocks (Kubo's cumulative size, `ipfs add` "Size").
    pub dag_size: u64,
    /// Number of blocks written.
    pub blocks: u64,
}

/// A link waiting for its parent node.
#[derive(Debug, Clone, Copy)]
struct Pending {
    cid: Cid,
    /// Block bytes of the linked block and everything under it (the link's Tsize).
    tsize: u64,
    /// File bytes under it (the parent's blocksize entry).
    filesize: u64,
}

/// Builds a file DAG from bytes written to it, storing blocks as it goes.
///
/// Write with [`Write`] or [`FileImporter::read_from`], then call
/// [`FileImporter::finish`].
pub struct FileImporter<'s, B: Blockstore + ?Sized> {
    store: &'s B,
    options: AddOptions,
    raw_leaves: bool,
    /// `HEAD_ROOM` + chunk + `TAIL_ROOM`; the chunk lives at `HEAD_ROOM..HEAD_ROOM + fill`.
    buf: Vec<u8>,
    fill: usize,
    layers: Vec<Vec<Pending>>,
    leaves: u64,
    size: u64,
    blocks: u64,
}

impl<'s, B: Blockstore + ?Sized> FileImporter<'s, B> {
    /// Starts a file.
    pub fn new(store: &'s B, options: AddOptions) -> Result<Self> {
        options.validate()?;
        Ok(Self {
            store,
            raw_leaves: options.raw_leaves(),
            buf: vec![0; HEAD_ROOM + options.chunk_size + TAIL_ROOM],
            options,
            fill: 0,
            layers: vec![Vec::new()],
            leaves: 0,
            size: 0,
            blocks: 0,
        })
    }

    /// File bytes taken so far.
    pub fn bytes_in(&self) -> u64 {
        self.size + self.fill as u64
    }

    /// Reads `reader` to its end into the file, straight into the chunk buffer.
    pub fn read_from(&mut self, mut reader: impl Read) -> Result<u64> {
        let chunk = self.options.chunk_size;
        let mut total = 0u64;
        loop {
            let start = HEAD_ROOM + self.fill;
            let end = HEAD_ROOM + chunk;
            let n = match reader.read(&mut self.buf[start..end]) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(crate::error::from_io(e, "read input")),
            };
            self.fill += n;
            total += n as u64;
            if self.fill == chunk {
                self.emit_leaf()?;
            }
        }
    }

    /// Writes the current chunk as a leaf block.
    fn emit_leaf(&mut self) -> Result<()> {
        let n = self.fill;
        let (block_start, block_end, cid) = if self.raw_leaves {
            let data = &self.buf[HEAD_ROOM..HEAD_ROOM + n];
            let cid = cid_for(RAW, CidVersion::V1, &Sha256::digest(data).into())?;
            (HEAD_ROOM, HEAD_ROOM + n, cid)
        } else {
            let (head, tail) = file_leaf_frame(n);
            let start = HEAD_ROOM - head.len();
            self.buf[start..HEAD_ROOM].copy_from_slice(&head);
            self.buf[HEAD_ROOM + n..HEAD_ROOM + n + tail.len()].copy_from_slice(&tail);
            let end = HEAD_ROOM + n + tail.len();
            let digest = Sha256::digest(&self.buf[start..end]).into();
            (start, end, cid_for(DAG_PB, self.options.cid_version, &digest)?)
        };
        self.store.put(&cid, &self.buf[block_start..block_end])?;
        self.blocks += 1;
        self.leaves += 1;
        self.size += n as u64;
        self.fill = 0;
        self.push(0, Pending { cid, tsize: (block_end - block_start) as u64, filesize: n as u64 })
    }

    /// Adds a link at `layer`; a full layer becomes a node one layer up.
    fn push(&mut self, layer: usize, link: Pending) -> Result<()> {
        if self.layers.len() <= layer {
            self.layers.push(Vec::new());
        }
        self.layers[layer].push(link);
        if self.layers[layer].len() == self.options.max_links {
            let node = self.reduce(layer)?;
            self.push(layer + 1, node)?;
        }
        Ok(())
    }

    /// Turns the pending links of `layer` into one UnixFS file node.
    fn reduce(&mut self, layer: usize) -> Result<Pending> {
        let children = std::mem::take(&mut self.layers[layer]);
        let filesize: u64 = children.iter().map(|c| c.filesize).sum();
        let unixfs = UnixFsData {
            kind: DataType::File,
            data: None,
            filesize: Some(filesize),
            blocksizes: children.iter().map(|c| c.filesize).collect(),
        };
        let node = PbNode {
            links: children
                .iter()
                .map(|c| PbLink { hash: c.cid, name: Some(String::new()), tsize: Some(c.tsize) })
                .collect(),
            data: Some(unixfs.encode()),
        };
        let bytes = node.encode();
        let cid = cid_for(DAG_PB, self.options.cid_version, &Sha256::digest(&bytes).into())?;
        self.store.put(&cid, &bytes)?;
        self.blocks += 1;
        let tsize = bytes.len() as u64 + children.iter().map(|c| c.tsize).sum::<u64>();
        Ok(Pending { cid, tsize, filesize })
    }

    /// Ends the file: writes the last chunk and the remaining nodes, makes the blocks
    /// durable and pins the root if asked.
    pub fn finish(mut self) -> Result<AddResult> {
        // An empty file is one empty chunk, as in Kubo.
        if self.fill > 0 || self.leaves == 0 {
            self.emit_leaf()?;
        }
        let top = self.layers.iter().rposition(|l| !l.is_empty()).unwrap_or(0);
        for layer in 0..top {
            if !self.layers[layer].is_empty() {
                let node = self.reduce(layer)?;
                self.layers[layer + 1].push(node);
            }
        }
        // One link at the top is the root (for a one-chunk file: the leaf itself).
        let root = match self.layers[top].len() {
            1 => self.layers[top][0],
            _ => self.reduce(top)?,
        };
        self.store.flush()?;
        if self.options.pin {
            self.store.pin(&root.cid)?;
        }
        Ok(AddResult { cid: root.cid, size: self.size, dag_size: root.tsize, blocks: self.blocks })
    }
}

impl<B: Blockstore + ?Sized> Write for FileImporter<'_, B> {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let total = data.len();
        let chunk = self.options.chunk_size;
        while !data.is_empty() {
            let room = chunk - self.fill;
            let n = room.min(data.len());
            let start = HEAD_ROOM + self.fill;
            self.buf[start..start + n].copy_from_slice(&data[..n]);
            self.fill += n;
            data = &data[n..];
            if self.fill == chunk {
                self.emit_leaf().map_err(io::Error::other)?;
            }
        }
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blockstore::GcStats;
    use parking_lot::Mutex;
    use std::collections::HashMap;

    /// Blocks in memory; enough to test the importer alone.
    #[derive(Default)]
    struct MemBlocks(Mutex<HashMap<Vec<u8>, Vec<u8>>>);

    impl Blockstore for MemBlocks {
        fn get(&self, cid: &Cid) -> Result<Vec<u8>> {
            self.0.lock().get(&cid.hash().to_bytes()).cloned().ok_or(Error::BlockNotFound(*cid))
        }
        fn has(&self, cid: &Cid) -> Result<bool> {
            Ok(self.0.lock().contains_key(&cid.hash().to_bytes()))
        }
        fn put_parts(&self, cid: &Cid, parts: &[&[u8]]) -> Result<()> {
            self.0.lock().insert(cid.hash().to_bytes(), parts.concat());
            Ok(())
        }
        fn flush(&self) -> Result<()> {
            Ok(())
        }
        fn pin(&self, _: &Cid) -> Result<()> {
            Ok(())
        }
        fn unpin(&self, _: &Cid) -> Result<bool> {
            Ok(false)
        }
        fn pins(&self) -> Result<Vec<Cid>> {
            Ok(vec![])
        }
        fn gc(&self) -> Result<GcStats> {
            Ok(GcStats::default())
        }
    }

    fn add(data: &[u8], options: AddOptions) -> AddResult {
        let store = MemBlocks::default();
        let mut imp = FileImporter::new(&store, options).unwrap();
        imp.read_from(data).unwrap();
        imp.finish().unwrap()
    }

    #[test]
    fn hello_is_kubos_cid() {
        // `echo hello | ipfs add` in Kubo.
        let r = add(b"hello\n", AddOptions::default());
        assert_eq!(r.cid.to_string(), "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN");
        assert_eq!(r.size, 6);
    }

    #[test]
    fn empty_file_is_kubos_cid() {
        assert_eq!(
            add(b"", AddOptions::default()).cid.to_string(),
            "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
        );
        assert_eq!(
            add(b"", AddOptions::v1()).cid.to_string(),
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
    }

    #[test]
    fn write_and_read_from_agree_for_odd_write_sizes() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let opts = AddOptions { chunk_size: 1000, max_links: 3, ..AddOptions::default() };
        let want = add(&data, opts.clone());
        let store = MemBlocks::default();
        let mut imp = FileImporter::new(&store, opts).unwrap();
        for piece in data.chunks(333) {
            imp.write_all(piece).unwrap();
        }
        assert_eq!(imp.finish().unwrap(), want);
    }

    #[test]
    fn rejects_bad_options() {
        let store = MemBlocks::default();
        for opts in [
            AddOptions { chunk_size: 0, ..AddOptions::default() },
            AddOptions { chunk_size: MAX_CHUNK_SIZE + 1, ..AddOptions::default() },
            AddOptions { max_links: 1, ..AddOptions::default() },
        ] {
            assert!(matches!(FileImporter::new(&store, opts), Err(Error::InvalidOptions(_))));
        }
    }
}
