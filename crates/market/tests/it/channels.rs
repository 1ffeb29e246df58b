//! `InferenceChannels` on every backend: open, top-up, extend, claim, refund, withdraw and
//! the views; the digests against the Rust ones; the exact split for 0 and 3 parents;
//! 1,000 chained vouchers settled by one claim; and every attack refused with its named
//! error: replay, another channel, chain or contract, an amount above the deposit, a
//! foreign signer, a non-owner, after expiry, the claim/refund race at the exact second,
//! strangers, deprecated versions, fee-on-transfer tokens, re-entry on withdraw, and an
//! ERC-1271 wallet as the signer.

use alara_chain::testing::backends;
use alara_contracts::InferenceChannels::{self, InferenceChannelsErrors as E};
use alara_contracts::ModelRegistry::ModelRegistryErrors;
use alara_contracts::{ERC1271Wallet, FeeOnTransferToken, ReentrantPayee};
use alara_market::model::chain::{self, ParentKind, ParentRef, Payer};
use alara_market::model::voucher::{channels_domain, CallReceipt, SignedVoucher, Voucher};
use alara_market::model::ModelMarket;
use alara_market::Token;
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;

use crate::assert_err;
use crate::model_fixture::*;
use crate::support::{addr, call_at, send_at};

/// The client's voucher key (a session key: it holds nothing).
fn key() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(0x5e)).unwrap()
}

fn voucher(channel: u64, nonce: u64, amount: u64, prev: B256) -> Voucher {
    Voucher { channelId: U256::from(channel), nonce, amount: U256::from(amount), prevReceipt: prev }
}

fn sign(m: &ModelMarket<alloy::providers::DynProvider>, v: Voucher) -> SignedVoucher {
    v.sign(&key(), &m.channels_domain()).unwrap()
}

fn receipt(call: u64) -> CallReceipt {
    CallReceipt {
        model: B256::repeat_byte(1),
        input: B256::from(U256::from(call)),
        output: B256::from(U256::from(call + 1_000_000)),
    }
}

#[tokio::test]
async fn digests_are_the_contracts() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let c = t.c(CLIENT);
        let r = receipt(7);
        let on_chain = c.channels().receiptHash(r.model, r.input, r.output).call().await.unwrap();
        assert_eq!(on_chain, r.hash(), "{backend}");
        let v = voucher(3, 9, 12_345, r.hash());
        let on_chain = c
            .channels()
            .voucherDigest(v.channelId, v.nonce, v.amount, v.prevReceipt)
            .call()
            .await
            .unwrap();
        assert_eq!(on_chain, v.digest(&c.channels_domain()), "{backend}");
    }
}

#[tokio::test]
async fn a_channel_opens_tops_up_extends_claims_and_refunds_in_eth() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let model = t.publish(1, Token::Eth, &[]).await;
        let (client, owner) = (t.c(CLIENT), t.c(OWNER));
        assert_eq!(client.channels().channelCount().call().await.unwrap(), U256::ZERO);
        let expiry = t.m.now().await + 1_000;
        let ch = client
            .open_channel(model, 1, key().address(), U256::from(5 * PRICE), expiry)
            .await
            .unwrap();
        assert_eq!(ch.value, 1, "{backend}: channel ids start at 1");
        let view = client.channel(1).await.unwrap();
        assert_eq!(
            (
                view.sender,
                view.signer,
                view.model,
                view.version,
                view.token,
                view.nonce,
                view.expiry
            ),
            (addr(CLIENT), key().address(), model, 1, Token::Eth, 0, expiry),
            "{backend}"
        );
        assert_eq!(view.value, U256::from(5 * PRICE));
        assert!(!view.closed);

        let topped = client.top_up(1, U256::from(PRICE)).await.unwrap();
        assert_eq!(topped.value, U256::from(6 * PRICE), "{backend}");
        client.extend(1, expiry + 500).await.unwrap();
        assert_eq!(client.channel(1).await.unwrap().expiry, expiry + 500);

        // Two calls, then a claim that keeps the channel open.
        let v1 = sign(client, voucher(1, 0, PRICE, B256::ZERO));
        let v2 = sign(client, voucher(1, 0, 2 * PRICE, receipt(1).hash()));
        assert_eq!(v1.signer(&client.channels_domain()).unwrap(), key().address());
        let claim = owner.claim(&v2, true).await.unwrap().value;
        assert_eq!((claim.channel, claim.nonce, claim.amount), (1, 0, U256::from(2 * PRICE)));
        assert_eq!(claim.payments, vec![(addr(OWNER), U256::from(2 * PRICE))], "{backend}");
        assert_eq!(claim.refunded, None);
        let view = client.channel(1).await.unwrap();
        assert_eq!((view.nonce, view.value), (1, U256::from(4 * PRICE)), "{backend}");

        // The owner withdraws exactly what it was credited.
        assert_eq!(
            owner.owed(Payer::Channels, addr(OWNER), Token::Eth).await.unwrap(),
            U256::from(2 * PRICE)
        );
        let w = owner.withdraw(Payer::Channels, Token::Eth).await.unwrap();
        assert_eq!(w.value, U256::from(2 * PRICE), "{backend}");
        assert_err!(
            channels_err(owner.withdraw(Payer::Channels, Token::Eth).await, backend),
            E::NothingToWithdraw(_),
            backend
        );

        // After expiry the sender takes the rest back.
        t.m.warp(2_000).await;
        let refunded = client.refund(1).await.unwrap();
        assert_eq!(refunded.value, U256::from(4 * PRICE), "{backend}");
        let view = client.channel(1).await.unwrap();
        assert!(view.closed && view.value.is_zero(), "{backend}");
        let before = t.eth(addr(CLIENT)).await;
        let w = client.withdraw(Payer::Channels, Token::Eth).await.unwrap();
        let gas = U256::from(w.gas_used)
            * U256::from(
                t.p(CLIENT)
                    .get_transaction_receipt(w.hash)
                    .await
                    .unwrap()
                    .unwrap()
                    .effective_gas_price,
            );
        assert_eq!(t.eth(addr(CLIENT)).await + gas - before, U256::from(4 * PRICE), "{backend}");
        // A closed channel takes nothing more.
        assert_err!(channels_err(client.refund(1).await, backend), E::ChannelIsClosed(_), backend);
        assert_err!(
            channels_err(owner.claim(&v1, true).await, backend),
            E::ChannelIsClosed(_),
            backend
        );
        assert_err!(channels_err(client.channel(9).await, backend), E::UnknownChannel(_), backend);
    }
}

#[tokio::test]
async fn a_final_claim_closes_the_channel_and_credits_the_rest_to_the_sender() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let model = t.publish(1, Token::Eth, &[]).await;
        let ch = t.open(model, key().address(), 10).await;
        let v = sign(t.c(CLIENT), voucher(ch, 0, 3 * PRICE, receipt(2).hash()));
        let claim = t.c(OWNER).claim(&v, false).await.unwrap().value;
        assert_eq!(claim.refunded, Some(U256::from(7 * PRICE)), "{backend}");
        let view = t.c(CLIENT).channel(ch).await.unwrap();
        assert!(view.closed && view.value.is_zero(), "{backend}");
        assert_eq!(
            t.c(CLIENT).owed(Payer::Channels, addr(CLIENT), Token::Eth).await.unwrap(),
            U256::from(7 * PRICE)
        );
        assert_err!(
            channels_err(t.c(CLIENT).top_up(ch, U256::from(1)).await, backend),
            E::ChannelIsClosed(_),
            backend
        );
        assert_err!(
            channels_err(t.c(CLIENT).extend(ch, view.expiry + 1).await, backend),
            E::ChannelIsClosed(_),
            backend
        );
    }
}

#[tokio::test]
async fn open_refuses_bad_terms() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let model = t.publish(1, Token::Eth, &[]).await;
        let c = t.c(CLIENT);
        let now = t.m.now().await;
        let amount = U256::from(PRICE);
        assert_err!(
            channels_err(c.open_channel(model, 1, Address::ZERO, amount, now + 100).await, backend),
            E::ZeroSigner(_),
            backend
        );
        assert_err!(
            channels_err(
                c.open_channel(model, 1, key().address(), U256::ZERO, now + 100).await,
                backend
            ),
            E::ZeroAmount(_),
            backend
        );
        assert_err!(
            channels_err(c.open_channel(model, 1, key().address(), amount, now).await, backend),
            E::ExpiryOutOfRange(_),
            backend
        );
        assert_err!(
            channels_err(
                c.open_channel(model, 1, key().address(), amount, now + 366 * 86_400).await,
                backend
            ),
            E::ExpiryOutOfRange(_),
            backend
        );
        assert_err!(
            registry_err(
                c.open_channel(model, 2, key().address(), amount, now + 100).await,
                backend
            ),
            ModelRegistryErrors::UnknownVersion(_),
            backend
        );
        assert_err!(
            registry_err(c.open_channel(9, 1, key().address(), amount, now + 100).await, backend),
            ModelRegistryErrors::UnknownModel(_),
            backend
        );
        // ETH must be sent exactly.
        let open = c.channels().open(U256::from(model), 1, key().address(), amount, now + 100);
        assert_err!(
            channels_err(send("open", &open.clone().value(amount - U256::from(1))).await, backend),
            E::WrongPayment(_),
            backend
        );
        assert_err!(
            channels_err(send("open", &open.value(amount + U256::from(1))).await, backend),
            E::WrongPayment(_),
            backend
        );
    }
}

#[tokio::test]
async fn a_deprecated_version_takes_no_new_channel_but_open_ones_settle() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let model = t.publish(1, Token::Eth, &[]).await;
        let ch = t.open(model, key().address(), 2).await;
        t.c(OWNER).deprecate(model, 1).await.unwrap();
        let now = t.m.now().await;
        assert_err!(
            channels_err(
                t.c(CLIENT)
                    .open_channel(model, 1, key().address(), U256::from(PRICE), now + 100)
                    .await,
                backend
            ),
            E::VersionDeprecated(_),
            backend
        );
        let v = sign(t.c(CLIENT), voucher(ch, 0, PRICE, B256::ZERO));
        t.c(OWNER).claim(&v, true).await.unwrap();
    }
}

#[tokio::test]
async fn tokens_are_pulled_whole_and_fee_on_transfer_tokens_refused() {
    for backend in backends() {
        let t = Models::start(backend).await;
        // AlaraToken: pulled after the client approves it, paid out in the token.
        let model = t.publish(1, Token::Erc20(t.m.token), &[]).await;
        let ch = t.open(model, key().address(), 4).await;
        assert_eq!(t.c(CLIENT).channel(ch).await.unwrap().token, Token::Erc20(t.m.token));
        let open = t.c(CLIENT).channels().open(
            U256::from(model),
            1,
            key().address(),
            U256::from(PRICE),
            t.m.now().await + 100,
        );
        assert_err!(
            channels_err(send("open", &open.value(U256::from(1))).await, backend),
            E::WrongPayment(_),
            backend
        );
        t.c(CLIENT).top_up(ch, U256::from(PRICE)).await.unwrap();
        let v = sign(t.c(CLIENT), voucher(ch, 0, 5 * PRICE, receipt(4).hash()));
        t.c(OWNER).claim(&v, false).await.unwrap();
        let before = t.m.token_balance(addr(OWNER)).await;
        t.c(OWNER).withdraw(Payer::Channels, Token::Erc20(t.m.token)).await.unwrap();
        assert_eq!(
            t.m.token_balance(addr(OWNER)).await - before,
            U256::from(5 * PRICE),
            "{backend}"
        );

        // A token that burns 1% of each transfer would leave the contract owing more than it holds.
        let fot = FeeOnTransferToken::deploy(
            t.p(CLIENT).clone(),
            U256::from(100),
            U256::from(10u64).pow(U256::from(24)),
        )
        .await
        .unwrap();
        let fot_model = t.publish(2, Token::Erc20(*fot.address()), &[]).await;
        let now = t.m.now().await;
        assert_err!(
            channels_err(
                t.c(CLIENT)
                    .open_channel(fot_model, 1, key().address(), U256::from(PRICE), now + 100)
                    .await,
                backend
            ),
            E::FeeOnTransfer(_),
            backend
        );
    }
}

#[tokio::test]
async fn only_the_sender_tops_up_extends_or_refunds_and_only_within_bounds() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let model = t.publish(1, Token::Eth, &[]).await;
        let ch = t.open(model, key().address(), 2).await;
        let expiry = t.c(CLIENT).channel(ch).await.unwrap().expiry;
        let stranger = t.c(STRANGER);
        assert_err!(
            channels_err(stranger.top_up(ch, U256::from(PRICE)).await, backend),
            E::NotSender(_),
            backend
        );
        assert_err!(
            channels_err(stranger.extend(ch, expiry + 10).await, backend),
            E::NotSender(_),
            backend
        );
        assert_err!(channels_err(stranger.refund(ch).await, backend), E::NotSender(_), backend);
        let c = t.c(CLIENT);
        assert_err!(
            channels_err(c.top_up(ch, U256::ZERO).await, backend),
            E::ZeroAmount(_),
            backend
        );
        assert_err!(
            channels_err(c.extend(ch, expiry).await, backend),
            E::ExpiryOutOfRange(_),
            backend
        );
        assert_err!(
            channels_err(c.extend(ch, expiry - 1).await, backend),
            E::ExpiryOutOfRange(_),
            backend
        );
        let far = t.m.now().await + 365 * 86_400 + 10;
        assert_err!(
            channels_err(c.extend(ch, far).await, backend),
            E::ExpiryOutOfRange(_),
            backend
        );
        assert_err!(channels_err(c.refund(ch).await, backend), E::NotExpired(_), backend);
        assert_err!(
            channels_err(c.top_up(99, U256::from(1)).await, backend),
            E::UnknownChannel(_),
            backend
        );
        // After expiry: no top-up, no extension, only the refund.
        t.m.warp(86_401).await;
        assert_err!(
            channels_err(
                send(
                    "topUp",
                    &c.channels().topUp(U256::from(ch), U256::from(1)).value(U256::from(1))
                )
                .await,
                backend
            ),
            E::ChannelExpired(_),
            backend
        );
        assert_err!(
            channels_err(c.extend(ch, t.m.now().await + 100).await, backend),
            E::ChannelExpired(_),
            backend
        );
        c.refund(ch).await.unwrap();
    }
}

/// A claimed voucher cannot be claimed again: the claim moved the nonce, so every voucher
/// of the old nonce is dead, including a smaller one.
#[tokio::test]
async fn a_replayed_voucher_is_refused() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let model = t.publish(1, Token::Eth, &[]).await;
        let ch = t.open(model, key().address(), 10).await;
        let small = sign(t.c(CLIENT), voucher(ch, 0, PRICE, B256::ZERO));
        let v = sign(t.c(CLIENT), voucher(ch, 0, 2 * PRICE, receipt(1).hash()));
        t.c(OWNER).claim(&v, true).await.unwrap();
        assert_err!(
            channels_err(t.c(OWNER).claim(&v, true).await, backend),
            E::BadSignature(_),
            backend
        );
        assert_err!(
            channels_err(t.c(OWNER).claim(&small, true).await, backend),
            E::BadSignature(_),
            backend
        );
        // The next nonce's vouchers count from zero again.
        let next = sign(t.c(CLIENT), voucher(ch, 1, PRICE, receipt(2).hash()));
        t.c(OWNER).claim(&next, true).await.unwrap();
        assert_eq!(
            t.c(CLIENT).channel(ch).await.unwrap().value,
            U256::from(7 * PRICE),
            "{backend}"
        );
    }
}

/// A voucher is bound to its channel, chain and contract by the EIP-712 digest: signed for
/// another channel, chain id or InferenceChannels deployment, it does not verify here.
#[tokio::test]
async fn a_voucher_for_another_channel_chain_or_contract_is_refused() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let model = t.publish(1, Token::Eth, &[]).await;
        let ch1 = t.open(model, key().address(), 10).await;
        let ch2 = t.open(model, key().address(), 10).await;
        let owner = t.c(OWNER);

        // Signed for channel 2, presented as channel 1's.
        let mut other = sign(t.c(CLIENT), voucher(ch2, 0, PRICE, B256::ZERO));
        other.voucher.channelId = U256::from(ch1);
        assert_err!(
            channels_err(owner.claim(&other, true).await, backend),
            E::BadSignature(_),
            backend
        );

        // Signed for another chain id.
        let foreign_chain = voucher(ch1, 0, PRICE, B256::ZERO)
            .sign(&key(), &channels_domain(t.c(CLIENT).chain_id() + 1, t.addresses.channels))
            .unwrap();
        assert_err!(
            channels_err(owner.claim(&foreign_chain, true).await, backend),
            E::BadSignature(_),
            backend
        );

        // Signed for a second InferenceChannels over the same registry, where it is valid.
        let second = chain::deploy_channels(t.p(0), t.addresses.registry).await.unwrap();
        let mut addresses = t.addresses;
        addresses.channels = second;
        let client2 = ModelMarket::new(addresses, t.p(CLIENT).clone(), addr(CLIENT)).await.unwrap();
        let owner2 = ModelMarket::new(addresses, t.p(OWNER).clone(), addr(OWNER)).await.unwrap();
        let expiry = t.m.now().await + 1_000;
        let ch = client2
            .open_channel(model, 1, key().address(), U256::from(PRICE), expiry)
            .await
            .unwrap()
            .value;
        assert_eq!(ch, ch1, "{backend}: the same id in both deployments");
        let there =
            voucher(ch, 0, PRICE, B256::ZERO).sign(&key(), &client2.channels_domain()).unwrap();
        assert_err!(
            channels_err(owner.claim(&there, true).await, backend),
            E::BadSignature(_),
            backend
        );
        owner2.claim(&there, true).await.unwrap();
    }
}

#[tokio::test]
async fn an_amount_above_the_deposit_a_foreign_signer_and_a_non_owner_are_refused() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let model = t.publish(1, Token::Eth, &[]).await;
        let ch = t.open(model, key().address(), 3).await;
        let owner = t.c(OWNER);
        let above = sign(t.c(CLIENT), voucher(ch, 0, 3 * PRICE + 1, B256::ZERO));
        assert_err!(
            channels_err(owner.claim(&above, true).await, backend),
            E::AmountAboveValue(_),
            backend
        );
        let zero = sign(t.c(CLIENT), voucher(ch, 0, 0, B256::ZERO));
        assert_err!(
            channels_err(owner.claim(&zero, true).await, backend),
            E::ZeroAmount(_),
            backend
        );
        let mallory = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x66)).unwrap();
        let forged =
            voucher(ch, 0, PRICE, B256::ZERO).sign(&mallory, &owner.channels_domain()).unwrap();
        assert_err!(
            channels_err(owner.claim(&forged, true).await, backend),
            E::BadSignature(_),
            backend
        );
        // A valid voucher in a stranger's hands pays nobody.
        let v = sign(t.c(CLIENT), voucher(ch, 0, PRICE, B256::ZERO));
        assert_err!(
            channels_err(t.c(STRANGER).claim(&v, true).await, backend),
            E::NotModelOwner(_),
            backend
        );
        assert_err!(
            channels_err(t.c(CLIENT).claim(&v, true).await, backend),
            E::NotModelOwner(_),
            backend
        );
        // A malleable (high-s) copy of the valid signature is refused by the contract too.
        let sig = alloy::primitives::Signature::from_raw_array(&v.signature).unwrap();
        let n = alloy::primitives::uint!(
            0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141_U256
        );
        let mut high = v.clone();
        high.signature =
            alloy::primitives::Signature::new(sig.r(), n - sig.s(), !sig.v()).as_bytes();
        assert!(high.signer(&owner.channels_domain()).is_err());
        assert_err!(
            channels_err(owner.claim(&high, true).await, backend),
            E::BadSignature(_),
            backend
        );
        owner.claim(&v, true).await.unwrap();
    }
}

/// After ownership moves, the new owner claims and the old one cannot.
#[tokio::test]
async fn the_current_owner_claims() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let model = t.publish(1, Token::Eth, &[]).await;
        let ch = t.open(model, key().address(), 3).await;
        t.c(OWNER).transfer_ownership(model, addr(STRANGER)).await.unwrap();
        t.c(STRANGER).accept_ownership(model).await.unwrap();
        let v = sign(t.c(CLIENT), voucher(ch, 0, PRICE, B256::ZERO));
        assert_err!(
            channels_err(t.c(OWNER).claim(&v, true).await, backend),
            E::NotModelOwner(_),
            backend
        );
        let claim = t.c(STRANGER).claim(&v, true).await.unwrap().value;
        assert_eq!(claim.payments, vec![(addr(STRANGER), U256::from(PRICE))], "{backend}");
    }
}

/// Claims end where refunds begin: at `expiry` exactly only the refund succeeds, one second
/// before only the claim. Mined transactions, not simulations, at the exact timestamps.
#[tokio::test]
async fn a_claim_racing_the_refund_at_expiry() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let model = t.publish(1, Token::Eth, &[]).await;
        let (owner, client) = (t.c(OWNER), t.c(CLIENT));

        // At expiry exactly.
        let ch = t.open(model, key().address(), 3).await;
        let expiry = client.channel(ch).await.unwrap().expiry;
        let v = sign(client, voucher(ch, 0, PRICE, B256::ZERO));
        let claim = owner.channels().claim(
            U256::from(ch),
            v.voucher.amount,
            v.voucher.prevReceipt,
            Bytes::copy_from_slice(&v.signature),
            true,
        );
        let block = t.m.mine_at(expiry).await;
        let at = call_at(
            owner.channels().claim(
                U256::from(ch),
                v.voucher.amount,
                v.voucher.prevReceipt,
                Bytes::copy_from_slice(&v.signature),
                true,
            ),
            addr(OWNER),
            block,
        )
        .await;
        assert_eq!(at.unwrap_err().revert_name().as_deref(), Some("ChannelExpired"), "{backend}");
        assert!(!send_at(&t.m, claim.clone(), expiry + 1).await, "{backend}: claim after expiry");
        let refund = client.channels().refund(U256::from(ch));
        assert!(send_at(&t.m, refund, expiry + 2).await, "{backend}: refund after expiry");
        assert_eq!(client.channel(ch).await.unwrap().value, U256::ZERO);

        // Mined in the block at expiry exactly: the claim fails and the refund succeeds.
        let ch = t.open(model, key().address(), 3).await;
        let expiry = client.channel(ch).await.unwrap().expiry;
        let v = sign(client, voucher(ch, 0, PRICE, B256::ZERO));
        let claim = owner.channels().claim(
            U256::from(ch),
            v.voucher.amount,
            v.voucher.prevReceipt,
            Bytes::copy_from_slice(&v.signature),
            true,
        );
        let refund = client.channels().refund(U256::from(ch));
        assert!(
            !send_at(&t.m, refund.clone(), expiry - 1).await,
            "{backend}: refund 1 s before expiry"
        );
        assert!(!send_at(&t.m, claim.clone(), expiry).await, "{backend}: claim at expiry");
        assert!(send_at(&t.m, refund, expiry + 1).await, "{backend}: refund at expiry");

        // One second before expiry: the claim succeeds and the refund fails.
        let ch = t.open(model, key().address(), 3).await;
        let expiry = client.channel(ch).await.unwrap().expiry;
        let v = sign(client, voucher(ch, 0, PRICE, B256::ZERO));
        let claim = owner.channels().claim(
            U256::from(ch),
            v.voucher.amount,
            v.voucher.prevReceipt,
            Bytes::copy_from_slice(&v.signature),
            true,
        );
        assert!(send_at(&t.m, claim, expiry - 2).await, "{backend}: claim before expiry");
        let refund = client.channels().refund(U256::from(ch));
        assert!(!send_at(&t.m, refund, expiry - 1).await, "{backend}: refund before expiry");
        assert_eq!(client.channel(ch).await.unwrap().value, U256::from(2 * PRICE), "{backend}");
    }
}

#[tokio::test]
async fn a_claim_after_expiry_is_refused() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let model = t.publish(1, Token::Eth, &[]).await;
        let ch = t.open(model, key().address(), 3).await;
        let v = sign(t.c(CLIENT), voucher(ch, 0, PRICE, B256::ZERO));
        t.m.warp(86_401).await;
        assert_err!(
            channels_err(t.c(OWNER).claim(&v, true).await, backend),
            E::ChannelExpired(_),
            backend
        );
    }
}

/// The split is exact to the wei: with no parents the owner gets everything; with three
/// (a dataset, paid to the DataMarket listing's seller, and two base models, paid to their
/// owners) each gets `amount * bps / 10000` and the owner the remainder.
#[tokio::test]
async fn the_split_is_exact_for_zero_and_three_parents() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let plain = t.publish(1, Token::Eth, &[]).await;
        let base_a =
            t.c(BASE_OWNER).publish("base a", Token::Eth, &version(2), &[]).await.unwrap().value;
        let base_b =
            t.c(STRANGER).publish("base b", Token::Eth, &version(3), &[]).await.unwrap().value;
        let parents = [
            ParentRef { kind: ParentKind::Dataset, id: t.listing, bps: 1_000 },
            ParentRef { kind: ParentKind::Model, id: base_a, bps: 1_500 },
            ParentRef { kind: ParentKind::Model, id: base_b, bps: 333 },
        ];
        let derived = t.publish(4, Token::Eth, &parents).await;
        let calls = 7u64;
        let amount = PRICE * calls; // 7,000,021: no share divides it evenly

        let ch = t.open(plain, key().address(), calls).await;
        let claim = t
            .c(OWNER)
            .claim(&sign(t.c(CLIENT), voucher(ch, 0, amount, B256::ZERO)), true)
            .await
            .unwrap()
            .value;
        assert_eq!(claim.payments, vec![(addr(OWNER), U256::from(amount))], "{backend}");

        let ch = t.open(derived, key().address(), calls).await;
        let claim = t
            .c(OWNER)
            .claim(&sign(t.c(CLIENT), voucher(ch, 0, amount, B256::ZERO)), true)
            .await
            .unwrap()
            .value;
        let shares = [amount * 1_000 / 10_000, amount * 1_500 / 10_000, amount * 333 / 10_000];
        let rest = amount - shares.iter().sum::<u64>();
        let expected = vec![
            (addr(DATA_SELLER), U256::from(shares[0])),
            (addr(BASE_OWNER), U256::from(shares[1])),
            (addr(STRANGER), U256::from(shares[2])),
            (addr(OWNER), U256::from(rest)),
        ];
        assert_eq!(claim.payments, expected, "{backend}");
        assert_eq!(claim.payments.iter().fold(U256::ZERO, |a, p| a + p.1), U256::from(amount));
        for (who, share) in &expected[..3] {
            assert_eq!(
                t.c(0).owed(Payer::Channels, *who, Token::Eth).await.unwrap(),
                *share,
                "{backend}"
            );
        }
        assert_eq!(
            t.c(0).owed(Payer::Channels, addr(OWNER), Token::Eth).await.unwrap(),
            U256::from(amount + rest),
            "{backend}: both claims"
        );
        // The dataset's seller withdraws its share.
        assert_eq!(
            t.c(DATA_SELLER).withdraw(Payer::Channels, Token::Eth).await.unwrap().value,
            U256::from(shares[0])
        );
    }
}

/// 1,000 calls, each paid by a voucher naming the previous call's receipt, settled by one
/// claim of the last voucher: exactly 1,000 × price, split exactly.
#[tokio::test]
async fn a_thousand_chained_vouchers_settle_in_one_claim() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let parents = [ParentRef { kind: ParentKind::Dataset, id: t.listing, bps: 2_501 }];
        let model = t.publish(1, Token::Eth, &parents).await;
        let calls = 1_000u64;
        let ch = t.open(model, key().address(), calls + 5).await;
        let domain = t.c(CLIENT).channels_domain();
        let mut prev = B256::ZERO;
        let mut last = None;
        for call in 1..=calls {
            let v = voucher(ch, 0, PRICE * call, prev).sign(&key(), &domain).unwrap();
            // What the server checks before serving the call.
            assert_eq!(v.signer(&domain).unwrap(), key().address());
            prev = receipt(call).hash();
            last = Some(v);
        }
        let claim = t.c(OWNER).claim(&last.unwrap(), true).await.unwrap().value;
        let total = PRICE * calls;
        let share = total * 2_501 / 10_000;
        assert_eq!(claim.amount, U256::from(total), "{backend}");
        assert_eq!(
            claim.payments,
            vec![(addr(DATA_SELLER), U256::from(share)), (addr(OWNER), U256::from(total - share))],
            "{backend}"
        );
        assert_eq!(t.c(CLIENT).channel(ch).await.unwrap().value, U256::from(5 * PRICE));
    }
}

/// The claim's gas does not depend on how many calls its voucher covers.
#[tokio::test]
async fn claim_gas_does_not_depend_on_the_calls_covered() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let g = alara_market::model::bench::claim_gas(t.p(0).clone(), addr(0)).await.unwrap();
        assert_eq!(g.one_call_no_parents, g.many_calls_no_parents, "{backend}: {g:?}");
        assert_eq!(g.one_call_three_parents, g.many_calls_three_parents, "{backend}: {g:?}");
        assert!(g.one_call_three_parents > g.one_call_no_parents, "{backend}: {g:?}");
        assert!(g.one_call_three_parents < 200_000, "{backend}: {g:?}");
    }
}

/// An ERC-1271 contract wallet can be a channel's signer: its owner's signature verifies
/// through `isValidSignature`; anyone else's does not.
#[tokio::test]
async fn an_erc1271_wallet_signs_vouchers() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let model = t.publish(1, Token::Eth, &[]).await;
        let wallet = ERC1271Wallet::deploy(t.p(CLIENT).clone(), key().address()).await.unwrap();
        let ch = t.open(model, *wallet.address(), 3).await;
        let v = sign(t.c(CLIENT), voucher(ch, 0, PRICE, B256::ZERO));
        let mallory = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x66)).unwrap();
        let forged = voucher(ch, 0, PRICE, B256::ZERO)
            .sign(&mallory, &t.c(CLIENT).channels_domain())
            .unwrap();
        assert_err!(
            channels_err(t.c(OWNER).claim(&forged, true).await, backend),
            E::BadSignature(_),
            backend
        );
        t.c(OWNER).claim(&v, true).await.unwrap();
    }
}

/// A sender contract that re-enters `withdraw` from its `receive` gets
/// `ReentrancyGuardReentrantCall`, and is paid once.
#[tokio::test]
async fn withdraw_cannot_be_reentered() {
    for backend in backends() {
        let t = Models::start(backend).await;
        let model = t.publish(1, Token::Eth, &[]).await;
        let payee = ReentrantPayee::deploy(t.p(CLIENT).clone()).await.unwrap();
        let channels = t.addresses.channels;
        let expiry = t.m.now().await + 100;
        let open = InferenceChannels::openCall {
            modelId: U256::from(model),
            version: 1,
            signer: key().address(),
            amount: U256::from(3 * PRICE),
            expiry,
        };
        let r = send(
            "execute",
            &payee.execute(channels, open.abi_encode().into()).value(U256::from(3 * PRICE)),
        )
        .await
        .unwrap();
        assert!(r.status());
        let v = sign(t.c(CLIENT), voucher(1, 0, PRICE, B256::ZERO));
        t.c(OWNER).claim(&v, false).await.unwrap();
        let withdraw = InferenceChannels::withdrawCall { token: Address::ZERO }.abi_encode();
        send("arm", &payee.arm(channels, withdraw.clone().into())).await.unwrap();
        let before = t.eth(*payee.address()).await;
        send("execute", &payee.execute(channels, withdraw.into())).await.unwrap();
        assert_eq!(payee.reentries().call().await.unwrap(), U256::from(1), "{backend}");
        assert!(!payee.reentrySucceeded().call().await.unwrap(), "{backend}");
        let data = payee.reentryRevertData().call().await.unwrap();
        assert_err!(
            <E as alloy::sol_types::SolInterface>::abi_decode(&data),
            Ok(E::ReentrancyGuardReentrantCall(_)),
            backend
        );
        assert_eq!(
            t.eth(*payee.address()).await - before,
            U256::from(2 * PRICE),
            "{backend}: paid once"
        );
        assert_eq!(
            t.eth(channels).await,
            U256::from(PRICE),
            "{backend}: the owner's share is still held"
        );
    }
}
