//! Settlement on-chain: a typed client of the `FederatedTraining` contract,
//! [`ensure_deployed`], and the [`RewardLedger`] that turns round records into the one
//! `settleRound` transaction per round.
//!
//! Every transaction method waits for the receipt and returns a [`Tx`] with the gas used;
//! a revert becomes [`Error::Contract`] carrying the contract's named error, e.g.
//! `NothingToClaim { taskId: 1, … }`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use alara_contracts::call::{decoder, event_of, send, CallError, Decoder};
use alara_contracts::AlaraToken;
use alara_contracts::FederatedTraining as Binding;
use alloy::network::Ethereum;
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::Eip712Domain;
use serde::Serialize;

use crate::commitment::{domain, SignedCommitment};
use crate::merkle::{LeafDomain, RewardLeaf, RewardTree};
use crate::round::RoundRecord;
use crate::{Error, Result};

/// Name of the contract in the address book.
pub const CONTRACT_NAME: &str = "FederatedTraining";

/// The instance type of the generated binding.
pub type Instance<P> = Binding::FederatedTrainingInstance<P, Ethereum>;

/// The errors a FederatedTraining call can revert with: the contract's, then the token's.
pub const DECODERS: &[Decoder] =
    &[decoder::<Binding::FederatedTrainingErrors>, decoder::<AlaraToken::AlaraTokenErrors>];

/// A readable form of revert data: `Name { field: value, … }` for the contract's and the
/// token's named errors.
pub fn describe_revert(data: &[u8]) -> String {
    alara_contracts::call::describe_revert(data, DECODERS)
}

fn contract_error(call: &'static str) -> impl FnOnce(alloy::contract::Error) -> Error {
    move |source| Error::Contract(CallError::from_contract(call, DECODERS, source))
}

fn rpc(what: &'static str) -> impl FnOnce(alloy::transports::TransportError) -> Error {
    move |e| Error::Contract(CallError::rpc(what)(e))
}

/// Deploys `FederatedTraining` (paying in `token`) once per chain and records it in the
/// address book under [`CONTRACT_NAME`]; later calls return the recorded address without a
/// transaction as long as code is still there.
pub async fn ensure_deployed<P: Provider>(
    provider: &P,
    data_dir: &Path,
    token: Address,
) -> Result<Address> {
    alara_contracts::deploy::ensure(provider, data_dir, CONTRACT_NAME, || deploy(provider, token))
        .await
}

/// Deploys a new `FederatedTraining` paying rewards in `token`.
pub async fn deploy<P: Provider>(provider: &P, token: Address) -> Result<Address> {
    let instance = Binding::deploy(provider, token).await.map_err(contract_error("constructor"))?;
    Ok(*instance.address())
}

pub use alara_contracts::Tx;

/// A task as the contract stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskState {
    /// Sends the round settlements.
    pub coordinator: Address,
    /// Funded the pool.
    pub creator: Address,
    /// Last settled round (0: none).
    pub last_round: u64,
    /// Closed: no more rounds.
    pub closed: bool,
    /// The unclaimed rest went back to the creator after the claim window.
    pub swept: bool,
    /// Open: the earliest time the creator may close (0: no close requested); closed:
    /// when it closed (claims are accepted until `close_at + CLAIM_WINDOW`).
    pub close_at: u64,
    /// Clients the coordinator approved.
    pub clients: u32,
    /// Escrowed reward pool.
    pub pool: U256,
    /// Rewards allocated so far.
    pub total_cumulative: U256,
    /// Rewards paid out so far.
    pub total_claimed: U256,
    /// Root of the latest reward tree.
    pub rewards_root: B256,
    /// Hash of the latest global model.
    pub global_model_hash: B256,
    /// CID digest of the latest global model.
    pub global_model_cid: B256,
    /// Commitment to the task configuration.
    pub config_hash: B256,
}

/// One `settleRound` call: the round's global model and the reward tree over every
/// client's cumulative reward.
#[derive(Debug, Clone)]
pub struct RoundSettlement {
    /// Round number.
    pub round: u64,
    /// SHA-256 of the global model's canonical safetensors.
    pub global_model_hash: B256,
    /// SHA-256 digest of the global model's CIDv0 in the content store (zero if not stored).
    pub global_model_cid: B256,
    /// Reward tree of every client rewarded so far.
    pub tree: RewardTree,
    /// Sum of the tree's cumulative rewards.
    pub total_cumulative: U256,
}

/// Every client's latest leaf across rounds: a client absent from a round keeps its
/// cumulative reward in the next tree, so one claim always covers every round so far.
/// A client's cumulative reward never goes down from one tree to the next.
#[derive(Debug, Clone)]
pub struct RewardLedger {
    domain: LeafDomain,
    leaves: BTreeMap<Address, RewardLeaf>,
}

impl RewardLedger {
    /// An empty ledger for the task and contract of `domain`.
    pub fn new(domain: LeafDomain) -> Self {
        Self { domain, leaves: BTreeMap::new() }
    }

    /// The chain, contract and task the ledger's trees are bound to.
    pub fn domain(&self) -> &LeafDomain {
        &self.domain
    }

    /// Applies a round and returns its settlement. `accounts` maps client ids to the
    /// accounts that signed their updates; a client without an account is an error, and
    /// so is a record that lowers a client's cumulative reward.
    pub fn settle(
        &mut self,
        record: &RoundRecord,
        accounts: &HashMap<String, Address>,
        global_model_cid: B256,
    ) -> Result<RoundSettlement> {
        for c in &record.clients {
            let client = *accounts.get(&c.client_id).ok_or_else(|| {
                Error::Config(format!(
                    "client `{}` of round {} has no account to pay",
                    c.client_id, record.round
                ))
            })?;
            let cumulative = U256::from(c.cumulative_reward);
            if let Some(prev) = self.leaves.get(&client) {
                if cumulative < prev.cumulative {
                    return Err(Error::Config(format!(
                        "round {} lowers the cumulative reward of `{}` from {} to {cumulative}",
                        record.round, c.client_id, prev.cumulative
                    )));
                }
            }
            self.leaves.insert(
                client,
                RewardLeaf {
                    client,
                    update_hash: B256::from(c.update_hash),
                    score: U256::from(c.score.score_fixed),
                    cumulative: U256::from(c.cumulative_reward),
                },
            );
        }
        let leaves: Vec<RewardLeaf> = self.leaves.values().copied().collect();
        let total_cumulative = leaves.iter().map(|l| l.cumulative).sum();
        Ok(RoundSettlement {
            round: record.round,
            global_model_hash: B256::from(record.global_model_hash),
            global_model_cid,
            tree: RewardTree::new(self.domain, leaves)?,
            total_cumulative,
        })
    }

    /// The latest leaf of `client`.
    pub fn leaf(&self, client: Address) -> Option<&RewardLeaf> {
        self.leaves.get(&client)
    }
}

/// A typed client of one `FederatedTraining` deployment, sending from the provider's
/// default account.
#[derive(Debug, Clone)]
pub struct FederatedTraining<P> {
    instance: Instance<P>,
    chain_id: u64,
}

impl<P: Provider + Clone> FederatedTraining<P> {
    /// Connects to the contract at `address`.
    pub async fn new(address: Address, provider: P) -> Result<Self> {
        let chain_id = provider.get_chain_id().await.map_err(rpc("eth_chainId"))?;
        Ok(Self { instance: Binding::new(address, provider), chain_id })
    }

    /// The contract address.
    pub fn address(&self) -> Address {
        *self.instance.address()
    }

    /// The leaf domain of `task` in this contract.
    pub fn leaf_domain(&self, task: U256) -> LeafDomain {
        LeafDomain { chain_id: self.chain_id, contract: self.address(), task }
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The EIP-712 domain clients sign update commitments in.
    pub fn domain(&self) -> Eip712Domain {
        domain(self.chain_id, self.address())
    }

    /// The generated binding (for calls this client does not wrap).
    pub fn instance(&self) -> &Instance<P> {
        &self.instance
    }

    /// The reward token.
    pub async fn token(&self) -> Result<Address> {
        self.instance.token().call().await.map_err(contract_error("token"))
    }

    /// Sends `call` through [`alara_contracts::call::send`] (simulated first) and waits
    /// for its receipt.
    async fn mined<Q: Provider, D: alloy::contract::CallDecoder>(
        &self,
        name: &'static str,
        call: &alloy::contract::CallBuilder<Q, D, Ethereum>,
    ) -> Result<TransactionReceipt> {
        Ok(send(name, call, DECODERS).await?)
    }

    /// Approves the pool to the contract and creates a task: returns the task id (from the
    /// `TaskCreated` event) and the gas of the `createTask` transaction.
    pub async fn create_task(
        &self,
        coordinator: Address,
        pool: U256,
        config_hash: B256,
    ) -> Result<Tx<U256>> {
        let token = AlaraToken::new(self.token().await?, self.instance.provider().clone());
        self.mined("approve", &token.approve(self.address(), pool)).await?;
        let call = self.instance.createTask(coordinator, pool, config_hash);
        let receipt = self.mined("createTask", &call).await?;
        let id = event_of::<Binding::TaskCreated>(&receipt, self.address(), "createTask")?.taskId;
        Ok(Tx::from_receipt(&receipt, id))
    }

    /// Asks to be a client of `task` (the coordinator approves with [`Self::add_clients`]).
    pub async fn register(&self, task: U256) -> Result<Tx<()>> {
        let call = self.instance.register(task);
        let r = self.mined("register", &call).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// The coordinator approves `clients` in one transaction.
    pub async fn add_clients(&self, task: U256, clients: &[Address]) -> Result<Tx<()>> {
        let call = self.instance.addClients(task, clients.to_vec());
        let r = self.mined("addClients", &call).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Settles a round: one transaction whatever the number of clients.
    pub async fn settle_round(&self, task: U256, s: &RoundSettlement) -> Result<Tx<()>> {
        let call = self.instance.settleRound(
            task,
            s.round,
            s.global_model_hash,
            s.global_model_cid,
            s.tree.root(),
            s.total_cumulative,
        );
        let r = self.mined("settleRound", &call).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Claims the sender's cumulative reward with its `leaf` and `proof` in the tree
    /// settled for `round`; returns the amount paid.
    pub async fn claim(
        &self,
        task: U256,
        round: u64,
        leaf: &RewardLeaf,
        proof: &[B256],
    ) -> Result<Tx<U256>> {
        let call = self.instance.claim(
            task,
            round,
            leaf.cumulative,
            leaf.update_hash,
            leaf.score,
            proof.to_vec(),
        );
        let r = self.mined("claim", &call).await?;
        let amount = event_of::<Binding::Claimed>(&r, self.address(), "claim")?.amount;
        Ok(Tx::from_receipt(&r, amount))
    }

    /// Claims with the sender's leaf from `settlement`.
    pub async fn claim_from(
        &self,
        task: U256,
        settlement: &RoundSettlement,
        client: Address,
    ) -> Result<Tx<U256>> {
        let (i, leaf) = settlement.tree.leaf_of(client).ok_or_else(|| {
            Error::Config(format!("{client} has no leaf in the round {} tree", settlement.round))
        })?;
        let proof = settlement.tree.proof(i)?;
        self.claim(task, settlement.round, leaf, &proof).await
    }

    /// The creator announces closing: it may close after the contract's `CLOSE_NOTICE`,
    /// rounds can be settled until then. Returns the earliest close time.
    pub async fn request_close(&self, task: U256) -> Result<Tx<()>> {
        let call = self.instance.requestClose(task);
        let r = self.mined("requestClose", &call).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Closes a task (the coordinator at any time, the creator after its notice); the
    /// unallocated pool goes back to the creator.
    pub async fn close_task(&self, task: U256) -> Result<Tx<()>> {
        let call = self.instance.closeTask(task);
        let r = self.mined("closeTask", &call).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// After the claim window of a closed task, the creator takes back what is unclaimed.
    pub async fn sweep(&self, task: U256) -> Result<Tx<()>> {
        let call = self.instance.sweep(task);
        let r = self.mined("sweep", &call).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// The reward root settled for `round` (zero if none).
    pub async fn root_of(&self, task: U256, round: u64) -> Result<B256> {
        self.instance.rootOf(task, round).call().await.map_err(contract_error("rootOf"))
    }

    /// The task's state.
    pub async fn task(&self, task: U256) -> Result<TaskState> {
        let t = self.instance.getTask(task).call().await.map_err(contract_error("getTask"))?;
        Ok(TaskState {
            coordinator: t.coordinator,
            creator: t.creator,
            last_round: t.lastRound,
            closed: t.closed,
            swept: t.swept,
            close_at: t.closeAt,
            clients: t.clients,
            pool: t.pool,
            total_cumulative: t.totalCumulative,
            total_claimed: t.totalClaimed,
            rewards_root: t.rewardsRoot,
            global_model_hash: t.globalModelHash,
            global_model_cid: t.globalModelCid,
            config_hash: t.configHash,
        })
    }

    /// What `client` has claimed from `task`.
    pub async fn claimed(&self, task: U256, client: Address) -> Result<U256> {
        self.instance.claimed(task, client).call().await.map_err(contract_error("claimed"))
    }

    /// Whether `client` is registered for `task`.
    pub async fn is_registered(&self, task: U256, client: Address) -> Result<bool> {
        self.instance
            .isRegistered(task, client)
            .call()
            .await
            .map_err(contract_error("isRegistered"))
    }

    /// The contract's own check of a signed commitment (registered signer, unsettled round).
    pub async fn is_valid_update(&self, signed: &SignedCommitment) -> Result<bool> {
        let c = &signed.commitment;
        self.instance
            .isValidUpdate(c.task, c.round, c.updateHash, c.sampleCount, signed.signature.clone())
            .call()
            .await
            .map_err(contract_error("isValidUpdate"))
    }

    /// The signer the contract recovers from a signed commitment.
    pub async fn update_signer(&self, signed: &SignedCommitment) -> Result<Address> {
        let c = &signed.commitment;
        self.instance
            .updateSigner(c.task, c.round, c.updateHash, c.sampleCount, signed.signature.clone())
            .call()
            .await
            .map_err(contract_error("updateSigner"))
    }

    /// The EIP-712 digest the contract computes for a commitment.
    pub async fn update_digest(&self, signed: &SignedCommitment) -> Result<B256> {
        let c = &signed.commitment;
        self.instance
            .updateDigest(c.task, c.round, c.updateHash, c.sampleCount)
            .call()
            .await
            .map_err(contract_error("updateDigest"))
    }

    /// The leaf hash the contract computes for `leaf` in `task`.
    pub async fn reward_leaf(&self, task: U256, leaf: &RewardLeaf) -> Result<B256> {
        self.instance
            .rewardLeaf(task, leaf.client, leaf.update_hash, leaf.score, leaf.cumulative)
            .call()
            .await
            .map_err(contract_error("rewardLeaf"))
    }
}

/// Raw revert data of a refused call ([`Error::Contract`]), for matching on a named error.
pub fn revert_data(e: &Error) -> Option<&Bytes> {
    match e {
        Error::Contract(c) => c.revert_data(),
        _ => None,
    }
}

/// Gas of the settlement path, measured on a real chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct GasProfile {
    /// Clients in every reward tree.
    pub clients: usize,
    /// Rounds settled.
    pub rounds: u64,
    /// Gas of the first `settleRound` (fresh storage slots).
    pub settle_first: u64,
    /// Mean gas of the later `settleRound`s.
    pub settle_later: u64,
    /// Gas of one `claim` covering every round (proof depth ⌈log2 clients⌉).
    pub claim: u64,
    /// Gas of `createTask` (approve not included).
    pub create_task: u64,
    /// Gas of a client's `register` (one storage write and an event: the size of a
    /// transaction that records one update hash).
    pub register: u64,
}

impl GasProfile {
    /// Total gas of the whole task: the settlements plus one claim per client.
    pub fn total(&self) -> u64 {
        self.create_task
            + self.settle_first
            + self.settle_later * self.rounds.saturating_sub(1)
            + self.claim * self.clients as u64
    }
}

/// Settles `rounds` rounds of `clients` clients (synthetic leaves plus the sender, so it
/// can claim) on a fresh `FederatedTraining` paying in `token`, and measures the gas. The
/// sender `me` must hold enough `token` for the pool (`rounds × clients` base units).
pub async fn gas_profile<P: Provider + Clone>(
    provider: P,
    me: Address,
    token: Address,
    clients: usize,
    rounds: u64,
) -> Result<GasProfile> {
    if clients == 0 || rounds == 0 {
        return Err(Error::Config("gas profile needs at least one client and one round".into()));
    }
    let address = deploy(&provider, token).await?;
    let ft = FederatedTraining::new(address, provider).await?;
    let pool = U256::from(rounds) * U256::from(clients as u64);
    let task = ft.create_task(me, pool, B256::ZERO).await?;
    let create_task = task.gas_used;
    let task = task.value;
    let register = ft.register(task).await?.gas_used;
    let mut ledger_last = None;
    let (mut first, mut later) = (0u64, 0u64);
    for round in 1..=rounds {
        let leaves: Vec<RewardLeaf> = (0..clients)
            .map(|i| RewardLeaf {
                client: if i == 0 { me } else { Address::with_last_byte(0x11).create(i as u64) },
                update_hash: alloy::primitives::keccak256(
                    [round.to_be_bytes(), (i as u64).to_be_bytes()].concat(),
                ),
                score: U256::from(1_000_000_000u64 / clients as u64),
                cumulative: U256::from(round),
            })
            .collect();
        let s = RoundSettlement {
            round,
            global_model_hash: B256::repeat_byte(round as u8),
            global_model_cid: B256::repeat_byte(0x80 | round as u8),
            total_cumulative: U256::from(round) * U256::from(clients as u64),
            tree: RewardTree::new(ft.leaf_domain(task), leaves)?,
        };
        let gas = ft.settle_round(task, &s).await?.gas_used;
        if round == 1 {
            first = gas;
        } else {
            later += gas;
        }
        ledger_last = Some(s);
    }
    let last = ledger_last.ok_or_else(|| Error::Config("no round settled".into()))?;
    let claim = ft.claim_from(task, &last, me).await?.gas_used;
    Ok(GasProfile {
        clients,
        rounds,
        settle_first: first,
        settle_later: if rounds > 1 { later / (rounds - 1) } else { first },
        claim,
        create_task,
        register,
    })
}
