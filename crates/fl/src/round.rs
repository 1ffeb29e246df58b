//! One federated task and its rounds: the configuration, client updates, the record
//! of a round, and the [`Coordinator`] state machine that both the simulation and the
//! networked mode drive (same code path: `submit` every update, then `close_round`).
//!
//! A [`RoundRecord`] carries everything the on-chain settlement needs: per client the
//! update hash, score and cumulative reward (the Merkle leaves), plus the global model
//! hash, the config hash and the round seed.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use alara_ml::{Dataset, Standardizer};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    aggregate::{aggregate, DpConfig, ServerState, Strategy},
    artifacts::hex32,
    model::{evaluate, Evaluation, ModelSpec, Weights},
    rng,
    score::{score_round, split_rewards, ClientScore, RewardSplit, ScoreConfig, ScoreInput},
    train::LocalTraining,
    Error, RejectReason, Result,
};

/// Everything that defines a task; its SHA-256 (canonical JSON) is the config hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskConfig {
    /// Task identifier (also the on-chain task key).
    pub task_id: String,
    /// Master seed: initial model, round seeds, DP noise.
    pub seed: u64,
    /// Model architecture.
    pub model: ModelSpec,
    /// Local training every client runs.
    pub local: LocalTraining,
    /// Aggregation strategy.
    pub strategy: Strategy,
    /// DP-FedAvg, if enabled.
    pub dp: Option<DpConfig>,
    /// Scoring parameters.
    pub score: ScoreConfig,
    /// Reward split rule.
    pub reward: RewardSplit,
    /// Token units paid per round.
    pub reward_pool_per_round: u128,
    /// Number of rounds.
    pub rounds: u64,
    /// Minimum accepted updates to close a round (besides the strategy's own minimum).
    pub quorum: usize,
    /// Largest sample count a client may claim.
    pub max_samples_per_client: u64,
    /// Feature standardisation every client applies to its data before training.
    pub standardizer: Standardizer,
    /// SHA-256 (hex) of the validation set CSV the coordinator holds.
    pub validation_hash: String,
    /// SHA-256 (hex) of the initial model.
    pub initial_model_hash: String,
}

impl TaskConfig {
    /// Checks the configuration.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        self.local.validate()?;
        self.strategy.validate()?;
        if let Some(dp) = &self.dp {
            dp.validate()?;
            if !self.strategy.is_mean() {
                return Err(Error::Config(format!(
                    "DP-FedAvg applies to FedAvg, FedProx and FedAdam, not {}",
                    self.strategy.name()
                )));
            }
        }
        if self.rounds == 0 || self.quorum == 0 {
            return Err(Error::Config("rounds and quorum must be at least 1".into()));
        }
        if !(0.0..=1.0).contains(&self.score.quality_weight) {
            return Err(Error::Config("score quality weight must be in [0, 1]".into()));
        }
        if self.standardizer.mean.len() != self.model.n_features {
            return Err(Error::Config(format!(
                "standardizer has {} features, the model {}",
                self.standardizer.mean.len(),
                self.model.n_features
            )));
        }
        Ok(())
    }

    /// SHA-256 of the canonical JSON encoding.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(serde_json::to_vec(self).unwrap_or_default()).into()
    }

    /// The seed of round `round` (DP noise, client seeds in the simulation).
    pub fn round_seed(&self, round: u64) -> u64 {
        rng::derive_seed(self.seed, "round", &[round])
    }
}

/// SHA-256 (hex) of a dataset's CSV encoding.
pub fn dataset_hash(data: &Dataset) -> String {
    hex::encode(Sha256::digest(data.to_csv().as_bytes()))
}

/// A client's update for one round.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientUpdate {
    /// Client identifier: 1-64 characters of `[A-Za-z0-9_.-]`.
    pub client_id: String,
    /// The round it was trained for.
    pub round: u64,
    /// Self-reported number of local samples.
    pub sample_count: u64,
    /// The trained weights (full model, not a delta).
    pub weights: Weights,
    /// SHA-256 of the canonical safetensors of `weights`.
    pub update_hash: [u8; 32],
}

impl ClientUpdate {
    /// Builds an update, computing its hash.
    pub fn new(client_id: &str, round: u64, sample_count: u64, weights: Weights) -> Self {
        let update_hash = weights.hash();
        Self { client_id: client_id.to_string(), round, sample_count, weights, update_hash }
    }

    /// Decodes an update received as safetensors bytes for a model `spec`.
    pub fn from_bytes(
        spec: ModelSpec,
        client_id: &str,
        round: u64,
        sample_count: u64,
        bytes: &[u8],
    ) -> Result<Self> {
        let weights =
            Weights::from_safetensors(spec, bytes).map_err(|e| Error::RejectedUpdate {
                client: client_id.to_string(),
                round,
                reason: RejectReason::Malformed(e.to_string()),
            })?;
        Ok(Self::new(client_id, round, sample_count, weights))
    }
}

/// Checks a client id (it becomes a file name in the artifacts).
pub fn valid_client_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        && !id.starts_with('.')
}

/// One client's line in a [`RoundRecord`] (a Merkle leaf for settlement).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// Client identifier.
    pub client_id: String,
    /// SHA-256 of the update's canonical safetensors.
    #[serde(with = "hex32")]
    pub update_hash: [u8; 32],
    /// Self-reported sample count.
    pub sample_count: u64,
    /// Did the aggregator use the update (Krum selection)?
    pub selected: bool,
    /// Contribution score and its parts.
    pub score: ClientScore,
    /// Reward of this round, token units.
    pub reward: u128,
    /// Reward of all rounds so far, token units.
    pub cumulative_reward: u128,
}

/// The outcome of one round: what settlement commits and replay recomputes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    /// Task identifier.
    pub task_id: String,
    /// Round number (from 1).
    pub round: u64,
    /// Hash of the global model the round started from.
    #[serde(with = "hex32")]
    pub base_model_hash: [u8; 32],
    /// SHA-256 of the canonical safetensors of the new global model.
    #[serde(with = "hex32")]
    pub global_model_hash: [u8; 32],
    /// SHA-256 of the task configuration.
    #[serde(with = "hex32")]
    pub config_hash: [u8; 32],
    /// The round seed.
    pub seed: u64,
    /// Accepted updates in client order.
    pub clients: Vec<ClientRecord>,
    /// The new global model on the validation set.
    pub validation: Evaluation,
    /// Reward pool of the round, token units.
    pub reward_pool: u128,
    /// Client-level ε so far when DP is on (δ from the config).
    pub dp_epsilon: Option<f64>,
}

impl RoundRecord {
    /// SHA-256 of the canonical JSON encoding (replay comparisons).
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(serde_json::to_vec(self).unwrap_or_default()).into()
    }
}

/// An update that was turned away, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// Client identifier as given.
    pub client_id: String,
    /// Round claimed.
    pub round: u64,
    /// Why.
    pub reason: RejectReason,
}

/// The coordinator of one task: holds the global model, the held-out validation set,
/// the open round's accepted updates, and the history needed to detect replays and
/// copies. Deterministic: the same config, validation set and updates give the same
/// records, whatever order updates arrive in (they are processed in client-id order).
#[derive(Debug)]
pub struct Coordinator {
    config: TaskConfig,
    config_hash: [u8; 32],
    validation: Dataset,
    global: Weights,
    server: ServerState,
    round: u64,
    pending: BTreeMap<String, ClientUpdate>,
    seen: BTreeMap<[u8; 32], u64>,
    previous: Vec<(String, Vec<f32>)>,
    cumulative: BTreeMap<String, u128>,
    records: Vec<RoundRecord>,
    artifacts: Option<PathBuf>,
}

impl Coordinator {
    /// Starts a task at round 1. `validation` is the raw (unstandardised) held-out set;
    /// its hash and the initial model's must match the config.
    pub fn new(config: TaskConfig, validation: &Dataset, initial: Weights) -> Result<Self> {
        config.validate()?;
        if initial.spec != config.model {
            return Err(Error::Config("initial model does not match the configured spec".into()));
        }
        if hex::encode(initial.hash()) != config.initial_model_hash {
            return Err(Error::Config("initial model hash does not match the config".into()));
        }
        if dataset_hash(validation) != config.validation_hash {
            return Err(Error::Config("validation set hash does not match the config".into()));
        }
        if validation.n_features() != config.model.n_features {
            return Err(Error::Config("validation set width does not match the model".into()));
        }
        let validation = config.standardizer.transform(validation)?;
        Ok(Self {
            config_hash: config.hash(),
            config,
            validation,
            global: initial,
            server: ServerState::default(),
            round: 1,
            pending: BTreeMap::new(),
            seen: BTreeMap::new(),
            previous: Vec::new(),
            cumulative: BTreeMap::new(),
            records: Vec::new(),
            artifacts: None,
        })
    }

    /// Writes each closed round's updates, record and global model under `dir` (see
    /// [`crate::replay`]), starting with the task files.
    pub fn with_artifacts(mut self, dir: &Path, raw_validation: &Dataset) -> Result<Self> {
        crate::artifacts::write_task(dir, &self.config, raw_validation, &self.global)?;
        self.artifacts = Some(dir.to_path_buf());
        Ok(self)
    }

    /// The task configuration.
    pub fn config(&self) -> &TaskConfig {
        &self.config
    }

    /// The open round (from 1); `rounds + 1` once the task is finished.
    pub fn round(&self) -> u64 {
        self.round
    }

    /// `true` when every configured round is closed.
    pub fn is_finished(&self) -> bool {
        self.round > self.config.rounds
    }

    /// The current global model.
    pub fn global(&self) -> &Weights {
        &self.global
    }

    /// Records of the closed rounds.
    pub fn records(&self) -> &[RoundRecord] {
        &self.records
    }

    /// Number of accepted updates in the open round.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Client ids with an accepted update in the open round.
    pub fn pending_clients(&self) -> Vec<String> {
        self.pending.keys().cloned().collect()
    }

    /// The previous round's accepted deltas by client (public once published).
    pub fn previous_deltas(&self) -> &[(String, Vec<f32>)] {
        &self.previous
    }

    /// Updates needed before the round can close.
    pub fn needed(&self) -> usize {
        self.config.quorum.max(self.config.strategy.min_updates())
    }

    /// Accepts `update` into the open round or says why not.
    pub fn submit(&mut self, update: ClientUpdate) -> Result<()> {
        let reject = |reason| Error::RejectedUpdate {
            client: update.client_id.clone(),
            round: update.round,
            reason,
        };
        if self.is_finished() {
            return Err(reject(RejectReason::RoundClosed));
        }
        if !valid_client_id(&update.client_id) {
            return Err(reject(RejectReason::Malformed(
                "client id must be 1-64 characters of [A-Za-z0-9_.-], not starting with '.'".into(),
            )));
        }
        if update.round != self.round {
            return Err(reject(RejectReason::WrongRound {
                claimed: update.round,
                open: self.round,
            }));
        }
        if update.weights.spec != self.config.model {
            return Err(reject(RejectReason::Malformed(format!(
                "weights are for {:?}, the task trains {:?}",
                update.weights.spec, self.config.model
            ))));
        }
        if update.weights.values.len() != self.config.model.n_params() {
            return Err(reject(RejectReason::Malformed(format!(
                "expected {} parameters, found {}",
                self.config.model.n_params(),
                update.weights.values.len()
            ))));
        }
        if let Some(i) = update.weights.first_non_finite() {
            return Err(reject(RejectReason::Malformed(format!(
                "parameter {i} is {} (NaN/Inf)",
                update.weights.values[i]
            ))));
        }
        if update.sample_count == 0 || update.sample_count > self.config.max_samples_per_client {
            return Err(reject(RejectReason::SampleCount {
                found: update.sample_count,
                max: self.config.max_samples_per_client,
            }));
        }
        let actual = update.weights.hash();
        if actual != update.update_hash {
            return Err(reject(RejectReason::HashMismatch {
                claimed: hex::encode(update.update_hash),
                actual: hex::encode(actual),
            }));
        }
        if self.pending.contains_key(&update.client_id) {
            return Err(reject(RejectReason::Duplicate));
        }
        if let Some(&first_round) = self.seen.get(&actual) {
            return Err(reject(RejectReason::Replayed { hash: hex::encode(actual), first_round }));
        }
        if self.pending.values().any(|u| u.update_hash == actual) {
            return Err(reject(RejectReason::Replayed {
                hash: hex::encode(actual),
                first_round: self.round,
            }));
        }
        self.pending.insert(update.client_id.clone(), update);
        Ok(())
    }

    /// Aggregates the open round's updates (in client-id order), scores them, splits
    /// the pool, advances the global model and opens the next round.
    pub fn close_round(&mut self) -> Result<RoundRecord> {
        if self.is_finished() {
            return Err(Error::Config("the task is finished; no round is open".into()));
        }
        let n = self.pending.len();
        if n < self.needed() {
            return Err(Error::TooFewUpdates {
                strategy: format!(
                    "{} with quorum {}",
                    self.config.strategy.name(),
                    self.config.quorum
                ),
                f: 0,
                needed: self.needed(),
                found: n,
            });
        }
        let updates: Vec<ClientUpdate> = std::mem::take(&mut self.pending).into_values().collect();
        let deltas: Vec<Vec<f32>> =
            updates.iter().map(|u| u.weights.delta_from(&self.global)).collect();
        let refs: Vec<&[f32]> = deltas.iter().map(Vec::as_slice).collect();
        let samples: Vec<u64> = updates.iter().map(|u| u.sample_count).collect();
        let round_seed = self.config.round_seed(self.round);
        let mut server = self.server.clone();
        let agg = aggregate(
            &self.config.strategy,
            &refs,
            &samples,
            &mut server,
            self.config.dp.as_ref(),
            round_seed,
        );
        let agg = match agg {
            Ok(a) => a,
            Err(e) => {
                // Keep the round open with its updates so the caller can wait for more.
                self.pending = updates.into_iter().map(|u| (u.client_id.clone(), u)).collect();
                return Err(e);
            }
        };
        let new_global = self.global.plus(&agg.delta);
        if let Some(i) = new_global.first_non_finite() {
            return Err(Error::Weights(format!("aggregate produced a non-finite parameter {i}")));
        }
        let index: BTreeMap<&str, usize> =
            updates.iter().enumerate().map(|(i, u)| (u.client_id.as_str(), i)).collect();
        let previous: Vec<(Option<usize>, Vec<f32>)> = self
            .previous
            .iter()
            .map(|(c, d)| (index.get(c.as_str()).copied(), d.clone()))
            .collect();
        let scores = score_round(
            &ScoreInput {
                global: &self.global,
                deltas: &refs,
                samples: &samples,
                selected: &agg.selected,
                previous: &previous,
                validation: &self.validation,
            },
            &self.config.score,
        )?;
        let fixed: Vec<u64> = scores.iter().map(|s| s.score_fixed).collect();
        let rewards = split_rewards(self.config.reward_pool_per_round, &fixed, &self.config.reward);

        let mut clients = Vec::with_capacity(n);
        for (i, u) in updates.iter().enumerate() {
            let cum = self.cumulative.entry(u.client_id.clone()).or_insert(0);
            *cum += rewards[i];
            clients.push(ClientRecord {
                client_id: u.client_id.clone(),
                update_hash: u.update_hash,
                sample_count: u.sample_count,
                selected: agg.selected[i],
                score: scores[i].clone(),
                reward: rewards[i],
                cumulative_reward: *cum,
            });
        }
        let record = RoundRecord {
            task_id: self.config.task_id.clone(),
            round: self.round,
            base_model_hash: self.global.hash(),
            global_model_hash: new_global.hash(),
            config_hash: self.config_hash,
            seed: round_seed,
            clients,
            validation: evaluate(&new_global, &self.validation),
            reward_pool: self.config.reward_pool_per_round,
            dp_epsilon: self.config.dp.as_ref().and_then(|dp| dp.epsilon(self.round)),
        };
        if let Some(dir) = &self.artifacts {
            crate::artifacts::write_round(dir, &updates, &record, &new_global)?;
        }
        for u in &updates {
            self.seen.insert(u.update_hash, self.round);
        }
        self.previous = updates.iter().map(|u| u.client_id.clone()).zip(deltas).collect();
        self.server = server;
        self.global = new_global;
        self.records.push(record.clone());
        self.round += 1;
        Ok(record)
    }
}

/// Builds a [`TaskConfig`] (hashes filled in) and the initial model for a validation set.
#[allow(clippy::too_many_arguments)]
pub fn task_config(
    task_id: &str,
    seed: u64,
    model: ModelSpec,
    local: LocalTraining,
    strategy: Strategy,
    dp: Option<DpConfig>,
    rounds: u64,
    quorum: usize,
    standardizer: Standardizer,
    validation: &Dataset,
) -> Result<(TaskConfig, Weights)> {
    let initial = model.init(rng::derive_seed(seed, "initial-model", &[]));
    let mut local = local;
    if let Strategy::FedProx { mu } = strategy {
        local.proximal_mu = mu;
    }
    let config = TaskConfig {
        task_id: task_id.to_string(),
        seed,
        model,
        local,
        strategy,
        dp,
        score: ScoreConfig::default(),
        reward: RewardSplit::Proportional,
        reward_pool_per_round: 1_000_000_000_000_000_000,
        rounds,
        quorum,
        max_samples_per_client: 1_000_000,
        standardizer,
        validation_hash: dataset_hash(validation),
        initial_model_hash: hex::encode(initial.hash()),
    };
    config.validate()?;
    Ok((config, initial))
}
