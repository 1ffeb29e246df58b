//! alara-store: Alara's content store.
//!
//! Owns content addressing identical to Kubo's `ipfs add` defaults (UnixFS in dag-pb,
//! 256 KiB chunks, balanced DAG of 174 links, CIDv0 or CIDv1 with raw leaves), CAR import
//! and export, the local blockstore (Kubo's flatfs layout, fsynced), a Kubo HTTP RPC
//! backend behind the same [`Blockstore`] trait, pins and garbage collection, and age
//! encryption of datasets before they are stored.
//!
//! It does not own what is committed on-chain (the data market commits the plaintext
//! SHA-256 and publishes the ciphertext CID this crate returns), nor directories: a DAG is
//! one file.
//!
//! Every block read is checked against its CID; a corrupt block is an
//! [`Error::CorruptBlock`] naming it.
//!
//! It also holds the file helpers every crate and the CLI use for whole files ([`files`]):
//! reads capped while streaming, and writes that replace a file atomically.

// Errors carry the CID they are about (80 bytes inline); they are the cold path, and
// boxing every CID would make matching on them clumsy for callers.
#![allow(clippy::result_large_err)]

#[cfg(feature = "bench")]
pub mod bench;
pub mod block;
pub mod blockstore;
pub mod car;
pub mod dag;
pub mod dag_pb;
pub mod encrypt;
mod error;
pub mod files;
pub mod fs;
#[cfg(feature = "test-utils")]
pub mod fuzz;
pub mod importer;
pub mod kubo;
mod pb;
pub mod reader;
pub mod store;
pub mod unixfs;

pub use block::{parse_cid, sha256, Block, Cid, CidVersion};
pub use blockstore::{Blockstore, GcStats};
pub use car::{CarReader, CarWriter};
pub use encrypt::{decrypt, encrypt_to, Identity, Recipient, SealedDataset};
pub use error::{Error, Result};
pub use files::{read_capped, read_file_capped, write_atomic, AtomicFile};
pub use fs::{FsBlockstore, FsOptions};
pub use importer::{AddOptions, AddResult, FileImporter};
pub use kubo::KuboBlockstore;
pub use reader::FileReader;
/// The SHA-256 hasher used for blocks and commitments (for streaming commitments).
pub use sha2::{Digest, Sha256};
pub use store::{Adding, ExportResult, ImportResult, Store, VerifyResult};

/// Serializes a CID as its string form (`Qm…`, `bafy…`).
pub(crate) fn serialize_cid<S: serde::Serializer>(
    cid: &Cid,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(cid)
}

/// Serializes CIDs as strings.
pub(crate) fn serialize_cids<S: serde::Serializer>(
    cids: &[Cid],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(cids.iter().map(|c| c.to_string()))
}
