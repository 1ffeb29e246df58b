//! Signed job receipts: what a data owner attests when a compute-to-data job completes,
//! as EIP-712 typed data (`JobReceipt` in the `Alara DataMarket` domain), so the contract
//! checks the signature on `submitResult` and anyone can check it offline. The receipt
//! commits to the result's location too (`resultCidHash = keccak256(resultCid)`), so
//! whoever relays it cannot record another CID.

use alara_contracts::DataMarket as Binding;
use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use alloy::signers::SignerSync;
use alloy::sol_types::{eip712_domain, Eip712Domain, SolStruct};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// EIP-712 domain name of `DataMarket`.
pub const DOMAIN_NAME: &str = "Alara DataMarket";
/// EIP-712 domain version of `DataMarket`.
pub const DOMAIN_VERSION: &str = "1";

/// The EIP-712 domain of the market at `contract` on `chain_id`.
pub fn domain(chain_id: u64, contract: Address) -> Eip712Domain {
    eip712_domain! {
        name: DOMAIN_NAME,
        version: DOMAIN_VERSION,
        chain_id: chain_id,
        verifying_contract: contract,
    }
}

/// What the owner attests about a finished job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobReceipt {
    /// Job id.
    pub job_id: u64,
    /// Hash of the algorithm recipe that ran.
    pub algorithm: B256,
    /// SHA-256 of the dataset's plaintext it ran on.
    pub dataset: B256,
    /// SHA-256 of the result bytes handed to the buyer.
    pub result: B256,
    /// `keccak256` of the result's CID string (see [`JobReceipt::cid_hash`]).
    pub result_cid_hash: B256,
    /// Rows of the dataset the algorithm read.
    pub rows: u64,
    /// Unix time the run finished.
    pub finished_at: u64,
}

impl JobReceipt {
    /// The commitment to a result CID that the receipt carries: `keccak256(bytes(cid))`,
    /// as the contract computes it.
    pub fn cid_hash(result_cid: &str) -> B256 {
        keccak256(result_cid.as_bytes())
    }

    /// The struct as the binding types it.
    pub fn to_sol(&self) -> Binding::JobReceipt {
        Binding::JobReceipt {
            jobId: U256::from(self.job_id),
            algorithm: self.algorithm,
            dataset: self.dataset,
            result: self.result,
            resultCidHash: self.result_cid_hash,
            rows: self.rows,
            finishedAt: self.finished_at,
        }
    }

    /// From the binding's struct (as read from an event).
    pub fn from_sol(r: &Binding::JobReceipt) -> Result<Self> {
        Ok(Self {
            job_id: u64::try_from(r.jobId).map_err(|_| {
                Error::Receipt(format!("job id {} does not fit in 64 bits", r.jobId))
            })?,
            algorithm: r.algorithm,
            dataset: r.dataset,
            result: r.result,
            result_cid_hash: r.resultCidHash,
            rows: r.rows,
            finished_at: r.finishedAt,
        })
    }

    /// The EIP-712 digest in `domain`.
    pub fn digest(&self, domain: &Eip712Domain) -> B256 {
        self.to_sol().eip712_signing_hash(domain)
    }

    /// Signs the receipt for the market at `contract` on `chain_id`.
    pub fn sign(
        &self,
        signer: &(impl SignerSync + ?Sized),
        signer_address: Address,
        chain_id: u64,
        contract: Address,
    ) -> Result<SignedJobReceipt> {
        let digest = self.digest(&domain(chain_id, contract));
        let sig =
            signer.sign_hash_sync(&digest).map_err(|e| Error::Receipt(format!("signing: {e}")))?;
        Ok(SignedJobReceipt {
            receipt: *self,
            chain_id,
            contract,
            signer: signer_address,
            digest,
            signature: Bytes::from(sig.as_bytes().to_vec()),
        })
    }
}

/// A receipt with the owner's signature and the domain it was signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedJobReceipt {
    /// The attested facts.
    pub receipt: JobReceipt,
    /// Chain id of the domain.
    pub chain_id: u64,
    /// The market contract of the domain.
    pub contract: Address,
    /// Who signed (the listing's seller).
    pub signer: Address,
    /// EIP-712 digest.
    pub digest: B256,
    /// 65-byte signature (r ‖ s ‖ v).
    pub signature: Bytes,
}

impl SignedJobReceipt {
    /// Checks, offline, that the digest is the receipt's and that `expected` (an EOA) signed
    /// it.
    pub fn verify(&self, expected: Address) -> Result<()> {
        self.check_digest()?;
        let sig = alloy::primitives::Signature::try_from(self.signature.as_ref())
            .map_err(|e| Error::Receipt(format!("malformed signature: {e}")))?;
        let recovered = sig
            .recover_address_from_prehash(&self.digest)
            .map_err(|e| Error::Receipt(format!("cannot recover the signer: {e}")))?;
        if recovered != expected {
            return Err(Error::Receipt(format!(
                "signed by {recovered}, expected the data owner {expected}"
            )));
        }
        Ok(())
    }

    /// [`SignedJobReceipt::verify`], and that `result_cid` is the CID the receipt commits to.
    pub fn verify_with_cid(&self, expected: Address, result_cid: &str) -> Result<()> {
        self.verify(expected)?;
        self.check_cid(result_cid)
    }

    /// That the digest is the receipt's fields in its domain (no signature check: for an
    /// owner that is a smart account, whose ERC-1271 signature only the chain can check).
    pub fn check_digest(&self) -> Result<()> {
        let digest = self.receipt.digest(&domain(self.chain_id, self.contract));
        if digest != self.digest {
            return Err(Error::Receipt(format!(
                "digest {} does not match the receipt's fields ({digest})",
                self.digest
            )));
        }
        Ok(())
    }

    /// That `result_cid` is the CID the receipt commits to.
    pub fn check_cid(&self, result_cid: &str) -> Result<()> {
        let got = JobReceipt::cid_hash(result_cid);
        if got != self.receipt.result_cid_hash {
            return Err(Error::Receipt(format!(
                "the result CID {result_cid} hashes to {got}, the signed receipt commits to {}",
                self.receipt.result_cid_hash
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::signers::local::PrivateKeySigner;

    fn receipt() -> JobReceipt {
        JobReceipt {
            job_id: 7,
            algorithm: B256::repeat_byte(1),
            dataset: B256::repeat_byte(2),
            result: B256::repeat_byte(3),
            result_cid_hash: JobReceipt::cid_hash("bafyresult"),
            rows: 569,
            finished_at: 1_700_000_000,
        }
    }

    #[test]
    fn signed_receipt_verifies_and_binds_every_field() {
        let owner = PrivateKeySigner::random();
        let contract = Address::repeat_byte(9);
        let s = receipt().sign(&owner, owner.address(), 31337, contract).unwrap();
        s.verify(owner.address()).unwrap();
        let other = PrivateKeySigner::random();
        assert!(s
            .verify(other.address())
            .unwrap_err()
            .to_string()
            .contains("expected the data owner"));
        let mut t = s.clone();
        t.receipt.rows += 1;
        assert!(t.verify(owner.address()).is_err());
        let mut t = s.clone();
        t.chain_id = 1;
        assert!(t.verify(owner.address()).is_err());
        let mut t = s.clone();
        t.receipt.result_cid_hash = JobReceipt::cid_hash("bafyother");
        assert!(t.verify(owner.address()).is_err());
        s.verify_with_cid(owner.address(), "bafyresult").unwrap();
        assert!(s
            .verify_with_cid(owner.address(), "bafyother")
            .unwrap_err()
            .to_string()
            .contains("commits to"));
        let mut t = s;
        t.signature = Bytes::from(vec![1, 2, 3]);
        assert!(t.verify(owner.address()).unwrap_err().to_string().contains("malformed"));
    }

    #[test]
    fn type_string_matches_the_contract() {
        assert_eq!(
            Binding::JobReceipt::eip712_encode_type(),
            "JobReceipt(uint256 jobId,bytes32 algorithm,bytes32 dataset,bytes32 result,bytes32 resultCidHash,uint64 rows,uint64 finishedAt)"
        );
    }
}
