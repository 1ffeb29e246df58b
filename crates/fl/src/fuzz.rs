//! Fuzz entry point for FL update uploads: what `fuzz/fuzz_targets/fl_update.rs` hands to
//! libFuzzer, and what the test suite runs under proptest. It takes the body of a
//! `POST /v1/update/…` (safetensors bytes from the network) and must return without
//! panicking; the checks state what must hold whenever the body parses.

use sha2::{Digest, Sha256};

use crate::model::{ModelSpec, Weights};
use crate::round::ClientUpdate;

/// The model shapes the entry point parses against: a tiny logistic model (so random
/// mutations of a valid file stay near the parser's interesting paths) and a small MLP.
pub const SPECS: [ModelSpec; 2] = [
    ModelSpec { kind: crate::ModelKind::Logistic, n_features: 2, n_classes: 2 },
    ModelSpec { kind: crate::ModelKind::Mlp { hidden: 3 }, n_features: 2, n_classes: 2 },
];

/// Update body parser: arbitrary bytes parse or fail with an error. A body that parses
/// holds only finite values of exactly the spec's tensors; its update hash is the SHA-256
/// of the canonical re-serialisation, which parses back to the same weights.
pub fn update_upload(data: &[u8]) {
    for spec in SPECS {
        let Ok(u) = ClientUpdate::from_bytes(spec, "fuzz", 1, 10, data) else { continue };
        assert_eq!(u.weights.values.len(), spec.n_params(), "a parsed update has the spec's size");
        assert!(u.weights.first_non_finite().is_none(), "a parsed update is finite");
        let canonical = u.weights.to_safetensors();
        let hash: [u8; 32] = Sha256::digest(&canonical).into();
        assert_eq!(u.update_hash, hash, "the update hash is over the canonical bytes");
        let again = Weights::from_safetensors(spec, &canonical);
        assert_eq!(again.ok().as_ref(), Some(&u.weights), "canonical bytes must re-parse");
    }
}

/// A valid upload for `SPECS[i]`: the seed the tests mutate.
pub fn seed(i: usize) -> Vec<u8> {
    let spec = SPECS[i % SPECS.len()];
    spec.init(7).to_safetensors()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn random_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
            super::update_upload(&bytes);
        }

        #[test]
        fn mutated_valid_bodies_never_panic(
            which in 0usize..2,
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
            cut in any::<usize>(),
        ) {
            let mut b = super::seed(which);
            for (at, v) in edits {
                let i = at % b.len();
                b[i] = v;
            }
            super::update_upload(&b);
            let keep = cut % (b.len() + 1);
            super::update_upload(&b[..keep]);
        }
    }

    /// The seeds parse, so the checks above are really exercised; so does every one-byte
    /// corruption of them (most are refused, none may panic).
    #[test]
    fn seeds_and_their_one_byte_mutations() {
        for i in 0..super::SPECS.len() {
            let seed = super::seed(i);
            assert!(
                crate::round::ClientUpdate::from_bytes(super::SPECS[i], "s", 1, 1, &seed).is_ok()
            );
            for at in 0..seed.len() {
                for v in [0u8, 0x7f, 0xff, seed[at] ^ 1] {
                    let mut b = seed.clone();
                    b[at] = v;
                    super::update_upload(&b);
                }
            }
        }
    }
}
