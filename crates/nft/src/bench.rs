//! What `alara bench nft` measures: the gas of a ProvenanceNFT mint (commit + mint, with its
//! provenance record and royalty) beside a plain OpenZeppelin ERC-721 mint deployed in the
//! same run, and images generated per second by the exact evaluator beside tract running the
//! same graph on floats.

use std::time::Instant;

use alara_contracts::call::send;
use alara_contracts::PlainERC721;
use alloy::primitives::{aliases::U96, Address, B256};
use alloy::providers::Provider;
use serde::Serialize;

use crate::chain::Collection;
use crate::generate::{tract_pixels, Cppn};
use crate::{Error, Result};

/// Gas of minting one token, each way.
#[derive(Clone, Debug, Serialize)]
pub struct MintGas {
    /// ProvenanceNFT `commit`.
    pub commit: u64,
    /// ProvenanceNFT `mint` (provenance record, royalty, `_safeMint`).
    pub mint: u64,
    /// commit + mint.
    pub provenance_total: u64,
    /// A plain OpenZeppelin ERC-721 `_safeMint` of the same position in the collection.
    pub plain_mint: u64,
    /// provenance_total / plain_mint.
    pub ratio: f64,
}

/// Mints `n` tokens each way (the second and later mints are measured: the first one also
/// pays for initialising the counters) and returns the mean gas. `minter` is `p`'s sender.
pub async fn mint_gas<P: Provider + Clone>(p: P, minter: Address, n: u64) -> Result<MintGas> {
    let plain = PlainERC721::deploy(p.clone()).await.map_err(alara_contracts::Error::from)?;
    let nft = Collection::deploy(p.clone()).await?;
    let (mut commit, mut mint, mut plain_mint) = (0u64, 0u64, 0u64);
    for i in 0..=n {
        let r = send("mint", &plain.mint(minter), &[]).await?;
        let request = alara_contracts::ProvenanceNFT::MintRequest {
            modelHash: B256::repeat_byte(1),
            promptCommitment: B256::repeat_byte(2),
            seed: i,
            royaltyBps: U96::from(1000),
            imageHash: B256::from(alloy::primitives::U256::from(i + 1)),
            // CIDv1 (base32, raw leaves) lengths, as the studio stores them.
            imageCid: format!("bafkreib{:0>51}", i),
            metadataCid: format!("bafkreic{:0>51}", i),
        };
        let (_, c) = nft.commit(minter, &request).await?;
        crate::chain::wait_until(
            &p,
            c.block_number.unwrap_or_default() + 1,
            std::time::Duration::from_secs(30),
        )
        .await?;
        let (_, m) = nft.mint(&request).await?;
        if i > 0 {
            commit += c.gas_used;
            mint += m.gas_used;
            plain_mint += r.gas_used;
        }
    }
    let n = n.max(1);
    let (commit, mint, plain_mint) = (commit / n, mint / n, plain_mint / n);
    Ok(MintGas {
        commit,
        mint,
        provenance_total: commit + mint,
        plain_mint,
        ratio: (commit + mint) as f64 / plain_mint.max(1) as f64,
    })
}

/// Images generated per second.
#[derive(Clone, Debug, Serialize)]
pub struct Throughput {
    /// Images generated each way.
    pub images: usize,
    /// Exact evaluator, PNG encoded: images per second.
    pub exact_per_s: f64,
    /// tract (float, its SIMD kernels) on the same features, pixels only: images per second.
    pub tract_per_s: f64,
    /// The largest difference of a channel between the two, in 1/255 steps.
    pub max_channel_diff: u8,
}

/// Generates `images` images with the exact evaluator (PNG included) and with tract.
pub fn throughput(cppn: &Cppn, images: usize) -> Result<Throughput> {
    let images = images.max(1);
    let t = Instant::now();
    let mut exact = Vec::new();
    for i in 0..images {
        let image = cppn.generate("bench: a lighthouse in a storm", i as u64)?;
        image.png()?;
        exact = image.rgb;
    }
    let exact_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut floats = Vec::new();
    for i in 0..images {
        floats = tract_pixels(cppn.bytes(), "bench: a lighthouse in a storm", i as u64)?;
    }
    let tract_s = t.elapsed().as_secs_f64();
    if floats.len() != exact.len() {
        return Err(Error::Tract(format!(
            "{} channels from tract, {} exact",
            floats.len(),
            exact.len()
        )));
    }
    let max_channel_diff =
        exact.iter().zip(&floats).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
    Ok(Throughput {
        images,
        exact_per_s: images as f64 / exact_s.max(1e-9),
        tract_per_s: images as f64 / tract_s.max(1e-9),
        max_channel_diff,
    })
}
