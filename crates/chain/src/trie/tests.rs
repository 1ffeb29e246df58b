//! The incremental tries against roots built from scratch by alloy-trie's `HashBuilder`,
//! and their proofs against alloy-trie's verifier.

use std::collections::{BTreeMap, HashMap};

use alloy::primitives::{keccak256, Address, B256, KECCAK256_EMPTY, U256};
use alloy_trie::proof::verify_proof;
use alloy_trie::{HashBuilder, Nibbles, TrieAccount, EMPTY_ROOT_HASH};
use proptest::prelude::*;

use super::*;

/// Every node, as a database would hold them.
#[derive(Default)]
struct MemStore(HashMap<(TrieId, Nibbles), Vec<u8>>);

impl NodeRead for MemStore {
    fn node(&self, id: TrieId, path: &Nibbles) -> Result<Option<Vec<u8>>> {
        Ok(self.0.get(&(id, *path)).cloned())
    }
}

impl MemStore {
    fn write(&mut self, overlay: NodeOverlay) {
        for (id, t) in overlay.tries {
            if t.wiped {
                self.0.retain(|(i, _), _| *i != id);
            }
            for (path, node) in t.nodes {
                match node {
                    Some(rlp) => self.0.insert((id, path), rlp),
                    None => self.0.remove(&(id, path)),
                };
            }
        }
    }
}

fn scratch_root(mut leaves: Vec<(B256, Vec<u8>)>) -> B256 {
    leaves.sort_by_key(|(k, _)| *k);
    let mut hb = HashBuilder::default();
    for (k, v) in leaves {
        hb.add_leaf(Nibbles::unpack(k), &v);
    }
    hb.root()
}

#[derive(Default, Clone)]
struct Model {
    accounts: BTreeMap<Address, AccountRecord>,
    storage: BTreeMap<Address, BTreeMap<U256, U256>>,
}

impl Model {
    fn storage_root(&self, addr: &Address) -> B256 {
        let slots = self.storage.get(addr).map(|s| {
            s.iter()
                .filter(|(_, v)| !v.is_zero())
                .map(|(k, v)| (keccak256(k.to_be_bytes::<32>()), alloy::rlp::encode(v)))
                .collect()
        });
        scratch_root(slots.unwrap_or_default())
    }

    fn state_root(&self) -> B256 {
        scratch_root(
            self.accounts
                .iter()
                .map(|(a, r)| {
                    let acc = TrieAccount {
                        nonce: r.nonce,
                        balance: r.balance,
                        storage_root: self.storage_root(a),
                        code_hash: r.code_hash,
                    };
                    (keccak256(a), alloy::rlp::encode(acc))
                })
                .collect(),
        )
    }
}

#[derive(Debug, Clone)]
enum Op {
    Account(u8, Option<(u64, u64)>),
    Slot(u8, u8, u64),
    Wipe(u8),
}

fn addr(i: u8) -> Address {
    Address::with_last_byte(i)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..12, proptest::option::weighted(0.8, (0u64..4, 0u64..1000)))
            .prop_map(|(a, r)| Op::Account(a, r)),
        6 => (0u8..12, 0u8..24, prop_oneof![Just(0u64), 1u64..u64::MAX])
            .prop_map(|(a, s, v)| Op::Slot(a, s, v)),
        1 => (0u8..12).prop_map(Op::Wipe),
    ]
}

/// Applies one record's operations to the model; returns them as a trie update.
fn step(model: &mut Model, ops: &[Op]) -> StateUpdate {
    let mut update = StateUpdate::default();
    let mut slots: HashMap<Address, BTreeMap<U256, U256>> = HashMap::new();
    for op in ops {
        match *op {
            Op::Account(a, rec) => {
                let rec = rec.map(|(nonce, balance)| AccountRecord {
                    nonce,
                    balance: U256::from(balance),
                    code_hash: if nonce == 3 { keccak256([a]) } else { KECCAK256_EMPTY },
                });
                match rec {
                    Some(r) => model.accounts.insert(addr(a), r),
                    None => model.accounts.remove(&addr(a)),
                };
                update.accounts.insert(addr(a), rec);
            }
            Op::Slot(a, s, v) => {
                let (slot, value) = (U256::from(s), U256::from(v));
                model.storage.entry(addr(a)).or_default().insert(slot, value);
                slots.entry(addr(a)).or_default().insert(slot, value);
            }
            Op::Wipe(a) => {
                model.storage.remove(&addr(a));
                slots.remove(&addr(a));
                update.wiped.insert(addr(a));
            }
        }
    }
    update.storage = slots.into_iter().map(|(a, s)| (a, s.into_iter().collect())).collect();
    update
}

fn check_proofs(store: &MemStore, model: &Model, root: B256) {
    for a in 0u8..12 {
        let slots: Vec<B256> = (0u8..24).map(|s| B256::from(U256::from(s))).collect();
        let p = prove_account(store, &addr(a), &slots).unwrap();
        let expected = model.accounts.get(&addr(a)).map(|r| TrieAccount {
            nonce: r.nonce,
            balance: r.balance,
            storage_root: model.storage_root(&addr(a)),
            code_hash: r.code_hash,
        });
        assert_eq!(p.account, expected);
        verify_proof(
            root,
            Nibbles::unpack(keccak256(addr(a))),
            expected.map(alloy::rlp::encode),
            &p.proof,
        )
        .unwrap();
        let storage_root = p.account_or_empty().storage_root;
        for sp in &p.storage {
            let want = match expected {
                None => U256::ZERO,
                Some(_) => model
                    .storage
                    .get(&addr(a))
                    .and_then(|s| s.get(&U256::from_be_bytes(sp.key.0)))
                    .copied()
                    .unwrap_or_default(),
            };
            assert_eq!(sp.value, want);
            verify_proof(
                storage_root,
                Nibbles::unpack(keccak256(sp.key)),
                (!want.is_zero()).then(|| alloy::rlp::encode(want)),
                &sp.proof,
            )
            .unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn incremental_root_equals_root_from_scratch(
        records in proptest::collection::vec(proptest::collection::vec(op(), 0..12), 1..12),
    ) {
        let mut store = MemStore::default();
        let mut model = Model::default();
        for ops in &records {
            let update = step(&mut model, ops);
            let accounts = model.accounts.clone();
            let (root, overlay) =
                update.apply(&store, &mut |a| Ok(accounts.get(a).copied())).unwrap();
            store.write(overlay);
            prop_assert_eq!(root, model.state_root());
            prop_assert_eq!(state_root(&store).unwrap(), root);
        }
        check_proofs(&store, &model, model.state_root());
    }

    /// Keys that share long prefixes make deep leaves short enough to be embedded in their
    /// parents, which hashed keys practically never do.
    #[test]
    fn embedded_nodes_hash_as_ethereum_does(
        records in proptest::collection::vec(
            proptest::collection::vec((0u8..6, 0u8..3, proptest::option::of(0u8..4)), 1..10),
            1..10,
        ),
    ) {
        let mut store = MemStore::default();
        let mut model: BTreeMap<B256, Vec<u8>> = BTreeMap::new();
        for ops in &records {
            let overlay = {
                let mut trie = mpt::Trie::open(TrieId::Accounts, &store).unwrap();
                for &(hi, lo, value) in ops {
                    let mut key = [0u8; 32];
                    key[0] = hi;
                    key[31] = lo;
                    let key = B256::from(key);
                    let value = value.map(|v| vec![v + 1]);
                    match &value {
                        Some(v) => model.insert(key, v.clone()),
                        None => model.remove(&key),
                    };
                    trie.set(&key, value).unwrap();
                }
                let (root, changes) = trie.commit().unwrap();
                prop_assert_eq!(root, scratch_root(model.clone().into_iter().collect()));
                let mut overlay = NodeOverlay::default();
                overlay.apply(TrieId::Accounts, changes);
                overlay
            };
            store.write(overlay);
        }
        let root = scratch_root(model.clone().into_iter().collect());
        for hi in 0u8..6 {
            for lo in 0u8..3 {
                let mut key = [0u8; 32];
                key[0] = hi;
                key[31] = lo;
                let key = B256::from(key);
                let (proof, value) = mpt::prove(TrieId::Accounts, &store, &key).unwrap();
                prop_assert_eq!(&value, &model.get(&key).cloned());
                let proof: Vec<_> = proof.into_iter().map(alloy::primitives::Bytes::from).collect();
                verify_proof(root, Nibbles::unpack(key), value, &proof).unwrap();
            }
        }
    }
}

#[test]
fn no_stale_nodes_are_left_behind() {
    let mut store = MemStore::default();
    let mut model = Model::default();
    let ops: Vec<Op> = (0u8..12)
        .flat_map(|a| [Op::Account(a, Some((1, 5))), Op::Slot(a, a, 7), Op::Slot(a, 1, 9)])
        .collect();
    let update = step(&mut model, &ops);
    let accounts = model.accounts.clone();
    let (_, overlay) = update.apply(&store, &mut |a| Ok(accounts.get(a).copied())).unwrap();
    store.write(overlay);
    let ops: Vec<Op> = (0u8..12).flat_map(|a| [Op::Account(a, None), Op::Wipe(a)]).collect();
    let update = step(&mut model, &ops);
    let (root, overlay) = update.apply(&store, &mut |_| Ok(None)).unwrap();
    store.write(overlay);
    assert_eq!(root, EMPTY_ROOT_HASH);
    assert!(store.0.is_empty(), "{} nodes left", store.0.len());
}

#[test]
fn slot_deletes_leave_no_nodes() {
    let mut store = MemStore::default();
    let mut model = Model::default();
    let mut ops = vec![Op::Account(1, Some((1, 1)))];
    ops.extend((0u8..24).map(|s| Op::Slot(1, s, 3)));
    let update = step(&mut model, &ops);
    let accounts = model.accounts.clone();
    let (_, overlay) = update.apply(&store, &mut |a| Ok(accounts.get(a).copied())).unwrap();
    store.write(overlay);
    let update = step(&mut model, &(0u8..24).map(|s| Op::Slot(1, s, 0)).collect::<Vec<_>>());
    let accounts = model.accounts.clone();
    let (root, overlay) = update.apply(&store, &mut |a| Ok(accounts.get(a).copied())).unwrap();
    store.write(overlay);
    assert_eq!(root, model.state_root());
    let storage_nodes = store.0.keys().filter(|(id, _)| *id != TrieId::Accounts).count();
    assert_eq!(storage_nodes, 0);
}
