//! The generator is deterministic bit for bit: a golden SHA-256 of a known image, the same
//! bytes from two runs and two loads, the pinned model file, tract's float evaluation within
//! 1/255 on every channel, an independent PNG decoder reading the same pixels, and a model
//! outside the exact op set refused.

use alara_nft::generate::{tract_pixels, Cppn, SHIPPED_MODEL, SHIPPED_MODEL_SHA256, SIZE};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

/// SHA-256 of the PNG of ("a lighthouse in a storm", seed 7), as computed by a second,
/// independent implementation of the same integer arithmetic and PNG layout in Python
/// (`scripts/cppn_reference.py`, numpy int64 and zlib). Changing the generator, the model or
/// the encoder changes it: every minted token would stop verifying.
const GOLDEN: &str = "70c7354ef27ec06b19b05f7d4a2b0eda15c0080be0ccb16bcfdb241721d26713";

fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

#[test]
fn golden_image_is_unchanged() {
    let cppn = Cppn::shipped().unwrap();
    let (png, hash) = cppn.generate_png("a lighthouse in a storm", 7).unwrap();
    assert_eq!(hex::encode(hash), GOLDEN, "golden image changed ({} bytes)", png.len());
    assert_eq!(hex::encode(Sha256::digest(&png)), GOLDEN);
}

#[test]
fn two_runs_and_two_loads_give_the_same_bytes() {
    let a = Cppn::shipped().unwrap();
    let b = Cppn::from_bytes(&std::fs::read("../../models/cppn.onnx").unwrap(), "models/cppn.onnx")
        .unwrap();
    assert_eq!(a.model_hash(), b.model_hash());
    let one = a.generate_png("a red fox at dawn", 1).unwrap();
    let two = a.generate_png("a red fox at dawn", 1).unwrap();
    let three = b.generate_png("a red fox at dawn", 1).unwrap();
    assert_eq!(one, two);
    assert_eq!(one, three);
    // The prompt and the seed each change the picture.
    let other_seed = a.generate("a red fox at dawn", 2).unwrap();
    let other_prompt = a.generate("a red fox at dusk", 1).unwrap();
    let base = a.generate("a red fox at dawn", 1).unwrap();
    assert_ne!(base.rgb, other_seed.rgb);
    assert_ne!(base.rgb, other_prompt.rgb);
}

#[test]
fn shipped_model_file_is_the_pinned_one() {
    let file = std::fs::read("../../models/cppn.onnx").unwrap();
    assert_eq!(file, SHIPPED_MODEL, "the compiled-in model is models/cppn.onnx");
    assert_eq!(hex::encode(Sha256::digest(&file)), SHIPPED_MODEL_SHA256);
}

/// tract runs the float graph with its own kernels; the exact evaluator must agree within one
/// step of 255 on every channel of every pixel (rounding near a half may differ by one).
#[test]
fn tract_agrees_within_one_step_on_every_channel() {
    let cppn = Cppn::shipped().unwrap();
    for (prompt, seed) in [("a lighthouse in a storm", 7), ("ocean", 42), ("über-straße 東京", 0)]
    {
        let exact = cppn.generate(prompt, seed).unwrap().rgb;
        let floats = tract_pixels(cppn.bytes(), prompt, seed).unwrap();
        assert_eq!(exact.len(), floats.len());
        let diffs = exact.iter().zip(&floats).filter(|(a, b)| a != b).count();
        let max = exact.iter().zip(&floats).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        assert!(max <= 1, "{prompt:?}/{seed}: a channel differs by {max}/255");
        println!("{prompt:?}/{seed}: {diffs} of {} channels differ by 1/255", exact.len());
        // The picture is not flat: the check would be empty on a constant image.
        let distinct: std::collections::HashSet<_> = exact.chunks(3).collect();
        assert!(distinct.len() > 1000, "{} colours", distinct.len());
    }
}

/// Removing the exact evaluator's check would let any op through: an op outside the set
/// (Softplus, whose float result depends on libm) is refused by name.
#[test]
fn ops_outside_the_exact_set_are_refused() {
    let bytes = SHIPPED_MODEL.to_vec();
    let at = bytes.windows(8).position(|w| w == b"Softsign").unwrap();
    let mut changed = bytes.clone();
    changed[at..at + 8].copy_from_slice(b"Softplus");
    let e = Cppn::from_bytes(&changed, "changed.onnx").unwrap_err().to_string();
    assert!(e.contains("Softplus") && e.contains("exact op set"), "{e}");
    assert!(Cppn::from_bytes(b"not onnx", "junk").is_err());
    assert!(Cppn::from_bytes(&bytes[..bytes.len() / 2], "truncated").is_err());
}

#[test]
fn the_png_decodes_to_the_generated_pixels() {
    let cppn = Cppn::shipped().unwrap();
    let image = cppn.generate("a lighthouse in a storm", 7).unwrap();
    let (w, h, pixels) = decode(&image.png().unwrap());
    assert_eq!((w, h), (SIZE, SIZE));
    assert_eq!(pixels, image.rgb);
}

#[test]
fn bad_prompts_are_refused() {
    let cppn = Cppn::shipped().unwrap();
    for p in ["", "   ", &"x".repeat(1001)] {
        let e = cppn.generate(p, 1).unwrap_err().to_string();
        assert!(e.contains("prompt"), "{e}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Any image round-trips through the png crate's decoder, and encoding is a function of
    /// the pixels alone.
    #[test]
    fn png_encoder_round_trips(w in 1u32..200, h in 1u32..120, seed in any::<u64>()) {
        let n = (w * h * 3) as usize;
        let pixels: Vec<u8> = (0..n).map(|i| (seed.wrapping_mul(i as u64 + 1) >> 13) as u8).collect();
        let bytes = alara_nft::png::encode_rgb8(w, h, &pixels).unwrap();
        let (dw, dh, decoded) = decode(&bytes);
        prop_assert_eq!((dw, dh), (w, h));
        prop_assert_eq!(&decoded, &pixels);
        prop_assert_eq!(alara_nft::png::encode_rgb8(w, h, &pixels).unwrap(), bytes);
    }
}
