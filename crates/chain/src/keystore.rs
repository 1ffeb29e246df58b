//! Web3 Secret Storage (version 3) keystore files: the encrypted key files of geth, clef,
//! Foundry's `cast wallet`, MetaMask exports and `eth_account`.
//!
//! New files use the spec's and geth's standard cost: scrypt with n = 2^18 = 262,144,
//! r = 8, p = 1 and a 32-byte derived key (n = 8192 is geth's "light" setting, for tests
//! and small devices), AES-128-CTR, and a Keccak-256 MAC over the second half of the
//! derived key and the ciphertext. Reading accepts what the spec allows (scrypt or
//! PBKDF2-HMAC-SHA256) within a cost bound, and says which of three things went wrong: the
//! file could not be read, it is not a keystore ([`KeystoreError::Malformed`], with the
//! reason), or the MAC does not match — the one case that means a wrong password.

use std::io::Write;
use std::path::{Path, PathBuf};

use alloy::primitives::{keccak256, Address};
use alloy::signers::local::PrivateKeySigner;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};

/// log2 of scrypt's n in new files: n = 262,144.
pub const SCRYPT_LOG_N: u8 = 18;
/// scrypt's r (block size) in new files.
pub const SCRYPT_R: u32 = 8;
/// scrypt's p (parallelism) in new files.
pub const SCRYPT_P: u32 = 1;
/// Length of the derived key: 16 bytes of AES-128 key, then 16 bytes for the MAC.
pub const DKLEN: usize = 32;

/// Most memory a file's scrypt parameters may ask for (128·r·n bytes): 1 GiB, four times
/// the standard files' 256 MiB.
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
/// Most scrypt work (n·r·p) a file may ask for: 32 times the standard files'.
const MAX_SCRYPT_WORK: u64 = 1 << 26;
/// Most PBKDF2 rounds a file may ask for: 64 times geth's 262,144.
const MAX_PBKDF2_ROUNDS: u32 = 1 << 24;
/// A keystore is well under a kilobyte; anything this large is not one and is not read.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Why a keystore file could not be read, written or decrypted.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// The file could not be read.
    #[error("cannot read the keystore {0}: {1}")]
    Read(PathBuf, #[source] std::io::Error),
    /// The file is not a Web3 Secret Storage v3 keystore.
    #[error("{} is not a valid keystore file (Web3 Secret Storage v3): {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A well-formed keystore this build does not decrypt (another cipher, or a key
    /// derivation that costs more than the bound).
    #[error("the keystore {} cannot be decrypted here: {reason}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What it asks for.
        reason: String,
    },
    /// The MAC does not match: the password is not the one the file was encrypted with.
    #[error("wrong password for the keystore {} (its MAC does not match)", .0.display())]
    WrongPassword(PathBuf),
    /// A new keystore could not be written.
    #[error("cannot write a keystore to {0}: {1}")]
    Write(PathBuf, #[source] std::io::Error),
}

impl From<KeystoreError> for crate::Error {
    fn from(e: KeystoreError) -> Self {
        crate::Error::Signer(e.to_string())
    }
}

/// The fields of a v3 file that decryption reads. geth once wrote `Crypto`.
#[derive(Deserialize)]
struct File {
    #[serde(alias = "Crypto")]
    crypto: Crypto,
}

#[derive(Deserialize)]
struct Crypto {
    cipher: String,
    ciphertext: String,
    cipherparams: CipherParams,
    kdf: String,
    kdfparams: Value,
    mac: String,
}

#[derive(Deserialize)]
struct CipherParams {
    iv: String,
}

#[derive(Deserialize)]
struct ScryptParams {
    dklen: usize,
    n: u64,
    r: u32,
    p: u32,
    salt: String,
}

#[derive(Deserialize)]
struct Pbkdf2Params {
    c: u32,
    dklen: usize,
    prf: String,
    salt: String,
}

/// A key derivation as a file states it.
enum Kdf {
    Scrypt { log_n: u8, r: u32, p: u32 },
    Pbkdf2 { rounds: u32 },
}

/// A parsed, checked keystore, ready to decrypt.
struct Parsed {
    kdf: Kdf,
    salt: Vec<u8>,
    dklen: usize,
    iv: [u8; 16],
    ciphertext: Vec<u8>,
    mac: [u8; 32],
}

/// Reads the keystore at `path` and decrypts its key with `password`.
pub fn decrypt(path: &Path, password: &str) -> Result<PrivateKeySigner, KeystoreError> {
    let read = |e| KeystoreError::Read(path.to_path_buf(), e);
    let len = std::fs::metadata(path).map_err(read)?.len();
    if len > MAX_FILE_BYTES {
        return Err(malformed(path, format!("{len} bytes; a keystore is under a kilobyte")));
    }
    let text = std::fs::read(path).map_err(read)?;
    decrypt_json(path, &text, password)
}

/// Decrypts the keystore `text` (the contents of `path`, which errors name) with `password`.
pub fn decrypt_json(
    path: &Path,
    text: &[u8],
    password: &str,
) -> Result<PrivateKeySigner, KeystoreError> {
    let parsed = parse(path, text)?;
    let dk = derive(&parsed.kdf, password.as_bytes(), &parsed.salt, parsed.dklen);
    open(path, parsed, &dk)
}

/// The key in `parsed`, decrypted with the derived key `dk` once its MAC matches.
fn open(path: &Path, parsed: Parsed, dk: &[u8]) -> Result<PrivateKeySigner, KeystoreError> {
    let mac = keccak256([&dk[16..32], &parsed.ciphertext[..]].concat());
    // Compared without an early exit: a local file offers no timing oracle, but it is free.
    if mac.iter().zip(parsed.mac.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) != 0 {
        return Err(KeystoreError::WrongPassword(path.to_path_buf()));
    }
    let mut key = parsed.ciphertext;
    aes_128_ctr(&dk[..16], &parsed.iv, &mut key);
    PrivateKeySigner::from_slice(&key)
        .map_err(|e| malformed(path, format!("the decrypted key is not a secp256k1 key: {e}")))
}

fn malformed(path: &Path, reason: impl Into<String>) -> KeystoreError {
    KeystoreError::Malformed { path: path.to_path_buf(), reason: reason.into() }
}

fn unsupported(path: &Path, reason: impl Into<String>) -> KeystoreError {
    KeystoreError::Unsupported { path: path.to_path_buf(), reason: reason.into() }
}

fn parse(path: &Path, text: &[u8]) -> Result<Parsed, KeystoreError> {
    let value: Value =
        serde_json::from_slice(text).map_err(|e| malformed(path, format!("not JSON: {e}")))?;
    if !value.is_object() {
        return Err(malformed(path, "not a JSON object"));
    }
    match &value["version"] {
        Value::Null => return Err(malformed(path, "no `version`")),
        v if v.as_u64() == Some(3) => {}
        v => return Err(malformed(path, format!("version {v}; only version 3 is read"))),
    }
    let file: File = serde_json::from_value(value).map_err(|e| malformed(path, e.to_string()))?;
    let c = file.crypto;
    if c.cipher != "aes-128-ctr" {
        return Err(unsupported(path, format!("cipher `{}` (only aes-128-ctr is)", c.cipher)));
    }
    let iv = fixed::<16>(path, "cipherparams.iv", &c.cipherparams.iv)?;
    let mac = fixed::<32>(path, "mac", &c.mac)?;
    let ciphertext = hex_field(path, "ciphertext", &c.ciphertext)?;
    if ciphertext.len() != 32 {
        return Err(malformed(
            path,
            format!("ciphertext of {} bytes; a private key is 32", ciphertext.len()),
        ));
    }
    let params = |e: serde_json::Error| malformed(path, format!("kdfparams: {e}"));
    let (kdf, salt, dklen) = match c.kdf.as_str() {
        "scrypt" => {
            let p: ScryptParams = serde_json::from_value(c.kdfparams).map_err(params)?;
            if p.n < 2 || !p.n.is_power_of_two() {
                return Err(malformed(path, format!("scrypt n = {}: not a power of two", p.n)));
            }
            if p.r == 0 || p.p == 0 {
                return Err(malformed(path, "scrypt r and p must be at least 1"));
            }
            let memory = 128 * u64::from(p.r) * p.n;
            let work = p.n * u64::from(p.r) * u64::from(p.p);
            if memory > MAX_SCRYPT_MEMORY || work > MAX_SCRYPT_WORK {
                return Err(unsupported(
                    path,
                    format!(
                        "scrypt n = {}, r = {}, p = {} costs more than this build allows \
                         (at most {} MiB and n·r·p ≤ 2^26)",
                        p.n,
                        p.r,
                        p.p,
                        MAX_SCRYPT_MEMORY >> 20
                    ),
                ));
            }
            let log_n = p.n.trailing_zeros() as u8;
            let salt = hex_field(path, "kdfparams.salt", &p.salt)?;
            (Kdf::Scrypt { log_n, r: p.r, p: p.p }, salt, p.dklen)
        }
        "pbkdf2" => {
            let p: Pbkdf2Params = serde_json::from_value(c.kdfparams).map_err(params)?;
            if p.prf != "hmac-sha256" {
                return Err(unsupported(
                    path,
                    format!("PBKDF2 with `{}` (only hmac-sha256)", p.prf),
                ));
            }
            if p.c == 0 {
                return Err(malformed(path, "PBKDF2 c = 0"));
            }
            if p.c > MAX_PBKDF2_ROUNDS {
                return Err(unsupported(
                    path,
                    format!("PBKDF2 c = {}: more than {MAX_PBKDF2_ROUNDS} rounds", p.c),
                ));
            }
            let salt = hex_field(path, "kdfparams.salt", &p.salt)?;
            (Kdf::Pbkdf2 { rounds: p.c }, salt, p.dklen)
        }
        other => {
            return Err(unsupported(path, format!("kdf `{other}` (only scrypt and pbkdf2)")));
        }
    };
    if !(DKLEN..=64).contains(&dklen) {
        return Err(malformed(path, format!("dklen {dklen}; it must be 32 to 64")));
    }
    Ok(Parsed { kdf, salt, dklen, iv, ciphertext, mac })
}

fn hex_field(path: &Path, field: &str, s: &str) -> Result<Vec<u8>, KeystoreError> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(s).map_err(|e| malformed(path, format!("`{field}` is not hex: {e}")))
}

fn fixed<const N: usize>(path: &Path, field: &str, s: &str) -> Result<[u8; N], KeystoreError> {
    let bytes = hex_field(path, field, s)?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| malformed(path, format!("`{field}` is {} bytes, not {N}", b.len())))
}

/// The derived key of `kdf` (parameters already checked).
fn derive(kdf: &Kdf, password: &[u8], salt: &[u8], dklen: usize) -> Vec<u8> {
    let mut dk = vec![0u8; dklen];
    match *kdf {
        Kdf::Scrypt { log_n, r, p } => scrypt(password, salt, log_n, r, p, &mut dk),
        Kdf::Pbkdf2 { rounds } => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, rounds, &mut dk);
        }
    }
    dk
}

/// scrypt (RFC 7914). RustCrypto's `scrypt` refuses n ≥ 2^(16·r), a bound of the RFC that
/// geth (Go's x/crypto) does not enforce and the spec's own test vector (r = 1, n = 2^18)
/// exceeds; such parameters are computed by [`scrypt_unbounded`] (slower: it is for those
/// files only).
fn scrypt(password: &[u8], salt: &[u8], log_n: u8, r: u32, p: u32, out: &mut [u8]) {
    if let Ok(params) = ::scrypt::Params::new(log_n, r, p, out.len()) {
        if ::scrypt::scrypt(password, salt, &params, out).is_ok() {
            return;
        }
    }
    scrypt_unbounded(password, salt, log_n, r as usize, p as usize, out);
}

/// scrypt as RFC 7914 defines it, without the bound on n: PBKDF2-HMAC-SHA256 over ROMix of
/// each of the p blocks. Works on 32-bit words, as the RFC's Salsa20/8 does.
fn scrypt_unbounded(password: &[u8], salt: &[u8], log_n: u8, r: usize, p: usize, out: &mut [u8]) {
    let n = 1usize << log_n;
    let words = 32 * r;
    let mut b = vec![0u8; p * 4 * words];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, 1, &mut b);
    let mut x = vec![0u32; words];
    let mut t = vec![0u32; words];
    let mut v = vec![0u32; n * words];
    for block in b.chunks_mut(4 * words) {
        for (w, bytes) in x.iter_mut().zip(block.chunks_exact(4)) {
            *w = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        for i in 0..n {
            v[i * words..(i + 1) * words].copy_from_slice(&x);
            block_mix(&v[i * words..(i + 1) * words], &mut x, r);
        }
        for _ in 0..n {
            // Integerify: the first word of the last 64-byte block, mod n.
            let j = x[words - 16] as usize & (n - 1);
            let vj = &v[j * words..(j + 1) * words];
            for k in 0..words {
                t[k] = x[k] ^ vj[k];
            }
            block_mix(&t, &mut x, r);
        }
        for (w, bytes) in x.iter().zip(block.chunks_exact_mut(4)) {
            bytes.copy_from_slice(&w.to_le_bytes());
        }
    }
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, &b, 1, out);
}

/// scrypt's BlockMix: `input` and `output` are 2·r blocks of 16 words.
fn block_mix(input: &[u32], output: &mut [u32], r: usize) {
    let mut x = [0u32; 16];
    x.copy_from_slice(&input[(2 * r - 1) * 16..]);
    for i in 0..2 * r {
        for k in 0..16 {
            x[k] ^= input[i * 16 + k];
        }
        salsa20_8(&mut x);
        let at = if i % 2 == 0 { (i / 2) * 16 } else { (r + i / 2) * 16 };
        output[at..at + 16].copy_from_slice(&x);
    }
}

/// The Salsa20/8 core (RFC 7914 section 3), in place.
fn salsa20_8(b: &mut [u32; 16]) {
    let mut x = *b;
    let mut quarter = |a: usize, b: usize, c: usize, d: usize| {
        x[b] ^= x[a].wrapping_add(x[d]).rotate_left(7);
        x[c] ^= x[b].wrapping_add(x[a]).rotate_left(9);
        x[d] ^= x[c].wrapping_add(x[b]).rotate_left(13);
        x[a] ^= x[d].wrapping_add(x[c]).rotate_left(18);
    };
    for _ in 0..4 {
        quarter(0, 4, 8, 12);
        quarter(5, 9, 13, 1);
        quarter(10, 14, 2, 6);
        quarter(15, 3, 7, 11);
        quarter(0, 1, 2, 3);
        quarter(5, 6, 7, 4);
        quarter(10, 11, 8, 9);
        quarter(15, 12, 13, 14);
    }
    for (b, x) in b.iter_mut().zip(x) {
        *b = b.wrapping_add(x);
    }
}

fn aes_128_ctr(key: &[u8], iv: &[u8; 16], data: &mut [u8]) {
    use ctr::cipher::{KeyIvInit, StreamCipher};
    let mut cipher = ctr::Ctr128BE::<aes::Aes128>::new(key.into(), iv.into());
    cipher.apply_keystream(data);
}

/// A v3 keystore of `key` encrypted with `password` under the standard scrypt cost, as
/// JSON (geth's layout, with the address).
pub fn encrypt(key: &PrivateKeySigner, password: &str) -> Value {
    let mut rng = rand::thread_rng();
    let mut salt = [0u8; 32];
    let mut iv = [0u8; 16];
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut iv);
    rng.fill_bytes(&mut id);
    encrypt_with(key, password, &salt, &iv, &id)
}

fn encrypt_with(
    key: &PrivateKeySigner,
    password: &str,
    salt: &[u8; 32],
    iv: &[u8; 16],
    id: &[u8; 16],
) -> Value {
    let kdf = Kdf::Scrypt { log_n: SCRYPT_LOG_N, r: SCRYPT_R, p: SCRYPT_P };
    let dk = derive(&kdf, password.as_bytes(), salt, DKLEN);
    let mut ciphertext = key.to_bytes().0;
    aes_128_ctr(&dk[..16], iv, &mut ciphertext);
    let mac = keccak256([&dk[16..32], &ciphertext[..]].concat());
    json!({
        "address": hex::encode(key.address()),
        "crypto": {
            "cipher": "aes-128-ctr",
            "ciphertext": hex::encode(ciphertext),
            "cipherparams": { "iv": hex::encode(iv) },
            "kdf": "scrypt",
            "kdfparams": {
                "dklen": DKLEN,
                "n": 1u64 << SCRYPT_LOG_N,
                "p": SCRYPT_P,
                "r": SCRYPT_R,
                "salt": hex::encode(salt),
            },
            "mac": hex::encode(mac),
        },
        "id": uuid_v4(id),
        "version": 3,
    })
}

/// A random (version 4) UUID's text from 16 random bytes.
fn uuid_v4(bytes: &[u8; 16]) -> String {
    let mut b = *bytes;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// Creates a new random key in a keystore file `<id>.json` under `dir` (created if need
/// be), encrypted with `password`. The file is written whole or not at all, readable by its
/// owner only. Returns the file and the key's address.
pub fn create(dir: &Path, password: &str) -> Result<(PathBuf, Address), KeystoreError> {
    let key = PrivateKeySigner::random_with(&mut rand::thread_rng());
    let file = encrypt(&key, password);
    let id = file["id"].as_str().unwrap_or_default().to_string();
    let path = dir.join(format!("{id}.json"));
    write_new(dir, &path, &file).map_err(|e| KeystoreError::Write(path.clone(), e))?;
    Ok((path, key.address()))
}

fn write_new(dir: &Path, path: &Path, file: &Value) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut out = options.open(&tmp)?;
        out.write_all(serde_json::to_string_pretty(file)?.as_bytes())?;
        out.sync_all()?;
        if path.exists() {
            return Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, "file exists"));
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail by panicking")]

    use super::*;

    /// The private key of both test vectors of the Web3 Secret Storage definition.
    const SPEC_KEY: &str = "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";

    /// The definition's scrypt test vector. Its r = 1 with n = 2^18 is past RFC 7914's
    /// bound, so this also runs [`scrypt_unbounded`].
    const SPEC_SCRYPT: &str = r#"{
        "crypto" : {
            "cipher" : "aes-128-ctr",
            "cipherparams" : { "iv" : "83dbcc02d8ccb40e466191a123791e0e" },
            "ciphertext" : "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
            "kdf" : "scrypt",
            "kdfparams" : {
                "dklen" : 32,
                "n" : 262144,
                "r" : 1,
                "p" : 8,
                "salt" : "ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19"
            },
            "mac" : "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097"
        },
        "id" : "3198bc9c-6672-5ab3-d995-4942343ae5b6",
        "version" : 3
    }"#;

    /// The definition's PBKDF2 test vector.
    const SPEC_PBKDF2: &str = r#"{
        "crypto" : {
            "cipher" : "aes-128-ctr",
            "cipherparams" : { "iv" : "6087dab2f9fdbbfaddc31a909735c1e6" },
            "ciphertext" : "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
            "kdf" : "pbkdf2",
            "kdfparams" : {
                "c" : 262144,
                "dklen" : 32,
                "prf" : "hmac-sha256",
                "salt" : "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"
            },
            "mac" : "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"
        },
        "id" : "3198bc9c-6672-5ab3-d995-4942343ae5b6",
        "version" : 3
    }"#;

    fn here() -> &'static Path {
        Path::new("vector.json")
    }

    #[test]
    fn the_spec_scrypt_vector_decrypts() {
        // decrypt_json, in steps, so that the one (slow) derivation is checked on the way.
        let parsed = parse(here(), SPEC_SCRYPT.as_bytes()).unwrap();
        let dk = derive(&parsed.kdf, b"testpassword", &parsed.salt, parsed.dklen);
        // The definition's intermediate value.
        assert_eq!(
            hex::encode(&dk),
            "fac192ceb5fd772906bea3e118a69e8bbb5cc24229e20d8766fd298291bba6bd"
        );
        let key = open(here(), parsed, &dk).unwrap();
        assert_eq!(hex::encode(key.to_bytes()), SPEC_KEY);
    }

    #[test]
    fn the_spec_pbkdf2_vector_decrypts() {
        let key = decrypt_json(here(), SPEC_PBKDF2.as_bytes(), "testpassword").unwrap();
        assert_eq!(hex::encode(key.to_bytes()), SPEC_KEY);
        let e = decrypt_json(here(), SPEC_PBKDF2.as_bytes(), "testpassword!").unwrap_err();
        assert!(matches!(e, KeystoreError::WrongPassword(_)), "{e}");
    }

    #[test]
    fn unbounded_scrypt_is_rustcrypto_scrypt_where_both_run() {
        for (log_n, r, p) in [(10u8, 8u32, 2u32), (10, 1, 3), (4, 2, 1), (15, 1, 1)] {
            let params = ::scrypt::Params::new(log_n, r, p, 64).unwrap();
            let mut want = [0u8; 64];
            ::scrypt::scrypt(b"password", b"NaCl", &params, &mut want).unwrap();
            let mut got = [0u8; 64];
            scrypt_unbounded(b"password", b"NaCl", log_n, r as usize, p as usize, &mut got);
            assert_eq!(hex::encode(got), hex::encode(want), "n = 2^{log_n}, r = {r}, p = {p}");
        }
    }

    #[test]
    fn new_files_have_the_standard_cost_and_decrypt_with_eth_keystore() {
        let dir = tempfile::tempdir().unwrap();
        let (path, address) = create(&dir.path().join("keys"), "correct horse").unwrap();
        let file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(file["version"], 3);
        assert_eq!(file["crypto"]["cipher"], "aes-128-ctr");
        assert_eq!(file["crypto"]["kdf"], "scrypt");
        let params = &file["crypto"]["kdfparams"];
        assert_eq!(
            (&params["n"], &params["r"], &params["p"], &params["dklen"]),
            (&json!(262_144), &json!(8), &json!(1), &json!(32)),
            "{file}"
        );
        assert_eq!(hex::decode(params["salt"].as_str().unwrap()).unwrap().len(), 32);
        let id = file["id"].as_str().unwrap();
        assert_eq!(path.file_name().unwrap().to_str().unwrap(), format!("{id}.json"));
        assert_eq!(file["address"], hex::encode(address));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        let ours = decrypt(&path, "correct horse").unwrap();
        assert_eq!(ours.address(), address);
        // eth-keystore, through alloy: an implementation that is not this module's.
        let theirs = PrivateKeySigner::decrypt_keystore(&path, "correct horse").unwrap();
        assert_eq!(theirs.to_bytes(), ours.to_bytes());
        assert!(PrivateKeySigner::decrypt_keystore(&path, "wrong horse").is_err());
        let e = decrypt(&path, "wrong horse").unwrap_err();
        assert!(matches!(e, KeystoreError::WrongPassword(_)), "{e}");
        let text = e.to_string();
        assert!(text.contains("wrong password") && text.contains(&path.display().to_string()));
    }

    #[test]
    fn encryption_is_deterministic_given_its_randomness() {
        let key = PrivateKeySigner::from_slice(&hex::decode(SPEC_KEY).unwrap()).unwrap();
        let (salt, iv, id) = ([1u8; 32], [2u8; 16], [3u8; 16]);
        let a = encrypt_with(&key, "pw", &salt, &iv, &id);
        assert_eq!(a, encrypt_with(&key, "pw", &salt, &iv, &id));
        assert_eq!(a["id"], "03030303-0303-4303-8303-030303030303");
        let back = decrypt_json(here(), a.to_string().as_bytes(), "pw").unwrap();
        assert_eq!(back.to_bytes(), key.to_bytes());
    }

    #[test]
    fn malformed_files_are_told_apart_from_wrong_passwords() {
        let dir = tempfile::tempdir().unwrap();
        let good: Value = serde_json::from_str(SPEC_PBKDF2).unwrap();
        let without = |pointer: &str, field: &str| {
            let mut v = good.clone();
            v.pointer_mut(pointer).unwrap().as_object_mut().unwrap().remove(field);
            v.to_string()
        };
        let with = |pointer: &str, value: Value| {
            let mut v = good.clone();
            *v.pointer_mut(pointer).unwrap() = value;
            v.to_string()
        };
        let cases = [
            ("not JSON", "not json at all".to_string(), "not JSON"),
            ("empty", String::new(), "not JSON"),
            ("array", "[]".to_string(), "not a JSON object"),
            ("no version", without("", "version"), "no `version`"),
            ("version 1", with("/version", json!(1)), "version 1; only version 3"),
            ("version as text", with("/version", json!("3")), "only version 3"),
            ("no crypto", without("", "crypto"), "missing field `crypto`"),
            ("no mac", without("/crypto", "mac"), "missing field `mac`"),
            ("no kdfparams.c", without("/crypto/kdfparams", "c"), "missing field `c`"),
            ("bad iv", with("/crypto/cipherparams/iv", json!("zz")), "not hex"),
            ("short mac", with("/crypto/mac", json!("00")), "1 bytes, not 32"),
            ("long ciphertext", with("/crypto/ciphertext", json!("00".repeat(33))), "33 bytes"),
            (
                "scrypt, pbkdf2 params",
                with("/crypto/kdf", json!("scrypt")),
                "kdfparams: missing field `n`",
            ),
            ("small dklen", with("/crypto/kdfparams/dklen", json!(16)), "dklen 16"),
        ];
        for (name, text, reason) in cases {
            let path = dir.path().join(format!("{name}.json"));
            std::fs::write(&path, &text).unwrap();
            let e = decrypt(&path, "testpassword").unwrap_err();
            assert!(matches!(e, KeystoreError::Malformed { .. }), "{name}: {e}");
            let message = e.to_string();
            assert!(message.contains(&path.display().to_string()), "{name}: {message}");
            assert!(message.contains("not a valid keystore file"), "{name}: {message}");
            assert!(message.contains(reason), "{name}: {message}");
            assert!(!message.contains("password"), "{name}: {message}");
        }

        let unsupported = [
            ("cbc", with("/crypto/cipher", json!("aes-128-cbc")), "cipher `aes-128-cbc`"),
            ("argon2", with("/crypto/kdf", json!("argon2id")), "kdf `argon2id`"),
            ("sha512", with("/crypto/kdfparams/prf", json!("hmac-sha512")), "hmac-sha512"),
            ("rounds", with("/crypto/kdfparams/c", json!(u32::MAX)), "rounds"),
        ];
        for (name, text, reason) in unsupported {
            let path = dir.path().join(format!("{name}.json"));
            std::fs::write(&path, &text).unwrap();
            let e = decrypt(&path, "testpassword").unwrap_err();
            assert!(matches!(e, KeystoreError::Unsupported { .. }), "{name}: {e}");
            let message = e.to_string();
            assert!(message.contains(&path.display().to_string()) && message.contains(reason));
        }

        let mut costly: Value = serde_json::from_str(SPEC_SCRYPT).unwrap();
        costly["crypto"]["kdfparams"]["n"] = json!(1u64 << 24);
        costly["crypto"]["kdfparams"]["r"] = json!(8);
        let e = decrypt_json(here(), costly.to_string().as_bytes(), "x").unwrap_err();
        assert!(matches!(e, KeystoreError::Unsupported { .. }), "{e}");
        costly["crypto"]["kdfparams"]["n"] = json!(1000);
        let e = decrypt_json(here(), costly.to_string().as_bytes(), "x").unwrap_err();
        assert!(e.to_string().contains("not a power of two"), "{e}");

        let missing = dir.path().join("missing.json");
        let e = decrypt(&missing, "testpassword").unwrap_err();
        assert!(matches!(e, KeystoreError::Read(..)), "{e}");
        assert!(e.to_string().contains(&missing.display().to_string()));

        // The one error about the password: the file is sound and the MAC is not.
        let path = dir.path().join("good.json");
        std::fs::write(&path, SPEC_PBKDF2).unwrap();
        let e = decrypt(&path, "testpassword1").unwrap_err();
        assert!(matches!(e, KeystoreError::WrongPassword(_)), "{e}");
        assert!(decrypt(&path, "testpassword").is_ok());
    }
}
