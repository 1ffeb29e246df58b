//! The off-log vault: salts and payloads behind the log's commitments, keyed by data
//! subject, so that erasure (GDPR Art. 17) deletes them and leaves every proof intact.
//!
//! Stored in a redb database (`vault.redb` in the trail directory):
//!
//! | table | key | value |
//! |---|---|---|
//! | `openings` | commitment (32 bytes) | subject, label, salt, payload, leaf index |
//! | `by_subject` | `subject ‖ 0x00 ‖ commitment` | leaf index |
//!
//! Writes on the append path use redb's non-durable commits and are made durable by
//! [`Vault::sync`] (one fsync shared by every write since the last), which the trail calls
//! before it hands out a receipt. Erasure deletes the rows, overwrites nothing that
//! remains reachable, and compacts the file so freed pages holding the salts are gone.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::entry::commit;
use crate::hash::Hash;
use crate::{Error, Result};

const OPENINGS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("openings");
const BY_SUBJECT: TableDefinition<&[u8], u64> = TableDefinition::new("by_subject");

/// What opens a commitment: the salt and the committed bytes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opening {
    /// Data subject the payload concerns (a pseudonymous id of the operator's choosing).
    pub subject: String,
    /// What the payload is (`input`, `output`, `verified_by`, …).
    pub label: String,
    /// 32 random bytes.
    #[serde(with = "hex_bytes")]
    pub salt: [u8; 32],
    /// The committed bytes.
    #[serde(with = "hex_vec")]
    pub payload: Vec<u8>,
}

impl std::fmt::Debug for Opening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print personal payloads or salts.
        f.debug_struct("Opening")
            .field("label", &self.label)
            .field("payload_len", &self.payload.len())
            .finish_non_exhaustive()
    }
}

impl Opening {
    /// Seals `payload` for `subject` with a fresh salt from the operating system.
    pub fn seal(subject: &str, label: &str, payload: Vec<u8>) -> Self {
        Self::seal_with(&mut rand::rngs::OsRng, subject, label, payload)
    }

    /// Seals `payload` with a salt from `rng`, a cryptographically secure generator (such
    /// as `rand::thread_rng()`, ChaCha12 seeded by the operating system).
    pub fn seal_with<R: rand::RngCore + rand::CryptoRng>(
        rng: &mut R,
        subject: &str,
        label: &str,
        payload: Vec<u8>,
    ) -> Self {
        let mut salt = [0u8; 32];
        rng.fill_bytes(&mut salt);
        Self { subject: subject.to_string(), label: label.to_string(), salt, payload }
    }

    /// The commitment this opening opens.
    pub fn commitment(&self) -> Hash {
        commit(&self.salt, &self.payload)
    }

    fn encode(&self, leaf: u64) -> Vec<u8> {
        let mut v =
            Vec::with_capacity(60 + self.subject.len() + self.label.len() + self.payload.len());
        v.extend_from_slice(&leaf.to_be_bytes());
        v.extend_from_slice(&self.salt);
        for s in [self.subject.as_bytes(), self.label.as_bytes()] {
            v.extend_from_slice(&(s.len() as u32).to_be_bytes());
            v.extend_from_slice(s);
        }
        v.extend_from_slice(&self.payload);
        v
    }

    fn decode(b: &[u8]) -> Option<(u64, Self)> {
        let leaf = u64::from_be_bytes(b.get(..8)?.try_into().ok()?);
        let salt: [u8; 32] = b.get(8..40)?.try_into().ok()?;
        let mut pos = 40;
        let mut strings = Vec::with_capacity(2);
        for _ in 0..2 {
            let n = u32::from_be_bytes(b.get(pos..pos + 4)?.try_into().ok()?) as usize;
            pos += 4;
            strings.push(String::from_utf8(b.get(pos..pos.checked_add(n)?)?.to_vec()).ok()?);
            pos += n;
        }
        let label = strings.pop()?;
        let subject = strings.pop()?;
        Some((leaf, Self { subject, label, salt, payload: b.get(pos..)?.to_vec() }))
    }
}

/// An opening stored in the vault, with the leaf it was logged in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredOpening {
    /// Leaf index of the entry that carries the commitment.
    pub leaf_index: u64,
    /// The commitment.
    pub commitment: Hash,
    /// Salt and payload.
    pub opening: Opening,
}

/// The vault database.
pub struct Vault {
    db: RwLock<Database>,
    written: AtomicU64,
    synced: Mutex<u64>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").finish_non_exhaustive()
    }
}

fn db_err(e: impl std::fmt::Display) -> Error {
    Error::Vault(e.to_string())
}

fn subject_key(subject: &str, commitment: Option<&Hash>) -> Result<Vec<u8>> {
    if subject.is_empty() || subject.as_bytes().contains(&0) {
        return Err(Error::Malformed {
            what: "subject id",
            detail: "must be non-empty and contain no NUL byte".into(),
        });
    }
    let mut k = subject.as_bytes().to_vec();
    k.push(0);
    if let Some(c) = commitment {
        k.extend_from_slice(&c.0);
    }
    Ok(k)
}

impl Vault {
    /// Opens or creates the vault file.
    pub fn open(path: &Path) -> Result<Self> {
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => Error::Vault(format!(
                "{}: this audit trail is in use by another process (an `alara up` serving it \
                 through its API?); stop it, or use that server's /api/v1/audit routes",
                path.display()
            )),
            e => Error::Vault(format!("{}: {e}", path.display())),
        })?;
        let tx = db.begin_write().map_err(db_err)?;
        tx.open_table(OPENINGS).map_err(db_err)?;
        tx.open_table(BY_SUBJECT).map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(Self { db: RwLock::new(db), written: AtomicU64::new(0), synced: Mutex::new(0) })
    }

    /// Stores openings used in leaf `leaf_index[i]` (non-durable until [`Vault::sync`]).
    pub fn put(&self, items: &[(u64, &Opening)]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let db = self.db.read();
        let mut tx = db.begin_write().map_err(db_err)?;
        tx.set_durability(Durability::None).map_err(db_err)?;
        {
            let mut openings = tx.open_table(OPENINGS).map_err(db_err)?;
            let mut by_subject = tx.open_table(BY_SUBJECT).map_err(db_err)?;
            for (leaf, o) in items {
                let c = o.commitment();
                openings.insert(&c.0, o.encode(*leaf).as_slice()).map_err(db_err)?;
                by_subject
                    .insert(subject_key(&o.subject, Some(&c))?.as_slice(), *leaf)
                    .map_err(db_err)?;
            }
        }
        tx.commit().map_err(db_err)?;
        self.written.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Makes every earlier [`Vault::put`] durable; concurrent callers share one fsync.
    pub fn sync(&self) -> Result<()> {
        let target = self.written.load(Ordering::SeqCst);
        let mut synced = self.synced.lock();
        if *synced >= target {
            return Ok(());
        }
        let now = self.written.load(Ordering::SeqCst);
        let db = self.db.read();
        let tx = db.begin_write().map_err(db_err)?; // Immediate by default
        tx.commit().map_err(db_err)?;
        *synced = now;
        Ok(())
    }

    /// The opening of `commitment`, if the vault still has it.
    pub fn get(&self, commitment: &Hash) -> Result<Option<StoredOpening>> {
        let db = self.db.read();
        let tx = db.begin_read().map_err(db_err)?;
        let t = tx.open_table(OPENINGS).map_err(db_err)?;
        let Some(v) = t.get(&commitment.0).map_err(db_err)? else { return Ok(None) };
        let (leaf_index, opening) = Opening::decode(v.value())
            .ok_or_else(|| Error::Vault(format!("opening of {commitment} is unreadable")))?;
        Ok(Some(StoredOpening { leaf_index, commitment: *commitment, opening }))
    }

    /// Leaf indices (sorted, deduplicated) of entries with a commitment about `subject`.
    pub fn leaves_of(&self, subject: &str) -> Result<Vec<u64>> {
        let prefix = subject_key(subject, None)?;
        let db = self.db.read();
        let tx = db.begin_read().map_err(db_err)?;
        let t = tx.open_table(BY_SUBJECT).map_err(db_err)?;
        let mut out = Vec::new();
        for row in t.range(prefix.as_slice()..).map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            if !k.value().starts_with(&prefix) {
                break;
            }
            out.push(v.value());
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Deletes every opening of `subject`, durably, and compacts the file so the freed
    /// pages are not left holding salts. Returns the commitments that lost their opening.
    pub fn erase_subject(&self, subject: &str) -> Result<Vec<Hash>> {
        let prefix = subject_key(subject, None)?;
        let mut erased = Vec::new();
        {
            let db = self.db.read();
            let tx = db.begin_write().map_err(db_err)?;
            {
                let mut by_subject = tx.open_table(BY_SUBJECT).map_err(db_err)?;
                let mut openings = tx.open_table(OPENINGS).map_err(db_err)?;
                let keys: Vec<Vec<u8>> = by_subject
                    .range(prefix.as_slice()..)
                    .map_err(db_err)?
                    .map_while(|r| {
                        r.ok().map(|(k, _)| k.value().to_vec()).filter(|k| k.starts_with(&prefix))
                    })
                    .collect();
                for k in keys {
                    by_subject.remove(k.as_slice()).map_err(db_err)?;
                    let c = Hash::from_slice(&k[prefix.len()..])?;
                    // Overwrite before removing, so no page of this transaction's tree keeps it.
                    openings.remove(&c.0).map_err(db_err)?;
                    erased.push(c);
                }
            }
            tx.commit().map_err(db_err)?;
        }
        self.compact()?;
        Ok(erased)
    }

    /// Rewrites the database without free pages.
    fn compact(&self) -> Result<()> {
        let mut db = self.db.write();
        // Two commits release pages held for the previous transaction before compacting.
        for _ in 0..2 {
            let tx = db.begin_write().map_err(db_err)?;
            tx.commit().map_err(db_err)?;
        }
        while db.compact().map_err(db_err)? {}
        Ok(())
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(String::deserialize(d)?, &mut out)
            .map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

mod hex_vec {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn put_get_erase_leaves_no_bytes_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.redb");
        let vault = Vault::open(&path).unwrap();
        let secret = b"patient 4711: tumour radius 17.99".to_vec();
        let a = Opening::seal("alice", "input", secret.clone());
        let b = Opening::seal("bob", "input", b"bob's row".to_vec());
        vault.put(&[(3, &a), (4, &b)]).unwrap();
        vault.sync().unwrap();
        let got = vault.get(&a.commitment()).unwrap().unwrap();
        assert_eq!(got.leaf_index, 3);
        assert_eq!(got.opening, a);
        assert_eq!(vault.leaves_of("alice").unwrap(), vec![3]);
        assert!(contains(&std::fs::read(&path).unwrap(), &a.salt));

        let erased = vault.erase_subject("alice").unwrap();
        assert_eq!(erased, vec![a.commitment()]);
        assert!(vault.get(&a.commitment()).unwrap().is_none());
        assert!(vault.leaves_of("alice").unwrap().is_empty());
        assert!(vault.get(&b.commitment()).unwrap().is_some());
        drop(vault);
        let raw = std::fs::read(&path).unwrap();
        assert!(!contains(&raw, &a.salt), "erased salt still in the vault file");
        assert!(!contains(&raw, &secret), "erased payload still in the vault file");
        assert!(contains(&raw, &b.salt));
    }

    #[test]
    fn subject_ids_are_validated() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(&dir.path().join("v.redb")).unwrap();
        assert!(vault.leaves_of("").is_err());
        assert!(vault.leaves_of("a\0b").is_err());
    }
}
