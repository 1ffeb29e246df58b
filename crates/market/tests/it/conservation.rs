//! Escrow conservation: random sequences of market actions against the real contract on
//! the embedded chain, checked step by step against a model. After every step the
//! contract holds exactly the open escrows plus everything owed, per token; every
//! account's withdrawable balance is what the model says; ERC-20 supply among the
//! participants and the contract is unchanged; and each call succeeds exactly when the
//! model says it may.

use std::collections::HashMap;
use std::sync::OnceLock;

use alara_chain::testing::Backend;
use alara_market::contract::{JobState, SaleState, Token};
use alara_market::receipt::JobReceipt;
use alara_market::DataMarket;
use alloy::primitives::{B256, U256};
use alloy::providers::{DynProvider, Provider};
use proptest::prelude::*;

use crate::support::*;

const KEY: [u8; 32] = [0x22; 32];
const JOB_WINDOW: u64 = 1_000;
const LONG_WARP: u64 = 6_000;
const ALGORITHM: B256 = B256::repeat_byte(0x33);

#[derive(Debug, Clone)]
enum Action {
    List { eth: bool, price: u64 },
    Buy { listing: usize, buyer: usize },
    Deliver { sale: usize },
    Confirm { sale: usize },
    Release { sale: usize },
    Refund { sale: usize },
    Dispute { sale: usize },
    Resolve { sale: usize, buyer_wins: bool },
    ResolveExpired { sale: usize },
    RequestJob { listing: usize, buyer: usize },
    Submit { job: usize },
    Fail { job: usize },
    RefundJob { job: usize },
    Withdraw { who: usize, eth: bool },
    Warp,
}

fn action() -> impl Strategy<Value = Action> {
    let i = 0usize..8;
    prop_oneof![
        2 => (any::<bool>(), 1u64..1_000_000).prop_map(|(eth, price)| Action::List { eth, price }),
        3 => (i.clone(), 0usize..2).prop_map(|(listing, buyer)| Action::Buy { listing, buyer }),
        2 => i.clone().prop_map(|sale| Action::Deliver { sale }),
        2 => i.clone().prop_map(|sale| Action::Confirm { sale }),
        1 => i.clone().prop_map(|sale| Action::Release { sale }),
        1 => i.clone().prop_map(|sale| Action::Refund { sale }),
        1 => i.clone().prop_map(|sale| Action::Dispute { sale }),
        1 => (i.clone(), any::<bool>()).prop_map(|(sale, buyer_wins)| Action::Resolve { sale, buyer_wins }),
        1 => i.clone().prop_map(|sale| Action::ResolveExpired { sale }),
        2 => (i.clone(), 0usize..2).prop_map(|(listing, buyer)| Action::RequestJob { listing, buyer }),
        1 => i.clone().prop_map(|job| Action::Submit { job }),
        1 => i.clone().prop_map(|job| Action::Fail { job }),
        1 => i.clone().prop_map(|job| Action::RefundJob { job }),
        2 => (0usize..4, any::<bool>()).prop_map(|(who, eth)| Action::Withdraw { who, eth }),
        1 => Just(Action::Warp),
    ]
}

struct MSale {
    buyer: usize,
    amount: u128,
    token: Token,
    state: SaleState,
    deadline: u64,
}

struct MJob {
    buyer: usize,
    amount: u128,
    token: Token,
    state: JobState,
    deadline: u64,
}

#[derive(Default)]
struct Model {
    listings: Vec<(Token, u128)>,
    sales: Vec<MSale>,
    jobs: Vec<MJob>,
    owed: HashMap<(usize, Token), u128>,
}

/// The contract's bond at 10 %: rounded up.
fn bond(amount: u128) -> u128 {
    amount.div_ceil(10)
}

/// Accounts: 0 arbiter, 1 seller, 2 and 3 buyers.
const BUYERS: [usize; 2] = [BUYER, OTHER];

impl Model {
    fn credit(&mut self, who: usize, token: Token, amount: u128) {
        *self.owed.entry((who, token)).or_default() += amount;
    }

    fn escrow(&self, token: Token) -> u128 {
        let sales: u128 = self
            .sales
            .iter()
            .filter(|s| s.token == token)
            .map(|s| match s.state {
                SaleState::Paid | SaleState::Delivered => s.amount,
                SaleState::Disputed => s.amount + bond(s.amount),
                _ => 0,
            })
            .sum();
        let jobs: u128 = self
            .jobs
            .iter()
            .filter(|j| j.token == token && j.state == JobState::Paid)
            .map(|j| j.amount)
            .sum();
        let owed: u128 = self.owed.iter().filter(|((_, t), _)| *t == token).map(|(_, v)| v).sum();
        sales + jobs + owed
    }
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    market: Market,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let market = runtime.block_on(Market::start(Backend::Embedded));
        Fixture { runtime, market }
    })
}

async fn now(m: &Market) -> u64 {
    let b = m
        .chain
        .provider(0)
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap();
    b.header.timestamp
}

fn u(v: U256) -> u128 {
    u128::try_from(v).unwrap()
}

async fn run_sequence(m: &Market, actions: &[Action]) -> Result<(), TestCaseError> {
    let clients: Vec<DataMarket<DynProvider>> = {
        let mut v = Vec::new();
        for i in 0..4 {
            v.push(m.client(i).await);
        }
        v
    };
    let (base_listings, base_sales, base_jobs) = clients[0].counts().await.unwrap();
    let token = Token::Erc20(m.token);
    let mut model = Model::default();
    let token_total = {
        let mut t = m.token_balance(m.address).await;
        for i in 0..4 {
            t += m.token_balance(addr(i)).await;
        }
        t
    };
    // Balances owed before this sequence (from earlier cases on the same chain) are
    // withdrawn first so the model starts from zero.
    for (i, c) in clients.iter().enumerate() {
        for t in [Token::Eth, token] {
            if !c.owed(addr(i), t).await.unwrap().is_zero() {
                c.withdraw(t).await.unwrap();
            }
        }
    }
    let start_escrow_eth = u(m.eth_balance(m.address).await);
    let start_escrow_tok = u(m.token_balance(m.address).await);

    for (step, a) in actions.iter().enumerate() {
        let t = now(m).await;
        let pick = |n: usize, i: usize| (n > 0).then(|| i % n);
        let (ok, predicted): (bool, bool) = match a.clone() {
            Action::List { eth, price } => {
                let tok = if eth { Token::Eth } else { token };
                let mut terms = terms(tok, price);
                terms.delivery_window = DELIVERY_WINDOW;
                let r = clients[SELLER].list(&terms).await;
                let id = base_listings + model.listings.len() as u64 + 1;
                if let Ok(tx) = &r {
                    prop_assert_eq!(tx.value, id);
                    clients[SELLER]
                        .offer_compute(id, ALGORITHM, U256::from(price / 2), JOB_WINDOW)
                        .await
                        .unwrap();
                }
                model.listings.push((tok, u128::from(price)));
                (r.is_ok(), true)
            }
            Action::Buy { listing, buyer } => {
                let Some(l) = pick(model.listings.len(), listing) else { continue };
                let b = BUYERS[buyer];
                let r = clients[b].buy(base_listings + l as u64 + 1, KEY).await;
                let (tok, price) = model.listings[l];
                if r.is_ok() {
                    model.sales.push(MSale {
                        buyer: b,
                        amount: price,
                        token: tok,
                        state: SaleState::Paid,
                        deadline: t + DELIVERY_WINDOW,
                    });
                }
                (r.is_ok(), true)
            }
            Action::Deliver { sale } => {
                let Some(s) = pick(model.sales.len(), sale) else { continue };
                let r = clients[SELLER].deliver(base_sales + s as u64 + 1, vec![1; 100]).await;
                let ms = &mut model.sales[s];
                let pred = ms.state == SaleState::Paid && t < ms.deadline;
                if pred {
                    ms.state = SaleState::Delivered;
                    ms.deadline = t + DISPUTE_WINDOW;
                }
                (r.is_ok(), pred)
            }
            Action::Confirm { sale } => {
                let Some(s) = pick(model.sales.len(), sale) else { continue };
                let b = model.sales[s].buyer;
                let r = clients[b].confirm(base_sales + s as u64 + 1).await;
                let pred = model.sales[s].state == SaleState::Delivered;
                if pred {
                    model.sales[s].state = SaleState::Confirmed;
                    let (tok, amt) = (model.sales[s].token, model.sales[s].amount);
                    model.credit(SELLER, tok, amt);
                }
                (r.is_ok(), pred)
            }
            Action::Release { sale } => {
                let Some(s) = pick(model.sales.len(), sale) else { continue };
                let r = clients[ARBITER].release(base_sales + s as u64 + 1).await;
                let pred =
                    model.sales[s].state == SaleState::Delivered && t >= model.sales[s].deadline;
                if pred {
                    model.sales[s].state = SaleState::Released;
                    let (tok, amt) = (model.sales[s].token, model.sales[s].amount);
                    model.credit(SELLER, tok, amt);
                }
                (r.is_ok(), pred)
            }
            Action::Refund { sale } => {
                let Some(s) = pick(model.sales.len(), sale) else { continue };
                let r = clients[OTHER].refund(base_sales + s as u64 + 1).await;
                let pred = model.sales[s].state == SaleState::Paid && t >= model.sales[s].deadline;
                if pred {
                    model.sales[s].state = SaleState::Refunded;
                    let (b, tok, amt) =
                        (model.sales[s].buyer, model.sales[s].token, model.sales[s].amount);
                    model.credit(b, tok, amt);
                }
                (r.is_ok(), pred)
            }
            Action::Dispute { sale } => {
                let Some(s) = pick(model.sales.len(), sale) else { continue };
                let b = model.sales[s].buyer;
                let r = clients[b].dispute(base_sales + s as u64 + 1, vec![2; 100]).await;
                let pred =
                    model.sales[s].state == SaleState::Delivered && t < model.sales[s].deadline;
                if pred {
                    model.sales[s].state = SaleState::Disputed;
                    model.sales[s].deadline = t + ARBITRATION_WINDOW;
                }
                (r.is_ok(), pred)
            }
            Action::Resolve { sale, buyer_wins } => {
                let Some(s) = pick(model.sales.len(), sale) else { continue };
                let r = clients[ARBITER].resolve(base_sales + s as u64 + 1, buyer_wins).await;
                let pred =
                    model.sales[s].state == SaleState::Disputed && t < model.sales[s].deadline;
                if pred {
                    model.sales[s].state = SaleState::Resolved;
                    let ms = &model.sales[s];
                    let (who, tok, amt) = (
                        if buyer_wins { ms.buyer } else { SELLER },
                        ms.token,
                        ms.amount + bond(ms.amount),
                    );
                    model.credit(who, tok, amt);
                }
                (r.is_ok(), pred)
            }
            Action::ResolveExpired { sale } => {
                let Some(s) = pick(model.sales.len(), sale) else { continue };
                let r = clients[SELLER].resolve_expired(base_sales + s as u64 + 1).await;
                let pred =
                    model.sales[s].state == SaleState::Disputed && t >= model.sales[s].deadline;
                if pred {
                    // By default the price goes to the seller and the bond back to the buyer.
                    model.sales[s].state = SaleState::Resolved;
                    let ms = &model.sales[s];
                    let (b, tok, amt) = (ms.buyer, ms.token, ms.amount);
                    model.credit(SELLER, tok, amt);
                    model.credit(b, tok, bond(amt));
                }
                (r.is_ok(), pred)
            }
            Action::RequestJob { listing, buyer } => {
                let Some(l) = pick(model.listings.len(), listing) else { continue };
                let b = BUYERS[buyer];
                let r = clients[b].request_job(base_listings + l as u64 + 1, ALGORITHM, KEY).await;
                let (tok, price) = model.listings[l];
                if r.is_ok() {
                    model.jobs.push(MJob {
                        buyer: b,
                        amount: price / 2,
                        token: tok,
                        state: JobState::Paid,
                        deadline: t + JOB_WINDOW,
                    });
                }
                (r.is_ok(), true)
            }
            Action::Submit { job } => {
                let Some(j) = pick(model.jobs.len(), job) else { continue };
                let id = base_jobs + j as u64 + 1;
                let c = &clients[SELLER];
                let receipt = JobReceipt {
                    job_id: id,
                    algorithm: ALGORITHM,
                    dataset: B256::ZERO,
                    result: B256::repeat_byte(1),
                    result_cid_hash: JobReceipt::cid_hash("bafyresult"),
                    rows: 1,
                    finished_at: t,
                };
                let signed =
                    receipt.sign(&signer(SELLER), addr(SELLER), c.chain_id(), c.address()).unwrap();
                let r = c.submit_result(&signed, "bafyresult").await;
                let pred = model.jobs[j].state == JobState::Paid && t < model.jobs[j].deadline;
                if pred {
                    model.jobs[j].state = JobState::Completed;
                    let (tok, amt) = (model.jobs[j].token, model.jobs[j].amount);
                    model.credit(SELLER, tok, amt);
                }
                (r.is_ok(), pred)
            }
            Action::Fail { job } => {
                let Some(j) = pick(model.jobs.len(), job) else { continue };
                let r = clients[SELLER].fail_job(base_jobs + j as u64 + 1, B256::ZERO).await;
                let pred = model.jobs[j].state == JobState::Paid;
                if pred {
                    model.jobs[j].state = JobState::Failed;
                    let (b, tok, amt) =
                        (model.jobs[j].buyer, model.jobs[j].token, model.jobs[j].amount);
                    model.credit(b, tok, amt);
                }
                (r.is_ok(), pred)
            }
            Action::RefundJob { job } => {
                let Some(j) = pick(model.jobs.len(), job) else { continue };
                let r = clients[ARBITER].refund_job(base_jobs + j as u64 + 1).await;
                let pred = model.jobs[j].state == JobState::Paid && t >= model.jobs[j].deadline;
                if pred {
                    model.jobs[j].state = JobState::Refunded;
                    let (b, tok, amt) =
                        (model.jobs[j].buyer, model.jobs[j].token, model.jobs[j].amount);
                    model.credit(b, tok, amt);
                }
                (r.is_ok(), pred)
            }
            Action::Withdraw { who, eth } => {
                let tok = if eth { Token::Eth } else { token };
                let r = clients[who].withdraw(tok).await;
                let owed = model.owed.remove(&(who, tok)).unwrap_or(0);
                if let Ok(tx) = &r {
                    prop_assert_eq!(u(tx.value), owed);
                }
                (r.is_ok(), owed > 0)
            }
            Action::Warp => {
                m.warp(LONG_WARP).await;
                (true, true)
            }
        };
        prop_assert_eq!(
            ok,
            predicted,
            "step {} {:?}: the contract and the model disagree",
            step,
            a
        );

        // Invariants.
        let eth_held = u(m.eth_balance(m.address).await) - start_escrow_eth;
        prop_assert_eq!(
            eth_held,
            model.escrow(Token::Eth),
            "ETH escrow after step {} {:?}",
            step,
            a
        );
        let tok_held = u(m.token_balance(m.address).await) - start_escrow_tok;
        prop_assert_eq!(tok_held, model.escrow(token), "token escrow after step {} {:?}", step, a);
        let mut supply = m.token_balance(m.address).await;
        for i in 0..4 {
            supply += m.token_balance(addr(i)).await;
            for t in [Token::Eth, token] {
                let chain = u(clients[0].owed(addr(i), t).await.unwrap());
                prop_assert_eq!(
                    chain,
                    *model.owed.get(&(i, t)).unwrap_or(&0),
                    "owed[{}][{:?}]",
                    i,
                    t
                );
            }
        }
        prop_assert_eq!(supply, token_total, "token supply among participants");
        for (s, ms) in model.sales.iter().enumerate() {
            prop_assert_eq!(
                clients[0].sale(base_sales + s as u64 + 1).await.unwrap().state,
                ms.state
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn escrow_is_conserved_over_random_action_sequences(
        actions in proptest::collection::vec(action(), 1..16)
    ) {
        let f = fixture();
        f.runtime.block_on(run_sequence(&f.market, &actions))?;
    }
}
