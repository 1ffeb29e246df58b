//! Merkle trees as `DisputeGame` verifies them: leaves padded with `bytes32(0)` to a power
//! of two, parents `keccak256` of the smaller child then the larger (OpenZeppelin's
//! `Hashes.commutativeKeccak256`), proofs bottom-up as `MerkleProof.verify` reads them.

use alloy::primitives::{keccak256, B256};

/// OpenZeppelin's `commutativeKeccak256`.
pub fn parent(a: B256, b: B256) -> B256 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(lo.as_slice());
    buf[32..].copy_from_slice(hi.as_slice());
    keccak256(buf)
}

/// Every level of the tree, leaves first (padded), root last.
fn levels(leaves: &[B256]) -> Vec<Vec<B256>> {
    let width = leaves.len().max(1).next_power_of_two();
    let mut level: Vec<B256> = leaves.to_vec();
    level.resize(width, B256::ZERO);
    let mut out = vec![level];
    while out.last().map_or(0, Vec::len) > 1 {
        let prev = out.last().map(Vec::as_slice).unwrap_or_default();
        let next = prev.chunks_exact(2).map(|p| parent(p[0], p[1])).collect();
        out.push(next);
    }
    out
}

/// The root over `leaves` (`bytes32(0)` for none).
pub fn root(leaves: &[B256]) -> B256 {
    levels(leaves).last().and_then(|l| l.first().copied()).unwrap_or_default()
}

/// The proof of leaf `index` (empty if out of range or a single leaf).
pub fn proof(leaves: &[B256], index: usize) -> Vec<B256> {
    if index >= leaves.len() {
        return Vec::new();
    }
    let lv = levels(leaves);
    let mut i = index;
    let mut out = Vec::with_capacity(lv.len().saturating_sub(1));
    for level in &lv[..lv.len() - 1] {
        out.push(level[i ^ 1]);
        i /= 2;
    }
    out
}

/// `MerkleProof.verify(proof, root, leaf)`.
pub fn verify(proof: &[B256], root: B256, leaf: B256) -> bool {
    proof.iter().fold(leaf, |acc, &sib| parent(acc, sib)) == root
}

/// A tree kept in memory to answer many proofs (a trace has thousands of leaves).
#[derive(Debug, Clone)]
pub struct Tree {
    levels: Vec<Vec<B256>>,
    len: usize,
}

impl Tree {
    /// Builds the tree over `leaves`.
    pub fn new(leaves: &[B256]) -> Tree {
        Tree { levels: levels(leaves), len: leaves.len() }
    }

    /// The root.
    pub fn root(&self) -> B256 {
        self.levels.last().and_then(|l| l.first().copied()).unwrap_or_default()
    }

    /// Leaf `index`.
    pub fn leaf(&self, index: usize) -> Option<B256> {
        (index < self.len).then(|| self.levels[0][index])
    }

    /// Number of (unpadded) leaves.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` with no leaves.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The proof of leaf `index` (empty if out of range).
    pub fn proof(&self, index: usize) -> Vec<B256> {
        if index >= self.len {
            return Vec::new();
        }
        let mut i = index;
        let mut out = Vec::with_capacity(self.levels.len() - 1);
        for level in &self.levels[..self.levels.len() - 1] {
            out.push(level[i ^ 1]);
            i /= 2;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn every_leaf_proves_and_no_other_does(n in 1usize..40, seed in any::<u64>()) {
            let leaves: Vec<B256> = (0..n).map(|i| keccak256((seed, i as u64).0.to_be_bytes().iter().chain(&(i as u64).to_be_bytes()).copied().collect::<Vec<u8>>())).collect();
            let tree = Tree::new(&leaves);
            prop_assert_eq!(tree.root(), root(&leaves));
            for (i, &leaf) in leaves.iter().enumerate() {
                let p = tree.proof(i);
                prop_assert_eq!(&p, &proof(&leaves, i));
                prop_assert!(verify(&p, tree.root(), leaf));
                prop_assert!(!verify(&p, tree.root(), keccak256(leaf)));
            }
        }
    }

    #[test]
    fn one_leaf_is_its_own_root() {
        let l = keccak256(b"x");
        assert_eq!(root(&[l]), l);
        assert!(verify(&[], l, l));
    }
}
