//! `CropInsurance`, parametric drought cover settled from an `OracleAggregator` feed, on
//! every backend: Seattle's real May–September rainfall of 2012–2015 posted as signed
//! reports and each season's payout against the Rust formula; every refusal by its named
//! error; and the gas of settling batches of 1, 10 and 50 policies.

use crate::clock::{now, warp};
use alloy::primitives::aliases::U96;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolInterface;

use alara_chain::testing::{backends, Backend, TestChain};
use alara_contracts::call::{event_of, send, CallError};
use alara_contracts::CropInsurance::{self, CropInsuranceErrors, CropInsuranceInstance};
use alara_contracts::OracleAggregator::{self, OracleAggregatorInstance};
use alara_contracts::RefusingHolder;
use alara_oracle::crop::{Cover, DEMO_COVERS};
use alara_oracle::report::{transmit, Observation, Report};
use alara_oracle::series::season_rainfall;

pub(crate) const DAY: u64 = 86_400;
/// The largest age of a feed answer that settlement accepts.
const MAX_AGE: u64 = DAY;
/// The region id of Seattle's feed.
pub(crate) const SEATTLE: u32 = 1;
/// The largest plausible May–September rainfall index of the region: 2,000.0 mm (Seattle's
/// seasons of 2012–2015 had 127.4 to 284.8 mm).
pub(crate) const MAX_INDEX: U96 = U96::from_limbs([20_000, 0]);
const ETHER: u128 = 1_000_000_000_000_000_000;

/// The growing seasons: (year, May 1 00:00 UTC, October 1 00:00 UTC), unix seconds.
const SEASONS: [(u32, u64, u64); 4] = [
    (2012, 1_335_830_400, 1_349_049_600),
    (2013, 1_367_366_400, 1_380_585_600),
    (2014, 1_398_902_400, 1_412_121_600),
    (2015, 1_430_438_400, 1_443_657_600),
];

async fn start(backend: Backend) -> TestChain {
    TestChain::start(backend).await.unwrap_or_else(|e| {
        panic!("{backend} did not start: {e} (anvil comes from node_modules: run `npm ci`)")
    })
}

fn node(i: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::from(U256::from(0x0C40_0000 + i as u64))).unwrap()
}

/// The payout of a policy at `index` by `alara_oracle::crop`, the off-chain formula the API
/// and the dashboard quote, which these tests hold to the contract's.
fn payout(trigger: u128, exit: u128, sum_insured: u128, index: u128) -> U256 {
    U256::from(Cover::new(trigger, exit, sum_insured).unwrap().payout(index))
}

/// Each season's index: the May–September rainfall in tenths of a millimetre (the feed has
/// one decimal, as the data set), each day rounded to 0.1 mm and summed exactly.
fn seasonal_indices() -> Vec<(u32, u128)> {
    SEASONS.iter().map(|&(year, _, _)| (year, season_rainfall(year, 5..=9).unwrap())).collect()
}

/// A rainfall feed: an aggregator with n = 4, f = 1, one decimal.
pub(crate) struct Feed {
    p: DynProvider,
    c: OracleAggregatorInstance<DynProvider>,
    nodes: Vec<PrivateKeySigner>,
    digest: B256,
    round: u32,
}

impl Feed {
    pub(crate) async fn deploy(p: DynProvider) -> Feed {
        let owner = alara_chain::dev::dev_addresses()[0];
        let c =
            OracleAggregator::deploy(p.clone(), owner, 1, "Seattle May-Sep rainfall (mm)".into())
                .await
                .unwrap();
        let nodes: Vec<_> = (0..4).map(node).collect();
        let addrs: Vec<Address> = nodes.iter().map(|s| s.address()).collect();
        let none = alara_oracle::threshold::GroupKey::none();
        send("setConfig", &c.setConfig(addrs, 1, none), &[]).await.unwrap();
        let digest = c.configDigest().call().await.unwrap();
        Feed { p, c, nodes, digest, round: 0 }
    }

    /// Posts `index` as the next round: four nodes observe it (one a little low, one a
    /// little high; the median is `index`), two sign.
    pub(crate) async fn post(&mut self, index: i128) -> TransactionReceipt {
        self.round += 1;
        let obs = [index - 1, index, index, index + 2]
            .iter()
            .enumerate()
            .map(|(i, &value)| Observation { observer: i as u8, value })
            .collect();
        let r = Report::new(self.digest, self.round, obs).unwrap();
        let sigs = r.sign_all(&self.nodes[..2]).unwrap();
        transmit(&self.p, *self.c.address(), &r, &sigs).await.unwrap()
    }

    pub(crate) fn addr(&self) -> Address {
        *self.c.address()
    }
}

/// The named `CropInsurance` error of a refused transaction.
pub(crate) fn named(e: &CallError) -> CropInsuranceErrors {
    let data = e.revert_data().unwrap_or_else(|| panic!("not a revert: {e}"));
    CropInsuranceErrors::abi_decode(data)
        .unwrap_or_else(|_| panic!("revert without a named CropInsurance error: {e}"))
}

fn ids(v: &[u64]) -> Vec<U256> {
    v.iter().map(|&i| U256::from(i)).collect()
}

pub(crate) struct Pool {
    pub(crate) c: CropInsuranceInstance<DynProvider>,
}

impl Pool {
    /// A pool without an uptime feed.
    pub(crate) async fn deploy(p: DynProvider, capital: u128) -> Pool {
        Self::deploy_with(p, capital, Address::ZERO, 0).await
    }

    /// A pool checking the uptime feed at `uptime` with a grace period of `grace` seconds.
    pub(crate) async fn deploy_with(
        p: DynProvider,
        capital: u128,
        uptime: Address,
        grace: u64,
    ) -> Pool {
        let owner = alara_chain::dev::dev_addresses()[0];
        let c = CropInsurance::deploy(p, owner, U256::from(MAX_AGE), uptime, U256::from(grace))
            .await
            .unwrap();
        send("fund", &c.fund().value(U256::from(capital)), &[]).await.unwrap();
        Pool { c }
    }

    pub(crate) fn addr(&self) -> Address {
        *self.c.address()
    }

    pub(crate) fn as_(&self, p: &DynProvider) -> CropInsuranceInstance<DynProvider> {
        CropInsurance::new(self.addr(), p.clone())
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn offer(
        &self,
        start: u64,
        end: u64,
        trigger: u128,
        exit: u128,
        sum: u128,
        premium: u128,
    ) -> U256 {
        let call = self.c.offer(SEATTLE, start, end, trigger, exit, sum, premium);
        let id = call.call().await.unwrap();
        send("offer", &call, &[]).await.unwrap();
        id
    }

    pub(crate) async fn buy(
        &self,
        p: &DynProvider,
        product: U256,
        premium: u128,
    ) -> Result<U256, CallError> {
        let c = self.as_(p);
        let call = c.buy(product).value(U256::from(premium));
        let r = send("buy", &call, &[]).await?;
        Ok(event_of::<CropInsurance::Bought>(&r, self.addr(), "buy")?.policyId)
    }

    pub(crate) async fn settle(&self, v: &[u64]) -> Result<TransactionReceipt, CallError> {
        send("settle", &self.c.settle(ids(v)), &[]).await
    }
}

fn settled_events(r: &TransactionReceipt, pool: Address) -> Vec<CropInsurance::Settled> {
    r.inner
        .logs()
        .iter()
        .filter(|l| l.address() == pool)
        .filter_map(|l| l.log_decode::<CropInsurance::Settled>().ok())
        .map(|l| l.inner.data)
        .collect()
}

/// Seattle's growing seasons 2012–2015 (shifted, whole days, to the chain's future): a
/// policy per season bought before it starts, each season's real rainfall posted through
/// the aggregator after its end, settled, and withdrawn. Trigger 250.0 mm, exit 140.0 mm:
/// 2013 (284.8 mm) pays nothing, 2012 and 2014 part, 2015 (127.4 mm) the sum insured. Each
/// payout is the Rust formula's, and each holder's balance grows by it less its gas.
#[tokio::test]
async fn real_seasons_pay_the_linear_formula() {
    let standard = DEMO_COVERS[0].1;
    let (trigger, exit, sum, premium) =
        (standard.trigger, standard.exit, standard.sum_insured, ETHER / 10);
    assert_eq!((trigger, exit, sum), (2500, 1400, ETHER));
    let indices = seasonal_indices();
    assert_eq!(indices, vec![(2012, 1545), (2013, 2848), (2014, 2211), (2015, 1274)]);
    let want: Vec<U256> = indices.iter().map(|&(_, i)| payout(trigger, exit, sum, i)).collect();
    assert_eq!(want[1], U256::ZERO, "2013 pays nothing");
    assert_eq!(want[3], U256::from(sum), "2015 pays in full");
    assert!(want[0] > U256::ZERO && want[0] < U256::from(sum), "2012 pays part");
    assert!(want[2] > U256::ZERO && want[2] < U256::from(sum), "2014 pays part");
    for backend in backends() {
        let chain = start(backend).await;
        let p0 = chain.provider(0);
        let mut feed = Feed::deploy(p0.clone()).await;
        let pool = Pool::deploy(p0.clone(), 4 * ETHER).await;
        send("setFeed", &pool.c.setFeed(SEATTLE, *feed.c.address(), MAX_INDEX), &[]).await.unwrap();
        let shift = (now(&p0).await + DAY - SEASONS[0].1).div_ceil(DAY) * DAY;
        let holders: Vec<DynProvider> = (1..=4).map(|i| chain.provider(i)).collect();
        let mut policies = Vec::new();
        for (k, &(_, s, e)) in SEASONS.iter().enumerate() {
            let product = pool.offer(s + shift, e + shift, trigger, exit, sum, premium).await;
            policies.push(pool.buy(&holders[k], product, premium).await.unwrap());
        }
        assert_eq!(pool.c.exposure().call().await.unwrap(), U256::from(4 * sum));
        for (k, &(_, _, e)) in SEASONS.iter().enumerate() {
            warp(&chain, e + shift + 3600).await;
            feed.post(indices[k].1 as i128).await;
            let r = pool.settle(&[policies[k].to::<u64>()]).await.unwrap();
            let ev = settled_events(&r, pool.addr());
            assert_eq!(ev.len(), 1);
            assert_eq!(
                (ev[0].policyId, ev[0].index, ev[0].payout),
                (policies[k], U256::from(indices[k].1), want[k]),
                "[{backend}] season {}",
                indices[k].0
            );
            let holder = alara_chain::dev::dev_addresses()[k + 1];
            assert_eq!(pool.c.owed(holder).call().await.unwrap(), want[k]);
            println!(
                "[{backend}] {}: {} mm, payout {} wei of {sum}",
                indices[k].0,
                indices[k].1 as f64 / 10.0,
                want[k]
            );
        }
        assert_eq!(pool.c.exposure().call().await.unwrap(), U256::ZERO);
        let total: U256 = want.iter().copied().sum();
        assert_eq!(pool.c.totalOwed().call().await.unwrap(), total);
        for (k, h) in holders.iter().enumerate() {
            let who = alara_chain::dev::dev_addresses()[k + 1];
            if want[k].is_zero() {
                let e = send("withdraw", &pool.as_(h).withdraw(), &[]).await.unwrap_err();
                assert!(matches!(named(&e), CropInsuranceErrors::NothingOwed(_)), "[{backend}]");
                continue;
            }
            let before = h.get_balance(who).await.unwrap();
            let r = send("withdraw", &pool.as_(h).withdraw(), &[]).await.unwrap();
            let ev = event_of::<CropInsurance::Withdrawn>(&r, pool.addr(), "withdraw").unwrap();
            assert_eq!((ev.holder, ev.amount), (who, want[k]));
            let fee = U256::from(r.gas_used) * U256::from(r.effective_gas_price);
            assert_eq!(h.get_balance(who).await.unwrap(), before + want[k] - fee, "[{backend}]");
            assert_eq!(pool.as_(h).owed(who).call().await.unwrap(), U256::ZERO);
        }
        let left = p0.get_balance(pool.addr()).await.unwrap();
        assert_eq!(left, U256::from(4 * ETHER + 4 * premium) - total, "[{backend}]");
        assert_eq!(pool.c.totalOwed().call().await.unwrap(), U256::ZERO);
    }
}

/// The covers `alara demo insurance` sells quote, through `alara_oracle::crop`, what the
/// contract's `payoutOf` pays at each real season's index and around their levels.
#[tokio::test]
async fn demo_covers_quote_what_the_contract_pays() {
    for backend in backends() {
        let chain = start(backend).await;
        let p0 = chain.provider(0);
        let pool = Pool::deploy(p0.clone(), ETHER).await;
        let at = now(&p0).await;
        for (name, cover) in DEMO_COVERS {
            let product = pool
                .offer(at + DAY, at + 2 * DAY, cover.trigger, cover.exit, cover.sum_insured, 1)
                .await;
            let levels = [cover.exit - 1, cover.exit, cover.exit + 1, cover.trigger - 1];
            let around = levels.into_iter().chain([cover.trigger, cover.trigger + 1]);
            for index in seasonal_indices().into_iter().map(|(_, i)| i).chain(around) {
                let paid = pool.c.payoutOf(product, U256::from(index)).call().await.unwrap();
                assert_eq!(paid, U256::from(cover.payout(index)), "[{backend}] {name} at {index}");
            }
        }
    }
}

/// Every refusal by its named error: cover beyond capital, a wrong premium, a feed set by a
/// stranger, a batch of 51, settling before the season's end, buying after its start, an
/// answer from before the end, a negative answer, a stale answer, a second settlement; and
/// a holder contract that refuses ETH blocks neither the batch nor the others' withdrawals.
#[tokio::test]
async fn refusals_are_named_and_a_refusing_holder_blocks_nobody() {
    use CropInsuranceErrors as E;
    let (sum, premium) = (ETHER, ETHER / 10);
    for backend in backends() {
        let chain = start(backend).await;
        let p0 = chain.provider(0);
        let (p1, p2, p3) = (chain.provider(1), chain.provider(2), chain.provider(3));
        let mut feed = Feed::deploy(p0.clone()).await;
        let pool = Pool::deploy(p0.clone(), 3 * ETHER).await;

        // Only the owner sets a feed.
        let e = send("setFeed", &pool.as_(&p1).setFeed(SEATTLE, *feed.c.address(), MAX_INDEX), &[])
            .await
            .unwrap_err();
        assert!(matches!(named(&e), E::OwnableUnauthorizedAccount(_)), "[{backend}] {e}");
        send("setFeed", &pool.c.setFeed(SEATTLE, *feed.c.address(), MAX_INDEX), &[]).await.unwrap();

        let t = now(&p0).await;
        let (s, end) = (t + DAY, t + 30 * DAY);
        let product = pool.offer(s, end, 2500, 1400, sum, premium).await;

        // A wrong premium, either way.
        for paid in [premium - 1, premium + 1, 0] {
            match named(&pool.buy(&p1, product, paid).await.unwrap_err()) {
                E::WrongPremium(x) => {
                    assert_eq!((x.expected, x.got), (U256::from(premium), U256::from(paid)))
                }
                other => panic!("[{backend}] wrong premium: {other:?}"),
            }
        }
        // Three policies fit 3 ether of capital (plus premiums); a fourth does not.
        let refusing = RefusingHolder::deploy(p2.clone(), pool.addr()).await.unwrap();
        let a = pool.buy(&p1, product, premium).await.unwrap();
        let rcall = refusing.buy(product).value(U256::from(premium));
        send("buy", &rcall, &[]).await.unwrap();
        let r_id = a + U256::from(1);
        assert_eq!(pool.c.policy(r_id).call().await.unwrap().holder, *refusing.address());
        let c = pool.buy(&p3, product, premium).await.unwrap();
        match named(&pool.buy(&p3, product, premium).await.unwrap_err()) {
            E::InsufficientCapital(x) => assert_eq!(
                (x.needed, x.free),
                (U256::from(4 * sum), U256::from(3 * ETHER + 3 * premium + premium))
            ),
            other => panic!("[{backend}] beyond capital: {other:?}"),
        }
        // A batch of 51.
        match named(&pool.settle(&[0; 51]).await.unwrap_err()) {
            E::BatchTooLarge(x) => assert_eq!((x.got, x.max), (U256::from(51), U256::from(50))),
            other => panic!("[{backend}] batch: {other:?}"),
        }
        // Before the season's end.
        assert!(matches!(named(&pool.settle(&[0]).await.unwrap_err()), E::SeasonNotOver(_)));

        // The season has started: no more cover, and an answer posted during the season
        // does not settle it.
        warp(&chain, s + 3600).await;
        match named(&pool.buy(&p1, product, premium).await.unwrap_err()) {
            E::SeasonStarted(x) => assert_eq!(x.start, U256::from(s)),
            other => panic!("[{backend}] after start: {other:?}"),
        }
        feed.post(1000).await;
        warp(&chain, end + 60).await;
        match named(&pool.settle(&[0]).await.unwrap_err()) {
            E::AnswerBeforeSeasonEnd(x) => assert_eq!(x.end, U256::from(end)),
            other => panic!("[{backend}] early answer: {other:?}"),
        }
        // A negative answer.
        feed.post(-5).await;
        assert!(matches!(named(&pool.settle(&[0]).await.unwrap_err()), E::NegativeAnswer(_)));
        // A good answer, too old by the time anyone settles.
        feed.post(1000).await;
        warp(&chain, now(&p0).await + MAX_AGE + 60).await;
        match named(&pool.settle(&[0]).await.unwrap_err()) {
            E::StaleAnswer(x) => assert_eq!(x.maxAge, U256::from(MAX_AGE)),
            other => panic!("[{backend}] stale: {other:?}"),
        }

        // A fresh answer (100.0 mm, below exit): one batch settles all three in full,
        // the refusing holder's policy included.
        feed.post(1000).await;
        let all = [a.to::<u64>(), r_id.to::<u64>(), c.to::<u64>()];
        let r = pool.settle(&all).await.unwrap();
        let ev = settled_events(&r, pool.addr());
        assert_eq!(ev.len(), 3);
        assert!(ev.iter().all(|e| e.payout == U256::from(sum) && e.index == U256::from(1000)));
        // Each policy once: a batch naming a settled one reverts as a whole.
        match named(&pool.settle(&[r_id.to::<u64>()]).await.unwrap_err()) {
            E::AlreadySettled(x) => assert_eq!(x.policyId, r_id),
            other => panic!("[{backend}] second settle: {other:?}"),
        }
        assert!(matches!(named(&pool.settle(&[99]).await.unwrap_err()), E::UnknownPolicy(_)));

        // The refusing holder's withdrawal fails, and only its own: the others are paid,
        // and what it is owed stays recorded.
        let e = send("withdraw", &refusing.withdraw(), &[]).await.unwrap_err();
        assert!(matches!(named(&e), E::TransferFailed(_)), "[{backend}] {e}");
        for h in [&p1, &p3] {
            send("withdraw", &pool.as_(h).withdraw(), &[]).await.unwrap();
        }
        assert_eq!(pool.c.owed(*refusing.address()).call().await.unwrap(), U256::from(sum));
        assert_eq!(pool.c.totalOwed().call().await.unwrap(), U256::from(sum));
        let e = send("withdraw", &pool.as_(&p1).withdraw(), &[]).await.unwrap_err();
        assert!(matches!(named(&e), E::NothingOwed(_)), "[{backend}]");
    }
}

/// Gas of `settle` (from receipts) for batches of 1, 10 and 50 policies of one product,
/// all paying part of the sum insured to one holder; printed per policy and bounded loosely,
/// so a regression fails.
#[tokio::test]
async fn settle_gas_per_policy() {
    // The scenario `alara bench oracle` measures: 61 policies, one index, batches of 1,
    // 10 and 50.
    let owner = alara_chain::dev::dev_addresses()[0];
    for backend in backends() {
        let chain = start(backend).await;
        let rows = alara_oracle::bench::settle_gas(&chain.provider(0), owner).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.batch).collect::<Vec<_>>(), [1, 10, 50]);
        for r in rows {
            let n = r.batch as u64;
            println!(
                "[{backend}] settle, batch of {n:2}: {} gas, {} gas per policy",
                r.gas, r.per_policy
            );
            assert!(r.gas < 120_000 + 20_000 * n, "[{backend}] batch of {n}: {} gas", r.gas);
        }
    }
}
