//! Audited inference: every prediction of a model is recorded as an `inference` entry —
//! model and version hash, period of use, and commitments to the input row, the output and
//! the verifying person — with the openings kept in the vault under the data subject.
//!
//! The auditor is independent of how the model runs (alara-ml's tract runner in
//! `alara infer`): run the model, then hand rows and outputs to
//! [`InferenceAuditor::submit`]. Submitting costs the inference path a copy of the rows and
//! a push onto the auditor's inbox, well under a microsecond: the auditor's own thread
//! serialises, salts and commits the rows, appends the entries to the log (in submission
//! order) and stores the openings in the vault, in batches. [`Pending::rows`] gives the
//! leaf indices once the entries are queued; [`InferenceAuditor::receipts`] waits for
//! durability and the covering checkpoint.
//!
//! An output returned before its receipt is like any acknowledged-later write: a crash in
//! between loses the record. A decision that must not be acted on unlogged waits for its
//! receipt (`alara infer` does), which costs one group commit.
//!
//! ```no_run
//! # fn demo(
//! #     trail: std::sync::Arc<alara_audit::AuditTrail>,
//! #     model_sha256: [u8; 32],
//! #     rows: Vec<Vec<f32>>,
//! #     predict: impl Fn(&[Vec<f32>]) -> Vec<u8>,
//! # ) -> alara_audit::Result<()> {
//! use alara_audit::audited::{InferenceAuditor, UseContext};
//! use alara_audit::entry::{now_ms, ModelRef};
//! use alara_audit::Hash;
//! let model = ModelRef { id: "triage".into(), version_hash: Hash(model_sha256) };
//! let auditor = InferenceAuditor::new(trail, model, "triage");
//! let started = now_ms();
//! let outputs = predict(&rows);
//! let pending = auditor.submit(started, now_ms(), rows, outputs, &UseContext::default())?;
//! let receipts = auditor.receipts(&pending.rows()?)?;
//! # let _ = receipts; Ok(()) }
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
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

/// Builds the entries of one submission (on the auditor's thread).
type Build = Box<dyn FnOnce(&ModelRef, &str) -> Result<Vec<(Entry, Vec<Opening>)>> + Send>;

#[derive(Default)]
struct Slot {
    rows: Mutex<Option<Result<Vec<AuditedRow>>>>,
    cv: Condvar,
}

/// A submission the auditor's thread has not necessarily written yet.
#[derive(Clone)]
pub struct Pending {
    slot: Arc<Slot>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("queued", &self.slot.rows.lock().is_some()).finish()
    }
}

impl Pending {
    /// Waits until the entries are queued in the log; their leaf indices and commitments.
    pub fn rows(&self) -> Result<Vec<AuditedRow>> {
        let mut rows = self.slot.rows.lock();
        loop {
            match &*rows {
                Some(Ok(r)) => return Ok(r.clone()),
                Some(Err(e)) => return Err(Error::Closed(format!("recording failed: {e}"))),
                None => self.slot.cv.wait(&mut rows),
            }
        }
    }
}

/// Submissions waiting for the auditor's thread.
#[derive(Default)]
struct Inbox {
    jobs: Mutex<Vec<(Build, Arc<Slot>)>>,
    cv: Condvar,
    /// The thread sleeps on `cv` (after a quiet spell) and must be woken.
    parked: AtomicBool,
    closed: AtomicBool,
    /// Time the thread spent building and queueing entries, in ns.
    busy_ns: AtomicU64,
    recorded: AtomicU64,
}

/// How often the auditor's thread looks at its inbox while submissions keep coming: a
/// submission then costs no wake-up system call.
const POLL: Duration = Duration::from_micros(200);
/// Quiet time after which the thread sleeps until woken.
const PARK_AFTER: Duration = Duration::from_millis(20);

/// Records a model's predictions in an audit trail, off the inference path.
pub struct InferenceAuditor {
    trail: Arc<AuditTrail>,
    model: ModelRef,
    inbox: Arc<Inbox>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for InferenceAuditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InferenceAuditor").field("model", &self.model).finish_non_exhaustive()
    }
}

impl InferenceAuditor {
    /// An auditor for `model` (id and SHA-256 of its bytes), deployed as `system`; starts
    /// its recording thread.
    pub fn new(trail: Arc<AuditTrail>, model: ModelRef, system: &str) -> Self {
        let inbox = Arc::new(Inbox::default());
        let thread = {
            let (trail, model, system, inbox) =
                (trail.clone(), model.clone(), system.to_string(), inbox.clone());
            std::thread::Builder::new()
                .name("audit-recorder".into())
                .spawn(move || recorder(&trail, &model, &system, &inbox))
                .ok()
        };
        Self { trail, model, inbox, thread }
    }

    /// The model as logged.
    pub fn model(&self) -> &ModelRef {
        &self.model
    }

    /// Hands one `inference` entry per (input, output) pair, used between `started_ms` and
    /// `ended_ms`, to the recording thread; inputs and outputs are committed as their JSON
    /// bytes. Entries keep submission order. Checks the shapes now, so a mismatch is an
    /// error here and not later.
    pub fn submit<I, O>(
        &self,
        started_ms: u64,
        ended_ms: u64,
        inputs: Vec<I>,
        outputs: Vec<O>,
        ctx: &UseContext,
    ) -> Result<Pending>
    where
        I: Serialize + Send + 'static,
        O: Serialize + Send + 'static,
    {
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
        if self.thread.is_none() || self.inbox.closed.load(Ordering::Acquire) {
            return Err(Error::Closed("the audit recorder is not running".into()));
        }
        let ctx = ctx.clone();
        let build: Build = Box::new(move |model, system| {
            build_entries(model, system, started_ms, ended_ms, &inputs, &outputs, &ctx)
        });
        let slot = Arc::new(Slot::default());
        self.inbox.jobs.lock().push((build, slot.clone()));
        if self.inbox.parked.load(Ordering::Acquire) {
            self.inbox.cv.notify_one();
        }
        Ok(Pending { slot })
    }

    /// [`InferenceAuditor::submit`] and wait until the entries are queued in the log.
    pub fn record<I, O>(
        &self,
        started_ms: u64,
        ended_ms: u64,
        inputs: &[I],
        outputs: &[O],
        ctx: &UseContext,
    ) -> Result<Vec<AuditedRow>>
    where
        I: Serialize + Clone + Send + 'static,
        O: Serialize + Clone + Send + 'static,
    {
        let pending = self.submit(started_ms, ended_ms, inputs.to_vec(), outputs.to_vec(), ctx)?;
        self.inbox.cv.notify_one();
        pending.rows()
    }

    /// Waits until the rows' entries (and openings) are durable and returns their receipts.
    pub fn receipts(&self, rows: &[AuditedRow]) -> Result<Vec<Receipt>> {
        if let Some(last) = rows.iter().map(|p| p.leaf_index).max() {
            self.trail.wait(last)?;
        }
        rows.iter().map(|p| self.trail.receipt(p.leaf_index)).collect()
    }

    /// Entries recorded so far and the time the recording thread spent on them: the cost
    /// moved off the inference path (it still takes a core's time).
    pub fn recorder_stats(&self) -> (u64, Duration) {
        (
            self.inbox.recorded.load(Ordering::Relaxed),
            Duration::from_nanos(self.inbox.busy_ns.load(Ordering::Relaxed)),
        )
    }
}

impl Drop for InferenceAuditor {
    fn drop(&mut self) {
        self.inbox.closed.store(true, Ordering::Release);
        self.inbox.cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn build_entries<I: Serialize, O: Serialize>(
    model: &ModelRef,
    system: &str,
    started_ms: u64,
    ended_ms: u64,
    inputs: &[I],
    outputs: &[O],
    ctx: &UseContext,
) -> Result<Vec<(Entry, Vec<Opening>)>> {
    let mut rng = rand::thread_rng();
    let mut batch = Vec::with_capacity(inputs.len());
    for (i, (input, output)) in inputs.iter().zip(outputs).enumerate() {
        let subject =
            ctx.subjects.get(i).or(ctx.subjects.first()).map_or("anonymous", String::as_str);
        let input = Opening::seal_with(&mut rng, subject, "input", serde_json::to_vec(input)?);
        let output = Opening::seal_with(&mut rng, subject, "output", serde_json::to_vec(output)?);
        let verifier = ctx
            .verified_by
            .as_ref()
            .map(|v| Opening::seal_with(&mut rng, subject, "verified_by", v.as_bytes().to_vec()));
        let entry = Entry {
            time_ms: ended_ms,
            body: EntryBody::Inference(Inference {
                system: system.to_string(),
                model: model.clone(),
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
    Ok(batch)
}

/// The recording thread: takes whole inboxes, builds their entries, appends them with one
/// log enqueue and one vault write, and tells each submission where its rows went.
fn recorder(trail: &AuditTrail, model: &ModelRef, system: &str, inbox: &Inbox) {
    let mut idle_since = Instant::now();
    loop {
        let jobs = std::mem::take(&mut *inbox.jobs.lock());
        if jobs.is_empty() {
            if inbox.closed.load(Ordering::Acquire) {
                return;
            }
            // Poll while submissions keep coming (a submitter then never pays for a
            // wake-up); park after a quiet spell. A caller waiting for its rows wakes
            // the thread either way.
            let park = idle_since.elapsed() >= PARK_AFTER;
            let mut guard = inbox.jobs.lock();
            inbox.parked.store(park, Ordering::Release);
            if guard.is_empty() && !inbox.closed.load(Ordering::Acquire) {
                let wait = if park { Duration::from_secs(1) } else { POLL };
                inbox.cv.wait_for(&mut guard, wait);
            }
            inbox.parked.store(false, Ordering::Release);
            continue;
        }
        let t = Instant::now();
        let mut entries = Vec::new();
        let mut done = Vec::with_capacity(jobs.len());
        for (build, slot) in jobs {
            match build(model, system) {
                Ok(rows) => {
                    let span = entries.len()..entries.len() + rows.len();
                    entries.extend(rows);
                    done.push((slot, Ok(span)));
                }
                Err(e) => done.push((slot, Err(e))),
            }
        }
        let queued = trail.enqueue_with_openings(&entries);
        for (slot, span) in done {
            let result = match (&queued, span) {
                (Ok(ticket), Ok(span)) => Ok(span
                    .map(|i| AuditedRow {
                        leaf_index: ticket.index + i as u64,
                        input_commitment: entries[i].1[0].commitment(),
                        output_commitment: entries[i].1[1].commitment(),
                    })
                    .collect()),
                (Err(e), _) => Err(Error::Closed(e.to_string())),
                (_, Err(e)) => Err(e),
            };
            *slot.rows.lock() = Some(result);
            slot.cv.notify_all();
        }
        inbox.recorded.fetch_add(entries.len() as u64, Ordering::Relaxed);
        inbox.busy_ns.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        idle_since = Instant::now();
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
