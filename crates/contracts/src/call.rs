//! One way to talk to a contract: simulate, send, wait, check the status, decode reverts by
//! name, and find the event a transaction emitted.
//!
//! Every typed client in the workspace (audit anchoring, the data market, federated training)
//! goes through [`send`] and reports failures as a [`CallError`], which each crate wraps in
//! its own error with `#[from]`. A revert is named with the decoders the client passes, so
//! `InvalidSaleState { saleId: 3, .. }` reaches the user instead of `0x5c1f…`.
//!
//! ```no_run
//! # async fn demo<P: alloy::providers::Provider>(p: P, token: alloy::primitives::Address)
//! # -> Result<(), alara_contracts::call::CallError> {
//! use alara_contracts::call::{decoder, send, Decoder};
//! use alara_contracts::AlaraToken;
//! const DECODERS: &[Decoder] = &[decoder::<AlaraToken::AlaraTokenErrors>];
//! let t = AlaraToken::new(token, &p);
//! let receipt = send("transfer", &t.transfer(token, alloy::primitives::U256::from(1)), DECODERS).await?;
//! let ev: AlaraToken::Transfer = alara_contracts::call::event_of(&receipt, token, "transfer")?;
//! # let _ = ev; Ok(()) }
//! ```

use alloy::network::Ethereum;
use alloy::primitives::{Address, Bytes, B256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::{SolEvent, SolInterface};

/// Turns revert data into a readable name when it is one of a contract's errors.
pub type Decoder = fn(&[u8]) -> Option<String>;

/// The [`Decoder`] of the errors `E` of one contract (`Foo::FooErrors` from the bindings).
pub fn decoder<E: SolInterface + std::fmt::Debug>(data: &[u8]) -> Option<String> {
    E::abi_decode(data).ok().map(|e| strip_variant(format!("{e:?}")))
}

/// `Name(Name { .. })` → `Name { .. }`: the enum variant wraps a struct of the same name.
fn strip_variant(debug: String) -> String {
    match debug.split_once('(') {
        Some((name, rest)) if rest.starts_with(name) => {
            rest.strip_suffix(')').unwrap_or(rest).to_string()
        }
        _ => debug,
    }
}

/// A readable form of revert data: `Name { field: value, … }` when one of `decoders` knows
/// it, a `require` message or panic code when it is one, and hex otherwise.
pub fn describe_revert(data: &[u8], decoders: &[Decoder]) -> String {
    if let Some(named) = decoders.iter().find_map(|d| d(data)) {
        return named;
    }
    if data.is_empty() {
        return "reverted without data (out of gas, or a call to a non-contract?)".into();
    }
    // Only the two standard errors: alloy's `decode_revert_reason` would also read arbitrary
    // bytes as UTF-8 text, which turns unknown custom errors into noise.
    use alloy::sol_types::{Panic, Revert, SolError};
    if let Ok(r) = Revert::abi_decode(data) {
        return format!("revert: {}", r.reason);
    }
    if let Ok(p) = Panic::abi_decode(data) {
        return format!("panic: {p}");
    }
    format!("unknown error 0x{}", hex_string(data))
}

fn hex_string(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a contract call failed. `call` names the function, so the message says what was tried.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call reverts (found by simulation, before anything was signed, or by a view call);
    /// `reason` is the decoded error.
    #[error("{call} reverted: {reason}")]
    Reverted {
        /// The contract function.
        call: &'static str,
        /// The decoded revert (`Name { .. }`, a message, or hex).
        reason: String,
        /// The raw revert data.
        data: Bytes,
    },
    /// The call could not be made (encoding, transport, signer); no revert data.
    #[error("{call}: {source}")]
    Call {
        /// The contract function.
        call: &'static str,
        /// The underlying error (boxed: alloy's errors are large).
        source: Box<alloy::contract::Error>,
    },
    /// A JSON-RPC request failed.
    #[error("{call}: RPC request failed: {source}")]
    Rpc {
        /// What was being asked.
        call: &'static str,
        /// The underlying error.
        source: Box<alloy::transports::TransportError>,
    },
    /// Sent, but waiting for its receipt failed.
    #[error("{call}: waiting for the receipt failed: {source}")]
    Pending {
        /// The contract function.
        call: &'static str,
        /// The underlying error.
        source: Box<alloy::providers::PendingTransactionError>,
    },
    /// Mined with status 0.
    #[error("{call}: transaction {tx} was mined but failed (status 0)")]
    Failed {
        /// The contract function.
        call: &'static str,
        /// Transaction hash.
        tx: B256,
    },
    /// The transaction succeeded but did not emit the event its caller reads.
    #[error("{call}: transaction {tx} emitted no {event} event from {contract}")]
    MissingEvent {
        /// The contract function.
        call: &'static str,
        /// Event signature.
        event: &'static str,
        /// The contract expected to emit it.
        contract: Address,
        /// Transaction hash.
        tx: B256,
    },
}

impl CallError {
    /// The error name of a revert (`InvalidSaleState`), if this is one.
    pub fn revert_name(&self) -> Option<&str> {
        match self {
            CallError::Reverted { reason, .. } => {
                reason.split(|c: char| !c.is_alphanumeric()).next().filter(|n| !n.is_empty())
            }
            _ => None,
        }
    }

    /// The raw revert data, if this is a revert.
    pub fn revert_data(&self) -> Option<&Bytes> {
        match self {
            CallError::Reverted { data, .. } => Some(data),
            _ => None,
        }
    }

    /// Maps an alloy contract error of `call`: a revert with data becomes
    /// [`CallError::Reverted`], decoded with `decoders`; anything else [`CallError::Call`].
    pub fn from_contract(
        call: &'static str,
        decoders: &[Decoder],
        source: alloy::contract::Error,
    ) -> Self {
        match source.as_revert_data() {
            Some(data) => {
                CallError::Reverted { call, reason: describe_revert(&data, decoders), data }
            }
            None => CallError::Call { call, source: Box::new(source) },
        }
    }

    /// A closure for `map_err` on a view call or a simulation of `call`.
    pub fn contract(
        call: &'static str,
        decoders: &'static [Decoder],
    ) -> impl FnOnce(alloy::contract::Error) -> Self {
        move |source| Self::from_contract(call, decoders, source)
    }

    /// A closure for `map_err` on a raw RPC request made for `call`.
    pub fn rpc(call: &'static str) -> impl FnOnce(alloy::transports::TransportError) -> Self {
        move |source| CallError::Rpc { call, source: Box::new(source) }
    }
}

/// Simulates `builder` with `eth_call`, sends it, waits for its receipt and checks its status.
///
/// Simulating first is not a nicety: alloy's caching nonce filler hands out a nonce before
/// gas estimation, so a send that fails estimation leaves a nonce gap and every later
/// transaction of the client waits behind it forever. A refused call costs nothing here, and
/// its revert is decoded with `decoders`.
pub async fn send<P, D>(
    call: &'static str,
    builder: &alloy::contract::CallBuilder<P, D, Ethereum>,
    decoders: &[Decoder],
) -> Result<TransactionReceipt, CallError>
where
    P: Provider,
    D: alloy::contract::CallDecoder,
{
    let contract = |source| CallError::from_contract(call, decoders, source);
    builder.call_raw().await.map_err(contract)?;
    let receipt = builder
        .send()
        .await
        .map_err(contract)?
        .get_receipt()
        .await
        .map_err(|source| CallError::Pending { call, source: Box::new(source) })?;
    if !receipt.status() {
        return Err(CallError::Failed { call, tx: receipt.transaction_hash });
    }
    Ok(receipt)
}

/// The first event `E` that `contract` emitted in `receipt`; an error when there is none, so
/// a missing event is never read as a zero.
pub fn event_of<E: SolEvent>(
    receipt: &TransactionReceipt,
    contract: Address,
    call: &'static str,
) -> Result<E, CallError> {
    receipt
        .inner
        .logs()
        .iter()
        .filter(|l| l.address() == contract)
        .find_map(|l| l.log_decode::<E>().ok())
        .map(|l| l.inner.data)
        .ok_or(CallError::MissingEvent {
            call,
            event: E::SIGNATURE,
            contract,
            tx: receipt.transaction_hash,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AlaraToken::AlaraTokenErrors;

    const DECODERS: &[Decoder] = &[decoder::<AlaraTokenErrors>];

    #[test]
    fn named_errors_decode_with_their_fields() {
        use alloy::sol_types::SolError;
        let err = crate::AlaraToken::ERC20InsufficientBalance {
            sender: Address::repeat_byte(1),
            balance: alloy::primitives::U256::from(5),
            needed: alloy::primitives::U256::from(7),
        };
        let text = describe_revert(&err.abi_encode(), DECODERS);
        assert!(text.starts_with("ERC20InsufficientBalance {"), "{text}");
        assert!(text.contains("needed: 7"), "{text}");
        let e = CallError::Reverted { call: "transfer", reason: text, data: Bytes::new() };
        assert_eq!(e.revert_name(), Some("ERC20InsufficientBalance"));
    }

    #[test]
    fn unknown_and_empty_reverts_are_described() {
        assert!(describe_revert(&[], DECODERS).contains("without data"));
        assert_eq!(describe_revert(&[0xde, 0xad], DECODERS), "unknown error 0xdead");
        let reason = alloy::sol_types::Revert::from("not allowed");
        use alloy::sol_types::SolError;
        assert_eq!(describe_revert(&reason.abi_encode(), DECODERS), "revert: not allowed");
    }
}
