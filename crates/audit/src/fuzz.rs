//! Fuzz entry points: what `fuzz/fuzz_targets/*` hand to libFuzzer, and what the test
//! suite runs under proptest. Each takes arbitrary bytes and must return without panicking;
//! the checks inside state what must hold whenever the input parses.

use crate::hash::Hash;
use crate::proof::{ConsistencyProof, InclusionProof};
use crate::receipt::Receipt;
use crate::SignedCheckpoint;

/// Receipt parser: arbitrary bytes parse or fail with an error; a receipt that parses
/// re-serialises to one that parses to the same receipt, and its offline verification
/// (hashes, proof, note signature) returns rather than panics.
pub fn receipt(data: &[u8]) {
    let Ok(r) = Receipt::from_json(data) else { return };
    let again = Receipt::from_json(r.to_json().as_bytes());
    assert!(again.is_ok(), "a parsed receipt must re-parse: {:?}", again.err());
    let _ = r.verify_offline(None);
    let _ = r.entry_bytes();
}

/// Proof decoders: arbitrary bytes decode or fail; a decoded proof encodes back to the
/// same bytes, and verifying it against any hashes returns rather than panics.
pub fn proofs(data: &[u8]) {
    let (a, b) = hashes(data);
    if let Ok(p) = InclusionProof::decode(data) {
        assert_eq!(p.encode(), data, "inclusion proof encoding must round-trip");
        let _ = p.verify(&a, &b);
    }
    if let Ok(p) = ConsistencyProof::decode(data) {
        assert_eq!(p.encode(), data, "consistency proof encoding must round-trip");
        let _ = p.verify(&a, &b);
    }
}

/// Signed-note parser (the checkpoint inside every receipt).
pub fn checkpoint(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(cp) = SignedCheckpoint::parse(text) {
        let again = SignedCheckpoint::parse(&cp.note);
        assert!(again.is_ok(), "a parsed note must re-parse");
    }
}

fn hashes(data: &[u8]) -> (Hash, Hash) {
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    for (i, x) in data.iter().enumerate() {
        a[i % 32] ^= x;
        b[(i * 7) % 32] = b[(i * 7) % 32].wrapping_add(*x);
    }
    (Hash(a), Hash(b))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn fuzz_entry_points_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
            super::receipt(&bytes);
            super::proofs(&bytes);
            super::checkpoint(&bytes);
        }
    }

    /// The seed corpus of `fuzz/` (a real receipt and real proofs) passes the checks, and
    /// so does every single-byte corruption of it.
    #[test]
    fn corpus_and_its_one_byte_mutations() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
        let mut seen = 0;
        for target in ["receipt", "proofs", "checkpoint"] {
            let Ok(files) = std::fs::read_dir(dir.join(target)) else { continue };
            for f in files.flatten() {
                let bytes = std::fs::read(f.path()).unwrap();
                seen += 1;
                let run = |b: &[u8]| match target {
                    "receipt" => super::receipt(b),
                    "proofs" => super::proofs(b),
                    _ => super::checkpoint(b),
                };
                run(&bytes);
                for i in 0..bytes.len() {
                    let mut m = bytes.clone();
                    m[i] ^= 0x41;
                    run(&m);
                }
            }
        }
        assert!(seen >= 3, "fuzz/corpus seeds missing ({seen} found)");
    }
}
