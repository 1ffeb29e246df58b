//! Lineage: dataset CID → listings, sales and compute jobs → the models those jobs
//! trained → the inferences made with those models, from audit entries.
//!
//! The entries may come from several logs (the seller's, the buyer's, an auditor's
//! collection of exported receipts): each [`Sourced`] entry names the log it is from, and
//! receipts are verified before they are used ([`from_receipts`]).
//!
//! ```no_run
//! # fn demo(trail: &alara_audit::AuditTrail) -> alara_market::Result<()> {
//! let entries = alara_market::lineage::from_trail(trail)?;
//! let l = alara_market::lineage::trace(&entries, "bafy…")?; // or a model hash
//! println!("{}", l.render());
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;

use alara_audit::entry::{Entry, EntryBody};
use alara_audit::{AuditTrail, Hash, Query, Receipt};
use serde::{Deserialize, Serialize};

use crate::Result;

/// Entry kinds lineage reads.
pub const KINDS: [&str; 7] = [
    "data_listing",
    "data_sale",
    "compute_job",
    "data_access",
    "inference",
    "model_registered",
    "training_round",
];

/// An audit entry and where it is from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sourced {
    /// The log's origin (checkpoint name).
    pub origin: String,
    /// Leaf index in that log.
    pub leaf_index: u64,
    /// The entry.
    pub entry: Entry,
}

/// The relevant entries of a trail.
pub fn from_trail(trail: &AuditTrail) -> Result<Vec<Sourced>> {
    let q = Query { kinds: KINDS.iter().map(|k| k.to_string()).collect(), ..Default::default() };
    let origin = trail.log().origin().to_string();
    Ok(trail
        .query(&q)?
        .into_iter()
        .map(|r| Sourced { origin: origin.clone(), leaf_index: r.leaf_index, entry: r.entry })
        .collect())
}

/// Entries from JSON Lines of receipts (`alara audit export`), each verified offline
/// (hashes, inclusion proof, checkpoint signature) before use.
pub fn from_receipts(jsonl: &str) -> Result<Vec<Sourced>> {
    let mut out = Vec::new();
    for line in jsonl.lines().filter(|l| !l.trim().is_empty()) {
        let r = Receipt::from_json(line.as_bytes())?;
        r.verify_offline(None)?;
        out.push(Sourced {
            origin: r.log.origin.clone(),
            leaf_index: r.leaf_index,
            entry: r.entry,
        });
    }
    Ok(out)
}

/// One entry in a lineage, summarised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Log origin.
    pub origin: String,
    /// Leaf index.
    pub leaf_index: u64,
    /// Unix ms.
    pub time_ms: u64,
    /// Entry kind.
    pub kind: String,
    /// What happened, in a line.
    pub summary: String,
}

impl Step {
    fn of(s: &Sourced, summary: String) -> Self {
        Self {
            origin: s.origin.clone(),
            leaf_index: s.leaf_index,
            time_ms: s.entry.time_ms,
            kind: s.entry.body.kind_name().into(),
            summary,
        }
    }
}

/// A model and how it was used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelLineage {
    /// Hex SHA-256 of the model.
    pub model_hash: String,
    /// Registrations and training rounds that produced it.
    pub provenance: Vec<Step>,
    /// Number of inferences logged with it.
    pub inference_count: usize,
    /// The first inferences (at most [`MAX_LISTED_INFERENCES`]).
    pub inferences: Vec<Step>,
}

/// Inferences listed per model (all are counted).
pub const MAX_LISTED_INFERENCES: usize = 20;

/// A compute job on the dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLineage {
    /// Market-qualified job id.
    pub job: String,
    /// Hex hash of the recipe.
    pub algorithm: String,
    /// Its entries (requested, completed, received, failed, refunded; data access).
    pub steps: Vec<Step>,
    /// The model it trained, if any.
    pub model: Option<ModelLineage>,
}

/// A dataset's lineage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetLineage {
    /// Ciphertext CID.
    pub cid: String,
    /// Listings.
    pub listings: Vec<Step>,
    /// Sales and downloads.
    pub sales: Vec<Step>,
    /// Compute jobs.
    pub jobs: Vec<JobLineage>,
}

/// The answer to `alara lineage <cid|model>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lineage {
    /// What was asked.
    pub target: String,
    /// Datasets involved (the one asked for, or those a model was trained on).
    pub datasets: Vec<DatasetLineage>,
    /// When the target is a model no job produced: its own lineage.
    pub model: Option<ModelLineage>,
}

/// An amount from an audit entry with its unit: entries carry base units, so ETH is in
/// wei (`0.1 ETH (100000000000000000 wei)`) and an ERC-20 in the token's base units.
pub fn amount(value: u128, token: &str) -> String {
    if token != "ETH" {
        return format!("{value} base units of token {token}");
    }
    const WEI_PER_ETH: u128 = 1_000_000_000_000_000_000;
    let (whole, frac) = (value / WEI_PER_ETH, value % WEI_PER_ETH);
    let eth = if frac == 0 {
        whole.to_string()
    } else {
        let digits = format!("{frac:018}");
        format!("{whole}.{}", digits.trim_end_matches('0'))
    };
    format!("{eth} ETH ({value} wei)")
}

fn hash_hex(h: &Hash) -> String {
    hex::encode(h.0)
}

fn model_lineage(entries: &[Sourced], model: &Hash) -> ModelLineage {
    let mut provenance = Vec::new();
    let mut inferences = Vec::new();
    let mut count = 0;
    for s in entries {
        match &s.entry.body {
            EntryBody::Inference(i) if i.model.version_hash == *model => {
                count += 1;
                if inferences.len() < MAX_LISTED_INFERENCES {
                    inferences.push(Step::of(
                        s,
                        format!("{} ({}) with {}", i.system, i.purpose, i.model.id),
                    ));
                }
            }
            EntryBody::ModelRegistered(m) if m.model.version_hash == *model => {
                provenance.push(Step::of(
                    s,
                    format!("registered {} at {} by {}", m.model.id, m.uri, m.owner),
                ));
            }
            EntryBody::TrainingRound(t) if t.model_hash == *model => {
                provenance.push(Step::of(
                    s,
                    format!("round {} of {} ({} participants)", t.round, t.task, t.participants),
                ));
            }
            _ => {}
        }
    }
    ModelLineage { model_hash: hash_hex(model), provenance, inference_count: count, inferences }
}

fn dataset_lineage(entries: &[Sourced], cid: &str) -> DatasetLineage {
    let mut d = DatasetLineage { cid: cid.into(), listings: vec![], sales: vec![], jobs: vec![] };
    for s in entries {
        match &s.entry.body {
            EntryBody::DataListing(l) if l.dataset == cid => d.listings.push(Step::of(
                s,
                format!("listed {} by {} for {}", l.listing, l.seller, amount(l.price, &l.token)),
            )),
            EntryBody::DataSale(x) if x.dataset == cid => d.sales.push(Step::of(
                s,
                format!(
                    "{} {} (buyer {}, {})",
                    x.sale,
                    x.event,
                    x.buyer,
                    amount(x.amount, &x.token)
                ),
            )),
            EntryBody::DataAccess(a) if a.dataset == cid && a.mode == "download" => {
                d.sales.push(Step::of(s, format!("downloaded by {} for {}", a.accessor, a.purpose)))
            }
            EntryBody::ComputeJob(j) if j.dataset == cid => {
                let idx = match d.jobs.iter().position(|x| x.job == j.job) {
                    Some(i) => {
                        // Known from its data access entry, which names no recipe hash.
                        if d.jobs[i].algorithm.is_empty() {
                            d.jobs[i].algorithm = hash_hex(&j.algorithm);
                        }
                        i
                    }
                    None => {
                        d.jobs.push(JobLineage {
                            job: j.job.clone(),
                            algorithm: hash_hex(&j.algorithm),
                            steps: vec![],
                            model: None,
                        });
                        d.jobs.len() - 1
                    }
                };
                let mut line = format!("{} {}", j.job, j.event);
                if let Some(m) = &j.model {
                    line.push_str(&format!(", model {}", hash_hex(m)));
                    if d.jobs[idx].model.is_none() {
                        d.jobs[idx].model = Some(model_lineage(entries, m));
                    }
                }
                if let Some(r) = &j.receipt {
                    line.push_str(&format!(", receipt {}", hash_hex(r)));
                }
                d.jobs[idx].steps.push(Step::of(s, line));
            }
            EntryBody::DataAccess(a) if a.dataset == cid && a.mode == "compute-to-data" => {
                // Attach to the job named in the purpose (`<recipe> <job ref>`).
                let job = a.purpose.split_whitespace().last().unwrap_or_default().to_string();
                let step = Step::of(s, format!("computed on for {} ({})", a.accessor, a.purpose));
                match d.jobs.iter_mut().find(|x| x.job == job) {
                    Some(j) => j.steps.push(step),
                    None => d.jobs.push(JobLineage {
                        job,
                        algorithm: String::new(),
                        steps: vec![step],
                        model: None,
                    }),
                }
            }
            _ => {}
        }
    }
    d
}

/// The lineage of a dataset CID or of a model (64 hex digits, optionally `0x`-prefixed).
pub fn trace(entries: &[Sourced], target: &str) -> Result<Lineage> {
    // Entries come from several parties' logs: every list in the answer is in time order.
    let mut sorted: Vec<&Sourced> = entries.iter().collect();
    sorted.sort_by(|a, b| {
        (a.entry.time_ms, &a.origin, a.leaf_index).cmp(&(b.entry.time_ms, &b.origin, b.leaf_index))
    });
    let entries: Vec<Sourced> = sorted.into_iter().cloned().collect();
    let entries = &entries[..];
    let t = target.trim();
    let hexpart = t.strip_prefix("0x").unwrap_or(t);
    let model = (hexpart.len() == 64).then(|| Hash::from_hex(hexpart).ok()).flatten();
    match model {
        Some(m) => {
            let cids: BTreeSet<String> = entries
                .iter()
                .filter_map(|s| match &s.entry.body {
                    EntryBody::ComputeJob(j) if j.model == Some(m) => Some(j.dataset.clone()),
                    _ => None,
                })
                .collect();
            let datasets: Vec<DatasetLineage> =
                cids.iter().map(|c| dataset_lineage(entries, c)).collect();
            let own = datasets.is_empty().then(|| model_lineage(entries, &m));
            Ok(Lineage { target: t.into(), datasets, model: own })
        }
        None => Ok(Lineage {
            target: t.into(),
            datasets: vec![dataset_lineage(entries, t)],
            model: None,
        }),
    }
}

impl Lineage {
    /// True when no entry mentions the target.
    pub fn is_empty(&self) -> bool {
        self.datasets
            .iter()
            .all(|d| d.listings.is_empty() && d.sales.is_empty() && d.jobs.is_empty())
            && self.model.as_ref().is_none_or(|m| m.provenance.is_empty() && m.inference_count == 0)
    }

    /// A tree for people.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let step = |out: &mut String, indent: &str, s: &Step| {
            out.push_str(&format!("{indent}[{} #{}] {}\n", s.kind, s.leaf_index, s.summary));
        };
        let model = |out: &mut String, indent: &str, m: &ModelLineage| {
            out.push_str(&format!("{indent}model {}\n", m.model_hash));
            for s in &m.provenance {
                step(out, &format!("{indent}  "), s);
            }
            out.push_str(&format!("{indent}  {} inference(s)\n", m.inference_count));
            for s in &m.inferences {
                step(out, &format!("{indent}    "), s);
            }
        };
        for d in &self.datasets {
            out.push_str(&format!("dataset {}\n", d.cid));
            for s in d.listings.iter().chain(&d.sales) {
                step(&mut out, "  ", s);
            }
            for j in &d.jobs {
                let algorithm = if j.algorithm.is_empty() { "not logged" } else { &j.algorithm };
                out.push_str(&format!("  job {} (algorithm {algorithm})\n", j.job));
                for s in &j.steps {
                    step(&mut out, "    ", s);
                }
                if let Some(m) = &j.model {
                    model(&mut out, "    ", m);
                }
            }
        }
        if let Some(m) = &self.model {
            model(&mut out, "", m);
        }
        if self.is_empty() {
            out.push_str(&format!("no audit entry mentions {}\n", self.target));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alara_audit::entry::{ComputeJob, DataListing, Inference, ModelRef};

    fn s(i: u64, body: EntryBody) -> Sourced {
        Sourced { origin: "log".into(), leaf_index: i, entry: Entry { time_ms: i, body } }
    }

    fn fixture() -> (Vec<Sourced>, Hash) {
        let model = Hash([7; 32]);
        let job = |i, event: &str, model| {
            s(
                i,
                EntryBody::ComputeJob(ComputeJob {
                    job: "1/0xm/job/1".into(),
                    dataset: "bafyd".into(),
                    algorithm: Hash([1; 32]),
                    event: event.into(),
                    buyer: "0xb".into(),
                    owner: "0xo".into(),
                    result: None,
                    model,
                    receipt: None,
                    signature: String::new(),
                    tx: None,
                }),
            )
        };
        let inference = |i| {
            s(
                i,
                EntryBody::Inference(Inference {
                    system: "triage".into(),
                    model: ModelRef { id: "m.onnx".into(), version_hash: model },
                    started_ms: 0,
                    ended_ms: 0,
                    input: Hash([0; 32]),
                    output: Hash([0; 32]),
                    verified_by: None,
                    purpose: "screening".into(),
                }),
            )
        };
        let entries = vec![
            s(
                0,
                EntryBody::DataListing(DataListing {
                    listing: "1/0xm/1".into(),
                    dataset: "bafyd".into(),
                    plaintext: Hash([2; 32]),
                    terms: Hash([3; 32]),
                    seller: "0xo".into(),
                    token: "ETH".into(),
                    price: 5,
                    tx: None,
                }),
            ),
            job(1, "requested", None),
            job(2, "completed", Some(model)),
            inference(3),
            inference(4),
            s(
                5,
                EntryBody::DataListing(DataListing {
                    listing: "1/0xm/2".into(),
                    dataset: "bafyother".into(),
                    plaintext: Hash([2; 32]),
                    terms: Hash([3; 32]),
                    seller: "0xo".into(),
                    token: "ETH".into(),
                    price: 5,
                    tx: None,
                }),
            ),
        ];
        (entries, model)
    }

    #[test]
    fn dataset_to_job_to_model_to_inferences() {
        let (entries, model) = fixture();
        let l = trace(&entries, "bafyd").unwrap();
        assert_eq!(l.datasets.len(), 1);
        let d = &l.datasets[0];
        assert_eq!(d.listings.len(), 1);
        assert_eq!(d.jobs.len(), 1);
        assert_eq!(d.jobs[0].steps.len(), 2);
        let m = d.jobs[0].model.as_ref().unwrap();
        assert_eq!(m.model_hash, hex::encode(model.0));
        assert_eq!(m.inference_count, 2);
        assert!(l.render().contains("2 inference(s)"));
        assert!(l.render().contains("for 0.000000000000000005 ETH (5 wei)"), "{}", l.render());
    }

    #[test]
    fn steps_from_several_logs_are_in_time_order_and_jobs_keep_their_recipe() {
        let (mut entries, _) = fixture();
        // A second party's log, read first, whose entries are older and newer.
        let access = |i: u64, t: u64| Sourced {
            origin: "other".into(),
            leaf_index: i,
            entry: Entry {
                time_ms: t,
                body: EntryBody::DataAccess(alara_audit::entry::DataAccess {
                    dataset: "bafyd".into(),
                    accessor: "lab".into(),
                    mode: "compute-to-data".into(),
                    purpose: "recipe 1/0xm/job/1".into(),
                    subject: None,
                }),
            },
        };
        entries.insert(0, access(0, 10));
        entries.insert(0, access(1, 0));
        let l = trace(&entries, "bafyd").unwrap();
        let job = &l.datasets[0].jobs[0];
        assert_eq!(job.algorithm, hex::encode([1u8; 32]), "filled from the job's own entry");
        let times: Vec<u64> = job.steps.iter().map(|s| s.time_ms).collect();
        assert_eq!(times, [0, 1, 2, 10]);
        assert!(!l.render().contains("(algorithm )"), "{}", l.render());
    }

    #[test]
    fn amounts_carry_their_unit() {
        assert_eq!(amount(100_000_000_000_000_000, "ETH"), "0.1 ETH (100000000000000000 wei)");
        assert_eq!(amount(2_000_000_000_000_000_000, "ETH"), "2 ETH (2000000000000000000 wei)");
        assert_eq!(amount(0, "ETH"), "0 ETH (0 wei)");
        assert_eq!(
            amount(u128::MAX, "ETH"),
            format!("340282366920938463463.374607431768211455 ETH ({} wei)", u128::MAX)
        );
        assert_eq!(amount(7, "0xabc"), "7 base units of token 0xabc");
    }

    #[test]
    fn model_hash_leads_back_to_its_dataset() {
        let (entries, model) = fixture();
        let l = trace(&entries, &format!("0x{}", hex::encode(model.0))).unwrap();
        assert_eq!(l.datasets.len(), 1);
        assert_eq!(l.datasets[0].cid, "bafyd");
        assert!(l.model.is_none());
        let unknown = trace(&entries, &"ab".repeat(32)).unwrap();
        assert!(unknown.is_empty());
        assert!(unknown.render().contains("no audit entry"));
    }
}
