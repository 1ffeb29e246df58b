//! Integration tests of `alara-fl`: determinism and replay, bad input, robustness,
//! free riders, and the networked coordinator over HTTP on localhost.

mod chain;

use std::{sync::Arc, time::Duration};

use alara_fl::{
    net::{self, ClientOptions, CoordinatorService, RoundTiming},
    round::task_config,
    sim::{free_rider_stats, split_dataset},
    Behavior, ClientUpdate, Coordinator, Error, LocalTraining, ModelSpec, Partition, RejectReason,
    RoundArtifacts, SimConfig, Simulation, Strategy, Weights,
};
use axum::{body::Body, http::Request};
use tower::ServiceExt;

fn small_sim(clients: usize, rounds: u64) -> SimConfig {
    let mut cfg = SimConfig::new("breast_cancer", clients, rounds);
    cfg.local =
        LocalTraining { epochs: 2, batch_size: 16, learning_rate: 0.1, ..Default::default() };
    cfg.threads = 2;
    cfg
}

fn run(cfg: SimConfig) -> Simulation {
    let mut sim = Simulation::new(cfg).unwrap();
    sim.run(|_| {}).unwrap();
    sim
}

#[test]
fn training_twice_gives_identical_model_hashes_and_records() {
    let mut cfg = small_sim(8, 3);
    cfg.partition = Partition::Dirichlet { alpha: 0.5 };
    let a = run(cfg.clone());
    let b = run(cfg.clone());
    assert_eq!(a.coordinator().global().hash(), b.coordinator().global().hash());
    assert_eq!(a.coordinator().records(), b.coordinator().records());
    // The thread count must not change a single bit.
    cfg.threads = 1;
    let c = run(cfg.clone());
    assert_eq!(
        a.coordinator().global().to_safetensors(),
        c.coordinator().global().to_safetensors()
    );
    // And the seed must matter.
    cfg.seed = 2;
    let d = run(cfg);
    assert_ne!(a.coordinator().global().hash(), d.coordinator().global().hash());
}

#[test]
fn replay_round_reproduces_every_published_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_sim(6, 3);
    cfg.strategy = Strategy::fed_adam();
    cfg.dp = Some(alara_fl::DpConfig { clip_norm: 1.0, noise_multiplier: 0.5, delta: 1e-5 });
    cfg.adversaries = vec![(Behavior::FreeRiderCopy, 1)];
    let mut sim = Simulation::with_artifacts(cfg, dir.path()).unwrap();
    sim.run(|_| {}).unwrap();
    let artifacts = RoundArtifacts::load(dir.path()).unwrap();
    assert_eq!(artifacts.rounds.len(), 3);
    for r in 1..=3 {
        let replayed = alara_fl::verify_round(&artifacts, r).unwrap();
        assert_eq!(replayed, sim.coordinator().records()[r as usize - 1]);
    }
    assert!(sim.coordinator().records()[2].dp_epsilon.unwrap() > 0.0);
    assert!(alara_fl::replay_round(&artifacts, 4).is_err());
}

#[test]
fn tampered_update_artifact_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = Simulation::with_artifacts(small_sim(4, 1), dir.path()).unwrap();
    sim.run(|_| {}).unwrap();
    let file = dir.path().join("round-000001/updates/client-0000.safetensors");
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&file, bytes).unwrap();
    let e = RoundArtifacts::load(dir.path()).unwrap_err();
    assert!(e.to_string().contains("hash"), "{e}");
}

fn coordinator(strategy: Strategy, quorum: usize) -> Coordinator {
    let s = split_dataset("breast_cancer", 0.2, 0.1, 1).unwrap();
    let (config, initial) = task_config(
        "t",
        1,
        ModelSpec::logistic(30, 2),
        LocalTraining::default(),
        strategy,
        None,
        3,
        quorum,
        s.standardizer.clone(),
        &s.validation,
    )
    .unwrap();
    Coordinator::new(config, &s.validation, initial).unwrap()
}

fn nudged(w: &Weights, k: f32) -> Weights {
    let mut w = w.clone();
    for (i, v) in w.values.iter_mut().enumerate() {
        *v += k * ((i % 7) as f32 - 3.0) * 1e-2;
    }
    w
}

fn reason(e: Error) -> RejectReason {
    match e {
        Error::RejectedUpdate { reason, .. } => reason,
        other => panic!("expected a rejection, got {other}"),
    }
}

#[test]
fn bad_updates_are_rejected_with_clear_reasons() {
    let mut c = coordinator(Strategy::FedAvg, 1);
    let g = c.global().clone();
    // NaN and Inf weights
    let mut nan = nudged(&g, 1.0);
    nan.values[3] = f32::NAN;
    let e = c.submit(ClientUpdate::new("a", 1, 10, nan)).unwrap_err();
    assert!(matches!(reason(e), RejectReason::Malformed(m) if m.contains("NaN")));
    // Wrong shape, as bytes from the network
    let other = ModelSpec::logistic(29, 2).init(0).to_safetensors();
    let e = ClientUpdate::from_bytes(g.spec, "a", 1, 10, &other).unwrap_err();
    assert!(e.to_string().contains("shape"), "{e}");
    let e = ClientUpdate::from_bytes(g.spec, "a", 1, 10, b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
        .unwrap_err();
    assert!(e.to_string().contains("rejected"), "{e}");
    // Wrong round, sample count, hash mismatch, bad client id
    let e = c.submit(ClientUpdate::new("a", 2, 10, nudged(&g, 1.0))).unwrap_err();
    assert_eq!(reason(e), RejectReason::WrongRound { claimed: 2, open: 1 });
    let e = c.submit(ClientUpdate::new("a", 1, 0, nudged(&g, 1.0))).unwrap_err();
    assert!(matches!(reason(e), RejectReason::SampleCount { found: 0, .. }));
    let mut forged = ClientUpdate::new("a", 1, 10, nudged(&g, 1.0));
    forged.update_hash = [7; 32];
    assert!(matches!(reason(c.submit(forged).unwrap_err()), RejectReason::HashMismatch { .. }));
    let e = c.submit(ClientUpdate::new("../etc", 1, 10, nudged(&g, 1.0))).unwrap_err();
    assert!(matches!(reason(e), RejectReason::Malformed(_)));
    // Accepted, then duplicate and in-round copy
    c.submit(ClientUpdate::new("a", 1, 10, nudged(&g, 1.0))).unwrap();
    let e = c.submit(ClientUpdate::new("a", 1, 10, nudged(&g, 2.0))).unwrap_err();
    assert_eq!(reason(e), RejectReason::Duplicate);
    let e = c.submit(ClientUpdate::new("b", 1, 10, nudged(&g, 1.0))).unwrap_err();
    assert!(matches!(reason(e), RejectReason::Replayed { first_round: 1, .. }));
    c.submit(ClientUpdate::new("b", 1, 10, nudged(&g, -1.0))).unwrap();
    c.close_round().unwrap();
    // A replay of round 1's update in round 2, relabelled with the new round.
    let e = c.submit(ClientUpdate::new("a", 2, 10, nudged(&g, 1.0))).unwrap_err();
    assert!(matches!(reason(e), RejectReason::Replayed { first_round: 1, .. }));
    // The stale round-1 message itself.
    let e = c.submit(ClientUpdate::new("a", 1, 10, nudged(&g, 3.0))).unwrap_err();
    assert_eq!(reason(e), RejectReason::WrongRound { claimed: 1, open: 2 });
}

#[test]
fn krum_refuses_to_close_without_2f_plus_3_updates() {
    let mut c = coordinator(Strategy::Krum { f: 1 }, 1);
    let g = c.global().clone();
    for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
        c.submit(ClientUpdate::new(id, 1, 10, nudged(&g, i as f32 + 1.0))).unwrap();
    }
    let e = c.close_round().unwrap_err();
    assert!(e.to_string().contains("needs at least 5"), "{e}");
    assert_eq!(c.pending(), 4, "the round stays open with its updates");
    c.submit(ClientUpdate::new("e", 1, 10, nudged(&g, 5.0))).unwrap();
    let r = c.close_round().unwrap();
    assert_eq!(r.clients.iter().filter(|c| c.selected).count(), 1);
}

#[test]
fn fedavg_learns_breast_cancer_and_median_resists_sign_flipping() {
    let clean = run(small_sim(10, 4));
    let clean_acc =
        alara_fl::model::evaluate(clean.coordinator().global(), clean.test_set()).accuracy;
    assert!(clean_acc > 0.9, "clean FedAvg accuracy {clean_acc}");
    let attacked = |strategy| {
        let mut cfg = small_sim(10, 4);
        cfg.strategy = strategy;
        cfg.adversaries = vec![(Behavior::SignFlip { scale: 10.0 }, 3)];
        let sim = run(cfg);
        alara_fl::model::evaluate(sim.coordinator().global(), sim.test_set()).accuracy
    };
    let fedavg = attacked(Strategy::FedAvg);
    let median = attacked(Strategy::Median { f: 3 });
    assert!(median > clean_acc - 0.05, "median {median} vs clean {clean_acc}");
    assert!(fedavg < median, "FedAvg {fedavg} should degrade below median {median}");
}

#[test]
fn free_riders_are_detected_and_paid_little() {
    let mut cfg = small_sim(12, 3);
    cfg.adversaries = vec![
        (Behavior::FreeRiderZero, 1),
        (Behavior::FreeRiderCopy, 1),
        (Behavior::FreeRiderRandom, 1),
    ];
    let mut sim = Simulation::new(cfg).unwrap();
    let outcomes = sim.run(|_| {}).unwrap();
    let stats = free_rider_stats(&outcomes);
    assert!(stats.detected as f64 >= 0.8 * stats.submissions as f64, "{stats:?}");
    assert!(stats.pool_share < 0.1, "{stats:?}");
    assert!(stats.honest_flagged * 5 <= stats.honest, "at most 20% false positives: {stats:?}");
    for o in &outcomes {
        let paid: u128 = o.record.clients.iter().map(|c| c.reward).sum();
        assert_eq!(paid, o.record.reward_pool, "rewards add up to the pool");
    }
}

fn service(
    rounds: u64,
    quorum: usize,
    timing: RoundTiming,
) -> (Arc<CoordinatorService>, Vec<alara_ml::Dataset>) {
    let s = split_dataset("breast_cancer", 0.2, 0.1, 3).unwrap();
    let (config, initial) = task_config(
        "net",
        3,
        ModelSpec::logistic(30, 2),
        LocalTraining { epochs: 2, ..Default::default() },
        Strategy::FedAvg,
        None,
        rounds,
        quorum,
        s.standardizer.clone(),
        &s.validation,
    )
    .unwrap();
    let coord = Coordinator::new(config, &s.validation, initial).unwrap();
    let parts = alara_fl::partition::partition(&s.train, 4, Partition::Iid, 1).unwrap();
    let data = parts.iter().map(|p| s.train.subset(p).unwrap()).collect();
    (CoordinatorService::new(coord, timing), data)
}

#[tokio::test]
async fn http_rejects_malformed_oversized_and_stale_updates() {
    let (svc, _) =
        service(2, 1, RoundTiming { deadline: Duration::from_secs(60), expected_clients: None });
    let app = net::router(svc.clone());
    let post = |uri: &str, body: Vec<u8>| {
        Request::builder().method("POST").uri(uri).body(Body::from(body)).unwrap()
    };
    let res =
        app.clone().oneshot(post("/v1/update/a/1/10", b"not safetensors".to_vec())).await.unwrap();
    assert_eq!(res.status(), 400);
    let res =
        app.clone().oneshot(post("/v1/update/a/1/10", vec![0; svc.max_body() + 1])).await.unwrap();
    assert_eq!(res.status(), 413);
    let good = nudged(&svc.global(), 1.0).to_safetensors();
    let res = app.clone().oneshot(post("/v1/update/a/5/10", good.clone())).await.unwrap();
    assert_eq!(res.status(), 409);
    let res = app.clone().oneshot(post("/v1/update/a/1/10", good.clone())).await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.clone().oneshot(post("/v1/update/b/1/10", good)).await.unwrap();
    assert_eq!(res.status(), 409, "same weights from another client are a replay");
    let res = app
        .clone()
        .oneshot(Request::builder().uri("/v1/task").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(svc.rejections().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn networked_round_survives_a_client_leaving_mid_task() {
    let (svc, data) = service(
        3,
        3,
        RoundTiming { deadline: Duration::from_millis(1500), expected_clients: Some(4) },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(net::serve(listener, svc.clone(), Duration::from_millis(600)));
    let mut clients = Vec::new();
    for (i, d) in data.into_iter().enumerate() {
        let opts = ClientOptions {
            coordinator: url.clone(),
            client_id: format!("hospital-{i}"),
            poll: Duration::from_millis(50),
            // hospital-3 leaves after the first round.
            max_rounds: if i == 3 { Some(1) } else { None },
            patience: Duration::from_secs(2),
        };
        clients.push(tokio::spawn(async move { net::run_client(&opts, &d).await }));
    }
    let records =
        tokio::time::timeout(Duration::from_secs(120), server).await.unwrap().unwrap().unwrap();
    for c in clients {
        c.await.unwrap().unwrap();
    }
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].clients.len(), 4);
    assert_eq!(records[1].clients.len(), 3, "round 2 closed at the deadline with quorum 3");
    assert_eq!(records[2].base_model_hash, records[1].global_model_hash);
}
