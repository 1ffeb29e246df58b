//! [`Fault`]: what can be wrong with a delivery. A leaf module, so the crate's error type
//! can name it without depending on the sale logic.

use alloy::primitives::B256;
use serde::{Deserialize, Serialize};

/// What is wrong with a delivery (grounds for a dispute the buyer wins).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum Fault {
    /// The envelope is not encrypted to the key the buyer registered.
    #[error("the key envelope is not encrypted to the buyer's registered key (a key for another buyer?)")]
    KeyNotForBuyer,
    /// The envelope opens but holds no usable key, or is damaged.
    #[error("the key envelope is unreadable: {0}")]
    KeyUnreadable(String),
    /// The ciphertext does not decrypt with the delivered key (wrong key, or tampered:
    /// age's MAC fails).
    #[error("the ciphertext does not decrypt with the delivered key: {0}")]
    CiphertextUndecryptable(String),
    /// The plaintext is not the committed one.
    #[error("the plaintext hashes to {found}, the listing committed to {expected}")]
    PlaintextMismatch {
        /// The listing's commitment.
        expected: B256,
        /// What the delivered data hashes to.
        found: B256,
    },
}
