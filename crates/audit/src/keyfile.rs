//! The log's signing key, kept in an age file encrypted with a passphrase (scrypt).
//!
//! The plaintext inside the age file is the key in Go's note format
//! (`PRIVATE+KEY+name+hash+base64(0x01 ‖ seed)`); it exists only in memory. The passphrase
//! comes from the caller: the CLI reads `ALARA_LOG_KEY_PASSWORD` (or prompts on a
//! terminal) and never writes it anywhere. A lost passphrase means a new log key and a new
//! log identity; existing receipts stay verifiable with the old public key.

use std::path::Path;

use age::secrecy::SecretString;

use crate::checkpoint::NoteSigner;
use crate::{Error, Result};

/// Environment variable the CLI reads the key passphrase from (named in error messages).
pub const PASSPHRASE_ENV: &str = "ALARA_LOG_KEY_PASSWORD";

/// scrypt work factor (log2 N) for new key files: age's recommended ~1 s on a laptop.
pub const DEFAULT_WORK_FACTOR: u8 = 18;

/// Opens the key file at `path`, or creates it with a fresh key named `name`.
///
/// `work_factor` only matters on creation (tests use a small one to stay fast).
pub fn open_or_create(
    path: &Path,
    passphrase: &str,
    name: &str,
    work_factor: u8,
) -> Result<NoteSigner> {
    if path.exists() {
        return open(path, passphrase);
    }
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
    let signer = NoteSigner::new(name, seed)?;
    create(path, passphrase, &signer, work_factor)?;
    Ok(signer)
}

/// Decrypts the key file.
pub fn open(path: &Path, passphrase: &str) -> Result<NoteSigner> {
    let key_err = |detail: String| Error::Key { path: path.to_path_buf(), detail };
    if passphrase.is_empty() {
        return Err(key_err(format!("empty passphrase; set {PASSPHRASE_ENV}")));
    }
    let armored = read_key_file(path)?;
    let plain = unseal(&armored, passphrase).map_err(|e| {
        key_err(format!("{e}; is {PASSPHRASE_ENV} the passphrase it was created with?"))
    })?;
    let plain = String::from_utf8(plain).map_err(|_| key_err("plaintext is not UTF-8".into()))?;
    NoteSigner::from_private_key(&plain)
}

/// Encrypts `plain` under `passphrase` (age, scrypt with `work_factor`) into an ASCII-armored
/// age file's bytes. Any secret kept on disk goes through here.
pub fn seal(
    passphrase: &str,
    work_factor: u8,
    plain: &[u8],
) -> std::result::Result<Vec<u8>, String> {
    if passphrase.is_empty() {
        return Err("empty passphrase".into());
    }
    let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
    recipient.set_work_factor(work_factor);
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .map_err(|e| format!("encryptor: {e}"))?;
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .map_err(|e| e.to_string())?;
    let mut w = encryptor.wrap_output(armor).map_err(|e| e.to_string())?;
    std::io::Write::write_all(&mut w, plain).map_err(|e| e.to_string())?;
    w.finish().and_then(|a| a.finish()).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Decrypts what [`seal`] made.
pub fn unseal(armored: &[u8], passphrase: &str) -> std::result::Result<Vec<u8>, String> {
    let reader = age::armor::ArmoredReader::new(armored);
    let decryptor = age::Decryptor::new(reader).map_err(|e| format!("not an age file: {e}"))?;
    let identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
    let mut r = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| format!("cannot decrypt ({e})"))?;
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut plain)
        .map_err(|e| format!("reading plaintext: {e}"))?;
    Ok(plain)
}

/// Writes `bytes` to a new file readable by its owner only (mode 0600 on Unix), synced;
/// refuses to overwrite.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    std::io::Write::write_all(&mut f, bytes)?;
    f.sync_all()
}

/// An armored key file is under 1 KB; anything much larger is not one, and is refused
/// without being read into memory.
const MAX_KEY_FILE: u64 = 64 * 1024;

fn read_key_file(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(crate::error::io(path))?;
    let mut out = Vec::new();
    f.take(MAX_KEY_FILE + 1).read_to_end(&mut out).map_err(crate::error::io(path))?;
    if out.len() as u64 > MAX_KEY_FILE {
        return Err(Error::Key {
            path: path.to_path_buf(),
            detail: format!("larger than {MAX_KEY_FILE} bytes: not a log key file"),
        });
    }
    Ok(out)
}

/// Writes `signer` encrypted to `path` (refuses to overwrite).
pub fn create(path: &Path, passphrase: &str, signer: &NoteSigner, work_factor: u8) -> Result<()> {
    let key_err = |detail: String| Error::Key { path: path.to_path_buf(), detail };
    if passphrase.is_empty() {
        return Err(key_err(format!("empty passphrase; set {PASSPHRASE_ENV}")));
    }
    let out = seal(passphrase, work_factor, signer.to_private_key().as_bytes()).map_err(key_err)?;
    write_private(path, &out).map_err(crate::error::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_open_and_wrong_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.key.age");
        let a = open_or_create(&path, "pw", "alara.test/log", 10).unwrap();
        let b = open_or_create(&path, "pw", "ignored", 10).unwrap();
        assert_eq!(a.verifier(), b.verifier());
        let err = open(&path, "wrong").unwrap_err().to_string();
        assert!(err.contains("cannot decrypt"), "{err}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        assert!(!text.contains("PRIVATE+KEY"));
        assert!(open(&path, "").is_err());
    }
}
