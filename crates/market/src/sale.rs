//! Checking a delivery, and deciding a dispute by re-running that check.
//!
//! [`check_delivery`] is the one procedure behind both the buyer's acceptance and the
//! arbiter's verdict: open the envelope with the buyer's per-sale key, decrypt the
//! ciphertext named by the listing's CID with the key inside, and compare the plaintext's
//! SHA-256 with the listing's commitment. A delivery is *faulty* when any step fails for a
//! reason the seller controls; missing or corrupt blocks in the local store are not
//! faults of the delivery (fetch the CAR again) and come back as errors.
//!
//! # Disputes
//!
//! A buyer whose delivery is faulty disputes within the dispute window, posting a bond
//! (`disputeBondBps` of the price) and *evidence*: its per-sale secret key, encrypted to
//! the arbiter's X25519 key published in the contract. The key was generated for this
//! purchase only, so revealing it to the arbiter exposes nothing else. The arbiter runs
//! [`adjudicate`]: with the revealed key it repeats [`check_delivery`] on the same public
//! inputs (envelope and commitment from the chain, ciphertext by CID), so the verdict is
//! mechanical and anyone given the evidence can reproduce it. The buyer wins when the
//! delivery is faulty; it loses when the evidence does not open, names another sale, or
//! holds a key other than the one registered, or when the delivery checks out. The winner
//! is credited price plus bond. The arbiter may rule only until its deadline; after it,
//! anyone settles the dispute by default (`resolveExpired`): the price goes to the seller,
//! who delivered the key on-chain, and the bond back to the buyer, as if no dispute had
//! been opened, so a silent arbiter never hands a buyer the data and its money back.

use std::io::{Read, Write};

use alara_store::encrypt::{Identity, Recipient};
use alara_store::{Blockstore, Cid, Store};
use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::contract::{Listing, Sale};
pub use crate::fault::Fault;
use crate::keys::{self, EnvelopeError};
use crate::{Error, Result};

/// Checks a delivery as described in the module docs, writing the plaintext to `out` as it
/// is decrypted (keep it only on `Ok(Ok(_))`). Returns the plaintext size, or the fault.
pub fn check_delivery<B: Blockstore>(
    store: &Store<B>,
    envelope: &[u8],
    buyer_identity: &Identity,
    cid: &Cid,
    plaintext_hash: B256,
    out: &mut dyn Write,
) -> Result<std::result::Result<u64, Fault>> {
    let dataset_identity = match keys::open_dataset_key(envelope, buyer_identity) {
        Ok(id) => id,
        Err(EnvelopeError::NotForThisKey) => return Ok(Err(Fault::KeyNotForBuyer)),
        Err(EnvelopeError::Unreadable(r)) => return Ok(Err(Fault::KeyUnreadable(r))),
    };
    // Every block is read and checked against its CID first, so a failure below is the
    // ciphertext's, not the local store's.
    store.verify(cid)?;
    let reader = store.cat(cid)?;
    let mut plain = match alara_store::encrypt::decrypting_reader(&dataset_identity, reader) {
        Ok(r) => r,
        Err(e) => return Ok(Err(Fault::CiphertextUndecryptable(e.to_string()))),
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match plain.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Ok(Err(Fault::CiphertextUndecryptable(format!(
                "authentication failed after {total} plaintext bytes (tampered or truncated): {e}"
            ))))
            }
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(crate::error::io("plaintext output"))?;
        total += n as u64;
    }
    let found = B256::from(<[u8; 32]>::from(hasher.finalize()));
    if found != plaintext_hash {
        return Ok(Err(Fault::PlaintextMismatch { expected: plaintext_hash, found }));
    }
    Ok(Ok(total))
}

/// Header line of dispute evidence.
const EVIDENCE_HEADER: &str = "alara.market.dispute-evidence/v1";

/// Seals the buyer's per-sale key for the arbiter: the `evidence` of `dispute`.
pub fn seal_evidence(
    arbiter_key: &Recipient,
    chain_id: u64,
    market: Address,
    sale: u64,
    buyer_identity: &Identity,
) -> Result<Vec<u8>> {
    use age::secrecy::ExposeSecret;
    let text = format!(
        "{EVIDENCE_HEADER}\n{chain_id}/{market}/sale/{sale}\n{}\n",
        buyer_identity.to_string().expose_secret()
    );
    let mut out = Vec::with_capacity(512);
    alara_store::encrypt::encrypt_to(std::slice::from_ref(arbiter_key), text.as_bytes(), &mut out)?;
    if out.len() > keys::MAX_ENVELOPE {
        return Err(Error::OutOfRange(format!(
            "evidence of {} bytes exceeds {}",
            out.len(),
            keys::MAX_ENVELOPE
        )));
    }
    Ok(out)
}

/// The arbiter's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Whether the buyer wins (refund plus bond) or the seller (price plus bond).
    pub buyer_wins: bool,
    /// Why, in words.
    pub reason: String,
    /// The fault found, when the buyer wins.
    pub fault: Option<Fault>,
}

impl Verdict {
    fn seller(reason: impl Into<String>) -> Self {
        Self { buyer_wins: false, reason: reason.into(), fault: None }
    }
}

/// Decides a disputed sale with the arbiter's identity; see the module docs.
pub fn adjudicate<B: Blockstore>(
    store: &Store<B>,
    arbiter: &Identity,
    chain_id: u64,
    market: Address,
    sale: &Sale,
    listing: &Listing,
) -> Result<Verdict> {
    let evidence = sale
        .evidence
        .as_ref()
        .ok_or_else(|| Error::NotFound(format!("sale {} has no dispute evidence", sale.id)))?;
    let envelope = sale
        .envelope
        .as_ref()
        .ok_or_else(|| Error::NotFound(format!("sale {} has no delivered key", sale.id)))?;
    let mut text = String::new();
    let opened = age::Decryptor::new(&evidence[..])
        .ok()
        .and_then(|d| d.decrypt(std::iter::once(arbiter as &dyn age::Identity)).ok())
        .and_then(|mut r| r.by_ref().take(1024).read_to_string(&mut text).ok());
    if opened.is_none() {
        return Ok(Verdict::seller("the evidence does not open with the arbiter's key"));
    }
    let mut lines = text.lines();
    let (header, subject, secret) = (lines.next(), lines.next(), lines.next());
    let expected_subject = format!("{chain_id}/{market}/sale/{}", sale.id);
    if header != Some(EVIDENCE_HEADER) || subject != Some(expected_subject.as_str()) {
        return Ok(Verdict::seller(format!("the evidence is not about {expected_subject}")));
    }
    let Some(buyer_identity) = secret.and_then(|s| s.parse::<Identity>().ok()) else {
        return Ok(Verdict::seller("the evidence holds no X25519 key"));
    };
    // Overwrite the decrypted secret before the buffer is freed.
    let mut bytes = text.into_bytes();
    bytes.iter_mut().for_each(|b| *b = 0);
    if keys::recipient_bytes(&buyer_identity.to_public())? != sale.buyer_key {
        return Ok(Verdict::seller(
            "the evidence's key is not the one registered with the purchase",
        ));
    }
    let cid = alara_store::parse_cid(&listing.terms.cid)?;
    match check_delivery(
        store,
        envelope,
        &buyer_identity,
        &cid,
        listing.terms.plaintext_hash,
        &mut std::io::sink(),
    )? {
        Ok(size) => Ok(Verdict::seller(format!(
            "the delivered key decrypts {cid} to {size} bytes matching the committed hash"
        ))),
        Err(fault) => {
            Ok(Verdict { buyer_wins: true, reason: fault.to_string(), fault: Some(fault) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{ListingTerms, SaleState, Token};
    use alara_store::AddOptions;
    use alloy::primitives::U256;

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Store,
        dataset: Identity,
        buyer: Identity,
        cid: Cid,
        hash: B256,
    }

    fn fixture(plain: &[u8]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let dataset = alara_store::encrypt::generate_identity();
        let sealed = store.add_encrypted(&[dataset.to_public()], plain, &AddOptions::v1()).unwrap();
        let hash = B256::from_slice(&hex::decode(&sealed.plaintext_sha256).unwrap());
        Fixture {
            _dir: dir,
            store,
            dataset,
            buyer: alara_store::encrypt::generate_identity(),
            cid: sealed.ciphertext.cid,
            hash,
        }
    }

    #[test]
    fn a_good_delivery_checks_out_and_yields_the_plaintext() {
        let f = fixture(b"a,b,label\n1,2,0\n");
        let env = keys::seal_dataset_key(&f.dataset, &f.buyer.to_public()).unwrap();
        let mut out = Vec::new();
        let r = check_delivery(&f.store, &env, &f.buyer, &f.cid, f.hash, &mut out).unwrap();
        assert_eq!(r, Ok(16));
        assert_eq!(out, b"a,b,label\n1,2,0\n");
    }

    #[test]
    fn each_seller_fault_is_named() {
        let f = fixture(b"payload");
        let other = alara_store::encrypt::generate_identity();
        // A key delivered for another buyer.
        let env = keys::seal_dataset_key(&f.dataset, &other.to_public()).unwrap();
        let r =
            check_delivery(&f.store, &env, &f.buyer, &f.cid, f.hash, &mut std::io::sink()).unwrap();
        assert_eq!(r, Err(Fault::KeyNotForBuyer));
        // The wrong dataset key.
        let env = keys::seal_dataset_key(&other, &f.buyer.to_public()).unwrap();
        let r =
            check_delivery(&f.store, &env, &f.buyer, &f.cid, f.hash, &mut std::io::sink()).unwrap();
        assert!(matches!(r, Err(Fault::CiphertextUndecryptable(_))), "{r:?}");
        // The right key, but a commitment to other data.
        let env = keys::seal_dataset_key(&f.dataset, &f.buyer.to_public()).unwrap();
        let r = check_delivery(&f.store, &env, &f.buyer, &f.cid, B256::ZERO, &mut std::io::sink())
            .unwrap();
        assert!(matches!(r, Err(Fault::PlaintextMismatch { .. })), "{r:?}");
        // Garbage instead of an envelope.
        let r = check_delivery(&f.store, b"nope", &f.buyer, &f.cid, f.hash, &mut std::io::sink())
            .unwrap();
        assert!(matches!(r, Err(Fault::KeyUnreadable(_))), "{r:?}");
    }

    #[test]
    fn tampered_ciphertext_fails_the_mac() {
        let f = fixture(&vec![7u8; 200_000]);
        // Re-add the ciphertext with one byte flipped in the payload: a new, valid CID whose
        // content age rejects.
        let mut ct = Vec::new();
        f.store.cat_to(&f.cid, &mut ct).unwrap();
        let n = ct.len();
        ct[n - 100] ^= 0x55;
        let bad = f.store.add_reader(&ct[..], &AddOptions::v1()).unwrap().cid;
        let env = keys::seal_dataset_key(&f.dataset, &f.buyer.to_public()).unwrap();
        let mut out = Vec::new();
        let r = check_delivery(&f.store, &env, &f.buyer, &bad, f.hash, &mut out).unwrap();
        match r {
            Err(Fault::CiphertextUndecryptable(m)) => assert!(m.contains("tampered"), "{m}"),
            other => panic!("expected a MAC failure, got {other:?}"),
        }
    }

    #[test]
    fn missing_ciphertext_is_an_error_not_a_fault() {
        let f = fixture(b"payload");
        let elsewhere = fixture(b"other");
        let env = keys::seal_dataset_key(&f.dataset, &f.buyer.to_public()).unwrap();
        let e =
            check_delivery(&elsewhere.store, &env, &f.buyer, &f.cid, f.hash, &mut std::io::sink())
                .unwrap_err();
        assert!(matches!(e, Error::Store(alara_store::Error::BlockNotFound(_))), "{e}");
    }

    fn disputed(f: &Fixture, envelope: Vec<u8>, evidence: Vec<u8>, hash: B256) -> (Sale, Listing) {
        let sale = Sale {
            id: 3,
            listing_id: 1,
            buyer: Address::repeat_byte(2),
            amount: U256::from(100),
            bond: U256::from(10),
            state: SaleState::Disputed,
            deadline: 0,
            buyer_key: keys::recipient_bytes(&f.buyer.to_public()).unwrap(),
            envelope: Some(envelope.into()),
            evidence: Some(evidence.into()),
        };
        let listing = Listing {
            id: 1,
            seller: Address::repeat_byte(1),
            active: true,
            terms: ListingTerms {
                token: Token::Eth,
                price: U256::from(100),
                downloadable: true,
                delivery_window: 60,
                cid: f.cid.to_string(),
                plaintext_hash: hash,
                terms_hash: B256::ZERO,
            },
        };
        (sale, listing)
    }

    #[test]
    fn arbiter_rules_for_the_buyer_only_on_a_real_fault() {
        let f = fixture(b"rows");
        let arbiter = alara_store::encrypt::generate_identity();
        let market = Address::repeat_byte(9);
        let evidence = seal_evidence(&arbiter.to_public(), 31337, market, 3, &f.buyer).unwrap();
        assert!(evidence.len() <= keys::MAX_ENVELOPE);

        let good = keys::seal_dataset_key(&f.dataset, &f.buyer.to_public()).unwrap();
        let (s, l) = disputed(&f, good.clone(), evidence.clone(), f.hash);
        let v = adjudicate(&f.store, &arbiter, 31337, market, &s, &l).unwrap();
        assert!(!v.buyer_wins, "{v:?}");

        let wrong = keys::seal_dataset_key(
            &alara_store::encrypt::generate_identity(),
            &f.buyer.to_public(),
        )
        .unwrap();
        let (s, l) = disputed(&f, wrong, evidence.clone(), f.hash);
        let v = adjudicate(&f.store, &arbiter, 31337, market, &s, &l).unwrap();
        assert!(
            v.buyer_wins && matches!(v.fault, Some(Fault::CiphertextUndecryptable(_))),
            "{v:?}"
        );

        // Evidence for another sale, or sealed to someone else, loses.
        let other_sale = seal_evidence(&arbiter.to_public(), 31337, market, 4, &f.buyer).unwrap();
        let (s, l) = disputed(&f, good.clone(), other_sale, B256::ZERO);
        assert!(!adjudicate(&f.store, &arbiter, 31337, market, &s, &l).unwrap().buyer_wins);
        let stranger = alara_store::encrypt::generate_identity();
        let misdirected = seal_evidence(&stranger.to_public(), 31337, market, 3, &f.buyer).unwrap();
        let (s, l) = disputed(&f, good.clone(), misdirected, B256::ZERO);
        assert!(!adjudicate(&f.store, &arbiter, 31337, market, &s, &l).unwrap().buyer_wins);
        // A key other than the registered one loses.
        let imposter = seal_evidence(&arbiter.to_public(), 31337, market, 3, &stranger).unwrap();
        let (s, l) = disputed(&f, good, imposter, B256::ZERO);
        let v = adjudicate(&f.store, &arbiter, 31337, market, &s, &l).unwrap();
        assert!(!v.buyer_wins && v.reason.contains("registered"), "{v:?}");
    }
}
