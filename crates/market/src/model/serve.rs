//! `alara serve`: a model behind HTTP, paid per call through payment channels or by a
//! licence, every call an audit entry.
//!
//! # Protocol
//!
//! `POST /v1/infer` with `{"inputs": [[f32, …], …]}` (one row per prediction). A call
//! without payment is answered `402 Payment Required` with an [x402]-style body: the
//! accepted payment schemes (`alara-channel`, and `alara-license` when licences are
//! sold), the price per row, the asset, whom to pay, the contracts and the EIP-712
//! domains to sign in. A paid call carries one of two headers:
//!
//! - `X-Payment: <voucher JSON>` — a voucher of the buyer's channel: the channel, its
//!   nonce, the cumulative amount, and the EIP-712 hash of the PREVIOUS call's receipt
//!   (zero for the first call of a nonce). The server checks the signature against the
//!   channel's signer, that the amount is the last amount plus the price of this call,
//!   that it is covered by the deposit, that the channel does not expire within the
//!   safety margin (so the server has time to claim), and that the acknowledged receipt
//!   is the one it issued last. Payment is thus bound to receipted work: a buyer cannot
//!   keep calling without acknowledging what it got.
//! - `X-License: <licensed-call JSON>` — a holder of the version's ERC-1155 licence signs
//!   the request's SHA-256 and the time; the server checks the signature, freshness
//!   (±5 minutes), that the signer holds the licence for exactly this version, and that
//!   the signature was not used before.
//!
//! The answer to a paid call is sent only after its `paid_inference` audit entry — with
//! the voucher or licensed call in it — is durable: `kill -9` of the server never loses a
//! payment it has earned, and the log is the usage record ([`super::usage`]). The body
//! carries the outputs, the audit receipt (inclusion proof and signed checkpoint, verifiable
//! offline and on-chain) and the call receipt whose hash the next voucher acknowledges.
//!
//! [x402]: https://www.x402.org
//!
//! # Settling
//!
//! [`Server::claim`] claims every channel with unclaimed calls in one transaction each,
//! whatever the number of calls, and may keep the channels open.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::providers::DynProvider;
use alloy::sol_types::{Eip712Domain, SolStruct};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use alara_audit::entry::{now_ms, Entry, EntryBody, ModelRef, PaidInference};
use alara_audit::vault::Opening;
use alara_audit::{AuditTrail, Hash, Query};
use alara_ml::OnnxModel;

use crate::model::chain::{license_id, Channel, ModelMarket};

use crate::model::voucher::{self, CallReceipt, SignedLicensedCall, SignedVoucher};
use crate::{Error, Result};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Most rows in one call.
pub const MAX_ROWS: usize = 256;
/// How far a licensed call's `issuedAt` may be from the server's clock.
pub const LICENSE_SKEW: Duration = Duration::from_secs(300);
/// How long a licence holding read from the chain is trusted.
const HOLDS_TTL: Duration = Duration::from_secs(30);
/// Most licence holders remembered at once.
const MAX_CACHED_HOLDERS: usize = 10_000;

/// What is served and how it is paid for.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Name of the deployment in audit entries.
    pub system: String,
    /// Registry model id.
    pub model_id: u64,
    /// Registry version.
    pub version: u32,
    /// Price of one row in the asset's base units.
    pub price: U256,
    /// Payment asset (zero = ETH).
    pub token: Address,
    /// The model's owner: who claims.
    pub owner: Address,
    /// Chain id.
    pub chain_id: u64,
    /// The InferenceChannels contract.
    pub channels: Address,
    /// The ModelLicense contract, if licences are accepted.
    pub license: Option<Address>,
    /// The one-time licence price (zero: licences are not sold).
    pub license_price: U256,
    /// A channel that expires sooner than this is refused (time to claim).
    pub expiry_margin: Duration,
}

/// The latest paid call of a channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastVoucher {
    /// Voucher nonce.
    pub nonce: u64,
    /// Cumulative amount.
    pub amount: U256,
    /// The receipt the voucher acknowledged.
    pub prev_receipt: B256,
    /// The voucher's signature.
    pub signature: Vec<u8>,
    /// EIP-712 hash of the receipt this call produced (what the next voucher acknowledges).
    pub receipt: B256,
    /// Leaf index of the call's audit entry.
    pub leaf: u64,
}

impl LastVoucher {
    /// The voucher as signed, for a claim of `channel`.
    pub fn signed(&self, channel: u64) -> Result<SignedVoucher> {
        let signature: [u8; 65] = self.signature.as_slice().try_into().map_err(|_| {
            Error::Payment(format!(
                "the stored voucher of channel {channel} has a {}-byte signature",
                self.signature.len()
            ))
        })?;
        Ok(SignedVoucher {
            voucher: voucher::Voucher {
                channelId: U256::from(channel),
                nonce: self.nonce,
                amount: self.amount,
                prevReceipt: self.prev_receipt,
            },
            signature,
        })
    }
}

/// The serving state: model, trail, chain, channel books.
pub struct Server {
    cfg: ServeConfig,
    model: OnnxModel,
    model_ref: ModelRef,
    file_sha256: B256,
    trail: Arc<AuditTrail>,
    market: ModelMarket<DynProvider>,
    domain: Eip712Domain,
    license_domain: Option<Eip712Domain>,
    books: parking_lot::Mutex<HashMap<u64, BookRef>>,
    seen_calls: parking_lot::Mutex<HashMap<B256, u64>>,
    holds: parking_lot::Mutex<HashMap<Address, (bool, Instant)>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

/// A refused call: the HTTP status and what to do.
#[derive(Debug)]
pub struct Refusal {
    /// 402 (pay), 400 (malformed), 409 (a replay), 503 (server trouble).
    pub status: StatusCode,
    /// What went wrong and what to send instead.
    pub message: String,
    /// The channel's state as the server holds it, so a client can resynchronise.
    pub channel: Option<serde_json::Value>,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Refusal { status, message: message.into(), channel: None }
    }
    fn pay(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYMENT_REQUIRED, message)
    }
    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        tracing::warn!(error = %e, "serve: internal error");
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the server could not complete the call: {e}"),
        )
    }
}

/// The body of a call.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallRequest {
    /// Feature rows.
    pub inputs: Vec<Vec<f32>>,
}

/// The answer to a paid call.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CallResponse {
    /// One prediction per row.
    pub outputs: Vec<alara_ml::Prediction>,
    /// The call's receipt: model file hash, input and output commitments and its EIP-712
    /// hash (the next voucher's `prevReceipt`).
    pub call_receipt: CallReceiptJson,
    /// The audit receipt of the call's entry (verifies offline and on-chain).
    pub receipt: serde_json::Value,
    /// The channel after the call (for voucher payments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<serde_json::Value>,
}

/// A call receipt in JSON.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CallReceiptJson {
    /// SHA-256 of the model file.
    pub model: B256,
    /// Commitment to the input.
    pub input: B256,
    /// Commitment to the output.
    pub output: B256,
    /// EIP-712 struct hash of the three.
    pub hash: B256,
}

/// Recovers the signer of an EIP-712 digest with libsecp256k1 (the library geth and
/// revm's ecrecover use): several times faster than the pure-Rust path, and the serving
/// hot path runs it on every call. As strict as the contracts (OpenZeppelin `ECDSA`):
/// 65 bytes, `v` 27 or 28, low `s`.
pub fn recover(digest: &B256, signature: &[u8]) -> Option<Address> {
    use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
    if signature.len() != 65 {
        return None;
    }
    // EIP-2: s ≤ n/2.
    const HALF_N: [u8; 32] =
        alloy::primitives::hex!("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0");
    if signature[32..64] > HALF_N[..] {
        return None;
    }
    let v = match signature[64] {
        27 | 28 => signature[64] - 27,
        _ => return None,
    };
    let id = RecoveryId::try_from(i32::from(v)).ok()?;
    let sig = RecoverableSignature::from_compact(&signature[..64], id).ok()?;
    let msg = secp256k1::Message::from_digest(digest.0);
    let key = secp256k1::SECP256K1.recover_ecdsa(msg, &sig).ok()?;
    let uncompressed = key.serialize_uncompressed();
    Some(Address::from_slice(&keccak256(&uncompressed[1..])[12..]))
}

/// The account string of a channel in audit entries.
pub fn channel_account(chain_id: u64, contract: Address, id: u64) -> String {
    format!("{chain_id}/{contract:#x}/channel/{id}")
}

fn license_account(chain_id: u64, contract: Address, id: U256) -> String {
    format!("{chain_id}/{contract:#x}/license/{id}")
}

fn u64_of(what: &str, v: U256) -> std::result::Result<u64, Refusal> {
    u64::try_from(v).map_err(|_| Refusal::bad(format!("{what} {v} is out of range")))
}

fn u128_of(v: U256) -> Result<u128> {
    u128::try_from(v).map_err(|_| Error::OutOfRange(format!("amount {v} does not fit 128 bits")))
}

/// What the server knows of one channel: the contract's state (read on first use and
/// whenever a voucher could be explained by a change on-chain: a top-up, an extension, a
/// claim) and the last voucher it accepted.
#[derive(Debug, Default)]
struct Book {
    chain: Option<Channel>,
    /// Calls answered for the current nonce.
    calls: u64,
    last: Option<LastVoucher>,
}

impl Book {
    /// The amount and acknowledged receipt the next voucher of `nonce` must carry for a
    /// call costing `cost`.
    fn expected(&self, nonce: u64, cost: U256) -> (U256, B256) {
        match &self.last {
            Some(l) if l.nonce == nonce => (l.amount + cost, l.receipt),
            _ => (cost, B256::ZERO),
        }
    }

    fn json(&self, id: u64) -> serde_json::Value {
        let c = self.chain.as_ref();
        json!({
            "id": id,
            "nonce": c.map(|c| c.nonce),
            "deposit_left": c.map(|c| c.value.to_string()),
            "expiry": c.map(|c| c.expiry),
            "last_nonce": self.last.as_ref().map(|l| l.nonce),
            "last_amount": self.last.as_ref().map(|l| l.amount.to_string()),
            "last_receipt": self.last.as_ref().map(|l| l.receipt),
            "calls": self.calls,
        })
    }
}

type BookRef = Arc<tokio::sync::Mutex<Book>>;

/// A voucher the server can claim with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claimable {
    /// Channel id.
    pub channel: u64,
    /// The voucher.
    pub voucher: LastVoucher,
    /// Calls of its nonce the voucher pays for.
    pub calls: u64,
}

impl Server {
    /// A server for `model` (its bytes' SHA-256 must be the registry's `fileHash`),
    /// recording into `trail`; rebuilds the channel books from the trail's
    /// `paid_inference` entries, so a restart (even after `kill -9`) resumes every
    /// channel at its last durable voucher.
    pub fn open(
        cfg: ServeConfig,
        model: OnnxModel,
        trail: Arc<AuditTrail>,
        market: ModelMarket<DynProvider>,
    ) -> Result<Arc<Server>> {
        let file_sha256 = B256::from(model.hash());
        let model_ref = ModelRef {
            id: format!("{}/{}", cfg.model_id, cfg.version),
            version_hash: Hash(model.hash()),
        };
        let domain = voucher::channels_domain(cfg.chain_id, cfg.channels);
        let license_domain = cfg.license.map(|l| voucher::license_domain(cfg.chain_id, l));
        let restored = latest_vouchers(&trail, cfg.chain_id, cfg.channels, model_ref.version_hash)?;
        let books = restored
            .into_iter()
            .map(|c| {
                let book = Book { chain: None, calls: c.calls, last: Some(c.voucher) };
                (c.channel, Arc::new(tokio::sync::Mutex::new(book)))
            })
            .collect();
        Ok(Arc::new(Server {
            cfg,
            model,
            model_ref,
            file_sha256,
            trail,
            market,
            domain,
            license_domain,
            books: parking_lot::Mutex::new(books),
            seen_calls: Default::default(),
            holds: Default::default(),
        }))
    }

    /// The configuration.
    pub fn config(&self) -> &ServeConfig {
        &self.cfg
    }

    /// The EIP-712 domain vouchers are signed in.
    pub fn domain(&self) -> &Eip712Domain {
        &self.domain
    }

    /// The trail calls are recorded in.
    pub fn trail(&self) -> &Arc<AuditTrail> {
        &self.trail
    }

    fn book(&self, id: u64) -> BookRef {
        self.books.lock().entry(id).or_default().clone()
    }

    async fn fetch_channel(&self, id: u64) -> Result<Option<Channel>> {
        match self.market.channel(id).await {
            Ok(c) if c.sender != Address::ZERO => Ok(Some(c)),
            Ok(_) => Ok(None),
            Err(e) if e.revert_name().as_deref() == Some("UnknownChannel") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The x402-style body of a `402 Payment Required`: what to pay, with what, to whom.
    pub fn payment_required(&self, error: &str) -> serde_json::Value {
        let network = format!("eip155:{}", self.cfg.chain_id);
        let mut accepts = vec![json!({
            "scheme": "alara-channel",
            "network": network,
            "maxAmountRequired": self.cfg.price.to_string(),
            "resource": "/v1/infer",
            "description": format!("one prediction of model {} version {}", self.cfg.model_id, self.cfg.version),
            "mimeType": "application/json",
            "payTo": self.cfg.owner,
            "maxTimeoutSeconds": 60,
            "asset": self.cfg.token,
            "extra": {
                "header": "X-Payment",
                "pricePerRow": self.cfg.price.to_string(),
                "channels": self.cfg.channels,
                "modelId": self.cfg.model_id,
                "version": self.cfg.version,
                "modelSha256": self.file_sha256,
                "minExpiryMarginSeconds": self.cfg.expiry_margin.as_secs(),
                "eip712": {
                    "domain": { "name": "AlaraInferenceChannels", "version": "1", "chainId": self.cfg.chain_id, "verifyingContract": self.cfg.channels },
                    "primaryType": "Voucher",
                    "types": { "Voucher": [
                        {"name": "channelId", "type": "uint256"},
                        {"name": "nonce", "type": "uint64"},
                        {"name": "amount", "type": "uint256"},
                        {"name": "prevReceipt", "type": "bytes32"}
                    ]}
                },
                "rules": "amount is cumulative for the nonce: the last accepted amount plus pricePerRow × rows; prevReceipt is call_receipt.hash of the previous answer (zero for the first call of a nonce)"
            }
        })];
        if let (Some(license), true) = (self.cfg.license, !self.cfg.license_price.is_zero()) {
            accepts.push(json!({
                "scheme": "alara-license",
                "network": network,
                "maxAmountRequired": "0",
                "resource": "/v1/infer",
                "description": "calls signed by a holder of this version's licence",
                "mimeType": "application/json",
                "payTo": self.cfg.owner,
                "maxTimeoutSeconds": LICENSE_SKEW.as_secs(),
                "asset": self.cfg.token,
                "extra": {
                    "header": "X-License",
                    "license": license,
                    "licenseId": license_id(self.cfg.model_id, self.cfg.version).to_string(),
                    "licensePrice": self.cfg.license_price.to_string(),
                    "eip712": {
                        "domain": { "name": "AlaraModelLicense", "version": "1", "chainId": self.cfg.chain_id, "verifyingContract": license },
                        "primaryType": "LicensedCall",
                        "types": { "LicensedCall": [
                            {"name": "licenseId", "type": "uint256"},
                            {"name": "request", "type": "bytes32"},
                            {"name": "issuedAt", "type": "uint64"}
                        ]}
                    }
                }
            }));
        }
        json!({ "x402Version": 1, "error": error, "accepts": accepts })
    }

    fn parse_rows(&self, body: &[u8]) -> std::result::Result<Vec<Vec<f32>>, Refusal> {
        let req: CallRequest = serde_json::from_slice(body).map_err(|e| {
            Refusal::bad(format!("the body must be {{\"inputs\": [[number, …], …]}}: {e}"))
        })?;
        if req.inputs.is_empty() || req.inputs.len() > MAX_ROWS {
            return Err(Refusal::bad(format!(
                "send 1 to {MAX_ROWS} rows per call, found {}",
                req.inputs.len()
            )));
        }
        let width = self.model.input_width();
        if let Some((i, r)) = req.inputs.iter().enumerate().find(|(_, r)| r.len() != width) {
            return Err(Refusal::bad(format!(
                "row {i} has {} features; the model takes {width}",
                r.len()
            )));
        }
        if req.inputs.iter().flatten().any(|x| !x.is_finite()) {
            return Err(Refusal::bad("inputs must be finite numbers"));
        }
        Ok(req.inputs)
    }

    fn cost(&self, rows: usize) -> U256 {
        self.cfg.price * U256::from(rows)
    }

    /// Checks a voucher against the channel, runs the call, records it durably, and
    /// advances the channel. Calls of one channel are sequential (its vouchers are a
    /// chain); different channels run in parallel.
    pub async fn call_with_voucher(
        &self,
        payment: &SignedVoucher,
        body: &[u8],
    ) -> std::result::Result<CallResponse, Refusal> {
        let rows = self.parse_rows(body)?;
        let id = u64_of("channel id", payment.voucher.channelId)?;
        let cost = self.cost(rows.len());
        let book = self.book(id);
        let mut book = book.lock().await;
        let refusal = |book: &Book, m: String| Refusal {
            status: StatusCode::PAYMENT_REQUIRED,
            message: m,
            channel: Some(book.json(id)),
        };
        // Read the chain when the book has never seen it, or when the voucher could be
        // right against a newer on-chain state (top-up, extension, a claim's new nonce).
        let mut fresh = false;
        loop {
            if book.chain.is_none() || fresh {
                match self.fetch_channel(id).await? {
                    Some(c) => book.chain = Some(c),
                    None => {
                        // Keep no book for a channel that does not exist: made-up ids must
                        // not grow the server's memory.
                        if book.last.is_none() {
                            self.books.lock().remove(&id);
                        }
                        return Err(Refusal::pay(format!(
                            "channel {id} does not exist on {:#x}: open one first",
                            self.cfg.channels
                        )));
                    }
                }
            }
            let Some(chain) = book.chain else { continue };
            let problem = self.voucher_problem(&book, &chain, payment, cost);
            match problem {
                None => break,
                Some((m, could_be_stale)) if could_be_stale && !fresh => {
                    tracing::debug!(channel = id, "{m}; rereading the channel");
                    fresh = true;
                }
                Some((m, _)) => return Err(refusal(&book, m)),
            }
        }
        // The signature, last: it is the expensive check.
        let digest = payment.voucher.eip712_signing_hash(&self.domain);
        let signer = book.chain.as_ref().map(|c| c.signer).unwrap_or_default();
        match recover(&digest, &payment.signature) {
            Some(a) if a == signer => {}
            Some(a) => {
                return Err(refusal(
                    &book,
                    format!(
                        "the voucher is signed by {a:#x}, but channel {id}'s signer is {signer:#x}"
                    ),
                ))
            }
            None => return Err(refusal(&book, "the voucher's signature is malformed".into())),
        }
        let account = channel_account(self.cfg.chain_id, self.cfg.channels, id);
        let (outputs, receipt, audit, leaf) = self
            .run_and_record(
                rows,
                Payment {
                    scheme: "channel",
                    account,
                    nonce: payment.voucher.nonce,
                    amount: u128_of(payment.voucher.amount)?,
                    prev_receipt: payment.voucher.prevReceipt,
                    signature: payment.signature.to_vec(),
                    payer: signer,
                },
            )
            .await?;
        book.calls = if book.last.as_ref().is_some_and(|l| l.nonce == payment.voucher.nonce) {
            book.calls + 1
        } else {
            1
        };
        book.last = Some(LastVoucher {
            nonce: payment.voucher.nonce,
            amount: payment.voucher.amount,
            prev_receipt: payment.voucher.prevReceipt,
            signature: payment.signature.to_vec(),
            receipt: receipt.hash,
            leaf,
        });
        Ok(CallResponse {
            outputs,
            call_receipt: receipt,
            receipt: audit,
            channel: Some(book.json(id)),
        })
    }

    /// Why a voucher is not acceptable against `chain`, and whether a newer on-chain
    /// state could make it acceptable.
    fn voucher_problem(
        &self,
        book: &Book,
        chain: &Channel,
        signed: &SignedVoucher,
        cost: U256,
    ) -> Option<(String, bool)> {
        let p = &signed.voucher;
        let id = p.channelId;
        if chain.closed {
            return Some((format!("channel {id} is closed: open a new one"), false));
        }
        if chain.model != self.cfg.model_id || chain.version != self.cfg.version {
            return Some((
                format!(
                    "channel {id} pays for model {} version {}; this server sells model {} version {}",
                    chain.model, chain.version, self.cfg.model_id, self.cfg.version
                ),
                false,
            ));
        }
        if p.nonce != chain.nonce {
            return Some((
                format!("the voucher has nonce {}; channel {id} is at nonce {} (vouchers of a claimed nonce are spent)", p.nonce, chain.nonce),
                p.nonce > chain.nonce,
            ));
        }
        let (amount, receipt) = book.expected(chain.nonce, cost);
        if p.prevReceipt != receipt {
            return Some((
                format!(
                    "the voucher acknowledges receipt {}, but the last call on channel {id} produced receipt {receipt}: acknowledge it",
                    p.prevReceipt
                ),
                false,
            ));
        }
        if p.amount != amount {
            return Some((
                format!(
                    "the voucher's cumulative amount is {}; expected {amount} (the last amount plus {} per row × {} rows)",
                    p.amount,
                    self.cfg.price,
                    cost / self.cfg.price.max(U256::from(1))
                ),
                false,
            ));
        }
        if p.amount > chain.value {
            return Some((
                format!("the voucher's amount {} is above channel {id}'s deposit {}: top the channel up", p.amount, chain.value),
                true,
            ));
        }
        let now = now_ms() / 1000;
        let margin = self.cfg.expiry_margin.as_secs();
        if chain.expiry < now.saturating_add(margin) {
            return Some((
                format!(
                    "channel {id} expires at {} and this server needs {margin} s to claim: extend it",
                    chain.expiry
                ),
                true,
            ));
        }
        None
    }

    /// Checks a licensed call, runs it and records it durably.
    pub async fn call_with_license(
        &self,
        signed: &SignedLicensedCall,
        body: &[u8],
    ) -> std::result::Result<CallResponse, Refusal> {
        let rows = self.parse_rows(body)?;
        let (Some(contract), Some(domain)) = (self.cfg.license, &self.license_domain) else {
            return Err(Refusal::pay("this server does not accept licences: pay with X-Payment"));
        };
        let lic = &signed.call;
        let want = license_id(self.cfg.model_id, self.cfg.version);
        if lic.licenseId != want {
            return Err(Refusal::pay(format!(
                "licence {} is not for this version; this server needs licence {want} (model {} version {})",
                lic.licenseId, self.cfg.model_id, self.cfg.version
            )));
        }
        let hash = B256::from(alara_store::sha256(body));
        if lic.request != hash {
            return Err(Refusal::pay("the licensed call signs another request body"));
        }
        let now = now_ms() / 1000;
        if lic.issuedAt.abs_diff(now) > LICENSE_SKEW.as_secs() {
            return Err(Refusal::pay(format!(
                "the licensed call was signed at {}, more than {} s from the server's clock ({now}): sign it again",
                lic.issuedAt,
                LICENSE_SKEW.as_secs()
            )));
        }
        let digest = lic.eip712_signing_hash(domain);
        let Some(signer) = recover(&digest, &signed.signature) else {
            return Err(Refusal::pay("the licensed call's signature is malformed"));
        };
        if !self.holds(signer).await? {
            return Err(Refusal::pay(format!(
                "{signer:#x} holds no licence for model {} version {}: buy one or pay per call",
                self.cfg.model_id, self.cfg.version
            )));
        }
        {
            let mut seen = self.seen_calls.lock();
            seen.retain(|_, t| t.saturating_add(2 * LICENSE_SKEW.as_secs()) >= now);
            if seen.insert(digest, lic.issuedAt).is_some() {
                return Err(Refusal::new(
                    StatusCode::CONFLICT,
                    "this licensed call was already answered: sign a new one",
                ));
            }
        }
        let (outputs, receipt, audit, _) = self
            .run_and_record(
                rows,
                Payment {
                    scheme: "license",
                    account: license_account(self.cfg.chain_id, contract, lic.licenseId),
                    nonce: 0,
                    amount: 0,
                    prev_receipt: lic.request,
                    signature: signed.signature.to_vec(),
                    payer: signer,
                },
            )
            .await?;
        Ok(CallResponse { outputs, call_receipt: receipt, receipt: audit, channel: None })
    }

    async fn holds(&self, who: Address) -> Result<bool> {
        if let Some((h, at)) = self.holds.lock().get(&who) {
            if at.elapsed() < HOLDS_TTL {
                return Ok(*h);
            }
        }
        let h = self.market.holds(who, self.cfg.model_id, self.cfg.version).await?;
        let mut cache = self.holds.lock();
        // Signatures from made-up keys must not grow the cache without bound.
        if cache.len() >= MAX_CACHED_HOLDERS {
            cache.retain(|_, (held, at)| *held && at.elapsed() < HOLDS_TTL);
        }
        if h {
            cache.insert(who, (h, Instant::now()));
        }
        Ok(h)
    }

    /// Runs the model, appends the `paid_inference` entry with its openings, waits until
    /// it is durable, and returns outputs, call receipt, audit receipt and leaf index.
    async fn run_and_record(
        &self,
        rows: Vec<Vec<f32>>,
        pay: Payment,
    ) -> Result<(Vec<alara_ml::Prediction>, CallReceiptJson, serde_json::Value, u64)> {
        let started = now_ms();
        let outputs = self.model.predict(&rows)?;
        let ended = now_ms();
        let input = Opening::seal("anonymous", "input", serde_json::to_vec(&rows)?);
        let output = Opening::seal("anonymous", "output", serde_json::to_vec(&outputs)?);
        let call = CallReceipt {
            model: self.file_sha256,
            input: B256::from(input.commitment().0),
            output: B256::from(output.commitment().0),
        };
        let receipt = CallReceiptJson {
            model: call.model,
            input: call.input,
            output: call.output,
            hash: call.hash(),
        };
        let entry = Entry {
            time_ms: ended,
            body: EntryBody::PaidInference(PaidInference {
                system: self.cfg.system.clone(),
                model: self.model_ref.clone(),
                started_ms: started,
                ended_ms: ended,
                input: input.commitment(),
                output: output.commitment(),
                payment: pay.scheme.to_string(),
                account: pay.account,
                nonce: pay.nonce,
                amount: pay.amount,
                prev_receipt: Hash(pay.prev_receipt.0),
                signature: format!("0x{}", hex::encode(&pay.signature)),
                payer: format!("{:#x}", pay.payer),
            }),
        };
        let trail = self.trail.clone();
        let (leaf, audit) = tokio::task::spawn_blocking(move || -> Result<(u64, Receipt)> {
            let ticket = trail.enqueue_with_openings(&[(entry, vec![input, output])])?;
            trail.wait(ticket.index)?;
            Ok((ticket.index, trail.receipt(ticket.index)?))
        })
        .await
        .map_err(|e| Error::Payment(format!("the recording task failed: {e}")))??;
        Ok((outputs, receipt, serde_json::to_value(&audit)?, leaf))
    }

    /// The latest voucher of every channel whose calls are not claimed yet, as far as the
    /// server knows (claims it made itself move the nonce).
    pub async fn claimable(&self) -> Vec<Claimable> {
        let books: Vec<(u64, BookRef)> =
            self.books.lock().iter().map(|(k, v)| (*k, v.clone())).collect();
        let mut out = Vec::new();
        for (id, book) in books {
            let mut book = book.lock().await;
            if book.chain.is_none() {
                match self.fetch_channel(id).await {
                    Ok(c) => book.chain = c,
                    Err(e) => tracing::warn!(channel = id, error = %e, "cannot read channel"),
                }
            }
            if let (Some(c), Some(l)) = (&book.chain, &book.last) {
                if l.nonce == c.nonce && !l.amount.is_zero() && !c.closed {
                    out.push(Claimable { channel: id, voucher: l.clone(), calls: book.calls });
                }
            }
        }
        out.sort_by_key(|c| c.channel);
        out
    }

    /// Records that `channel` was claimed with its voucher of `nonce` (the contract moved
    /// to `nonce + 1` and took `amount` from the deposit).
    pub async fn claimed(&self, channel: u64, nonce: u64, amount: U256, keep_open: bool) {
        let book = self.book(channel);
        let mut book = book.lock().await;
        if let Some(c) = book.chain.as_mut() {
            if c.nonce == nonce {
                c.nonce += 1;
                c.value = if keep_open { c.value.saturating_sub(amount) } else { U256::ZERO };
                c.closed = !keep_open;
                book.calls = 0;
            }
        }
    }

    /// Claims every channel with unclaimed calls, one transaction each whatever the
    /// number of calls, as the model's owner; `keep_open` leaves the channels open at the
    /// next nonce (otherwise the rest of each deposit goes back to its buyer).
    pub async fn claim(&self, keep_open: bool) -> Result<Vec<ClaimMade>> {
        let made = claim_vouchers(&self.market, self.claimable().await, keep_open).await?;
        for c in &made {
            self.claimed(c.channel, c.nonce, c.amount, keep_open).await;
        }
        Ok(made)
    }

    /// The HTTP routes: `GET /v1/model`, `POST /v1/infer`, `GET /v1/receipts/{index}`.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/v1/model", get(model_info))
            .route("/v1/infer", post(infer))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self)
    }
}

use alara_audit::Receipt;

struct Payment {
    scheme: &'static str,
    account: String,
    nonce: u64,
    amount: u128,
    prev_receipt: B256,
    signature: Vec<u8>,
    payer: Address,
}

/// One claim made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimMade {
    /// Channel.
    pub channel: u64,
    /// The nonce claimed (the channel is now at `nonce + 1`).
    pub nonce: u64,
    /// Amount claimed.
    pub amount: U256,
    /// Calls the amount pays for.
    pub calls: u64,
    /// The split: parents first, the owner last.
    pub payments: Vec<(Address, U256)>,
    /// Transaction.
    pub tx: B256,
    /// Gas used.
    pub gas: u64,
}

/// Claims each voucher whose nonce is still its channel's (one transaction each), as the
/// account of `market` (the model's owner).
pub async fn claim_vouchers(
    market: &ModelMarket<DynProvider>,
    vouchers: Vec<Claimable>,
    keep_open: bool,
) -> Result<Vec<ClaimMade>> {
    let mut out = Vec::new();
    for c in vouchers {
        let ch = market.channel(c.channel).await?;
        if ch.closed || ch.nonce != c.voucher.nonce || c.voucher.amount.is_zero() {
            continue;
        }
        let t = market.claim(&c.voucher.signed(c.channel)?, keep_open).await?;
        out.push(ClaimMade {
            channel: c.channel,
            nonce: c.voucher.nonce,
            amount: t.value.amount,
            calls: c.calls,
            payments: t.value.payments.clone(),
            tx: t.hash,
            gas: t.gas_used,
        });
    }
    Ok(out)
}

/// The latest voucher of every channel of `channels` (on `chain_id`) that paid for calls
/// of the model with file hash `model` in the trail, with the number of calls its nonce
/// covers: what a restarted server resumes from and what `alara model claim` settles.
pub fn latest_vouchers(
    trail: &AuditTrail,
    chain_id: u64,
    channels: Address,
    model: Hash,
) -> Result<Vec<Claimable>> {
    let prefix = format!("{chain_id}/{channels:#x}/channel/");
    let q = Query {
        kinds: vec!["paid_inference".into()],
        model: Some(model.to_hex()),
        ..Query::default()
    };
    let mut out: HashMap<u64, Claimable> = HashMap::new();
    for row in trail.query(&q)? {
        let EntryBody::PaidInference(p) = &row.entry.body else { continue };
        let Some(id) = p.account.strip_prefix(&prefix).and_then(|s| s.parse::<u64>().ok()) else {
            continue;
        };
        let Ok(signature) = hex::decode(p.signature.trim_start_matches("0x")) else { continue };
        let receipt = CallReceipt {
            model: B256::from(p.model.version_hash.0),
            input: B256::from(p.input.0),
            output: B256::from(p.output.0),
        }
        .hash();
        let voucher = LastVoucher {
            nonce: p.nonce,
            amount: U256::from(p.amount),
            prev_receipt: B256::from(p.prev_receipt.0),
            signature,
            receipt,
            leaf: row.leaf_index,
        };
        match out.get_mut(&id) {
            Some(c) if (voucher.nonce, voucher.amount) < (c.voucher.nonce, c.voucher.amount) => {}
            Some(c) => {
                c.calls = if c.voucher.nonce == voucher.nonce { c.calls + 1 } else { 1 };
                c.voucher = voucher;
            }
            None => {
                out.insert(id, Claimable { channel: id, voucher, calls: 1 });
            }
        }
    }
    let mut v: Vec<Claimable> = out.into_values().collect();
    v.sort_by_key(|c| c.channel);
    Ok(v)
}

fn refusal_response(server: &Server, r: Refusal) -> Response {
    let mut body = if r.status == StatusCode::PAYMENT_REQUIRED {
        server.payment_required(&r.message)
    } else {
        json!({ "error": r.message })
    };
    if let Some(c) = r.channel {
        body["channel"] = c;
    }
    (r.status, Json(body)).into_response()
}

async fn model_info(State(s): State<Arc<Server>>) -> Json<serde_json::Value> {
    Json(json!({
        "model_id": s.cfg.model_id,
        "version": s.cfg.version,
        "sha256": s.file_sha256,
        "input_width": s.model.input_width(),
        "feature_names": s.model.feature_names(),
        "price_per_row": s.cfg.price.to_string(),
        "asset": s.cfg.token,
        "owner": s.cfg.owner,
        "chain_id": s.cfg.chain_id,
        "channels": s.cfg.channels,
        "license": s.cfg.license,
        "license_price": s.cfg.license_price.to_string(),
        "expiry_margin_seconds": s.cfg.expiry_margin.as_secs(),
    }))
}

async fn infer(
    State(s): State<Arc<Server>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).map(|v| v.to_str().map(str::to_owned));
    let result = match (header("x-payment"), header("x-license")) {
        (Some(Ok(p)), None) => match SignedVoucher::from_header(&p) {
            Ok(p) => s.call_with_voucher(&p, &body).await,
            Err(e) => Err(Refusal::pay(format!("X-Payment must carry a voucher: {e}"))),
        },
        (None, Some(Ok(l))) => match SignedLicensedCall::from_header(&l) {
            Ok(l) => s.call_with_license(&l, &body).await,
            Err(e) => Err(Refusal::pay(format!("X-License must carry a licensed call: {e}"))),
        },
        (Some(_), Some(_)) => Err(Refusal::bad("send X-Payment or X-License, not both")),
        (Some(Err(_)), _) | (_, Some(Err(_))) => Err(Refusal::bad("payment headers must be ASCII")),
        (None, None) => {
            // Say what is wrong with the body too, so a client fixes both at once.
            match s.parse_rows(&body) {
                Err(r) => Err(r),
                Ok(_) => Err(Refusal::pay("payment required")),
            }
        }
    };
    match result {
        Ok(r) => (StatusCode::OK, Json(r)).into_response(),
        Err(r) => refusal_response(&s, r),
    }
}
