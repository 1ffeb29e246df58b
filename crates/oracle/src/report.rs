//! The report oracle nodes sign and `OracleAggregator` accepts.
//!
//! A committee of n nodes (n = 3f + 1 or more, n ≤ 31) observes one value per round. A leader
//! collects the observations into a [`Report`], sorted ascending, and at least f + 1 nodes
//! sign it; anyone then sends it with [`transmit`]. The contract checks, in this order:
//! the config digest ([`config_digest`]: chain id, contract, config version, signers and f,
//! so a report is good for one deployment on one chain under one signer set), a round
//! greater than the latest one, 2f + 1 to n observations from distinct observers, sorted,
//! and f + 1 to n valid signatures from distinct configured signers. It records the
//! [`median`] of the observations: with at most f faulty values among at least 2f + 1, the
//! median lies between two honest observations whatever the faulty nodes report.
//!
//! A report can instead carry one aggregate signature of the committee's threshold key
//! ([`crate::threshold`], sent with [`transmit_aggregate`]), whose gas does not grow with n.
//!
//! The encoding is `abi.encode(bytes32 configDigest, uint32 roundId, bytes32 observers,
//! int192[] observations)` ([`Report::encode`]); byte i of `observers` is the signer index
//! of the node that made observation i. Nodes sign it with EIP-191 (`personal_sign`) over the
//! 32 bytes of `keccak256(report)` ([`Report::hash`]), and the contract takes each signature in
//! ERC-2098 compact form (`r`, `yParity << 255 | s`).
//!
//! ```
//! use alara_oracle::report::{config_digest, median, Observation, Report};
//! use alloy::primitives::Address;
//! use alloy::signers::local::PrivateKeySigner;
//!
//! let nodes: Vec<PrivateKeySigner> = (0..4).map(|_| PrivateKeySigner::random()).collect();
//! let signers: Vec<Address> = nodes.iter().map(|n| n.address()).collect();
//! let none = alara_oracle::threshold::GroupKey::none();
//! let digest = config_digest(31337, Address::repeat_byte(1), 1, &signers, 1, &none);
//! let obs = [(0, 101), (1, 99), (2, 100)].map(|(observer, value)| Observation { observer, value });
//! let report = Report::new(digest, 1, obs.to_vec()).unwrap();
//! assert_eq!(median(&report.values()), Some(100));
//! let sigs = report.sign_all(&nodes[..2]).unwrap(); // f + 1 = 2
//! assert_eq!(sigs.len(), 2);
//! ```

use alloy::network::Ethereum;
use alloy::primitives::aliases::I192;
use alloy::primitives::{eip191_hash_message, keccak256, Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use alloy::sol_types::{sol_data, SolType};

use alara_contracts::call::{decoder, send, CallError, Decoder};
use alara_contracts::OracleAggregator::{self, OracleAggregatorErrors};

use crate::{Error, Result};

pub use alara_contracts::OracleAggregator::Signature;

/// The largest committee `OracleAggregator` accepts (observer indices are bytes of a bytes32).
pub const MAX_SIGNERS: usize = 31;

/// Names `OracleAggregator`'s reverts (`StaleRound { .. }`, `UnknownSigner { .. }`, ...).
pub const DECODERS: &[Decoder] = &[decoder::<OracleAggregatorErrors>];

/// The ABI type of a report: `(bytes32, uint32, bytes32, int192[])`.
type ReportAbi = (
    sol_data::FixedBytes<32>,
    sol_data::Uint<32>,
    sol_data::FixedBytes<32>,
    sol_data::Array<sol_data::Int<192>>,
);

/// The digest a report must carry: `keccak256(abi.encode(chainId, contract, configVersion,
/// signers, f, groupKey.x, groupKey.parity))`, as `OracleAggregator.setConfig` computes it
/// (the group key is [`GroupKey::none`](crate::threshold::GroupKey::none) for a feed
/// without one).
pub fn config_digest(
    chain_id: u64,
    contract: Address,
    config_version: u64,
    signers: &[Address],
    f: u8,
    group_key: &crate::threshold::ContractGroupKey,
) -> B256 {
    type ConfigAbi = (
        sol_data::Uint<256>,
        sol_data::Address,
        sol_data::Uint<64>,
        sol_data::Array<sol_data::Address>,
        sol_data::Uint<8>,
        sol_data::Uint<256>,
        sol_data::Uint<8>,
    );
    keccak256(ConfigAbi::abi_encode_params(&(
        U256::from(chain_id),
        contract,
        config_version,
        signers.to_vec(),
        f,
        group_key.x,
        group_key.parity,
    )))
}

/// One node's observation: its index in the signer set and its value (in the feed's
/// decimals; the contract holds int192, this side i128).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Observation {
    /// The observing node's index in the configured signer set.
    pub observer: u8,
    /// The observed value.
    pub value: i128,
}

/// A report as the contract decodes it. [`Report::new`] sorts and checks; building one field
/// by field gives exactly what the fields say (how tests make malformed reports).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// The configuration this report is for ([`config_digest`]).
    pub config_digest: B256,
    /// The round; the contract accepts only rounds greater than its latest.
    pub round: u32,
    /// The observations, in the order they are encoded (ascending by value when valid).
    pub observations: Vec<Observation>,
}

impl Report {
    /// A report of `observations`, sorted ascending by value (ties by observer), refused when
    /// there are more than [`MAX_SIGNERS`], an observer index is out of range or repeated.
    pub fn new(
        config_digest: B256,
        round: u32,
        mut observations: Vec<Observation>,
    ) -> Result<Self> {
        if observations.len() > MAX_SIGNERS {
            return Err(Error::Invalid {
                what: "observations",
                detail: format!("{} observations, at most {MAX_SIGNERS}", observations.len()),
            });
        }
        let mut seen = 0u32;
        for o in &observations {
            if usize::from(o.observer) >= MAX_SIGNERS {
                return Err(Error::Invalid {
                    what: "observer",
                    detail: format!("index {} is not below {MAX_SIGNERS}", o.observer),
                });
            }
            if seen & (1 << o.observer) != 0 {
                return Err(Error::Invalid {
                    what: "observer",
                    detail: format!("index {} observes twice", o.observer),
                });
            }
            seen |= 1 << o.observer;
        }
        observations.sort_by_key(|o| (o.value, o.observer));
        Ok(Self { config_digest, round, observations })
    }

    /// The observed values, in report order.
    pub fn values(&self) -> Vec<i128> {
        self.observations.iter().map(|o| o.value).collect()
    }

    /// `observers` as encoded: byte i is the observer of observation i, the rest zero.
    fn observers(&self) -> B256 {
        let mut b = [0u8; 32];
        for (slot, o) in b.iter_mut().zip(&self.observations) {
            *slot = o.observer;
        }
        B256::from(b)
    }

    /// `abi.encode(configDigest, roundId, observers, observations)`, the bytes the contract
    /// decodes and the signers sign (through [`Report::hash`]).
    /// (`observers` holds 32 indices: past 32 observations, which no valid report has, the
    /// rest are left out of it.)
    pub fn encode(&self) -> Bytes {
        let values: Vec<I192> = self.observations.iter().map(|o| i192(o.value)).collect();
        ReportAbi::abi_encode_params(&(self.config_digest, self.round, self.observers(), values))
            .into()
    }

    /// Reads an encoded report back; an error for bytes that are not one, hold more than 32
    /// observations or a value outside i128.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let malformed = |detail: String| Error::Malformed { what: "oracle report", detail };
        let (config_digest, round, observers, values) =
            ReportAbi::abi_decode_params(bytes).map_err(|e| malformed(e.to_string()))?;
        if values.len() > 32 {
            return Err(malformed(format!("{} observations do not fit bytes32", values.len())));
        }
        let observations = values
            .iter()
            .zip(observers.0)
            .map(|(v, observer)| {
                i128::try_from(*v)
                    .map(|value| Observation { observer, value })
                    .map_err(|_| malformed(format!("observation {v} is outside i128")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { config_digest, round, observations })
    }

    /// `keccak256(report)`: what a node signs (under the EIP-191 prefix).
    pub fn hash(&self) -> B256 {
        keccak256(self.encode())
    }

    /// The digest the contract recovers signers from: EIP-191 of the 32 bytes [`Report::hash`].
    pub fn signing_hash(&self) -> B256 {
        eip191_hash_message(self.hash())
    }

    /// `signer`'s signature of this report, in the contract's compact form.
    pub fn sign(&self, signer: &PrivateKeySigner) -> Result<Signature> {
        let sig = signer
            .sign_message_sync(self.hash().as_slice())
            .map_err(|e| Error::Signature(e.to_string()))?;
        Ok(compact(&sig))
    }

    /// Every signer's signature, in order.
    pub fn sign_all(&self, signers: &[PrivateKeySigner]) -> Result<Vec<Signature>> {
        signers.iter().map(|s| self.sign(s)).collect()
    }
}

/// An alloy signature in ERC-2098 compact form (`r`, `yParity << 255 | s`).
pub fn compact(sig: &alloy::primitives::Signature) -> Signature {
    let bytes = sig.as_erc2098();
    Signature { r: B256::from_slice(&bytes[..32]), vs: B256::from_slice(&bytes[32..]) }
}

fn i192(v: i128) -> I192 {
    // An i128 always fits 192 bits.
    I192::try_from(v).unwrap_or(I192::ZERO)
}

/// The median the contract records: the middle value of the sorted `values`, the upper
/// middle one for an even count (`values[len / 2]`); `None` for no values.
pub fn median(sorted: &[i128]) -> Option<i128> {
    sorted.get(sorted.len() / 2).copied()
}

/// Sends `report` with `signatures` to the `OracleAggregator` at `aggregator` (simulated
/// first, so a refusal is a named [`CallError::Reverted`] and costs nothing).
pub async fn transmit<P: Provider<Ethereum>>(
    provider: &P,
    aggregator: Address,
    report: &Report,
    signatures: &[Signature],
) -> std::result::Result<TransactionReceipt, CallError> {
    let c = OracleAggregator::new(aggregator, provider);
    send("transmit", &c.transmit(report.encode(), signatures.to_vec()), DECODERS).await
}

/// Sends `report` with the committee's aggregate signature ([`crate::threshold`]).
pub async fn transmit_aggregate<P: Provider<Ethereum>>(
    provider: &P,
    aggregator: Address,
    report: &Report,
    signature: &crate::threshold::AggregateSignature,
) -> std::result::Result<TransactionReceipt, CallError> {
    let c = OracleAggregator::new(aggregator, provider);
    send("transmitAggregate", &c.transmitAggregate(report.encode(), signature.clone()), DECODERS)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(pairs: &[(u8, i128)]) -> Vec<Observation> {
        pairs.iter().map(|&(observer, value)| Observation { observer, value }).collect()
    }

    #[test]
    fn new_sorts_and_refuses_bad_observers() {
        let r = Report::new(B256::ZERO, 1, obs(&[(2, 5), (0, -3), (1, 5)])).unwrap();
        assert_eq!(r.values(), vec![-3, 5, 5]);
        assert_eq!(r.observations[1].observer, 1, "ties by observer");
        assert!(Report::new(B256::ZERO, 1, obs(&[(1, 1), (1, 2)])).is_err());
        assert!(Report::new(B256::ZERO, 1, obs(&[(31, 1)])).is_err());
    }

    #[test]
    fn encoding_round_trips_and_has_the_contracts_layout() {
        let r = Report::new(B256::repeat_byte(7), 9, obs(&[(3, -1), (0, 2)])).unwrap();
        let bytes = r.encode();
        assert_eq!(Report::decode(&bytes).unwrap(), r);
        // head: digest, round, observers, offset; then length and two words.
        assert_eq!(bytes.len(), 32 * 7);
        assert_eq!(&bytes[..32], B256::repeat_byte(7).as_slice());
        assert_eq!(U256::from_be_slice(&bytes[32..64]), U256::from(9));
        assert_eq!(&bytes[64..66], &[3, 0]);
        assert_eq!(U256::from_be_slice(&bytes[96..128]), U256::from(128));
        assert_eq!(&bytes[160..192], &[0xff; 32], "-1 sign-extended");
    }

    #[test]
    fn signatures_recover_to_their_signers() {
        let signer = PrivateKeySigner::random();
        let r = Report::new(B256::repeat_byte(1), 1, obs(&[(0, 1)])).unwrap();
        let s = r.sign(&signer).unwrap();
        let full = signer.sign_message_sync(r.hash().as_slice()).unwrap();
        assert_eq!(full.recover_address_from_prehash(&r.signing_hash()).unwrap(), signer.address());
        assert_eq!(s.r, B256::from(full.r()));
        assert_eq!(U256::from_be_bytes(s.vs.0) >> 255, U256::from(u8::from(full.v())));
    }

    #[test]
    fn median_is_the_upper_middle() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1, 2, 3]), Some(2));
        assert_eq!(median(&[1, 2, 3, 4]), Some(3));
    }
}
