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

/// Schema identifier of the receipts this version writes (version 2: an anchored
/// checkpoint carries its [`AnchorBinding`] line).
pub const SCHEMA: &str = "alara.audit.receipt/v2";

/// Schema identifier of version 1 receipts, still read and verified offline. Their anchors
/// name no chain binding, so `verify_onchain` asks for them to be upgraded.
pub const SCHEMA_V1: &str = "alara.audit.receipt/v1";

/// First word of the checkpoint extension line that binds an anchored checkpoint to its
/// anchor: `alara-anchor eip155:<chain id> <contract> <account>`.
pub const BINDING_PREFIX: &str = "alara-anchor";

/// Where a log is anchored, as its key signs it into an anchored checkpoint: the chain,
/// the `AuditAnchor` contract and the log's anchoring account. A verifier that pins the
/// contract and the key checks the account against the contract's `logOfKey`, so the same
/// key registered by someone else on another account or contract cannot pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AnchorBinding {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// `AuditAnchor` address.
    pub contract: alloy::primitives::Address,
    /// The log's anchoring account (its id in the contract).
    pub account: alloy::primitives::Address,
}

impl AnchorBinding {
    /// The extension line: `alara-anchor eip155:<chain id> <contract> <account>`
    /// (addresses in EIP-55 checksum form).
    pub fn line(&self) -> String {
        format!("{BINDING_PREFIX} eip155:{} {} {}", self.chain_id, self.contract, self.account)
    }

    /// Parses a binding line; `None` for an extension line of another kind.
    pub fn parse(line: &str) -> Result<Option<Self>> {
        let mut words = line.split(' ');
        if words.next() != Some(BINDING_PREFIX) {
            return Ok(None);
        }
        let bad = |d: String| Error::Malformed { what: "anchor binding line", detail: d };
        let (Some(chain), Some(contract), Some(account), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return Err(bad(format!(
                "{line:?} is not `{BINDING_PREFIX} eip155:<chain id> <contract> <account>`"
            )));
        };
        let chain_id = chain
            .strip_prefix("eip155:")
            .and_then(|c| c.parse::<u64>().ok())
            .ok_or_else(|| bad(format!("chain {chain:?} is not eip155:<decimal id>")))?;
        let addr = |w: &str| {
            alloy::primitives::Address::parse_checksummed(w, None)
                .map_err(|e| bad(format!("{w:?} is not a checksummed address: {e}")))
        };
        Ok(Some(Self { chain_id, contract: addr(contract)?, account: addr(account)? }))
    }

    /// The binding a signed checkpoint carries: at most one line, or an error.
    pub fn of(checkpoint: &SignedCheckpoint) -> Result<Option<Self>> {
        let mut found = None;
        for line in checkpoint.extensions()? {
            if let Some(b) = Self::parse(line)? {
                if found.replace(b).is_some() {
                    return Err(Error::Malformed {
                        what: "anchored checkpoint",
                        detail: "more than one anchor binding line".into(),
                    });
                }
            }
        }
        Ok(found)
    }
}

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
    /// The chain, contract and account the anchored checkpoint is signed for (always
    /// present for an anchored v2 receipt; v1 receipts have none).
    pub binding: Option<AnchorBinding>,
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
            Some(SCHEMA | SCHEMA_V1) => {}
            Some(other) => {
                return Err(Error::Malformed {
                    what: "receipt",
                    detail: format!(
                        "schema {other:?}; this version reads {SCHEMA:?} and {SCHEMA_V1:?}"
                    ),
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
        let mut binding = None;
        let anchored = match &self.anchor {
            None => None,
            Some(a) => {
                let acp = SignedCheckpoint::parse(&a.checkpoint)?;
                acp.verify(key)?;
                if acp.checkpoint.origin != self.log.origin {
                    return Err(Error::Signature("anchored checkpoint is from another log".into()));
                }
                binding = AnchorBinding::of(&acp)?;
                match &binding {
                    None if self.schema != SCHEMA_V1 => {
                        return Err(Error::Signature(
                            "the anchored checkpoint names no chain, contract and account (alara-anchor line)".into(),
                        ))
                    }
                    None => {}
                    Some(b) => {
                        let same = |field: &str, want: alloy::primitives::Address| {
                            field.parse::<alloy::primitives::Address>().is_ok_and(|x| x == want)
                        };
                        if b.chain_id != a.chain_id
                            || !same(&a.contract, b.contract)
                            || !same(&a.log_id, b.account)
                        {
                            return Err(Error::Signature(format!(
                                "the anchored checkpoint is signed for chain {} contract {} account {}, the receipt's anchor says chain {} contract {} account {}",
                                b.chain_id, b.contract, b.account, a.chain_id, a.contract, a.log_id
                            )));
                        }
                    }
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
            binding,
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
        for schema in [SCHEMA, SCHEMA_V1] {
            let e = Receipt::from_json(format!(r#"{{"schema":"{schema}"}}"#).as_bytes())
                .unwrap_err()
                .to_string();
            assert!(e.contains("missing field"), "{schema}: {e}");
        }
        let e = Receipt::from_json(b"{").unwrap_err().to_string();
        assert!(e.contains("not JSON"), "{e}");
        let e = Receipt::from_json(br#"{"schema":"other/v9"}"#).unwrap_err().to_string();
        assert!(e.contains("this version reads"), "{e}");
        let e =
            Receipt::from_json(br#"{"schema":"alara.audit.receipt/v1"}"#).unwrap_err().to_string();
        assert!(e.contains("missing field"), "{e}");
    }
}
