//! Integration tests of generative art: the generator's determinism and cross-check, the
//! provenance documents, the contracts on the embedded chain and anvil, and the whole path
//! from a prompt to a verified resold token.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail by panicking")]

mod contracts;
mod generator;
mod studio;
