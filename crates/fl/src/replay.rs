//! Replay: recompute a published round from its artifacts ([`crate::artifacts`]) through
//! a fresh [`Coordinator`] and compare with the published record.

use crate::{
    artifacts::RoundArtifacts,
    round::{Coordinator, RoundRecord},
    Error, Result,
};

/// Recomputes round `round` from the published inputs: replays rounds 1..=round through
/// a fresh [`Coordinator`] (the server optimiser state and the copy detector depend on
/// earlier rounds) and returns the recomputed record.
pub fn replay_round(artifacts: &RoundArtifacts, round: u64) -> Result<RoundRecord> {
    if round == 0 || round as usize > artifacts.rounds.len() {
        return Err(Error::Replay(format!(
            "round {round} is not in the artifacts (rounds 1..={} are)",
            artifacts.rounds.len()
        )));
    }
    let mut coord = Coordinator::new(
        artifacts.config.clone(),
        &artifacts.validation,
        artifacts.initial.clone(),
    )?;
    let mut last = None;
    for updates in &artifacts.rounds[..round as usize] {
        for u in updates {
            coord.submit(u.clone())?;
        }
        last = Some(coord.close_round()?);
    }
    last.ok_or_else(|| Error::Replay("no round replayed".into()))
}

/// Replays `round` and compares with the published record; `Ok` carries the record
/// when they are identical.
pub fn verify_round(artifacts: &RoundArtifacts, round: u64) -> Result<RoundRecord> {
    let replayed = replay_round(artifacts, round)?;
    let published = &artifacts.records[round as usize - 1];
    if replayed != *published {
        return Err(Error::Replay(format!(
            "round {round}: replay gives global model {} and record {}, published {} and {}",
            hex::encode(replayed.global_model_hash),
            hex::encode(replayed.hash()),
            hex::encode(published.global_model_hash),
            hex::encode(published.hash())
        )));
    }
    Ok(replayed)
}
