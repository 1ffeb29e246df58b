//! The oracle network over HTTP: node servers on loopback, the leader, and the aggregator on
//! every backend. f malicious nodes (lying ×10) leave the answer between honest
//! observations; a node sending a bad signature share is named and routed around; a node
//! refuses a forged observation, a second report for a round it signed, a report for another
//! feed and a package for another message; without 2f + 1 nodes there is no report; a
//! committee of 31 reports for at most 100,000 gas; a round without quorum is reported down
//! to the uptime feed, and a consumer refuses the feed until it is up past its grace period.

use crate::clock::{advance, now};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::Bytes;
use alloy::providers::DynProvider;
use rand::SeedableRng;

use alara_chain::testing::{backends, Backend, TestChain};
use alara_contracts::OracleAggregator;
use alara_oracle::node::{
    deploy_committee, serve_local, Behaviour, CommitteeFile, Leader, Node, NodeSecret,
    ObserveRequest, SignRequest,
};
use alara_oracle::report::transmit_aggregate;
use alara_oracle::series::{Attack, QuoteModel};

async fn start(backend: Backend) -> TestChain {
    TestChain::start(backend).await.unwrap_or_else(|e| {
        panic!("{backend} did not start: {e} (anvil comes from node_modules: run `npm ci`)")
    })
}

/// A deployed feed with its committee and node secrets.
struct Net {
    p: DynProvider,
    committee: CommitteeFile,
    secrets: Vec<NodeSecret>,
}

async fn deploy(_chain: &TestChain, p: DynProvider, n: u8, f: u8, seed: u64) -> Net {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let owner = alara_chain::dev::dev_addresses()[0];
    let mut model = QuoteModel::honest(10, 3);
    model.attacks.push(Attack::Manipulate { sources: vec![0, 1, 2], factor: 10.0 });
    let (secrets, committee) =
        deploy_committee(&p, owner, "AAPL / USD", ("AAPL", model), (n, f), &mut rng).await.unwrap();
    Net { p, committee, secrets }
}

impl Net {
    fn node(&self, i: usize, behaviour: Behaviour) -> Arc<Node> {
        Arc::new(Node::new(self.committee.clone(), self.secrets[i].clone(), behaviour).unwrap())
    }

    /// Serves every node (node i behaving as `behaviour(i)`) on loopback; their URLs.
    async fn serve(&self, behaviour: impl Fn(usize) -> Behaviour) -> Vec<Option<String>> {
        serve_local(&self.committee, &self.secrets, behaviour).await.unwrap()
    }

    fn leader(&self, urls: Vec<Option<String>>) -> Leader {
        Leader::new(self.committee.clone(), urls, Duration::from_secs(10)).unwrap()
    }
}

/// Four nodes, node 3 lying ×10 and exchanges 0-2 colluding ×10: each round's report has
/// four signed observations and one aggregate signature by two nodes, and the feed answers
/// its median, which lies between the honest nodes' observations and near the real close.
#[tokio::test]
async fn nodes_observe_and_sign_and_the_feed_answers_the_median() {
    for backend in backends() {
        let chain = start(backend).await;
        let net = deploy(&chain, chain.provider(0), 4, 1, 1).await;
        let urls =
            net.serve(|i| if i == 3 { Behaviour::Lie(10.0) } else { Behaviour::Honest }).await;
        let leader = net.leader(urls);
        let truth = alara_oracle::series::stock("AAPL").unwrap();
        let feed = OracleAggregator::new(net.committee.aggregator, net.p.clone());
        for epoch in 1..=3u64 {
            let out = leader.round(epoch, epoch as u32).await.unwrap();
            assert_eq!(out.report.observations.len(), 4, "[{backend}] {:?}", out.failed);
            assert_eq!(out.signers.len(), 2);
            let receipt =
                transmit_aggregate(&net.p, net.committee.aggregator, &out.report, &out.signature)
                    .await
                    .unwrap();
            assert!(receipt.status());
            let answer =
                i128::try_from(feed.latestRoundData().call().await.unwrap().answer).unwrap();
            assert_eq!(answer, out.answer());
            let honest: Vec<i128> = out
                .observed
                .iter()
                .filter(|o| o.observation.observer != 3)
                .map(|o| o.observation.value)
                .collect();
            let (lo, hi) = (*honest.iter().min().unwrap(), *honest.iter().max().unwrap());
            assert!((lo..=hi).contains(&answer), "[{backend}] {answer} outside [{lo}, {hi}]");
            let real = truth[(epoch - 1) as usize].value;
            let err = (answer as f64 / 1e8 / real - 1.0).abs();
            assert!(err < 0.01, "[{backend}] epoch {epoch}: {err}");
            // Every node dropped the three colluding exchanges.
            for o in &out.observed {
                let dropped: Vec<&str> =
                    o.decision.dropped.iter().map(|d| d.source.as_str()).collect();
                for s in ["source-0", "source-1", "source-2"] {
                    assert!(dropped.contains(&s), "[{backend}] {dropped:?}");
                }
                assert_eq!(
                    o.decision.quotes,
                    alara_oracle::consensus::quotes_commitment(&o.quotes)
                );
            }
        }
    }
}

/// Every reported round replays from its journal: each honest node's decision (with the
/// learned stage) comes out bit for bit from its raw quotes and detector state, the lying
/// node is named, the journal's entries are what the log holds, and the median is the
/// feed's on-chain answer. A journal whose quotes were changed afterwards, or whose log
/// entry disagrees, does not replay.
#[tokio::test]
async fn reported_rounds_replay_bit_for_bit_from_the_journal_and_the_log() {
    use alara_oracle::journal::{check_log, replay, RoundJournal};
    let chain = start(Backend::Embedded).await;
    let net = deploy(&chain, chain.provider(0), 4, 1, 5).await;
    let urls = net.serve(|i| if i == 3 { Behaviour::Lie(10.0) } else { Behaviour::Honest }).await;
    let leader = net.leader(urls);
    let dir = tempfile::tempdir().unwrap();
    let trail = alara_audit::AuditTrail::open({
        let mut c = alara_audit::TrailConfig::new(dir.path(), "replay-test");
        c.key_work_factor = 10;
        c
    })
    .unwrap();
    let feed = OracleAggregator::new(net.committee.aggregator, net.p.clone());
    let mut journals = Vec::new();
    // Epochs 1-12, so the detectors have history (and the learned stage features with it).
    for epoch in 1..=12u64 {
        let out = leader.round(epoch, epoch as u32).await.unwrap();
        let j = RoundJournal::new(&net.committee, &out);
        let entries: Vec<alara_audit::entry::Entry> = j
            .entries()
            .into_iter()
            .map(|body| alara_audit::entry::Entry { time_ms: 1, body })
            .collect();
        trail.append_batch(&entries).unwrap();
        transmit_aggregate(&net.p, net.committee.aggregator, &out.report, &out.signature)
            .await
            .unwrap();
        journals.push(j);
    }
    let rows = trail.query(&alara_audit::Query::default()).unwrap();
    // One entry per observing node and one for the report (a node without a quorum of
    // accepted quotes in an epoch does not observe).
    let expected: usize = journals.iter().map(|j| j.observed.len() + 1).sum();
    assert_eq!(rows.len(), expected);
    assert!(journals.iter().all(|j| j.observed.len() >= 3));
    for j in &journals {
        // Through JSON, as the CLI reads it from disk.
        let j: RoundJournal = serde_json::from_slice(&serde_json::to_vec(j).unwrap()).unwrap();
        let r = replay(&j).unwrap();
        assert!(r.answer_reproduced(), "{r:#?}");
        for n in &r.nodes {
            if n.observer == 3 {
                assert!(n.verdict.contains("it lied"), "{n:?}");
            } else {
                assert!(n.bit_for_bit && n.recomputed == Some(n.signed), "{n:?}");
            }
        }
        assert!(j.observed.iter().all(|o| o.detector.config.learned.is_some()));
        let log = check_log(&j, &rows);
        assert!(log.problems.is_empty(), "{:?}", log.problems);
        assert_eq!(log.leaves.len(), j.observed.len() + 1);
        let onchain = feed
            .getRoundData(alloy::primitives::aliases::U80::from(j.round))
            .call()
            .await
            .unwrap()
            .answer;
        assert_eq!(i128::try_from(onchain).unwrap(), j.answer);
    }
    // Tampering after the fact: a quote changed in the journal no longer matches its
    // commitment, and a changed answer disagrees with the log and the signed median.
    let mut forged = journals[5].clone();
    forged.observed[0].quotes[4].1 *= 1.01;
    let r = replay(&forged).unwrap();
    assert!(!r.answer_reproduced() && !r.nodes[0].quotes_match, "{r:#?}");
    let mut forged = journals[5].clone();
    forged.answer += 1;
    assert!(!replay(&forged).unwrap().answer_reproduced());
    assert!(!check_log(&forged, &rows).problems.is_empty());
}

/// A node whose signature shares do not verify is named by FROST and the leader signs with
/// another; with two of four nodes down there is no report; a node refuses a forged
/// observation, a report for another feed, a package for another message and a second
/// report for a round it signed.
#[tokio::test]
async fn bad_shares_missing_nodes_and_forgeries() {
    let chain = start(Backend::Embedded).await;
    let net = deploy(&chain, chain.provider(0), 4, 1, 2).await;
    let urls = net.serve(|i| if i == 0 { Behaviour::BadShare } else { Behaviour::Honest }).await;
    let leader = net.leader(urls.clone());
    let out = leader.round(1, 1).await.unwrap();
    assert!(!out.signers.contains(&0), "{:?}", out.signers);
    assert!(
        out.failed.iter().any(|(i, why)| *i == 0 && why.contains("does not verify")),
        "{:?}",
        out.failed
    );
    transmit_aggregate(&net.p, net.committee.aggregator, &out.report, &out.signature)
        .await
        .unwrap();

    // Two nodes down: 2 < 2f + 1 observations.
    let half = vec![urls[0].clone(), None, urls[2].clone(), None];
    let e = net.leader(half).round(2, 2).await.unwrap_err();
    assert!(matches!(e, alara_oracle::Error::Quorum { have: 2, need: 3, .. }), "{e}");

    // Straight to a node (node 1, honest, in-process).
    let node = net.node(1, Behaviour::Honest);
    let others: Vec<Arc<Node>> = (0..4).map(|i| net.node(i, Behaviour::Honest)).collect();
    let mut observed = Vec::new();
    for n in &others {
        observed.push(n.observe(&ObserveRequest { epoch: 1, round: 5 }).await.unwrap().observation);
    }
    let report = alara_oracle::report::Report::new(
        net.committee.config_digest,
        5,
        observed
            .iter()
            .map(|o| alara_oracle::report::Observation { observer: o.observer, value: o.value })
            .collect(),
    )
    .unwrap();
    let commitments = |n: &Arc<Node>| {
        let n = n.clone();
        async move {
            let c = n.commit(&alara_oracle::node::CommitRequest { round: 5 }).await.unwrap();
            frost_secp256k1::round1::SigningCommitments::deserialize(&c.commitments).unwrap()
        }
    };
    let mut map = std::collections::BTreeMap::new();
    map.insert(alara_oracle::threshold::identifier(1).unwrap(), commitments(&node).await);
    map.insert(alara_oracle::threshold::identifier(2).unwrap(), commitments(&others[2]).await);
    let package = alara_oracle::threshold::package(&report, map);
    let req = |report: &alara_oracle::report::Report,
               obs: &[alara_oracle::node::SignedObservation]| {
        SignRequest {
            report: report.encode(),
            observations: obs.to_vec(),
            package: Bytes::from(package.serialize().unwrap()),
        }
    };
    // A forged observation: node 0's value changed in the report and its "signed" copy.
    let mut forged_report = report.clone();
    forged_report.observations[0].value += 1_000;
    let mut forged_obs = observed.clone();
    let who = forged_report.observations[0].observer as usize;
    forged_obs[who].value = forged_report.observations[0].value;
    let e = node.sign(&req(&forged_report, &forged_obs)).await.unwrap_err().to_string();
    assert!(e.contains("signed by"), "{e}");
    // Another feed's digest.
    let other = alara_oracle::report::Report {
        config_digest: alloy::primitives::B256::ZERO,
        ..report.clone()
    };
    let e = node.sign(&req(&other, &observed)).await.unwrap_err().to_string();
    assert!(e.contains("another configuration"), "{e}");
    // The package signs another message than this report.
    let mut shifted = report.clone();
    shifted.round = 6;
    let shifted_obs: Vec<_> = observed
        .iter()
        .map(|o| alara_oracle::node::SignedObservation { round: 6, ..o.clone() })
        .collect();
    let e = node.sign(&req(&shifted, &shifted_obs)).await.unwrap_err().to_string();
    assert!(e.contains("signed by") || e.contains("another message"), "{e}");
    // The real one, once; not twice.
    node.sign(&req(&report, &observed)).await.unwrap();
    let e = node.sign(&req(&report, &observed)).await.unwrap_err().to_string();
    assert!(e.contains("not after the last one"), "{e}");
}

/// 31 nodes, f = 10 of them lying ×10: the report carries 31 observations and one aggregate
/// signature of 11 shares, costs at most 100,000 gas, and its median is an honest value.
#[tokio::test]
async fn thirty_one_nodes_with_ten_liars() {
    let chain = start(Backend::Embedded).await;
    let net = deploy(&chain, chain.provider(0), 31, 10, 3).await;
    let urls = net.serve(|i| if i < 10 { Behaviour::Lie(10.0) } else { Behaviour::Honest }).await;
    let leader = net.leader(urls);
    let out = leader.round(1, 1).await.unwrap();
    assert_eq!(out.report.observations.len(), 31);
    assert_eq!(out.signers.len(), 11);
    let receipt = transmit_aggregate(&net.p, net.committee.aggregator, &out.report, &out.signature)
        .await
        .unwrap();
    println!("n = 31: one aggregate report, {} gas", receipt.gas_used);
    assert!(receipt.gas_used <= 100_000, "{}", receipt.gas_used);
    let honest: Vec<i128> = out
        .observed
        .iter()
        .filter(|o| o.observation.observer >= 10)
        .map(|o| o.observation.value)
        .collect();
    let answer = out.answer();
    assert!((*honest.iter().min().unwrap()..=*honest.iter().max().unwrap()).contains(&answer));
}

/// The leader's status on the uptime feed, end to end: a round with all four nodes is up; a
/// round with two of them (fewer than 2f + 1 observations) is down, and a consumer refuses
/// the feed's answer though it is fresh; back to four, up again, and the consumer waits out
/// the grace period. The status is reported only when it changes.
#[tokio::test]
async fn a_round_without_quorum_reports_down_and_consumers_wait() {
    use alara_contracts::FeedConsumer::{self, FeedConsumerErrors};
    use alara_oracle::health::{post_if_changed, Status};
    const GRACE: u64 = 60;
    for backend in backends() {
        let chain = start(backend).await;
        let net = deploy(&chain, chain.provider(0), 4, 1, 4).await;
        let owner = alara_chain::dev::dev_addresses()[0];
        let uptime = alara_contracts::UptimeFeed::deploy(net.p.clone(), owner, owner, "up".into())
            .await
            .unwrap();
        let at = *uptime.address();
        let consumer = FeedConsumer::deploy(
            net.p.clone(),
            net.committee.aggregator,
            alloy::primitives::U256::from(86_400),
            alloy::primitives::I256::ZERO,
            alloy::primitives::I256::MAX,
            at,
            alloy::primitives::U256::from(GRACE),
        )
        .await
        .unwrap();
        let refused = || async {
            let e = consumer.read().call().await.unwrap_err();
            e.as_decoded_interface_error::<FeedConsumerErrors>()
                .unwrap_or_else(|| panic!("[{backend}] not a FeedConsumer error: {e}"))
        };
        let urls = net.serve(|_| Behaviour::Honest).await;
        let half = vec![urls[0].clone(), None, urls[2].clone(), None];

        // Four nodes: up, reported once.
        let out = net.leader(urls.clone()).round(1, 1).await;
        let status = Status::of(&out);
        assert_eq!(status, Some(Status::Up), "[{backend}]");
        let out = out.unwrap();
        transmit_aggregate(&net.p, net.committee.aggregator, &out.report, &out.signature)
            .await
            .unwrap();
        let t = now(&net.p).await;
        assert!(post_if_changed(&net.p, at, Status::Up, t).await.unwrap().is_some());
        advance(&chain, GRACE + 1).await;
        let t = now(&net.p).await;
        assert!(post_if_changed(&net.p, at, Status::Up, t).await.unwrap().is_none(), "no change");
        assert_eq!(
            i128::try_from(consumer.read().call().await.unwrap().answer).unwrap(),
            out.answer()
        );

        // Two nodes: no report, down; the consumer refuses the still fresh answer.
        let e = net.leader(half).prepare(2, 2).await;
        assert_eq!(Status::of(&e), Some(Status::Down), "[{backend}]");
        advance(&chain, 1).await;
        let t = now(&net.p).await;
        assert!(post_if_changed(&net.p, at, Status::Down, t).await.unwrap().is_some());
        assert!(matches!(refused().await, FeedConsumerErrors::FeedDown(_)), "[{backend}]");
        // A change in the same second as the last report waits for a later one.
        let same = post_if_changed(&net.p, at, Status::Up, t).await.unwrap();
        assert!(same.is_none(), "[{backend}] reported at {t} twice");

        // Four again: up, and the consumer waits out the grace period.
        let out = net.leader(urls).round(3, 2).await;
        assert_eq!(Status::of(&out), Some(Status::Up), "[{backend}]");
        advance(&chain, 1).await;
        let t = now(&net.p).await;
        assert!(post_if_changed(&net.p, at, Status::Up, t).await.unwrap().is_some());
        assert!(matches!(refused().await, FeedConsumerErrors::GracePeriodNotOver(_)));
        advance(&chain, GRACE + 1).await;
        consumer.read().call().await.unwrap();
        assert_eq!(uptime.latestRound().call().await.unwrap(), 3, "[{backend}] up, down, up");
    }
}
