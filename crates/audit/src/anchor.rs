//! Anchoring checkpoints in the `AuditAnchor` contract, receipt upgrades, and on-chain
//! verification of receipts.
//!
//! The [`Anchorer`] anchors the latest signed checkpoint every `N` entries or `T` seconds
//! (one transaction per batch). Its truth is the contract itself: on every tick it checks
//! the anchored `(size, root)` (the contract keeps a commitment to it; the values come from
//! the remembered anchor or the last `Anchored` event), so a restart of the service or of
//! the chain loses nothing, and it records a sent transaction in `anchors.json` before
//! waiting for it, so a dropped transaction is found and resubmitted while a mined one is
//! never sent again (the contract refuses a replay, too).
//!
//! A log's id in the contract is its anchoring account: `AuditAnchor` keys logs by
//! `msg.sender`, so an anchor call carries no id (see [`anchor_calldata`]). A key names one
//! log (`logOfKey`), and an anchored receipt's checkpoint carries a signed
//! [`AnchorBinding`] line naming the chain, contract and account it is anchored under.
//!
//! [`verify_onchain`] never takes the contract or the log id from the receipt: the caller
//! pins the contract (address book or `--contract`) and the log key ([`Pins`]); the log's
//! account is what the pinned contract says for the pinned key, and it must be the one the
//! key signed in the binding line. An anchor that a later one superseded verifies only with
//! an RFC 9162 consistency proof from it to the contract's current anchor.

use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::contract::CallBuilder;
use alloy::primitives::{Address, Bytes, B256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use serde::{Deserialize, Serialize};

use alara_contracts::call::{decoder, CallError, Decoder};
use alara_contracts::AuditAnchor::{self, AuditAnchorErrors};

use crate::checkpoint::{NoteVerifier, SignedCheckpoint};
use crate::hash::Hash;
use crate::log::Log;
pub use crate::receipt::AnchorBinding;
use crate::receipt::{AnchorInfo, Receipt, SCHEMA};
use crate::{Error, Result};

/// State file name (in the trail directory).
pub const STATE_FILE: &str = "anchors.json";

/// When to anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnchorPolicy {
    /// Anchor once this many entries are unanchored.
    pub every_entries: u64,
    /// Anchor unanchored entries at least this often.
    pub every: Duration,
    /// How long a sent transaction may stay unmined before it is checked for being dropped.
    pub pending_timeout: Duration,
}

impl Default for AnchorPolicy {
    /// 10,000 entries or one hour: at 3 or more audited decisions per second that is at
    /// most one transaction per 10,000 entries.
    fn default() -> Self {
        Self {
            every_entries: 10_000,
            every: Duration::from_secs(3600),
            pending_timeout: Duration::from_secs(60),
        }
    }
}

/// One anchored checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorRecord {
    /// Tree size.
    pub size: u64,
    /// Root.
    pub root: Hash,
    /// Transaction hash (0x-hex).
    pub tx_hash: String,
    /// Block number.
    pub block_number: u64,
    /// Gas used by the anchoring transaction.
    pub gas_used: u64,
}

/// A transaction sent and not yet seen mined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAnchor {
    /// Tree size it anchors.
    pub size: u64,
    /// Root it anchors.
    pub root: Hash,
    /// Transaction hash.
    pub tx_hash: String,
    /// When it was sent (Unix ms).
    pub sent_ms: u64,
    /// Its nonce: a resubmission after a drop reuses it, so no nonce gap can strand it.
    pub nonce: u64,
}

/// What the anchoring service remembers (`anchors.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorState {
    /// Chain id.
    pub chain_id: u64,
    /// `AuditAnchor` address.
    pub contract: Address,
    /// The log's id in the contract: its anchoring account.
    pub log_id: Address,
    /// Anchors seen mined, oldest first.
    pub anchored: Vec<AnchorRecord>,
    /// A sent, unconfirmed transaction.
    pub pending: Option<PendingAnchor>,
}

impl AnchorState {
    /// Loads the state file, if any.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(serde_json::from_slice(&b).map_err(|e| Error::Corrupt {
                path: path.clone(),
                detail: format!("{e}; move it away to start anchoring afresh"),
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Io { path, source: e }),
        }
    }

    fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(STATE_FILE);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?).map_err(crate::error::io(&tmp))?;
        std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(crate::error::io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(crate::error::io(&path))
    }

    /// The latest anchor covering leaf `index`.
    pub fn covering(&self, index: u64) -> Option<&AnchorRecord> {
        self.anchored.iter().rev().find(|a| a.size > index)
    }
}

fn chain<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> Error {
    move |e| Error::Chain(format!("{what}: {e}"))
}

/// The errors an AuditAnchor call can revert with.
const DECODERS: &[Decoder] = &[decoder::<AuditAnchorErrors>];

/// A failed contract call, with `AuditAnchor`'s revert decoded by name when it has one.
fn call_err(what: &'static str) -> impl FnOnce(alloy::contract::Error) -> Error {
    move |e| Error::Contract(CallError::from_contract(what, DECODERS, e))
}

fn b256(h: &Hash) -> B256 {
    B256::from(h.0)
}

/// Name of the contract in the address book (`<data-dir>/addresses/<chain-id>.json`).
pub const CONTRACT_NAME: &str = "AuditAnchor";

/// Deploys `AuditAnchor` once per chain and records it in the address book under
/// [`CONTRACT_NAME`] (through `alara_contracts::deploy::ensure`); later calls return the
/// recorded address without a transaction as long as code is still there (a wiped devnet
/// gets a fresh deployment).
pub async fn ensure_deployed<P: Provider>(provider: &P, data_dir: &Path) -> Result<Address> {
    alara_contracts::deploy::ensure(provider, data_dir, CONTRACT_NAME, || async {
        Ok::<_, alara_contracts::Error>(*AuditAnchor::deploy(provider).await?.address())
    })
    .await
    .map_err(chain("deploying AuditAnchor"))
}

/// The `AuditAnchor` the address book in `data_dir` records for the chain `provider`
/// serves, if its code is still there.
pub async fn recorded<P: Provider>(provider: &P, data_dir: &Path) -> Result<Option<Address>> {
    let book = alara_contracts::deploy::book_for(provider, data_dir)
        .await
        .map_err(chain("reading the address book"))?;
    alara_contracts::deploy::deployed(provider, &book, CONTRACT_NAME)
        .await
        .map_err(chain("eth_getCode"))
}

/// Blocks per `eth_getLogs` request: public providers refuse wider ranges.
pub const LOG_PAGE_BLOCKS: u64 = alara_contracts::logs::PAGE;

/// The first block with code at `address` (binary search over `eth_getCode`), so event
/// scans start at the deployment, never at genesis.
pub async fn deployment_block<P: Provider>(provider: &P, address: Address) -> Result<u64> {
    let code = provider.get_code_at(address).await.map_err(chain("eth_getCode"))?;
    if code.is_empty() {
        return Err(Error::Chain(format!("no contract at {address}")));
    }
    alara_contracts::deploy::first_block_with_code(provider, address)
        .await
        .map_err(|e| Error::Chain(format!("finding the deployment block of {address}: {e}")))
}

/// `eth_getLogs` for `filter` from `from_block` to the head, in pages of at most
/// [`alara_contracts::logs::PAGE`] blocks (the workspace's one paged scan).
pub async fn scan_logs<P: Provider>(
    provider: &P,
    filter: &Filter,
    from_block: u64,
) -> Result<Vec<alloy::rpc::types::Log>> {
    alara_contracts::logs::scan(provider, filter, from_block)
        .await
        .map_err(|e| Error::Chain(e.to_string()))
}

/// The contract's `ANCHOR_TAG`: the selector of `anchorPacked(bytes)`, which opens packed
/// anchor calldata.
pub fn anchor_tag() -> [u8; 4] {
    let h = alloy::primitives::keccak256("anchorPacked(bytes)");
    [h[0], h[1], h[2], h[3]]
}

/// The calldata of an anchor: `ANCHOR_TAG ‖ uint64 old_size ‖ uint64 new_size ‖ hashes`,
/// packed (the contract's fallback decodes it; no ABI words, no log id). `hashes` is the new
/// root alone for the first anchor (`old_size` 0), the old root followed by the RFC 9162
/// consistency proof when `old_size` is a power of two, and the proof otherwise — see
/// [`anchor_hashes`].
pub fn anchor_calldata(old_size: u64, new_size: u64, hashes: &[Hash]) -> Bytes {
    let mut out = Vec::with_capacity(20 + 32 * hashes.len());
    out.extend_from_slice(&anchor_tag());
    out.extend_from_slice(&old_size.to_be_bytes());
    out.extend_from_slice(&new_size.to_be_bytes());
    for h in hashes {
        out.extend_from_slice(&h.0);
    }
    out.into()
}

/// The hashes an anchor from `old_size` (0 for the first) to `new_size` carries.
pub fn anchor_hashes(
    old_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    consistency_path: &[Hash],
) -> Vec<Hash> {
    if old_size == 0 {
        return vec![*new_root];
    }
    let mut v = Vec::with_capacity(consistency_path.len() + 1);
    if old_size.is_power_of_two() {
        v.push(*old_root);
    }
    v.extend_from_slice(consistency_path);
    v
}

/// The latest anchored `(size, root)` of `signer`'s log in `contract`: `known` (a
/// remembered anchor) when the contract confirms it, else the last `Anchored` event of the
/// log (filtered by its account, scanned from the contract's deployment block in pages),
/// confirmed the same way. `(0, zero)` before the first anchor.
pub async fn latest_anchor<P: Provider + Clone>(
    provider: &P,
    contract: Address,
    signer: Address,
    known: Option<(u64, Hash)>,
) -> Result<(u64, Hash)> {
    let c = AuditAnchor::new(contract, provider.clone());
    let is_latest = |size: u64, root: Hash| {
        let c = c.clone();
        async move { c.isLatest(signer, size, b256(&root)).call().await.map_err(call_err("isLatest")) }
    };
    let zero = (0, Hash([0; 32]));
    for (size, root) in known.into_iter().chain([zero]) {
        if is_latest(size, root).await? {
            return Ok((size, root));
        }
    }
    // `Anchored` is anonymous with the signer as topic0: only this log's anchors match.
    let filter = Filter::new().address(contract).event_signature(signer.into_word());
    let from = deployment_block(provider, contract).await?;
    let logs = scan_logs(provider, &filter, from).await?;
    let last = logs
        .iter()
        .rev()
        .filter_map(|l| l.log_decode::<AuditAnchor::Anchored>().ok())
        .find(|e| e.inner.data.signer == signer)
        .map(|e| (e.inner.data.treeSize, Hash(e.inner.data.rootHash.0)));
    match last {
        Some((size, root)) if is_latest(size, root).await? => Ok((size, root)),
        _ => Err(Error::Chain(format!(
            "the latest anchor of {signer} in {contract} matches neither the remembered anchor nor the last Anchored event"
        ))),
    }
}

/// Registers `note_key` for `signer` in `contract` unless the contract already says so.
/// Only a definite answer of the contract (`logOfKey`) counts: a transport error is an
/// error, never "not registered". The registration is simulated, sent and its receipt
/// status checked (`alara_contracts::call::send`).
pub async fn register<P: Provider + Clone>(
    provider: &P,
    contract: Address,
    signer: Address,
    note_key: B256,
) -> Result<()> {
    let c = AuditAnchor::new(contract, provider.clone());
    let holder = c.logOfKey(note_key).call().await.map_err(call_err("logOfKey"))?;
    if holder == signer {
        return Ok(());
    }
    if holder != Address::ZERO {
        return Err(Error::Chain(format!(
            "this log's key {note_key} is registered in {contract} for account {holder}, not {signer}: anchor from {holder}; if that account is not yours, someone registered your key first (it cannot pass verification as your log, whose checkpoints name your account, but it blocks this contract): anchor to another AuditAnchor (--contract) or start a new log"
        )));
    }
    let builder = c.registerLog(note_key).from(signer);
    alara_contracts::call::send("registerLog", &builder, DECODERS).await.map_err(|e| {
        if e.revert_name() == Some("LogExists") {
            Error::Chain(format!(
                "account {signer} already anchors another log in {contract} (an account anchors one log, for good): anchor this log from another account"
            ))
        } else {
            Error::Contract(e)
        }
    })?;
    Ok(())
}

/// The anchoring service for one log on one chain.
pub struct Anchorer<P> {
    provider: P,
    signer: Address,
    state: AnchorState,
    dir: PathBuf,
    policy: AnchorPolicy,
    last_anchor_at: std::time::Instant,
}

impl<P: Provider + Clone> Anchorer<P> {
    /// Connects to `contract` (from [`ensure_deployed`], or one given by the operator) and
    /// registers the log with `signer` as its anchoring account unless the contract already
    /// has it. `<dir>/anchors.json` is reused when it is for this chain, contract and
    /// account (and the contract still has code); otherwise it is replaced.
    pub async fn setup(
        provider: P,
        signer: Address,
        log: &Log,
        dir: &Path,
        contract: Address,
        policy: AnchorPolicy,
    ) -> Result<Self> {
        let chain_id = provider.get_chain_id().await.map_err(chain("eth_chainId"))?;
        let note_key = B256::from(log.verifier().public_key());
        let code = provider.get_code_at(contract).await.map_err(chain("eth_getCode"))?;
        if code.is_empty() {
            return Err(Error::Chain(format!("no AuditAnchor at {contract} on chain {chain_id}")));
        }
        register(&provider, contract, signer, note_key).await?;
        let state = match AnchorState::load(dir)? {
            Some(s) if s.chain_id == chain_id && s.contract == contract && s.log_id == signer => s,
            other => {
                if other.is_some() {
                    tracing::warn!(
                        chain_id,
                        "anchor state belongs to another chain, contract or account; starting afresh"
                    );
                }
                let s = AnchorState {
                    chain_id,
                    contract,
                    log_id: signer,
                    anchored: vec![],
                    pending: None,
                };
                s.save(dir)?;
                s
            }
        };
        Ok(Self {
            provider,
            signer,
            state,
            dir: dir.to_path_buf(),
            policy,
            last_anchor_at: std::time::Instant::now(),
        })
    }

    /// The remembered state.
    pub fn state(&self) -> &AnchorState {
        &self.state
    }

    /// The on-chain latest `(size, root)` of the log.
    pub async fn onchain_latest(&self) -> Result<(u64, Hash)> {
        let known = self.state.anchored.last().map(|a| (a.size, a.root));
        latest_anchor(&self.provider, self.state.contract, self.state.log_id, known).await
    }

    /// One step: settle a pending transaction, then anchor the latest checkpoint if the
    /// policy (or `force`) says so. Returns the anchor mined in this step, if any.
    pub async fn tick(&mut self, log: &Log, force: bool) -> Result<Option<AnchorRecord>> {
        if let Some(p) = self.state.pending.clone() {
            match self.settle(&p).await? {
                Settled::Mined(rec) => {
                    self.state.pending = None;
                    self.state.anchored.push(rec.clone());
                    self.state.save(&self.dir)?;
                    self.last_anchor_at = std::time::Instant::now();
                    return Ok(Some(rec));
                }
                Settled::Failed => {
                    self.state.pending = None;
                    self.state.save(&self.dir)?;
                }
                Settled::Waiting => return Ok(None),
            }
        }
        let (chain_size, chain_root) = self.onchain_latest().await?;
        if chain_size > log.size() {
            return Err(Error::Corrupt {
                path: log.dir().to_path_buf(),
                detail: format!(
                    "the chain has size {chain_size} anchored, the log only {}",
                    log.size()
                ),
            });
        }
        if chain_size > 0 && log.root_at(chain_size)? != chain_root {
            return Err(Error::Corrupt {
                path: log.dir().to_path_buf(),
                detail: format!("anchored root at size {chain_size} is {chain_root}, the log says otherwise: the log forked"),
            });
        }
        let Some(cp) = log.latest_checkpoint() else { return Ok(None) };
        let target = cp.checkpoint;
        if target.size <= chain_size {
            return Ok(None);
        }
        let due = force
            || target.size - chain_size >= self.policy.every_entries
            || self.last_anchor_at.elapsed() >= self.policy.every;
        if !due {
            return Ok(None);
        }
        let path = if chain_size == 0 {
            vec![]
        } else {
            log.prove_consistency(chain_size, target.size)?.path
        };
        let hashes = anchor_hashes(chain_size, &chain_root, &target.root, &path);
        // The account's next nonce as the node sees it (a dropped transaction's nonce is
        // free again), set explicitly so no client-side nonce cache can leave a gap.
        let nonce = self
            .provider
            .get_transaction_count(self.signer)
            .pending()
            .await
            .map_err(chain("eth_getTransactionCount"))?;
        // The shared send path's first step (`call::send` simulates too): a refused anchor
        // is reported by name and costs nothing. The wait is this service's own, because it
        // must record the transaction before waiting for it.
        let call =
            CallBuilder::new_raw(&self.provider, anchor_calldata(chain_size, target.size, &hashes))
                .from(self.signer)
                .to(self.state.contract)
                .nonce(nonce);
        call.call_raw().await.map_err(call_err("anchor (simulated)"))?;
        let pending = call.send().await.map_err(call_err("anchor"))?;
        let tx_hash = *pending.tx_hash();
        // Remember before waiting: after a crash here the next tick finds it.
        self.state.pending = Some(PendingAnchor {
            size: target.size,
            root: target.root,
            tx_hash: tx_hash.to_string(),
            sent_ms: crate::entry::now_ms(),
            nonce,
        });
        self.state.save(&self.dir)?;
        tracing::info!(size = target.size, tx = %tx_hash, "anchoring checkpoint");
        let waited =
            tokio::time::timeout(self.policy.pending_timeout.min(Duration::from_secs(30)), async {
                loop {
                    if let Ok(Some(_)) = self.provider.get_transaction_receipt(tx_hash).await {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
            .await;
        if waited.is_err() {
            return Ok(None); // still pending; settled on a later tick
        }
        Box::pin(self.tick(log, false)).await
    }

    async fn settle(&self, p: &PendingAnchor) -> Result<Settled> {
        let hash: B256 = p.tx_hash.parse().map_err(|e| Error::Corrupt {
            path: self.dir.join(STATE_FILE),
            detail: format!("pending tx hash {:?}: {e}", p.tx_hash),
        })?;
        if let Some(r) = self
            .provider
            .get_transaction_receipt(hash)
            .await
            .map_err(chain("eth_getTransactionReceipt"))?
        {
            if r.status() {
                return Ok(Settled::Mined(AnchorRecord {
                    size: p.size,
                    root: p.root,
                    tx_hash: p.tx_hash.clone(),
                    block_number: r.block_number.unwrap_or_default(),
                    gas_used: r.gas_used,
                }));
            }
            tracing::warn!(tx = %hash, "anchor transaction reverted; re-reading the contract");
            return Ok(Settled::Failed);
        }
        let known = self
            .provider
            .get_transaction_by_hash(hash)
            .await
            .map_err(chain("eth_getTransactionByHash"))?;
        if known.is_none() {
            tracing::warn!(tx = %hash, "anchor transaction was dropped; resubmitting");
            return Ok(Settled::Failed);
        }
        let age = crate::entry::now_ms().saturating_sub(p.sent_ms);
        if age > self.policy.pending_timeout.as_millis() as u64 {
            tracing::warn!(tx = %hash, age_ms = age, "anchor transaction still pending");
        }
        Ok(Settled::Waiting)
    }

    /// Runs [`Anchorer::tick`] every `poll` until `stop` resolves; errors (chain down) are
    /// logged and retried.
    pub async fn run(
        &mut self,
        log: &Log,
        poll: Duration,
        stop: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        loop {
            if let Err(e) = self.tick(log, false).await {
                tracing::warn!(error = %e, "anchoring failed; retrying");
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }
}

enum Settled {
    Mined(AnchorRecord),
    Failed,
    Waiting,
}

/// Adds (or refreshes) the anchor section of a receipt from the latest anchor covering
/// its entry: the anchored checkpoint, signed by the log's key with the
/// [`AnchorBinding`] line of `state` (chain, contract, account), and the proofs. The
/// receipt becomes a current-schema receipt. Returns false when no anchor covers it yet.
pub fn upgrade_receipt(receipt: &mut Receipt, log: &Log, state: &AnchorState) -> Result<bool> {
    let Some(a) = state.covering(receipt.leaf_index) else { return Ok(false) };
    let cp = SignedCheckpoint::parse(&receipt.checkpoint)?;
    if cp.checkpoint.size > a.size {
        return Ok(false);
    }
    let binding =
        AnchorBinding { chain_id: state.chain_id, contract: state.contract, account: state.log_id };
    let anchored = log.sign_checkpoint(a.size, &[binding.line()])?;
    if anchored.checkpoint.root != a.root {
        return Err(Error::Corrupt {
            path: log.dir().to_path_buf(),
            detail: format!(
                "the log's root at size {} is {}, the anchor recorded {}",
                a.size, anchored.checkpoint.root, a.root
            ),
        });
    }
    receipt.schema = SCHEMA.to_string();
    receipt.anchor = Some(AnchorInfo {
        chain_id: state.chain_id,
        contract: state.contract.to_string(),
        log_id: state.log_id.to_string(),
        tx_hash: a.tx_hash.clone(),
        block_number: a.block_number,
        checkpoint: anchored.note,
        consistency_proof: log.prove_consistency(cp.checkpoint.size, a.size)?.path,
        inclusion_proof: log.prove_inclusion(receipt.leaf_index, a.size)?.path,
    });
    Ok(true)
}

/// What [`verify_onchain`] trusts: chosen by the verifier, never read from the receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pins {
    /// The `AuditAnchor` contract (from the address book, or published by the operator).
    pub contract: Address,
    /// The log key (`--key`, or the local log's own key).
    pub key: NoteVerifier,
}

/// What [`verify_onchain`] established.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct OnchainVerified {
    /// Chain id checked.
    pub chain_id: u64,
    /// The pinned contract.
    pub contract: Address,
    /// The log's account: what the pinned contract registers for the pinned key, and what
    /// the key signed in the anchored checkpoint.
    pub log_id: Address,
    /// The anchor event was found in the recorded transaction and block.
    pub event_found: bool,
    /// The pinned key is registered for the log's account.
    pub key_registered: bool,
    /// The receipt's anchor is still the log's latest on-chain.
    pub latest: bool,
    /// The log's current anchor `(size, root)` on-chain.
    pub current: (u64, Hash),
    /// A superseded anchor was proven a prefix of the current one (RFC 9162 consistency).
    pub consistent_with_current: bool,
    /// The contract's `verifyInclusion` returned true for the entry in the current anchor.
    pub contract_inclusion: bool,
}

/// Verifies an anchored receipt against the chain, trusting only `pins`: the offline
/// checks with the pinned key; the receipt's anchored checkpoint names (signed) this
/// chain, the pinned contract and the account the contract registers for the pinned key;
/// the recorded transaction emitted that `Anchored` event; and the anchor is the log's
/// latest, or, when a later anchor superseded it, an RFC 9162 consistency proof from it to
/// the current anchor (computed by `log`, the log's own proof machinery) verifies. Then the
/// contract's own `verifyInclusion` must accept the entry in the current anchor. A
/// superseded anchor without `log` is [`Error::Superseded`], never a success.
pub async fn verify_onchain<P: Provider + Clone>(
    provider: &P,
    receipt: &Receipt,
    pins: &Pins,
    log: Option<&Log>,
) -> Result<OnchainVerified> {
    let offline = receipt.verify_offline(Some(&pins.key))?;
    let a = receipt.anchor.as_ref().ok_or_else(|| Error::ProofInvalid {
        what: "on-chain check",
        detail:
            "receipt has no anchor yet; run `alara audit receipt --upgrade` after the next anchor"
                .into(),
    })?;
    let (size, root) = offline
        .anchored
        .ok_or_else(|| Error::ProofInvalid { what: "anchor", detail: "missing".into() })?;
    let bad = |d: String| Error::ProofInvalid { what: "on-chain anchor", detail: d };
    let binding = offline.binding.ok_or_else(|| {
        bad("the anchored checkpoint does not name its chain, contract and account (a receipt anchored before receipt/v2): refresh it with `alara audit receipt --upgrade` where the log is".into())
    })?;
    let chain_id = provider.get_chain_id().await.map_err(chain("eth_chainId"))?;
    if binding.chain_id != chain_id {
        return Err(bad(format!(
            "the receipt's anchor is signed for chain {}, the RPC serves chain {chain_id}",
            binding.chain_id
        )));
    }
    if binding.contract != pins.contract {
        return Err(bad(format!(
            "the receipt's anchor is signed for contract {}, not the pinned AuditAnchor {}",
            binding.contract, pins.contract
        )));
    }
    let c = AuditAnchor::new(pins.contract, provider.clone());
    let key = B256::from(pins.key.public_key());
    let log_id = c.logOfKey(key).call().await.map_err(call_err("logOfKey"))?;
    if log_id == Address::ZERO {
        return Err(bad(format!("the key {} is not registered in {}", pins.key, pins.contract)));
    }
    if log_id != binding.account {
        return Err(bad(format!(
            "the key is registered for account {log_id} in {}, but the receipt's anchor is signed for account {}",
            pins.contract, binding.account
        )));
    }
    let tx: B256 = a.tx_hash.parse().map_err(|e| bad(format!("tx hash {:?}: {e}", a.tx_hash)))?;
    let r = provider
        .get_transaction_receipt(tx)
        .await
        .map_err(chain("eth_getTransactionReceipt"))?
        .ok_or_else(|| bad(format!("transaction {tx} is not on this chain")))?;
    if !r.status() || r.block_number != Some(a.block_number) {
        return Err(bad(format!("transaction {tx} failed or is not in block {}", a.block_number)));
    }
    let event_found = r.inner.logs().iter().any(|l| {
        l.address() == pins.contract
            && l.log_decode::<AuditAnchor::Anchored>().is_ok_and(|e| {
                e.inner.data.signer == log_id
                    && e.inner.data.treeSize == size
                    && e.inner.data.rootHash == b256(&root)
            })
    });
    if !event_found {
        return Err(bad(format!(
            "no Anchored({log_id}, {size}, {root}) event from {} in {tx}: the chain does not record the signed checkpoint's size and root",
            pins.contract
        )));
    }
    let latest =
        c.isLatest(log_id, size, b256(&root)).call().await.map_err(call_err("isLatest"))?;
    let (current, inclusion_proof) = if latest {
        ((size, root), a.inclusion_proof.clone())
    } else {
        let current = latest_anchor(provider, pins.contract, log_id, None).await?;
        let Some(log) = log else {
            return Err(Error::Superseded { anchored: size, current: current.0 });
        };
        if log.verifier() != &pins.key {
            return Err(bad("the log given for the consistency proof is another log".into()));
        }
        if current.0 <= size || current.0 > log.size() {
            return Err(bad(format!(
                "the current anchor (size {}) cannot extend the receipt's anchor (size {size}) of this log (size {})",
                current.0,
                log.size()
            )));
        }
        let proof = log.prove_consistency(size, current.0)?;
        proof.verify(&root, &current.1).map_err(|e| {
            bad(format!(
                "the current anchor ({}, {}) is not consistent with the receipt's anchor ({size}, {root}): {e}",
                current.0, current.1
            ))
        })?;
        (current, log.prove_inclusion(receipt.leaf_index, current.0)?.path)
    };
    let ok = c
        .verifyInclusion(
            log_id,
            b256(&receipt.leaf_hash),
            receipt.leaf_index,
            current.0,
            b256(&current.1),
            inclusion_proof.iter().map(b256).collect(),
        )
        .call()
        .await
        .map_err(call_err("verifyInclusion"))?;
    if !ok {
        return Err(bad("the contract's verifyInclusion returned false".into()));
    }
    Ok(OnchainVerified {
        chain_id,
        contract: pins.contract,
        log_id,
        event_found,
        key_registered: true,
        latest,
        current,
        consistent_with_current: !latest,
        contract_inclusion: true,
    })
}
