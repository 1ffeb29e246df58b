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
            |d| d["source"] == "source-5" && d["reason"].as_str().unwrap().starts_with("stale")
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

    let bench: Value =
        serde_json::from_str(&run(alara().args(["--json", "bench", "oracle", "--seeds", "1"])))
            .unwrap();
    let table = bench["table"].as_array().unwrap();
    assert_eq!(table.len(), 6, "k = 0..5");
    assert!(table[4]["filter_worst_error"].as_f64().unwrap() < 0.02, "{bench}");
}
