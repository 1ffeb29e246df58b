//! Keys of the market: X25519 public keys as the `bytes32` the contract stores, key
//! envelopes (the dataset key encrypted to a buyer), and the local [`Keyring`].
//!
//! A dataset is encrypted (age, X25519) to a *dataset identity* generated when it is
//! listed. A buyer registers a fresh X25519 public key with each purchase; the seller
//! delivers the dataset identity inside an age file encrypted to that key — the
//! *envelope*, published in the `KeyDelivered` event. Nothing secret reaches the chain:
//! the envelope opens only with the buyer's per-sale secret key, which stays in the
//! buyer's keyring (and reaches the arbiter, encrypted to it, only in a dispute).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use alara_store::encrypt::{Identity, Recipient};
use bech32::{Bech32, Hrp};

use crate::error::io;
use crate::{Error, Result};

/// Largest envelope the contract accepts (`DataMarket.MAX_ENVELOPE`).
pub const MAX_ENVELOPE: usize = 1024;

/// The 32 raw bytes of an X25519 public key (`age1…`), as registered on-chain.
pub fn recipient_bytes(recipient: &Recipient) -> Result<[u8; 32]> {
    let text = recipient.to_string();
    let (hrp, data) = bech32::decode(&text)
        .map_err(|e| Error::Key { what: "recipient", reason: format!("not bech32: {e}") })?;
    if hrp.as_str() != "age" {
        return Err(Error::Key {
            what: "recipient",
            reason: format!("prefix {hrp}, expected age"),
        });
    }
    data.try_into().map_err(|d: Vec<u8>| Error::Key {
        what: "recipient",
        reason: format!("{} bytes, expected 32", d.len()),
    })
}

/// The `age1…` recipient of 32 raw X25519 public-key bytes read from the chain.
pub fn recipient_from_bytes(bytes: &[u8; 32]) -> Result<Recipient> {
    let hrp =
        Hrp::parse("age").map_err(|e| Error::Key { what: "recipient", reason: e.to_string() })?;
    let text = bech32::encode::<Bech32>(hrp, bytes)
        .map_err(|e| Error::Key { what: "recipient", reason: e.to_string() })?;
    Recipient::from_str(&text).map_err(|e| Error::Key {
        what: "recipient",
        reason: format!("{e} (the registered key is not a valid X25519 public key)"),
    })
}

/// Encrypts `secret` (an identity) to `recipient`: the binary age file that is published.
fn seal_identity(secret: &Identity, recipient: &Recipient) -> Result<Vec<u8>> {
    let text = secret.to_string();
    let mut out = Vec::with_capacity(320);
    alara_store::encrypt::encrypt_to(
        std::slice::from_ref(recipient),
        text.expose_secret().as_bytes(),
        &mut out,
    )?;
    Ok(out)
}

/// Why an envelope did not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    /// It is not encrypted to this key (e.g. a key delivered for another buyer).
    NotForThisKey,
    /// It opens but does not hold an X25519 identity, or it is damaged.
    Unreadable(String),
}

/// Opens an envelope with `identity`; returns the identity inside.
fn open_identity(
    envelope: &[u8],
    identity: &Identity,
) -> std::result::Result<Identity, EnvelopeError> {
    if envelope.len() > MAX_ENVELOPE {
        return Err(EnvelopeError::Unreadable(format!(
            "{} bytes, more than the {MAX_ENVELOPE} an envelope may have",
            envelope.len()
        )));
    }
    let decryptor = age::Decryptor::new(envelope)
        .map_err(|e| EnvelopeError::Unreadable(format!("not an age file: {e}")))?;
    let mut reader = match decryptor.decrypt(std::iter::once(identity as &dyn age::Identity)) {
        Ok(r) => r,
        Err(age::DecryptError::NoMatchingKeys) => return Err(EnvelopeError::NotForThisKey),
        Err(e) => return Err(EnvelopeError::Unreadable(e.to_string())),
    };
    let mut text = String::new();
    reader
        .by_ref()
        .take(256)
        .read_to_string(&mut text)
        .map_err(|e| EnvelopeError::Unreadable(format!("payload: {e}")))?;
    let parsed = Identity::from_str(text.trim())
        .map_err(|_| EnvelopeError::Unreadable("the payload is not an X25519 identity".into()));
    // The text held a secret key; overwrite it before it is dropped.
    let mut bytes = text.into_bytes();
    bytes.iter_mut().for_each(|b| *b = 0);
    parsed
}

/// The dataset key encrypted to a buyer's registered key: what `deliver` publishes.
pub fn seal_dataset_key(dataset_identity: &Identity, buyer: &Recipient) -> Result<Vec<u8>> {
    let envelope = seal_identity(dataset_identity, buyer)?;
    if envelope.len() > MAX_ENVELOPE {
        return Err(Error::OutOfRange(format!(
            "key envelope of {} bytes exceeds {MAX_ENVELOPE}",
            envelope.len()
        )));
    }
    Ok(envelope)
}

/// Opens a delivered envelope with the buyer's per-sale identity.
pub fn open_dataset_key(
    envelope: &[u8],
    buyer_identity: &Identity,
) -> std::result::Result<Identity, EnvelopeError> {
    open_identity(envelope, buyer_identity)
}

/// Local secret keys of a market participant, one file each (mode 0600) under
/// `<data-dir>/market/keys`:
///
/// - `datasets/<cid>.key`: the identity a listed dataset is encrypted to (seller);
/// - `buyer/<hex public key>.key`: per-purchase and per-job identities (buyer), found by
///   the public key registered on-chain, so a crash between generating the key and
///   learning the sale id loses nothing;
/// - `arbiter.key`: the arbiter's identity (the deployer of `DataMarket`).
#[derive(Debug, Clone)]
pub struct Keyring {
    dir: PathBuf,
}

impl Keyring {
    /// The keyring in `dir` (created on first write).
    pub fn open(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The keyring of a data directory: `<data-dir>/market/keys`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self::open(data_dir.join("market").join("keys"))
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores the identity a dataset (by ciphertext CID) is encrypted to.
    pub fn put_dataset(&self, cid: &str, identity: &Identity) -> Result<()> {
        self.write(&self.dir.join("datasets").join(format!("{}.key", file_safe(cid)?)), identity)
    }

    /// The identity of dataset `cid`.
    pub fn dataset(&self, cid: &str) -> Result<Identity> {
        self.read(&self.dir.join("datasets").join(format!("{}.key", file_safe(cid)?)), || {
            format!("no key for dataset {cid} in this keyring; only its seller has it")
        })
    }

    /// Generates, stores and returns a fresh buyer identity with its on-chain key bytes.
    pub fn new_buyer_identity(&self) -> Result<(Identity, [u8; 32])> {
        let id = alara_store::encrypt::generate_identity();
        let key = recipient_bytes(&id.to_public())?;
        self.write(&self.buyer_path(&key), &id)?;
        Ok((id, key))
    }

    /// The buyer identity registered on-chain as `key`.
    pub fn buyer_identity(&self, key: &[u8; 32]) -> Result<Identity> {
        self.read(&self.buyer_path(key), || {
            format!(
                "no secret key for buyer key 0x{} in this keyring; use the data directory of the purchase",
                hex::encode(key)
            )
        })
    }

    /// The arbiter's identity, created on first use.
    pub fn arbiter_identity(&self) -> Result<Identity> {
        let path = self.dir.join("arbiter.key");
        if path.exists() {
            return self.read(&path, String::new);
        }
        let id = alara_store::encrypt::generate_identity();
        self.write(&path, &id)?;
        Ok(id)
    }

    fn buyer_path(&self, key: &[u8; 32]) -> PathBuf {
        self.dir.join("buyer").join(format!("{}.key", hex::encode(key)))
    }

    fn write(&self, path: &Path, identity: &Identity) -> Result<()> {
        let dir = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = path.with_extension("key.tmp");
        {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = options.open(&tmp).map_err(io(&tmp))?;
            f.write_all(identity.to_string().expose_secret().as_bytes()).map_err(io(&tmp))?;
            f.write_all(b"\n").map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        std::fs::rename(&tmp, path).map_err(io(path))?;
        Ok(())
    }

    fn read(&self, path: &Path, missing: impl FnOnce() -> String) -> Result<Identity> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Key { what: "keyring", reason: missing() })
            }
            Err(e) => return Err(io(path)(e)),
        };
        alara_store::encrypt::parse_identity(&text).map_err(|_| Error::Key {
            what: "keyring",
            reason: format!("{} does not hold an age X25519 identity", path.display()),
        })
    }
}

/// A CID or other id usable as a file name (no separators, no dot-files).
fn file_safe(s: &str) -> Result<&str> {
    if s.is_empty() || s.starts_with('.') || !s.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::Key {
            what: "keyring",
            reason: format!("{s:?} is not a CID (letters and digits only)"),
        });
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn envelope_round_trip_and_wrong_buyer() {
        let dataset = alara_store::encrypt::generate_identity();
        let buyer = alara_store::encrypt::generate_identity();
        let other = alara_store::encrypt::generate_identity();
        let env = seal_dataset_key(&dataset, &buyer.to_public()).unwrap();
        assert!(env.len() < MAX_ENVELOPE, "{}", env.len());
        let opened = open_dataset_key(&env, &buyer).unwrap();
        assert_eq!(opened.to_public().to_string(), dataset.to_public().to_string());
        assert!(matches!(open_dataset_key(&env, &other), Err(EnvelopeError::NotForThisKey)));
        let mut bad = env.clone();
        let n = bad.len();
        bad[n - 3] ^= 1;
        assert!(matches!(open_dataset_key(&bad, &buyer), Err(EnvelopeError::Unreadable(_))));
        assert!(matches!(open_dataset_key(b"junk", &buyer), Err(EnvelopeError::Unreadable(_))));
    }

    #[test]
    fn envelope_does_not_contain_the_secret() {
        let dataset = alara_store::encrypt::generate_identity();
        let buyer = alara_store::encrypt::generate_identity();
        let env = seal_dataset_key(&dataset, &buyer.to_public()).unwrap();
        let secret = alara_store::encrypt::identity_to_string(&dataset);
        assert!(!env.windows(16).any(|w| secret.as_bytes().windows(16).any(|s| s == w)));
    }

    #[test]
    fn keyring_files_are_private_and_found_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let k = Keyring::open(dir.path());
        let (id, key) = k.new_buyer_identity().unwrap();
        assert_eq!(
            k.buyer_identity(&key).unwrap().to_public().to_string(),
            id.to_public().to_string()
        );
        let missing = k.buyer_identity(&[7; 32]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(missing.contains("no secret key"), "{missing}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = dir.path().join("buyer").join(format!("{}.key", hex::encode(key)));
            let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(k.put_dataset("../etc", &id).is_err());
        k.put_dataset("bafyabc", &id).unwrap();
        assert!(k.dataset("bafyabc").is_ok());
        let a1 = k.arbiter_identity().unwrap().to_public().to_string();
        assert_eq!(k.arbiter_identity().unwrap().to_public().to_string(), a1);
    }

    proptest! {
        #[test]
        fn recipient_bytes_round_trip(seed in any::<[u8; 32]>()) {
            // Any 32 bytes are a valid X25519 public key (clamping applies to secrets).
            let r = recipient_from_bytes(&seed).unwrap();
            prop_assert_eq!(recipient_bytes(&r).unwrap(), seed);
        }
    }
}
