//! alara-audit: the verifiable audit trail, the spine of the platform.
//!
//! What this crate owns:
//! - an append-only Merkle log with RFC 6962/9162 hashing ([`hash`], [`tree`]), durable
//!   group-committed storage ([`log`]) and inclusion/consistency proofs ([`proof`]);
//! - checkpoints in the C2SP signed-note format, signed with an Ed25519 key kept in an
//!   age-encrypted key file ([`checkpoint`], [`keyfile`]);
//! - typed, versioned audit entries whose personal content is only ever present as salted
//!   commitments ([`entry`]), with the salts and payloads kept off-log by data subject
//!   ([`vault`]) so erasure (GDPR Art. 17) is crypto-shredding;
//! - receipts that verify offline ([`receipt`]), queries and exports for auditors
//!   ([`Query`]), and the [`AuditTrail`] that ties them together.
//!
//! What it does not own: the chain (it reaches `AuditAnchor` through an alloy `Provider`
//! given by the caller, see `anchor`), model execution (alara-ml), or the CLI.
//!
//! ```no_run
//! # fn demo() -> alara_audit::Result<()> {
//! use alara_audit::{AuditTrail, TrailConfig, entry::EntryBody};
//! let trail = AuditTrail::open(TrailConfig::new("/tmp/audit", "correct horse battery"))?;
//! let appended = trail.append(&alara_audit::entry::Entry::now(EntryBody::Payout(
//!     alara_audit::entry::Payout { context: "fl/round/3".into(), recipient: "0xabc".into(),
//!         token: "ALR".into(), amount: 10u128.pow(18), tx: None },
//! )))?;
//! let receipt = trail.receipt(appended.index)?;
//! receipt.verify_offline(None)?;
//! # Ok(()) }
//! ```

pub mod anchor;
pub mod audited;
#[cfg(feature = "bench")]
pub mod bench;
pub mod checkpoint;
#[cfg(feature = "bench")]
pub mod crash;
pub mod entry;
mod error;
#[cfg(feature = "test-utils")]
pub mod fuzz;
pub mod hash;
pub mod keyfile;
pub mod log;
pub mod proof;
pub mod receipt;
pub mod trail;
pub mod tree;
pub mod vault;

pub use checkpoint::{Checkpoint, NoteSigner, NoteVerifier, SignedCheckpoint};
pub use error::{Error, Result};
pub use hash::{leaf_hash, node_hash, Hash};
pub use log::{Appended, Log, LogConfig, Ticket};
pub use proof::{ConsistencyProof, InclusionProof};
pub use receipt::Receipt;
pub use trail::{AuditTrail, ErasureReport, Query, TrailConfig};
pub use vault::Opening;
