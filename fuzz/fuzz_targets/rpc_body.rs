//! `cargo fuzz run rpc_body` — see [`alara_chain::fuzz::rpc_body`] for what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| alara_chain::fuzz::rpc_body(data));
