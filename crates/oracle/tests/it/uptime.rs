//! `UptimeFeed`, the oracle network's up/down status behind `AggregatorV3Interface`, on
//! every backend: a status change opens a round and a repeated status only refreshes
//! `updatedAt`; past rounds read back from `getRoundData`; a stranger, a replayed or old
//! report and one from the future are refused by name; and the gas of a status report.

use alloy::primitives::aliases::U80;
use alloy::primitives::{Address, I256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::SolInterface;

use alara_chain::testing::{backends, Backend, TestChain};
use alara_contracts::call::{event_of, send, CallError};
use alara_contracts::UptimeFeed::{self, UptimeFeedErrors, UptimeFeedInstance};
use alara_oracle::health::{post_status, Status};

async fn start(backend: Backend) -> TestChain {
    TestChain::start(backend).await.unwrap_or_else(|e| {
        panic!("{backend} did not start: {e} (anvil comes from node_modules: run `npm ci`)")
    })
}

async fn now(p: &DynProvider) -> u64 {
    p.get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp
}

async fn block_time(p: &DynProvider, r: &TransactionReceipt) -> u64 {
    let n = r.block_number.unwrap();
    p.get_block_by_number(n.into()).await.unwrap().unwrap().header.timestamp
}

/// Moves the chain's clock forward by `secs` and mines a block.
async fn advance(chain: &TestChain, secs: u64) {
    let p = chain.provider(0);
    let _: serde_json::Value = p.raw_request("evm_increaseTime".into(), (secs,)).await.unwrap();
    chain.mine_blocks(1).await.unwrap();
}

/// The named `UptimeFeed` error of a refused call.
fn named(e: &CallError) -> UptimeFeedErrors {
    let data = e.revert_data().unwrap_or_else(|| panic!("not a revert: {e}"));
    UptimeFeedErrors::abi_decode(data)
        .unwrap_or_else(|_| panic!("revert without a named UptimeFeed error: {e}"))
}

/// An uptime feed owned by account 0, reported to by account 1 (the leader).
struct Uptime {
    owner: UptimeFeedInstance<DynProvider>,
    leader: DynProvider,
}

impl Uptime {
    async fn deploy(chain: &TestChain) -> Uptime {
        let [owner, leader] = [0, 1].map(|i| alara_chain::dev::dev_addresses()[i]);
        let c = UptimeFeed::deploy(chain.provider(0), owner, leader, "alara oracle uptime".into())
            .await
            .unwrap();
        Uptime { owner: c, leader: chain.provider(1) }
    }

    fn addr(&self) -> Address {
        *self.owner.address()
    }

    async fn post(&self, status: Status, at: u64) -> Result<TransactionReceipt, CallError> {
        post_status(&self.leader, self.addr(), status, at).await
    }

    async fn latest(&self) -> UptimeFeed::latestRoundDataReturn {
        self.owner.latestRoundData().call().await.unwrap()
    }

    async fn round(&self, id: u64) -> Result<UptimeFeed::getRoundDataReturn, CallError> {
        let r = self.owner.getRoundData(U80::from(id)).call().await;
        r.map_err(|e| CallError::from_contract("getRoundData", &[], e))
    }
}

/// (roundId, answer, startedAt, updatedAt) of a round, with answeredInRound checked.
type Row = (U80, I256, U256, U256);

fn row(id: U80, answer: I256, started: U256, updated: U256, answered: U80) -> Row {
    assert_eq!(answered, id, "answeredInRound is the round itself");
    (id, answer, started, updated)
}

fn want(id: u64, status: Status, started: u64, updated: u64) -> Row {
    let answer = I256::try_from(status.answer()).unwrap();
    (U80::from(id), answer, U256::from(started), U256::from(updated))
}

/// Up, up again, down, up: rounds 1, 1, 2, 3. A repeated status keeps the round and its
/// `startedAt` and moves `updatedAt` (the block's time); a change opens a round started at
/// the report's timestamp. Every past round reads back from `getRoundData`; round 0 and
/// rounds not opened yet are `NoDataPresent`.
#[tokio::test]
async fn a_status_change_opens_a_round_and_a_repeat_keeps_started_at() {
    for backend in backends() {
        let chain = start(backend).await;
        let feed = Uptime::deploy(&chain).await;
        let p = &feed.leader;
        assert_eq!(feed.owner.decimals().call().await.unwrap(), 0);
        assert_eq!(feed.owner.description().call().await.unwrap(), "alara oracle uptime");
        assert_eq!(feed.owner.version().call().await.unwrap(), U256::from(1));

        // Nothing reported: every field zero (consumers refuse startedAt == 0), no round 1.
        let l = feed.latest().await;
        assert_eq!(
            row(l.roundId, l.answer, l.startedAt, l.updatedAt, l.answeredInRound),
            want(0, Status::Up, 0, 0),
            "[{backend}]"
        );
        for id in [0, 1] {
            let e = feed.round(id).await.unwrap_err();
            match named(&e) {
                UptimeFeedErrors::NoDataPresent(x) => assert_eq!(x.roundId, U80::from(id)),
                other => panic!("[{backend}] round {id}: {other:?}"),
            }
        }

        // The first report opens round 1, started when it was observed (a little before
        // the block that records it).
        let t1 = now(p).await;
        advance(&chain, 10).await;
        let r = feed.post(Status::Up, t1).await.unwrap();
        let b1 = block_time(p, &r).await;
        let ev = event_of::<UptimeFeed::NewRound>(&r, feed.addr(), "updateStatus").unwrap();
        assert_eq!((ev.roundId, ev.startedAt), (U256::from(1), U256::from(t1)));
        let ev = event_of::<UptimeFeed::AnswerUpdated>(&r, feed.addr(), "updateStatus").unwrap();
        assert_eq!((ev.current, ev.roundId), (I256::ZERO, U256::from(1)));
        let l = feed.latest().await;
        let got = row(l.roundId, l.answer, l.startedAt, l.updatedAt, l.answeredInRound);
        assert_eq!(got, want(1, Status::Up, t1, b1), "[{backend}]");
        assert!(b1 >= t1 + 10);

        // Up again, later: the same round, since t1; only updatedAt moves.
        advance(&chain, 100).await;
        let t2 = now(p).await;
        let r = feed.post(Status::Up, t2).await.unwrap();
        let b2 = block_time(p, &r).await;
        assert!(b2 > b1);
        let ev = event_of::<UptimeFeed::RoundUpdated>(&r, feed.addr(), "updateStatus").unwrap();
        assert_eq!(
            (ev.roundId, ev.status, ev.updatedAt),
            (U256::from(1), I256::ZERO, U256::from(b2))
        );
        assert!(event_of::<UptimeFeed::NewRound>(&r, feed.addr(), "updateStatus").is_err());
        let l = feed.latest().await;
        let got = row(l.roundId, l.answer, l.startedAt, l.updatedAt, l.answeredInRound);
        assert_eq!(got, want(1, Status::Up, t1, b2), "[{backend}] startedAt kept");
        assert_eq!(feed.owner.latestReportAt().call().await.unwrap(), t2);

        // Down: round 2, since t3.
        advance(&chain, 100).await;
        let t3 = now(p).await;
        let r = feed.post(Status::Down, t3).await.unwrap();
        let b3 = block_time(p, &r).await;
        let ev = event_of::<UptimeFeed::AnswerUpdated>(&r, feed.addr(), "updateStatus").unwrap();
        assert_eq!((ev.current, ev.roundId), (I256::ONE, U256::from(2)));
        // Down again: still round 2, since t3.
        advance(&chain, 100).await;
        let t4 = now(p).await;
        let b4 = block_time(p, &feed.post(Status::Down, t4).await.unwrap()).await;
        let l = feed.latest().await;
        let got = row(l.roundId, l.answer, l.startedAt, l.updatedAt, l.answeredInRound);
        assert_eq!(got, want(2, Status::Down, t3, b4), "[{backend}]");
        // Up: round 3.
        advance(&chain, 100).await;
        let t5 = now(p).await;
        let b5 = block_time(p, &feed.post(Status::Up, t5).await.unwrap()).await;
        assert_eq!(feed.owner.latestRound().call().await.unwrap(), 3);

        // Every round as it was left.
        for (id, status, started, updated) in
            [(1, Status::Up, t1, b2), (2, Status::Down, t3, b4), (3, Status::Up, t5, b5)]
        {
            let g = feed.round(id).await.unwrap();
            assert_eq!(
                row(g.roundId, g.answer, g.startedAt, g.updatedAt, g.answeredInRound),
                want(id, status, started, updated),
                "[{backend}] round {id}"
            );
        }
        assert!(b3 <= b4);
        assert!(matches!(
            named(&feed.round(4).await.unwrap_err()),
            UptimeFeedErrors::NoDataPresent(_)
        ));
        let beyond = feed.owner.getRoundData(U80::MAX).call().await;
        let e = CallError::from_contract("getRoundData", &[], beyond.unwrap_err());
        assert!(matches!(named(&e), UptimeFeedErrors::NoDataPresent(_)), "[{backend}]");
    }
}

/// Only the reporter reports, and only newer reports than the latest: a stranger (the owner
/// included), the same report again, an older one and one from the future are refused by
/// name, and none of them changes the status. Only the owner replaces the reporter, after
/// which the old one is a stranger.
#[tokio::test]
async fn strangers_and_old_reports_are_refused_by_name() {
    use UptimeFeedErrors as E;
    for backend in backends() {
        let chain = start(backend).await;
        let feed = Uptime::deploy(&chain).await;
        let p = &feed.leader;
        let [owner, leader, stranger] = [0, 1, 2].map(|i| alara_chain::dev::dev_addresses()[i]);
        assert_eq!(feed.owner.reporter().call().await.unwrap(), leader);

        let t = now(p).await;
        for (who, account) in [(stranger, 2), (owner, 0)] {
            let e = post_status(&chain.provider(account), feed.addr(), Status::Down, t)
                .await
                .unwrap_err();
            match named(&e) {
                E::NotReporter(x) => assert_eq!((x.caller, x.reporter), (who, leader)),
                other => panic!("[{backend}] stranger: {other:?}"),
            }
        }
        advance(&chain, 60).await;
        feed.post(Status::Down, t + 30).await.unwrap();

        // The same report again, and an older one that would bring "up" back.
        for (status, at) in [(Status::Down, t + 30), (Status::Up, t + 29), (Status::Up, 0)] {
            match named(&feed.post(status, at).await.unwrap_err()) {
                E::StaleReport(x) => assert_eq!((x.latest, x.got), (t + 30, at), "[{backend}]"),
                other => panic!("[{backend}] old report: {other:?}"),
            }
        }
        // A timestamp past the chain's clock.
        let ahead = now(p).await + 3600;
        match named(&feed.post(Status::Up, ahead).await.unwrap_err()) {
            E::ReportFromFuture(x) => assert_eq!(x.timestamp, ahead, "[{backend}]"),
            other => panic!("[{backend}] future: {other:?}"),
        }
        let l = feed.latest().await;
        assert_eq!((l.roundId, l.answer), (U80::from(1), I256::ONE), "[{backend}] still down");

        // Replacing the reporter: not by a stranger; by the owner, after which the old
        // reporter is refused and the new one reports.
        let as_stranger = UptimeFeed::new(feed.addr(), chain.provider(2));
        let e = send("setReporter", &as_stranger.setReporter(stranger), &[]).await.unwrap_err();
        assert!(matches!(named(&e), E::OwnableUnauthorizedAccount(_)), "[{backend}] {e}");
        let r = send("setReporter", &feed.owner.setReporter(stranger), &[]).await.unwrap();
        let ev = event_of::<UptimeFeed::ReporterSet>(&r, feed.addr(), "setReporter").unwrap();
        assert_eq!((ev.previous, ev.current), (leader, stranger));
        let t = now(p).await;
        match named(&feed.post(Status::Up, t).await.unwrap_err()) {
            E::NotReporter(x) => assert_eq!(x.caller, leader, "[{backend}]"),
            other => panic!("[{backend}] old reporter: {other:?}"),
        }
        post_status(&chain.provider(2), feed.addr(), Status::Up, t).await.unwrap();
        assert_eq!(feed.latest().await.roundId, U80::from(2), "[{backend}]");
    }
}

/// Gas of a status report (from receipts): the first, one that changes the status and one
/// that repeats it. The same on every backend, and bounded, so a regression fails.
#[tokio::test]
async fn status_report_gas() {
    let mut seen: Vec<(Backend, [u64; 3])> = Vec::new();
    for backend in backends() {
        let chain = start(backend).await;
        let feed = Uptime::deploy(&chain).await;
        let t = now(&feed.leader).await;
        advance(&chain, 10).await;
        let first = feed.post(Status::Up, t).await.unwrap().gas_used;
        let change = feed.post(Status::Down, t + 1).await.unwrap().gas_used;
        let repeat = feed.post(Status::Down, t + 2).await.unwrap().gas_used;
        println!(
            "[{backend}] updateStatus: first {first} gas, a change {change} gas, a repeat \
             {repeat} gas"
        );
        assert!(change <= 60_000 && repeat <= 40_000, "[{backend}] {change} / {repeat}");
        seen.push((backend, [first, change, repeat]));
    }
    for w in seen.windows(2) {
        assert_eq!(w[0].1, w[1].1, "{} and {} charge the same gas", w[0].0, w[1].0);
    }
}
