//! Tree geometry: the frontier (compact range) of a growing tree, the post-order layout in
//! which the log stores every complete subtree hash, and the subtree-hash recursion of
//! RFC 9162 §2.1.1 over any store of complete subtrees.

use crate::hash::{empty_root, node_hash, Hash};
use crate::Result;

/// Source of the hashes of complete (perfect) subtrees.
///
/// `complete(level, index)` is the root of the perfect subtree of height `level` covering
/// leaves `[index << level, (index + 1) << level)`. Callers only ask for subtrees that lie
/// entirely inside the tree.
pub trait Subtrees {
    /// Hash of a complete subtree.
    fn complete(&self, level: u32, index: u64) -> Result<Hash>;

    /// `MTH(D[start:end])` for a range produced by the RFC 9162 recursion: `start` is a
    /// multiple of the largest power of two not greater than `end - start`.
    fn range_hash(&self, start: u64, end: u64) -> Result<Hash> {
        debug_assert!(start < end);
        let size = end - start;
        if size.is_power_of_two() {
            let level = size.trailing_zeros();
            return self.complete(level, start >> level);
        }
        // Left part is complete; only the right edge recurses.
        let k = largest_power_of_two_below(size);
        let left = self.complete(k.trailing_zeros(), start >> k.trailing_zeros())?;
        let right = self.range_hash(start + k, end)?;
        Ok(node_hash(&left, &right))
    }

    /// Root hash of the tree of `size` leaves.
    fn root(&self, size: u64) -> Result<Hash> {
        if size == 0 {
            return Ok(empty_root());
        }
        self.range_hash(0, size)
    }
}

/// Largest power of two strictly less than `n` (for `n >= 2`).
pub fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Number of nodes stored (post-order) for a tree of `size` leaves: every leaf and every
/// complete interior node.
pub fn stored_nodes(size: u64) -> u64 {
    2 * size - u64::from(size.count_ones())
}

/// Position in the post-order node file of the complete subtree `(level, index)`.
///
/// Appending leaf `i` writes the leaf hash followed by the roots of the subtrees it
/// completes (levels 1, 2, …), so the file only ever grows at its end.
pub fn node_position(level: u32, index: u64) -> u64 {
    let m = (index + 1) << level; // leaves up to and including the subtree's last
    stored_nodes(m) - 1 - u64::from(m.trailing_zeros() - level)
}

/// The frontier of a tree: the roots of the perfect subtrees its leaves decompose into,
/// largest (leftmost) first. Enough to append and to compute the root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the frontier of a tree of `size` leaves from a subtree store.
    pub fn from_subtrees<S: Subtrees + ?Sized>(store: &S, size: u64) -> Result<Self> {
        let mut hashes = Vec::new();
        let mut start = 0u64;
        for level in (0..64).rev() {
            if size & (1u64 << level) != 0 {
                hashes.push(store.complete(level, start >> level)?);
                start += 1u64 << level;
            }
        }
        Ok(Self { size, hashes })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; `emit` receives every complete subtree the leaf completes as
    /// `(level, hash)`, in post-order (the leaf at level 0 first, then each interior node).
    pub fn push(&mut self, leaf: Hash, mut emit: impl FnMut(u32, Hash)) {
        emit(0, leaf);
        let mut cur = leaf;
        let mut s = self.size;
        let mut level = 0;
        while s & 1 == 1 {
            // `s & 1 == 1` means the last frontier entry is a sibling of equal height.
            let left = self.hashes.pop().unwrap_or_default();
            cur = node_hash(&left, &cur);
            level += 1;
            emit(level, cur);
            s >>= 1;
        }
        self.hashes.push(cur);
        self.size += 1;
    }

    /// Root hash of the current tree.
    pub fn root(&self) -> Hash {
        let mut it = self.hashes.iter().rev();
        let Some(last) = it.next() else { return empty_root() };
        it.fold(*last, |acc, h| node_hash(h, &acc))
    }
}

/// An in-memory tree over leaf hashes: simple and obviously correct, used to cross-check
/// the durable log and by verifiers that hold all leaves.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    leaves: Vec<Hash>,
}

impl MemoryTree {
    /// A tree over these leaf hashes.
    pub fn new(leaves: Vec<Hash>) -> Self {
        Self { leaves }
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.leaves.push(leaf);
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// `MTH` of `leaves[start..end]` computed from scratch (RFC 9162 definition).
    fn mth(&self, start: usize, end: usize) -> Hash {
        match end - start {
            0 => empty_root(),
            1 => self.leaves[start],
            n => {
                let k = largest_power_of_two_below(n as u64) as usize;
                node_hash(&self.mth(start, start + k), &self.mth(start + k, end))
            }
        }
    }
}

impl Subtrees for MemoryTree {
    fn complete(&self, level: u32, index: u64) -> Result<Hash> {
        let start = (index << level) as usize;
        let end = start + (1usize << level);
        if end > self.leaves.len() {
            return Err(crate::Error::OutOfRange {
                what: "subtree",
                requested: end as u64,
                available: self.len(),
            });
        }
        Ok(self.mth(start, end))
    }
}

/// A tree whose leaves all equal one hash: every complete subtree of height `k` has the
/// same root, so proofs in a tree of 2^30 or 2^60 leaves cost nothing to produce and have
/// exactly the shape (and gas cost) of proofs in a real tree of that size. For benchmarks.
#[derive(Clone, Debug)]
pub struct UniformTree {
    levels: Vec<Hash>,
}

impl UniformTree {
    /// A tree whose every leaf hash is `leaf`.
    pub fn new(leaf: Hash) -> Self {
        let mut levels = vec![leaf];
        for k in 1..64 {
            let prev = levels[k - 1];
            levels.push(node_hash(&prev, &prev));
        }
        Self { levels }
    }

    /// The leaf hash.
    pub fn leaf(&self) -> Hash {
        self.levels[0]
    }
}

impl Subtrees for UniformTree {
    fn complete(&self, level: u32, _index: u64) -> Result<Hash> {
        self.levels.get(level as usize).copied().ok_or(crate::Error::OutOfRange {
            what: "subtree level",
            requested: u64::from(level),
            available: 63,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn post_order_positions_match_append_order() {
        let mut frontier = Frontier::new();
        let mut written: Vec<Hash> = Vec::new();
        let leaves: Vec<Hash> = (0..100u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for l in &leaves {
            frontier.push(*l, |_, h| written.push(h));
        }
        assert_eq!(written.len() as u64, stored_nodes(100));
        let mem = MemoryTree::new(leaves);
        for level in 0..7u32 {
            for index in 0..(100u64 >> level) {
                let pos = node_position(level, index) as usize;
                assert_eq!(written[pos], mem.complete(level, index).unwrap(), "({level},{index})");
            }
        }
    }

    #[test]
    fn frontier_root_matches_memory_tree_for_every_size() {
        let mut frontier = Frontier::new();
        let mut mem = MemoryTree::default();
        assert_eq!(frontier.root(), empty_root());
        for i in 0..70u32 {
            let l = leaf_hash(&i.to_le_bytes());
            frontier.push(l, |_, _| {});
            mem.push(l);
            assert_eq!(frontier.root(), mem.root(mem.len()).unwrap(), "size {}", i + 1);
            assert_eq!(Frontier::from_subtrees(&mem, mem.len()).unwrap(), frontier);
        }
    }
}
