//! What the leader keeps of every reported round, and the replay that recomputes it.
//!
//! A reported value is the median of the nodes' signed observations; each observation is
//! a node's [`decide`] over the raw quotes it saw, with its detector as it was before the
//! round. The leader writes all of that down ([`RoundJournal`]) and puts the parts that
//! matter into the audit log ([`RoundJournal::entries`]): per node an `oracle_round` entry
//! (the quotes' commitment, the dropped sources and why, the detector's hash — which pins
//! the learned model — the value and the confidence), and one `oracle_report` entry for
//! the report itself. [`replay`] reruns every node's decision from the journal and checks
//! it against what the node signed, bit for bit; the CLI also checks the journal against
//! the log and the answer against the chain (`alara oracle replay`).

use alara_audit::entry::{EntryBody, OracleReport};
use alara_audit::Hash;
use alloy::primitives::B256;
use serde::{Deserialize, Serialize};

use crate::consensus::{decide, quotes_commitment, DECIMALS};
use crate::node::{CommitteeFile, ObserveResponse, RoundOutcome};
use crate::Result;

/// Everything needed to recompute one reported round.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoundJournal {
    /// The feed.
    pub feed: String,
    /// The report round (the aggregator's round id).
    pub round: u32,
    /// The observation epoch.
    pub epoch: u64,
    /// The report's config digest.
    pub config_digest: B256,
    /// Accepted quotes a node needed.
    pub quorum: usize,
    /// The reported value: the median of the signed observations.
    pub answer: i128,
    /// Hash of the encoded report.
    pub report_hash: B256,
    /// Every node's answer: signed observation, decision, raw quotes, detector before.
    pub observed: Vec<ObserveResponse>,
}

/// The audit log's feed name of node `i`'s decisions for `feed`.
pub fn node_feed(feed: &str, observer: u8) -> String {
    format!("{feed}/node-{observer}")
}

impl RoundJournal {
    /// The journal of a round the leader reported.
    pub fn new(committee: &CommitteeFile, outcome: &RoundOutcome) -> Self {
        Self {
            feed: committee.feed.clone(),
            round: outcome.report.round,
            epoch: outcome.epoch,
            config_digest: committee.config_digest,
            quorum: committee.quorum,
            answer: outcome.answer(),
            report_hash: outcome.report.hash(),
            observed: outcome.observed.clone(),
        }
    }

    /// The round's audit entries: one `oracle_round` per observing node (its decision,
    /// under [`node_feed`] and the report round), then the `oracle_report`.
    pub fn entries(&self) -> Vec<EntryBody> {
        let mut out: Vec<EntryBody> = self
            .observed
            .iter()
            .map(|o| {
                let mut e = o.decision.entry();
                e.feed = node_feed(&self.feed, o.observation.observer);
                e.round = u64::from(self.round);
                // What the node signed (a node that lies signs something else than its
                // decision; the replay shows which).
                e.value = o.observation.value;
                EntryBody::OracleRound(e)
            })
            .collect();
        out.push(EntryBody::OracleReport(OracleReport {
            feed: self.feed.clone(),
            round: u64::from(self.round),
            value: self.answer,
            decimals: DECIMALS,
            report_hash: Hash(self.report_hash.0),
            reporters: self.observed.len() as u32,
        }));
        out
    }
}

/// One node's decision recomputed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeReplay {
    /// The node.
    pub observer: u8,
    /// What it signed.
    pub signed: i128,
    /// What its quotes and detector give.
    pub recomputed: Option<i128>,
    /// Whether the quotes hash to the commitment in its decision.
    pub quotes_match: bool,
    /// Whether the whole decision (accepted, dropped and why, confidence, hashes) came out
    /// identical.
    pub bit_for_bit: bool,
    /// In words.
    pub verdict: String,
}

/// A round recomputed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    /// The feed.
    pub feed: String,
    /// The report round.
    pub round: u32,
    /// The epoch.
    pub epoch: u64,
    /// The reported value (median of the signed observations).
    pub answer: i128,
    /// The median of the signed observations, recomputed from the journal.
    pub median_of_signed: Option<i128>,
    /// The median had every node signed what its own quotes give.
    pub median_of_recomputed: Option<i128>,
    /// Each node.
    pub nodes: Vec<NodeReplay>,
}

impl Replay {
    /// The reported value follows from the journal, and every node that signed its own
    /// decision is recomputed bit for bit.
    pub fn answer_reproduced(&self) -> bool {
        self.median_of_signed == Some(self.answer)
            && self.nodes.iter().all(|n| n.quotes_match)
            && self.nodes.iter().filter(|n| n.recomputed == Some(n.signed)).all(|n| n.bit_for_bit)
    }
}

/// Recomputes every node's decision of a journaled round.
pub fn replay(j: &RoundJournal) -> Result<Replay> {
    let mut nodes = Vec::new();
    for o in &j.observed {
        let observer = o.observation.observer;
        let signed = o.observation.value;
        let quotes_match = quotes_commitment(&o.quotes) == o.decision.quotes;
        let mut detector = o.detector.clone();
        let (recomputed, bit_for_bit, verdict) =
            match decide(&o.decision.feed, j.epoch, &o.quotes, &mut detector, j.quorum) {
                Ok(d) => {
                    let same = d == o.decision;
                    let verdict = if !quotes_match {
                        "its quotes do not match the commitment it signed".to_string()
                    } else if d.fixed != signed {
                        format!(
                            "signed {signed} but its quotes and detector give {}: it lied",
                            d.fixed
                        )
                    } else if !same {
                        "same value, but the decision differs (dropped sources or confidence)"
                            .to_string()
                    } else {
                        "recomputed bit for bit".to_string()
                    };
                    (Some(d.fixed), same, verdict)
                }
                Err(e) => (None, false, format!("cannot recompute: {e}")),
            };
        nodes.push(NodeReplay { observer, signed, recomputed, quotes_match, bit_for_bit, verdict });
    }
    let mut signed: Vec<i128> = nodes.iter().map(|n| n.signed).collect();
    signed.sort_unstable();
    let mut honest: Vec<i128> = nodes.iter().filter_map(|n| n.recomputed).collect();
    honest.sort_unstable();
    Ok(Replay {
        feed: j.feed.clone(),
        round: j.round,
        epoch: j.epoch,
        answer: j.answer,
        median_of_signed: crate::report::median(&signed),
        median_of_recomputed: crate::report::median(&honest),
        nodes,
    })
}

/// How a journal agrees with the audit log.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LogAgreement {
    /// Leaf indices of the round's entries found.
    pub leaves: Vec<u64>,
    /// Disagreements (none when the journal is the one the log recorded).
    pub problems: Vec<String>,
}

/// Checks a journal against the audit log's `oracle_round` and `oracle_report` entries
/// (`rows`, any kinds): every node's entry carries its quotes' commitment, detector hash,
/// dropped sources and signed value, and the report's entry the answer and report hash.
pub fn check_log(j: &RoundJournal, rows: &[alara_audit::trail::Row]) -> LogAgreement {
    let mut out = LogAgreement::default();
    let round = u64::from(j.round);
    for o in &j.observed {
        let feed = node_feed(&j.feed, o.observation.observer);
        let found = rows.iter().rev().find_map(|r| match &r.entry.body {
            EntryBody::OracleRound(e) if e.feed == feed && e.round == round => Some((r, e)),
            _ => None,
        });
        let Some((row, e)) = found else {
            out.problems.push(format!("no oracle_round entry for {feed} round {round}"));
            continue;
        };
        out.leaves.push(row.leaf_index);
        let mut expect = o.decision.entry();
        expect.feed = feed.clone();
        expect.round = round;
        expect.value = o.observation.value;
        if *e != expect {
            out.problems.push(format!(
                "entry {} ({feed}) differs from the journal: logged quotes {}, value {}, \
                 detector {}; journal {}, {}, {}",
                row.leaf_index,
                e.quotes.to_hex(),
                e.value,
                e.detector.to_hex(),
                expect.quotes.to_hex(),
                expect.value,
                expect.detector.to_hex()
            ));
        }
    }
    let report = rows.iter().rev().find_map(|r| match &r.entry.body {
        EntryBody::OracleReport(e) if e.feed == j.feed && e.round == round => Some((r, e)),
        _ => None,
    });
    match report {
        None => out.problems.push(format!("no oracle_report entry for {} round {round}", j.feed)),
        Some((row, e)) => {
            out.leaves.push(row.leaf_index);
            if e.value != j.answer || e.report_hash.0 != j.report_hash.0 {
                out.problems.push(format!(
                    "report entry {} says {} (report {}), the journal {} ({})",
                    row.leaf_index,
                    e.value,
                    e.report_hash.to_hex(),
                    j.answer,
                    j.report_hash
                ));
            }
        }
    }
    out
}
