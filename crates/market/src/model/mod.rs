//! The model marketplace: models published content-addressed in `ModelRegistry` with their
//! parents (base models, datasets bought on the data market) and revenue shares;
//! pay-per-inference through `InferenceChannels`, whose vouchers are bound to the receipt of
//! the previous call; one-time licences as `ModelLicense` ERC-1155 tokens; `alara serve`;
//! usage and revenue from the audit log.
//!
//! - [`card`]: model cards as on the Hugging Face Hub (YAML front matter);
//! - [`artifact`]: accepted file formats (ONNX, safetensors; never pickle) and the stored
//!   package a version is;
//! - [`voucher`]: the EIP-712 vouchers, call receipts and licensed calls, their signing,
//!   strict recovery, JSON and `X-Payment` / `X-License` header forms;
//! - [`chain`]: the typed client of the three contracts and their deployment;
//! - [`serve`]: the paid, audited inference server behind `alara serve`;
//! - [`client`]: the buyer's side of a channel;
//! - [`usage`]: calls and revenue per period from `paid_inference` entries;
//! - [`load`]: many buyers against one server, beside bare tract;
//! - [`bench`](mod@bench): the gas of a claim (1 vs 10,000 calls, 0 vs 3 parents) and the
//!   rate of voucher verification.

pub mod artifact;
pub mod bench;
pub mod card;
pub mod chain;
pub mod client;
pub mod load;
pub mod serve;
pub mod usage;
pub mod voucher;

pub use chain::{ModelMarket, ModelMarketAddresses};
pub use voucher::{
    channels_domain, license_domain, CallReceipt, LicensedCall, SignedLicensedCall, SignedVoucher,
    Voucher,
};
