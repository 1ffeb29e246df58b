//! [`Party`]: one participant of the market — seller, buyer, data owner or arbiter — with
//! its chain account, content store, keyring and audit trail. Each step sends the
//! transaction, keeps keys in the keyring, and writes the audit entry of the step into the
//! party's own trail (listings, sales, deliveries, refunds, disputes, jobs, data access).
//!
//! Store and audit calls block on disk I/O; datasets in the market are files of a few
//! megabytes at most in the flows here, so they run inline on the async task.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use alara_audit::entry::{ComputeJob, DataAccess, DataListing, DataSale, Entry, EntryBody};
use alara_audit::{AuditTrail, Hash};
use alara_store::{AddOptions, Cid, Store};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::algorithm::Algorithm;
use crate::compute::{self, JobOutput};
use crate::contract::{DataMarket, JobState, ListingTerms, SaleState, Token, Tx};
use crate::guard::GuardPolicy;
use crate::keys::{self, Keyring};
use crate::receipt::{JobReceipt, SignedJobReceipt};
use crate::sale::{self, Fault, Verdict};
use crate::{Error, Result};

/// A transaction and the audit entry that recorded it.
#[derive(Debug, Clone, Serialize)]
pub struct Step<T> {
    /// The transaction.
    pub tx: Tx<T>,
    /// Leaf index of the audit entry, when the party keeps a trail.
    pub audit_index: Option<u64>,
}

/// What a seller offers when listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// Payment token.
    pub token: Token,
    /// Price of a download.
    pub price: U256,
    /// `false` for compute-only.
    pub downloadable: bool,
    /// Seconds to deliver after a purchase.
    pub delivery_window: u64,
    /// The licence terms (their SHA-256 is committed).
    pub terms: String,
}

/// A dataset sealed, stored and listed.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    /// Listing id.
    pub listing_id: u64,
    /// Ciphertext CID.
    pub cid: String,
    /// SHA-256 of the plaintext.
    pub plaintext_hash: B256,
    /// Plaintext size.
    pub size: u64,
    /// The listing transaction and its audit entry.
    pub step: Step<u64>,
}

/// A verified download.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    /// Sale id.
    pub sale_id: u64,
    /// Where the plaintext was written.
    pub path: PathBuf,
    /// Bytes written.
    pub size: u64,
    /// The verified SHA-256.
    pub plaintext_hash: B256,
    /// The `data_access` audit entry.
    pub audit_index: Option<u64>,
}

/// How a compute job ended on the owner's node.
// One value per job run, moved once: boxing the larger variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum JobRun {
    /// The result was delivered with a signed receipt; the owner is paid.
    Completed {
        /// The result (summary, hashes).
        #[serde(skip)]
        output: JobOutput,
        /// Result summary (no model bytes).
        summary: serde_json::Value,
        /// SHA-256 of the trained model, if any.
        model_hash: Option<B256>,
        /// CID of the result encrypted to the buyer.
        result_cid: String,
        /// The signed receipt.
        receipt: SignedJobReceipt,
        /// `submitResult` and its audit entry.
        step: Step<()>,
    },
    /// The run or the guard failed; the buyer is refunded.
    Failed {
        /// Why.
        reason: String,
        /// `failJob` and its audit entry.
        step: Step<()>,
    },
}

/// A fetched and verified job result.
#[derive(Debug, Clone, Serialize)]
pub struct FetchedResult {
    /// Job id.
    pub job_id: u64,
    /// The result document, written here.
    pub result_path: PathBuf,
    /// The trained model, written here when there is one.
    pub model_path: Option<PathBuf>,
    /// SHA-256 of the model.
    pub model_hash: Option<B256>,
    /// The owner's receipt (signature checked).
    pub receipt: SignedJobReceipt,
    /// The result's summary (no model bytes).
    pub summary: serde_json::Value,
    /// The `compute_job` audit entry recording the receipt of the result.
    pub audit_index: Option<u64>,
}

/// One participant; see the module docs.
pub struct Party<P> {
    /// The market client, sending as this party.
    pub market: DataMarket<P>,
    /// The party's content store.
    pub store: Arc<Store>,
    /// The party's secret keys.
    pub keyring: Keyring,
    /// The party's audit trail, if it keeps one.
    pub trail: Option<Arc<AuditTrail>>,
    signer: Option<PrivateKeySigner>,
}

impl<P: Provider + Clone> std::fmt::Debug for Party<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Party")
            .field("account", &self.market.account())
            .field("keyring", &self.keyring.dir())
            .field("trail", &self.trail.as_ref().map(|t| t.dir().to_path_buf()))
            .finish()
    }
}

fn hash(b: B256) -> Hash {
    Hash(b.0)
}

fn amount_u128(v: U256) -> Result<u128> {
    u128::try_from(v).map_err(|_| {
        Error::OutOfRange(format!("amount {v} does not fit the audit entry (128 bits)"))
    })
}

/// A short reason as `bytes32` (ASCII, zero-padded, cut at 32 bytes).
pub fn reason_code(reason: &str) -> B256 {
    let mut b = [0u8; 32];
    for (d, s) in b.iter_mut().zip(reason.bytes().filter(|c| c.is_ascii_graphic() || *c == b' ')) {
        *d = s;
    }
    B256::from(b)
}

impl<P: Provider + Clone> Party<P> {
    /// A party acting through `market` with its store, keyring and (optional) trail.
    /// `signer` is the account's key, needed only to sign job receipts as a data owner.
    pub fn new(
        market: DataMarket<P>,
        store: Arc<Store>,
        keyring: Keyring,
        trail: Option<Arc<AuditTrail>>,
        signer: Option<PrivateKeySigner>,
    ) -> Self {
        Self { market, store, keyring, trail, signer }
    }

    /// The party's account.
    pub fn account(&self) -> Address {
        self.market.account()
    }

    async fn log(&self, body: EntryBody) -> Result<Option<u64>> {
        let Some(trail) = &self.trail else { return Ok(None) };
        let a = trail.append_batch_async(&[Entry::now(body)]).await?;
        Ok(Some(a.index))
    }

    fn sale_ref(&self, sale: u64) -> String {
        format!("{}/sale/{sale}", self.market.qualifier())
    }

    fn job_ref(&self, job: u64) -> String {
        format!("{}/job/{job}", self.market.qualifier())
    }

    async fn log_sale(&self, sale: u64, event: &str, tx: Option<B256>) -> Result<Option<u64>> {
        if self.trail.is_none() {
            return Ok(None);
        }
        let s = self.market.sale(sale).await?;
        let l = self.market.listing(s.listing_id).await?;
        let amount = match event {
            "resolved" => s.amount + self.market.bond(s.amount).await?,
            _ => s.amount,
        };
        self.log(EntryBody::DataSale(DataSale {
            sale: self.sale_ref(sale),
            dataset: l.terms.cid,
            event: event.into(),
            buyer: s.buyer.to_string(),
            seller: l.seller.to_string(),
            token: l.terms.token.label(),
            amount: amount_u128(amount)?,
            tx: tx.map(hash),
        }))
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn log_job(
        &self,
        job: u64,
        event: &str,
        result: Option<B256>,
        model: Option<B256>,
        receipt: Option<&SignedJobReceipt>,
        tx: Option<B256>,
    ) -> Result<Option<u64>> {
        if self.trail.is_none() {
            return Ok(None);
        }
        let j = self.market.job(job).await?;
        let l = self.market.listing(j.listing_id).await?;
        self.log(EntryBody::ComputeJob(ComputeJob {
            job: self.job_ref(job),
            dataset: l.terms.cid,
            algorithm: hash(j.algorithm),
            event: event.into(),
            buyer: j.buyer.to_string(),
            owner: l.seller.to_string(),
            result: result.map(hash),
            model: model.map(hash),
            receipt: receipt.map(|r| hash(r.digest)),
            signature: receipt.map(|r| r.signature.to_string()).unwrap_or_default(),
            tx: tx.map(hash),
        }))
        .await
    }

    // ------------------------------------------------------------ seller

    /// Encrypts `plaintext` to a fresh dataset key, adds the ciphertext to the store, keeps
    /// the key in the keyring, lists the dataset and logs a `data_listing` entry.
    pub async fn sell(&self, plaintext: impl std::io::Read, offer: &Offer) -> Result<Listed> {
        let identity = alara_store::encrypt::generate_identity();
        let sealed =
            self.store.add_encrypted(&[identity.to_public()], plaintext, &AddOptions::v1())?;
        let cid = sealed.ciphertext.cid.to_string();
        self.keyring.put_dataset(&cid, &identity)?;
        let plaintext_hash = B256::from_slice(
            &hex::decode(&sealed.plaintext_sha256).map_err(|e| Error::OutOfRange(e.to_string()))?,
        );
        let terms_hash = B256::from(<[u8; 32]>::from(Sha256::digest(offer.terms.as_bytes())));
        let terms = ListingTerms {
            token: offer.token,
            price: offer.price,
            downloadable: offer.downloadable,
            delivery_window: offer.delivery_window,
            cid: cid.clone(),
            plaintext_hash,
            terms_hash,
        };
        let tx = self.market.list(&terms).await?;
        let audit_index = self
            .log(EntryBody::DataListing(DataListing {
                listing: format!("{}/{}", self.market.qualifier(), tx.value),
                dataset: cid.clone(),
                plaintext: hash(plaintext_hash),
                terms: hash(terms_hash),
                seller: self.account().to_string(),
                token: offer.token.label(),
                price: amount_u128(offer.price)?,
                tx: Some(hash(tx.hash)),
            }))
            .await?;
        Ok(Listed {
            listing_id: tx.value,
            cid,
            plaintext_hash,
            size: sealed.plaintext_size,
            step: Step { tx, audit_index },
        })
    }

    /// Writes the CAR of a listing's ciphertext (what a buyer or the arbiter imports).
    pub fn export_ciphertext(
        &self,
        cid: &str,
        out: impl std::io::Write,
    ) -> Result<alara_store::ExportResult> {
        Ok(self.store.export_car(&alara_store::parse_cid(cid)?, out)?)
    }

    /// Delivers the dataset key of `sale`, encrypted to the buyer's registered key.
    pub async fn deliver(&self, sale: u64) -> Result<Step<()>> {
        let s = self.market.sale(sale).await?;
        let l = self.market.listing(s.listing_id).await?;
        if l.seller != self.account() {
            return Err(Error::Key {
                what: "deliver",
                reason: format!(
                    "sale {sale} is of listing {} sold by {}, not by {}",
                    l.id,
                    l.seller,
                    self.account()
                ),
            });
        }
        let identity = self.keyring.dataset(&l.terms.cid)?;
        let envelope =
            keys::seal_dataset_key(&identity, &keys::recipient_from_bytes(&s.buyer_key)?)?;
        let tx = self.market.deliver(sale, envelope).await?;
        let audit_index = self.log_sale(sale, "delivered", Some(tx.hash)).await?;
        Ok(Step { tx, audit_index })
    }

    // ------------------------------------------------------------ buyer

    /// Buys a download with a fresh per-sale key (kept in the keyring).
    pub async fn buy(&self, listing: u64) -> Result<Step<u64>> {
        let (_, key) = self.keyring.new_buyer_identity()?;
        let tx = self.market.buy(listing, key).await?;
        let audit_index = self.log_sale(tx.value, "paid", Some(tx.hash)).await?;
        Ok(Step { tx, audit_index })
    }

    /// Imports a CAR of ciphertext into the store; a corrupt or truncated CAR is refused
    /// and leaves nothing pinned.
    pub fn import_car(&self, car: impl std::io::Read) -> Result<Vec<Cid>> {
        Ok(self.store.import_car(car)?.roots)
    }

    /// Opens the delivered key, decrypts the ciphertext from the store and checks it against
    /// the commitment; writes the plaintext to `out` (mode 0600) only when it checks out, and
    /// logs a `data_access` entry. A faulty delivery is [`Error::Delivery`].
    pub async fn receive(&self, sale: u64, out: &Path) -> Result<Received> {
        let s = self.market.sale(sale).await?;
        let l = self.market.listing(s.listing_id).await?;
        let envelope = s.envelope.clone().ok_or_else(|| {
            Error::NotFound(format!("sale {sale} is {:?}: no key has been delivered yet", s.state))
        })?;
        let buyer_identity = self.keyring.buyer_identity(&s.buyer_key)?;
        let cid = alara_store::parse_cid(&l.terms.cid)?;
        let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(crate::error::io(dir))?;
        let tmp = dir.join(format!(
            ".{}.partial",
            out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        ));
        let checked = (|| {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = options.open(&tmp).map_err(crate::error::io(&tmp))?;
            let r = sale::check_delivery(
                &self.store,
                &envelope,
                &buyer_identity,
                &cid,
                l.terms.plaintext_hash,
                &mut f,
            )?;
            f.flush().map_err(crate::error::io(&tmp))?;
            f.sync_all().map_err(crate::error::io(&tmp))?;
            Ok::<_, Error>(r)
        })();
        let size = match checked {
            Ok(Ok(size)) => size,
            Ok(Err(fault)) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(Error::Delivery { sale, fault });
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        std::fs::rename(&tmp, out).map_err(crate::error::io(out))?;
        let audit_index = self
            .log(EntryBody::DataAccess(DataAccess {
                dataset: l.terms.cid.clone(),
                accessor: self.account().to_string(),
                mode: "download".into(),
                purpose: format!("purchase {}", self.sale_ref(sale)),
                subject: None,
            }))
            .await?;
        Ok(Received {
            sale_id: sale,
            path: out.to_path_buf(),
            size,
            plaintext_hash: l.terms.plaintext_hash,
            audit_index,
        })
    }

    /// Checks a delivery without keeping the plaintext: `Ok(Err(fault))` is grounds for a dispute.
    pub async fn check(&self, sale: u64) -> Result<std::result::Result<u64, Fault>> {
        let s = self.market.sale(sale).await?;
        let l = self.market.listing(s.listing_id).await?;
        let envelope = s
            .envelope
            .clone()
            .ok_or_else(|| Error::NotFound(format!("sale {sale} has no delivered key yet")))?;
        let id = self.keyring.buyer_identity(&s.buyer_key)?;
        let cid = alara_store::parse_cid(&l.terms.cid)?;
        sale::check_delivery(
            &self.store,
            &envelope,
            &id,
            &cid,
            l.terms.plaintext_hash,
            &mut std::io::sink(),
        )
    }

    /// Confirms a delivery; the seller is credited.
    pub async fn confirm(&self, sale: u64) -> Result<Step<()>> {
        let tx = self.market.confirm(sale).await?;
        let audit_index = self.log_sale(sale, "confirmed", Some(tx.hash)).await?;
        Ok(Step { tx, audit_index })
    }

    /// Releases a delivered sale after its dispute window (anyone).
    pub async fn release(&self, sale: u64) -> Result<Step<()>> {
        let tx = self.market.release(sale).await?;
        let audit_index = self.log_sale(sale, "released", Some(tx.hash)).await?;
        Ok(Step { tx, audit_index })
    }

    /// Refunds a sale whose seller missed the deadline (anyone).
    pub async fn refund(&self, sale: u64) -> Result<Step<()>> {
        let tx = self.market.refund(sale).await?;
        let audit_index = self.log_sale(sale, "refunded", Some(tx.hash)).await?;
        Ok(Step { tx, audit_index })
    }

    /// Disputes a delivery: seals the per-sale key for the arbiter and posts the bond.
    pub async fn dispute(&self, sale: u64) -> Result<Step<U256>> {
        let s = self.market.sale(sale).await?;
        if s.state != SaleState::Delivered {
            return Err(Error::NotFound(format!(
                "sale {sale} is {:?}; only a delivered sale can be disputed",
                s.state
            )));
        }
        let identity = self.keyring.buyer_identity(&s.buyer_key)?;
        let arbiter = keys::recipient_from_bytes(&self.market.arbiter_key().await?)?;
        let evidence = sale::seal_evidence(
            &arbiter,
            self.market.chain_id(),
            self.market.address(),
            sale,
            &identity,
        )?;
        let tx = self.market.dispute(sale, evidence).await?;
        let audit_index = self.log_sale(sale, "disputed", Some(tx.hash)).await?;
        Ok(Step { tx, audit_index })
    }

    /// Decides a dispute as the arbiter: [`sale::adjudicate`] with the arbiter's key from the
    /// keyring (the ciphertext must be in the store), then `resolve`.
    pub async fn arbitrate(&self, sale: u64) -> Result<(Verdict, Step<()>)> {
        let s = self.market.sale(sale).await?;
        let l = self.market.listing(s.listing_id).await?;
        let arbiter = self.keyring.arbiter_identity()?;
        let verdict = sale::adjudicate(
            &self.store,
            &arbiter,
            self.market.chain_id(),
            self.market.address(),
            &s,
            &l,
        )?;
        let tx = self.market.resolve(sale, verdict.buyer_wins).await?;
        let audit_index = self.log_sale(sale, "resolved", Some(tx.hash)).await?;
        Ok((verdict, Step { tx, audit_index }))
    }

    /// Withdraws what the party is owed in `token`.
    pub async fn withdraw(&self, token: Token) -> Result<Tx<U256>> {
        self.market.withdraw(token).await
    }

    // ------------------------------------------------------------ compute-to-data

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
        r.receipt.verify(l.seller)?;
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
        std::fs::write(&result_path, &result).map_err(crate::error::io(&result_path))?;
        let model = compute::model_from_result(&result)?;
        let (model_path, model_hash) = match &model {
            Some(bytes) => {
                let p = out_dir.join(format!("job-{job}-model.onnx"));
                std::fs::write(&p, bytes).map_err(crate::error::io(&p))?;
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
}
