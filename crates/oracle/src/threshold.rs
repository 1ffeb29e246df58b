//! The committee's threshold key and the aggregate signature `OracleAggregator` verifies in
//! `transmitAggregate`.
//!
//! The n nodes run a distributed key generation ([`dkg`], RFC 9591's FROST with the Zcash
//! Foundation's `frost-secp256k1`): each ends with a share of one group key Y, threshold
//! f + 1, and nobody ever holds Y's secret. Any f + 1 nodes sign a report together in two
//! rounds (commitments, then signature shares); the leader aggregates the shares into one
//! Schnorr signature (R, z) with z·G = R + e·Y, e = H2(R ‖ Y ‖ keccak256(report)) of the
//! ciphersuite FROST(secp256k1, SHA-256). The contract checks that equation with one
//! ecrecover and three SHA-256 calls, so a report costs the same gas for 4 nodes or 31.
//!
//! ```
//! use alara_oracle::report::{Observation, Report};
//! use alara_oracle::threshold::{dkg, sign, GroupKey};
//! use alloy::primitives::B256;
//!
//! let mut rng = rand::thread_rng();
//! let committee = dkg(4, 2, &mut rng).unwrap(); // n = 4, f = 1: threshold f + 1
//! let obs = (0..3).map(|i| Observation { observer: i, value: 100 + i as i128 }).collect();
//! let report = Report::new(B256::ZERO, 1, obs).unwrap();
//! let sig = sign(&report, &committee.shares[1..3], &committee.public, &mut rng).unwrap();
//! let key = GroupKey::of(&committee.public).unwrap();
//! assert!(key.verify(&report.hash(), &sig));
//! ```

use std::collections::BTreeMap;

use alloy::primitives::{B256, U256};
use frost_secp256k1 as frost;
use frost_secp256k1::keys::{KeyPackage, PublicKeyPackage};
use k256::elliptic_curve::sec1::ToEncodedPoint;
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

use crate::report::Report;
use crate::{Error, Result};

pub use alara_contracts::OracleAggregator::{AggregateSignature, GroupKey as ContractGroupKey};

/// The secp256k1 group order.
const ORDER: U256 = U256::from_be_slice(&[
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
    0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41,
]);

/// FROST(secp256k1, SHA-256)'s challenge domain ("FROST-secp256k1-SHA256-v1" ‖ "chal").
const CHALLENGE_DST: &[u8] = b"FROST-secp256k1-SHA256-v1chal";

fn frost_err(what: &'static str) -> impl Fn(frost::Error) -> Error {
    move |e| Error::Signature(format!("{what}: {e}"))
}

/// What a distributed key generation leaves: every node's share and the public package
/// (the group key and each share's verifying key).
#[derive(Clone, Debug)]
pub struct Committee {
    /// Node i's share at index i (FROST identifier i + 1).
    pub shares: Vec<KeyPackage>,
    /// The group key and the shares' public keys.
    pub public: PublicKeyPackage,
}

/// The FROST identifier of the node at signer index `index` (identifiers start at 1).
pub fn identifier(index: u8) -> Result<frost::Identifier> {
    frost::Identifier::try_from(u16::from(index) + 1).map_err(frost_err("identifier"))
}

/// Runs FROST's three-part distributed key generation among `n` nodes with threshold `t`
/// (every node's messages delivered in-process; a node process runs the same parts).
/// Retried until the group key's x coordinate is below the group order, which ecrecover
/// needs (it fails only with probability about 2⁻¹²⁸).
pub fn dkg<R: RngCore + CryptoRng>(n: u8, t: u8, rng: &mut R) -> Result<Committee> {
    if n == 0 || usize::from(n) > crate::report::MAX_SIGNERS || t == 0 || t > n {
        return Err(Error::Invalid {
            what: "committee",
            detail: format!("{t} of {n}: need 1 ≤ t ≤ n ≤ {}", crate::report::MAX_SIGNERS),
        });
    }
    loop {
        let ids: Vec<frost::Identifier> = (0..n).map(identifier).collect::<Result<_>>()?;
        let mut secrets1 = BTreeMap::new();
        let mut packages1 = BTreeMap::new();
        for id in &ids {
            let (secret, package) = frost::keys::dkg::part1(*id, n.into(), t.into(), &mut *rng)
                .map_err(frost_err("key generation, part 1"))?;
            secrets1.insert(*id, secret);
            packages1.insert(*id, package);
        }
        let others = |me: &frost::Identifier| -> BTreeMap<_, _> {
            packages1.iter().filter(|(id, _)| *id != me).map(|(id, p)| (*id, p.clone())).collect()
        };
        let mut secrets2 = BTreeMap::new();
        let mut inbox: BTreeMap<frost::Identifier, BTreeMap<_, _>> = BTreeMap::new();
        for (id, secret) in secrets1 {
            let (secret2, outgoing) = frost::keys::dkg::part2(secret, &others(&id))
                .map_err(frost_err("key generation, part 2"))?;
            secrets2.insert(id, secret2);
            for (to, package) in outgoing {
                inbox.entry(to).or_default().insert(id, package);
            }
        }
        let mut shares = Vec::new();
        let mut public = None;
        for id in &ids {
            let received = inbox.remove(id).unwrap_or_default();
            let (share, pk) = frost::keys::dkg::part3(&secrets2[id], &others(id), &received)
                .map_err(frost_err("key generation, part 3"))?;
            shares.push(share);
            public = Some(pk);
        }
        let public = public.ok_or_else(|| Error::Signature("no key package".into()))?;
        if GroupKey::of(&public).is_ok() {
            return Ok(Committee { shares, public });
        }
    }
}

/// A group key as the contract holds it: x and the parity of y.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupKey {
    /// The x coordinate (below the group order).
    pub x: U256,
    /// 0 for an even y, 1 for an odd one.
    pub parity: u8,
}

impl GroupKey {
    /// The committee's group key; an error when its x is not below the group order.
    pub fn of(public: &PublicKeyPackage) -> Result<Self> {
        let bytes = public.verifying_key().serialize().map_err(frost_err("group key"))?;
        let key = Self::from_compressed(&bytes)?;
        if key.x >= ORDER {
            return Err(Error::Invalid {
                what: "group key",
                detail: "x is not below the group order; generate another".into(),
            });
        }
        Ok(key)
    }

    /// From a 33-byte SEC1 compressed point.
    pub fn from_compressed(bytes: &[u8]) -> Result<Self> {
        match bytes {
            [prefix @ (2 | 3), x @ ..] if x.len() == 32 => {
                Ok(Self { x: U256::from_be_slice(x), parity: prefix - 2 })
            }
            _ => Err(Error::Malformed {
                what: "group key",
                detail: format!("{} bytes, not a compressed point", bytes.len()),
            }),
        }
    }

    /// The 33-byte SEC1 compressed form.
    pub fn compressed(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = 2 + self.parity;
        out[1..].copy_from_slice(&self.x.to_be_bytes::<32>());
        out
    }

    /// The key as `setConfig` takes it.
    pub fn to_contract(&self) -> ContractGroupKey {
        ContractGroupKey { x: self.x, parity: self.parity }
    }

    /// "No group key" (`transmitAggregate` refused): what an ECDSA-only feed configures.
    pub fn none() -> ContractGroupKey {
        ContractGroupKey { x: U256::ZERO, parity: 0 }
    }

    /// Checks `sig` over `message` as the contract does: the challenge computed here (not by
    /// the FROST library), then z·G = R + e·Y.
    pub fn verify(&self, message: &B256, sig: &AggregateSignature) -> bool {
        use k256::elliptic_curve::point::DecompressPoint;
        use k256::elliptic_curve::PrimeField;
        let scalar = |v: U256| {
            Option::<k256::Scalar>::from(k256::Scalar::from_repr(v.to_be_bytes::<32>().into()))
        };
        let (Some(z), Some(e)) = (scalar(sig.z), scalar(challenge(sig, self, message))) else {
            return false;
        };
        let y = k256::AffinePoint::decompress(
            &self.x.to_be_bytes::<32>().into(),
            k256::elliptic_curve::subtle::Choice::from(self.parity),
        );
        let Some(y) = Option::<k256::AffinePoint>::from(y) else { return false };
        let lhs = k256::ProjectivePoint::GENERATOR * z - k256::ProjectivePoint::from(y) * e;
        let p = lhs.to_affine().to_encoded_point(false);
        match (p.x(), p.y()) {
            (Some(x), Some(y)) => {
                U256::from_be_slice(x) == sig.rx && U256::from_be_slice(y) == sig.ry
            }
            _ => false,
        }
    }
}

/// The challenge e = H2(compressed R ‖ compressed Y ‖ message) mod the group order, written
/// out as the contract computes it (expand_message_xmd with SHA-256, 48 bytes).
pub fn challenge(sig: &AggregateSignature, key: &GroupKey, message: &B256) -> U256 {
    let mut input = Vec::with_capacity(98);
    input.push(2 + u8::from(sig.ry.bit(0)));
    input.extend_from_slice(&sig.rx.to_be_bytes::<32>());
    input.extend_from_slice(&key.compressed());
    input.extend_from_slice(message.as_slice());
    let dst_prime: Vec<u8> = [CHALLENGE_DST, &[CHALLENGE_DST.len() as u8]].concat();
    let b0 = Sha256::new()
        .chain_update([0u8; 64])
        .chain_update(&input)
        .chain_update([0, 48, 0])
        .chain_update(&dst_prime)
        .finalize();
    let b1 = Sha256::new().chain_update(b0).chain_update([1]).chain_update(&dst_prime).finalize();
    let xor: Vec<u8> = b0.iter().zip(b1.iter()).map(|(a, b)| a ^ b).collect();
    let b2 = Sha256::new().chain_update(xor).chain_update([2]).chain_update(&dst_prime).finalize();
    let mut wide = [0u8; 64];
    wide[16..48].copy_from_slice(&b1);
    wide[48..].copy_from_slice(&b2[..16]);
    alloy::primitives::U512::from_be_bytes(wide)
        .reduce_mod(alloy::primitives::U512::from(ORDER))
        .to::<U256>()
}

/// A FROST signature in the contract's form: R affine, z.
pub fn to_contract(sig: &frost::Signature) -> Result<AggregateSignature> {
    let bytes = sig.serialize().map_err(frost_err("signature"))?;
    if bytes.len() != 65 {
        return Err(Error::Signature(format!("{} signature bytes, not 65", bytes.len())));
    }
    let r = k256::PublicKey::from_sec1_bytes(&bytes[..33])
        .map_err(|e| Error::Signature(format!("R: {e}")))?
        .to_encoded_point(false);
    let (Some(rx), Some(ry)) = (r.x(), r.y()) else {
        return Err(Error::Signature("R is the identity".into()));
    };
    Ok(AggregateSignature {
        rx: U256::from_be_slice(rx),
        ry: U256::from_be_slice(ry),
        z: U256::from_be_slice(&bytes[33..]),
    })
}

/// One node's first signing round: fresh nonces (kept secret, used once) and the
/// commitments it sends the leader.
pub fn commit<R: RngCore + CryptoRng>(
    share: &KeyPackage,
    rng: &mut R,
) -> (frost::round1::SigningNonces, frost::round1::SigningCommitments) {
    frost::round1::commit(share.signing_share(), rng)
}

/// The signing package for `report` from the chosen signers' commitments.
pub fn package(
    report: &Report,
    commitments: BTreeMap<frost::Identifier, frost::round1::SigningCommitments>,
) -> frost::SigningPackage {
    frost::SigningPackage::new(commitments, report.hash().as_slice())
}

/// Aggregates the shares into the contract's signature; a share that does not verify is
/// named (FROST's cheater detection), so the leader can retry without that node.
pub fn aggregate(
    package: &frost::SigningPackage,
    shares: &BTreeMap<frost::Identifier, frost::round2::SignatureShare>,
    public: &PublicKeyPackage,
) -> Result<AggregateSignature> {
    let sig = frost::aggregate(package, shares, public).map_err(|e| match e {
        frost::Error::InvalidSignatureShare { culprit } => {
            Error::Signature(format!("the signature share of {culprit:?} does not verify"))
        }
        e => Error::Signature(format!("aggregate: {e}")),
    })?;
    to_contract(&sig)
}

/// `signers` sign `report` together, in-process (both rounds), into the contract's form.
pub fn sign<R: RngCore + CryptoRng>(
    report: &Report,
    signers: &[KeyPackage],
    public: &PublicKeyPackage,
    rng: &mut R,
) -> Result<AggregateSignature> {
    let mut nonces = BTreeMap::new();
    let mut commitments = BTreeMap::new();
    for s in signers {
        let (n, c) = commit(s, rng);
        nonces.insert(*s.identifier(), n);
        commitments.insert(*s.identifier(), c);
    }
    let pkg = package(report, commitments);
    let mut shares = BTreeMap::new();
    for s in signers {
        let share = frost::round2::sign(&pkg, &nonces[s.identifier()], s)
            .map_err(frost_err("signature share"))?;
        shares.insert(*s.identifier(), share);
    }
    aggregate(&pkg, &shares, public)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Observation;
    use rand::SeedableRng;

    fn report() -> Report {
        let obs = (0..4).map(|i| Observation { observer: i, value: 7 * i as i128 }).collect();
        Report::new(B256::repeat_byte(3), 5, obs).unwrap()
    }

    #[test]
    fn any_threshold_of_signers_makes_a_signature_the_library_and_ours_accept() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let c = dkg(4, 2, &mut rng).unwrap();
        let key = GroupKey::of(&c.public).unwrap();
        let r = report();
        for pair in [[0, 1], [2, 3], [0, 3]] {
            let signers: Vec<KeyPackage> = pair.iter().map(|&i| c.shares[i].clone()).collect();
            let sig = sign(&r, &signers, &c.public, &mut rng).unwrap();
            assert!(key.verify(&r.hash(), &sig), "{pair:?}");
            // The library's own verification of the same signature.
            let mut raw = vec![2 + u8::from(sig.ry.bit(0))];
            raw.extend_from_slice(&sig.rx.to_be_bytes::<32>());
            raw.extend_from_slice(&sig.z.to_be_bytes::<32>());
            let lib = frost::Signature::deserialize(&raw).unwrap();
            c.public.verifying_key().verify(r.hash().as_slice(), &lib).unwrap();
            // Another message, another key, a changed z: refused.
            assert!(!key.verify(&B256::repeat_byte(9), &sig));
            let other = GroupKey::of(&dkg(4, 2, &mut rng).unwrap().public).unwrap();
            assert!(!other.verify(&r.hash(), &sig));
            let bent = AggregateSignature { z: sig.z ^ U256::from(1), ..sig.clone() };
            assert!(!key.verify(&r.hash(), &bent));
        }
    }

    #[test]
    fn fewer_than_the_threshold_cannot_sign() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        let c = dkg(4, 2, &mut rng).unwrap();
        assert!(sign(&report(), &c.shares[..1], &c.public, &mut rng).is_err());
        assert!(dkg(4, 5, &mut rng).is_err());
        assert!(dkg(32, 2, &mut rng).is_err());
    }

    #[test]
    fn the_written_out_challenge_is_the_librarys() {
        // A signature verifies in the library only with the library's challenge; ours agreeing
        // on random keys and messages shows the two compute the same H2.
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let c = dkg(3, 2, &mut rng).unwrap();
        let key = GroupKey::of(&c.public).unwrap();
        for i in 0..8u8 {
            let mut r = report();
            r.round = u32::from(i) + 1;
            let sig = sign(&r, &c.shares[1..], &c.public, &mut rng).unwrap();
            assert!(key.verify(&r.hash(), &sig));
        }
        assert!(GroupKey::from_compressed(&[4; 33]).is_err());
        assert_eq!(GroupKey::from_compressed(&key.compressed()).unwrap(), key);
    }
}
