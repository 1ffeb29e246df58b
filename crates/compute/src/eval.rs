//! The held-out evaluation set, cut into chunks: its Merkle root, the task's commitment to
//! it, and the proofs the one-step needs.

use alloy::primitives::B256;
use serde::{Deserialize, Serialize};

use crate::fixed::{self, Tensor};
use crate::model::{hash_words, word};
use crate::{error::invalid, merkle, Result};

/// Default rows per chunk: small enough that one step's GEMM stays far below a block.
pub const DEFAULT_CHUNK_ROWS: usize = 16;

/// One chunk: features (`rows × width`) and labels (`rows × 1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// Quantised features.
    pub features: Tensor,
    /// Class ids.
    pub labels: Tensor,
}

/// `chunkLeaf(c) = keccak256(abi.encode(uint256 c, bytes32 hash(features), bytes32 hash(labels)))`.
pub fn chunk_leaf(index: u64, features_hash: B256, labels_hash: B256) -> B256 {
    hash_words(&[word(index), features_hash, labels_hash])
}

/// `keccak256(abi.encode(bytes32 evalRoot, uint256 C, uint256 rowCount, bytes32 salt))`.
pub fn eval_commitment(root: B256, chunks: u64, rows: u64, salt: B256) -> B256 {
    hash_words(&[root, word(chunks), word(rows), salt])
}

/// An evaluation set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalSet {
    /// The chunks, in order.
    pub chunks: Vec<Chunk>,
}

impl EvalSet {
    /// Cuts `data` into chunks of at most `chunk_rows` rows. Features must lie within the
    /// fixed-point range (about ±32767); standardise wider data first.
    pub fn from_dataset(data: &alara_ml::Dataset, chunk_rows: usize) -> Result<EvalSet> {
        if data.is_empty() {
            return Err(invalid("evaluation set", "it has no rows"));
        }
        if chunk_rows == 0 || chunk_rows > 1024 {
            return Err(invalid("chunk size", format!("{chunk_rows} rows; use 1 to 1024")));
        }
        let mut chunks = Vec::new();
        for (c, (rows, labels)) in
            data.features.chunks(chunk_rows).zip(data.labels.chunks(chunk_rows)).enumerate()
        {
            let mut reals = Vec::with_capacity(rows.len());
            for (i, row) in rows.iter().enumerate() {
                if let Some(v) =
                    row.iter().find(|v| v.is_nan() || v.abs() >= fixed::MAX_REAL as f32)
                {
                    return Err(invalid(
                        "evaluation set",
                        format!(
                            "row {} holds {v}, outside the fixed-point range ±{:.0}; standardise the features first",
                            c * chunk_rows + i,
                            fixed::MAX_REAL
                        ),
                    ));
                }
                reals.push(row.iter().map(|&v| f64::from(v)).collect());
            }
            let labels = labels.iter().map(|&l| l as i32).collect::<Vec<_>>();
            chunks.push(Chunk {
                features: Tensor::quantized(&reals)?,
                labels: Tensor::new(labels.len() as u32, 1, labels)?,
            });
        }
        Ok(EvalSet { chunks })
    }

    /// Number of chunks `C`.
    pub fn chunk_count(&self) -> u64 {
        self.chunks.len() as u64
    }

    /// Number of rows.
    pub fn row_count(&self) -> u64 {
        self.chunks.iter().map(|c| u64::from(c.labels.rows)).sum()
    }

    /// Width of the features.
    pub fn width(&self) -> u32 {
        self.chunks.first().map_or(0, |c| c.features.cols)
    }

    /// Every chunk's leaf.
    pub fn leaves(&self) -> Vec<B256> {
        self.chunks
            .iter()
            .enumerate()
            .map(|(i, c)| chunk_leaf(i as u64, c.features.hash(), c.labels.hash()))
            .collect()
    }

    /// `evalRoot`.
    pub fn root(&self) -> B256 {
        merkle::root(&self.leaves())
    }

    /// The Merkle proof of chunk `c`.
    pub fn chunk_proof(&self, c: usize) -> Vec<B256> {
        merkle::proof(&self.leaves(), c)
    }

    /// The task's commitment to this set under `salt`.
    pub fn commitment(&self, salt: B256) -> B256 {
        eval_commitment(self.root(), self.chunk_count(), self.row_count(), salt)
    }
}
