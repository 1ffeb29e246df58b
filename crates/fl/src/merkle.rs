//! The Merkle tree of cumulative rewards that a round settlement commits to.
//!
//! The layout is OpenZeppelin's `StandardMerkleTree` (`@openzeppelin/merkle-tree`):
//! leaves are `keccak256(keccak256(abi.encode(chainId, contract, taskId, client,
//! updateHash, score, cumulative)))` ([`LeafDomain`] holds the first three, so a tree
//! built for one task of one deployment proves nothing in another), sorted by hash, stored at the end of a flat array in reverse order, and every inner node
//! is the keccak of its two children in ascending order. Proofs therefore verify with
//! OpenZeppelin's `MerkleProof` (commutative pair hashing), which is what
//! `FederatedTraining.claim` uses.

use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::sol_types::SolValue;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// What every leaf of a tree is bound to: the chain, the `FederatedTraining` contract and
/// the task. The same client and amount in another task (or another deployment, or on
/// another chain) is another leaf, so a root reused across tasks pays nothing there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeafDomain {
    /// `block.chainid` of the chain the contract lives on.
    pub chain_id: u64,
    /// The `FederatedTraining` contract.
    pub contract: Address,
    /// The task id in that contract.
    pub task: U256,
}

/// One client's entry in a round's reward tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RewardLeaf {
    /// The client's account; only it can claim with this leaf.
    pub client: Address,
    /// The client's last accepted update (zero if it never had one accepted).
    pub update_hash: B256,
    /// The client's last round score, fixed point (1e9 = 1).
    pub score: U256,
    /// Every reward the client earned in all rounds so far, in token base units.
    pub cumulative: U256,
}

impl RewardLeaf {
    /// The double-hashed leaf in `domain`, as `FederatedTraining.rewardLeaf` computes it.
    pub fn hash(&self, domain: &LeafDomain) -> B256 {
        let encoded = (
            U256::from(domain.chain_id),
            domain.contract,
            domain.task,
            self.client,
            self.update_hash,
            self.score,
            self.cumulative,
        )
            .abi_encode();
        keccak256(keccak256(encoded))
    }
}

/// `keccak256` of the two nodes in ascending order (OpenZeppelin `Hashes.commutativeKeccak256`).
pub fn hash_pair(a: B256, b: B256) -> B256 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(lo.as_slice());
    buf[32..].copy_from_slice(hi.as_slice());
    keccak256(buf)
}

/// Recomputes the root from a leaf hash and a proof (OpenZeppelin `MerkleProof.processProof`).
pub fn process_proof(leaf: B256, proof: &[B256]) -> B256 {
    proof.iter().fold(leaf, |acc, &p| hash_pair(acc, p))
}

/// A reward tree over one settlement's leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewardTree {
    domain: LeafDomain,
    leaves: Vec<RewardLeaf>,
    /// Flat tree: `tree[0]` is the root, children of `i` are `2i+1` and `2i+2`.
    tree: Vec<B256>,
    /// Position in `tree` of each leaf, in the order of `leaves`.
    position: Vec<usize>,
}

impl RewardTree {
    /// Builds the tree of `leaves` in `domain`. Fails on an empty set or on two leaves for
    /// the same client (a client has exactly one cumulative amount).
    pub fn new(domain: LeafDomain, leaves: Vec<RewardLeaf>) -> Result<Self> {
        if leaves.is_empty() {
            return Err(Error::Config("a reward tree needs at least one leaf".into()));
        }
        let mut clients: Vec<Address> = leaves.iter().map(|l| l.client).collect();
        clients.sort();
        if let Some(w) = clients.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::Config(format!(
                "client {} appears twice in the reward tree; merge its rewards into one leaf",
                w[0]
            )));
        }
        let n = leaves.len();
        let mut hashed: Vec<(B256, usize)> =
            leaves.iter().enumerate().map(|(i, l)| (l.hash(&domain), i)).collect();
        hashed.sort();
        let len = 2 * n - 1;
        let mut tree = vec![B256::ZERO; len];
        let mut position = vec![0; n];
        for (k, (h, i)) in hashed.into_iter().enumerate() {
            tree[len - 1 - k] = h;
            position[i] = len - 1 - k;
        }
        for i in (0..len - n).rev() {
            tree[i] = hash_pair(tree[2 * i + 1], tree[2 * i + 2]);
        }
        Ok(Self { domain, leaves, tree, position })
    }

    /// The chain, contract and task the leaves are bound to.
    pub fn domain(&self) -> &LeafDomain {
        &self.domain
    }

    /// The root that `settleRound` publishes.
    pub fn root(&self) -> B256 {
        self.tree[0]
    }

    /// The leaves, in the order given to [`RewardTree::new`].
    pub fn leaves(&self) -> &[RewardLeaf] {
        &self.leaves
    }

    /// The leaf of `client`, if it is in the tree.
    pub fn leaf_of(&self, client: Address) -> Option<(usize, &RewardLeaf)> {
        self.leaves.iter().enumerate().find(|(_, l)| l.client == client)
    }

    /// The proof of leaf `index` (in the order given to [`RewardTree::new`]).
    pub fn proof(&self, index: usize) -> Result<Vec<B256>> {
        let mut i = *self.position.get(index).ok_or_else(|| {
            Error::Config(format!("leaf {index} out of range ({} leaves)", self.leaves.len()))
        })?;
        let mut proof = Vec::new();
        while i > 0 {
            let sibling = if i % 2 == 1 { i + 1 } else { i - 1 };
            proof.push(self.tree[sibling]);
            i = (i - 1) / 2;
        }
        Ok(proof)
    }

    /// Whether `proof` shows `leaf` (in `domain`) under `root`.
    pub fn verify(domain: &LeafDomain, root: B256, leaf: &RewardLeaf, proof: &[B256]) -> bool {
        process_proof(leaf.hash(domain), proof) == root
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DOMAIN: LeafDomain = LeafDomain {
        chain_id: 31337,
        contract: Address::repeat_byte(0xfe),
        task: U256::from_limbs([1, 0, 0, 0]),
    };

    fn leaf(i: u64) -> RewardLeaf {
        RewardLeaf {
            client: Address::with_last_byte(i as u8 + 1),
            update_hash: B256::with_last_byte(i as u8),
            score: U256::from(i * 7),
            cumulative: U256::from(1000 + i),
        }
    }

    #[test]
    fn a_single_leaf_is_its_own_root() {
        let t = RewardTree::new(DOMAIN, vec![leaf(0)]).unwrap();
        assert_eq!(t.root(), leaf(0).hash(&DOMAIN));
        assert!(t.proof(0).unwrap().is_empty());
    }

    #[test]
    fn duplicate_clients_and_empty_trees_are_refused() {
        assert!(RewardTree::new(DOMAIN, vec![]).is_err());
        let mut b = leaf(1);
        b.client = leaf(0).client;
        let err = RewardTree::new(DOMAIN, vec![leaf(0), b]).unwrap_err().to_string();
        assert!(err.contains("appears twice"), "{err}");
    }

    #[test]
    fn leaf_encoding_is_abi_encode_of_the_seven_words() {
        // abi.encode of static types is seven 32-byte words: check against a hand-built buffer.
        let l = leaf(3);
        let mut buf = Vec::new();
        buf.extend_from_slice(&U256::from(31337u64).to_be_bytes::<32>());
        buf.extend_from_slice(&[0u8; 12]);
        buf.extend_from_slice(DOMAIN.contract.as_slice());
        buf.extend_from_slice(&DOMAIN.task.to_be_bytes::<32>());
        buf.extend_from_slice(&[0u8; 12]);
        buf.extend_from_slice(l.client.as_slice());
        buf.extend_from_slice(l.update_hash.as_slice());
        buf.extend_from_slice(&l.score.to_be_bytes::<32>());
        buf.extend_from_slice(&l.cumulative.to_be_bytes::<32>());
        assert_eq!(l.hash(&DOMAIN), keccak256(keccak256(&buf)));
    }

    #[test]
    fn a_leaf_depends_on_chain_contract_and_task() {
        let l = leaf(2);
        let h = l.hash(&DOMAIN);
        assert_ne!(h, l.hash(&LeafDomain { chain_id: 1, ..DOMAIN }));
        assert_ne!(h, l.hash(&LeafDomain { contract: Address::repeat_byte(1), ..DOMAIN }));
        assert_ne!(h, l.hash(&LeafDomain { task: U256::from(2), ..DOMAIN }));
    }

    proptest! {
        #[test]
        fn every_proof_verifies_and_a_changed_leaf_does_not(n in 1usize..40, pick in 0usize..40) {
            let leaves: Vec<_> = (0..n as u64).map(leaf).collect();
            let t = RewardTree::new(DOMAIN, leaves.clone()).unwrap();
            for (i, l) in leaves.iter().enumerate() {
                prop_assert!(RewardTree::verify(&DOMAIN, t.root(), l, &t.proof(i).unwrap()));
            }
            let i = pick % n;
            let mut forged = leaves[i];
            forged.cumulative += U256::from(1);
            prop_assert!(!RewardTree::verify(&DOMAIN, t.root(), &forged, &t.proof(i).unwrap()));
        }
    }
}
