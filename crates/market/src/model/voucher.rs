//! Vouchers of `InferenceChannels` and licensed calls of `ModelLicense`: the EIP-712
//! structs, their domains, signing, recovery, and the two wire forms (JSON and a compact
//! HTTP header).
//!
//! A client pays for each call with a [`Voucher`]: the channel, its current nonce, the
//! amount due so far for that nonce (cumulative), and the [`CallReceipt::hash`] of the
//! previous call's receipt (`B256::ZERO` for the first call of a nonce). The server keeps
//! only the latest voucher and settles every call it covers with one `claim`. The digest is
//! the contract's `voucherDigest`, so what verifies here verifies on-chain.
//!
//! Recovery is as strict as the contract's (OpenZeppelin `ECDSA`): 65 bytes `r ‖ s ‖ v`
//! with `v` 27 or 28 and a low `s`, so a voucher accepted off-chain is never refused at
//! claim time for its encoding. (A contract-wallet signer, ERC-1271, cannot be recovered;
//! check it with the wallet's `isValidSignature`.)
//!
//! ```
//! use alara_market::model::voucher::{channels_domain, CallReceipt, Voucher};
//! use alloy::primitives::{Address, B256, U256};
//! use alloy::signers::local::PrivateKeySigner;
//!
//! let key = PrivateKeySigner::random();
//! let domain = channels_domain(31337, Address::repeat_byte(1));
//! let prev = CallReceipt { model: B256::repeat_byte(2), input: B256::ZERO, output: B256::ZERO };
//! let voucher = Voucher { channelId: U256::from(1), nonce: 0, amount: U256::from(20), prevReceipt: prev.hash() };
//! let signed = voucher.sign(&key, &domain).unwrap();
//! let header = signed.to_header();
//! let back = alara_market::model::voucher::SignedVoucher::from_header(&header).unwrap();
//! assert_eq!(back.signer(&domain).unwrap(), key.address());
//! ```

use alloy::primitives::{Address, Signature, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use alloy::sol_types::{eip712_domain, Eip712Domain, SolStruct};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The HTTP header that carries a [`SignedVoucher`] ([`SignedVoucher::to_header`]).
pub const PAYMENT_HEADER: &str = "X-Payment";
/// The HTTP header that carries a [`SignedLicensedCall`] ([`SignedLicensedCall::to_header`]).
pub const LICENSE_HEADER: &str = "X-License";

alloy::sol! {
    /// What a channel's signer signs for each call: `amount` is cumulative for `nonce`
    /// (since the last claim); `prevReceipt` is the [`CallReceipt::hash`] of the previous
    /// call's receipt, zero for the first call of a nonce.
    #[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
    struct Voucher {
        uint256 channelId;
        uint64 nonce;
        uint256 amount;
        bytes32 prevReceipt;
    }

    /// The receipt of one call: the SHA-256 of the model file (the registry's `fileHash`)
    /// and the audit log's salted SHA-256 commitments of the input and the output.
    #[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
    struct CallReceipt {
        bytes32 model;
        bytes32 input;
        bytes32 output;
    }

    /// What a licence holder signs to call a server under licence `licenseId`: the hash of
    /// the request and when it was issued (unix seconds).
    #[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
    struct LicensedCall {
        uint256 licenseId;
        bytes32 request;
        uint64 issuedAt;
    }
}

/// The EIP-712 domain of an `InferenceChannels` deployment.
pub fn channels_domain(chain_id: u64, contract: Address) -> Eip712Domain {
    eip712_domain! {
        name: "AlaraInferenceChannels",
        version: "1",
        chain_id: chain_id,
        verifying_contract: contract,
    }
}

/// The EIP-712 domain of a `ModelLicense` deployment.
pub fn license_domain(chain_id: u64, contract: Address) -> Eip712Domain {
    eip712_domain! {
        name: "AlaraModelLicense",
        version: "1",
        chain_id: chain_id,
        verifying_contract: contract,
    }
}

impl CallReceipt {
    /// The EIP-712 struct hash, `keccak256(abi.encode(CALL_RECEIPT_TYPEHASH, model, input,
    /// output))`: the contract's `receiptHash`, and what the next voucher's `prevReceipt`
    /// carries.
    pub fn hash(&self) -> B256 {
        self.eip712_hash_struct()
    }
}

impl Voucher {
    /// The EIP-712 digest the signer signs (the contract's `voucherDigest`).
    pub fn digest(&self, domain: &Eip712Domain) -> B256 {
        self.eip712_signing_hash(domain)
    }

    /// Signs the voucher with `signer` in `domain` (see [`channels_domain`]).
    pub fn sign(self, signer: &PrivateKeySigner, domain: &Eip712Domain) -> Result<SignedVoucher> {
        let signature = sign_digest(signer, &self.digest(domain), "voucher")?;
        Ok(SignedVoucher { voucher: self, signature })
    }
}

impl LicensedCall {
    /// The EIP-712 digest the holder signs (the contract's `callDigest`).
    pub fn digest(&self, domain: &Eip712Domain) -> B256 {
        self.eip712_signing_hash(domain)
    }

    /// Signs the call with `signer` in `domain` (see [`license_domain`]).
    pub fn sign(
        self,
        signer: &PrivateKeySigner,
        domain: &Eip712Domain,
    ) -> Result<SignedLicensedCall> {
        let signature = sign_digest(signer, &self.digest(domain), "licensed call")?;
        Ok(SignedLicensedCall { call: self, signature })
    }
}

/// A voucher with its 65-byte `r ‖ s ‖ v` signature. JSON:
/// `{"voucher":{"channelId":"0x1","nonce":0,"amount":"0x14","prevReceipt":"0x…"},"signature":"0x…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedVoucher {
    /// The signed voucher.
    pub voucher: Voucher,
    /// `r ‖ s ‖ v`, v = 27 or 28.
    #[serde(with = "signature_hex")]
    pub signature: [u8; 65],
}

/// Length of [`SignedVoucher::to_bytes`]: channel id, nonce, amount, receipt, signature.
pub const VOUCHER_BYTES: usize = 32 + 8 + 32 + 32 + 65;

impl SignedVoucher {
    /// Signs `voucher` with `signer` in `domain` (the same as [`Voucher::sign`]).
    pub fn sign(
        voucher: Voucher,
        signer: &PrivateKeySigner,
        domain: &Eip712Domain,
    ) -> Result<Self> {
        voucher.sign(signer, domain)
    }

    /// The EIP-712 digest that was signed.
    pub fn digest(&self, domain: &Eip712Domain) -> B256 {
        self.voucher.digest(domain)
    }

    /// The address that signed this voucher in `domain`. A signature the contract would
    /// refuse (bad `v`, high `s`, not a point) is an error, never a panic.
    pub fn signer(&self, domain: &Eip712Domain) -> Result<Address> {
        recover(&self.digest(domain), &self.signature, "voucher")
    }

    /// `channelId (32) ‖ nonce (8, big-endian) ‖ amount (32) ‖ prevReceipt (32) ‖ signature (65)`.
    pub fn to_bytes(&self) -> [u8; VOUCHER_BYTES] {
        let v = &self.voucher;
        let mut out = [0u8; VOUCHER_BYTES];
        out[..32].copy_from_slice(&v.channelId.to_be_bytes::<32>());
        out[32..40].copy_from_slice(&v.nonce.to_be_bytes());
        out[40..72].copy_from_slice(&v.amount.to_be_bytes::<32>());
        out[72..104].copy_from_slice(v.prevReceipt.as_slice());
        out[104..].copy_from_slice(&self.signature);
        out
    }

    /// Parses [`SignedVoucher::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let b: &[u8; VOUCHER_BYTES] = bytes.try_into().map_err(|_| {
            Error::Voucher(format!(
                "a voucher is {VOUCHER_BYTES} bytes (channel id, nonce, amount, receipt, signature), got {}",
                bytes.len()
            ))
        })?;
        let (id, rest) = b.split_at(32);
        let (nonce, rest) = rest.split_at(8);
        let (amount, rest) = rest.split_at(32);
        let (receipt, sig) = rest.split_at(32);
        Ok(Self {
            voucher: Voucher {
                channelId: U256::from_be_slice(id),
                nonce: u64::from_be_bytes(nonce.try_into().unwrap_or_default()),
                amount: U256::from_be_slice(amount),
                prevReceipt: B256::from_slice(receipt),
            },
            signature: sig.try_into().unwrap_or([0; 65]),
        })
    }

    /// The value of a [`PAYMENT_HEADER`]: [`SignedVoucher::to_bytes`] in unpadded URL-safe
    /// base64 (228 characters).
    pub fn to_header(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.to_bytes())
    }

    /// Parses a [`PAYMENT_HEADER`] value.
    pub fn from_header(value: &str) -> Result<Self> {
        Self::from_bytes(&decode_header(value, PAYMENT_HEADER)?)
    }
}

/// A licensed call with its 65-byte `r ‖ s ‖ v` signature. JSON:
/// `{"call":{"licenseId":"0x…","request":"0x…","issuedAt":1700000000},"signature":"0x…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedLicensedCall {
    /// The signed call.
    pub call: LicensedCall,
    /// `r ‖ s ‖ v`, v = 27 or 28.
    #[serde(with = "signature_hex")]
    pub signature: [u8; 65],
}

/// Length of [`SignedLicensedCall::to_bytes`]: licence id, request, issued-at, signature.
pub const LICENSED_CALL_BYTES: usize = 32 + 32 + 8 + 65;

impl SignedLicensedCall {
    /// Signs `call` with `signer` in `domain` (the same as [`LicensedCall::sign`]).
    pub fn sign(
        call: LicensedCall,
        signer: &PrivateKeySigner,
        domain: &Eip712Domain,
    ) -> Result<Self> {
        call.sign(signer, domain)
    }

    /// The EIP-712 digest that was signed.
    pub fn digest(&self, domain: &Eip712Domain) -> B256 {
        self.call.digest(domain)
    }

    /// The address that signed this call in `domain` (as strict as [`SignedVoucher::signer`]).
    pub fn signer(&self, domain: &Eip712Domain) -> Result<Address> {
        recover(&self.digest(domain), &self.signature, "licensed call")
    }

    /// `licenseId (32) ‖ request (32) ‖ issuedAt (8, big-endian) ‖ signature (65)`.
    pub fn to_bytes(&self) -> [u8; LICENSED_CALL_BYTES] {
        let c = &self.call;
        let mut out = [0u8; LICENSED_CALL_BYTES];
        out[..32].copy_from_slice(&c.licenseId.to_be_bytes::<32>());
        out[32..64].copy_from_slice(c.request.as_slice());
        out[64..72].copy_from_slice(&c.issuedAt.to_be_bytes());
        out[72..].copy_from_slice(&self.signature);
        out
    }

    /// Parses [`SignedLicensedCall::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let b: &[u8; LICENSED_CALL_BYTES] = bytes.try_into().map_err(|_| {
            Error::Voucher(format!(
                "a licensed call is {LICENSED_CALL_BYTES} bytes (licence id, request, issued-at, signature), got {}",
                bytes.len()
            ))
        })?;
        let (id, rest) = b.split_at(32);
        let (request, rest) = rest.split_at(32);
        let (issued, sig) = rest.split_at(8);
        Ok(Self {
            call: LicensedCall {
                licenseId: U256::from_be_slice(id),
                request: B256::from_slice(request),
                issuedAt: u64::from_be_bytes(issued.try_into().unwrap_or_default()),
            },
            signature: sig.try_into().unwrap_or([0; 65]),
        })
    }

    /// The value of a [`LICENSE_HEADER`]: [`SignedLicensedCall::to_bytes`] in unpadded
    /// URL-safe base64.
    pub fn to_header(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.to_bytes())
    }

    /// Parses a [`LICENSE_HEADER`] value.
    pub fn from_header(value: &str) -> Result<Self> {
        Self::from_bytes(&decode_header(value, LICENSE_HEADER)?)
    }
}

fn decode_header(value: &str, header: &str) -> Result<Vec<u8>> {
    // Twice the longest form is plenty; refusing early keeps a huge header from being decoded.
    if value.len() > 2 * VOUCHER_BYTES.max(LICENSED_CALL_BYTES) {
        return Err(Error::Voucher(format!(
            "{header} is {} characters, longer than any signed voucher or call",
            value.len()
        )));
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value.trim())
        .map_err(|e| Error::Voucher(format!("{header} must be unpadded URL-safe base64: {e}")))
}

fn sign_digest(signer: &PrivateKeySigner, digest: &B256, what: &str) -> Result<[u8; 65]> {
    let sig = signer
        .sign_hash_sync(digest)
        .map_err(|e| Error::Voucher(format!("signing the {what} failed: {e}")))?;
    Ok(sig.as_bytes())
}

/// Recovers the signer of `digest` exactly as OpenZeppelin's `ECDSA.recover` would: `v` must
/// be 27 or 28 and `s` in the lower half of the curve order.
fn recover(digest: &B256, signature: &[u8; 65], what: &str) -> Result<Address> {
    let v = signature[64];
    if v != 27 && v != 28 {
        return Err(Error::Voucher(format!(
            "the {what} signature's v must be 27 or 28, got {v}; sign with an Ethereum key"
        )));
    }
    let sig = Signature::from_raw_array(signature)
        .map_err(|e| Error::Voucher(format!("the {what} signature is malformed: {e}")))?;
    if sig.normalize_s().is_some() {
        return Err(Error::Voucher(format!(
            "the {what} signature has a high s (malleable); the contract refuses it: re-sign"
        )));
    }
    sig.recover_address_from_prehash(digest)
        .map_err(|e| Error::Voucher(format!("the {what} signature does not recover: {e}")))
}

mod signature_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(sig: &[u8; 65], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", hex::encode(sig)))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 65], D::Error> {
        let text = String::deserialize(d)?;
        let digits = text.strip_prefix("0x").unwrap_or(&text);
        let bytes = hex::decode(digits).map_err(serde::de::Error::custom)?;
        bytes.as_slice().try_into().map_err(|_| {
            serde::de::Error::custom(format!(
                "a signature is 65 bytes (130 hex digits), got {} bytes",
                bytes.len()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail by panicking")]

    use super::*;
    use proptest::prelude::*;

    fn key(seed: u64) -> PrivateKeySigner {
        PrivateKeySigner::from_bytes(&B256::from(U256::from(seed.max(1)))).unwrap()
    }

    fn domain() -> Eip712Domain {
        channels_domain(31337, Address::repeat_byte(0x11))
    }

    fn voucher(id: u64, nonce: u64, amount: u128, prev: [u8; 32]) -> Voucher {
        Voucher {
            channelId: U256::from(id),
            nonce,
            amount: U256::from(amount),
            prevReceipt: B256::from(prev),
        }
    }

    #[test]
    fn type_hashes_are_the_contracts() {
        use alloy::primitives::keccak256;
        let v = voucher(1, 0, 1, [0; 32]);
        assert_eq!(
            v.eip712_type_hash(),
            keccak256("Voucher(uint256 channelId,uint64 nonce,uint256 amount,bytes32 prevReceipt)")
        );
        let r = CallReceipt { model: B256::ZERO, input: B256::ZERO, output: B256::ZERO };
        assert_eq!(
            r.eip712_type_hash(),
            keccak256("CallReceipt(bytes32 model,bytes32 input,bytes32 output)")
        );
        let c = LicensedCall { licenseId: U256::ZERO, request: B256::ZERO, issuedAt: 0 };
        assert_eq!(
            c.eip712_type_hash(),
            keccak256("LicensedCall(uint256 licenseId,bytes32 request,uint64 issuedAt)")
        );
    }

    #[test]
    fn the_domain_binds_chain_and_contract() {
        let v = voucher(1, 0, 5, [7; 32]);
        let d = v.digest(&domain());
        assert_ne!(d, v.digest(&channels_domain(1, Address::repeat_byte(0x11))));
        assert_ne!(d, v.digest(&channels_domain(31337, Address::repeat_byte(0x12))));
        assert_ne!(d, v.digest(&license_domain(31337, Address::repeat_byte(0x11))));
    }

    #[test]
    fn high_s_and_bad_v_are_refused() {
        let signed = voucher(1, 0, 5, [0; 32]).sign(&key(7), &domain()).unwrap();
        assert_eq!(signed.signer(&domain()).unwrap(), key(7).address());
        // The same signature with s flipped to the high half recovers the same key in plain
        // ECDSA, and the contract refuses it; so must we.
        let sig = Signature::from_raw_array(&signed.signature).unwrap();
        let n = alloy::primitives::uint!(
            0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141_U256
        );
        let high = Signature::new(sig.r(), n - sig.s(), !sig.v());
        let mut malleable = signed.clone();
        malleable.signature = high.as_bytes();
        let err = malleable.signer(&domain()).unwrap_err().to_string();
        assert!(err.contains("high s"), "{err}");
        let mut bad_v = signed.clone();
        bad_v.signature[64] = 1;
        assert!(bad_v.signer(&domain()).unwrap_err().to_string().contains("27 or 28"));
    }

    #[test]
    fn wrong_lengths_are_errors() {
        assert!(SignedVoucher::from_bytes(&[0; 10]).is_err());
        assert!(SignedVoucher::from_header("!!!").is_err());
        assert!(SignedVoucher::from_header(&"A".repeat(5000)).is_err());
        assert!(SignedLicensedCall::from_bytes(&[0; VOUCHER_BYTES]).is_err());
        let bad: std::result::Result<SignedVoucher, _> = serde_json::from_str(
            r#"{"voucher":{"channelId":"0x1","nonce":0,"amount":"0x1","prevReceipt":"0x0000000000000000000000000000000000000000000000000000000000000000"},"signature":"0x00"}"#,
        );
        assert!(bad.unwrap_err().to_string().contains("65 bytes"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn voucher_encodings_roundtrip_and_recover(
            seed in 1u64..1_000_000, id: u64, nonce: u64, amount: u128, prev: [u8; 32]
        ) {
            let signed = voucher(id, nonce, amount, prev).sign(&key(seed), &domain()).unwrap();
            prop_assert_eq!(signed.signer(&domain()).unwrap(), key(seed).address());
            let json = serde_json::to_string(&signed).unwrap();
            prop_assert_eq!(&serde_json::from_str::<SignedVoucher>(&json).unwrap(), &signed);
            let header = signed.to_header();
            prop_assert_eq!(&SignedVoucher::from_header(&header).unwrap(), &signed);
            prop_assert_eq!(&SignedVoucher::from_bytes(&signed.to_bytes()).unwrap(), &signed);
        }

        #[test]
        fn any_changed_voucher_field_changes_the_signer(
            seed in 1u64..1_000_000, id in 0u64..u64::MAX, nonce in 0u64..u64::MAX,
            amount in 0u128..u128::MAX, prev: [u8; 32], field in 0usize..4
        ) {
            let signed = voucher(id, nonce, amount, prev).sign(&key(seed), &domain()).unwrap();
            let mut changed = signed.clone();
            match field {
                0 => changed.voucher.channelId += U256::from(1),
                1 => changed.voucher.nonce += 1,
                2 => changed.voucher.amount += U256::from(1),
                _ => changed.voucher.prevReceipt.0[0] ^= 1,
            }
            // A changed voucher either fails to recover or recovers someone else.
            prop_assert_ne!(changed.signer(&domain()).ok(), Some(key(seed).address()));
        }

        #[test]
        fn licensed_call_encodings_roundtrip_and_recover(
            seed in 1u64..1_000_000, id: u64, request: [u8; 32], issued: u64, field in 0usize..3
        ) {
            let d = license_domain(31337, Address::repeat_byte(0x22));
            let call = LicensedCall { licenseId: U256::from(id), request: B256::from(request), issuedAt: issued };
            let signed = call.sign(&key(seed), &d).unwrap();
            prop_assert_eq!(signed.signer(&d).unwrap(), key(seed).address());
            let json = serde_json::to_string(&signed).unwrap();
            prop_assert_eq!(&serde_json::from_str::<SignedLicensedCall>(&json).unwrap(), &signed);
            prop_assert_eq!(&SignedLicensedCall::from_header(&signed.to_header()).unwrap(), &signed);
            let mut changed = signed.clone();
            match field {
                0 => changed.call.licenseId ^= U256::from(1),
                1 => changed.call.request.0[31] ^= 1,
                _ => changed.call.issuedAt ^= 1,
            }
            prop_assert_ne!(changed.signer(&d).ok(), Some(key(seed).address()));
        }
    }
}
