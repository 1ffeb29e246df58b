//! The contract's records as Rust types: tokens, listings, sales, jobs and their states.

use alloy::primitives::{Address, Bytes, B256, U256};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The payment token: ETH or an ERC-20.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Token {
    /// Native ETH.
    Eth,
    /// An ERC-20 (AlaraToken) at this address.
    Erc20(Address),
}

impl Token {
    /// The address the contract uses (zero for ETH).
    pub fn address(&self) -> Address {
        match self {
            Token::Eth => Address::ZERO,
            Token::Erc20(a) => *a,
        }
    }

    /// From the contract's representation.
    pub fn from_address(a: Address) -> Self {
        if a == Address::ZERO {
            Token::Eth
        } else {
            Token::Erc20(a)
        }
    }

    /// `ETH` or the token address, as written in audit entries.
    pub fn label(&self) -> String {
        match self {
            Token::Eth => "ETH".into(),
            Token::Erc20(a) => a.to_string(),
        }
    }
}

/// What a seller offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingTerms {
    /// Payment token.
    pub token: Token,
    /// Price of a download in base units.
    pub price: U256,
    /// `false` for a compute-only listing (the data is never handed out).
    pub downloadable: bool,
    /// Seconds the seller has to deliver the key after a purchase.
    pub delivery_window: u64,
    /// CID of the ciphertext.
    pub cid: String,
    /// SHA-256 of the plaintext.
    pub plaintext_hash: B256,
    /// Hash of the licence terms.
    pub terms_hash: B256,
}

/// A listing as the chain knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// Listing id.
    pub id: u64,
    /// Seller.
    pub seller: Address,
    /// Open for new purchases and jobs.
    pub active: bool,
    /// The terms.
    pub terms: ListingTerms,
}

/// Where a sale stands (`DataMarket.SaleState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaleState {
    /// Paid into escrow, waiting for the key.
    Paid,
    /// Key delivered; the dispute window runs.
    Delivered,
    /// Buyer confirmed; paid to the seller.
    Confirmed,
    /// Dispute window over; paid to the seller.
    Released,
    /// Seller missed the deadline; refunded to the buyer.
    Refunded,
    /// Buyer disputed; waiting for the arbiter.
    Disputed,
    /// Dispute decided.
    Resolved,
}

impl SaleState {
    pub(crate) fn from_u8(v: u8) -> Result<Self> {
        Ok(match v {
            1 => Self::Paid,
            2 => Self::Delivered,
            3 => Self::Confirmed,
            4 => Self::Released,
            5 => Self::Refunded,
            6 => Self::Disputed,
            7 => Self::Resolved,
            other => return Err(Error::NotFound(format!("sale state {other} is unknown"))),
        })
    }

    /// True when the escrow has left the sale (credited to someone).
    pub fn is_settled(&self) -> bool {
        matches!(self, Self::Confirmed | Self::Released | Self::Refunded | Self::Resolved)
    }
}

/// A sale as the chain knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sale {
    /// Sale id.
    pub id: u64,
    /// The listing bought.
    pub listing_id: u64,
    /// Buyer.
    pub buyer: Address,
    /// Escrowed amount (as received: net of a token's transfer fee).
    pub amount: U256,
    /// The dispute bond as received (zero until disputed).
    pub bond: U256,
    /// State.
    pub state: SaleState,
    /// Unix time: delivery deadline (Paid), end of the dispute window (Delivered), the
    /// arbiter's deadline (Disputed).
    pub deadline: u64,
    /// The buyer's X25519 public key registered with the purchase.
    pub buyer_key: [u8; 32],
    /// The delivered key envelope, once delivered.
    pub envelope: Option<Bytes>,
    /// The dispute evidence, once disputed.
    pub evidence: Option<Bytes>,
}

/// Where a compute job stands (`DataMarket.JobState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Paid into escrow, waiting for the result.
    Paid,
    /// Result delivered with a signed receipt; paid to the owner.
    Completed,
    /// The owner reported a failure; refunded.
    Failed,
    /// Deadline passed without a result; refunded.
    Refunded,
}

impl JobState {
    pub(crate) fn from_u8(v: u8) -> Result<Self> {
        Ok(match v {
            1 => Self::Paid,
            2 => Self::Completed,
            3 => Self::Failed,
            4 => Self::Refunded,
            other => return Err(Error::NotFound(format!("job state {other} is unknown"))),
        })
    }
}

/// An allow-listed algorithm on a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputeOffer {
    /// Price of one job in the listing's token.
    pub price: U256,
    /// Seconds the owner has to deliver a result.
    pub job_window: u64,
}

/// The on-chain record of a completed job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobResultRef {
    /// The owner's signed receipt, as the contract checked it.
    pub receipt: crate::receipt::SignedJobReceipt,
    /// CID of the result encrypted to the buyer.
    pub result_cid: String,
}

/// A compute job as the chain knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Job id.
    pub id: u64,
    /// The dataset's listing.
    pub listing_id: u64,
    /// Who paid.
    pub buyer: Address,
    /// Escrowed amount.
    pub amount: U256,
    /// State.
    pub state: JobState,
    /// Unix time by which the result is due.
    pub deadline: u64,
    /// Hash of the algorithm recipe.
    pub algorithm: B256,
    /// The buyer's X25519 key the result is encrypted to.
    pub buyer_key: [u8; 32],
    /// The result, once completed.
    pub result: Option<JobResultRef>,
}
