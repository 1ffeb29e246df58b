//! The model marketplace: models published content-addressed in `ModelRegistry` with their
//! parents (base models, datasets bought on the data market) and revenue shares;
//! pay-per-inference through `InferenceChannels`, whose vouchers are bound to the receipt of
//! the previous call; one-time licences as `ModelLicense` ERC-1155 tokens.
//!
//! - [`voucher`]: the EIP-712 vouchers, call receipts and licensed calls, their signing,
//!   strict recovery, JSON and `X-Payment` / `X-License` header forms;
//! - [`chain`]: the typed client of the three contracts and their deployment;
//! - [`bench`](mod@bench): the gas of a claim (1 vs 10,000 calls, 0 vs 3 parents) and the
//!   rate of voucher verification.
//!
//! Serving models over HTTP is not here: this module is what a server and a client build
//! on.

pub mod bench;
pub mod chain;
pub mod voucher;

pub use chain::{ModelMarket, ModelMarketAddresses};
pub use voucher::{
    channels_domain, license_domain, CallReceipt, LicensedCall, SignedLicensedCall, SignedVoucher,
    Voucher,
};
