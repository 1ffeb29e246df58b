//! The seam between the content store and where blocks live: a local directory
//! ([`FsBlockstore`](crate::FsBlockstore)) or a Kubo node over its HTTP RPC
//! ([`KuboBlockstore`](crate::KuboBlockstore)).

use cid::Cid;

use crate::Result;

/// Where blocks are kept, keyed by multihash (a CIDv0 and a CIDv1 with the same hash
/// name the same block, as in Kubo).
///
/// Implementations verify what they return: [`get`](Blockstore::get) fails with
/// [`Error::CorruptBlock`](crate::Error::CorruptBlock) naming the CID when the bytes do
/// not hash to it.
pub trait Blockstore: Send + Sync {
    /// The block's bytes, checked against `cid`. [`Error::BlockNotFound`](crate::Error::BlockNotFound)
    /// when absent.
    fn get(&self, cid: &Cid) -> Result<Vec<u8>>;

    /// Whether the block is present (without reading or verifying it).
    fn has(&self, cid: &Cid) -> Result<bool>;

    /// Stores a block given in parts (concatenated, they are the block). The caller has
    /// computed `cid` from exactly these bytes. Storing a block twice is not an error.
    /// Durable only after [`flush`](Blockstore::flush).
    fn put_parts(&self, cid: &Cid, parts: &[&[u8]]) -> Result<()>;

    /// Stores one block; see [`put_parts`](Blockstore::put_parts).
    fn put(&self, cid: &Cid, data: &[u8]) -> Result<()> {
        self.put_parts(cid, &[data])
    }

    /// Makes every block put so far durable (survives a crash or power loss).
    fn flush(&self) -> Result<()>;

    /// Pins a DAG root durably: it and everything under it survive [`gc`](Blockstore::gc).
    fn pin(&self, root: &Cid) -> Result<()>;

    /// Removes a pin; `false` when `root` was not pinned.
    fn unpin(&self, root: &Cid) -> Result<bool>;

    /// The pinned roots.
    fn pins(&self) -> Result<Vec<Cid>>;

    /// Deletes every block not reachable from a pin.
    fn gc(&self) -> Result<GcStats>;
}

/// What a garbage collection did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GcStats {
    /// Blocks deleted.
    pub removed_blocks: u64,
    /// Bytes deleted (0 when the backend does not say).
    pub removed_bytes: u64,
    /// Blocks kept because a pin reaches them (0 when the backend does not say).
    pub kept_blocks: u64,
}
