//! The market and FL views: sales and jobs grouped with their steps across the logs of
//! several parties, lineage from a dataset, FL rounds read from real round artifacts, claims
//! from payout entries, and task ids that cannot leave the FL directory.

use alara_audit::entry::{ComputeJob, DataListing, DataSale, Entry, EntryBody};
use alara_audit::Hash;
use axum::http::StatusCode;

use crate::support::{server, trail};

const CID: &str = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

fn at(t: u64, body: EntryBody) -> Entry {
    Entry { time_ms: t, body }
}

#[tokio::test]
async fn sales_and_jobs_grouped_across_parties_and_lineage() {
    let s = server(|_| {});
    let seller = s.state.audit().unwrap();
    // A second party's log, served beside the first.
    let buyer_dir = tempfile::tempdir().unwrap();
    let buyer = trail(buyer_dir.path());
    s.state.add_trail("buyer", buyer.clone());
    let sale = |t, event: &str| {
        at(
            t,
            EntryBody::DataSale(DataSale {
                sale: "31337/0xabc/sale/1".into(),
                dataset: CID.into(),
                event: event.into(),
                buyer: "0xb".into(),
                seller: "0xa".into(),
                token: "ETH".into(),
                amount: 100_000_000_000_000_000,
                tx: Some(Hash([t as u8; 32])),
            }),
        )
    };
    seller
        .append(&at(
            1,
            EntryBody::DataListing(DataListing {
                listing: "31337/0xabc/1".into(),
                dataset: CID.into(),
                plaintext: Hash([1; 32]),
                terms: Hash([2; 32]),
                seller: "0xa".into(),
                token: "ETH".into(),
                price: 100_000_000_000_000_000,
                tx: None,
            }),
        ))
        .unwrap();
    buyer.append(&sale(2, "paid")).unwrap();
    seller.append(&sale(3, "delivered")).unwrap();
    buyer.append(&sale(4, "confirmed")).unwrap();
    seller
        .append(&at(
            5,
            EntryBody::ComputeJob(ComputeJob {
                job: "31337/0xabc/job/1".into(),
                dataset: CID.into(),
                algorithm: Hash([3; 32]),
                event: "completed".into(),
                buyer: "0xb".into(),
                owner: "0xa".into(),
                result: Some(Hash([4; 32])),
                model: Some(Hash([5; 32])),
                receipt: None,
                signature: String::new(),
                tx: None,
            }),
        ))
        .unwrap();

    let listings = s.get("/api/v1/market/listings", None).await.json();
    assert_eq!(listings[0]["price"], "100000000000000000");
    assert_eq!(listings[0]["price_display"], "0.1 ETH (100000000000000000 wei)");
    let sales = s.get("/api/v1/market/sales", None).await.json();
    assert_eq!(sales.as_array().unwrap().len(), 1);
    let steps: Vec<_> = sales[0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| {
            (
                st["event"].as_str().unwrap().to_string(),
                st["at"]["log"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [("paid", "buyer"), ("delivered", "main"), ("confirmed", "buyer")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // New entries show up on the next request (the index is extended, not rebuilt).
    buyer.append(&sale(6, "released")).unwrap();
    let sales = s.get("/api/v1/market/sales", None).await.json();
    assert_eq!(sales[0]["steps"].as_array().unwrap().len(), 4);
    let jobs = s.get("/api/v1/market/jobs", None).await.json();
    assert_eq!(jobs[0]["model"], Hash([5; 32]).to_hex());
    let lineage = s.get(&format!("/api/v1/lineage/{CID}"), None).await;
    assert_eq!(lineage.status, StatusCode::OK, "{}", String::from_utf8_lossy(&lineage.body));
    let l = lineage.json();
    assert_eq!(l["datasets"][0]["sales"].as_array().unwrap().len(), 4);
    assert_eq!(l["datasets"][0]["jobs"].as_array().unwrap().len(), 1);
    // The logs route lists both; entries of the second log by name.
    let logs = s.get("/api/v1/audit/logs", None).await.json();
    assert_eq!(logs.as_array().unwrap().len(), 2);
    let page = s.get("/api/v1/audit/entries?log=buyer", None).await.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let missing = s.get("/api/v1/audit/entries?log=nobody", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.json()["error"]["hint"].as_str().unwrap().contains("buyer"));
}

#[tokio::test]
async fn fl_rounds_from_real_artifacts_and_claims() {
    let s = server(|_| {});
    let data_dir = s.state.config.data_dir.clone();
    let mut cfg = alara_fl::SimConfig::new("breast_cancer", 3, 2);
    cfg.threads = 2;
    let task = cfg.task_id.clone();
    let mut sim =
        alara_fl::Simulation::with_artifacts(cfg, &data_dir.join("fl").join(&task)).unwrap();
    let outcomes = sim.run(|_| {}).unwrap();
    let tasks = s.get("/api/v1/fl/tasks", None).await.json();
    assert_eq!(tasks[0]["task_id"], task);
    assert_eq!(tasks[0]["rounds"], 2);
    let rounds = s.get(&format!("/api/v1/fl/tasks/{task}/rounds"), None).await.json();
    assert_eq!(rounds.as_array().unwrap().len(), 2);
    for (r, o) in rounds.as_array().unwrap().iter().zip(&outcomes) {
        assert_eq!(r["round"], o.record.round);
        assert_eq!(r["accuracy"].as_f64().unwrap(), o.record.validation.accuracy);
        assert_eq!(r["clients"].as_array().unwrap().len(), o.record.clients.len());
        let total: f64 =
            r["clients"].as_array().unwrap().iter().map(|c| c["score"].as_f64().unwrap()).sum();
        assert!((total - 1.0).abs() < 1e-6 || total == 0.0, "scores sum to {total}");
    }
    // Claims come from payout entries.
    s.state
        .audit()
        .unwrap()
        .append(&Entry::now(alara_fl::trail::payout_entry(&task, "0xc1", "ALR", 42, None)))
        .unwrap();
    let claims = s.get(&format!("/api/v1/fl/tasks/{task}/claims"), None).await.json();
    assert_eq!(claims[0]["amount"], "42");
    // Task ids cannot walk out of <data-dir>/fl.
    for bad in ["..", ".hidden", "a%2F..%2F..", "x".repeat(65).leak()] {
        let a = s.get(&format!("/api/v1/fl/tasks/{bad}/rounds"), None).await;
        assert!(
            matches!(a.status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND),
            "{bad}: {}",
            a.status
        );
    }
    assert_eq!(s.get("/api/v1/fl/tasks/nope/rounds", None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn oracle_simulation_drops_manipulators_and_refuses_bad_parameters() {
    let s = server(|_| {});
    let series = s.get("/api/v1/oracle/series", None).await.json();
    assert!(series.as_array().unwrap().iter().any(|x| x["name"] == "seattle-rain"), "{series}");
    let sim = s.get("/api/v1/oracle/simulate?series=MSFT&manipulate=3&last=5", None).await.json();
    assert_eq!(sim["rounds"].as_array().unwrap().len(), 5);
    assert!(sim["summary"]["filter_max"].as_f64().unwrap() < 0.02, "{}", sim["summary"]);
    assert_eq!(sim["dates"].as_array().unwrap().len(), 5);
    for (q, says) in [
        ("sources=0", "sources=0"),
        ("sources=101", "sources=101"),
        ("manipulate=11", "manipulate=11"),
        ("factor=-1", "factor=-1"),
        ("series=TSLA", "not in stocks.csv"),
        ("sources=abc", ""),
    ] {
        let a = s.get(&format!("/api/v1/oracle/simulate?{q}"), None).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(a.code(), "bad_request", "{q}");
        assert!(a.json()["error"]["message"].as_str().unwrap().contains(says), "{q}: {}", a.json());
    }
}
