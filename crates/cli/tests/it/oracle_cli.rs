//! `alara oracle feed` and `alara bench oracle` from the command line.

use serde_json::Value;

use crate::support::{alara, run};

#[test]
fn oracle_feed_drops_manipulators_and_refuses_bad_flags() {
    let out: Value = serde_json::from_str(&run(alara().args([
        "--json",
        "oracle",
        "feed",
        "--manipulate",
        "4",
        "--frozen",
        "5:30",
        "--last",
        "3",
    ])))
    .unwrap();
    let s = &out["summary"];
    assert!(s["filter_mean"].as_f64().unwrap() < 0.005, "{s}");
    assert!(s["median_mean"].as_f64().unwrap() > s["filter_mean"].as_f64().unwrap(), "{s}");
    let rounds = out["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 3);
    let dropped = rounds[2]["decision"]["dropped"].as_array().unwrap();
    assert!(
        dropped.iter().any(
            // Frozen since round 30: stale, or by now far enough off to fail the MAD.
            |d| d["source"] == "source-5"
                && ["stale", "mad"].iter().any(|r| d["reason"].as_str().unwrap().starts_with(r))
        ),
        "{dropped:?}"
    );

    for (flag, value, says) in [
        ("--spike", "99:1", "source 99 does not exist"),
        ("--drift", "1", "expected SOURCE:VALUE"),
        ("--series", "TSLA", "not in stocks.csv"),
        ("--manipulate", "11", "more than the 10 sources"),
    ] {
        let o = alara().args(["oracle", "feed", flag, value]).output().unwrap();
        assert!(!o.status.success(), "{flag} {value}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says) && err.starts_with("error: "), "{flag} {value}: {err}");
    }

    let bench: Value = serde_json::from_str(&run(
        alara().args(["--json", "bench", "oracle", "--seeds", "1", "--rounds", "2"])
    ))
    .unwrap();
    let table = bench["manipulation"].as_array().unwrap();
    assert_eq!(table.len(), 6, "k = 0..5");
    for row in &table[..5] {
        for col in ["rules_worst", "learned_worst"] {
            assert!(row[col].as_f64().unwrap() < 0.02, "{col}: {row}");
        }
        assert!(row["learned_mean"].as_f64().unwrap() <= row["median_mean"].as_f64().unwrap());
    }
    // Half the sources lying: no report rather than a side picked.
    assert!(table[5]["learned_no_report"].as_f64().unwrap() > 100.0, "{}", table[5]);
    assert_eq!(bench["attacks"].as_array().unwrap().len(), 7);
    let gas = bench["report_gas"].as_array().unwrap();
    assert_eq!(gas.len(), 3, "n = 4, 10, 31");
    let n31 = &gas[2];
    assert_eq!(n31["n"], 31);
    assert!(n31["aggregate"][1].as_u64().unwrap() <= 100_000, "{n31}");
    assert!(n31["ecdsa"][1].as_u64().unwrap() > n31["aggregate"][1].as_u64().unwrap(), "{n31}");
    let settle = bench["settle_gas"].as_array().unwrap();
    assert_eq!(settle.len(), 3, "batches of 1, 10, 50");
    assert!(settle[2]["per_policy"].as_u64().unwrap() < settle[0]["per_policy"].as_u64().unwrap());
    assert!(bench["claims"]["batch_per_s"].as_f64().unwrap() > 0.0, "{}", bench["claims"]);
    let latency = bench["latency"].as_array().unwrap();
    assert_eq!(latency.len(), 4, "n = 4 and 31 on the embedded chain and anvil");
    assert!(latency.iter().all(|l| l["median_total_ms"].as_f64().unwrap() > 0.0));
}

/// `alara demo insurance` on a data directory's own chain: eight policies over Seattle's
/// 2012–2015 seasons, each paid by the AYII rule from the real rainfall, and withdrawn.
#[test]
fn demo_insurance_pays_farmers_from_real_rainfall() {
    let dir = tempfile::tempdir().unwrap();
    let out: Value = serde_json::from_str(&run(alara().arg("--data-dir").arg(dir.path()).args([
        "--json",
        "demo",
        "insurance",
    ])))
    .unwrap();
    let paid = out["paid"].as_array().unwrap();
    assert_eq!(paid.len(), 8, "{out}");
    for p in paid {
        let (rain, trigger, exit) = (
            (p["rainfall_mm"].as_f64().unwrap() * 10.0).round() as u128,
            (p["trigger_mm"].as_f64().unwrap() * 10.0).round() as u128,
            (p["exit_mm"].as_f64().unwrap() * 10.0).round() as u128,
        );
        let sum: u128 = p["sum_insured_wei"].as_str().unwrap().parse().unwrap();
        let want = if rain >= trigger {
            0
        } else if rain <= exit {
            sum
        } else {
            sum * (trigger - rain) / (trigger - exit)
        };
        assert_eq!(p["payout_wei"].as_str().unwrap(), want.to_string(), "{p}");
    }
    assert_eq!(paid[2]["season"], 2013);
    assert_eq!(paid[2]["payout_wei"], "0", "2013 was wet: the standard cover pays nothing");
    // Every season's index and every payout is in the demo's audit log.
    let trail =
        alara_audit::AuditTrail::open_read_only(&dir.path().join("insurance-demo")).unwrap();
    let rows = trail.query(&alara_audit::Query::default()).unwrap();
    let kinds: Vec<&str> = rows.iter().map(|r| r.entry.body.kind_name()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "oracle_round").count(), 4, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "payout").count(), 8, "{kinds:?}");
    drop(trail);
    let o = alara()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["demo", "insurance", "--seasons", "5"])
        .output()
        .unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("1 to 4"));
}

/// `alara demo claims` on a data directory's own chain: three held-out real claims, one paid
/// automatically, one over the automatic maximum approved on review, one the model scores as
/// likely fraud rejected on review; the duplicate refused by name; every assessment and
/// payout in the demo's audit log, each assessment naming the pinned model.
#[test]
fn demo_claims_pays_reviews_and_rejects_held_out_claims() {
    let dir = tempfile::tempdir().unwrap();
    let out: Value = serde_json::from_str(&run(alara()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--json", "demo", "claims"])))
    .unwrap();
    let claims = out["claims"].as_array().unwrap();
    let decisions: Vec<&str> = claims.iter().map(|c| c["decision"].as_str().unwrap()).collect();
    assert_eq!(decisions, ["auto_approved", "review_amount", "review_fraud"], "{out}");
    assert_eq!(claims[0]["paid_wei"], claims[0]["claimed_wei"], "{out}");
    assert_eq!(claims[1]["paid_wei"], claims[1]["claimed_wei"], "{out}");
    assert_eq!(claims[2]["paid_wei"], "0", "{out}");
    assert_eq!(out["duplicate"], "ClaimOpen", "{out}");
    let model = out["model_sha256"].as_str().unwrap().trim_start_matches("0x").to_string();
    assert_eq!(model, alara_oracle::claims::CLAIMS_MODEL_SHA256);
    let trail =
        alara_audit::AuditTrail::open_read_only(&dir.path().join("claims-demo/audit")).unwrap();
    let rows = trail.query(&alara_audit::Query::default()).unwrap();
    let mut assessments = 0;
    for r in &rows {
        if let alara_audit::entry::EntryBody::ClaimAssessment(c) = &r.entry.body {
            assert_eq!(c.model.to_string().trim_start_matches("0x"), model);
            assessments += 1;
        }
    }
    assert_eq!(assessments, 3);
    let payouts = rows.iter().filter(|r| r.entry.body.kind_name() == "payout").count();
    assert_eq!(payouts, 2);
}
