//! Clients' EIP-712 signatures over their updates, and the coordinator's checks.
//!
//! A client signs `UpdateCommitment(uint256 task, uint64 round, bytes32 updateHash,
//! uint64 sampleCount)` in the domain `{name: "Alara FederatedTraining", version: "1",
//! chainId, verifyingContract}` — the same digest `FederatedTraining.updateDigest` computes,
//! so anyone can re-check a signature on-chain with `isValidUpdate`. The coordinator
//! ([`CommitmentVerifier`]) refuses a commitment for another task or round, one replayed
//! from an earlier round, and one whose signer is not a registered client.

use std::collections::{HashMap, HashSet};

use alloy::primitives::{Address, Signature, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use alloy::sol_types::{eip712_domain, Eip712Domain, SolStruct};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

alloy::sol! {
    /// The EIP-712 struct a client signs for each update.
    #[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
    struct UpdateCommitment {
        uint256 task;
        uint64 round;
        bytes32 updateHash;
        uint64 sampleCount;
    }
}

/// The EIP-712 domain of a `FederatedTraining` deployment.
pub fn domain(chain_id: u64, contract: Address) -> Eip712Domain {
    eip712_domain! {
        name: "Alara FederatedTraining",
        version: "1",
        chain_id: chain_id,
        verifying_contract: contract,
    }
}

/// An update commitment with its signature, as a client sends it next to the weights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCommitment {
    /// The signed struct.
    pub commitment: UpdateCommitment,
    /// 65-byte `r ‖ s ‖ v` signature.
    pub signature: alloy::primitives::Bytes,
}

impl SignedCommitment {
    /// Signs `commitment` with the client's key.
    pub fn sign(
        signer: &PrivateKeySigner,
        domain: &Eip712Domain,
        commitment: UpdateCommitment,
    ) -> Result<Self> {
        let hash = commitment.eip712_signing_hash(domain);
        let sig = signer
            .sign_hash_sync(&hash)
            .map_err(|e| Error::Signature(format!("signing the update commitment failed: {e}")))?;
        Ok(Self { commitment, signature: sig.as_bytes().to_vec().into() })
    }

    /// The EIP-712 digest that was signed.
    pub fn digest(&self, domain: &Eip712Domain) -> B256 {
        self.commitment.eip712_signing_hash(domain)
    }

    /// The signer's address. A signature that is not 65 bytes or does not recover is an
    /// error, never a panic.
    pub fn signer(&self, domain: &Eip712Domain) -> Result<Address> {
        let sig = Signature::try_from(self.signature.as_ref()).map_err(|e| {
            Error::Signature(format!(
                "the update signature must be 65 bytes r‖s‖v, got {} bytes ({e})",
                self.signature.len()
            ))
        })?;
        sig.recover_address_from_prehash(&self.digest(domain))
            .map_err(|e| Error::Signature(format!("the update signature does not recover: {e}")))
    }
}

/// The coordinator's gate for signed updates of one task.
#[derive(Debug, Clone)]
pub struct CommitmentVerifier {
    domain: Eip712Domain,
    task: U256,
    registered: HashSet<Address>,
    /// Update hash → the round it was first accepted in.
    seen: HashMap<B256, u64>,
}

impl CommitmentVerifier {
    /// A verifier for task `task` of the contract in `domain`, accepting `registered` signers.
    pub fn new(
        domain: Eip712Domain,
        task: U256,
        registered: impl IntoIterator<Item = Address>,
    ) -> Self {
        Self { domain, task, registered: registered.into_iter().collect(), seen: HashMap::new() }
    }

    /// Adds a registered client.
    pub fn register(&mut self, client: Address) {
        self.registered.insert(client);
    }

    /// Checks a signed commitment for the open round `round` against the update actually
    /// received (`update_hash`, `sample_count`) and returns the signer. Records the update
    /// hash, so the same update offered again in a later round is refused as a replay.
    pub fn verify(
        &mut self,
        signed: &SignedCommitment,
        round: u64,
        update_hash: B256,
        sample_count: u64,
    ) -> Result<Address> {
        let c = &signed.commitment;
        if c.task != self.task {
            return Err(Error::Signature(format!(
                "the commitment is for task {}, this is task {}",
                c.task, self.task
            )));
        }
        if let Some(&first) = self.seen.get(&c.updateHash) {
            return Err(Error::Signature(format!(
                "update {} was already submitted in round {first} (replayed update)",
                c.updateHash
            )));
        }
        if c.round != round {
            return Err(Error::Signature(format!(
                "the commitment is for round {}, the open round is {round}{}",
                c.round,
                if c.round < round { " (stale or replayed)" } else { "" }
            )));
        }
        if c.updateHash != update_hash || c.sampleCount != sample_count {
            return Err(Error::Signature(format!(
                "the commitment (update {}, {} samples) does not match the update received \
                 (update {update_hash}, {sample_count} samples)",
                c.updateHash, c.sampleCount
            )));
        }
        let signer = signed.signer(&self.domain)?;
        if !self.registered.contains(&signer) {
            return Err(Error::Signature(format!(
                "signer {signer} is not a registered client of task {}; register first",
                self.task
            )));
        }
        self.seen.insert(c.updateHash, round);
        Ok(signer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commitment(round: u64, byte: u8) -> UpdateCommitment {
        UpdateCommitment {
            task: U256::from(1),
            round,
            updateHash: B256::repeat_byte(byte),
            sampleCount: 50,
        }
    }

    #[test]
    fn the_verifier_refuses_unregistered_replayed_wrong_task_and_bad_signatures() {
        let dom = domain(31337, Address::repeat_byte(7));
        let alice = PrivateKeySigner::random();
        let mallory = PrivateKeySigner::random();
        let mut v = CommitmentVerifier::new(dom.clone(), U256::from(1), [alice.address()]);

        let ok = SignedCommitment::sign(&alice, &dom, commitment(1, 1)).unwrap();
        assert_eq!(v.verify(&ok, 1, B256::repeat_byte(1), 50).unwrap(), alice.address());

        let replay = SignedCommitment::sign(&alice, &dom, commitment(2, 1)).unwrap();
        let e = v.verify(&replay, 2, B256::repeat_byte(1), 50).unwrap_err().to_string();
        assert!(e.contains("replayed"), "{e}");

        let stale = SignedCommitment::sign(&alice, &dom, commitment(1, 2)).unwrap();
        let e = v.verify(&stale, 2, B256::repeat_byte(2), 50).unwrap_err().to_string();
        assert!(e.contains("stale"), "{e}");

        let intruder = SignedCommitment::sign(&mallory, &dom, commitment(2, 3)).unwrap();
        let e = v.verify(&intruder, 2, B256::repeat_byte(3), 50).unwrap_err().to_string();
        assert!(e.contains("not a registered client"), "{e}");

        let mut other_task = commitment(2, 4);
        other_task.task = U256::from(2);
        let s = SignedCommitment::sign(&alice, &dom, other_task).unwrap();
        let e = v.verify(&s, 2, B256::repeat_byte(4), 50).unwrap_err().to_string();
        assert!(e.contains("task 2"), "{e}");

        // Signed in another contract's domain: recovers to some other address.
        let foreign = domain(31337, Address::repeat_byte(8));
        let s = SignedCommitment::sign(&alice, &foreign, commitment(2, 5)).unwrap();
        let e = v.verify(&s, 2, B256::repeat_byte(5), 50).unwrap_err().to_string();
        assert!(e.contains("not a registered client"), "{e}");

        let mut truncated = SignedCommitment::sign(&alice, &dom, commitment(2, 6)).unwrap();
        truncated.signature = truncated.signature[..64].to_vec().into();
        let e = v.verify(&truncated, 2, B256::repeat_byte(6), 50).unwrap_err().to_string();
        assert!(e.contains("65 bytes"), "{e}");

        let s = SignedCommitment::sign(&alice, &dom, commitment(2, 7)).unwrap();
        let e = v.verify(&s, 2, B256::repeat_byte(7), 49).unwrap_err().to_string();
        assert!(e.contains("does not match"), "{e}");
    }
}
