//! UnixFS v1 `Data` messages (inside dag-pb nodes) as Kubo writes them for files.

use crate::pb::{self, Field, Fields};

/// UnixFS node types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// Raw data (legacy leaves).
    Raw,
    /// A directory.
    Directory,
    /// A file or a chunk of one.
    File,
    /// Metadata (legacy).
    Metadata,
    /// A symbolic link.
    Symlink,
    /// A HAMT-sharded directory.
    HamtShard,
}

impl DataType {
    fn code(self) -> u64 {
        match self {
            DataType::Raw => 0,
            DataType::Directory => 1,
            DataType::File => 2,
            DataType::Metadata => 3,
            DataType::Symlink => 4,
            DataType::HamtShard => 5,
        }
    }

    fn from_code(code: u64) -> Result<Self, String> {
        Ok(match code {
            0 => DataType::Raw,
            1 => DataType::Directory,
            2 => DataType::File,
            3 => DataType::Metadata,
            4 => DataType::Symlink,
            5 => DataType::HamtShard,
            other => return Err(format!("unknown UnixFS type {other}")),
        })
    }

    /// Lower-case name, as the UnixFS spec spells it.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Raw => "raw",
            DataType::Directory => "directory",
            DataType::File => "file",
            DataType::Metadata => "metadata",
            DataType::Symlink => "symlink",
            DataType::HamtShard => "hamt-sharded-directory",
        }
    }
}

/// A UnixFS `Data` message, the fields files use (mode and mtime are read and ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixFsData {
    /// Node type.
    pub kind: DataType,
    /// Inline bytes (leaves); `None` when absent or empty, as Kubo omits it.
    pub data: Option<Vec<u8>>,
    /// Total file bytes under this node.
    pub filesize: Option<u64>,
    /// File bytes under each link, in link order.
    pub blocksizes: Vec<u64>,
}

impl UnixFsData {
    /// Encodes the message as Kubo does: type, data (if non-empty), filesize, blocksizes
    /// (unpacked).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            8 + self.data.as_ref().map_or(0, |d| d.len() + 4) + self.blocksizes.len() * 5,
        );
        pb::put_uint(&mut out, 1, self.kind.code());
        if let Some(data) = self.data.as_ref().filter(|d| !d.is_empty()) {
            pb::put_bytes(&mut out, 2, data);
        }
        if let Some(size) = self.filesize {
            pb::put_uint(&mut out, 3, size);
        }
        for &b in &self.blocksizes {
            pb::put_uint(&mut out, 4, b);
        }
        out
    }

    /// Decodes a message; accepts packed or unpacked blocksizes.
    pub fn decode(buf: &[u8]) -> Result<Self, String> {
        let mut kind = None;
        let mut data = None;
        let mut filesize = None;
        let mut blocksizes = Vec::new();
        for field in Fields::new(buf) {
            match field? {
                Field::Varint(1, v) => kind = Some(DataType::from_code(v)?),
                Field::Bytes(2, d) => data = Some(d.to_vec()).filter(|d: &Vec<u8>| !d.is_empty()),
                Field::Varint(3, v) => filesize = Some(v),
                Field::Varint(4, v) => blocksizes.push(v),
                Field::Bytes(4, mut packed) => {
                    while !packed.is_empty() {
                        let (v, n) = pb::read_varint(packed)?;
                        blocksizes.push(v);
                        packed = &packed[n..];
                    }
                }
                // hashType, fanout, mode, mtime: not needed to read a file.
                Field::Varint(5..=7, _) | Field::Bytes(8, _) => {}
                Field::Bytes(f, _) | Field::Varint(f, _) => {
                    return Err(format!("unexpected field {f} in UnixFS Data"));
                }
            }
        }
        let kind = kind.ok_or("UnixFS Data without a type")?;
        Ok(UnixFsData { kind, data, filesize, blocksizes })
    }
}

/// The bytes a Kubo dag-pb file leaf puts before and after a chunk of `n` bytes:
/// `PBNode{Data: UnixFS{Type: File, Data: chunk, filesize: n}}`. Lets the importer hash
/// and write a leaf without copying the chunk.
pub(crate) fn file_leaf_frame(n: usize) -> (Vec<u8>, Vec<u8>) {
    let n64 = n as u64;
    let data_field = if n > 0 { 1 + pb::varint_len(n64) + n } else { 0 };
    let unixfs_len = 2 + data_field + 1 + pb::varint_len(n64);
    let mut head = Vec::with_capacity(16);
    pb::put_key(&mut head, 1, pb::LEN);
    pb::put_varint(&mut head, unixfs_len as u64);
    pb::put_uint(&mut head, 1, DataType::File.code());
    if n > 0 {
        pb::put_key(&mut head, 2, pb::LEN);
        pb::put_varint(&mut head, n64);
    }
    let mut tail = Vec::with_capacity(11);
    pb::put_uint(&mut tail, 3, n64);
    (head, tail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dag_pb::PbNode;
    use proptest::prelude::*;

    #[test]
    fn leaf_frame_equals_full_encoding() {
        for n in [0usize, 1, 127, 128, 262_143, 262_144, 1 << 21] {
            let chunk = vec![7u8; n];
            let unixfs = UnixFsData {
                kind: DataType::File,
                data: Some(chunk.clone()),
                filesize: Some(n as u64),
                blocksizes: vec![],
            };
            let full = PbNode { links: vec![], data: Some(unixfs.encode()) }.encode();
            let (head, tail) = file_leaf_frame(n);
            let framed = [head, chunk, tail].concat();
            assert_eq!(framed, full, "n = {n}");
        }
    }

    #[test]
    fn hello_leaf_is_kubo_block() {
        // `echo hello | ipfs add` stores this block as QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN.
        let (head, tail) = file_leaf_frame(6);
        let block = [head, b"hello\n".to_vec(), tail].concat();
        assert_eq!(hex::encode(block), "0a0c0802120668656c6c6f0a1806");
    }

    proptest! {
        #[test]
        fn roundtrip(
            data in proptest::option::of(proptest::collection::vec(any::<u8>(), 1..64)),
            filesize in proptest::option::of(any::<u64>()),
            blocksizes in proptest::collection::vec(any::<u64>(), 0..8),
            kind in 0u64..6,
        ) {
            let msg = UnixFsData { kind: DataType::from_code(kind).unwrap_or(DataType::File), data, filesize, blocksizes };
            prop_assert_eq!(UnixFsData::decode(&msg.encode()), Ok(msg));
        }

        #[test]
        fn decode_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = UnixFsData::decode(&buf);
        }
    }
}
