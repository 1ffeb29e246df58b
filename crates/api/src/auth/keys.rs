//! API keys: `alara_k_<id>_<secret>`, kept as SHA-256 of the secret in
//! `<data-dir>/api/keys.json` (written atomically, mode 0600). A running server notices a
//! file changed by `alara api key …` within a second.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{constant_time_eq, now_ms, random, sha256, Role};

/// Prefix of every API key.
pub const PREFIX: &str = "alara_k_";

/// One key as stored (no secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyRecord {
    /// Public id (8 hex digits), part of the key.
    pub id: String,
    /// What it is for.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Created (Unix ms).
    pub created_ms: u64,
    /// Expires (Unix ms); never when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
    /// SHA-256 of the secret, hex.
    #[serde(default, skip_serializing)]
    #[schema(ignore)]
    pub secret_sha256: String,
}

#[derive(Default, Serialize, Deserialize)]
struct KeyFile {
    keys: Vec<KeyRecord>,
}

/// The key file and a cached copy of it.
pub struct KeyRing {
    path: PathBuf,
    cache: Mutex<Cache>,
}

struct Cache {
    keys: Vec<KeyRecord>,
    stamp: Option<(Option<SystemTime>, u64)>,
    loaded: bool,
}

/// Errors of the key file.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a key file.
    #[error("{path} is not an API key file ({detail}); move it away to start with no keys")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// No key with this id.
    #[error("no API key with id {0:?}")]
    Unknown(String),
    /// A bad argument.
    #[error("{0}")]
    Invalid(String),
}

impl KeyRing {
    /// The key ring of a data directory (`<data-dir>/api/keys.json`); the file is created
    /// by the first key.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join("api").join("keys.json"),
            cache: Mutex::new(Cache { keys: Vec::new(), stamp: None, loaded: false }),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn load(&self) -> Result<Vec<KeyRecord>, KeyError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                let f: KeyFile = serde_json::from_slice(&bytes).map_err(|e| KeyError::Corrupt {
                    path: self.path.clone(),
                    detail: e.to_string(),
                })?;
                Ok(f.keys)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(KeyError::Io { path: self.path.clone(), source }),
        }
    }

    fn save(&self, keys: &[KeyRecord]) -> Result<(), KeyError> {
        let io = |source| KeyError::Io { path: self.path.clone(), source };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let text = serde_json::to_vec_pretty(&serde_json::json!({ "keys": keys.iter().map(|k| {
            // The stored form keeps the hash, which the public form skips.
            let mut v = serde_json::to_value(k).unwrap_or_default();
            v["secret_sha256"] = k.secret_sha256.clone().into();
            v
        }).collect::<Vec<_>>() }))
        .map_err(|e| io(std::io::Error::other(e)))?;
        let tmp = self.path.with_extension("json.tmp");
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = options.open(&tmp).map_err(io)?;
            f.write_all(&text).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        self.cache.lock().loaded = false;
        Ok(())
    }

    /// The keys, re-read when the file changed (its modification time and length are
    /// checked on every call: a `stat`, so a revocation by another process counts at once).
    pub fn keys(&self) -> Result<Vec<KeyRecord>, KeyError> {
        let mut c = self.cache.lock();
        let stamp = std::fs::metadata(&self.path).ok().map(|m| (m.modified().ok(), m.len()));
        if !c.loaded || stamp != c.stamp {
            c.keys = self.load()?;
            c.stamp = stamp;
            c.loaded = true;
        }
        Ok(c.keys.clone())
    }

    /// Creates a key; returns the key text (shown once) and its record.
    pub fn create(
        &self,
        name: &str,
        role: Role,
        valid_for: Option<Duration>,
    ) -> Result<(String, KeyRecord), KeyError> {
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(KeyError::Invalid("a key's name is 1 to 64 printable characters".into()));
        }
        let mut keys = self.load()?;
        let id = loop {
            let id = hex::encode(random::<4>());
            if !keys.iter().any(|k| k.id == id) {
                break id;
            }
        };
        let secret = hex::encode(random::<32>());
        let now = now_ms();
        let record = KeyRecord {
            id: id.clone(),
            name: name.to_string(),
            role,
            created_ms: now,
            expires_ms: valid_for.map(|d| now.saturating_add(d.as_millis() as u64)),
            secret_sha256: hex::encode(sha256(secret.as_bytes())),
        };
        keys.push(record.clone());
        self.save(&keys)?;
        Ok((format!("{PREFIX}{id}_{secret}"), record))
    }

    /// Revokes the key `id`.
    pub fn revoke(&self, id: &str) -> Result<KeyRecord, KeyError> {
        let mut keys = self.load()?;
        let at =
            keys.iter().position(|k| k.id == id).ok_or_else(|| KeyError::Unknown(id.into()))?;
        let removed = keys.remove(at);
        self.save(&keys)?;
        Ok(removed)
    }

    /// The live record of the key `token`, if it is one.
    pub fn check(&self, token: &str) -> Result<Option<KeyRecord>, KeyError> {
        let Some((id, secret)) = token.strip_prefix(PREFIX).and_then(|r| r.split_once('_')) else {
            return Ok(None);
        };
        let hash = hex::encode(sha256(secret.as_bytes()));
        let now = now_ms();
        Ok(self.keys()?.into_iter().find(|k| {
            k.id == id
                && constant_time_eq(k.secret_sha256.as_bytes(), hash.as_bytes())
                && k.expires_ms.is_none_or(|e| e > now)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_check_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::new(dir.path());
        let (key, rec) = ring.create("ci", Role::Writer, None).unwrap();
        assert!(key.starts_with(PREFIX));
        assert_eq!(ring.check(&key).unwrap().unwrap().role, Role::Writer);
        // The file holds the hash, never the key.
        let text = std::fs::read_to_string(ring.path()).unwrap();
        assert!(!text.contains(&key[PREFIX.len() + 9..]));
        assert!(text.contains("secret_sha256"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(ring.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A wrong secret with the right id, and garbage, are not keys.
        let wrong = format!("{PREFIX}{}_{}", rec.id, "0".repeat(64));
        assert!(ring.check(&wrong).unwrap().is_none());
        assert!(ring.check("alara_k_").unwrap().is_none());
        assert!(ring.check("nope").unwrap().is_none());
        // A second ring on the same dir (another process) sees the key and its revocation.
        let other = KeyRing::new(dir.path());
        assert!(other.check(&key).unwrap().is_some());
        other.revoke(&rec.id).unwrap();
        assert!(ring.check(&key).unwrap().is_none());
        assert!(matches!(ring.revoke(&rec.id), Err(KeyError::Unknown(_))));
    }

    #[test]
    fn expired_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::new(dir.path());
        let (key, _) = ring.create("short", Role::Reader, Some(Duration::from_millis(1))).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert!(ring.check(&key).unwrap().is_none());
    }

    #[test]
    fn corrupt_file_is_an_error_not_an_empty_ring() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::new(dir.path());
        std::fs::create_dir_all(ring.path().parent().unwrap()).unwrap();
        std::fs::write(ring.path(), b"{not json").unwrap();
        assert!(matches!(ring.keys(), Err(KeyError::Corrupt { .. })));
    }
}
