//! The coordinator's checks and the aggregation results: bad updates rejected with
//! reasons, robust aggregators' tolerance, learning, free riders.

use alara_fl::{
    sim::free_rider_stats, Behavior, ClientUpdate, ModelSpec, RejectReason, Simulation, Strategy,
};

use crate::common::{coordinator, nudged, reason, run, small_sim};

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
