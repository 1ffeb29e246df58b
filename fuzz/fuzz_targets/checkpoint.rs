//! `cargo fuzz run checkpoint` — see [`alara_audit::fuzz::checkpoint`] for what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| alara_audit::fuzz::checkpoint(data));
