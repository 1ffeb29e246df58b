//! A PNG encoder with nothing left to chance: the same pixels give the same bytes on every
//! machine and in every version.
//!
//! 8-bit RGB (colour type 2), no interlace, filter type 0 (None) on every row, and one
//! `IDAT` holding a zlib stream of stored (uncompressed, "level 0") deflate blocks of at
//! most 65,535 bytes. No `tIME`, `tEXt`, gamma or any other ancillary chunk. A compressor
//! would make the bytes depend on its version and settings; stored blocks make them depend
//! only on the pixels, at the price of size (196,7xx bytes for 256 × 256).

use crate::{Error, Result};

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
/// Largest stored deflate block.
const STORED_MAX: usize = 65_535;

/// CRC-32 (ISO 3309, the one PNG uses), table built at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// CRC-32 of `parts` concatenated.
pub fn crc32(parts: &[&[u8]]) -> u32 {
    let mut c = 0xffff_ffffu32;
    for part in parts {
        for &b in *part {
            c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
        }
    }
    c ^ 0xffff_ffff
}

/// Adler-32 (RFC 1950).
pub fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 bytes is the most that can be summed before `b` could overflow.
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// A zlib stream (RFC 1950) of stored deflate blocks (RFC 1951 §3.2.4).
pub fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let blocks = data.len().div_ceil(STORED_MAX).max(1);
    let mut out = Vec::with_capacity(2 + data.len() + 5 * blocks + 4);
    // CMF 0x78: deflate, 32 KiB window; FLG 0x01: no dictionary, "fastest" level, and
    // (0x78 << 8 | 0x01) is a multiple of 31 as RFC 1950 requires.
    out.extend_from_slice(&[0x78, 0x01]);
    let mut chunks = data.chunks(STORED_MAX).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[0x01, 0x00, 0x00, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        out.push(u8::from(last)); // BFINAL, BTYPE = 00 (stored)
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(&[kind, data]).to_be_bytes());
}

/// Encodes `rgb` (row-major, 3 bytes a pixel) as a PNG of `width` × `height`.
pub fn encode_rgb8(width: u32, height: u32, rgb: &[u8]) -> Result<Vec<u8>> {
    let row = width as usize * 3;
    if width == 0 || height == 0 || width > 1 << 14 || height > 1 << 14 {
        return Err(Error::Invalid {
            what: "image size",
            detail: format!("{width} x {height}; each side must be 1 to 16384 pixels"),
        });
    }
    if rgb.len() != row * height as usize {
        return Err(Error::Invalid {
            what: "pixels",
            detail: format!(
                "{} bytes for {width} x {height} RGB, expected {}",
                rgb.len(),
                row * height as usize
            ),
        });
    }
    let mut raw = Vec::with_capacity((row + 1) * height as usize);
    for line in rgb.chunks_exact(row) {
        raw.push(0); // filter type None
        raw.extend_from_slice(line);
    }
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // bit depth 8, colour type 2 (RGB), compression 0, filter 0, interlace 0
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let idat = zlib_stored(&raw);
    let mut out = Vec::with_capacity(8 + 25 + idat.len() + 12 + 12);
    out.extend_from_slice(&SIGNATURE);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]
    use super::*;

    #[test]
    fn checksums_match_their_standard_check_values() {
        // The check value of CRC-32/ISO-HDLC, and Adler-32 of "Wikipedia" (RFC 1950's example
        // as commonly quoted).
        assert_eq!(crc32(&[b"123456789"]), 0xcbf4_3926);
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xcbf4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert_eq!(adler32(b""), 1);
    }

    #[test]
    fn one_pixel_png_is_byte_exact() {
        // A 1x1 red pixel: IHDR, one stored block of [0, 255, 0, 0], IEND.
        let png = encode_rgb8(1, 1, &[255, 0, 0]).unwrap();
        assert_eq!(&png[..8], &SIGNATURE);
        assert_eq!(png.len(), 8 + 25 + (12 + 2 + 5 + 4 + 4) + 12);
        assert_eq!(
            &png[png.len() - 12..],
            &[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]
        );
    }

    #[test]
    fn sizes_and_lengths_are_checked() {
        assert!(encode_rgb8(0, 1, &[]).is_err());
        assert!(encode_rgb8(2, 1, &[0; 5]).is_err());
        assert!(encode_rgb8(1 << 15, 1, &[]).is_err());
    }
}
