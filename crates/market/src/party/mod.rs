//! [`Party`]: one participant of the market — seller, buyer, data owner or arbiter — with
//! its chain account, content store, keyring and audit trail. Each step sends the
//! transaction, keeps keys in the keyring, and writes the audit entry of the step into the
//! party's own trail (listings, sales, deliveries, refunds, disputes, jobs, data access).
//!
//! The steps are grouped by role: `seller.rs` (list, export, deliver), `buyer.rs` (buy,
//! receive and check, confirm, release, refund, dispute, withdraw), `arbiter.rs`
//! (arbitrate) and `jobs.rs` (compute-to-data: offer, request, [`Party::run_job`], fetch);
//! this file holds the party itself, its result types and the audit entries every step
//! writes.
//!
//! Store and audit calls block on disk I/O; datasets in the market are files of a few
//! megabytes at most in the flows here, so they run inline on the async task.

use std::path::PathBuf;
use std::sync::Arc;

use alara_audit::entry::{ComputeJob, DataSale, Entry, EntryBody};
use alara_audit::{AuditTrail, Hash};
use alara_store::Store;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use serde::{Deserialize, Serialize};

use crate::compute::JobOutput;
use crate::contract::{DataMarket, Token, Tx};
use crate::keys::Keyring;
use crate::receipt::SignedJobReceipt;
use crate::{Error, Result};

mod arbiter;
mod buyer;
mod jobs;
mod seller;

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
            "resolved" => s.amount + s.bond,
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
}
