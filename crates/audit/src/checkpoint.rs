//! Checkpoints in the C2SP formats: a `tlog-checkpoint` body carried in a `signed-note`
//! with an Ed25519 signature.
//!
//! ```text
//! <origin>\n
//! <tree size, decimal>\n
//! <base64 root hash>\n
//! \n
//! — <key name> <base64(4-byte key hash ‖ 64-byte Ed25519 signature)>\n
//! ```
//!
//! The key hash is the first four bytes of `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)`; a
//! verifier key is written `name+<hex key hash>+<base64(0x01 ‖ public key)>`, the format
//! of Go's `golang.org/x/mod/sumdb/note`, so standard witnesses and verifiers read ours.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::hash::{sha256, Hash};
use crate::{Error, Result};

/// Algorithm byte of Ed25519 keys in signed notes.
const ALG_ED25519: u8 = 0x01;
/// Signature line prefix: an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// The state of a log at one moment: origin, size and root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Unique name of the log (the note's first line), e.g. `alara.local/audit/3fa2c1d0`.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// Root hash of the tree of `size` leaves.
    pub root: Hash,
}

impl Checkpoint {
    /// The note body: origin, size and base64 root, each followed by a newline.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root.0))
    }

    /// Parses a note body (extension lines after the root are allowed and ignored).
    pub fn parse_body(body: &str) -> Result<Self> {
        let bad = |detail: String| Error::Malformed { what: "checkpoint", detail };
        let body =
            body.strip_suffix('\n').ok_or_else(|| bad("body does not end in a newline".into()))?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| bad("missing origin line".into()))?;
        let size_line = lines.next().ok_or_else(|| bad("missing tree size line".into()))?;
        let canonical = !size_line.is_empty()
            && size_line.bytes().all(|b| b.is_ascii_digit())
            && (size_line == "0" || !size_line.starts_with('0'));
        if !canonical {
            return Err(bad(format!("tree size {size_line:?} is not a canonical decimal number")));
        }
        let size =
            size_line.parse::<u64>().map_err(|e| bad(format!("tree size {size_line:?}: {e}")))?;
        let root_line = lines.next().ok_or_else(|| bad("missing root hash line".into()))?;
        let root = B64
            .decode(root_line)
            .map_err(|e| bad(format!("root {root_line:?} is not base64: {e}")))?;
        let root = Hash::from_slice(&root)?;
        if lines.any(|l| l.is_empty()) {
            return Err(bad("empty extension line".into()));
        }
        Ok(Self { origin: origin.to_string(), size, root })
    }
}

fn key_hash(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut buf = Vec::with_capacity(name.len() + 34);
    buf.extend_from_slice(name.as_bytes());
    buf.push(b'\n');
    buf.push(ALG_ED25519);
    buf.extend_from_slice(public);
    let h = sha256(&buf);
    [h.0[0], h.0[1], h.0[2], h.0[3]]
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains(char::is_whitespace) || name.contains('+') {
        return Err(Error::Malformed {
            what: "key name",
            detail: format!("{name:?} must be non-empty without spaces or '+'"),
        });
    }
    Ok(())
}

/// Signs checkpoints as a named Ed25519 key.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key: SigningKey,
    id: [u8; 4],
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner").field("name", &self.name).finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer named `name` with this Ed25519 seed.
    pub fn new(name: &str, seed: [u8; 32]) -> Result<Self> {
        check_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let id = key_hash(name, key.verifying_key().as_bytes());
        Ok(Self { name: name.to_string(), key, id })
    }

    /// Parses Go's private key format `PRIVATE+KEY+name+hash+base64(0x01 ‖ seed)`.
    pub fn from_private_key(skey: &str) -> Result<Self> {
        let bad = |d: &str| Error::Malformed { what: "private note key", detail: d.to_string() };
        let rest = skey
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("missing PRIVATE+KEY+ prefix"))?;
        let mut parts = rest.splitn(3, '+');
        let (name, hash, key) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(h), Some(k)) => (n, h, k),
            _ => return Err(bad("expected name+hash+key")),
        };
        let raw = B64.decode(key).map_err(|_| bad("key is not base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(bad("expected 0x01 followed by a 32-byte Ed25519 seed"));
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&raw[1..]);
        let signer = Self::new(name, seed)?;
        if hex::encode(signer.id) != hash {
            return Err(bad("key hash does not match name and key"));
        }
        Ok(signer)
    }

    /// Go's private key format; secret, never print or log it.
    pub fn to_private_key(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(&self.key.to_bytes());
        format!("PRIVATE+KEY+{}+{}+{}", self.name, hex::encode(self.id), B64.encode(raw))
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier { name: self.name.clone(), id: self.id, key: self.key.verifying_key() }
    }

    /// Signs arbitrary note text (must end in a newline and contain no blank line).
    pub fn sign_text(&self, text: &str) -> String {
        let sig = self.key.sign(text.as_bytes());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&self.id);
        blob.extend_from_slice(&sig.to_bytes());
        format!("{text}\n{SIG_PREFIX}{} {}\n", self.name, B64.encode(blob))
    }

    /// Signs a checkpoint.
    pub fn sign(&self, checkpoint: &Checkpoint) -> SignedCheckpoint {
        SignedCheckpoint {
            checkpoint: checkpoint.clone(),
            note: self.sign_text(&checkpoint.body()),
        }
    }

    /// Signs a checkpoint whose note carries `extensions` after the root: C2SP
    /// tlog-checkpoint extension lines (non-empty, no newline), which verifiers that do not
    /// know them ignore.
    pub fn sign_extended(
        &self,
        checkpoint: &Checkpoint,
        extensions: &[String],
    ) -> Result<SignedCheckpoint> {
        let mut text = checkpoint.body();
        for line in extensions {
            if line.is_empty() || line.contains('\n') {
                return Err(Error::Malformed {
                    what: "checkpoint extension line",
                    detail: format!("{line:?} must be non-empty without a newline"),
                });
            }
            text.push_str(line);
            text.push('\n');
        }
        Ok(SignedCheckpoint { checkpoint: checkpoint.clone(), note: self.sign_text(&text) })
    }
}

/// A public key that verifies notes: `name+hash+base64(0x01 ‖ key)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses a verifier key string.
    pub fn parse(vkey: &str) -> Result<Self> {
        let bad = |d: String| Error::Malformed { what: "verifier key", detail: d };
        let mut parts = vkey.trim().splitn(3, '+');
        let (name, hash, key) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(h), Some(k)) => (n, h, k),
            _ => return Err(bad(format!("{vkey:?} is not name+hash+key"))),
        };
        check_name(name)?;
        let raw = B64.decode(key).map_err(|_| bad("key is not base64".into()))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(bad("expected 0x01 followed by a 32-byte Ed25519 public key".into()));
        }
        let mut pk = [0u8; 32];
        pk.copy_from_slice(&raw[1..]);
        let key =
            VerifyingKey::from_bytes(&pk).map_err(|e| bad(format!("not an Ed25519 point: {e}")))?;
        let id = key_hash(name, &pk);
        if hex::encode(id) != hash {
            return Err(bad(format!(
                "key hash {hash} does not match name and key ({})",
                hex::encode(id)
            )));
        }
        Ok(Self { name: name.to_string(), id, key })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The 4-byte key hash that tags its signatures.
    pub fn key_id(&self) -> [u8; 4] {
        self.id
    }

    /// Verifies a signed note and returns its text (body).
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str> {
        let (text, sigs) = split_note(note)?;
        for line in sigs {
            let (name, blob) = parse_sig_line(line)?;
            if name != self.name || blob.len() != 68 || blob[..4] != self.id {
                continue;
            }
            let sig = ed25519_dalek::Signature::from_slice(&blob[4..])
                .map_err(|e| Error::Signature(format!("malformed signature: {e}")))?;
            return self.key.verify_strict(text.as_bytes(), &sig).map(|()| text).map_err(|_| {
                Error::Signature(format!("signature by {} does not verify", self.name))
            });
        }
        Err(Error::Signature(format!(
            "note carries no signature by {}+{}",
            self.name,
            hex::encode(self.id)
        )))
    }
}

impl std::fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, hex::encode(self.id), B64.encode(raw))
    }
}

impl std::str::FromStr for NoteVerifier {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl Serialize for NoteVerifier {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NoteVerifier {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

fn split_note(note: &str) -> Result<(&str, Vec<&str>)> {
    let bad = |d: &str| Error::Malformed { what: "signed note", detail: d.to_string() };
    let idx = note.find("\n\n").ok_or_else(|| bad("no blank line between text and signatures"))?;
    let text = &note[..idx + 1];
    let sigs = &note[idx + 2..];
    let sigs =
        sigs.strip_suffix('\n').ok_or_else(|| bad("signature block does not end in a newline"))?;
    let lines: Vec<&str> = sigs.split('\n').collect();
    if lines.iter().any(|l| !l.starts_with(SIG_PREFIX)) {
        return Err(bad("a signature line does not start with an em dash"));
    }
    Ok((text, lines))
}

fn parse_sig_line(line: &str) -> Result<(&str, Vec<u8>)> {
    let bad = |d: &str| Error::Malformed { what: "signature line", detail: d.to_string() };
    let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(|| bad("missing em dash"))?;
    let (name, b64) = rest.split_once(' ').ok_or_else(|| bad("expected name and signature"))?;
    let blob = B64.decode(b64).map_err(|_| bad("signature is not base64"))?;
    if blob.len() < 5 {
        return Err(bad("signature shorter than key hash plus one byte"));
    }
    Ok((name, blob))
}

/// A checkpoint with its signed note text, exactly as signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCheckpoint {
    /// Parsed checkpoint.
    pub checkpoint: Checkpoint,
    /// The full signed note.
    pub note: String,
}

impl SignedCheckpoint {
    /// Parses a signed note without verifying it (see [`SignedCheckpoint::verify`]).
    pub fn parse(note: &str) -> Result<Self> {
        let (text, _) = split_note(note)?;
        Ok(Self { checkpoint: Checkpoint::parse_body(text)?, note: note.to_string() })
    }

    /// The note's extension lines (after the root), as written. They are authenticated
    /// by [`SignedCheckpoint::verify`] like the rest of the note's text.
    pub fn extensions(&self) -> Result<Vec<&str>> {
        let (text, _) = split_note(&self.note)?;
        let text = text.strip_suffix('\n').unwrap_or(text);
        Ok(text.split('\n').skip(3).collect())
    }

    /// Verifies the signature by `verifier` and that the parsed fields match the note.
    pub fn verify(&self, verifier: &NoteVerifier) -> Result<()> {
        let text = verifier.open(&self.note)?;
        let parsed = Checkpoint::parse_body(text)?;
        if parsed != self.checkpoint {
            return Err(Error::Signature(format!(
                "signed note says size {} root {}, the document says size {} root {}",
                parsed.size, parsed.root, self.checkpoint.size, self.checkpoint.root
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GO_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const GO_SIG: &str = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";

    /// golang.org/x/mod/sumdb/note's example, byte for byte.
    #[test]
    fn go_sumdb_note_vector() {
        let signer = NoteSigner::from_private_key(GO_SKEY).unwrap();
        assert_eq!(signer.verifier().to_string(), GO_VKEY);
        assert_eq!(signer.to_private_key(), GO_SKEY);
        let note = signer.sign_text(GO_TEXT);
        assert_eq!(note, format!("{GO_TEXT}\n\u{2014} PeterNeumann {GO_SIG}\n"));
        let v = NoteVerifier::parse(GO_VKEY).unwrap();
        assert_eq!(v.open(&note).unwrap(), GO_TEXT);
        assert!(v.open(&note.replace("cryptography", "cryptographY")).is_err());
    }

    #[test]
    fn checkpoint_sign_verify_and_tamper() {
        let signer = NoteSigner::new("alara.test/log", [7u8; 32]).unwrap();
        let cp = Checkpoint {
            origin: "alara.test/log".into(),
            size: 42,
            root: crate::hash::sha256(b"r"),
        };
        let signed = signer.sign(&cp);
        let v = signer.verifier();
        signed.verify(&v).unwrap();
        assert_eq!(SignedCheckpoint::parse(&signed.note).unwrap(), signed);
        let mut lie = signed.clone();
        lie.checkpoint.size = 43;
        assert!(lie.verify(&v).is_err());
        let tampered =
            SignedCheckpoint { note: signed.note.replace("\n42\n", "\n41\n"), ..signed.clone() };
        assert!(tampered.verify(&v).is_err());
        let other = NoteSigner::new("alara.test/log", [8u8; 32]).unwrap().verifier();
        assert!(signed.verify(&other).is_err());
    }

    #[test]
    fn rejects_noncanonical_bodies() {
        for body in
            ["o\n01\nAAAA\n", "o\n-1\n", "\n1\n", "o\n1\n", "o\n1\nnot base64!\n", "o\n1\nAAAA\n"]
        {
            assert!(Checkpoint::parse_body(body).is_err(), "{body:?}");
        }
    }

    proptest! {
        #[test]
        fn body_round_trips(origin in "[a-z./0-9]{1,40}", size in any::<u64>(), root in any::<[u8; 32]>()) {
            let cp = Checkpoint { origin, size, root: Hash(root) };
            prop_assert_eq!(Checkpoint::parse_body(&cp.body()).unwrap(), cp);
        }

        #[test]
        fn note_parser_never_panics(s in ".{0,300}") {
            let _ = SignedCheckpoint::parse(&s);
            let _ = NoteVerifier::parse(&s);
            let v = NoteSigner::new("k", [1; 32]).unwrap().verifier();
            let _ = v.open(&s);
        }
    }
}
