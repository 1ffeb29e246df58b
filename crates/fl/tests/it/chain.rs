//! `FederatedTraining` on both chain backends: every function, every named revert, the
//! Merkle tree and EIP-712 digests checked against the contract itself, and gas.

use alara_chain::testing::{backends, TestChain};
use alara_contracts::AlaraToken;
use alara_fl::chain::{self, FederatedTraining, RoundSettlement};
use alara_fl::commitment::{SignedCommitment, UpdateCommitment};
use alara_fl::merkle::{hash_pair, LeafDomain, RewardLeaf, RewardTree};
use alara_fl::Error;
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::{DynProvider, Provider};

fn reverted_with(r: Result<impl std::fmt::Debug, Error>, name: &str) {
    match r {
        Err(Error::Contract(e)) if e.revert_name().is_some() => {
            assert_eq!(e.revert_name(), Some(name), "expected {name}, reverted with {e}")
        }
        other => panic!("expected a {name} revert, got {other:?}"),
    }
}

fn leaf(client: Address, cumulative: u64) -> RewardLeaf {
    RewardLeaf {
        client,
        update_hash: B256::from(alloy::primitives::keccak256(client.as_slice())),
        score: U256::from(cumulative * 1_000),
        cumulative: U256::from(cumulative),
    }
}

fn settlement(
    domain: LeafDomain,
    round: u64,
    leaves: Vec<RewardLeaf>,
    total: Option<u64>,
) -> RoundSettlement {
    let sum: U256 = leaves.iter().map(|l| l.cumulative).sum();
    RoundSettlement {
        round,
        global_model_hash: B256::repeat_byte(round as u8),
        global_model_cid: B256::repeat_byte(0x80 | round as u8),
        tree: RewardTree::new(domain, leaves).unwrap(),
        total_cumulative: total.map(U256::from).unwrap_or(sum),
    }
}

async fn warp(s: &Setup, secs: u64) {
    let p = s.chain.provider(0);
    let _: serde_json::Value = p.raw_request("evm_increaseTime".into(), (secs,)).await.unwrap();
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
}

/// A funded task of `pool` with account 0 as creator and account 1 as coordinator, and
/// accounts `clients` approved.
async fn task_with(s: &Setup, pool: u64, clients: &[usize]) -> U256 {
    let creator = as_account(s, 0).await;
    let task = creator.create_task(account(1), U256::from(pool), B256::ZERO).await.unwrap().value;
    let approved: Vec<Address> = clients.iter().map(|&i| account(i)).collect();
    as_account(s, 1).await.add_clients(task, &approved).await.unwrap();
    task
}

struct Setup {
    chain: TestChain,
    token: Address,
    contract: Address,
}

async fn setup(backend: alara_chain::testing::Backend) -> Setup {
    let chain = TestChain::start(backend).await.unwrap();
    let p0 = chain.provider(0);
    let treasury = p0.get_accounts().await.unwrap()[0];
    let token =
        AlaraToken::deploy(&p0, treasury, U256::from(10u64).pow(U256::from(24))).await.unwrap();
    let token = *token.address();
    let contract = chain::deploy(&p0, token).await.unwrap();
    Setup { chain, token, contract }
}

async fn as_account(s: &Setup, i: usize) -> FederatedTraining<DynProvider> {
    FederatedTraining::new(s.contract, s.chain.provider(i)).await.unwrap()
}

fn account(i: usize) -> Address {
    alara_chain::dev::dev_signer(i).address()
}

async fn balance(s: &Setup, who: Address) -> U256 {
    AlaraToken::new(s.token, s.chain.provider(0)).balanceOf(who).call().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federated_training_contract_on_every_backend() {
    for backend in backends() {
        let s = setup(backend).await;
        let creator = as_account(&s, 0).await;
        let coordinator = as_account(&s, 1).await;
        let (c2, c3, c4, c5) = (account(2), account(3), account(4), account(5));

        // Task creation pulls the pool into escrow; bad parameters are named.
        reverted_with(creator.create_task(account(1), U256::ZERO, B256::ZERO).await, "ZeroPool");
        reverted_with(
            creator.create_task(Address::ZERO, U256::from(1), B256::ZERO).await,
            "ZeroAddress",
        );
        let task = creator.create_task(account(1), U256::from(1000), B256::repeat_byte(9)).await;
        let task = task.unwrap().value;
        assert_eq!(task, U256::from(1));
        assert_eq!(balance(&s, s.contract).await, U256::from(1000), "{backend}");
        reverted_with(creator.task(U256::from(7)).await, "UnknownTask");

        // Registration: a client asks, the coordinator approves (in a batch).
        as_account(&s, 2).await.register(task).await.unwrap();
        as_account(&s, 3).await.register(task).await.unwrap();
        reverted_with(as_account(&s, 3).await.register(task).await, "AlreadyRequested");
        assert!(!creator.is_registered(task, c2).await.unwrap(), "a request is no approval");
        reverted_with(creator.add_clients(task, &[c4]).await, "NotCoordinator");
        coordinator.add_clients(task, &[c4, c2, c3]).await.unwrap();
        coordinator.add_clients(task, &[c2]).await.unwrap();
        reverted_with(as_account(&s, 2).await.register(task).await, "AlreadyRegistered");
        assert!(creator.is_registered(task, c4).await.unwrap());
        assert!(!creator.is_registered(task, c5).await.unwrap());
        let state = creator.task(task).await.unwrap();
        assert_eq!((state.clients, state.pool, state.last_round), (3, U256::from(1000), 0));
        assert_eq!(state.config_hash, B256::repeat_byte(9));

        // Nothing to claim before a settlement.
        let dom = creator.leaf_domain(task);
        let settlement = |round, leaves, total| settlement(dom, round, leaves, total);
        let r1 = settlement(1, vec![leaf(c2, 100), leaf(c3, 200), leaf(c4, 0)], None);
        reverted_with(as_account(&s, 2).await.claim_from(task, &r1, c2).await, "NoRoundSettled");

        // Only the coordinator settles; rounds strictly increase; rewards fit the pool.
        reverted_with(creator.settle_round(task, &r1).await, "NotCoordinator");
        let gas_small = coordinator.settle_round(task, &r1).await.unwrap().gas_used;
        reverted_with(coordinator.settle_round(task, &r1).await, "RoundNotIncreasing");
        let too_much = settlement(2, vec![leaf(c2, 2000)], None);
        reverted_with(coordinator.settle_round(task, &too_much).await, "RewardsExceedPool");
        let shrinking = settlement(2, vec![leaf(c2, 100)], None);
        reverted_with(coordinator.settle_round(task, &shrinking).await, "RewardsDecreased");
        let state = creator.task(task).await.unwrap();
        assert_eq!(state.rewards_root, r1.tree.root());
        assert_eq!(creator.root_of(task, 1).await.unwrap(), r1.tree.root());
        let zero_root = coordinator.instance().settleRound(
            task,
            2,
            B256::ZERO,
            B256::ZERO,
            B256::ZERO,
            U256::from(300),
        );
        match alara_contracts::call::send("settleRound", &zero_root, chain::DECODERS).await {
            Err(e) if e.revert_name().is_some() => {
                assert_eq!(e.revert_name(), Some("EmptyRoot"), "{e}");
            }
            other => panic!("expected EmptyRoot, got {other:?}"),
        }
        assert_eq!(state.global_model_hash, r1.global_model_hash);
        assert_eq!(state.global_model_cid, r1.global_model_cid);
        assert_eq!(state.total_cumulative, U256::from(300));
        assert_eq!(state.last_round, 1);

        // The contract hashes leaves exactly as the Rust tree does.
        let l = r1.tree.leaves()[1];
        assert_eq!(creator.reward_leaf(task, &l).await.unwrap(), l.hash(&dom));

        // Claims: a wrong proof, a wrong amount, someone else's leaf, then the real one.
        let client2 = as_account(&s, 2).await;
        let (i3, l3) = r1.tree.leaf_of(c3).unwrap();
        let (i2, l2) = r1.tree.leaf_of(c2).unwrap();
        reverted_with(
            client2.claim(task, 1, l2, &r1.tree.proof(i3).unwrap()).await,
            "InvalidProof",
        );
        let mut inflated = *l2;
        inflated.cumulative = U256::from(150);
        reverted_with(
            client2.claim(task, 1, &inflated, &r1.tree.proof(i2).unwrap()).await,
            "InvalidProof",
        );
        reverted_with(
            client2.claim(task, 1, l3, &r1.tree.proof(i3).unwrap()).await,
            "InvalidProof",
        );
        reverted_with(
            client2.claim(task, 9, l2, &r1.tree.proof(i2).unwrap()).await,
            "UnknownRound",
        );
        let paid = client2.claim_from(task, &r1, c2).await.unwrap();
        assert_eq!(paid.value, U256::from(100));
        let claim_gas = paid.gas_used;
        assert_eq!(balance(&s, c2).await, U256::from(100));
        reverted_with(client2.claim_from(task, &r1, c2).await, "NothingToClaim");
        reverted_with(as_account(&s, 4).await.claim_from(task, &r1, c4).await, "NothingToClaim");

        // Round 2: client 3 is absent but keeps its leaf; one claim covers both rounds.
        let r2 = settlement(2, vec![leaf(c2, 150), leaf(c3, 200), leaf(c4, 50)], None);
        coordinator.settle_round(task, &r2).await.unwrap();
        assert_eq!(client2.claim_from(task, &r2, c2).await.unwrap().value, U256::from(50));
        assert_eq!(creator.claimed(task, c2).await.unwrap(), U256::from(150));
        // The older tree stays valid, but pays nothing beyond what was claimed.
        reverted_with(client2.claim_from(task, &r1, c2).await, "NothingToClaim");

        // A tree whose leaves promise more than the settled total cannot drain the escrow.
        let greedy = settlement(3, vec![leaf(c2, 150), leaf(c3, 900), leaf(c4, 50)], Some(450));
        coordinator.settle_round(task, &greedy).await.unwrap();
        reverted_with(
            as_account(&s, 3).await.claim_from(task, &greedy, c3).await,
            "ClaimExceedsSettled",
        );

        // EIP-712 update commitments: the Rust digest is the contract's; registration,
        // round and signature checks.
        let domain = coordinator.domain();
        let commit = |round: u64| UpdateCommitment {
            task,
            round,
            updateHash: B256::repeat_byte(0x42),
            sampleCount: 57,
        };
        let signed =
            SignedCommitment::sign(&alara_chain::dev::dev_signer(2), &domain, commit(4)).unwrap();
        assert_eq!(creator.update_digest(&signed).await.unwrap(), signed.digest(&domain));
        assert_eq!(creator.update_signer(&signed).await.unwrap(), c2);
        assert!(creator.is_valid_update(&signed).await.unwrap());
        let stranger =
            SignedCommitment::sign(&alara_chain::dev::dev_signer(5), &domain, commit(4)).unwrap();
        assert!(!creator.is_valid_update(&stranger).await.unwrap(), "unregistered signer");
        // Asking to register does not make a signer valid; only the coordinator's approval.
        as_account(&s, 5).await.register(task).await.unwrap();
        assert!(!creator.is_valid_update(&stranger).await.unwrap(), "requested, not approved");
        let settled =
            SignedCommitment::sign(&alara_chain::dev::dev_signer(2), &domain, commit(3)).unwrap();
        assert!(!creator.is_valid_update(&settled).await.unwrap(), "round already settled");
        let mut garbled = signed.clone();
        garbled.signature = Bytes::from(vec![1u8; 10]);
        assert_eq!(creator.update_signer(&garbled).await.unwrap(), Address::ZERO);
        assert!(!creator.is_valid_update(&garbled).await.unwrap());

        // Closing refunds the unallocated pool; allocated rewards stay claimable.
        reverted_with(as_account(&s, 5).await.close_task(task).await, "NotCreator");
        reverted_with(as_account(&s, 5).await.request_close(task).await, "NotCreator");
        let before = balance(&s, account(0)).await;
        coordinator.close_task(task).await.unwrap();
        assert_eq!(balance(&s, account(0)).await - before, U256::from(1000 - 450));
        reverted_with(
            coordinator.settle_round(task, &settlement(4, vec![leaf(c2, 1)], None)).await,
            "TaskClosedAlready",
        );
        reverted_with(as_account(&s, 6).await.register(task).await, "TaskClosedAlready");
        assert!(!creator.is_valid_update(&signed).await.unwrap(), "closed task");
        assert_eq!(
            as_account(&s, 4).await.claim_from(task, &greedy, c4).await.unwrap().value,
            U256::from(50)
        );

        // Settlement gas does not depend on the number of clients: 1000 leaves.
        let task2 = creator.create_task(account(1), U256::from(10_000_000), B256::ZERO).await;
        let task2 = task2.unwrap().value;
        let settlement = |round, leaves, total| {
            crate::chain::settlement(creator.leaf_domain(task2), round, leaves, total)
        };
        let many: Vec<RewardLeaf> =
            (0..1000u64).map(|i| leaf(Address::with_last_byte(1).create(i), i + 1)).collect();
        let big = settlement(1, many, None);
        let gas_big = coordinator.settle_round(task2, &big).await.unwrap().gas_used;
        let mut few = settlement(1, vec![leaf(c2, 7)], None);
        few.round = 2;
        few.total_cumulative = big.total_cumulative;
        let gas_next = coordinator.settle_round(task2, &few).await.unwrap().gas_used;
        eprintln!(
            "{backend}: settleRound first {gas_small} gas (3 clients), {gas_big} (1000 clients), \
             later round {gas_next}; claim {claim_gas}"
        );
        assert!(gas_small <= 150_000 && gas_big <= 150_000, "{gas_small} {gas_big}");
        assert!(gas_small.abs_diff(gas_big) < 2_000, "{gas_small} vs {gas_big}");
    }
}

/// M-3: the creator cannot close a task under a settlement the coordinator is sending.
/// Closing needs a notice, the settlement still goes through during it, and only the
/// unallocated rest of the pool is refunded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_cannot_race_a_settlement() {
    for backend in backends() {
        let s = setup(backend).await;
        let (creator, coordinator) = (as_account(&s, 0).await, as_account(&s, 1).await);
        let task = task_with(&s, 1000, &[2, 3]).await;
        let r1 = settlement(
            creator.leaf_domain(task),
            1,
            vec![leaf(account(2), 300), leaf(account(3), 100)],
            None,
        );
        // The creator sees the settlement coming and tries to close first.
        reverted_with(creator.close_task(task).await, "CloseNotRequested");
        creator.request_close(task).await.unwrap();
        reverted_with(creator.close_task(task).await, "CloseNoticePending");
        let state = creator.task(task).await.unwrap();
        assert!(!state.closed && state.close_at > 0, "{backend}: {state:?}");
        // The round is settled during the notice.
        coordinator.settle_round(task, &r1).await.unwrap();
        warp(&s, 3600).await;
        reverted_with(creator.close_task(task).await, "CloseNoticePending");
        warp(&s, 24 * 3600).await;
        let before = balance(&s, account(0)).await;
        creator.close_task(task).await.unwrap();
        assert_eq!(balance(&s, account(0)).await - before, U256::from(600), "{backend}");
        reverted_with(coordinator.settle_round(task, &r1).await, "TaskClosedAlready");
        // The clients are paid for the round they trained in.
        let paid = as_account(&s, 2).await.claim_from(task, &r1, account(2)).await.unwrap();
        assert_eq!(paid.value, U256::from(300));
        let paid = as_account(&s, 3).await.claim_from(task, &r1, account(3)).await.unwrap();
        assert_eq!(paid.value, U256::from(100));
        assert_eq!(balance(&s, s.contract).await, U256::ZERO, "{backend}");
    }
}

/// L-2: every settled root stays claimable; a client dropped or lowered by a later tree
/// keeps what an earlier one gave it; payouts only grow and never exceed the settled total.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_settled_root_stays_claimable_and_payouts_are_monotone() {
    for backend in backends() {
        let s = setup(backend).await;
        let (creator, coordinator) = (as_account(&s, 0).await, as_account(&s, 1).await);
        let task = task_with(&s, 1000, &[2, 3, 4]).await;
        let dom = creator.leaf_domain(task);
        let (c2, c3, c4) = (account(2), account(3), account(4));
        let (p2, p3, p4) =
            (as_account(&s, 2).await, as_account(&s, 3).await, as_account(&s, 4).await);
        let r1 = settlement(dom, 1, vec![leaf(c2, 100), leaf(c3, 200)], None);
        coordinator.settle_round(task, &r1).await.unwrap();
        // A claim in flight against round 1 lands after round 2 was settled; round 2 drops
        // c3 and lowers c2.
        let r2 = settlement(dom, 2, vec![leaf(c2, 50), leaf(c4, 250)], Some(300));
        coordinator.settle_round(task, &r2).await.unwrap();
        assert_eq!(p3.claim_from(task, &r1, c3).await.unwrap().value, U256::from(200), "{backend}");
        assert_eq!(p2.claim_from(task, &r1, c2).await.unwrap().value, U256::from(100));
        // A second claim, and a claim with the lower later leaf, pay nothing.
        reverted_with(p2.claim_from(task, &r1, c2).await, "NothingToClaim");
        reverted_with(p2.claim_from(task, &r2, c2).await, "NothingToClaim");
        assert_eq!(creator.claimed(task, c2).await.unwrap(), U256::from(100));
        // Rounds 1 and 2 together promise 550 with 300 settled: c4 is paid only once a
        // settlement covers it, never beyond the settled total.
        reverted_with(p4.claim_from(task, &r2, c4).await, "ClaimExceedsSettled");
        let r3 = settlement(dom, 3, vec![leaf(c2, 150), leaf(c3, 200), leaf(c4, 250)], None);
        coordinator.settle_round(task, &r3).await.unwrap();
        assert_eq!(p4.claim_from(task, &r2, c4).await.unwrap().value, U256::from(250));
        assert_eq!(p2.claim_from(task, &r3, c2).await.unwrap().value, U256::from(50));
        let state = creator.task(task).await.unwrap();
        assert_eq!(
            (state.total_claimed, state.total_cumulative),
            (U256::from(600), U256::from(600))
        );
        reverted_with(p3.claim_from(task, &r3, c3).await, "NothingToClaim");
        reverted_with(p3.claim_from(task, &r3, c3).await, "NothingToClaim");
    }
}

/// L-2: after closing, claims are accepted for the claim window; then the creator sweeps
/// the unclaimed rest, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_end_with_the_window_and_the_rest_is_swept() {
    for backend in backends() {
        let s = setup(backend).await;
        let (creator, coordinator) = (as_account(&s, 0).await, as_account(&s, 1).await);
        let task = task_with(&s, 1000, &[2, 3]).await;
        let r1 = settlement(
            creator.leaf_domain(task),
            1,
            vec![leaf(account(2), 300), leaf(account(3), 100)],
            None,
        );
        coordinator.settle_round(task, &r1).await.unwrap();
        reverted_with(creator.sweep(task).await, "TaskNotClosed");
        coordinator.close_task(task).await.unwrap();
        reverted_with(creator.sweep(task).await, "ClaimWindowOpen");
        reverted_with(coordinator.sweep(task).await, "NotCreator");
        let window: u64 = creator.instance().CLAIM_WINDOW().call().await.unwrap();
        warp(&s, window - 3600).await;
        let p2 = as_account(&s, 2).await;
        assert_eq!(p2.claim_from(task, &r1, account(2)).await.unwrap().value, U256::from(300));
        warp(&s, 2 * 3600).await;
        reverted_with(
            as_account(&s, 3).await.claim_from(task, &r1, account(3)).await,
            "ClaimWindowOver",
        );
        let before = balance(&s, account(0)).await;
        creator.sweep(task).await.unwrap();
        assert_eq!(balance(&s, account(0)).await - before, U256::from(100), "{backend}");
        assert_eq!(balance(&s, s.contract).await, U256::ZERO);
        reverted_with(creator.sweep(task).await, "AlreadySwept");
        assert!(creator.task(task).await.unwrap().swept);
    }
}

/// I-5: leaves bind the chain, the contract and the task, so a root the coordinator
/// publishes again in another task pays nothing there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_root_reused_in_another_task_pays_nothing() {
    for backend in backends() {
        let s = setup(backend).await;
        let (creator, coordinator) = (as_account(&s, 0).await, as_account(&s, 1).await);
        let a = task_with(&s, 1000, &[2]).await;
        let b = task_with(&s, 1000, &[2]).await;
        let ra = settlement(creator.leaf_domain(a), 1, vec![leaf(account(2), 400)], None);
        coordinator.settle_round(a, &ra).await.unwrap();
        coordinator.settle_round(b, &ra).await.unwrap();
        assert_eq!(creator.root_of(b, 1).await.unwrap(), ra.tree.root());
        let p2 = as_account(&s, 2).await;
        reverted_with(p2.claim_from(b, &ra, account(2)).await, "InvalidProof");
        assert_eq!(p2.claim_from(a, &ra, account(2)).await.unwrap().value, U256::from(400));
        // The contract's leaf is the Rust leaf of its own domain, and differs per task.
        let l = leaf(account(2), 400);
        assert_eq!(creator.reward_leaf(a, &l).await.unwrap(), l.hash(&creator.leaf_domain(a)));
        assert_ne!(
            creator.reward_leaf(a, &l).await.unwrap(),
            creator.reward_leaf(b, &l).await.unwrap()
        );
        assert_eq!(balance(&s, s.contract).await, U256::from(1600), "{backend}");
    }
}

/// Duplicate leaves (a hand-built tree, since `RewardTree` refuses them): the same leaf
/// twice pays once; two leaves of one client pay at most the larger one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_leaves_pay_once() {
    for backend in backends() {
        let s = setup(backend).await;
        let coordinator = as_account(&s, 1).await;
        let task = task_with(&s, 1000, &[2]).await;
        let dom = coordinator.leaf_domain(task);
        let (small, big) = (leaf(account(2), 100), leaf(account(2), 300));
        let (hs, hb) = (small.hash(&dom), big.hash(&dom));
        let twice = hash_pair(hs, hs);
        let both = hash_pair(hs, hb);
        for (round, root) in [(1u64, twice), (2, both)] {
            let call = coordinator.instance().settleRound(
                task,
                round,
                B256::ZERO,
                B256::ZERO,
                root,
                U256::from(400),
            );
            alara_contracts::call::send("settleRound", &call, chain::DECODERS).await.unwrap();
        }
        let p2 = as_account(&s, 2).await;
        assert_eq!(p2.claim(task, 1, &small, &[hs]).await.unwrap().value, U256::from(100));
        reverted_with(p2.claim(task, 1, &small, &[hs]).await, "NothingToClaim");
        assert_eq!(p2.claim(task, 2, &big, &[hs]).await.unwrap().value, U256::from(200));
        reverted_with(p2.claim(task, 2, &small, &[hb]).await, "NothingToClaim");
        assert_eq!(
            coordinator.claimed(task, account(2)).await.unwrap(),
            U256::from(300),
            "{backend}"
        );
    }
}
