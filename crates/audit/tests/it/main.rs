//! Integration tests of alara-audit: the trail end to end, erasure, queries, and crash
//! recovery with a writer process killed by SIGKILL.

mod anchor_client;
mod anchor_contract;
mod capped;
mod chain;
mod crash;
mod trail;
