//! Reading a UnixFS file back as a byte stream, one verified block at a time.

use std::io::{self, Read};

use cid::Cid;

use crate::block::check_file_codec;
use crate::blockstore::Blockstore;
use crate::dag_pb::{PbNode, DAG_PB};
use crate::unixfs::{DataType, UnixFsData};
use crate::{Error, Result};

/// DAGs deeper than this are refused: Kubo's 174-ary trees reach 2^64 bytes long before.
const MAX_DEPTH: usize = 32;

/// One node on the way down: its links still to read, with the file bytes each should give.
struct Frame {
    cid: Cid,
    links: Vec<(Cid, Option<u64>)>,
    next: usize,
}

/// A UnixFS file as a [`Read`]er. Every block is verified against its CID as it is read;
/// a corrupt or missing block ends the stream with an error that names it. Holds one block
/// and the link lists on the current path, whatever the file size.
pub struct FileReader<'s, B: Blockstore + ?Sized> {
    store: &'s B,
    root: Cid,
    size: u64,
    stack: Vec<Frame>,
    current: Vec<u8>,
    pos: usize,
    emitted: u64,
    done: bool,
}

/// A decoded node: inline bytes, links, and the size it claims.
struct Node {
    data: Vec<u8>,
    links: Vec<(Cid, Option<u64>)>,
    filesize: u64,
}

fn load<B: Blockstore + ?Sized>(store: &B, cid: &Cid) -> Result<Node> {
    check_file_codec(cid)?;
    let bytes = store.get(cid)?;
    if cid.codec() != DAG_PB {
        let filesize = bytes.len() as u64;
        return Ok(Node { data: bytes, links: Vec::new(), filesize });
    }
    let invalid = |what, reason| Error::InvalidNode { cid: *cid, what, reason };
    let node = PbNode::decode(&bytes).map_err(|r| invalid("dag-pb", r))?;
    let unixfs = UnixFsData::decode(node.data.as_deref().unwrap_or_default())
        .map_err(|r| invalid("UnixFS", r))?;
    if !matches!(unixfs.kind, DataType::File | DataType::Raw) {
        return Err(Error::NotAFile { cid: *cid, kind: unixfs.kind.name().to_string() });
    }
    if !unixfs.blocksizes.is_empty() && unixfs.blocksizes.len() != node.links.len() {
        return Err(Error::InconsistentDag {
            cid: *cid,
            reason: format!(
                "{} links but {} blocksizes",
                node.links.len(),
                unixfs.blocksizes.len()
            ),
        });
    }
    let data = unixfs.data.unwrap_or_default();
    let links: Vec<(Cid, Option<u64>)> = node
        .links
        .into_iter()
        .enumerate()
        .map(|(i, l)| (l.hash, unixfs.blocksizes.get(i).copied()))
        .collect();
    let filesize = unixfs
        .filesize
        .unwrap_or_else(|| data.len() as u64 + links.iter().filter_map(|(_, s)| *s).sum::<u64>());
    Ok(Node { data, links, filesize })
}

impl<'s, B: Blockstore + ?Sized> FileReader<'s, B> {
    /// Opens the file under `root`.
    pub fn new(store: &'s B, root: &Cid) -> Result<Self> {
        let node = load(store, root)?;
        let mut reader = Self {
            store,
            root: *root,
            size: node.filesize,
            stack: Vec::new(),
            current: node.data,
            pos: 0,
            emitted: 0,
            done: false,
        };
        if !node.links.is_empty() {
            reader.stack.push(Frame { cid: *root, links: node.links, next: 0 });
        }
        Ok(reader)
    }

    /// The file size the root node declares.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Moves to the next block with bytes; `false` at the end.
    fn advance(&mut self) -> Result<bool> {
        loop {
            let Some(frame) = self.stack.last_mut() else { return Ok(false) };
            if frame.next == frame.links.len() {
                self.stack.pop();
                continue;
            }
            let (cid, expected) = frame.links[frame.next];
            let parent = frame.cid;
            frame.next += 1;
            let node = load(self.store, &cid)?;
            if let Some(expected) = expected {
                if expected != node.filesize {
                    return Err(Error::InconsistentDag {
                        cid: parent,
                        reason: format!(
                            "link to {cid} promises {expected} bytes, the block holds {}",
                            node.filesize
                        ),
                    });
                }
            }
            if !node.links.is_empty() {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(Error::InconsistentDag {
                        cid,
                        reason: format!("deeper than {MAX_DEPTH} levels"),
                    });
                }
                self.stack.push(Frame { cid, links: node.links, next: 0 });
            }
            if !node.data.is_empty() {
                self.current = node.data;
                self.pos = 0;
                return Ok(true);
            }
        }
    }

    fn read_inner(&mut self, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() || self.done {
            return Ok(0);
        }
        while self.pos == self.current.len() {
            if !self.advance()? {
                self.done = true;
                if self.emitted != self.size {
                    return Err(Error::InconsistentDag {
                        cid: self.root,
                        reason: format!(
                            "root declares {} bytes, the DAG holds {}",
                            self.size, self.emitted
                        ),
                    });
                }
                return Ok(0);
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        self.emitted += n as u64;
        Ok(n)
    }
}

impl<B: Blockstore + ?Sized> Read for FileReader<'_, B> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf).map_err(io::Error::other)
    }
}
