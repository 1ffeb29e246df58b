//! End-to-end flows of parties with their own stores, keyrings and audit trails: the
//! download sale, faulty deliveries and disputes, damaged CARs, compute-to-data with the
//! output guard, lineage to later inferences, and a scan proving no plaintext or key
//! reached the chain or the logs.

use std::path::Path;
use std::sync::Arc;

use alara_audit::audited::{InferenceAuditor, UseContext};
use alara_audit::entry::{now_ms, ModelRef};
use alara_audit::{AuditTrail, Hash, TrailConfig};
use alara_chain::testing::{backends, Backend, TestChain};
use alara_market::algorithm::{Aggregate, Algorithm, LogisticRegression, RangeFilter};
use alara_market::contract::{JobState, SaleState, Token};
use alara_market::party::JobRun;
use alara_market::{DataMarket, Error, Fault, GuardPolicy, Keyring, Offer, Party};
use alara_store::Store;
use alloy::primitives::{B256, U256};
use alloy::providers::{DynProvider, Provider};

use crate::support::{addr, signer, ARBITER, BUYER, OTHER, SELLER};

const CSV: &str = include_str!("../../../../datasets/breast_cancer.csv");

struct World {
    chain: TestChain,
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    market: alloy::primitives::Address,
}

impl World {
    async fn start(backend: Backend) -> Self {
        let chain = TestChain::start(backend).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let market = alara_market::ensure_deployed(&chain.provider(ARBITER), &root.join("arbiter"))
            .await
            .unwrap();
        Self { chain, _dir: dir, root, market }
    }

    async fn party(&self, account: usize, name: &str) -> Party<DynProvider> {
        let dir = self.root.join(name);
        let store = Arc::new(Store::open(dir.join("store")).unwrap());
        let mut cfg = TrailConfig::new(dir.join("audit"), "test passphrase");
        cfg.key_work_factor = 4;
        let trail = Arc::new(AuditTrail::open(cfg).unwrap());
        let market = DataMarket::new(self.market, self.chain.provider(account), addr(account))
            .await
            .unwrap();
        Party::new(market, store, Keyring::in_data_dir(&dir), Some(trail), Some(signer(account)))
    }

    async fn warp(&self, secs: u64) {
        let p = self.chain.provider(0);
        let _: serde_json::Value = p.raw_request("evm_increaseTime".into(), (secs,)).await.unwrap();
        let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
    }
}

fn eth(milli: u64) -> U256 {
    U256::from(milli) * U256::from(10u64).pow(U256::from(15))
}

fn offer(downloadable: bool) -> Offer {
    Offer {
        token: Token::Eth,
        price: eth(100),
        downloadable,
        delivery_window: 86_400,
        terms: "CC BY 4.0; research use; no re-identification".into(),
    }
}

fn car_of<P: Provider + Clone>(p: &Party<P>, cid: &str) -> Vec<u8> {
    let mut car = Vec::new();
    p.export_ciphertext(cid, &mut car).unwrap();
    car
}

fn kinds(trail: &AuditTrail) -> Vec<String> {
    trail
        .query(&Default::default())
        .unwrap()
        .iter()
        .map(|r| r.entry.body.kind_name().to_string())
        .collect()
}

#[tokio::test]
async fn download_sale_end_to_end_with_real_data() {
    for backend in backends() {
        let w = World::start(backend).await;
        let (hospital, pharma) =
            (w.party(SELLER, "hospital").await, w.party(BUYER, "pharma").await);
        let listed = hospital.sell(CSV.as_bytes(), &offer(true)).await.unwrap();
        assert_eq!(listed.size, CSV.len() as u64);
        let bought = pharma.buy(listed.listing_id).await.unwrap();
        let sale = bought.tx.value;
        // Before delivery there is nothing to receive.
        let out = w.root.join("pharma/breast_cancer.csv");
        assert!(matches!(pharma.receive(sale, &out).await, Err(Error::NotFound(_))));
        hospital.deliver(sale).await.unwrap();
        // The ciphertext travels as a CAR; without it the store says what to do.
        let e = pharma.receive(sale, &out).await.unwrap_err();
        assert!(e.to_string().contains("import its CAR"), "{backend}: {e}");
        assert!(!out.exists());
        pharma.import_car(&car_of(&hospital, &listed.cid)[..]).unwrap();
        let got = pharma.receive(sale, &out).await.unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), CSV);
        assert_eq!(got.plaintext_hash, listed.plaintext_hash);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
        }
        pharma.confirm(sale).await.unwrap();
        assert_eq!(pharma.market.sale(sale).await.unwrap().state, SaleState::Confirmed);
        assert_eq!(hospital.withdraw(Token::Eth).await.unwrap().value, eth(100));

        let ht = hospital.trail.as_ref().unwrap();
        let pt = pharma.trail.as_ref().unwrap();
        assert_eq!(kinds(ht), ["data_listing", "data_sale"], "{backend}");
        assert_eq!(kinds(pt), ["data_sale", "data_access", "data_sale"], "{backend}");
        for t in [ht, pt] {
            for i in 0..t.log().size() {
                t.receipt(i).unwrap().verify_offline(None).unwrap();
            }
        }
        assert_no_secret_leaked(&w, &[&hospital, &pharma]).await;
    }
}

/// Scans every transaction's input, every log, and every audit entry for the plaintext and
/// for every secret key in the parties' keyrings.
async fn assert_no_secret_leaked(w: &World, parties: &[&Party<DynProvider>]) {
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    // Distinctive plaintext: every data row of the CSV.
    secrets.extend(CSV.lines().skip(1).take(50).map(|l| l.as_bytes().to_vec()));
    for p in parties {
        for entry in walk(p.keyring.dir()) {
            let text = std::fs::read_to_string(&entry).unwrap();
            let key = text.trim().to_string();
            let (_, raw) = bech32::decode(&key).unwrap();
            secrets.push(key.into_bytes());
            secrets.push(raw);
        }
    }
    assert!(secrets.len() > 52, "keys were found to look for");
    let p = w.chain.provider(0);
    let head = p.get_block_number().await.unwrap();
    let mut haystacks: Vec<Vec<u8>> = Vec::new();
    for n in 0..=head {
        let b = p.get_block_by_number(n.into()).full().await.unwrap().unwrap();
        for tx in b.transactions.txns() {
            haystacks.push(alloy::consensus::Transaction::input(tx).to_vec());
            let r = p.get_transaction_receipt(*tx.inner.tx_hash()).await.unwrap().unwrap();
            for l in r.inner.logs() {
                haystacks.push(l.data().data.to_vec());
            }
        }
    }
    for party in parties {
        let t = party.trail.as_ref().unwrap();
        for i in 0..t.log().size() {
            haystacks.push(t.log().entry(i).unwrap());
        }
    }
    for h in &haystacks {
        for s in &secrets {
            assert!(
                !h.windows(s.len()).any(|w| w == &s[..]),
                "a secret or plaintext row reached the chain or a log"
            );
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "key") {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn key_for_the_wrong_buyer_is_caught_disputed_and_refunded() {
    let w = World::start(Backend::Embedded).await;
    let hospital = w.party(SELLER, "hospital").await;
    let (alice, bob) = (w.party(BUYER, "alice").await, w.party(OTHER, "bob").await);
    let arbiter = w.party(ARBITER, "arbiter").await;
    let listed = hospital.sell(CSV.as_bytes(), &offer(true)).await.unwrap();
    let car = car_of(&hospital, &listed.cid);
    for p in [&alice, &bob, &arbiter] {
        p.import_car(&car[..]).unwrap();
    }
    let sa = alice.buy(listed.listing_id).await.unwrap().tx.value;
    let sb = bob.buy(listed.listing_id).await.unwrap().tx.value;
    // The seller sends Bob the envelope made for Alice.
    let for_alice = {
        let s = hospital.market.sale(sa).await.unwrap();
        let id = hospital.keyring.dataset(&listed.cid).unwrap();
        alara_market::keys::seal_dataset_key(
            &id,
            &alara_market::keys::recipient_from_bytes(&s.buyer_key).unwrap(),
        )
        .unwrap()
    };
    hospital.market.deliver(sb, for_alice).await.unwrap();
    hospital.deliver(sa).await.unwrap();
    let out = w.root.join("bob/data.csv");
    match bob.receive(sb, &out).await {
        Err(Error::Delivery { sale, fault: Fault::KeyNotForBuyer }) => assert_eq!(sale, sb),
        other => panic!("expected a KeyNotForBuyer fault, got {other:?}"),
    }
    assert!(!out.exists(), "nothing is kept from a faulty delivery");
    assert_eq!(bob.check(sb).await.unwrap(), Err(Fault::KeyNotForBuyer));

    let bond = bob.dispute(sb).await.unwrap().tx.value;
    assert_eq!(bond, eth(10));
    let (verdict, _) = arbiter.arbitrate(sb).await.unwrap();
    assert!(verdict.buyer_wins, "{verdict:?}");
    assert_eq!(verdict.fault, Some(Fault::KeyNotForBuyer));
    assert_eq!(bob.market.owed(addr(OTHER), Token::Eth).await.unwrap(), eth(110));

    // Alice's delivery is fine; disputing it anyway costs her the bond.
    alice.receive(sa, &w.root.join("alice/data.csv")).await.unwrap();
    alice.dispute(sa).await.unwrap();
    let (verdict, _) = arbiter.arbitrate(sa).await.unwrap();
    assert!(!verdict.buyer_wins, "{verdict:?}");
    assert_eq!(alice.market.owed(addr(SELLER), Token::Eth).await.unwrap(), eth(110));
    assert_eq!(alice.market.sale(sa).await.unwrap().state, SaleState::Resolved);
    let kinds_b = kinds(bob.trail.as_ref().unwrap());
    assert_eq!(kinds_b, ["data_sale", "data_sale"], "paid, disputed");
    assert_eq!(
        kinds(arbiter.trail.as_ref().unwrap()),
        ["data_sale", "data_sale"],
        "two resolutions"
    );
}

#[tokio::test]
async fn damaged_cars_are_refused_with_clear_errors() {
    let w = World::start(Backend::Embedded).await;
    let (hospital, pharma) = (w.party(SELLER, "hospital").await, w.party(BUYER, "pharma").await);
    let listed = hospital.sell(CSV.as_bytes(), &offer(true)).await.unwrap();
    let car = car_of(&hospital, &listed.cid);
    // Truncated in the middle of a block.
    let e = pharma.import_car(&car[..car.len() - 100]).unwrap_err();
    assert!(matches!(e, Error::Store(_)), "{e}");
    assert!(
        e.to_string().to_lowercase().contains("car") || e.to_string().contains("truncated"),
        "{e}"
    );
    // A flipped byte inside a block's data.
    let mut bad = car.clone();
    let n = bad.len();
    bad[n - 10] ^= 0x01;
    let e = pharma.import_car(&bad[..]).unwrap_err();
    assert!(matches!(e, Error::Store(alara_store::Error::CorruptBlock { .. })), "{e}");
    // Not a CAR at all.
    assert!(pharma.import_car(&b"hello, I am not a CAR"[..]).is_err());
    // Nothing of the damaged imports is pinned; the intact CAR imports.
    assert!(pharma.store.pins().unwrap().is_empty());
    let roots = pharma.import_car(&car[..]).unwrap();
    assert_eq!(roots[0].to_string(), listed.cid);
}

#[tokio::test]
async fn compute_to_data_trains_a_model_whose_inferences_trace_back_to_the_dataset() {
    let w = World::start(Backend::Embedded).await;
    let (hospital, pharma) = (w.party(SELLER, "hospital").await, w.party(BUYER, "pharma").await);
    let listed = hospital.sell(CSV.as_bytes(), &offer(false)).await.unwrap();
    // Compute-only: no downloads.
    let e = pharma.buy(listed.listing_id).await.unwrap_err();
    assert_eq!(e.revert_name().as_deref(), Some("NotForDownload"), "{e}");
    let recipe =
        Algorithm::LogisticRegression(LogisticRegression { epochs: 150, ..Default::default() });
    hospital.offer_compute(listed.listing_id, &recipe, eth(20), 3_600).await.unwrap();

    let job = pharma.request_job(listed.listing_id, &recipe).await.unwrap().tx.value;
    // The owner runs only what was paid for.
    let other =
        Algorithm::LogisticRegression(LogisticRegression { epochs: 151, ..Default::default() });
    let e = hospital.run_job(job, &other, None, &GuardPolicy::default()).await.unwrap_err();
    assert!(matches!(e, Error::Algorithm(_)), "{e}");
    let run = hospital.run_job(job, &recipe, None, &GuardPolicy::default()).await.unwrap();
    let JobRun::Completed { model_hash, result_cid, receipt, .. } = run else {
        panic!("job failed: {run:?}")
    };
    receipt.verify(addr(SELLER)).unwrap();
    assert_eq!(receipt.receipt.rows, 569);
    assert_eq!(hospital.market.owed(addr(SELLER), Token::Eth).await.unwrap(), eth(20));

    pharma.import_car(&car_of(&hospital, &result_cid)[..]).unwrap();
    let fetched = pharma.fetch_result(job, &w.root.join("pharma/results")).await.unwrap();
    assert_eq!(fetched.model_hash, model_hash);
    assert!(fetched.summary["metrics"]["test_accuracy"].as_f64().unwrap() > 0.93);

    // Audited inference with the delivered model, in the buyer's trail.
    let model = alara_ml::OnnxModel::load(fetched.model_path.as_ref().unwrap()).unwrap();
    assert_eq!(Some(B256::from(model.hash())), model_hash);
    let trail = pharma.trail.clone().unwrap();
    let auditor = InferenceAuditor::new(
        trail.clone(),
        ModelRef { id: "job-1-model.onnx".into(), version_hash: Hash(model.hash()) },
        "screening",
    );
    let rows: Vec<Vec<f32>> = alara_ml::datasets::breast_cancer().unwrap().features[..5].to_vec();
    let preds = model.predict(&rows).unwrap();
    let audited =
        auditor.record(now_ms(), now_ms(), &rows, &preds, &UseContext::default()).unwrap();
    auditor.receipts(&audited).unwrap();

    // Lineage from both parties' logs: dataset → job → model → 5 inferences, and back.
    let mut entries = alara_market::lineage::from_trail(hospital.trail.as_ref().unwrap()).unwrap();
    entries.extend(alara_market::lineage::from_trail(&trail).unwrap());
    let l = alara_market::lineage::trace(&entries, &listed.cid).unwrap();
    let job_l = &l.datasets[0].jobs[0];
    let m = job_l.model.as_ref().expect("the job's model is in the lineage");
    assert_eq!(m.model_hash, hex::encode(model.hash()));
    assert_eq!(m.inference_count, 5);
    assert!(job_l.steps.iter().any(|s| s.summary.contains("completed")));
    assert!(job_l.steps.iter().any(|s| s.summary.contains("computed on")));
    let back = alara_market::lineage::trace(&entries, &hex::encode(model.hash())).unwrap();
    assert_eq!(back.datasets[0].cid, listed.cid);
    // The buyer's log alone also links the dataset to the model and the inferences.
    let own = alara_market::lineage::from_trail(&trail).unwrap();
    let l = alara_market::lineage::trace(&own, &listed.cid).unwrap();
    assert_eq!(l.datasets[0].jobs[0].model.as_ref().map(|m| m.inference_count), Some(5));

    // The data never left the owner: the buyer's store holds only the encrypted result.
    assert!(pharma.store.cat(&alara_store::parse_cid(&listed.cid).unwrap()).is_err());
    assert_no_secret_leaked(&w, &[&hospital, &pharma]).await;
}

#[tokio::test]
async fn guard_refusal_and_timeout_refund_the_buyer() {
    let w = World::start(Backend::Embedded).await;
    let (hospital, pharma) = (w.party(SELLER, "hospital").await, w.party(BUYER, "pharma").await);
    let listed = hospital.sell(CSV.as_bytes(), &offer(false)).await.unwrap();
    // A cohort of a handful of patients.
    let narrow = Algorithm::Aggregate(Aggregate {
        by_label: false,
        filter: Some(RangeFilter { feature: "mean_radius".into(), min: Some(25.0), max: None }),
    });
    hospital.offer_compute(listed.listing_id, &narrow, eth(5), 3_600).await.unwrap();
    let job = pharma.request_job(listed.listing_id, &narrow).await.unwrap().tx.value;
    let run = hospital.run_job(job, &narrow, None, &GuardPolicy::default()).await.unwrap();
    match run {
        JobRun::Failed { reason, .. } => assert!(reason.contains("covers"), "{reason}"),
        other => panic!("the guard let a small cohort out: {other:?}"),
    }
    assert_eq!(pharma.market.job(job).await.unwrap().state, JobState::Failed);
    assert_eq!(pharma.market.owed(addr(BUYER), Token::Eth).await.unwrap(), eth(5));

    // An owner who never answers: the buyer takes the money back after the deadline.
    let job2 = pharma.request_job(listed.listing_id, &narrow).await.unwrap().tx.value;
    let early = pharma.refund_job(job2).await.unwrap_err();
    assert_eq!(early.revert_name().as_deref(), Some("DeadlineNotReached"));
    w.warp(3_601).await;
    pharma.refund_job(job2).await.unwrap();
    assert_eq!(pharma.market.owed(addr(BUYER), Token::Eth).await.unwrap(), eth(10));
    assert_eq!(pharma.withdraw(Token::Eth).await.unwrap().value, eth(10));
    let kinds = kinds(pharma.trail.as_ref().unwrap());
    assert_eq!(kinds, ["compute_job", "compute_job", "compute_job"], "requested ×2, refunded");
}

#[tokio::test]
async fn seller_missing_the_deadline_is_refunded_through_the_party() {
    let w = World::start(Backend::Embedded).await;
    let (hospital, pharma) = (w.party(SELLER, "hospital").await, w.party(BUYER, "pharma").await);
    let listed = hospital.sell(CSV.as_bytes(), &offer(true)).await.unwrap();
    let sale = pharma.buy(listed.listing_id).await.unwrap().tx.value;
    w.warp(86_401).await;
    let e = hospital.deliver(sale).await.unwrap_err();
    assert_eq!(e.revert_name().as_deref(), Some("DeadlinePassed"), "{e}");
    let r = pharma.refund(sale).await.unwrap();
    assert!(r.audit_index.is_some());
    let e = pharma.confirm(sale).await.unwrap_err();
    assert_eq!(e.revert_name().as_deref(), Some("InvalidSaleState"), "{e}");
    // A seller's delivery for someone else's sale is refused before any transaction.
    let other = w.party(OTHER, "other").await;
    let sale2 = pharma.buy(listed.listing_id).await.unwrap().tx.value;
    let e = other.deliver(sale2).await.unwrap_err();
    assert!(e.to_string().contains("not by"), "{e}");
}
