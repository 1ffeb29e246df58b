//! One Merkle-Patricia trie, loaded lazily from its nodes by path, updated, and hashed
//! again along the touched paths only.
//!
//! Nodes are stored at their nibble path from the root (the root at the empty path). A
//! node whose encoding is shorter than 32 bytes is embedded in its parent, as Ethereum
//! encodes it, and is not stored on its own — except the root, which is always stored.
//! Restructuring never moves a node whose subtree it does not touch: a branch stays at its
//! path when the extension above it grows or shrinks, so an untouched subtree keeps its
//! stored nodes.
//!
//! Keys are fixed-length (64 nibbles, the keccak of an address or slot), so branches never
//! hold values and no key is a prefix of another.

use std::collections::HashSet;

use alloy::primitives::{keccak256, B256};
use alloy::rlp::{Decodable, Encodable};
use alloy_trie::nodes::{
    BranchNodeRef, ExtensionNodeRef, LeafNodeRef, RlpNode, TrieNode, CHILD_INDEX_RANGE,
};
use alloy_trie::{Nibbles, TrieMask, EMPTY_ROOT_HASH};

use super::{NodeRead, TrieId};
use crate::{Error, Result};

/// A node of the in-memory part of a trie.
enum Node {
    Empty,
    /// Not loaded yet: the reference the parent holds (a hash, or the embedded node).
    Unloaded(RlpNode),
    Leaf {
        key: Nibbles,
        value: Vec<u8>,
    },
    Extension {
        key: Nibbles,
        child: Box<Node>,
    },
    Branch {
        children: Box<[Node; 16]>,
    },
}

fn empty_children() -> Box<[Node; 16]> {
    Box::new(std::array::from_fn(|_| Node::Empty))
}

/// What an update changed: nodes to store (by path) and paths whose node is gone.
#[derive(Debug, Default)]
pub struct NodeChanges {
    /// New or rewritten nodes (RLP encoding) by path.
    pub put: Vec<(Nibbles, Vec<u8>)>,
    /// Paths that no longer hold a stored node.
    pub delete: Vec<Nibbles>,
}

/// A trie being updated.
pub struct Trie<'a> {
    id: TrieId,
    src: &'a dyn NodeRead,
    root: Node,
    /// Paths whose stored node was loaded to be changed (deleted unless rewritten).
    loaded: Vec<Nibbles>,
}

impl<'a> Trie<'a> {
    /// Opens trie `id` as `src` holds it.
    pub fn open(id: TrieId, src: &'a dyn NodeRead) -> Result<Self> {
        let mut trie = Trie { id, src, root: Node::Empty, loaded: Vec::new() };
        if let Some(rlp) = src.node(id, &Nibbles::new())? {
            trie.loaded.push(Nibbles::new());
            trie.root = decode(id, &Nibbles::new(), &rlp)?;
        }
        Ok(trie)
    }

    /// Sets `key` to `value` (`None` or empty: removes it).
    pub fn set(&mut self, key: &B256, value: Option<Vec<u8>>) -> Result<()> {
        let key = Nibbles::unpack(key);
        let root = std::mem::replace(&mut self.root, Node::Empty);
        self.root = match value.filter(|v| !v.is_empty()) {
            Some(v) => self.insert(root, Nibbles::new(), key, v)?,
            None => self.remove(root, Nibbles::new(), key)?,
        };
        Ok(())
    }

    /// Hashes the changed paths; returns the root and the nodes to store and delete.
    pub fn commit(mut self) -> Result<(B256, NodeChanges)> {
        let root = std::mem::replace(&mut self.root, Node::Empty);
        let mut changes = NodeChanges::default();
        let mut buf = Vec::with_capacity(600);
        let hash = match root {
            Node::Empty => EMPTY_ROOT_HASH,
            root => {
                let rlp = self.encode(&root, Nibbles::new(), &mut changes, &mut buf)?;
                let hash = keccak256(&rlp);
                changes.put.push((Nibbles::new(), rlp));
                hash
            }
        };
        let written: HashSet<Nibbles> = changes.put.iter().map(|(p, _)| *p).collect();
        changes.delete = self.loaded.into_iter().filter(|p| !written.contains(p)).collect();
        Ok((hash, changes))
    }

    /// Resolves a reference found at `path`: decodes an embedded node, or loads a stored one.
    fn load(&mut self, path: &Nibbles, r: &RlpNode) -> Result<Node> {
        if r.is_hash() {
            let rlp = self.src.node(self.id, path)?.ok_or_else(|| missing(self.id, path))?;
            self.loaded.push(*path);
            decode(self.id, path, &rlp)
        } else {
            decode(self.id, path, r.as_slice())
        }
    }

    fn insert(&mut self, node: Node, path: Nibbles, key: Nibbles, value: Vec<u8>) -> Result<Node> {
        Ok(match node {
            Node::Empty => Node::Leaf { key, value },
            Node::Unloaded(r) => {
                let node = self.load(&path, &r)?;
                return self.insert(node, path, key, value);
            }
            Node::Leaf { key: old_key, value: old } => {
                if old_key == key {
                    return Ok(Node::Leaf { key, value });
                }
                let common = old_key.common_prefix_length(&key);
                if common >= key.len() || common >= old_key.len() {
                    return Err(bad_key(self.id, &path));
                }
                let mut children = empty_children();
                children[old_key.get_unchecked(common) as usize] =
                    Node::Leaf { key: old_key.slice(common + 1..), value: old };
                children[key.get_unchecked(common) as usize] =
                    Node::Leaf { key: key.slice(common + 1..), value };
                with_prefix(key.slice(..common), Node::Branch { children })
            }
            Node::Extension { key: ext, child } => {
                let common = ext.common_prefix_length(&key);
                if common == ext.len() {
                    let child = self.insert(*child, path.join(&ext), key.slice(common..), value)?;
                    return Ok(Node::Extension { key: ext, child: Box::new(child) });
                }
                if common >= key.len() {
                    return Err(bad_key(self.id, &path));
                }
                let mut children = empty_children();
                let rest = ext.slice(common + 1..);
                children[ext.get_unchecked(common) as usize] =
                    if rest.is_empty() { *child } else { Node::Extension { key: rest, child } };
                children[key.get_unchecked(common) as usize] =
                    Node::Leaf { key: key.slice(common + 1..), value };
                with_prefix(key.slice(..common), Node::Branch { children })
            }
            Node::Branch { mut children } => {
                let Some(i) = key.first() else { return Err(bad_key(self.id, &path)) };
                let mut child_path = path;
                child_path.push(i);
                let child = std::mem::replace(&mut children[i as usize], Node::Empty);
                children[i as usize] = self.insert(child, child_path, key.slice(1..), value)?;
                Node::Branch { children }
            }
        })
    }

    fn remove(&mut self, node: Node, path: Nibbles, key: Nibbles) -> Result<Node> {
        Ok(match node {
            Node::Empty => Node::Empty,
            Node::Unloaded(r) => {
                let node = self.load(&path, &r)?;
                return self.remove(node, path, key);
            }
            Node::Leaf { key: k, value } => {
                if k == key {
                    Node::Empty
                } else {
                    Node::Leaf { key: k, value }
                }
            }
            Node::Extension { key: ext, child } => {
                if !key.starts_with(&ext) {
                    return Ok(Node::Extension { key: ext, child });
                }
                let child = self.remove(*child, path.join(&ext), key.slice(ext.len()..))?;
                self.join_below(ext, child, path.join(&ext))?
            }
            Node::Branch { mut children } => {
                let Some(i) = key.first() else { return Err(bad_key(self.id, &path)) };
                let mut child_path = path;
                child_path.push(i);
                let child = std::mem::replace(&mut children[i as usize], Node::Empty);
                children[i as usize] = self.remove(child, child_path, key.slice(1..))?;
                let mut present = children.iter().enumerate().filter(|(_, c)| !is_empty(c));
                match (present.next(), present.next()) {
                    (None, _) => Node::Empty,
                    (Some((only, _)), None) => {
                        let only = only as u8;
                        let child = std::mem::replace(&mut children[only as usize], Node::Empty);
                        let mut child_path = path;
                        child_path.push(only);
                        let mut prefix = Nibbles::new();
                        prefix.push(only);
                        self.join_below(prefix, child, child_path)?
                    }
                    _ => Node::Branch { children },
                }
            }
        })
    }

    /// The node for `prefix` followed by `child` (found at `child_path`): a leaf or
    /// extension child absorbs the prefix and moves up; a branch gets an extension above it.
    fn join_below(&mut self, prefix: Nibbles, child: Node, child_path: Nibbles) -> Result<Node> {
        let child = match child {
            Node::Unloaded(r) => {
                // Peek without taking the node over: a branch stays where it is, untouched.
                let node = if r.is_hash() {
                    let rlp = self
                        .src
                        .node(self.id, &child_path)?
                        .ok_or_else(|| missing(self.id, &child_path))?;
                    decode(self.id, &child_path, &rlp)?
                } else {
                    decode(self.id, &child_path, r.as_slice())?
                };
                match node {
                    Node::Branch { .. } => {
                        return Ok(Node::Extension {
                            key: prefix,
                            child: Box::new(Node::Unloaded(r)),
                        })
                    }
                    other => {
                        if r.is_hash() {
                            self.loaded.push(child_path);
                        }
                        other
                    }
                }
            }
            other => other,
        };
        Ok(match child {
            Node::Empty => Node::Empty,
            Node::Leaf { key, value } => Node::Leaf { key: prefix.join(&key), value },
            Node::Extension { key, child } => Node::Extension { key: prefix.join(&key), child },
            branch => Node::Extension { key: prefix, child: Box::new(branch) },
        })
    }

    /// RLP of `node` at `path`; stores every hashed descendant in `changes`.
    fn encode(
        &self,
        node: &Node,
        path: Nibbles,
        changes: &mut NodeChanges,
        buf: &mut Vec<u8>,
    ) -> Result<Vec<u8>> {
        buf.clear();
        match node {
            Node::Empty | Node::Unloaded(_) => {
                return Err(Error::Corrupt(format!(
                    "{}: an empty or unloaded node cannot be encoded at {path:?}",
                    self.id
                )))
            }
            Node::Leaf { key, value } => {
                LeafNodeRef::new(key, value).encode(buf);
            }
            Node::Extension { key, child } => {
                let child = self.child_ref(child, path.join(key), changes, buf)?;
                buf.clear();
                ExtensionNodeRef::new(key, child.as_slice()).encode(buf);
            }
            Node::Branch { children } => {
                let mut stack = Vec::with_capacity(16);
                let mut mask = TrieMask::default();
                for i in CHILD_INDEX_RANGE {
                    let child = &children[i as usize];
                    if is_empty(child) {
                        continue;
                    }
                    let mut child_path = path;
                    child_path.push(i);
                    stack.push(self.child_ref(child, child_path, changes, buf)?);
                    mask.set_bit(i);
                }
                buf.clear();
                BranchNodeRef::new(&stack, mask).encode(buf);
            }
        }
        Ok(buf.clone())
    }

    /// The reference a parent holds to `node` at `path`, storing the node if it is hashed.
    fn child_ref(
        &self,
        node: &Node,
        path: Nibbles,
        changes: &mut NodeChanges,
        buf: &mut Vec<u8>,
    ) -> Result<RlpNode> {
        if let Node::Unloaded(r) = node {
            return Ok(r.clone());
        }
        let rlp = self.encode(node, path, changes, buf)?;
        let r = RlpNode::from_rlp(&rlp);
        if r.is_hash() {
            changes.put.push((path, rlp));
        }
        Ok(r)
    }
}

fn is_empty(node: &Node) -> bool {
    matches!(node, Node::Empty)
}

fn with_prefix(prefix: Nibbles, node: Node) -> Node {
    if prefix.is_empty() {
        node
    } else {
        Node::Extension { key: prefix, child: Box::new(node) }
    }
}

fn missing(id: TrieId, path: &Nibbles) -> Error {
    Error::Corrupt(format!(
        "{id}: trie node at {path:?} is referenced but not stored; start with a fresh --data-dir"
    ))
}

fn bad_key(id: TrieId, path: &Nibbles) -> Error {
    Error::Corrupt(format!("{id}: trie keys of unequal length meet at {path:?}"))
}

/// Decodes a stored or embedded node (its children stay unloaded).
fn decode(id: TrieId, path: &Nibbles, rlp: &[u8]) -> Result<Node> {
    let node = TrieNode::decode(&mut &rlp[..])
        .map_err(|e| Error::Corrupt(format!("{id}: trie node at {path:?} does not decode: {e}")))?;
    Ok(match node {
        TrieNode::EmptyRoot => Node::Empty,
        TrieNode::Leaf(leaf) => Node::Leaf { key: leaf.key, value: leaf.value },
        TrieNode::Extension(ext) => {
            Node::Extension { key: ext.key, child: Box::new(Node::Unloaded(ext.child)) }
        }
        TrieNode::Branch(branch) => {
            let mut children = empty_children();
            let mut stack = branch.stack.into_iter();
            for i in CHILD_INDEX_RANGE {
                if branch.state_mask.is_bit_set(i) {
                    let r = stack.next().ok_or_else(|| {
                        Error::Corrupt(format!(
                            "{id}: branch node at {path:?} is short of children"
                        ))
                    })?;
                    children[i as usize] = Node::Unloaded(r);
                }
            }
            Node::Branch { children }
        }
    })
}

/// A proof (the stored nodes from the root on) and the value it leads to.
pub type Proven = (Vec<Vec<u8>>, Option<Vec<u8>>);

/// Walks from the root to `key`: the stored nodes on the way (the proof) and the value.
pub fn prove(id: TrieId, src: &dyn NodeRead, key: &B256) -> Result<Proven> {
    let mut proof = Vec::new();
    let Some(root) = src.node(id, &Nibbles::new())? else { return Ok((proof, None)) };
    let key = Nibbles::unpack(key);
    let mut path = Nibbles::new();
    let mut rlp = root;
    let mut stored = true;
    loop {
        if stored {
            proof.push(rlp.clone());
        }
        let node = TrieNode::decode(&mut &rlp[..]).map_err(|e| {
            Error::Corrupt(format!("{id}: trie node at {path:?} does not decode: {e}"))
        })?;
        let rest = key.slice(path.len()..);
        let next = match node {
            TrieNode::EmptyRoot => return Ok((proof, None)),
            TrieNode::Leaf(leaf) => {
                return Ok((proof, (leaf.key == rest).then_some(leaf.value)));
            }
            TrieNode::Extension(ext) => {
                if !rest.starts_with(&ext.key) {
                    return Ok((proof, None));
                }
                path = path.join(&ext.key);
                ext.child
            }
            TrieNode::Branch(branch) => {
                let Some(i) = rest.first() else { return Err(bad_key(id, &path)) };
                if !branch.state_mask.is_bit_set(i) {
                    return Ok((proof, None));
                }
                let index = (0..i).filter(|b| branch.state_mask.is_bit_set(*b)).count();
                path.push(i);
                branch.stack.get(index).cloned().ok_or_else(|| {
                    Error::Corrupt(format!("{id}: branch node at {path:?} is short of children"))
                })?
            }
        };
        stored = next.is_hash();
        rlp = if stored {
            src.node(id, &path)?.ok_or_else(|| missing(id, &path))?
        } else {
            next.as_slice().to_vec()
        };
    }
}

/// The root hash of trie `id` as `src` holds it.
pub fn root_of(id: TrieId, src: &dyn NodeRead) -> Result<B256> {
    Ok(src.node(id, &Nibbles::new())?.map(keccak256).unwrap_or(EMPTY_ROOT_HASH))
}
