//! The deterministic image generator: (model, prompt, seed) → the same PNG bytes on any
//! machine.
//!
//! The model is a CPPN (compositional pattern-producing network, `models/cppn.onnx`, written
//! by `scripts/make_cppn.py`): for every pixel it maps 15 features to a colour. The features
//! are computed here in Q16.16 fixed point:
//!
//! | features | from |
//! |---|---|
//! | 0–2: x, y, r | the pixel centre in [-1, 1]² times the seed's zoom s; r = ⌊√(x² + y²)⌋ |
//! | 3–10: prompt latent | `SHA-256("alara-nft/cppn/prompt/v1\0" ‖ prompt)`, bytes 2i..2i+2 as little-endian u16 u, z = (2u − 65535) / 65536 ∈ [−1, 1] |
//! | 11–14: seed latent | `SHA-256("alara-nft/cppn/seed/v1\0" ‖ seed as u64 LE)`, the same way |
//!
//! The zoom is s = 1 + h₈ · 2⁻⁷ ∈ [1, 3), h₈ the seed hash's byte 8. So the prompt chooses
//! the picture's character (8 latent values), the seed a variation of it (4 more latent
//! values and the zoom), and the same (model, prompt, seed) is always the same picture.
//!
//! The graph is evaluated exactly by [`crate::fixed`] (integers, no floats), each output
//! value v ∈ [0, 1] becomes the byte `(255·v·2¹⁶ + 2¹⁵) >> 16`, and [`crate::png`] writes the
//! file with fixed settings. [`tract_pixels`] runs the same graph in tract (float, SIMD) on
//! the same features: a cross-check that the exact evaluator computes the model the file
//! describes, agreeing within 1/255 on every channel (the tests hold it to that).

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::fixed::{self, Graph, ONE};
use crate::{png, Error, Result};

/// Width and height of a generated image, in pixels.
pub const SIZE: u32 = 256;
/// Features a pixel's row holds.
pub const FEATURES: usize = 15;
/// Prompts longer than this (in bytes) are refused; ProvenanceNFT reveals at most this much.
pub const MAX_PROMPT_BYTES: usize = 1_000;
/// The shipped model, compiled into the binary so generation needs no file.
pub static SHIPPED_MODEL: &[u8] = include_bytes!("../../../models/cppn.onnx");
/// SHA-256 of `models/cppn.onnx`, pinned: tokens record it as their model hash.
pub const SHIPPED_MODEL_SHA256: &str =
    "36c90a6048bb0ca20a87ad72dd9e95b7f09964f58aeeeb8dc9af6f044ef2b188";
/// The generator's name and version, as manifests and metadata name it.
pub const GENERATOR: &str = "alara-nft cppn v1 (Q16.16 exact)";

const PROMPT_TAG: &[u8] = b"alara-nft/cppn/prompt/v1\0";
const SEED_TAG: &[u8] = b"alara-nft/cppn/seed/v1\0";

/// A loaded CPPN: its exact graph and the hash of its file.
#[derive(Clone, Debug)]
pub struct Cppn {
    graph: Arc<Graph>,
    hash: [u8; 32],
    bytes: Arc<Vec<u8>>,
}

/// A generated image: 8-bit RGB pixels, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width · height · 3` bytes.
    pub rgb: Vec<u8>,
}

impl Image {
    /// The PNG file (see [`crate::png`] for the fixed settings).
    pub fn png(&self) -> Result<Vec<u8>> {
        png::encode_rgb8(self.width, self.height, &self.rgb)
    }
}

impl Cppn {
    /// The model shipped with Alara (compiled in), checked against its pinned hash.
    pub fn shipped() -> Result<Cppn> {
        let cppn = Cppn::from_bytes(SHIPPED_MODEL, "models/cppn.onnx (compiled in)")?;
        let found = hex::encode(cppn.hash);
        if found != SHIPPED_MODEL_SHA256 {
            return Err(Error::ModelHash { expected: SHIPPED_MODEL_SHA256.into(), found });
        }
        Ok(cppn)
    }

    /// A CPPN from an ONNX file's bytes; `origin` names it in errors.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Cppn> {
        let graph = Graph::from_onnx(bytes, origin, FEATURES)?;
        if graph.output_width() != 3 {
            return Err(Error::Model {
                origin: origin.into(),
                detail: format!("output of width {}, expected 3 (RGB)", graph.output_width()),
            });
        }
        Ok(Cppn {
            graph: Arc::new(graph),
            hash: Sha256::digest(bytes).into(),
            bytes: Arc::new(bytes.to_vec()),
        })
    }

    /// SHA-256 of the model file: the model hash a token records.
    pub fn model_hash(&self) -> [u8; 32] {
        self.hash
    }

    /// The model file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Generates the [`SIZE`] × [`SIZE`] image of `prompt` and `seed`.
    pub fn generate(&self, prompt: &str, seed: u64) -> Result<Image> {
        check_prompt(prompt)?;
        let features = features(prompt, seed, SIZE);
        let mut scratch = self.graph.scratch();
        let mut rgb = Vec::with_capacity(features.len() / FEATURES * 3);
        for row in features.chunks_exact(FEATURES) {
            let out = self.graph.eval(row, &mut scratch)?;
            rgb.extend(out.iter().map(|&v| to_byte(v)));
        }
        Ok(Image { width: SIZE, height: SIZE, rgb })
    }

    /// The PNG of `prompt` and `seed` and its SHA-256.
    pub fn generate_png(&self, prompt: &str, seed: u64) -> Result<(Vec<u8>, [u8; 32])> {
        let png = self.generate(prompt, seed)?.png()?;
        let hash = Sha256::digest(&png).into();
        Ok((png, hash))
    }
}

/// Refuses empty and over-long prompts.
pub fn check_prompt(prompt: &str) -> Result<()> {
    if prompt.trim().is_empty() || prompt.len() > MAX_PROMPT_BYTES {
        return Err(Error::Invalid {
            what: "prompt",
            detail: format!(
                "{} bytes; a prompt is 1 to {MAX_PROMPT_BYTES} bytes of UTF-8 and not blank",
                prompt.len()
            ),
        });
    }
    Ok(())
}

/// A Q16.16 output value in [0, 1] as a byte: `round(255 · v)`, clamped.
fn to_byte(v: i64) -> u8 {
    ((v * 255 + (ONE / 2)) >> fixed::FRAC).clamp(0, 255) as u8
}

/// `n` latent values in [−1, 1] (Q16.16) from `SHA-256(tag ‖ data)`, and the hash.
fn latent(tag: &[u8], data: &[u8], n: usize) -> (Vec<i64>, [u8; 32]) {
    let h: [u8; 32] = Sha256::new().chain_update(tag).chain_update(data).finalize().into();
    let z = (0..n).map(|i| (i64::from(u16::from_le_bytes([h[2 * i], h[2 * i + 1]])) << 1) - 65_535);
    (z.collect(), h)
}

/// Every pixel's features, row-major, [`FEATURES`] Q16.16 values a pixel, for a `size` ×
/// `size` image.
pub fn features(prompt: &str, seed: u64, size: u32) -> Vec<i64> {
    let (zp, _) = latent(PROMPT_TAG, prompt.as_bytes(), 8);
    let (zs, h) = latent(SEED_TAG, &seed.to_le_bytes(), 4);
    let zoom = ONE + i64::from(h[8]) * 512;
    let n = i64::from(size);
    // Pixel centre c in [-1, 1]: (2c + 1 - n) / n.
    let coord = |c: i64| fixed::mul(((2 * c + 1 - n) << fixed::FRAC) / n, zoom);
    let mut out = Vec::with_capacity((size * size) as usize * FEATURES);
    for py in 0..n {
        let y = coord(py);
        for px in 0..n {
            let x = coord(px);
            // x² + y² is Q32.32; its integer square root is r in Q16.16, exactly.
            let r = ((x * x + y * y) as u64).isqrt() as i64;
            out.extend_from_slice(&[x, y, r]);
            out.extend_from_slice(&zp);
            out.extend_from_slice(&zs);
        }
    }
    out
}

/// The same image computed by tract from the model's float graph on the same features,
/// rounded to bytes the same way: the cross-check of the exact evaluator.
pub fn tract_pixels(model: &[u8], prompt: &str, seed: u64) -> Result<Vec<u8>> {
    use tract_onnx::prelude::*;
    let feats = features(prompt, seed, SIZE);
    let rows = feats.len() / FEATURES;
    // Q16.16 values below 2^24 in magnitude are exact in f32.
    let floats: Vec<f32> = feats.iter().map(|&v| v as f32 / ONE as f32).collect();
    let run = || -> TractResult<Vec<u8>> {
        let plan = tract_onnx::onnx()
            .model_for_read(&mut &model[..])?
            .with_input_fact(0, f32::fact([rows, FEATURES]).into())?
            .into_optimized()?
            .into_runnable()?;
        let input = Tensor::from_shape(&[rows, FEATURES], &floats)?;
        let out = plan.run(tvec!(input.into_tvalue()))?;
        let view = out[0].to_plain_array_view::<f32>()?;
        Ok(view.iter().map(|&v| (v * 255.0).round().clamp(0.0, 255.0) as u8).collect())
    };
    std::panic::catch_unwind(run)
        .map_err(|_| Error::Tract("tract panicked running the model".into()))?
        .map_err(|e| Error::Tract(format!("{e:#}")))
}
