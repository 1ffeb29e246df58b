//! `cargo fuzz run proofs` — see [`alara_audit::fuzz::proofs`] for what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| alara_audit::fuzz::proofs(data));
