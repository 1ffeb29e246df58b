//! `cargo fuzz run fl_update` — see [`alara_fl::fuzz::update_upload`] for what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| alara_fl::fuzz::update_upload(data));
