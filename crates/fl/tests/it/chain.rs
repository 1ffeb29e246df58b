//! `FederatedTraining` on both chain backends: every function, every named revert, the
//! Merkle tree and EIP-712 digests checked against the contract itself, and gas.

use alara_chain::testing::{backends, TestChain};
use alara_contracts::AlaraToken;
use alara_fl::chain::{self, FederatedTraining, RoundSettlement};
use alara_fl::commitment::{SignedCommitment, UpdateCommitment};
use alara_fl::merkle::{RewardLeaf, RewardTree};
use alara_fl::Error;
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::{DynProvider, Provider};

fn reverted_with(r: Result<impl std::fmt::Debug, Error>, name: &str) {
    match r {
        Err(Error::Reverted { reason, .. }) => {
            assert!(reason.starts_with(name), "expected {name}, reverted with {reason}")
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

fn settlement(round: u64, leaves: Vec<RewardLeaf>, total: Option<u64>) -> RoundSettlement {
    let sum: U256 = leaves.iter().map(|l| l.cumulative).sum();
    RoundSettlement {
        round,
        global_model_hash: B256::repeat_byte(round as u8),
        global_model_cid: B256::repeat_byte(0x80 | round as u8),
        tree: RewardTree::new(leaves).unwrap(),
        total_cumulative: total.map(U256::from).unwrap_or(sum),
    }
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

        // Registration: by the client itself or by the coordinator in a batch.
        as_account(&s, 2).await.register(task).await.unwrap();
        as_account(&s, 3).await.register(task).await.unwrap();
        reverted_with(as_account(&s, 3).await.register(task).await, "AlreadyRegistered");
        reverted_with(creator.add_clients(task, &[c4]).await, "NotCoordinator");
        coordinator.add_clients(task, &[c4, c2]).await.unwrap();
        assert!(creator.is_registered(task, c4).await.unwrap());
        assert!(!creator.is_registered(task, c5).await.unwrap());
        let state = creator.task(task).await.unwrap();
        assert_eq!((state.clients, state.pool, state.last_round), (3, U256::from(1000), 0));
        assert_eq!(state.config_hash, B256::repeat_byte(9));

        // Nothing to claim before a settlement.
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
        assert_eq!(state.global_model_hash, r1.global_model_hash);
        assert_eq!(state.global_model_cid, r1.global_model_cid);
        assert_eq!(state.total_cumulative, U256::from(300));
        assert_eq!(state.last_round, 1);

        // The contract hashes leaves exactly as the Rust tree does.
        let l = r1.tree.leaves()[1];
        assert_eq!(creator.reward_leaf(&l).await.unwrap(), l.hash());

        // Claims: a wrong proof, a wrong amount, someone else's leaf, then the real one.
        let client2 = as_account(&s, 2).await;
        let (i3, l3) = r1.tree.leaf_of(c3).unwrap();
        let (i2, l2) = r1.tree.leaf_of(c2).unwrap();
        reverted_with(client2.claim(task, l2, &r1.tree.proof(i3).unwrap()).await, "InvalidProof");
        let mut inflated = *l2;
        inflated.cumulative = U256::from(150);
        reverted_with(
            client2.claim(task, &inflated, &r1.tree.proof(i2).unwrap()).await,
            "InvalidProof",
        );
        reverted_with(client2.claim(task, l3, &r1.tree.proof(i3).unwrap()).await, "InvalidProof");
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
        reverted_with(client2.claim_from(task, &r1, c2).await, "InvalidProof");

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
        let settled =
            SignedCommitment::sign(&alara_chain::dev::dev_signer(2), &domain, commit(3)).unwrap();
        assert!(!creator.is_valid_update(&settled).await.unwrap(), "round already settled");
        let mut garbled = signed.clone();
        garbled.signature = Bytes::from(vec![1u8; 10]);
        assert_eq!(creator.update_signer(&garbled).await.unwrap(), Address::ZERO);
        assert!(!creator.is_valid_update(&garbled).await.unwrap());

        // Closing refunds the unallocated pool; allocated rewards stay claimable.
        reverted_with(coordinator.close_task(task).await, "NotCreator");
        let before = balance(&s, account(0)).await;
        creator.close_task(task).await.unwrap();
        assert_eq!(balance(&s, account(0)).await - before, U256::from(1000 - 450));
        reverted_with(
            coordinator.settle_round(task, &settlement(4, vec![leaf(c2, 1)], None)).await,
            "TaskClosedAlready",
        );
        reverted_with(as_account(&s, 5).await.register(task).await, "TaskClosedAlready");
        assert_eq!(
            as_account(&s, 4).await.claim_from(task, &greedy, c4).await.unwrap().value,
            U256::from(50)
        );

        // Settlement gas does not depend on the number of clients: 1000 leaves.
        let task2 = creator.create_task(account(1), U256::from(10_000_000), B256::ZERO).await;
        let task2 = task2.unwrap().value;
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
