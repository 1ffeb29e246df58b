//! Round artifacts on disk: the directory layout, the manifest, the writers the
//! coordinator calls, and [`RoundArtifacts::load`] for anyone who checks a round. Nothing
//! here runs a round, so a third-party verifier reads artifacts without a coordinator;
//! recomputing a round is [`crate::replay`].
//!
//! Layout of an artifact directory (everything a third party needs to recompute every
//! round bit for bit; in production the files are content-addressed and their CIDs
//! published on-chain):
//!
//! ```text
//! task.json                      TaskConfig (its SHA-256 is the config hash)
//! validation.csv                 the coordinator's held-out set (raw features)
//! initial.safetensors            round-1 base model
//! round-000001/manifest.json     [{client_id, round, sample_count, update_hash}] in client order
//! round-000001/updates/<client>.safetensors
//! round-000001/record.json       the published RoundRecord
//! round-000001/global.safetensors
//! ```

use std::path::{Path, PathBuf};

use alara_ml::Dataset;
use serde::{Deserialize, Serialize};

use crate::{
    model::Weights,
    round::{ClientUpdate, RoundRecord, TaskConfig},
    Error, Result,
};

/// Hex (de)serialisation of 32-byte hashes.
pub mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises as lowercase hex.
    pub fn serialize<S: Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }

    /// Parses 64 hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let v = hex::decode(&s).map_err(serde::de::Error::custom)?;
        v.try_into().map_err(|_| serde::de::Error::custom("expected 32 bytes of hex"))
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    Ok(alara_store::write_atomic(path, bytes)?)
}

/// Largest artifact file read back (models, updates and records of one round).
const MAX_ARTIFACT: u64 = 1 << 30;

fn read(path: &Path) -> Result<Vec<u8>> {
    Ok(alara_store::read_file_capped(path, MAX_ARTIFACT)?)
}

/// Directory of round `round`.
pub fn round_dir(dir: &Path, round: u64) -> PathBuf {
    dir.join(format!("round-{round:06}"))
}

/// One line of a round manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Client identifier.
    pub client_id: String,
    /// Round.
    pub round: u64,
    /// Self-reported sample count.
    pub sample_count: u64,
    /// SHA-256 of the update's safetensors.
    #[serde(with = "hex32")]
    pub update_hash: [u8; 32],
}

/// Writes the task files of an artifact directory.
pub fn write_task(
    dir: &Path,
    config: &TaskConfig,
    validation: &Dataset,
    initial: &Weights,
) -> Result<()> {
    write(&dir.join("task.json"), &serde_json::to_vec_pretty(config)?)?;
    write(&dir.join("validation.csv"), validation.to_csv().as_bytes())?;
    write(&dir.join("initial.safetensors"), &initial.to_safetensors())
}

/// Writes one closed round.
pub fn write_round(
    dir: &Path,
    updates: &[ClientUpdate],
    record: &RoundRecord,
    global: &Weights,
) -> Result<()> {
    let rd = round_dir(dir, record.round);
    let manifest: Vec<ManifestEntry> = updates
        .iter()
        .map(|u| ManifestEntry {
            client_id: u.client_id.clone(),
            round: u.round,
            sample_count: u.sample_count,
            update_hash: u.update_hash,
        })
        .collect();
    for u in updates {
        write(
            &rd.join("updates").join(format!("{}.safetensors", u.client_id)),
            &u.weights.to_safetensors(),
        )?;
    }
    write(&rd.join("manifest.json"), &serde_json::to_vec_pretty(&manifest)?)?;
    write(&rd.join("record.json"), &serde_json::to_vec_pretty(record)?)?;
    write(&rd.join("global.safetensors"), &global.to_safetensors())
}

/// The published inputs of a task, loaded from an artifact directory.
#[derive(Debug, Clone)]
pub struct RoundArtifacts {
    /// Task configuration.
    pub config: TaskConfig,
    /// Raw validation set.
    pub validation: Dataset,
    /// Initial model.
    pub initial: Weights,
    /// Accepted updates of rounds 1, 2, … in manifest order.
    pub rounds: Vec<Vec<ClientUpdate>>,
    /// Published records of the same rounds (to compare a replay against).
    pub records: Vec<RoundRecord>,
}

impl RoundArtifacts {
    /// Loads the task and every round directory present, checking each update's hash
    /// against its manifest.
    pub fn load(dir: &Path) -> Result<Self> {
        let config: TaskConfig = serde_json::from_slice(&read(&dir.join("task.json"))?)?;
        let vpath = dir.join("validation.csv");
        let validation = alara_ml::datasets::load_csv(&vpath)?;
        let initial =
            Weights::from_safetensors(config.model, &read(&dir.join("initial.safetensors"))?)?;
        let mut rounds = Vec::new();
        let mut records = Vec::new();
        for r in 1.. {
            let rd = round_dir(dir, r);
            if !rd.exists() {
                break;
            }
            let manifest: Vec<ManifestEntry> =
                serde_json::from_slice(&read(&rd.join("manifest.json"))?)?;
            let mut updates = Vec::with_capacity(manifest.len());
            for m in manifest {
                let bytes = read(&rd.join("updates").join(format!("{}.safetensors", m.client_id)))?;
                let u = ClientUpdate::from_bytes(
                    config.model,
                    &m.client_id,
                    m.round,
                    m.sample_count,
                    &bytes,
                )?;
                if u.update_hash != m.update_hash {
                    return Err(Error::Replay(format!(
                        "round {r}: update of `{}` has hash {}, the manifest says {}",
                        m.client_id,
                        hex::encode(u.update_hash),
                        hex::encode(m.update_hash)
                    )));
                }
                updates.push(u);
            }
            rounds.push(updates);
            records.push(serde_json::from_slice(&read(&rd.join("record.json"))?)?);
        }
        Ok(Self { config, validation, initial, rounds, records })
    }
}
