//! Audited inference: every prediction of a model is recorded as an `inference` entry —
//! model and version hash, period of use, and commitments to the input row, the output and
//! the verifying person — with the openings kept in the vault under the data subject.
//!
//! The auditor is independent of how the model runs (alara-ml's tract runner in
//! `alara infer`): run the model, then hand rows and outputs to
//! [`InferenceAuditor::record`]. Recording queues the entries (in order, before the caller
//! returns the outputs) and costs a few hashes; [`InferenceAuditor::receipts`] waits for
//! durability and the covering checkpoint.
//!
//! ```ignore
//! let auditor = InferenceAuditor::new(trail, ModelRef { id, version_hash: Hash(model.hash()) }, "triage");
//! let started = now_ms();
//! let outputs = model.predict(&rows)?;
//! let audited = auditor.record(started, now_ms(), &rows, &outputs, &UseContext::default())?;
//! let receipts = auditor.receipts(&audited)?;
//! ```

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::entry::{Entry, EntryBody, Inference, ModelRef};
use crate::receipt::Receipt;
use crate::trail::AuditTrail;
use crate::vault::Opening;
use crate::{Error, Hash, Result};

/// Who and why, for the entries of one call.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct UseContext {
    /// Data subject of each row (same length as the rows), or one for all rows, or none
    /// (rows are then filed under `anonymous`).
    pub subjects: Vec<String>,
    /// The natural person verifying the results, if any (committed, never in clear).
    pub verified_by: Option<String>,
    /// Declared purpose.
    pub purpose: String,
}

/// Where one prediction was logged.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditedRow {
    /// Leaf index of the `inference` entry.
    pub leaf_index: u64,
    /// Commitment to the input row.
    pub input_commitment: Hash,
    /// Commitment to the output.
    pub output_commitment: Hash,
}

/// Records a model's predictions in an audit trail.
#[derive(Debug)]
pub struct InferenceAuditor {
    trail: Arc<AuditTrail>,
    model: ModelRef,
    system: String,
}

impl InferenceAuditor {
    /// An auditor for `model` (id and SHA-256 of its bytes), deployed as `system`.
    pub fn new(trail: Arc<AuditTrail>, model: ModelRef, system: &str) -> Self {
        Self { trail, model, system: system.to_string() }
    }

    /// The model as logged.
    pub fn model(&self) -> &ModelRef {
        &self.model
    }

    /// Queues one `inference` entry per (input, output) pair, used between `started_ms`
    /// and `ended_ms`. Inputs and outputs are committed as their JSON bytes.
    pub fn record<I: Serialize, O: Serialize>(
        &self,
        started_ms: u64,
        ended_ms: u64,
        inputs: &[I],
        outputs: &[O],
        ctx: &UseContext,
    ) -> Result<Vec<AuditedRow>> {
        if inputs.len() != outputs.len() {
            return Err(Error::Malformed {
                what: "inference",
                detail: format!("{} inputs but {} outputs", inputs.len(), outputs.len()),
            });
        }
        if ctx.subjects.len() > 1 && ctx.subjects.len() != inputs.len() {
            return Err(Error::Malformed {
                what: "subjects",
                detail: format!(
                    "{} subjects for {} rows; give one per row or one for all",
                    ctx.subjects.len(),
                    inputs.len()
                ),
            });
        }
        let mut batch = Vec::with_capacity(inputs.len());
        for (i, (input, output)) in inputs.iter().zip(outputs).enumerate() {
            let subject =
                ctx.subjects.get(i).or(ctx.subjects.first()).map_or("anonymous", String::as_str);
            let input = Opening::seal(subject, "input", serde_json::to_vec(input)?);
            let output = Opening::seal(subject, "output", serde_json::to_vec(output)?);
            let verifier = ctx
                .verified_by
                .as_ref()
                .map(|v| Opening::seal(subject, "verified_by", v.as_bytes().to_vec()));
            let entry = Entry {
                time_ms: ended_ms,
                body: EntryBody::Inference(Inference {
                    system: self.system.clone(),
                    model: self.model.clone(),
                    started_ms,
                    ended_ms,
                    input: input.commitment(),
                    output: output.commitment(),
                    verified_by: verifier.as_ref().map(Opening::commitment),
                    purpose: ctx.purpose.clone(),
                }),
            };
            let mut openings = vec![input, output];
            openings.extend(verifier);
            batch.push((entry, openings));
        }
        let ticket = self.trail.enqueue_with_openings(&batch)?;
        Ok(batch
            .iter()
            .enumerate()
            .map(|(i, (_, o))| AuditedRow {
                leaf_index: ticket.index + i as u64,
                input_commitment: o[0].commitment(),
                output_commitment: o[1].commitment(),
            })
            .collect())
    }

    /// Waits until the rows' entries (and openings) are durable and returns their receipts.
    pub fn receipts(&self, rows: &[AuditedRow]) -> Result<Vec<Receipt>> {
        if let Some(last) = rows.iter().map(|p| p.leaf_index).max() {
            self.trail.wait(last)?;
        }
        rows.iter().map(|p| self.trail.receipt(p.leaf_index)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::now_ms;
    use crate::trail::TrailConfig;

    #[test]
    fn records_commitments_that_open_to_the_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = TrailConfig::new(dir.path(), "pw");
        c.key_work_factor = 10;
        let trail = Arc::new(AuditTrail::open(c).unwrap());
        let model = ModelRef { id: "m.onnx".into(), version_hash: crate::hash::sha256(b"m") };
        let auditor = InferenceAuditor::new(trail.clone(), model, "triage");
        let rows = vec![vec![1.0f32, 2.5], vec![3.0, 4.0]];
        let outs = vec![1i64, 0];
        let ctx = UseContext {
            subjects: vec!["p1".into(), "p2".into()],
            verified_by: Some("Dr. Who".into()),
            purpose: "screening".into(),
        };
        let audited = auditor.record(now_ms(), now_ms(), &rows, &outs, &ctx).unwrap();
        let receipts = auditor.receipts(&audited).unwrap();
        for (r, a) in receipts.iter().zip(&audited) {
            r.verify_offline(Some(trail.verifier())).unwrap();
            let EntryBody::Inference(i) = &r.entry.body else { panic!("not an inference") };
            assert!(i.verified_by.is_some());
            assert_eq!(i.input, a.input_commitment);
        }
        let opened = trail.open_commitment(&audited[0].input_commitment).unwrap().unwrap();
        assert_eq!(opened.opening.payload, b"[1.0,2.5]");
        assert_eq!(opened.opening.subject, "p1");
        assert!(!receipts[0].to_json().contains("Dr. Who"));
        assert!(auditor.record(0, 0, &rows, &outs[..1], &ctx).is_err());
    }
}
