//! Integration tests of alara-market against real chains (the embedded node and anvil).

mod capped;
mod conservation;
mod contract;
mod flows;
mod hardening;
mod support;
