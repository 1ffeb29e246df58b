//! The attacks of the contracts review, each against DataMarket on the embedded node and on
//! anvil: a relayer rewriting the result CID, a silent or late arbiter, arbiter rotation,
//! an offer changed between the quote and `requestJob`, constructor bounds and bond
//! rounding, fee-on-transfer and hooked tokens, smart-account sellers, malleable and
//! foreign signatures, and every deadline at the exact second.

use alara_chain::testing::backends;
use alara_contracts::DataMarket as Binding;
use alara_contracts::{ERC1271Wallet, FeeOnTransferToken, HookedToken};
use alara_market::contract::{self, ComputeOffer, JobState, SaleState, Token};
use alara_market::receipt::JobReceipt;
use alara_market::DataMarket;
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::DynProvider;
use alloy::sol_types::{SolCall, SolError};

use crate::support::*;

const KEY: [u8; 32] = [0x11; 32];
const ALG: B256 = B256::repeat_byte(0x77);
const JOB_WINDOW: u64 = 600;

fn envelope() -> Vec<u8> {
    vec![0x42; 200]
}

/// A compute-only listing of `seller` in `token` with `ALG` offered at 300 for `JOB_WINDOW`.
async fn compute_listing(seller: &DataMarket<DynProvider>, token: Token) -> u64 {
    let mut t = terms(token, 1);
    t.downloadable = false;
    let listing = seller.list(&t).await.unwrap().value;
    seller.offer_compute(listing, ALG, U256::from(300), JOB_WINDOW).await.unwrap();
    listing
}

fn receipt_for(job: u64, cid: &str) -> JobReceipt {
    JobReceipt {
        job_id: job,
        algorithm: ALG,
        dataset: B256::repeat_byte(0xaa),
        result: B256::repeat_byte(5),
        result_cid_hash: JobReceipt::cid_hash(cid),
        rows: 569,
        finished_at: 1,
    }
}

/// A sale of `listing` bought by BUYER, delivered, and disputed.
async fn disputed_sale(
    seller: &DataMarket<DynProvider>,
    buyer: &DataMarket<DynProvider>,
    listing: u64,
) -> u64 {
    let sale = buyer.buy(listing, KEY).await.unwrap().value;
    seller.deliver(sale, envelope()).await.unwrap();
    buyer.dispute(sale, envelope()).await.unwrap();
    sale
}

async fn mined<D: alloy::contract::CallDecoder>(
    call: alloy::contract::CallBuilder<&DynProvider, D>,
) {
    let r = call.send().await.unwrap().get_receipt().await.unwrap();
    assert!(r.status(), "transaction failed");
}

/// M-1: the seller's signature, copied from the mempool, cannot record another CID.
#[tokio::test]
async fn a_relayer_cannot_record_another_result_cid() {
    for backend in backends() {
        let m = Market::start(backend).await;
        let (seller, buyer, relayer) =
            (m.client(SELLER).await, m.client(BUYER).await, m.client(OTHER).await);
        let listing = compute_listing(&seller, Token::Eth).await;
        let job = buyer.request_job(listing, ALG, KEY).await.unwrap().value;
        let signed = receipt_for(job, "bafyresult")
            .sign(&signer(SELLER), addr(SELLER), seller.chain_id(), seller.address())
            .unwrap();
        // Resubmitted with another CID.
        assert_revert(
            relayer.submit_result(&signed, "bafyattacker").await,
            "ResultCidMismatch",
            backend,
        );
        // With the receipt's CID commitment changed to match: the signature no longer holds.
        let mut forged = signed.clone();
        forged.receipt.result_cid_hash = JobReceipt::cid_hash("bafyattacker");
        assert_revert(
            relayer.submit_result(&forged, "bafyattacker").await,
            "ReceiptSignerMismatch",
            backend,
        );
        assert_eq!(buyer.job(job).await.unwrap().state, JobState::Paid, "{backend}");
        relayer.submit_result(&signed, "bafyresult").await.unwrap();
        let r = buyer.job(job).await.unwrap().result.unwrap();
        assert_eq!(r.result_cid, "bafyresult", "{backend}");
        r.receipt.verify_with_cid(addr(SELLER), &r.result_cid).unwrap();
    }
}

/// M-2: the arbiter rules up to its deadline and not after; silence settles for the seller
/// (price) and returns the bond to the buyer, never the data plus a full refund.
#[tokio::test]
async fn the_arbiter_rules_until_its_deadline_and_silence_pays_the_seller() {
    for backend in backends() {
        let m = Market::start(backend).await;
        let (arbiter, seller, buyer, other) = (
            m.client(ARBITER).await,
            m.client(SELLER).await,
            m.client(BUYER).await,
            m.client(OTHER).await,
        );
        let listing = seller.list(&terms(Token::Eth, 10_000)).await.unwrap().value;

        // A ruling mined in the block at the deadline exactly is still in time.
        let s1 = disputed_sale(&seller, &buyer, listing).await;
        let d1 = buyer.sale(s1).await.unwrap().deadline;
        m.set_next_timestamp(d1).await;
        let tx = arbiter.resolve(s1, true).await.unwrap();
        assert_eq!(m.block_time(tx.block).await, d1, "{backend}");
        assert_eq!(buyer.owed(addr(BUYER), Token::Eth).await.unwrap(), U256::from(11_000));

        // At the deadline the default is too early; a second later the arbiter is too late.
        let s2 = disputed_sale(&seller, &buyer, listing).await;
        let d2 = buyer.sale(s2).await.unwrap().deadline;
        let at = m.mine_at(d2).await;
        let resolve = || arbiter.instance().resolve(U256::from(s2), true);
        let expire = || other.instance().resolveExpired(U256::from(s2));
        call_at(resolve(), addr(ARBITER), at).await.unwrap();
        assert_revert(call_at(expire(), addr(OTHER), at).await, "DeadlineNotReached", backend);
        let after = m.mine_at(d2 + 1).await;
        assert_revert(call_at(resolve(), addr(ARBITER), after).await, "DeadlinePassed", backend);
        call_at(expire(), addr(OTHER), after).await.unwrap();
        assert_revert(arbiter.resolve(s2, true).await, "DeadlinePassed", backend);
        other.resolve_expired(s2).await.unwrap();
        let s = buyer.sale(s2).await.unwrap();
        assert_eq!((s.state, s.bond), (SaleState::Resolved, U256::from(1_000)), "{backend}");
        // The buyer got its bond back, not the price: it keeps only what it paid for.
        assert_eq!(buyer.owed(addr(BUYER), Token::Eth).await.unwrap(), U256::from(12_000));
        assert_eq!(buyer.owed(addr(SELLER), Token::Eth).await.unwrap(), U256::from(10_000));
        assert_eq!(m.eth_balance(m.address).await, U256::from(22_000), "{backend}");
    }
}

/// M-2: rotation in two steps, so a lost or compromised arbiter key can be replaced (by a
/// multisig, say) without a typo handing disputes to nobody.
#[tokio::test]
async fn the_arbiter_is_handed_over_in_two_steps() {
    for backend in backends() {
        let m = Market::start(backend).await;
        let (arbiter, seller, buyer, other) = (
            m.client(ARBITER).await,
            m.client(SELLER).await,
            m.client(BUYER).await,
            m.client(OTHER).await,
        );
        let old_key = arbiter.arbiter_key().await.unwrap();
        let new_key = [7u8; 32];
        assert_revert(other.transfer_arbiter(addr(OTHER), new_key).await, "NotArbiter", backend);
        assert_revert(arbiter.transfer_arbiter(addr(OTHER), [0; 32]).await, "InvalidKey", backend);
        assert_revert(other.accept_arbiter().await, "NotPendingArbiter", backend);

        arbiter.transfer_arbiter(addr(OTHER), new_key).await.unwrap();
        assert_eq!(arbiter.pending_arbiter().await.unwrap(), Some((addr(OTHER), new_key)));
        assert_eq!(arbiter.arbiter().await.unwrap(), addr(ARBITER), "{backend}: not yet");
        assert_eq!(arbiter.arbiter_key().await.unwrap(), old_key);
        assert_revert(seller.accept_arbiter().await, "NotPendingArbiter", backend);
        // A cancelled proposal cannot be accepted.
        arbiter.transfer_arbiter(Address::ZERO, [0; 32]).await.unwrap();
        assert_eq!(arbiter.pending_arbiter().await.unwrap(), None);
        assert_revert(other.accept_arbiter().await, "NotPendingArbiter", backend);

        arbiter.transfer_arbiter(addr(OTHER), new_key).await.unwrap();
        other.accept_arbiter().await.unwrap();
        assert_eq!(other.arbiter().await.unwrap(), addr(OTHER), "{backend}");
        assert_eq!(other.arbiter_key().await.unwrap(), new_key);
        assert_eq!(other.pending_arbiter().await.unwrap(), None);

        let listing = seller.list(&terms(Token::Eth, 10_000)).await.unwrap().value;
        let sale = disputed_sale(&seller, &buyer, listing).await;
        assert_revert(arbiter.resolve(sale, false).await, "NotArbiter", backend);
        assert_revert(
            arbiter.transfer_arbiter(addr(ARBITER), old_key).await,
            "NotArbiter",
            backend,
        );
        other.resolve(sale, false).await.unwrap();
        assert_eq!(buyer.owed(addr(SELLER), Token::Eth).await.unwrap(), U256::from(11_000));
    }
}

/// L-1: the seller changes the offer between the buyer's quote and `requestJob`.
#[tokio::test]
async fn a_job_request_is_bounded_by_the_quote_the_buyer_saw() {
    for backend in backends() {
        let m = Market::start(backend).await;
        let (seller, buyer) = (m.client(SELLER).await, m.client(BUYER).await);
        for token in [Token::Erc20(m.token), Token::Eth] {
            let listing = compute_listing(&seller, token).await;
            let quote = buyer.compute_offer(listing, ALG).await.unwrap().unwrap();
            assert_eq!(quote, ComputeOffer { price: U256::from(300), job_window: JOB_WINDOW });
            // A higher price (the buyer has a standing allowance for the token).
            seller.offer_compute(listing, ALG, U256::from(301), JOB_WINDOW).await.unwrap();
            assert_revert(
                buyer.request_job_quoted(listing, ALG, KEY, quote).await,
                "PriceAboveMax",
                backend,
            );
            // A year-long window, which would lock the escrow for a year.
            seller.offer_compute(listing, ALG, U256::from(300), 365 * 86_400).await.unwrap();
            assert_revert(
                buyer.request_job_quoted(listing, ALG, KEY, quote).await,
                "WindowAboveMax",
                backend,
            );
            // A shorter window is within the quote.
            seller.offer_compute(listing, ALG, U256::from(300), 300).await.unwrap();
            let job = buyer.request_job_quoted(listing, ALG, KEY, quote).await.unwrap().value;
            let j = buyer.job(job).await.unwrap();
            assert_eq!(j.amount, U256::from(300), "{backend} {token:?}");
            assert_eq!(j.deadline, m.now().await + 300, "{backend} {token:?}");
        }
    }
}

/// L-3: bond basis points in [1, 10,000], a minimum dispute and arbitration window, and a
/// bond rounded up, so a cheap sale has no free dispute.
#[tokio::test]
async fn the_constructor_is_bounded_and_the_bond_rounds_up() {
    for backend in backends() {
        let m = Market::start(backend).await;
        let p = m.chain.provider(ARBITER);
        let mut params = m.params();
        for bps in [0u16, 10_001, u16::MAX] {
            params.dispute_bond_bps = bps;
            assert_revert(contract::deploy(&p, &params).await, "BondOutOfRange", backend);
        }
        params.dispute_bond_bps = 10_000;
        let full = contract::deploy(&p, &params).await.unwrap();
        let full = DataMarket::new(full, p.clone(), addr(ARBITER)).await.unwrap();
        assert_eq!(full.bond(U256::from(12_345)).await.unwrap(), U256::from(12_345));
        assert_eq!(full.bond(U256::MAX).await.unwrap(), U256::MAX, "{backend}: no overflow");

        params.dispute_bond_bps = 1;
        params.dispute_window = 3_599;
        assert_revert(contract::deploy(&p, &params).await, "WindowOutOfRange", backend);
        params.dispute_window = 3_600;
        params.arbitration_window = 3_599;
        assert_revert(contract::deploy(&p, &params).await, "WindowOutOfRange", backend);
        params.arbitration_window = 3_600;
        let tiny = contract::deploy(&p, &params).await.unwrap();
        let tiny = DataMarket::new(tiny, p.clone(), addr(ARBITER)).await.unwrap();
        for (price, bond) in [(0u64, 0u64), (1, 1), (10_000, 1), (10_001, 2)] {
            assert_eq!(tiny.bond(U256::from(price)).await.unwrap(), U256::from(bond), "{price}");
        }

        let buyer = m.client(BUYER).await;
        for (price, bond) in [(0u64, 0u64), (1, 1), (9, 1), (10, 1), (11, 2), (10_001, 1_001)] {
            assert_eq!(buyer.bond(U256::from(price)).await.unwrap(), U256::from(bond), "{price}");
        }
        // A one-wei sale is disputed with a one-wei bond, not for free.
        let seller = m.client(SELLER).await;
        let listing = seller.list(&terms(Token::Eth, 1)).await.unwrap().value;
        let sale = buyer.buy(listing, KEY).await.unwrap().value;
        seller.deliver(sale, envelope()).await.unwrap();
        assert_eq!(buyer.dispute(sale, envelope()).await.unwrap().value, U256::from(1));
        assert_eq!(buyer.sale(sale).await.unwrap().bond, U256::from(1), "{backend}");
    }
}

/// The balance of `who` in any ERC-20.
async fn balance_of(m: &Market, token: Address, who: Address) -> U256 {
    alara_contracts::AlaraToken::new(token, m.chain.provider(0))
        .balanceOf(who)
        .call()
        .await
        .unwrap()
}

/// Gives `who` `amount` of the ERC-20 at `token` (from account 0) and approves the market.
async fn fund_and_approve(m: &Market, token: Address, who: usize, amount: u64) {
    let t = alara_contracts::AlaraToken::new(token, m.chain.provider(0));
    let r = t.transfer(addr(who), U256::from(amount)).send().await.unwrap().get_receipt().await;
    assert!(r.unwrap().status());
    let t = alara_contracts::AlaraToken::new(token, m.chain.provider(who));
    let r = t.approve(m.address, U256::MAX).send().await.unwrap().get_receipt().await;
    assert!(r.unwrap().status());
}

/// L-4: a token that takes 1 % of every transfer is escrowed, credited and paid out as
/// received in `buy`, `dispute` and `requestJob`, so every creditor can withdraw.
#[tokio::test]
async fn fee_on_transfer_tokens_are_escrowed_as_received() {
    for backend in backends() {
        let m = Market::start(backend).await;
        let p0 = m.chain.provider(0);
        let fot =
            FeeOnTransferToken::deploy(p0.clone(), U256::from(100), U256::from(10u64.pow(12)))
                .await
                .unwrap();
        let fot = *fot.address();
        fund_and_approve(&m, fot, BUYER, 1_000_000).await;
        let token = Token::Erc20(fot);
        let (arbiter, seller, buyer) =
            (m.client(ARBITER).await, m.client(SELLER).await, m.client(BUYER).await);
        let held = || balance_of(&m, fot, m.address);

        let listing = seller.list(&terms(token, 10_000)).await.unwrap().value;
        let sale = buyer.buy(listing, KEY).await.unwrap().value;
        assert_eq!(buyer.sale(sale).await.unwrap().amount, U256::from(9_900), "{backend}");
        assert_eq!(held().await, U256::from(9_900));
        seller.deliver(sale, envelope()).await.unwrap();
        // The bond is 10 % of the escrowed 9,900, and 1 % of it is taken on the way in.
        let bond = buyer.dispute(sale, envelope()).await.unwrap().value;
        assert_eq!(bond, U256::from(981), "{backend}");
        assert_eq!(buyer.sale(sale).await.unwrap().bond, U256::from(981));
        assert_eq!(held().await, U256::from(10_881));
        arbiter.resolve(sale, true).await.unwrap();
        assert_eq!(buyer.owed(addr(BUYER), token).await.unwrap(), U256::from(10_881));

        seller.offer_compute(listing, ALG, U256::from(1_000), JOB_WINDOW).await.unwrap();
        let job = buyer.request_job(listing, ALG, KEY).await.unwrap().value;
        assert_eq!(buyer.job(job).await.unwrap().amount, U256::from(990), "{backend}");
        seller.fail_job(job, B256::ZERO).await.unwrap();

        let s2 = buyer.buy(listing, KEY).await.unwrap().value;
        seller.deliver(s2, envelope()).await.unwrap();
        buyer.confirm(s2).await.unwrap();
        let owed_buyer = buyer.owed(addr(BUYER), token).await.unwrap();
        let owed_seller = buyer.owed(addr(SELLER), token).await.unwrap();
        assert_eq!((owed_buyer, owed_seller), (U256::from(11_871), U256::from(9_900)));
        assert_eq!(held().await, owed_buyer + owed_seller, "{backend}: owed = balance");
        assert_eq!(buyer.withdraw(token).await.unwrap().value, owed_buyer);
        assert_eq!(seller.withdraw(token).await.unwrap().value, owed_seller, "{backend}");
        assert_eq!(held().await, U256::ZERO);
    }
}

/// The account that arms the hooked token (no other test role sends from it).
const HOOK_ARMER: usize = 6;

/// L-4: a token whose transfers call back into the market (ERC-777-style hooks) is refused
/// by the reentrancy guard inside `buy`, `dispute`, `requestJob` and `withdraw`.
#[tokio::test]
async fn a_hooked_token_cannot_reenter_the_market() {
    for backend in backends() {
        let m = Market::start(backend).await;
        let p0 = m.chain.provider(0);
        let hook = HookedToken::deploy(p0.clone(), U256::from(10u64.pow(12))).await.unwrap();
        let hook_addr = *hook.address();
        fund_and_approve(&m, hook_addr, BUYER, 1_000_000).await;
        // The hook is armed from an account of its own: account 0 also sends as the
        // arbiter (through another provider), and two nonce caches for one account clash.
        let hook = HookedToken::new(hook_addr, m.chain.provider(HOOK_ARMER));
        let token = Token::Erc20(hook_addr);
        let (arbiter, seller, buyer) =
            (m.client(ARBITER).await, m.client(SELLER).await, m.client(BUYER).await);
        let listing = seller.list(&terms(token, 10_000)).await.unwrap().value;
        seller.offer_compute(listing, ALG, U256::from(1_000), JOB_WINDOW).await.unwrap();

        let mut calls = 0u64;
        let mut expect_refused = async |what: &str| {
            calls += 1;
            assert_eq!(hook.hookCalls().call().await.unwrap(), U256::from(calls), "{what}");
            assert!(!hook.hookSucceeded().call().await.unwrap(), "{backend}: {what} re-entered");
            let data = hook.hookRevertData().call().await.unwrap();
            assert_eq!(
                &data[..4],
                &Binding::ReentrancyGuardReentrantCall::SELECTOR[..],
                "{backend}: {what}: {}",
                alara_market::describe_revert(&data)
            );
        };
        let arm = |data: Vec<u8>| hook.arm(m.address, Bytes::from(data));

        mined(arm(Binding::withdrawCall { token: hook_addr }.abi_encode())).await;
        let sale = buyer.buy(listing, KEY).await.unwrap().value;
        expect_refused("buy").await;
        seller.deliver(sale, envelope()).await.unwrap();
        mined(arm(Binding::confirmCall { saleId: U256::from(sale) }.abi_encode())).await;
        buyer.dispute(sale, envelope()).await.unwrap();
        expect_refused("dispute").await;
        mined(arm(Binding::buyCall { listingId: U256::from(listing), buyerKey: B256::from(KEY) }
            .abi_encode()))
        .await;
        let job = buyer.request_job(listing, ALG, KEY).await.unwrap().value;
        expect_refused("requestJob").await;
        arbiter.resolve(sale, true).await.unwrap();
        seller.fail_job(job, B256::ZERO).await.unwrap();
        mined(arm(Binding::withdrawCall { token: hook_addr }.abi_encode())).await;
        let paid = buyer.withdraw(token).await.unwrap().value;
        expect_refused("withdraw").await;
        assert_eq!(paid, U256::from(12_000), "{backend}: price, bond and job, once");
        assert_eq!(balance_of(&m, hook_addr, m.address).await, U256::ZERO);
        assert_eq!(buyer.sale(sale).await.unwrap().state, SaleState::Resolved);
    }
}

/// L-5: a seller that is a smart account (ERC-1271) completes jobs with its owner's key.
#[tokio::test]
async fn a_smart_account_seller_signs_receipts_with_erc1271() {
    for backend in backends() {
        let m = Market::start(backend).await;
        let (buyer, relayer) = (m.client(BUYER).await, m.client(OTHER).await);
        let wallet = ERC1271Wallet::deploy(m.chain.provider(SELLER), addr(SELLER)).await.unwrap();
        let w = *wallet.address();
        let t = terms(Token::Eth, 1);
        let list = Binding::listCall {
            token: Address::ZERO,
            price: t.price,
            downloadable: false,
            deliveryWindow: t.delivery_window,
            cid: t.cid.clone(),
            plaintextHash: t.plaintext_hash,
            termsHash: t.terms_hash,
        };
        mined(wallet.execute(m.address, list.abi_encode().into())).await;
        let (listing, _, _) = buyer.counts().await.unwrap();
        assert_eq!(buyer.listing(listing).await.unwrap().seller, w, "{backend}");
        let offer = Binding::offerComputeCall {
            listingId: U256::from(listing),
            algorithm: ALG,
            price: U256::from(300),
            jobWindow: JOB_WINDOW,
        };
        mined(wallet.execute(m.address, offer.abi_encode().into())).await;
        let job = buyer.request_job(listing, ALG, KEY).await.unwrap().value;

        let receipt = receipt_for(job, "bafyresult");
        let (chain_id, market) = (buyer.chain_id(), buyer.address());
        let stranger = receipt.sign(&signer(OTHER), w, chain_id, market).unwrap();
        assert_revert(
            relayer.submit_result(&stranger, "bafyresult").await,
            "ReceiptSignerMismatch",
            backend,
        );
        let signed = receipt.sign(&signer(SELLER), w, chain_id, market).unwrap();
        relayer.submit_result(&signed, "bafyresult").await.unwrap();
        assert_eq!(buyer.job(job).await.unwrap().state, JobState::Completed, "{backend}");
        assert_eq!(buyer.owed(w, Token::Eth).await.unwrap(), U256::from(300));
        let withdraw = Binding::withdrawCall { token: Address::ZERO };
        mined(wallet.execute(m.address, withdraw.abi_encode().into())).await;
        assert_eq!(m.eth_balance(w).await, U256::from(300), "{backend}");
    }
}

/// L-5: receipts signed for another chain or market, the high-s twin of a valid signature,
/// and its 64-byte (EIP-2098) form are all refused; the canonical one is accepted.
#[tokio::test]
async fn only_canonical_signatures_for_this_market_complete_a_job() {
    for backend in backends() {
        let m = Market::start(backend).await;
        let (seller, buyer, relayer) =
            (m.client(SELLER).await, m.client(BUYER).await, m.client(OTHER).await);
        let listing = compute_listing(&seller, Token::Eth).await;
        let job = buyer.request_job(listing, ALG, KEY).await.unwrap().value;
        let receipt = receipt_for(job, "bafyresult");
        let (chain_id, market) = (seller.chain_id(), seller.address());
        for (c, a) in [(chain_id + 1, market), (chain_id, Address::repeat_byte(0x42))] {
            let foreign = receipt.sign(&signer(SELLER), addr(SELLER), c, a).unwrap();
            let mut relabelled = foreign.clone();
            (relabelled.chain_id, relabelled.contract) = (chain_id, market);
            assert_revert(
                relayer.submit_result(&relabelled, "bafyresult").await,
                "ReceiptSignerMismatch",
                backend,
            );
        }
        let good = receipt.sign(&signer(SELLER), addr(SELLER), chain_id, market).unwrap();
        let n = U256::from_str_radix(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
            16,
        )
        .unwrap();
        let mut high = good.signature.to_vec();
        let s = U256::from_be_slice(&high[32..64]);
        high[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
        high[64] = if high[64] == 27 { 28 } else { 27 };
        // The twin is a valid secp256k1 signature by the seller; only its form is refused.
        let twin = alloy::primitives::Signature::from_raw(&high).unwrap();
        assert_eq!(twin.recover_address_from_prehash(&good.digest).unwrap(), addr(SELLER));
        let mut compact = good.signature[..64].to_vec();
        if good.signature[64] == 28 {
            compact[32] |= 0x80;
        }
        for (what, sig) in [("high-s", high), ("64-byte", compact)] {
            let mut bad = good.clone();
            bad.signature = sig.into();
            let r = relayer.submit_result(&bad, "bafyresult").await;
            assert!(
                r.as_ref().err().and_then(|e| e.revert_name()).as_deref()
                    == Some("ReceiptSignerMismatch"),
                "{backend}: {what}: {r:?}"
            );
        }
        relayer.submit_result(&good, "bafyresult").await.unwrap();
        assert_eq!(buyer.job(job).await.unwrap().state, JobState::Completed, "{backend}");
    }
}

/// Every deadline at the exact second: a `<= deadline` action works in the block at the
/// deadline and fails one second later; a `> deadline` action the reverse.
#[tokio::test]
async fn deadlines_hold_to_the_second() {
    for backend in backends() {
        let m = Market::start(backend).await;
        let (seller, buyer, other) =
            (m.client(SELLER).await, m.client(BUYER).await, m.client(OTHER).await);
        let listing = seller.list(&terms(Token::Eth, 10_000)).await.unwrap().value;
        let sale_id = |s: u64| U256::from(s);

        // Delivery deadline: deliver (<=) and refund (>).
        let a = buyer.buy(listing, KEY).await.unwrap().value;
        let d = buyer.sale(a).await.unwrap().deadline;
        let at = m.mine_at(d).await;
        let deliver = || seller.instance().deliver(sale_id(a), envelope().into());
        let refund = || other.instance().refund(sale_id(a));
        call_at(deliver(), addr(SELLER), at).await.unwrap();
        assert_revert(call_at(refund(), addr(OTHER), at).await, "DeadlineNotReached", backend);
        let after = m.mine_at(d + 1).await;
        assert_revert(call_at(deliver(), addr(SELLER), after).await, "DeadlinePassed", backend);
        call_at(refund(), addr(OTHER), after).await.unwrap();
        other.refund(a).await.unwrap();

        // A delivery mined in the block at the deadline counts.
        let b = buyer.buy(listing, KEY).await.unwrap().value;
        let d = buyer.sale(b).await.unwrap().deadline;
        m.set_next_timestamp(d).await;
        let tx = seller.deliver(b, envelope()).await.unwrap();
        assert_eq!(m.block_time(tx.block).await, d, "{backend}");

        // Dispute window: dispute (<=) and release (>).
        let d = buyer.sale(b).await.unwrap().deadline;
        let bond = buyer.bond(U256::from(10_000)).await.unwrap();
        let dispute = || buyer.instance().dispute(sale_id(b), envelope().into()).value(bond);
        let release = || other.instance().release(sale_id(b));
        let at = m.mine_at(d).await;
        call_at(dispute(), addr(BUYER), at).await.unwrap();
        assert_revert(call_at(release(), addr(OTHER), at).await, "DeadlineNotReached", backend);
        let after = m.mine_at(d + 1).await;
        assert_revert(call_at(dispute(), addr(BUYER), after).await, "DeadlinePassed", backend);
        call_at(release(), addr(OTHER), after).await.unwrap();
        other.release(b).await.unwrap();

        // Arbitration is in the_arbiter_rules_until_its_deadline_and_silence_pays_the_seller;
        // job deadline: submitResult (<=) and refundJob (>), on two jobs a second apart.
        let compute = compute_listing(&seller, Token::Eth).await;
        let j1 = buyer.request_job(compute, ALG, KEY).await.unwrap().value;
        // The embedded node may mine consecutive blocks in the same second: put the next
        // block one second after the last.
        let head =
            alloy::providers::Provider::get_block_number(&m.chain.provider(0)).await.unwrap();
        m.set_next_timestamp(m.block_time(head).await + 1).await;

        let j2 = buyer.request_job(compute, ALG, KEY).await.unwrap().value;
        let (d1, d2) =
            (buyer.job(j1).await.unwrap().deadline, buyer.job(j2).await.unwrap().deadline);
        assert!(d2 > d1, "{backend}");
        let sign = |job| {
            receipt_for(job, "bafyresult")
                .sign(&signer(SELLER), addr(SELLER), seller.chain_id(), seller.address())
                .unwrap()
        };
        let (r1, r2) = (sign(j1), sign(j2));
        let submit = |job: u64, r: &alara_market::SignedJobReceipt| {
            other.instance().submitResult(
                U256::from(job),
                r.receipt.to_sol(),
                "bafyresult".into(),
                r.signature.clone(),
            )
        };
        let refund_job = |job: u64| other.instance().refundJob(U256::from(job));
        let at = m.mine_at(d1).await;
        call_at(submit(j1, &r1), addr(OTHER), at).await.unwrap();
        assert_revert(
            call_at(refund_job(j1), addr(OTHER), at).await,
            "DeadlineNotReached",
            backend,
        );
        // Mined in the first second it is allowed (sent without a simulation, which would
        // run in the latest block, a second earlier).
        assert!(send_at(&m, refund_job(j1), d1 + 1).await, "{backend}");
        assert_eq!(buyer.job(j1).await.unwrap().state, JobState::Refunded);
        let after = m.mine_at(d2 + 1).await;
        assert_revert(
            call_at(submit(j2, &r2), addr(OTHER), after).await,
            "DeadlinePassed",
            backend,
        );
        call_at(refund_job(j2), addr(OTHER), after).await.unwrap();
    }
}
