//! Measurements of the payment path: the gas of one `claim` and the rate at which a server
//! verifies vouchers.
//!
//! [`claim_gas`] claims a voucher covering 1 call and one covering 10,000 calls (the last of
//! 10,000 vouchers signed in sequence, each carrying the previous call's receipt hash), on a
//! version with no parents and on one with three (a dataset and two base models): four
//! figures, and the two of each version are equal, because a claim checks one signature and
//! one amount however many calls that amount covers. [`verify_rate`] is what a server pays
//! per call instead: an EIP-712 digest and a secp256k1 recovery.

use std::time::Instant;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use serde::Serialize;

use super::chain::{self, Format, ModelMarket, ParentKind, ParentRef, VersionInput};
use super::voucher::{channels_domain, CallReceipt, SignedVoucher, Voucher};
use crate::contract::{self as data_contract, MarketParams};
use crate::{DataMarket, Error, ListingTerms, Result, Token};

/// Calls covered by the large voucher of [`claim_gas`].
pub const MANY_CALLS: u64 = 10_000;

/// Price of one call in the benchmark's models (wei).
const PRICE: u64 = 1_000_000_000;

/// Execution gas of one `claim` transaction, by calls covered and parents: the gas used
/// minus the intrinsic cost (21,000 and the calldata, whose zero and non-zero bytes differ
/// with the amount and the signature, not with the work). Every payee has been credited
/// before, so no measurement pays for a first write of its `owed` slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClaimGas {
    /// A voucher for 1 call, no parents.
    pub one_call_no_parents: u64,
    /// A voucher for [`MANY_CALLS`] calls, no parents.
    pub many_calls_no_parents: u64,
    /// A voucher for 1 call, three parents.
    pub one_call_three_parents: u64,
    /// A voucher for [`MANY_CALLS`] calls, three parents.
    pub many_calls_three_parents: u64,
}

/// The voucher after `calls` calls of `price` each on channel `channel` (nonce 0), each
/// voucher naming the receipt of the call before it: the last one of the sequence.
pub fn chained_voucher(
    key: &PrivateKeySigner,
    domain: &alloy::sol_types::Eip712Domain,
    channel: u64,
    model_file: B256,
    calls: u64,
    price: U256,
) -> Result<SignedVoucher> {
    let mut prev = B256::ZERO;
    let mut last = None;
    for call in 1..=calls {
        let voucher = Voucher {
            channelId: U256::from(channel),
            nonce: 0,
            amount: price * U256::from(call),
            prevReceipt: prev,
        };
        last = Some(voucher.sign(key, domain)?);
        // The receipt of this call, which the next voucher acknowledges.
        let mut input = [0u8; 32];
        input[24..].copy_from_slice(&call.to_be_bytes());
        prev =
            CallReceipt { model: model_file, input: B256::from(input), output: !B256::from(input) }
                .hash();
    }
    last.ok_or_else(|| Error::OutOfRange("a chained voucher covers at least one call".into()))
}

fn file(tag: u8) -> VersionInput {
    VersionInput {
        file_hash: B256::repeat_byte(tag),
        card_hash: B256::repeat_byte(tag ^ 0xff),
        cid: format!("bafkbench{tag}"),
        format: Format::Onnx,
        price_per_call: U256::from(PRICE),
        license_price: U256::ZERO,
    }
}

/// Deploys a fresh DataMarket and model marketplace through `provider` (sending as
/// `account`, which must be funded), publishes a model with no parents and one with three,
/// and measures [`ClaimGas`]. Vouchers are signed by a key made here.
pub async fn claim_gas<P: Provider + Clone>(provider: P, account: Address) -> Result<ClaimGas> {
    let data_market = data_contract::deploy(&provider, &MarketParams::new([0x42; 32])).await?;
    let listing = DataMarket::new(data_market, provider.clone(), account)
        .await?
        .list(&ListingTerms {
            token: Token::Eth,
            price: U256::from(1u64),
            downloadable: true,
            delivery_window: 86_400,
            cid: "bafkbenchdataset".into(),
            plaintext_hash: B256::repeat_byte(0xda),
            terms_hash: B256::ZERO,
        })
        .await?
        .value;
    let addresses = chain::deploy(&provider, data_market).await?;
    let market = ModelMarket::new(addresses, provider.clone(), account).await?;
    let base_a = market.publish("bench base a", Token::Eth, &file(1), &[]).await?.value;
    let base_b = market.publish("bench base b", Token::Eth, &file(2), &[]).await?.value;
    let plain = market.publish("bench plain", Token::Eth, &file(3), &[]).await?.value;
    let parents = [
        ParentRef { kind: ParentKind::Dataset, id: listing, bps: 1_000 },
        ParentRef { kind: ParentKind::Model, id: base_a, bps: 1_500 },
        ParentRef { kind: ParentKind::Model, id: base_b, bps: 500 },
    ];
    let derived = market.publish("bench derived", Token::Eth, &file(4), &parents).await?.value;

    let key = PrivateKeySigner::random();
    let domain = channels_domain(market.chain_id(), addresses.channels);
    let latest = provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .map_err(|source| Error::Rpc { what: "eth_getBlockByNumber", source })?
        .map(|b| b.header.timestamp)
        .unwrap_or_default();
    // One call more than the large voucher covers: no measured claim empties its channel
    // (a slot cleared to zero earns a refund).
    let deposit = U256::from(PRICE) * U256::from(MANY_CALLS + 1);
    for model in [plain, derived] {
        let channel =
            market.open_channel(model, 1, key.address(), deposit, latest + 86_400).await?.value;
        let warm =
            chained_voucher(&key, &domain, channel, file(0).file_hash, 1, U256::from(PRICE))?;
        market.claim(&warm, true).await?;
    }
    let mut gas = [0u64; 4];
    for (i, (model, calls)) in
        [(plain, 1), (plain, MANY_CALLS), (derived, 1), (derived, MANY_CALLS)]
            .into_iter()
            .enumerate()
    {
        let channel =
            market.open_channel(model, 1, key.address(), deposit, latest + 86_400).await?.value;
        let voucher =
            chained_voucher(&key, &domain, channel, file(0).file_hash, calls, U256::from(PRICE))?;
        let used = market.claim(&voucher, true).await?.gas_used;
        gas[i] = used.saturating_sub(intrinsic_gas(&voucher, true));
    }
    Ok(ClaimGas {
        one_call_no_parents: gas[0],
        many_calls_no_parents: gas[1],
        one_call_three_parents: gas[2],
        many_calls_three_parents: gas[3],
    })
}

/// 21,000 plus 4 gas per zero byte and 16 per non-zero byte of the `claim` calldata.
fn intrinsic_gas(voucher: &SignedVoucher, keep_open: bool) -> u64 {
    use alloy::sol_types::SolCall;
    let v = &voucher.voucher;
    let data = alara_contracts::InferenceChannels::claimCall {
        channelId: v.channelId,
        amount: v.amount,
        prevReceipt: v.prevReceipt,
        signature: alloy::primitives::Bytes::copy_from_slice(&voucher.signature),
        keepOpen: keep_open,
    }
    .abi_encode();
    21_000 + data.iter().map(|&b| if b == 0 { 4 } else { 16 }).sum::<u64>()
}

/// Vouchers verified per second on one thread: the EIP-712 digest and the secp256k1
/// recovery of `n` distinct signed vouchers (signed beforehand, not timed), each checked
/// against the expected signer.
pub fn verify_rate(n: usize) -> Result<f64> {
    let key = PrivateKeySigner::random();
    let domain = channels_domain(31337, Address::repeat_byte(0xc4));
    let vouchers = (0..n.max(1))
        .map(|i| {
            Voucher {
                channelId: U256::from(1u64),
                nonce: 0,
                amount: U256::from(PRICE) * U256::from(i as u64 + 1),
                prevReceipt: B256::from(U256::from(i)),
            }
            .sign(&key, &domain)
        })
        .collect::<Result<Vec<_>>>()?;
    let start = Instant::now();
    for v in &vouchers {
        if v.signer(&domain)? != key.address() {
            return Err(Error::Voucher("a benchmark voucher recovered another signer".into()));
        }
    }
    Ok(vouchers.len() as f64 / start.elapsed().as_secs_f64().max(1e-9))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail by panicking")]

    use super::*;

    #[test]
    fn chained_vouchers_are_cumulative_and_name_the_previous_receipt() {
        let key = PrivateKeySigner::random();
        let domain = channels_domain(1, Address::repeat_byte(1));
        let one = chained_voucher(&key, &domain, 7, B256::ZERO, 1, U256::from(5)).unwrap();
        assert_eq!(one.voucher.amount, U256::from(5));
        assert_eq!(one.voucher.prevReceipt, B256::ZERO);
        let three = chained_voucher(&key, &domain, 7, B256::ZERO, 3, U256::from(5)).unwrap();
        assert_eq!(three.voucher.amount, U256::from(15));
        assert_ne!(three.voucher.prevReceipt, B256::ZERO);
        assert_eq!(three.signer(&domain).unwrap(), key.address());
    }

    #[test]
    fn verify_rate_is_positive() {
        assert!(verify_rate(20).unwrap() > 0.0);
    }
}
