//! Usage of a served model, from the audit log: calls and revenue per period, each call's
//! receipt verified.
//!
//! Every paid call is a `paid_inference` entry carrying the voucher that paid for it, so
//! revenue is the growth of each channel's cumulative amount, and a usage report is a
//! query of the log — nothing else keeps books.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use alara_audit::entry::{Entry, EntryBody};
use alara_audit::{AuditTrail, Hash, Query};

use crate::Result;

/// One period of a usage report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsagePeriod {
    /// Start of the period, Unix ms.
    pub start_ms: u64,
    /// Paid calls.
    pub calls: u64,
    /// Calls paid by a voucher.
    pub channel_calls: u64,
    /// Calls under a licence.
    pub licensed_calls: u64,
    /// Revenue earned by vouchers in the period (base units).
    #[serde(with = "dec")]
    pub revenue: u128,
    /// Distinct payers.
    pub payers: u64,
}

/// A usage report of one model version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReport {
    /// SHA-256 of the model file.
    pub model: Hash,
    /// Period length, ms.
    pub period_ms: u64,
    /// Periods with calls, oldest first.
    pub periods: Vec<UsagePeriod>,
    /// All calls.
    pub calls: u64,
    /// All revenue (base units).
    #[serde(with = "dec")]
    pub revenue: u128,
    /// Receipts checked (inclusion proof and checkpoint signature).
    pub receipts_verified: u64,
    /// Leaf index of the first and last call.
    pub leaves: Option<(u64, u64)>,
}

mod dec {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Calls and revenue of `model` per `period_ms`, verifying every call's receipt when
/// `verify` (against the trail's own key: a mismatch is an error, not a count).
pub fn usage(trail: &AuditTrail, model: Hash, period_ms: u64, verify: bool) -> Result<UsageReport> {
    let q = Query {
        kinds: vec!["paid_inference".into()],
        model: Some(model.to_hex()),
        ..Query::default()
    };
    let rows = trail.query(&q)?.into_iter().map(|r| (r.leaf_index, r.entry));
    usage_of(rows, model, period_ms, verify.then_some(trail))
}

/// [`usage`] over entries already read (leaf index and entry, oldest first), e.g. from an
/// index kept by a server; entries of other kinds or models are skipped. Receipts are
/// verified against `verify_in` when given.
pub fn usage_of(
    rows: impl IntoIterator<Item = (u64, Entry)>,
    model: Hash,
    period_ms: u64,
    verify_in: Option<&AuditTrail>,
) -> Result<UsageReport> {
    let period_ms = period_ms.max(1);
    let mut periods: BTreeMap<u64, (UsagePeriod, std::collections::HashSet<String>)> =
        BTreeMap::new();
    // The last cumulative amount of each (account, nonce).
    let mut last: HashMap<(String, u64), u128> = HashMap::new();
    let (mut calls, mut revenue, mut verified) = (0u64, 0u128, 0u64);
    let mut leaves: Option<(u64, u64)> = None;
    for (leaf_index, entry) in rows {
        let EntryBody::PaidInference(p) = &entry.body else { continue };
        if p.model.version_hash != model {
            continue;
        }
        if let Some(trail) = verify_in {
            trail.receipt(leaf_index)?.verify_offline(Some(trail.verifier()))?;
            verified += 1;
        }
        let start = entry.time_ms - entry.time_ms % period_ms;
        let (period, payers) = periods.entry(start).or_insert_with(|| {
            (
                UsagePeriod {
                    start_ms: start,
                    calls: 0,
                    channel_calls: 0,
                    licensed_calls: 0,
                    revenue: 0,
                    payers: 0,
                },
                Default::default(),
            )
        });
        period.calls += 1;
        payers.insert(p.payer.clone());
        if p.payment == "channel" {
            period.channel_calls += 1;
            let prev = last.insert((p.account.clone(), p.nonce), p.amount).unwrap_or(0);
            let earned = p.amount.saturating_sub(prev);
            period.revenue += earned;
            revenue += earned;
        } else {
            period.licensed_calls += 1;
        }
        calls += 1;
        leaves = Some((leaves.map_or(leaf_index, |l| l.0), leaf_index));
    }
    let periods = periods
        .into_values()
        .map(|(mut p, payers)| {
            p.payers = payers.len() as u64;
            p
        })
        .collect();
    Ok(UsageReport {
        model,
        period_ms,
        periods,
        calls,
        revenue,
        receipts_verified: verified,
        leaves,
    })
}
