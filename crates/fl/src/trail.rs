//! What a round leaves behind off-chain: audit entries (`training_round`, `payout`) and the
//! global model in the content store.

use alara_audit::entry::{EntryBody, Payout, TrainingRound};
use alara_audit::Hash;
use alara_store::Store;
use alloy::primitives::B256;

use crate::round::RoundRecord;
use crate::{Result, Weights};

/// RFC 6962 root over the round's update hashes, in client order (the `updates_root` of
/// the audit entry; zero-sized rounds give the empty-tree root).
pub fn updates_root(record: &RoundRecord) -> Hash {
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => alara_audit::hash::sha256(&[]),
            1 => leaves[0],
            n => {
                let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
                alara_audit::node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }
    let leaves =
        record.clients.iter().map(|c| alara_audit::leaf_hash(&c.update_hash)).collect::<Vec<_>>();
    mth(&leaves)
}

/// The `training_round` audit entry of a closed round.
pub fn round_entry(record: &RoundRecord, aggregator: &str) -> EntryBody {
    EntryBody::TrainingRound(TrainingRound {
        task: record.task_id.clone(),
        round: record.round,
        model_hash: Hash(record.global_model_hash),
        updates_root: updates_root(record),
        participants: record.clients.len() as u32,
        aggregator: aggregator.to_string(),
    })
}

/// The `payout` audit entry of a claim.
pub fn payout_entry(
    task: &str,
    recipient: &str,
    token: &str,
    amount: u128,
    tx: Option<B256>,
) -> EntryBody {
    EntryBody::Payout(Payout {
        context: format!("fl/{task}/claim"),
        recipient: recipient.to_string(),
        token: token.to_string(),
        amount,
        tx: tx.map(|t| Hash(t.0)),
    })
}

/// Stores the model's canonical safetensors; returns the CIDv0 and the SHA-256 digest of its
/// multihash (what `settleRound` records as `globalModelCid`).
pub fn store_model(store: &Store, weights: &Weights) -> Result<(String, B256)> {
    let bytes = weights.to_safetensors();
    let added = store.add_reader(&bytes[..], &Default::default())?;
    let digest = added.cid.hash().digest();
    let mut out = [0u8; 32];
    if digest.len() == 32 {
        out.copy_from_slice(digest);
    }
    Ok((added.cid.to_string(), B256::from(out)))
}
