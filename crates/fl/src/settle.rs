//! A round's chain path, used by `alara demo fl`, the networked coordinator and the tests:
//! [`ClientGate`] decides which updates count (registered clients, EIP-712 commitments
//! signed by their accounts), and [`Settler`] turns a closed round into what it leaves
//! behind — the global model in the content store, ONE `settleRound` transaction, the
//! `training_round` audit entry — and pays clients (their claims, `payout` entries).

use std::collections::HashMap;

use alara_audit::AuditTrail;
use alara_store::Store;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use serde::{Deserialize, Serialize};

use crate::chain::{FederatedTraining, RewardLedger, RoundSettlement, Tx};
use crate::commitment::{domain, SignedCommitment, UpdateCommitment};
use crate::round::RoundRecord;
use crate::{trail, Error, RejectReason, Result, Weights};

/// Where a task lives on-chain: the EIP-712 domain of its commitments and its task id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainTask {
    /// Chain id.
    pub chain_id: u64,
    /// The `FederatedTraining` contract.
    pub contract: Address,
    /// Task id in the contract.
    pub task: U256,
}

impl ChainTask {
    /// The commitment a client signs for an update.
    pub fn commitment(&self, round: u64, update_hash: [u8; 32], samples: u64) -> UpdateCommitment {
        UpdateCommitment {
            task: self.task,
            round,
            updateHash: B256::from(update_hash),
            sampleCount: samples,
        }
    }

    /// The EIP-712 domain.
    pub fn domain(&self) -> alloy::sol_types::Eip712Domain {
        domain(self.chain_id, self.contract)
    }
}

/// The coordinator's gate: only registered client ids count, and only with an
/// `UpdateCommitment` for exactly this task, round, update and sample count, signed by the
/// account registered for that id.
#[derive(Debug, Clone)]
pub struct ClientGate {
    chain: ChainTask,
    clients: HashMap<String, Address>,
}

impl ClientGate {
    /// A gate for `chain` admitting `clients` (client id → account).
    pub fn new(chain: ChainTask, clients: impl IntoIterator<Item = (String, Address)>) -> Self {
        Self { chain, clients: clients.into_iter().collect() }
    }

    /// The task the commitments are for.
    pub fn chain(&self) -> &ChainTask {
        &self.chain
    }

    /// The registered clients.
    pub fn clients(&self) -> &HashMap<String, Address> {
        &self.clients
    }

    /// Checks an update before it reaches the coordinator; returns the client's account.
    pub fn check(
        &self,
        client_id: &str,
        round: u64,
        update_hash: [u8; 32],
        samples: u64,
        signature: Option<&[u8]>,
    ) -> std::result::Result<Address, RejectReason> {
        let account = *self.clients.get(client_id).ok_or(RejectReason::UnknownClient)?;
        let signature = signature.ok_or_else(|| {
            RejectReason::BadSignature(
                "no x-alara-signature header (EIP-712 UpdateCommitment)".into(),
            )
        })?;
        let signed = SignedCommitment {
            commitment: self.chain.commitment(round, update_hash, samples),
            signature: signature.to_vec().into(),
        };
        let signer = signed
            .signer(&self.chain.domain())
            .map_err(|e| RejectReason::BadSignature(e.to_string()))?;
        if signer != account {
            return Err(RejectReason::BadSignature(format!(
                "signed by {signer}, the client's account is {account}"
            )));
        }
        Ok(account)
    }
}

/// What settling one round produced.
#[derive(Debug, Clone)]
pub struct SettledRound {
    /// The `settleRound` arguments, including the reward tree (for claims).
    pub settlement: RoundSettlement,
    /// CIDv0 of the global model in the content store.
    pub model_cid: String,
    /// The settlement transaction.
    pub tx: Tx<()>,
}

/// A paid claim.
#[derive(Debug, Clone)]
pub struct Payout {
    /// The client's account.
    pub client: Address,
    /// The claim transaction; its value is the amount paid (from the `Claimed` event).
    pub tx: Tx<U256>,
}

/// Settles the rounds of one task: store, chain, audit trail, in that order, so an audit
/// entry only names a settled model.
pub struct Settler<P> {
    ft: FederatedTraining<P>,
    task: U256,
    token: Address,
    store: Store,
    trail: AuditTrail,
    ledger: RewardLedger,
    accounts: HashMap<String, Address>,
    aggregator: String,
    task_name: String,
    rounds: Vec<SettledRound>,
    audit_entries: usize,
}

impl<P: Provider + Clone> Settler<P> {
    /// A settler for `task` of `ft` (sending as the task's coordinator). `accounts` maps
    /// client ids to their accounts; `task_name` and `aggregator` go into the audit entries.
    pub async fn new(
        ft: FederatedTraining<P>,
        task: U256,
        store: Store,
        trail: AuditTrail,
        accounts: HashMap<String, Address>,
        task_name: &str,
        aggregator: &str,
    ) -> Result<Self> {
        let token = ft.token().await?;
        let ledger = RewardLedger::new(ft.leaf_domain(task));
        Ok(Self {
            ft,
            task,
            token,
            store,
            trail,
            ledger,
            accounts,
            aggregator: aggregator.to_string(),
            task_name: task_name.to_string(),
            rounds: Vec::new(),
            audit_entries: 0,
        })
    }

    /// Creates a task paying `pool` with `me` (the sender) as coordinator, approves
    /// `accounts` in one transaction, and returns its settler.
    #[allow(clippy::too_many_arguments)]
    pub async fn create(
        ft: FederatedTraining<P>,
        me: Address,
        pool: U256,
        config_hash: B256,
        store: Store,
        trail: AuditTrail,
        accounts: HashMap<String, Address>,
        task_name: &str,
        aggregator: &str,
    ) -> Result<Self> {
        let task = ft.create_task(me, pool, config_hash).await?.value;
        let mut approved: Vec<Address> = accounts.values().copied().collect();
        approved.sort();
        ft.add_clients(task, &approved).await?;
        Self::new(ft, task, store, trail, accounts, task_name, aggregator).await
    }

    /// The on-chain task.
    pub fn chain_task(&self) -> ChainTask {
        ChainTask { chain_id: self.ft.chain_id(), contract: self.ft.address(), task: self.task }
    }

    /// The gate admitting this task's clients.
    pub fn gate(&self) -> ClientGate {
        ClientGate::new(self.chain_task(), self.accounts.clone())
    }

    /// The task id.
    pub fn task(&self) -> U256 {
        self.task
    }

    /// The reward token.
    pub fn token(&self) -> Address {
        self.token
    }

    /// The contract client.
    pub fn contract(&self) -> &FederatedTraining<P> {
        &self.ft
    }

    /// Rounds settled so far.
    pub fn rounds(&self) -> &[SettledRound] {
        &self.rounds
    }

    /// Audit entries written so far.
    pub fn audit_entries(&self) -> usize {
        self.audit_entries
    }

    /// The reward ledger (every client's latest leaf).
    pub fn ledger(&self) -> &RewardLedger {
        &self.ledger
    }

    /// Settles a closed round whose global model is `global`: stores the model, sends
    /// `settleRound`, appends the `training_round` entry.
    pub async fn settle(
        &mut self,
        record: &RoundRecord,
        global: &Weights,
    ) -> Result<&SettledRound> {
        if global.hash() != record.global_model_hash {
            return Err(Error::Config(format!(
                "round {}: the model given is not the round's global model",
                record.round
            )));
        }
        let (model_cid, cid_digest) = trail::store_model(&self.store, global)?;
        let settlement = self.ledger.settle(record, &self.accounts, cid_digest)?;
        let tx = self.ft.settle_round(self.task, &settlement).await?;
        let entry = alara_audit::entry::Entry::now(trail::round_entry(record, &self.aggregator));
        self.trail.append(&entry)?;
        self.audit_entries += 1;
        self.rounds.push(SettledRound { settlement, model_cid, tx });
        Ok(self.rounds.last().unwrap_or_else(|| unreachable!("just pushed")))
    }

    /// The claim a client can make now: the latest tree, its leaf and proof.
    pub fn claim_ticket(&self, client: Address) -> Option<ClaimTicket> {
        let last = self.rounds.last()?;
        let (i, leaf) = last.settlement.tree.leaf_of(client)?;
        let proof = last.settlement.tree.proof(i).ok()?;
        Some(ClaimTicket {
            chain: self.chain_task(),
            round: last.settlement.round,
            leaf: *leaf,
            proof,
        })
    }

    /// Records a claim a client made (`payout` audit entry).
    pub fn record_payout(&mut self, payout: &Payout) -> Result<()> {
        let amount: u128 = payout.tx.value.try_into().map_err(|_| {
            Error::Config(format!("claimed amount {} does not fit 128 bits", payout.tx.value))
        })?;
        let entry = alara_audit::entry::Entry::now(trail::payout_entry(
            &self.task_name,
            &payout.client.to_string(),
            &self.token.to_string(),
            amount,
            Some(payout.tx.hash),
        ));
        self.trail.append(&entry)?;
        self.audit_entries += 1;
        Ok(())
    }
}

/// Everything a client needs to claim: the task, the round whose tree it proves against,
/// its leaf and the proof. The coordinator serves it at `GET /v1/claim/{address}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimTicket {
    /// The task on-chain.
    pub chain: ChainTask,
    /// Round of the tree.
    pub round: u64,
    /// The client's leaf.
    pub leaf: crate::merkle::RewardLeaf,
    /// Its Merkle proof.
    pub proof: Vec<B256>,
}

/// A client claims its ticket with its own `FederatedTraining` client (its key).
pub async fn claim<Q: Provider + Clone>(
    ft: &FederatedTraining<Q>,
    ticket: &ClaimTicket,
) -> Result<Payout> {
    let tx = ft.claim(ticket.chain.task, ticket.round, &ticket.leaf, &ticket.proof).await?;
    Ok(Payout { client: ticket.leaf.client, tx })
}
