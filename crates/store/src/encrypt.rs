//! Dataset encryption with [age](https://age-encryption.org/v1) to X25519 recipients,
//! streaming in 64 KiB authenticated chunks, so files of any size pass through in constant
//! memory.
//!
//! A dataset is sealed before it is stored: [`Store::add_encrypted`](crate::Store::add_encrypted)
//! hashes the plaintext (the commitment that goes on-chain) while encrypting it straight
//! into the importer (the ciphertext CID that is published), in one pass on one core.
//!
//! Keys and plaintext never reach logs: errors describe the failure, never the key.

use std::io::{self, Read, Write};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
pub use age::x25519::{Identity, Recipient};
use sha2::{Digest, Sha256};

use crate::blockstore::Blockstore;
use crate::error::from_io;
use crate::importer::{AddOptions, AddResult};
use crate::{Error, Result, Store};

/// A new random X25519 identity (secret key).
pub fn generate_identity() -> Identity {
    Identity::generate()
}

/// The secret key as the `AGE-SECRET-KEY-1…` string. Handle with care: never log it.
pub fn identity_to_string(identity: &Identity) -> String {
    identity.to_string().expose_secret().to_string()
}

/// Parses an `age1…` recipient (public key).
pub fn parse_recipient(s: &str) -> Result<Recipient> {
    Recipient::from_str(s.trim()).map_err(|e| Error::InvalidKey {
        what: "recipient",
        reason: format!("{e} (expected an age1… X25519 public key)"),
    })
}

/// Parses an identity from `AGE-SECRET-KEY-1…` text; lines starting with `#` and blank
/// lines (as in `age-keygen` output) are skipped. The error never echoes the key.
pub fn parse_identity(text: &str) -> Result<Identity> {
    let line =
        text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).ok_or(
            Error::InvalidKey { what: "identity", reason: "no key found in the text".into() },
        )?;
    Identity::from_str(line).map_err(|_| Error::InvalidKey {
        what: "identity",
        reason: "not an AGE-SECRET-KEY-1… X25519 secret key".into(),
    })
}

/// Encrypts `input` to `recipients`, writing the age file to `output`. Returns the
/// plaintext bytes read.
pub fn encrypt_to(recipients: &[Recipient], input: impl Read, output: impl Write) -> Result<u64> {
    let mut writer = encryptor(recipients, output)?;
    let n = copy(input, &mut writer)?;
    writer.finish().map_err(|e| Error::Encrypt(format!("finishing the stream: {e}")))?;
    Ok(n)
}

fn encryptor<W: Write>(
    recipients: &[Recipient],
    output: W,
) -> Result<age::stream::StreamWriter<W>> {
    if recipients.is_empty() {
        return Err(Error::Encrypt("no recipients given".into()));
    }
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| Error::Encrypt(e.to_string()))?;
    encryptor.wrap_output(output).map_err(|e| Error::Encrypt(format!("writing the header: {e}")))
}

/// A reader of the plaintext of an age file. Each 64 KiB chunk is authenticated before it
/// is returned; a tampered or truncated chunk is an error at that point (bytes of earlier
/// chunks have already been returned, so write to a temporary file and keep it only on
/// success, as `alara store decrypt` does).
pub fn decrypting_reader<'a, R: Read + 'a>(
    identity: &Identity,
    input: R,
) -> Result<impl Read + 'a> {
    let decryptor = age::Decryptor::new(input).map_err(decrypt_error)?;
    decryptor.decrypt(std::iter::once(identity as &dyn age::Identity)).map_err(decrypt_error)
}

/// Decrypts an age file from `input` to `output` with `identity`; returns plaintext bytes.
pub fn decrypt(identity: &Identity, input: impl Read, output: impl Write) -> Result<u64> {
    let mut reader = decrypting_reader(identity, input)?;
    let mut output = output;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Err(Error::Decrypt(format!(
                    "the ciphertext was tampered with or truncated: authentication failed after {total} plaintext bytes ({e})"
                )))
            }
            Err(e) => return Err(Error::io("read ciphertext", e)),
        };
        output.write_all(&buf[..n]).map_err(|e| Error::io("write plaintext", e))?;
        total += n as u64;
    }
    output.flush().map_err(|e| Error::io("write plaintext", e))?;
    Ok(total)
}

fn decrypt_error(e: age::DecryptError) -> Error {
    use age::DecryptError as D;
    Error::Decrypt(match e {
        D::NoMatchingKeys => "no identity matches any recipient of this file (wrong key?)".into(),
        D::InvalidMac => "the header MAC is invalid: the header was tampered with".into(),
        D::InvalidHeader | D::UnknownFormat => "not an age file, or its header is damaged".into(),
        D::DecryptionFailed | D::KeyDecryptionFailed => {
            "the file key could not be decrypted: wrong key or tampered header".into()
        }
        D::Io(e) => format!("reading the header: {e}"),
        other => other.to_string(),
    })
}

fn copy(mut input: impl Read, output: &mut impl Write) -> Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(from_io(e, "read plaintext")),
        };
        output.write_all(&buf[..n]).map_err(|e| from_io(e, "encrypt"))?;
        total += n as u64;
    }
}

/// A dataset sealed for the market: what is committed and what is published.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SealedDataset {
    /// SHA-256 of the plaintext, hex: the commitment that goes on-chain.
    pub plaintext_sha256: String,
    /// Plaintext size in bytes.
    pub plaintext_size: u64,
    /// The stored ciphertext (its CID is what is published).
    pub ciphertext: AddResult,
}

/// A [`Write`] that hashes what passes through.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<B: Blockstore> Store<B> {
    /// Encrypts `plaintext` to `recipients` and adds the ciphertext, in one streaming pass.
    /// Returns the plaintext SHA-256 commitment and the ciphertext's CID.
    pub fn add_encrypted(
        &self,
        recipients: &[Recipient],
        plaintext: impl Read,
        options: &AddOptions,
    ) -> Result<SealedDataset> {
        let adding = self.importer(options.clone())?;
        let encrypting = encryptor(recipients, adding)?;
        let mut hashing = Hashing { inner: encrypting, hasher: Sha256::new(), bytes: 0 };
        copy(plaintext, &mut hashing)?;
        let Hashing { inner, hasher, bytes } = hashing;
        let adding = inner.finish().map_err(|e| from_io(e, "finish encryption"))?;
        let ciphertext = adding.finish()?;
        Ok(SealedDataset {
            plaintext_sha256: hex::encode(hasher.finalize()),
            plaintext_size: bytes,
            ciphertext,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_wrong_key() {
        let id = generate_identity();
        let msg = vec![42u8; 200_000];
        let mut ct = Vec::new();
        assert_eq!(encrypt_to(&[id.to_public()], &msg[..], &mut ct).unwrap(), 200_000);
        let mut pt = Vec::new();
        decrypt(&id, &ct[..], &mut pt).unwrap();
        assert_eq!(pt, msg);
        let other = generate_identity();
        let err = decrypt(&other, &ct[..], &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("wrong key"), "{err}");
    }

    #[test]
    fn identity_parse_error_does_not_echo_the_key() {
        let text = "AGE-SECRET-KEY-1NOTAREALKEYBUTSECRETLOOKING";
        let Err(err) = parse_identity(text) else { panic!("parsed a fake key") };
        let err = err.to_string();
        assert!(!err.contains("NOTAREALKEY"), "{err}");
        let id = generate_identity();
        let s = format!(
            "# created: now\n# public key: {}\n{}\n",
            id.to_public(),
            identity_to_string(&id)
        );
        assert_eq!(parse_identity(&s).unwrap().to_public().to_string(), id.to_public().to_string());
        assert!(parse_recipient("age1nope").is_err());
    }
}
