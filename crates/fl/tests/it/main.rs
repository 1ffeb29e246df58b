//! Integration tests of `alara-fl`, one module per area.

mod chain;
mod common;
mod coordinator;
mod gate;
mod net;
mod replay;
mod settle;
