//! `cargo fuzz run receipt` — see [`alara_audit::fuzz::receipt`] for what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| alara_audit::fuzz::receipt(data));
