//! Receipts: everything needed to check, offline, that an entry is in the log — and, once
//! anchored, on which chain, contract, transaction and block its checkpoint was anchored.
//!
//! The schema is documented in `docs/receipt.md`; its identifier is [`SCHEMA`].

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{NoteVerifier, SignedCheckpoint};
use crate::entry::Entry;
use crate::hash::{leaf_hash, Hash};
use crate::proof::{ConsistencyProof, InclusionProof};
use crate::{Error, Result};

/// Schema identifier of version 1 receipts.
pub const SCHEMA: &str = "alara.audit.receipt/v1";

/// Largest receipt accepted by [`Receipt::from_json`] (receipts are a few KiB).
pub const MAX_RECEIPT_BYTES: usize = 4 << 20;

/// The log a receipt is from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogInfo {
    /// Origin line of the log's checkpoints.
    pub origin: String,
    /// The log's verifier key (`name+hash+base64`). Pin it with `--key` or check it
    /// against the key registered on-chain: a receipt cannot vouch for its own key.
    pub verifier_key: NoteVerifier,
}

/// Where a checkpoint covering the entry was anchored on-chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorInfo {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// `AuditAnchor` contract address (0x-hex).
    pub contract: String,
    /// The log's id in the contract: its anchoring account (0x-hex address).
    pub log_id: String,
    /// Transaction that anchored the checkpoint (0x-hex).
    pub tx_hash: String,
    /// Block that included it.
    pub block_number: u64,
    /// The anchored checkpoint (signed note).
    pub checkpoint: String,
    /// Consistency proof from the receipt's checkpoint to the anchored one.
    pub consistency_proof: Vec<Hash>,
    /// Inclusion proof of the entry in the anchored tree (what the contract's
    /// `verifyInclusion` checks).
    pub inclusion_proof: Vec<Hash>,
}

/// A receipt for one entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The log.
    pub log: LogInfo,
    /// The entry, decoded (for people; `entry_bytes` is what is hashed).
    pub entry: Entry,
    /// Canonical bytes of the entry, base64.
    pub entry_bytes: String,
    /// Position of the entry in the log.
    pub leaf_index: u64,
    /// `SHA-256(0x00 ‖ entry bytes)`.
    pub leaf_hash: Hash,
    /// Inclusion proof in the tree of the checkpoint's size.
    pub inclusion_proof: Vec<Hash>,
    /// The signed checkpoint (C2SP signed note) the proof leads to.
    pub checkpoint: String,
    /// On-chain anchor, once the log has anchored a checkpoint covering the entry.
    pub anchor: Option<AnchorInfo>,
}

/// What [`Receipt::verify_offline`] established.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// Leaf index.
    pub leaf_index: u64,
    /// Size of the signed checkpoint.
    pub tree_size: u64,
    /// Root of the signed checkpoint.
    pub root: Hash,
    /// Kind of entry.
    pub kind: String,
    /// Whether the key was pinned by the caller (otherwise it is the receipt's own).
    pub key_pinned: bool,
    /// Anchored size and root, when the receipt carries an anchor and it verified offline.
    pub anchored: Option<(u64, Hash)>,
}

impl Receipt {
    /// Parses a receipt, with errors that say which field is wrong.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_RECEIPT_BYTES {
            return Err(Error::Malformed {
                what: "receipt",
                detail: format!("{} bytes, at most {MAX_RECEIPT_BYTES} expected", bytes.len()),
            });
        }
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::Malformed { what: "receipt", detail: format!("not JSON: {e}") })?;
        match value.get("schema").and_then(|s| s.as_str()) {
            Some(SCHEMA) => {}
            Some(other) => {
                return Err(Error::Malformed {
                    what: "receipt",
                    detail: format!("schema {other:?}; this version reads {SCHEMA:?}"),
                })
            }
            None => {
                return Err(Error::Malformed {
                    what: "receipt",
                    detail: "no \"schema\" field".into(),
                })
            }
        }
        serde_json::from_value(value)
            .map_err(|e| Error::Malformed { what: "receipt", detail: e.to_string() })
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The entry bytes.
    pub fn entry_bytes(&self) -> Result<Vec<u8>> {
        B64.decode(&self.entry_bytes).map_err(|e| Error::Malformed {
            what: "receipt",
            detail: format!("entry_bytes is not base64: {e}"),
        })
    }

    /// Verifies hashes, proofs and signatures without any network. `pinned` is the log key
    /// the caller trusts; without it the receipt's own key is used (and reported so).
    pub fn verify_offline(&self, pinned: Option<&NoteVerifier>) -> Result<Verified> {
        if let Some(p) = pinned {
            if *p != self.log.verifier_key {
                return Err(Error::Signature(format!(
                    "receipt names key {}, the pinned key is {p}",
                    self.log.verifier_key
                )));
            }
        }
        let key = pinned.unwrap_or(&self.log.verifier_key);
        let bytes = self.entry_bytes()?;
        let decoded = Entry::decode(&bytes)?;
        if decoded != self.entry {
            return Err(Error::Malformed {
                what: "receipt",
                detail: "the decoded \"entry\" differs from \"entry_bytes\"".into(),
            });
        }
        let leaf = leaf_hash(&bytes);
        if leaf != self.leaf_hash {
            return Err(Error::ProofInvalid {
                what: "leaf hash",
                detail: format!("entry bytes hash to {leaf}, the receipt says {}", self.leaf_hash),
            });
        }
        let cp = SignedCheckpoint::parse(&self.checkpoint)?;
        cp.verify(key)?;
        if cp.checkpoint.origin != self.log.origin {
            return Err(Error::Signature(format!(
                "checkpoint origin {:?} is not the receipt's log {:?}",
                cp.checkpoint.origin, self.log.origin
            )));
        }
        let proof = InclusionProof {
            leaf_index: self.leaf_index,
            tree_size: cp.checkpoint.size,
            path: self.inclusion_proof.clone(),
        };
        proof.verify(&leaf, &cp.checkpoint.root)?;
        let anchored = match &self.anchor {
            None => None,
            Some(a) => {
                let acp = SignedCheckpoint::parse(&a.checkpoint)?;
                acp.verify(key)?;
                if acp.checkpoint.origin != self.log.origin {
                    return Err(Error::Signature("anchored checkpoint is from another log".into()));
                }
                ConsistencyProof {
                    old_size: cp.checkpoint.size,
                    new_size: acp.checkpoint.size,
                    path: a.consistency_proof.clone(),
                }
                .verify(&cp.checkpoint.root, &acp.checkpoint.root)?;
                InclusionProof {
                    leaf_index: self.leaf_index,
                    tree_size: acp.checkpoint.size,
                    path: a.inclusion_proof.clone(),
                }
                .verify(&leaf, &acp.checkpoint.root)?;
                Some((acp.checkpoint.size, acp.checkpoint.root))
            }
        };
        Ok(Verified {
            leaf_index: self.leaf_index,
            tree_size: cp.checkpoint.size,
            root: cp.checkpoint.root,
            kind: self.entry.body.kind_name().to_string(),
            key_pinned: pinned.is_some(),
            anchored,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn receipt_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Receipt::from_json(&bytes);
        }

        #[test]
        fn receipt_parser_survives_json_shaped_noise(s in r#"\{"schema":"alara\.audit\.receipt/v1"(,"[a-z_]{1,12}":("[ -~]{0,20}"|[0-9]{1,5}|null|\[\]))*\}"#) {
            let err = Receipt::from_json(s.as_bytes());
            prop_assert!(err.is_err());
        }
    }

    #[test]
    fn clear_errors() {
        let e = Receipt::from_json(b"{").unwrap_err().to_string();
        assert!(e.contains("not JSON"), "{e}");
        let e = Receipt::from_json(br#"{"schema":"other/v9"}"#).unwrap_err().to_string();
        assert!(e.contains("this version reads"), "{e}");
        let e =
            Receipt::from_json(br#"{"schema":"alara.audit.receipt/v1"}"#).unwrap_err().to_string();
        assert!(e.contains("missing field"), "{e}");
    }
}
