//! `cargo fuzz run car_import` — see [`alara_store::fuzz::car_import`] for what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| alara_store::fuzz::car_import(data));
