//! Walking a file DAG: the links of a block, and a depth-first pre-order traversal that
//! visits each block once (the order `ipfs dag export` writes a CAR in).

use std::collections::HashSet;

use cid::Cid;

use crate::block::check_file_codec;
use crate::blockstore::Blockstore;
use crate::dag_pb::{PbNode, DAG_PB};
use crate::{Error, Result};

/// Links of a block: dag-pb links in order; none for raw blocks.
pub fn links(cid: &Cid, data: &[u8]) -> Result<Vec<Cid>> {
    check_file_codec(cid)?;
    if cid.codec() != DAG_PB {
        return Ok(Vec::new());
    }
    let node = PbNode::decode(data).map_err(|reason| Error::InvalidNode {
        cid: *cid,
        what: "dag-pb",
        reason,
    })?;
    Ok(node.links.into_iter().map(|l| l.hash).collect())
}

/// Visits every block under `root` once (by multihash), parents before children, links in
/// order. Each block is read through [`Blockstore::get`], so each is verified.
pub fn walk<B: Blockstore + ?Sized>(
    store: &B,
    root: &Cid,
    mut visit: impl FnMut(&Cid, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    // A stack of link lists keeps memory at depth × fan-out, not the DAG's size.
    let mut stack: Vec<std::vec::IntoIter<Cid>> = vec![vec![*root].into_iter()];
    while let Some(top) = stack.last_mut() {
        let Some(cid) = top.next() else {
            stack.pop();
            continue;
        };
        if !seen.insert(cid.hash().to_bytes()) {
            continue;
        }
        let data = store.get(&cid)?;
        visit(&cid, &data)?;
        let children = links(&cid, &data)?;
        if !children.is_empty() {
            stack.push(children.into_iter());
        }
    }
    Ok(())
}
