//! `alara-nft`: generative art whose provenance anyone can re-check, minted as tokens that
//! pay their artist a royalty on resale.
//!
//! This crate owns:
//! - [`generate`]: the deterministic generator. A CPPN (`models/cppn.onnx`, SHA-256 pinned
//!   in [`generate::SHIPPED_MODEL_SHA256`]) turns (model, prompt, seed) into a 256 × 256 PNG
//!   bit for bit identically on any machine: the graph is evaluated exactly in integers by
//!   [`fixed`], and tract only cross-checks it;
//! - [`fixed`]: the Q16.16 evaluator of the CPPN's op set, every operator defined exactly;
//! - [`png`]: a PNG encoder with fixed settings (filter None, stored deflate blocks, no
//!   ancillary chunks);
//! - [`provenance`]: the salted prompt commitment, the token metadata (the common NFT schema
//!   with ERC-7007's `prompt`, `aigc_type`, `aigc_data`, `proof_type`), the C2PA-style
//!   manifest stored next to the image, and the `artwork` audit entry;
//! - [`chain`]: clients of ProvenanceNFT (commit, mint in a later block, reveal) and
//!   NftMarket (list, buy, cancel, withdraw) over any alloy provider;
//! - [`studio`]: the whole path — prepare (generate and store), mint (commit–reveal, audit
//!   entry), verify (regenerate and compare every piece);
//! - [`bench`](mod@bench) (feature `bench`): mint gas beside a plain ERC-721 and images
//!   generated per second.
//!
//! What the chain can and cannot check: ProvenanceNFT re-checks the prompt against its
//! commitment and the image hash, but it cannot run the model; that the image comes from
//! (model, prompt, seed) is checked off-chain by regenerating it ([`studio::verify`]).
//!
//! Royalties: the token reports an ERC-2981 royalty (10% to the artist by default) and
//! NftMarket pays it on every sale. ERC-2981 is not enforced by the standard or by other
//! marketplaces: a sale elsewhere, or a private transfer, may pay nothing.
//!
//! It does not own the chain (any EVM RPC, through a provider), the content store
//! (`alara-store`) or the audit log (`alara-audit`).
//!
//! ```no_run
//! # fn main() -> alara_nft::Result<()> {
//! let cppn = alara_nft::generate::Cppn::shipped()?;
//! let (png, sha256) = cppn.generate_png("a lighthouse in a storm", 7)?;
//! std::fs::write("art.png", &png).ok();
//! println!("{}", hex::encode(sha256));
//! # Ok(()) }
//! ```

// Errors wrap the store's and alloy's errors as they are (a store error keeps its CID, a
// revert its data); they are the cold path, and boxing them would make matching on them
// clumsy for callers.
#![allow(clippy::result_large_err)]

#[cfg(feature = "bench")]
pub mod bench;
pub mod chain;
mod error;
pub mod fixed;
pub mod generate;
pub mod png;
pub mod provenance;
pub mod studio;

pub use error::{Error, Result};
pub use generate::{Cppn, Image};
