//! alara-api integration tests: handlers through `Router::oneshot`, the OpenAPI document
//! checked by an independent validator, auth refusals, and the audit and store routes
//! against the real trail and store.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

mod audit;
mod auth;
mod claims;
mod compute;
mod insurance;
mod openapi;
mod store;
mod support;
mod views;
