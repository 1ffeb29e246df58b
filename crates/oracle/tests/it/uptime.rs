//! `UptimeFeed`, the oracle network's up/down status behind `AggregatorV3Interface`, and the
//! consumers that check it, on every backend: a status change opens a round and a repeated
//! status only refreshes `updatedAt`; past rounds read back from `getRoundData`; a stranger,
//! a replayed or old report and one from the future are refused by name. `FeedConsumer` and
//! `CropInsurance` refuse while the feed has no status, while it is down and during the
//! grace period after, and accept after it. `CropInsurance`'s index bound (max refused at
//! max + 1, accepted at max) and `withdrawCapital` (free capital only). The gas of a status
//! report and of a consumer's read with the check.

use crate::clock::{advance, block_time, next_second};
use alloy::primitives::aliases::{U80, U96};
use alloy::primitives::{Address, I256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::SolInterface;

use alara_chain::testing::{backends, Backend, TestChain};
use alara_contracts::call::{event_of, send, CallError};
use alara_contracts::CropInsurance::{self, CropInsuranceErrors};
use alara_contracts::FeedConsumer::{self, FeedConsumerErrors, FeedConsumerInstance};
use alara_contracts::UptimeFeed::{self, UptimeFeedErrors, UptimeFeedInstance};
use alara_oracle::health::{post_status, Status};

use crate::clock::{now, warp};
use crate::crop::{named as crop_error, Feed, Pool, DAY, MAX_INDEX, SEATTLE};

async fn start(backend: Backend) -> TestChain {
    TestChain::start(backend).await.unwrap_or_else(|e| {
        panic!("{backend} did not start: {e} (anvil comes from node_modules: run `npm ci`)")
    })
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
        Self::deploy_with(chain, chain.provider(0)).await
    }

    /// With `p` (account 0): contracts sharing an account share its provider, whose nonce
    /// cache would otherwise be stale.
    async fn deploy_with(chain: &TestChain, p: DynProvider) -> Uptime {
        let [owner, leader] = [0, 1].map(|i| alara_chain::dev::dev_addresses()[i]);
        let c = UptimeFeed::deploy(p, owner, leader, "alara oracle uptime".into()).await.unwrap();
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
        next_second(&chain).await;
        let first = feed.post(Status::Up, t).await.unwrap().gas_used;
        next_second(&chain).await;
        let change = feed.post(Status::Down, t + 1).await.unwrap().gas_used;
        next_second(&chain).await;
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

/// The grace period of the consumers below: an hour after the network came back up.
const GRACE: u64 = 3600;

/// The named `FeedConsumer` error of a refused read.
fn consumer_error(e: alloy::contract::Error) -> FeedConsumerErrors {
    e.as_decoded_interface_error::<FeedConsumerErrors>()
        .unwrap_or_else(|| panic!("revert without a named FeedConsumer error"))
}

/// A `FeedConsumer` of `feed` (answers 0 to 10,000, fresh within 30 days, so the warps below
/// never make it stale) checking `uptime` with [`GRACE`].
async fn consumer(
    p: &DynProvider,
    feed: Address,
    uptime: Address,
) -> FeedConsumerInstance<DynProvider> {
    FeedConsumer::deploy(
        p.clone(),
        feed,
        U256::from(30 * 86_400),
        I256::ZERO,
        I256::try_from(10_000).unwrap(),
        uptime,
        U256::from(GRACE),
    )
    .await
    .unwrap()
}

/// Chainlink's sequencer check in a consumer: a fresh answer is refused while the uptime
/// feed has no round (`startedAt == 0`), for the grace period after its first "up", while it
/// is down, and for the grace period after it comes back up (the error carries startedAt,
/// the grace and the time); accepted once each grace period is over. A consumer without an
/// uptime feed reads throughout.
#[tokio::test]
async fn a_consumer_refuses_while_down_and_during_the_grace_period() {
    use FeedConsumerErrors as E;
    for backend in backends() {
        let chain = start(backend).await;
        let p0 = chain.provider(0);
        let mut prices = Feed::deploy(p0.clone()).await;
        prices.post(1000).await;
        let uptime = Uptime::deploy_with(&chain, p0.clone()).await;
        let guarded = consumer(&p0, prices.addr(), uptime.addr()).await;
        let plain = consumer(&p0, prices.addr(), Address::ZERO).await;
        let fine = |r: Result<FeedConsumer::readReturn, alloy::contract::Error>| {
            assert_eq!(r.unwrap().answer, I256::try_from(1000).unwrap(), "[{backend}]");
        };
        fine(plain.read().call().await);

        // No status yet: "up since 1970" is not an answer.
        match consumer_error(guarded.read().call().await.unwrap_err()) {
            E::UptimeRoundNotStarted(x) => assert_eq!(x.roundId, U80::ZERO, "[{backend}]"),
            other => panic!("[{backend}] no status: {other:?}"),
        }
        // Up, just now: the grace period runs from the first status too.
        let t1 = now(&p0).await;
        uptime.post(Status::Up, t1).await.unwrap();
        match consumer_error(guarded.read().call().await.unwrap_err()) {
            E::GracePeriodNotOver(x) => {
                assert_eq!((x.startedAt, x.grace), (U256::from(t1), U256::from(GRACE)));
                assert!(x.now_ >= U256::from(t1) && x.now_ <= U256::from(t1 + GRACE));
            }
            other => panic!("[{backend}] first grace: {other:?}"),
        }
        advance(&chain, GRACE + 1).await;
        fine(guarded.read().call().await);

        // Down: refused, however fresh the answer.
        prices.post(1000).await;
        let t2 = now(&p0).await;
        uptime.post(Status::Down, t2).await.unwrap();
        assert!(
            matches!(consumer_error(guarded.read().call().await.unwrap_err()), E::FeedDown(_)),
            "[{backend}]"
        );
        advance(&chain, 2 * GRACE).await;
        assert!(matches!(consumer_error(guarded.read().call().await.unwrap_err()), E::FeedDown(_)));
        fine(plain.read().call().await);

        // Back up: refused for the grace period from then, then read again.
        let t3 = now(&p0).await;
        uptime.post(Status::Up, t3).await.unwrap();
        advance(&chain, GRACE - 600).await;
        match consumer_error(guarded.read().call().await.unwrap_err()) {
            E::GracePeriodNotOver(x) => assert_eq!(x.startedAt, U256::from(t3), "[{backend}]"),
            other => panic!("[{backend}] grace after down: {other:?}"),
        }
        // A repeated "up" does not restart the grace period.
        uptime.post(Status::Up, now(&p0).await).await.unwrap();
        advance(&chain, 601).await;
        fine(guarded.read().call().await);
    }
}

/// Gas of a consumer's read (`eth_estimateGas` of `FeedConsumer.read`, the 21,000 of a
/// transaction included, every account and slot cold) with and without the uptime check; the
/// check's cost is the difference, bounded so a regression fails.
#[tokio::test]
async fn consumer_read_gas_with_the_uptime_check() {
    for backend in backends() {
        let chain = start(backend).await;
        let p0 = chain.provider(0);
        let mut prices = Feed::deploy(p0.clone()).await;
        prices.post(1000).await;
        let uptime = Uptime::deploy_with(&chain, p0.clone()).await;
        uptime.post(Status::Up, now(&p0).await).await.unwrap();
        advance(&chain, GRACE + 1).await;
        let guarded = consumer(&p0, prices.addr(), uptime.addr()).await;
        let plain = consumer(&p0, prices.addr(), Address::ZERO).await;
        guarded.read().call().await.unwrap();
        let with = guarded.read().estimate_gas().await.unwrap();
        let without = plain.read().estimate_gas().await.unwrap();
        println!(
            "[{backend}] FeedConsumer.read: {with} gas with the uptime check, {without} \
             without ({} for the check)",
            with - without
        );
        assert!(with > without && with - without < 12_000, "[{backend}] {with} / {without}");
    }
}

/// `CropInsurance` with an uptime feed: a season's fresh index does not settle while the
/// feed has no status, while it is down, or within the grace period after it came up; it
/// settles after, at the payout of the signed index.
#[tokio::test]
async fn crop_insurance_settles_only_past_the_grace_period() {
    use CropInsuranceErrors as E;
    let ether = 1_000_000_000_000_000_000u128;
    for backend in backends() {
        let chain = start(backend).await;
        let p0 = chain.provider(0);
        let mut rain = Feed::deploy(p0.clone()).await;
        let uptime = Uptime::deploy_with(&chain, p0.clone()).await;
        let pool = Pool::deploy_with(p0.clone(), 2 * ether, uptime.addr(), GRACE).await;
        send("setFeed", &pool.c.setFeed(SEATTLE, rain.addr(), MAX_INDEX), &[]).await.unwrap();
        let t = now(&p0).await;
        let end = t + 2 * DAY;
        let product = pool.offer(t + DAY, end, 2500, 1400, ether, ether / 10).await;
        let policy = pool.buy(&chain.provider(1), product, ether / 10).await.unwrap();
        warp(&chain, end + 60).await;
        rain.post(1000).await;
        let id = [policy.to::<u64>()];

        assert!(matches!(
            crop_error(&pool.settle(&id).await.unwrap_err()),
            E::UptimeRoundNotStarted(_)
        ));
        uptime.post(Status::Down, now(&p0).await).await.unwrap();
        assert!(
            matches!(crop_error(&pool.settle(&id).await.unwrap_err()), E::FeedDown(_)),
            "[{backend}]"
        );
        advance(&chain, 60).await;
        let up = now(&p0).await;
        uptime.post(Status::Up, up).await.unwrap();
        match crop_error(&pool.settle(&id).await.unwrap_err()) {
            E::GracePeriodNotOver(x) => {
                assert_eq!((x.startedAt, x.grace), (U256::from(up), U256::from(GRACE)))
            }
            other => panic!("[{backend}] grace: {other:?}"),
        }
        advance(&chain, GRACE + 1).await;
        let r = pool.settle(&id).await.unwrap();
        let ev = event_of::<CropInsurance::Settled>(&r, pool.addr(), "settle").unwrap();
        assert_eq!((ev.index, ev.payout), (U256::from(1000), U256::from(ether)), "[{backend}]");
    }
}

/// The region's index bound: an answer of max + 1 is refused by name with the answer and
/// the bound (never settled as the bound), one of exactly max settles; a bound of 0 is
/// refused when set.
#[tokio::test]
async fn crop_index_bound_is_inclusive_and_never_clamps() {
    use CropInsuranceErrors as E;
    let ether = 1_000_000_000_000_000_000u128;
    for backend in backends() {
        let chain = start(backend).await;
        let p0 = chain.provider(0);
        let mut rain = Feed::deploy(p0.clone()).await;
        let pool = Pool::deploy(p0.clone(), 2 * ether).await;
        let zero = pool.c.setFeed(SEATTLE, rain.addr(), U96::ZERO);
        let e = send("setFeed", &zero, &[]).await.unwrap_err();
        assert!(matches!(crop_error(&e), E::InvalidMaxIndex(_)), "[{backend}]");
        let max = 3000u128;
        let bounded = pool.c.setFeed(SEATTLE, rain.addr(), U96::from(max));
        let r = send("setFeed", &bounded, &[]).await.unwrap();
        let ev = event_of::<CropInsurance::FeedSet>(&r, pool.addr(), "setFeed").unwrap();
        assert_eq!((ev.feed, ev.maxIndex), (rain.addr(), U256::from(max)));
        assert_eq!(pool.c.feeds(SEATTLE).call().await.unwrap().maxIndex, U96::from(max));

        let t = now(&p0).await;
        let end = t + 2 * DAY;
        let product = pool.offer(t + DAY, end, 2500, 1400, ether, ether / 10).await;
        let policy = pool.buy(&chain.provider(1), product, ether / 10).await.unwrap();
        warp(&chain, end + 60).await;
        let id = [policy.to::<u64>()];
        rain.post(max as i128 + 1).await;
        match crop_error(&pool.settle(&id).await.unwrap_err()) {
            E::IndexOutOfBounds(x) => assert_eq!(
                (x.answer, x.max),
                (I256::try_from(max + 1).unwrap(), U256::from(max)),
                "[{backend}]"
            ),
            other => panic!("[{backend}] max + 1: {other:?}"),
        }
        rain.post(max as i128).await;
        let r = pool.settle(&id).await.unwrap();
        let ev = event_of::<CropInsurance::Settled>(&r, pool.addr(), "settle").unwrap();
        assert_eq!((ev.index, ev.payout), (U256::from(max), U256::ZERO), "[{backend}] at max");
    }
}

/// `withdrawCapital` takes only free capital (balance − totalOwed − exposure): asking one
/// wei more is `ExceedsFreeCapital` with the amount and what is free, zero is `ZeroAmount`,
/// a stranger is refused; what covers open policies and what holders are owed stays, so
/// every holder is still paid in full after the owner took all that was free.
#[tokio::test]
async fn withdraw_capital_takes_only_free_capital() {
    use CropInsuranceErrors as E;
    let ether = 1_000_000_000_000_000_000u128;
    let (sum, premium) = (ether, ether / 10);
    for backend in backends() {
        let chain = start(backend).await;
        let p0 = chain.provider(0);
        let p1 = chain.provider(1);
        let owner = alara_chain::dev::dev_addresses()[0];
        let mut rain = Feed::deploy(p0.clone()).await;
        let pool = Pool::deploy(p0.clone(), 3 * ether).await;
        send("setFeed", &pool.c.setFeed(SEATTLE, rain.addr(), MAX_INDEX), &[]).await.unwrap();
        let t = now(&p0).await;
        let end = t + 2 * DAY;
        let product = pool.offer(t + DAY, end, 2500, 1400, sum, premium).await;
        let a = pool.buy(&p1, product, premium).await.unwrap();
        let b = pool.buy(&p1, product, premium).await.unwrap();
        let free = |v: u128| U256::from(v);
        // 3 ether + two premiums, two sums insured open.
        let want = 3 * ether + 2 * premium - 2 * sum;
        assert_eq!(pool.c.freeCapital().call().await.unwrap(), free(want), "[{backend}]");

        let withdraw = |amount: u128| {
            let c = pool.c.clone();
            async move { send("withdrawCapital", &c.withdrawCapital(U256::from(amount)), &[]).await }
        };
        match crop_error(&withdraw(want + 1).await.unwrap_err()) {
            E::ExceedsFreeCapital(x) => {
                assert_eq!((x.amount, x.free), (free(want + 1), free(want)), "[{backend}]")
            }
            other => panic!("[{backend}] more than free: {other:?}"),
        }
        assert!(matches!(crop_error(&withdraw(0).await.unwrap_err()), E::ZeroAmount(_)));
        let as_holder = pool.as_(&p1);
        let stranger = as_holder.withdrawCapital(U256::from(1));
        let e = send("withdrawCapital", &stranger, &[]).await.unwrap_err();
        assert!(matches!(crop_error(&e), E::OwnableUnauthorizedAccount(_)), "[{backend}]");

        // Half of it, then, after one policy settles in full (owed, no longer exposed), the
        // rest: free capital did not change with the settlement.
        let before = p0.get_balance(owner).await.unwrap();
        let r = withdraw(want / 2).await.unwrap();
        let ev = event_of::<CropInsurance::CapitalWithdrawn>(&r, pool.addr(), "withdrawCapital")
            .unwrap();
        assert_eq!((ev.owner, ev.amount), (owner, free(want / 2)));
        let fee = U256::from(r.gas_used) * U256::from(r.effective_gas_price);
        assert_eq!(p0.get_balance(owner).await.unwrap(), before + free(want / 2) - fee);
        warp(&chain, end + 60).await;
        rain.post(1000).await;
        pool.settle(&[a.to::<u64>()]).await.unwrap();
        let rest = want - want / 2;
        assert_eq!(pool.c.freeCapital().call().await.unwrap(), free(rest), "[{backend}]");
        withdraw(rest).await.unwrap();
        assert_eq!(pool.c.freeCapital().call().await.unwrap(), U256::ZERO);
        match crop_error(&withdraw(1).await.unwrap_err()) {
            E::ExceedsFreeCapital(x) => assert_eq!(x.free, U256::ZERO),
            other => panic!("[{backend}] nothing free: {other:?}"),
        }
        // What is left is exactly what the holder is owed and the open policy's cover.
        assert_eq!(p0.get_balance(pool.addr()).await.unwrap(), free(2 * sum));
        pool.settle(&[b.to::<u64>()]).await.unwrap();
        send("withdraw", &pool.as_(&p1).withdraw(), &[]).await.unwrap();
        assert_eq!(p0.get_balance(pool.addr()).await.unwrap(), U256::ZERO, "[{backend}]");
    }
}
