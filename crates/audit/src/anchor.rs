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
//! `msg.sender`, so an anchor call carries no id (see [`anchor_calldata`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, B256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, TransactionRequest};
use alloy::sol_types::SolEvent;
use serde::{Deserialize, Serialize};

use alara_contracts::{AddressBook, AuditAnchor};

use crate::checkpoint::SignedCheckpoint;
use crate::hash::Hash;
use crate::log::Log;
use crate::receipt::{AnchorInfo, Receipt};
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

fn b256(h: &Hash) -> B256 {
    B256::from(h.0)
}

/// Name of the contract in the address book (`<data-dir>/addresses/<chain-id>.json`).
pub const CONTRACT_NAME: &str = "AuditAnchor";

/// Deploys `AuditAnchor` once per chain and records it in the address book under
/// [`CONTRACT_NAME`]; later calls return the recorded address without a transaction as long
/// as code is still there (a wiped devnet gets a fresh deployment).
pub async fn ensure_deployed<P: Provider>(provider: &P, data_dir: &Path) -> Result<Address> {
    let chain_id = provider.get_chain_id().await.map_err(chain("eth_chainId"))?;
    let genesis_hash = provider
        .get_block_by_number(BlockNumberOrTag::Number(0))
        .await
        .map_err(chain("eth_getBlockByNumber(0)"))?
        .map(|b| b.header.hash)
        .unwrap_or_default();
    let mut book = AddressBook::load(data_dir, chain_id, genesis_hash)
        .map_err(chain("reading the address book"))?
        .unwrap_or(AddressBook { chain_id, genesis_hash, ..Default::default() });
    if let Some(addr) = alara_contracts::deploy::deployed(provider, &book, CONTRACT_NAME)
        .await
        .map_err(chain("eth_getCode"))?
    {
        return Ok(addr);
    }
    let c = AuditAnchor::deploy(provider).await.map_err(chain("deploying AuditAnchor"))?;
    let addr = *c.address();
    tracing::info!(%addr, "deployed AuditAnchor");
    book.contracts.insert(CONTRACT_NAME.into(), addr);
    book.save(data_dir).map_err(chain("writing the address book"))?;
    Ok(addr)
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
/// log, confirmed the same way. `(0, zero)` before the first anchor.
pub async fn latest_anchor<P: Provider + Clone>(
    provider: &P,
    contract: Address,
    signer: Address,
    known: Option<(u64, Hash)>,
) -> Result<(u64, Hash)> {
    let c = AuditAnchor::new(contract, provider.clone());
    let is_latest = |size: u64, root: Hash| {
        let c = c.clone();
        async move { c.isLatest(signer, size, b256(&root)).call().await.map_err(chain("isLatest")) }
    };
    let zero = (0, Hash([0; 32]));
    for (size, root) in known.into_iter().chain([zero]) {
        if is_latest(size, root).await? {
            return Ok((size, root));
        }
    }
    let filter = Filter::new()
        .address(contract)
        .event_signature(AuditAnchor::Anchored::SIGNATURE_HASH)
        .from_block(0);
    let logs = provider.get_logs(&filter).await.map_err(chain("eth_getLogs(Anchored)"))?;
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
    /// Connects to the contract recorded in `<dir>/anchors.json`, or deploys `AuditAnchor`
    /// (when `contract` is `None`) and registers the log with `signer` as its anchoring
    /// account. A state file for another chain, or whose contract has no code (a wiped
    /// devnet), is replaced.
    pub async fn setup(
        provider: P,
        signer: Address,
        log: &Log,
        dir: &Path,
        contract: Option<Address>,
        policy: AnchorPolicy,
    ) -> Result<Self> {
        let chain_id = provider.get_chain_id().await.map_err(chain("eth_chainId"))?;
        let note_key = B256::from(log.verifier().public_key());
        if let Some(state) = AnchorState::load(dir)? {
            let same_contract = contract.is_none_or(|c| c == state.contract);
            let code = provider.get_code_at(state.contract).await.map_err(chain("eth_getCode"))?;
            if state.chain_id == chain_id && same_contract && !code.is_empty() {
                return Ok(Self {
                    provider,
                    signer,
                    state,
                    dir: dir.to_path_buf(),
                    policy,
                    last_anchor_at: std::time::Instant::now(),
                });
            }
            tracing::warn!(
                chain_id,
                "anchor state belongs to another chain or contract; starting afresh"
            );
        }
        let address = match contract {
            Some(a) => a,
            None => {
                let c = AuditAnchor::deploy(provider.clone())
                    .await
                    .map_err(chain("deploying AuditAnchor"))?;
                tracing::info!(address = %c.address(), "deployed AuditAnchor");
                *c.address()
            }
        };
        let instance = AuditAnchor::new(address, provider.clone());
        let log_id = signer;
        match instance.noteKeyOf(signer).call().await {
            Ok(k) if k != note_key => {
                return Err(Error::Chain(format!(
                    "account {signer} already anchors a log signed by key {k} in {address}; this log's key is {note_key}: anchor it from another account"
                )))
            }
            Ok(_) => {}
            Err(_) => {
            instance
                .registerLog(note_key)
                .send()
                .await
                .map_err(chain("registerLog"))?
                .get_receipt()
                .await
                .map_err(chain("registerLog receipt"))?;
            }
        }
        let state =
            AnchorState { chain_id, contract: address, log_id, anchored: vec![], pending: None };
        state.save(dir)?;
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
        let tx = TransactionRequest::default()
            .with_from(self.signer)
            .with_to(self.state.contract)
            .with_input(anchor_calldata(chain_size, target.size, &hashes))
            .with_nonce(nonce);
        let pending = self.provider.send_transaction(tx).await.map_err(chain("anchor"))?;
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
/// its entry. Returns false when no anchor covers it yet.
pub fn upgrade_receipt(receipt: &mut Receipt, log: &Log, state: &AnchorState) -> Result<bool> {
    let Some(a) = state.covering(receipt.leaf_index) else { return Ok(false) };
    let cp = SignedCheckpoint::parse(&receipt.checkpoint)?;
    if cp.checkpoint.size > a.size {
        return Ok(false);
    }
    let anchored = log.checkpoint_covering(a.size - 1)?;
    if anchored.checkpoint.size != a.size || anchored.checkpoint.root != a.root {
        return Err(Error::Corrupt {
            path: log.dir().to_path_buf(),
            detail: format!("no signed checkpoint of size {} with the anchored root", a.size),
        });
    }
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

/// What [`verify_onchain`] established.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct OnchainVerified {
    /// Chain id checked.
    pub chain_id: u64,
    /// The anchor event was found in the recorded transaction and block.
    pub event_found: bool,
    /// The log's note key registered on-chain equals the receipt's key.
    pub key_registered: bool,
    /// `verifyInclusion` returned true (only asked while the anchor is the latest).
    pub contract_inclusion: Option<bool>,
    /// The receipt's anchor is still the log's latest on-chain.
    pub latest: bool,
}

/// Verifies an anchored receipt against the chain: offline checks, the `Anchored` event in
/// the recorded transaction, the registered note key and, while the anchor is the latest,
/// the contract's own `verifyInclusion`.
pub async fn verify_onchain<P: Provider + Clone>(
    provider: &P,
    receipt: &Receipt,
) -> Result<OnchainVerified> {
    let offline = receipt.verify_offline(None)?;
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
    let chain_id = provider.get_chain_id().await.map_err(chain("eth_chainId"))?;
    if chain_id != a.chain_id {
        return Err(bad(format!(
            "receipt is for chain {}, the RPC serves chain {chain_id}",
            a.chain_id
        )));
    }
    let contract: Address =
        a.contract.parse().map_err(|e| bad(format!("contract {:?}: {e}", a.contract)))?;
    let log_id: Address =
        a.log_id.parse().map_err(|e| bad(format!("log id {:?}: {e}", a.log_id)))?;
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
        l.address() == contract
            && l.log_decode::<AuditAnchor::Anchored>().is_ok_and(|e| {
                e.inner.data.signer == log_id
                    && e.inner.data.treeSize == size
                    && e.inner.data.rootHash == b256(&root)
            })
    });
    if !event_found {
        return Err(bad(format!(
            "no Anchored({log_id}, {size}, {root}) event from {contract} in {tx}"
        )));
    }
    let c = AuditAnchor::new(contract, provider.clone());
    let note_key = c.noteKeyOf(log_id).call().await.map_err(chain("noteKeyOf"))?;
    let key_registered = note_key.0 == receipt.log.verifier_key.public_key();
    if !key_registered {
        return Err(bad(
            "the receipt's log key is not the key registered for this log on-chain".into()
        ));
    }
    let latest = c.isLatest(log_id, size, b256(&root)).call().await.map_err(chain("isLatest"))?;
    let contract_inclusion = if latest {
        let ok = c
            .verifyInclusion(
                log_id,
                b256(&receipt.leaf_hash),
                receipt.leaf_index,
                size,
                b256(&root),
                a.inclusion_proof.iter().map(b256).collect(),
            )
            .call()
            .await
            .map_err(chain("verifyInclusion"))?;
        if !ok {
            return Err(bad("the contract's verifyInclusion returned false".into()));
        }
        Some(true)
    } else {
        None
    };
    Ok(OnchainVerified { chain_id, event_found, key_registered, contract_inclusion, latest })
}
