//! Every external function of DataMarket, its named errors, and the attacks of the issue,
//! on the embedded node and on anvil.

use alara_chain::testing::backends;
use alara_contracts::ReentrantReceiver;
use alara_market::contract::{JobState, SaleState, Token};
use alara_market::receipt::JobReceipt;
use alloy::primitives::{B256, U256};
use alloy::sol_types::SolError;

use crate::support::*;

const KEY: [u8; 32] = [0x11; 32];

fn envelope() -> Vec<u8> {
    vec![0x42; 200]
}

#[tokio::test]
async fn eth_sale_confirmed_then_withdrawn() {
    for backend in backends() {
        let m = Market::start(backend).await;
        let (seller, buyer, other) =
            (m.client(SELLER).await, m.client(BUYER).await, m.client(OTHER).await);
        let listing = seller.list(&terms(Token::Eth, 1_000_000)).await.unwrap().value;
        assert_eq!(listing, 1);
        let l = buyer.listing(listing).await.unwrap();
        assert_eq!(
            (l.seller, l.active, l.terms.clone()),
            (addr(SELLER), true, terms(Token::Eth, 1_000_000))
        );

        let before = m.eth_balance(m.address).await;
        let sale = buyer.buy(listing, KEY).await.unwrap().value;
        assert_eq!(m.eth_balance(m.address).await - before, U256::from(1_000_000));
        let s = buyer.sale(sale).await.unwrap();
        assert_eq!(
            (s.state, s.buyer, s.buyer_key, s.amount),
            (SaleState::Paid, addr(BUYER), KEY, U256::from(1_000_000))
        );

        assert_revert(other.deliver(sale, envelope()).await, "NotSeller", backend);
        assert_revert(seller.deliver(sale, vec![]).await, "EnvelopeSize", backend);
        assert_revert(seller.deliver(sale, vec![0; 1025]).await, "EnvelopeSize", backend);
        seller.deliver(sale, envelope()).await.unwrap();
        let s = buyer.sale(sale).await.unwrap();
        assert_eq!(s.state, SaleState::Delivered);
        assert_eq!(s.envelope.map(|b| b.to_vec()), Some(envelope()));
        assert_revert(seller.deliver(sale, envelope()).await, "InvalidSaleState", backend);

        assert_revert(other.confirm(sale).await, "NotBuyer", backend);
        assert_revert(seller.confirm(sale).await, "NotBuyer", backend);
        buyer.confirm(sale).await.unwrap();
        // Double confirm.
        let e = buyer.confirm(sale).await.unwrap_err();
        match e.market_error() {
            Some(alara_contracts::DataMarket::DataMarketErrors::InvalidSaleState(x)) => {
                assert_eq!((x.saleId, x.state), (U256::from(sale), 3), "{backend}")
            }
            other => panic!("{backend}: expected InvalidSaleState, got {other:?} ({e})"),
        }
        assert_eq!(seller.owed(addr(SELLER), Token::Eth).await.unwrap(), U256::from(1_000_000));
        let got = seller.withdraw(Token::Eth).await.unwrap();
        assert_eq!(got.value, U256::from(1_000_000));
        assert_eq!(m.eth_balance(m.address).await, before);
        assert_revert(seller.withdraw(Token::Eth).await, "NothingToWithdraw", backend);
    }
}

#[tokio::test]
async fn token_sale_released_after_the_dispute_window() {
    for backend in backends() {
        let m = Market::start(backend).await;
        let (seller, buyer, other) =
            (m.client(SELLER).await, m.client(BUYER).await, m.client(OTHER).await);
        let listing = seller.list(&terms(Token::Erc20(m.token), 5_000)).await.unwrap().value;
        let b0 = m.token_balance(addr(BUYER)).await;
        // ETH sent to a token listing is refused.
        assert_revert(buyer.buy_paying(listing, KEY, U256::from(1)).await, "WrongPayment", backend);
        let sale = buyer.buy(listing, KEY).await.unwrap().value;
        assert_eq!(b0 - m.token_balance(addr(BUYER)).await, U256::from(5_000));
        assert_eq!(m.token_balance(m.address).await, U256::from(5_000));
        seller.deliver(sale, envelope()).await.unwrap();
        // A seller trying to take the escrow early.
        assert_revert(seller.release(sale).await, "DeadlineNotReached", backend);
        assert_revert(seller.withdraw(Token::Erc20(m.token)).await, "NothingToWithdraw", backend);
        m.warp(DISPUTE_WINDOW + 10).await;
        assert_revert(buyer.dispute(sale, envelope()).await, "DeadlinePassed", backend);
        other.release(sale).await.unwrap();
        assert_eq!(buyer.sale(sale).await.unwrap().state, SaleState::Released);
        assert_revert(buyer.confirm(sale).await, "InvalidSaleState", backend);
        let s0 = m.token_balance(addr(SELLER)).await;
        seller.withdraw(Token::Erc20(m.token)).await.unwrap();
        assert_eq!(m.token_balance(addr(SELLER)).await - s0, U256::from(5_000));
        assert_eq!(m.token_balance(m.address).await, U256::ZERO);
    }
}

#[tokio::test]
async fn missed_deadline_refunds_and_blocks_late_delivery() {
    for backend in backends() {
        let m = Market::start(backend).await;
        let (seller, buyer, other) =
            (m.client(SELLER).await, m.client(BUYER).await, m.client(OTHER).await);
        let listing = seller.list(&terms(Token::Eth, 777)).await.unwrap().value;
        let sale = buyer.buy(listing, KEY).await.unwrap().value;
        assert_revert(other.refund(sale).await, "DeadlineNotReached", backend);
        assert_revert(seller.withdraw(Token::Eth).await, "NothingToWithdraw", backend);
        m.warp(DELIVERY_WINDOW + 10).await;
        assert_revert(seller.deliver(sale, envelope()).await, "DeadlinePassed", backend);
        other.refund(sale).await.unwrap();
        assert_eq!(buyer.sale(sale).await.unwrap().state, SaleState::Refunded);
        // Confirm after refund, and a second refund.
        assert_revert(buyer.confirm(sale).await, "InvalidSaleState", backend);
        assert_revert(other.refund(sale).await, "InvalidSaleState", backend);
        assert_eq!(buyer.owed(addr(BUYER), Token::Eth).await.unwrap(), U256::from(777));
        assert_eq!(buyer.owed(addr(SELLER), Token::Eth).await.unwrap(), U256::ZERO);
        assert_eq!(buyer.withdraw(Token::Eth).await.unwrap().value, U256::from(777));
    }
}

#[tokio::test]
async fn disputes_pay_the_winner_price_and_bond() {
    for backend in backends() {
        let m = Market::start(backend).await;
        let (arbiter, seller, buyer) =
            (m.client(ARBITER).await, m.client(SELLER).await, m.client(BUYER).await);
        assert_eq!(arbiter.arbiter().await.unwrap(), addr(ARBITER));
        assert_eq!(
            arbiter.arbiter_key().await.unwrap(),
            alara_market::keys::recipient_bytes(&m.arbiter_identity.to_public()).unwrap()
        );
        let listing = seller.list(&terms(Token::Eth, 10_000)).await.unwrap().value;
        assert_eq!(buyer.bond(U256::from(10_000)).await.unwrap(), U256::from(1_000));

        // Buyer wins: refund + bond back.
        let s1 = buyer.buy(listing, KEY).await.unwrap().value;
        seller.deliver(s1, envelope()).await.unwrap();
        assert_revert(seller.dispute(s1, envelope()).await, "NotBuyer", backend);
        assert_revert(buyer.dispute(s1, vec![]).await, "EnvelopeSize", backend);
        let bond = buyer.dispute(s1, envelope()).await.unwrap().value;
        assert_eq!(bond, U256::from(1_000));
        let s = buyer.sale(s1).await.unwrap();
        assert_eq!(
            (s.state, s.evidence.map(|b| b.to_vec())),
            (SaleState::Disputed, Some(envelope()))
        );
        assert_revert(buyer.confirm(s1).await, "InvalidSaleState", backend);
        assert_revert(seller.resolve(s1, false).await, "NotArbiter", backend);
        assert_revert(arbiter.resolve_expired(s1).await, "DeadlineNotReached", backend);
        arbiter.resolve(s1, true).await.unwrap();
        assert_revert(arbiter.resolve(s1, true).await, "InvalidSaleState", backend);
        assert_eq!(buyer.owed(addr(BUYER), Token::Eth).await.unwrap(), U256::from(11_000));

        // Seller wins: price + the buyer's bond.
        let s2 = buyer.buy(listing, KEY).await.unwrap().value;
        seller.deliver(s2, envelope()).await.unwrap();
        buyer.dispute(s2, envelope()).await.unwrap();
        arbiter.resolve(s2, false).await.unwrap();
        assert_eq!(buyer.owed(addr(SELLER), Token::Eth).await.unwrap(), U256::from(11_000));

        // Arbiter silent past its deadline: anyone settles by default, the price to the
        // seller (the key was delivered) and the bond back to the buyer.
        let s3 = buyer.buy(listing, KEY).await.unwrap().value;
        seller.deliver(s3, envelope()).await.unwrap();
        buyer.dispute(s3, envelope()).await.unwrap();
        m.warp(ARBITRATION_WINDOW + 10).await;
        assert_revert(arbiter.resolve(s3, true).await, "DeadlinePassed", backend);
        seller.resolve_expired(s3).await.unwrap();
        assert_eq!(buyer.sale(s3).await.unwrap().state, SaleState::Resolved);
        assert_eq!(buyer.owed(addr(BUYER), Token::Eth).await.unwrap(), U256::from(12_000));
        assert_eq!(buyer.owed(addr(SELLER), Token::Eth).await.unwrap(), U256::from(21_000));

        let total = m.eth_balance(m.address).await;
        assert_eq!(total, U256::from(33_000), "{backend}: escrow equals what is owed");
    }
}

#[tokio::test]
async fn reentrant_withdraw_is_refused_and_pays_once() {
    for backend in backends() {
        let m = Market::start(backend).await;
        let p = m.chain.provider(SELLER);
        let attacker = ReentrantReceiver::deploy(p.clone(), m.address).await.unwrap();
        attacker
            .listDataset(U256::from(50_000), 1_000)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let buyer = m.client(BUYER).await;
        let sale = buyer.buy(1, KEY).await.unwrap().value;
        attacker
            .deliver(U256::from(sale), envelope().into())
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        buyer.confirm(sale).await.unwrap();
        // A second sale leaves more ETH in the contract for the attacker to try to drain.
        let s2 = buyer.buy(1, KEY).await.unwrap().value;
        assert!(s2 > sale);
        attacker.arm(true).send().await.unwrap().get_receipt().await.unwrap();
        let before = m.eth_balance(*attacker.address()).await;
        let r = attacker.withdraw().send().await.unwrap().get_receipt().await.unwrap();
        assert!(r.status(), "{backend}: the outer withdraw succeeds");
        assert_eq!(
            m.eth_balance(*attacker.address()).await - before,
            U256::from(50_000),
            "{backend}: paid once"
        );
        assert_eq!(
            attacker.reentries().call().await.unwrap(),
            U256::from(1),
            "{backend}: re-entry attempted"
        );
        assert!(!attacker.reentrySucceeded().call().await.unwrap(), "{backend}: re-entry refused");
        let data = attacker.reentryRevertData().call().await.unwrap();
        assert_eq!(
            &data[..4],
            &alara_contracts::DataMarket::ReentrancyGuardReentrantCall::SELECTOR[..],
            "{backend}: refused by the reentrancy guard"
        );
        assert_eq!(
            m.eth_balance(m.address).await,
            U256::from(50_000),
            "{backend}: second escrow intact"
        );
    }
}

#[tokio::test]
async fn compute_jobs_pay_on_signed_results_and_refund_otherwise() {
    for backend in backends() {
        let m = Market::start(backend).await;
        let (seller, buyer, other) =
            (m.client(SELLER).await, m.client(BUYER).await, m.client(OTHER).await);
        let mut t = terms(Token::Erc20(m.token), 1);
        t.downloadable = false;
        let listing = seller.list(&t).await.unwrap().value;
        assert_revert(buyer.buy(listing, KEY).await, "NotForDownload", backend);
        let alg = B256::repeat_byte(0x77);
        assert_revert(
            other.offer_compute(listing, alg, U256::from(300), 600).await,
            "NotSeller",
            backend,
        );
        assert_revert(
            seller.offer_compute(listing, B256::ZERO, U256::from(300), 600).await,
            "InvalidCommitment",
            backend,
        );
        assert_revert(
            seller.offer_compute(listing, alg, U256::from(300), 0).await,
            "WindowOutOfRange",
            backend,
        );
        seller.offer_compute(listing, alg, U256::from(300), 600).await.unwrap();
        assert_eq!(
            buyer.compute_offer(listing, alg).await.unwrap().map(|o| o.job_window),
            Some(600)
        );
        // Not allow-listed.
        let raw = buyer.instance().requestJob(
            U256::from(listing),
            B256::repeat_byte(1),
            B256::from(KEY),
            U256::MAX,
            u64::MAX,
        );
        // Simulated, not sent: a refused send would leave a gap in this client's cached nonces.
        let e = raw.call().await.map(|_| ()).map_err(alara_market::Error::contract("requestJob"));
        assert_revert(e, "AlgorithmNotAllowed", backend);

        let job = buyer.request_job(listing, alg, KEY).await.unwrap().value;
        let j = buyer.job(job).await.unwrap();
        assert_eq!(
            (j.state, j.algorithm, j.buyer_key, j.amount),
            (JobState::Paid, alg, KEY, U256::from(300))
        );
        let receipt = JobReceipt {
            job_id: job,
            algorithm: alg,
            dataset: t.plaintext_hash,
            result: B256::repeat_byte(5),
            result_cid_hash: JobReceipt::cid_hash("bafyresult"),
            rows: 569,
            finished_at: 1,
        };
        let (chain_id, market) = (seller.chain_id(), seller.address());
        // Wrong signer.
        let forged = receipt.sign(&signer(OTHER), addr(OTHER), chain_id, market).unwrap();
        assert_revert(
            other.submit_result(&forged, "bafyresult").await,
            "ReceiptSignerMismatch",
            backend,
        );
        // Signed for another job, or another algorithm.
        let wrong_job = JobReceipt { job_id: job + 1, ..receipt }
            .sign(&signer(SELLER), addr(SELLER), chain_id, market)
            .unwrap();
        let mut relabelled = wrong_job.clone();
        relabelled.receipt.job_id = job;
        assert_revert(
            seller.submit_result(&relabelled, "bafyresult").await,
            "ReceiptSignerMismatch",
            backend,
        );
        let wrong_alg = JobReceipt { algorithm: B256::repeat_byte(9), ..receipt }
            .sign(&signer(SELLER), addr(SELLER), chain_id, market)
            .unwrap();
        assert_revert(
            seller.submit_result(&wrong_alg, "bafyresult").await,
            "ReceiptMismatch",
            backend,
        );
        // The contract's digest is ours.
        let onchain = seller.instance().receiptDigest(receipt.to_sol()).call().await.unwrap();
        let signed = receipt.sign(&signer(SELLER), addr(SELLER), chain_id, market).unwrap();
        assert_eq!(onchain, signed.digest, "{backend}: EIP-712 digests agree");
        // A relayer may submit a correctly signed receipt.
        other.submit_result(&signed, "bafyresult").await.unwrap();
        let j = buyer.job(job).await.unwrap();
        assert_eq!(j.state, JobState::Completed);
        let r = j.result.unwrap();
        assert_eq!((r.receipt.clone(), r.result_cid.as_str()), (signed.clone(), "bafyresult"));
        r.receipt.verify(addr(SELLER)).unwrap();
        assert_revert(other.submit_result(&signed, "bafyresult").await, "InvalidJobState", backend);
        assert_eq!(
            seller.owed(addr(SELLER), Token::Erc20(m.token)).await.unwrap(),
            U256::from(300)
        );

        // Failure refunds the buyer; only the owner may report it.
        let job2 = buyer.request_job(listing, alg, KEY).await.unwrap().value;
        assert_revert(buyer.fail_job(job2, B256::ZERO).await, "NotSeller", backend);
        seller
            .fail_job(job2, alara_market::party::reason_code("guard refused the output"))
            .await
            .unwrap();
        assert_eq!(buyer.job(job2).await.unwrap().state, JobState::Failed);
        assert_revert(seller.fail_job(job2, B256::ZERO).await, "InvalidJobState", backend);

        // Timeout refunds the buyer; a late result is refused.
        let job3 = buyer.request_job(listing, alg, KEY).await.unwrap().value;
        assert_revert(other.refund_job(job3).await, "DeadlineNotReached", backend);
        m.warp(700).await;
        let late = JobReceipt { job_id: job3, ..receipt }
            .sign(&signer(SELLER), addr(SELLER), chain_id, market)
            .unwrap();
        assert_revert(seller.submit_result(&late, "bafyresult").await, "DeadlinePassed", backend);
        other.refund_job(job3).await.unwrap();
        assert_eq!(buyer.job(job3).await.unwrap().state, JobState::Refunded);
        assert_eq!(buyer.owed(addr(BUYER), Token::Erc20(m.token)).await.unwrap(), U256::from(600));

        // Revoked algorithms and closed listings take no new jobs.
        assert_revert(other.revoke_compute(listing, alg).await, "NotSeller", backend);
        seller.revoke_compute(listing, alg).await.unwrap();
        assert_eq!(buyer.compute_offer(listing, alg).await.unwrap(), None);
        seller.offer_compute(listing, alg, U256::from(300), 600).await.unwrap();
        assert_revert(other.delist(listing).await, "NotSeller", backend);
        seller.delist(listing).await.unwrap();
        assert!(!buyer.listing(listing).await.unwrap().active);
        let raw = buyer.instance().requestJob(
            U256::from(listing),
            alg,
            B256::from(KEY),
            U256::MAX,
            u64::MAX,
        );
        let data = raw.call().await.unwrap_err().as_revert_data().unwrap_or_default();
        assert!(alara_market::describe_revert(&data).starts_with("ListingInactive"), "{backend}");
        assert_eq!(
            m.token_balance(m.address).await,
            U256::from(900),
            "{backend}: all three escrows accounted"
        );
    }
}

#[tokio::test]
async fn bad_input_gets_named_errors() {
    for backend in backends() {
        let m = Market::start(backend).await;
        let (seller, buyer) = (m.client(SELLER).await, m.client(BUYER).await);
        let mut t = terms(Token::Eth, 100);
        t.delivery_window = 0;
        assert_revert(seller.list(&t).await, "WindowOutOfRange", backend);
        t.delivery_window = 366 * 86_400;
        assert_revert(seller.list(&t).await, "WindowOutOfRange", backend);
        let mut t = terms(Token::Eth, 100);
        t.plaintext_hash = B256::ZERO;
        assert_revert(seller.list(&t).await, "InvalidCommitment", backend);
        let mut t = terms(Token::Eth, 100);
        t.cid = String::new();
        assert_revert(seller.list(&t).await, "InvalidCommitment", backend);
        let listing = seller.list(&terms(Token::Eth, 100)).await.unwrap().value;
        assert_revert(
            buyer.buy_paying(listing, KEY, U256::from(99)).await,
            "WrongPayment",
            backend,
        );
        assert_revert(
            buyer.buy_paying(listing, [0; 32], U256::from(100)).await,
            "InvalidKey",
            backend,
        );
        assert_revert(buyer.buy_paying(9, KEY, U256::from(100)).await, "UnknownListing", backend);
        assert_revert(buyer.confirm(9).await, "UnknownSale", backend);
        assert_revert(buyer.refund_job(9).await, "UnknownJob", backend);
        assert_revert(buyer.delist(listing).await, "NotSeller", backend);
        assert!(matches!(buyer.sale(9).await, Err(alara_market::Error::NotFound(_))));
        assert!(matches!(buyer.listing(9).await, Err(alara_market::Error::NotFound(_))));
        // Deploying with no arbiter key is refused.
        let p = m.chain.provider(0);
        let mut params = alara_market::contract::MarketParams::new([0; 32]);
        assert_revert(alara_market::contract::deploy(&p, &params).await, "InvalidKey", backend);
        params.arbiter_key = [1; 32];
        params.dispute_window = 0;
        assert_revert(
            alara_market::contract::deploy(&p, &params).await,
            "WindowOutOfRange",
            backend,
        );
        params.dispute_window = 86_400;
        params.arbitration_window = 366 * 86_400;
        assert_revert(
            alara_market::contract::deploy(&p, &params).await,
            "WindowOutOfRange",
            backend,
        );
    }
}

#[tokio::test]
async fn ensure_deployed_is_idempotent_and_recorded() {
    for backend in backends() {
        let chain = alara_chain::testing::TestChain::start(backend).await.unwrap();
        let p = chain.provider(0);
        let dir = tempfile::tempdir().unwrap();
        let a = alara_market::ensure_deployed(&p, dir.path()).await.unwrap();
        let block = alloy::providers::Provider::get_block_number(&p).await.unwrap();
        let b = alara_market::ensure_deployed(&p, dir.path()).await.unwrap();
        assert_eq!(a, b);
        assert_eq!(
            alloy::providers::Provider::get_block_number(&p).await.unwrap(),
            block,
            "{backend}: no new tx"
        );
        let client = alara_market::DataMarket::new(a, p.clone(), addr(0)).await.unwrap();
        let keyring = alara_market::Keyring::in_data_dir(dir.path());
        let arbiter = keyring.arbiter_identity().unwrap();
        assert_eq!(
            client.arbiter_key().await.unwrap(),
            alara_market::keys::recipient_bytes(&arbiter.to_public()).unwrap()
        );
        assert_eq!(client.arbiter().await.unwrap(), addr(0));
        // A fresh chain with the same data dir redeploys.
        let chain2 = alara_chain::testing::TestChain::start(backend).await.unwrap();
        let c = alara_market::ensure_deployed(&chain2.provider(0), dir.path()).await;
        assert!(c.is_ok(), "{backend}: {c:?}");
    }
}
