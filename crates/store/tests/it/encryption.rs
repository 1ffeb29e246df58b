//! age encryption of datasets: seal-then-add, wrong keys, tampering, truncation.

use alara_store::encrypt::{self, generate_identity};
use alara_store::{AddOptions, Error, FsOptions, Store};

use crate::common::{content, sha256_hex};

#[test]
fn sealed_dataset_commits_plaintext_and_publishes_ciphertext() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), FsOptions { sync: false }).unwrap();
    let id = generate_identity();
    let plaintext = content(21, 1_500_000);
    let sealed = store.add_encrypted(&[id.to_public()], &plaintext[..], &AddOptions::v1()).unwrap();
    assert_eq!(sealed.plaintext_sha256, sha256_hex(&plaintext));
    assert_eq!(sealed.plaintext_size, plaintext.len() as u64);
    let mut ciphertext = Vec::new();
    store.cat_to(&sealed.ciphertext.cid, &mut ciphertext).unwrap();
    assert!(ciphertext.starts_with(b"age-encryption.org/v1"));
    assert_eq!(ciphertext.len() as u64, sealed.ciphertext.size);
    // The CID is that of the ciphertext bytes, as any IPFS node would compute it.
    let dir2 = tempfile::tempdir().unwrap();
    let other_store = Store::open_with(dir2.path(), FsOptions { sync: false }).unwrap();
    assert_eq!(
        other_store.add_reader(&ciphertext[..], &AddOptions::v1()).unwrap().cid,
        sealed.ciphertext.cid
    );
    let mut back = Vec::new();
    encrypt::decrypt(&id, &ciphertext[..], &mut back).unwrap();
    assert_eq!(back, plaintext);
}

fn encrypted(size: u64) -> (alara_store::Identity, Vec<u8>, Vec<u8>) {
    let id = generate_identity();
    let pt = content(22, size);
    let mut ct = Vec::new();
    encrypt::encrypt_to(&[id.to_public()], &pt[..], &mut ct).unwrap();
    (id, pt, ct)
}

#[test]
fn wrong_key_is_a_clear_error() {
    let (_, _, ct) = encrypted(1000);
    let err = encrypt::decrypt(&generate_identity(), &ct[..], &mut Vec::new()).unwrap_err();
    assert!(matches!(err, Error::Decrypt(_)));
    assert!(err.to_string().contains("wrong key"), "{err}");
}

#[test]
fn tampered_payload_fails_authentication() {
    let (id, _, mut ct) = encrypted(300_000);
    let i = ct.len() / 2;
    ct[i] ^= 0x01;
    let err = encrypt::decrypt(&id, &ct[..], &mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("tampered"), "{err}");
}

#[test]
fn tampered_header_fails() {
    let (id, _, mut ct) = encrypted(1000);
    // Inside the X25519 stanza's body (the wrapped file key).
    let pos = ct.windows(4).position(|w| w == b"\n---").unwrap() - 5;
    ct[pos] = if ct[pos] == b'A' { b'B' } else { b'A' };
    let err = encrypt::decrypt(&id, &ct[..], &mut Vec::new()).unwrap_err();
    assert!(matches!(err, Error::Decrypt(_)), "{err}");
}

#[test]
fn truncated_ciphertext_fails() {
    let (id, _, ct) = encrypted(200_000);
    let err = encrypt::decrypt(&id, &ct[..ct.len() - 17], &mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn multiple_recipients_each_decrypt() {
    let a = generate_identity();
    let b = generate_identity();
    let mut ct = Vec::new();
    encrypt::encrypt_to(&[a.to_public(), b.to_public()], &b"data"[..], &mut ct).unwrap();
    for id in [&a, &b] {
        let mut pt = Vec::new();
        encrypt::decrypt(id, &ct[..], &mut pt).unwrap();
        assert_eq!(pt, b"data");
    }
}
