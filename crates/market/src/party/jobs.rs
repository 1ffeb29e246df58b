//! Compute-to-data: the owner allow-lists recipes and runs paid jobs ([`Party::run_job`]);
//! the buyer requests jobs and fetches their results.

use std::path::Path;

use alara_audit::entry::{DataAccess, EntryBody};
use alara_store::AddOptions;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use sha2::{Digest, Sha256};

use super::{reason_code, FetchedResult, JobRun, Party, Step};
use crate::algorithm::Algorithm;
use crate::compute;
use crate::contract::{JobState, Tx};
use crate::guard::GuardPolicy;
use crate::keys;
use crate::receipt::{JobReceipt, SignedJobReceipt};
use crate::{Error, Result};

impl<P: Provider + Clone> Party<P> {
    /// Allow-lists `algorithm` on `listing` (owner).
    pub async fn offer_compute(
        &self,
        listing: u64,
        algorithm: &Algorithm,
        price: U256,
        job_window: u64,
    ) -> Result<Tx<()>> {
        algorithm.validate()?;
        self.market.offer_compute(listing, B256::from(algorithm.hash()), price, job_window).await
    }

    /// Pays for a job running `algorithm` on `listing`, with a fresh key for the result.
    pub async fn request_job(&self, listing: u64, algorithm: &Algorithm) -> Result<Step<u64>> {
        let (_, key) = self.keyring.new_buyer_identity()?;
        let tx = self.market.request_job(listing, B256::from(algorithm.hash()), key).await?;
        let audit_index =
            self.log_job(tx.value, "requested", None, None, None, Some(tx.hash)).await?;
        Ok(Step { tx, audit_index })
    }

    /// Runs a paid job on the owner's node: checks that `algorithm` is the one paid for,
    /// decrypts the dataset from the owner's store in memory, runs the recipe with the
    /// guard, encrypts the result to the buyer, signs the receipt and submits it. A failed
    /// run or a guard refusal calls `failJob`, refunding the buyer. Both log entries.
    pub async fn run_job(
        &self,
        job: u64,
        algorithm: &Algorithm,
        model: Option<&[u8]>,
        policy: &GuardPolicy,
    ) -> Result<JobRun> {
        let j = self.market.job(job).await?;
        let l = self.market.listing(j.listing_id).await?;
        if l.seller != self.account() {
            return Err(Error::Key {
                what: "run job",
                reason: format!(
                    "job {job} is on a dataset of {}, not {}",
                    l.seller,
                    self.account()
                ),
            });
        }
        if j.state != JobState::Paid {
            return Err(Error::NotFound(format!(
                "job {job} is {:?}, not waiting for a result",
                j.state
            )));
        }
        if B256::from(algorithm.hash()) != j.algorithm {
            return Err(Error::Algorithm(format!(
                "the recipe hashes to 0x{}, job {job} paid for {}",
                hex::encode(algorithm.hash()),
                j.algorithm
            )));
        }
        let signer = self.signer.as_ref().ok_or_else(|| Error::Key {
            what: "run job",
            reason: "signing the job receipt needs the owner's key".into(),
        })?;
        // The data: decrypted in memory from the owner's own store, never written out.
        let identity = self.keyring.dataset(&l.terms.cid)?;
        let cid = alara_store::parse_cid(&l.terms.cid)?;
        let mut plaintext = Vec::new();
        alara_store::encrypt::decrypt(&identity, self.store.cat(&cid)?, &mut plaintext)?;
        let digest = B256::from(<[u8; 32]>::from(Sha256::digest(&plaintext)));
        if digest != l.terms.plaintext_hash {
            return Err(Error::Integrity(format!(
                "the stored dataset {} decrypts to data hashing to {digest}, the listing committed to {}",
                l.terms.cid, l.terms.plaintext_hash
            )));
        }
        let outcome = {
            let algorithm = algorithm.clone();
            let model = model.map(<[u8]>::to_vec);
            let policy = *policy;
            tokio::task::spawn_blocking(move || {
                let text = String::from_utf8(plaintext)
                    .map_err(|_| Error::Algorithm("the dataset is not UTF-8 CSV".into()))?;
                let data = alara_ml::datasets::parse_csv(&text, "dataset")?;
                compute::run(&algorithm, model.as_deref(), &data, &policy)
            })
            .await
            .map_err(|e| Error::Algorithm(format!("the job's thread failed: {e}")))?
        };
        let output = match outcome {
            Ok(o) => o,
            Err(e) => {
                let reason = e.to_string();
                let code = match &e {
                    Error::Guard(_) => "guard refused the output",
                    _ => "run failed",
                };
                let tx = self.market.fail_job(job, reason_code(code)).await?;
                let audit_index =
                    self.log_job(job, "failed", None, None, None, Some(tx.hash)).await?;
                return Ok(JobRun::Failed { reason, step: Step { tx, audit_index } });
            }
        };
        let recipient = keys::recipient_from_bytes(&j.buyer_key)?;
        let sealed =
            self.store.add_encrypted(&[recipient], &output.result[..], &AddOptions::v1())?;
        let result_cid = sealed.ciphertext.cid.to_string();
        let receipt = JobReceipt {
            job_id: job,
            algorithm: j.algorithm,
            dataset: l.terms.plaintext_hash,
            result: B256::from(output.result_hash),
            result_cid_hash: JobReceipt::cid_hash(&result_cid),
            rows: output.rows,
            finished_at: alara_audit::entry::now_ms() / 1000,
        };
        let signed =
            receipt.sign(signer, self.account(), self.market.chain_id(), self.market.address())?;
        let tx = self.market.submit_result(&signed, &result_cid).await?;
        self.log(EntryBody::DataAccess(DataAccess {
            dataset: l.terms.cid.clone(),
            accessor: j.buyer.to_string(),
            mode: "compute-to-data".into(),
            purpose: format!("{} {}", algorithm.name(), self.job_ref(job)),
            subject: None,
        }))
        .await?;
        let model_hash = output.model_hash.map(B256::from);
        let audit_index = self
            .log_job(
                job,
                "completed",
                Some(receipt.result),
                model_hash,
                Some(&signed),
                Some(tx.hash),
            )
            .await?;
        Ok(JobRun::Completed {
            summary: output.summary.clone(),
            output,
            model_hash,
            result_cid,
            receipt: signed,
            step: Step { tx, audit_index },
        })
    }

    /// Fetches a completed job's result (its ciphertext must be in the store: import the
    /// owner's CAR), checks it against the signed receipt, writes `result.json` (and
    /// `model.onnx`) under `out_dir`, and logs a `compute_job` entry `received` carrying the
    /// model hash — the link from the dataset to later inferences.
    pub async fn fetch_result(&self, job: u64, out_dir: &Path) -> Result<FetchedResult> {
        let j = self.market.job(job).await?;
        let r = j
            .result
            .clone()
            .ok_or_else(|| Error::NotFound(format!("job {job} is {:?}: no result", j.state)))?;
        let l = self.market.listing(j.listing_id).await?;
        self.check_receipt(&r.receipt, l.seller, &r.result_cid).await?;
        let identity = self.keyring.buyer_identity(&j.buyer_key)?;
        let cid = alara_store::parse_cid(&r.result_cid)?;
        let mut result = Vec::new();
        alara_store::encrypt::decrypt(&identity, self.store.cat(&cid)?, &mut result)?;
        let got = B256::from(<[u8; 32]>::from(Sha256::digest(&result)));
        if got != r.receipt.receipt.result {
            return Err(Error::Receipt(format!(
                "the result hashes to {got}, the signed receipt says {}",
                r.receipt.receipt.result
            )));
        }
        std::fs::create_dir_all(out_dir).map_err(crate::error::io(out_dir))?;
        let result_path = out_dir.join(format!("job-{job}-result.json"));
        alara_store::write_atomic(&result_path, &result)?;
        let model = compute::model_from_result(&result)?;
        let (model_path, model_hash) = match &model {
            Some(bytes) => {
                let p = out_dir.join(format!("job-{job}-model.onnx"));
                alara_store::write_atomic(&p, bytes)?;
                (Some(p), Some(B256::from(<[u8; 32]>::from(Sha256::digest(bytes)))))
            }
            None => (None, None),
        };
        let mut summary: serde_json::Value = serde_json::from_slice(&result)?;
        if let Some(obj) = summary.as_object_mut() {
            obj.remove("model");
        }
        let audit_index = self
            .log_job(
                job,
                "received",
                Some(r.receipt.receipt.result),
                model_hash,
                Some(&r.receipt),
                None,
            )
            .await?;
        Ok(FetchedResult {
            job_id: job,
            result_path,
            model_path,
            model_hash,
            receipt: r.receipt,
            summary,
            audit_index,
        })
    }

    /// Refunds a job whose deadline passed (anyone).
    pub async fn refund_job(&self, job: u64) -> Result<Step<()>> {
        let tx = self.market.refund_job(job).await?;
        let audit_index = self.log_job(job, "refunded", None, None, None, Some(tx.hash)).await?;
        Ok(Step { tx, audit_index })
    }

    /// Checks a completed job's receipt as read from the chain: its digest, that it commits
    /// to `result_cid`, and, for an owner that is an EOA, the signature. A smart-account
    /// owner's ERC-1271 signature was checked by the contract when it accepted the result
    /// (`JobCompleted` is emitted only then); such a signature may be revocable, so it is
    /// not re-checked here.
    async fn check_receipt(
        &self,
        receipt: &SignedJobReceipt,
        owner: Address,
        result_cid: &str,
    ) -> Result<()> {
        let code = self
            .market
            .provider()
            .get_code_at(owner)
            .await
            .map_err(|source| Error::Rpc { what: "eth_getCode", source })?;
        if code.is_empty() {
            receipt.verify_with_cid(owner, result_cid)
        } else {
            receipt.check_digest()?;
            receipt.check_cid(result_cid)
        }
    }
}
