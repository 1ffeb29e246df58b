//! CAR (Content Addressable aRchive) files: v1 read and write, v2 read. The format Kubo's
//! `ipfs dag export`/`dag import` and `ipfs-car` use to move DAGs between nodes.
//!
//! A CARv1 is a varint-prefixed dag-cbor header `{roots: [CID], version: 1}` followed by
//! sections `varint(len) ‖ CID ‖ block`. The reader checks every block against its CID
//! and bounds every length it is given, so a hostile file costs at most one section of
//! memory.

use std::io::{self, Read, Write};

use cid::Cid;

use crate::block::Block;
use crate::{Error, Result};

/// Largest section (CID + block) accepted. Kubo refuses blocks over 2 MiB (bitswap's
/// limit is 2 MiB); this leaves room for the CID.
pub const MAX_SECTION: u64 = 2 * 1024 * 1024 + 128;
/// Largest header accepted.
pub const MAX_HEADER: u64 = 64 * 1024;

const CARV2_PRAGMA: [u8; 11] = [0x0a, 0xa1, 0x67, b'v', b'e', b'r', b's', b'i', b'o', b'n', 0x02];

/// Writes a CARv1 stream.
pub struct CarWriter<W: Write> {
    out: W,
    bytes: u64,
    blocks: u64,
}

fn cbor_head(out: &mut Vec<u8>, major: u8, len: u64) {
    let m = major << 5;
    match len {
        0..=23 => out.push(m | len as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, len as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
}

/// The dag-cbor CARv1 header (keys in dag-cbor order: "roots" before "version").
pub fn encode_header(roots: &[Cid]) -> Vec<u8> {
    let mut h = Vec::with_capacity(16 + roots.len() * 40);
    cbor_head(&mut h, 5, 2);
    cbor_head(&mut h, 3, 5);
    h.extend_from_slice(b"roots");
    cbor_head(&mut h, 4, roots.len() as u64);
    for root in roots {
        let bytes = root.to_bytes();
        cbor_head(&mut h, 6, 42);
        cbor_head(&mut h, 2, bytes.len() as u64 + 1);
        h.push(0x00); // multibase identity prefix, required by the dag-cbor CID tag
        h.extend_from_slice(&bytes);
    }
    cbor_head(&mut h, 3, 7);
    h.extend_from_slice(b"version");
    cbor_head(&mut h, 0, 1);
    h
}

impl<W: Write> CarWriter<W> {
    /// Writes the header naming `roots`.
    pub fn new(mut out: W, roots: &[Cid]) -> Result<Self> {
        let header = encode_header(roots);
        let mut prefix = Vec::with_capacity(10);
        crate::pb::put_varint(&mut prefix, header.len() as u64);
        out.write_all(&prefix)
            .and_then(|_| out.write_all(&header))
            .map_err(|e| Error::io("write CAR header", e))?;
        Ok(Self { out, bytes: (prefix.len() + header.len()) as u64, blocks: 0 })
    }

    /// Appends one block.
    pub fn write_block(&mut self, cid: &Cid, data: &[u8]) -> Result<()> {
        let cid_bytes = cid.to_bytes();
        let mut prefix = Vec::with_capacity(10);
        crate::pb::put_varint(&mut prefix, (cid_bytes.len() + data.len()) as u64);
        for part in [&prefix[..], &cid_bytes, data] {
            self.out.write_all(part).map_err(|e| Error::io(format!("write CAR block {cid}"), e))?;
        }
        self.bytes += (prefix.len() + cid_bytes.len() + data.len()) as u64;
        self.blocks += 1;
        Ok(())
    }

    /// Blocks written so far.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> Result<W> {
        self.out.flush().map_err(|e| Error::io("flush CAR", e))?;
        Ok(self.out)
    }
}

/// Counts bytes read so errors can say where they are.
struct Counted<R> {
    inner: R,
    offset: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.offset += n as u64;
        Ok(n)
    }
}

/// Reads a CARv1 or CARv2 stream, verifying each block.
pub struct CarReader<R: Read> {
    input: Counted<io::Take<R>>,
    roots: Vec<Cid>,
    version: u64,
}

impl<R: Read> std::fmt::Debug for CarReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CarReader")
            .field("roots", &self.roots)
            .field("version", &self.version)
            .finish()
    }
}

/// Reads a varint; `Ok(None)` on a clean end of stream before its first byte.
fn read_varint_opt<R: Read>(r: &mut Counted<R>) -> Result<Option<u64>> {
    let start = r.offset;
    let mut v: u64 = 0;
    for i in 0..10 {
        let mut b = [0u8; 1];
        let n = loop {
            match r.read(&mut b) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(format!("read CAR at byte {}", r.offset), e)),
            }
        };
        if n == 0 {
            if i == 0 {
                return Ok(None);
            }
            return Err(Error::InvalidCar { offset: start, reason: "truncated varint".into() });
        }
        if i == 9 && b[0] > 1 {
            break;
        }
        v |= u64::from(b[0] & 0x7f) << (7 * i);
        if b[0] & 0x80 == 0 {
            return Ok(Some(v));
        }
    }
    Err(Error::InvalidCar { offset: start, reason: "varint overflows 64 bits".into() })
}

fn read_exact_car<R: Read>(r: &mut Counted<R>, buf: &mut [u8], what: &str) -> Result<()> {
    let start = r.offset;
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => Error::InvalidCar {
            offset: start,
            reason: format!("truncated {what}: expected {} bytes, the file ends first", buf.len()),
        },
        _ => Error::io(format!("read CAR at byte {start}"), e),
    })
}

/// A minimal dag-cbor reader for the CAR header.
struct Cbor<'a> {
    buf: &'a [u8],
}

impl<'a> Cbor<'a> {
    fn head(&mut self) -> std::result::Result<(u8, u64), String> {
        let (&first, rest) = self.buf.split_first().ok_or("header ends early")?;
        let major = first >> 5;
        let info = first & 0x1f;
        let (len, used) = match info {
            0..=23 => (u64::from(info), 0),
            24..=27 => {
                let n = 1usize << (info - 24);
                let bytes = rest.get(..n).ok_or("header ends early")?;
                (bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)), n)
            }
            _ => {
                return Err(format!(
                    "unsupported CBOR item {first:#04x} (indefinite lengths are not dag-cbor)"
                ))
            }
        };
        self.buf = &rest[used..];
        Ok((major, len))
    }

    fn take(&mut self, len: u64) -> std::result::Result<&'a [u8], String> {
        let len = usize::try_from(len).map_err(|_| "length too large")?;
        if len > self.buf.len() {
            return Err("header ends early".into());
        }
        let (a, b) = self.buf.split_at(len);
        self.buf = b;
        Ok(a)
    }

    fn text(&mut self) -> std::result::Result<&'a str, String> {
        match self.head()? {
            (3, len) => std::str::from_utf8(self.take(len)?).map_err(|_| "key is not UTF-8".into()),
            (m, _) => Err(format!("expected a text key, found CBOR major type {m}")),
        }
    }
}

/// Parses a CAR header: (version, roots).
pub fn decode_header(buf: &[u8]) -> std::result::Result<(u64, Vec<Cid>), String> {
    let mut c = Cbor { buf };
    let (major, entries) = c.head()?;
    if major != 5 {
        return Err(format!("header is CBOR major type {major}, expected a map"));
    }
    let mut version = None;
    let mut roots = None;
    for _ in 0..entries {
        match c.text()? {
            "version" => match c.head()? {
                (0, v) => version = Some(v),
                (m, _) => {
                    return Err(format!("version is CBOR major type {m}, expected an integer"))
                }
            },
            "roots" => {
                let (major, n) = c.head()?;
                if major != 4 {
                    return Err(format!("roots is CBOR major type {major}, expected an array"));
                }
                let mut list = Vec::new();
                for _ in 0..n {
                    if c.head()? != (6, 42) {
                        return Err("a root is not a CID (CBOR tag 42)".into());
                    }
                    let bytes = match c.head()? {
                        (2, len) => c.take(len)?,
                        (m, _) => {
                            return Err(format!("a root is CBOR major type {m}, expected bytes"))
                        }
                    };
                    let cid_bytes =
                        bytes.strip_prefix(&[0u8]).ok_or("a root CID lacks its 0x00 prefix")?;
                    list.push(
                        Cid::try_from(cid_bytes)
                            .map_err(|e| format!("a root is not a CID: {e}"))?,
                    );
                }
                roots = Some(list);
            }
            other => return Err(format!("unexpected header key {other:?}")),
        }
    }
    if !c.buf.is_empty() {
        return Err(format!("{} trailing bytes after the header", c.buf.len()));
    }
    Ok((version.ok_or("header has no version")?, roots.unwrap_or_default()))
}

impl<R: Read> CarReader<R> {
    /// Reads the header (CARv1, or CARv2 whose inner CARv1 is then read).
    pub fn new(reader: R) -> Result<Self> {
        let mut input = Counted { inner: reader.take(u64::MAX), offset: 0 };
        let (version, roots) = Self::read_header(&mut input)?;
        match version {
            1 => Ok(Self { input, roots, version }),
            2 => {
                // CARv2: pragma (already read), 40-byte header, then the CARv1 payload.
                let mut h = [0u8; 40];
                read_exact_car(&mut input, &mut h, "CARv2 header")?;
                let word = |i: usize| {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(&h[i..i + 8]);
                    u64::from_le_bytes(w)
                };
                let (data_offset, data_size) = (word(16), word(24));
                let here = input.offset;
                let skip = data_offset.checked_sub(here).ok_or_else(|| Error::InvalidCar {
                    offset: here,
                    reason: format!("CARv2 data offset {data_offset} points into the header"),
                })?;
                io::copy(&mut (&mut input).take(skip), &mut io::sink())
                    .map_err(|e| Error::io("skip to CARv2 data", e))?;
                if input.offset != data_offset {
                    return Err(Error::InvalidCar {
                        offset: input.offset,
                        reason: "file ends before the CARv2 data".into(),
                    });
                }
                input.inner.set_limit(data_size);
                let (inner_version, roots) = Self::read_header(&mut input)?;
                if inner_version != 1 {
                    return Err(Error::InvalidCar {
                        offset: data_offset,
                        reason: format!("CARv2 payload is version {inner_version}, expected 1"),
                    });
                }
                Ok(Self { input, roots, version })
            }
            v => Err(Error::InvalidCar {
                offset: 0,
                reason: format!("CAR version {v}; versions 1 and 2 are supported"),
            }),
        }
    }

    fn read_header(input: &mut Counted<io::Take<R>>) -> Result<(u64, Vec<Cid>)> {
        let start = input.offset;
        let len = read_varint_opt(input)?
            .ok_or(Error::InvalidCar { offset: start, reason: "empty file".into() })?;
        if len == 0 || len > MAX_HEADER {
            return Err(Error::InvalidCar {
                offset: start,
                reason: format!(
                    "header length {len}; expected 1..={MAX_HEADER} (is this a CAR file?)"
                ),
            });
        }
        let mut buf = vec![0u8; len as usize];
        read_exact_car(input, &mut buf, "header")?;
        if start == 0 && len == 10 && buf[..] == CARV2_PRAGMA[1..] {
            return Ok((2, Vec::new()));
        }
        let (version, roots) =
            decode_header(&buf).map_err(|reason| Error::InvalidCar { offset: start, reason })?;
        Ok((version, roots))
    }

    /// The roots the header names.
    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    /// 1 or 2.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The next block, verified; `None` at the end.
    pub fn next_block(&mut self) -> Result<Option<Block>> {
        let start = self.input.offset;
        let Some(len) = read_varint_opt(&mut self.input)? else { return Ok(None) };
        if len == 0 || len > MAX_SECTION {
            return Err(Error::InvalidCar {
                offset: start,
                reason: format!("section length {len}; expected 1..={MAX_SECTION}"),
            });
        }
        let mut section = vec![0u8; len as usize];
        read_exact_car(&mut self.input, &mut section, "block section")?;
        let mut cursor = io::Cursor::new(&section[..]);
        let cid = Cid::read_bytes(&mut cursor).map_err(|e| Error::InvalidCar {
            offset: start,
            reason: format!("section does not start with a CID: {e}"),
        })?;
        let data = section.split_off(cursor.position() as usize);
        Block::verified(cid, data).map(Some)
    }
}

impl<R: Read> Iterator for CarReader<R> {
    type Item = Result<Block>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_block().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::CidVersion;
    use crate::dag_pb::RAW;
    use proptest::prelude::*;

    fn car_with(blocks: &[Block]) -> Vec<u8> {
        let mut w = CarWriter::new(Vec::new(), &[*blocks[0].cid()]).unwrap();
        for b in blocks {
            w.write_block(b.cid(), b.data()).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn header_matches_ipld_car_bytes() {
        // @ipld/car writes this header for the root bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku.
        let root =
            Cid::try_from("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku").unwrap();
        let h = encode_header(&[root]);
        assert_eq!(&h[..8], &[0xa2, 0x65, b'r', b'o', b'o', b't', b's', 0x81]);
        assert_eq!(decode_header(&h), Ok((1, vec![root])));
    }

    #[test]
    fn truncated_section_is_reported_with_offset() {
        let b = Block::encode(RAW, CidVersion::V1, vec![7; 100]).unwrap();
        let car = car_with(&[b]);
        let cut = &car[..car.len() - 10];
        let mut r = CarReader::new(cut).unwrap();
        let err = r.next_block().unwrap_err();
        assert!(err.to_string().contains("truncated block section"), "{err}");
    }

    #[test]
    fn flipped_byte_names_the_block() {
        let b = Block::encode(RAW, CidVersion::V1, vec![7; 100]).unwrap();
        let mut car = car_with(std::slice::from_ref(&b));
        let last = car.len() - 1;
        car[last] ^= 1;
        let err = CarReader::new(&car[..]).unwrap().next_block().unwrap_err();
        assert!(matches!(err, Error::CorruptBlock { cid, .. } if cid == *b.cid()));
    }

    #[test]
    fn huge_section_length_is_refused_without_allocating() {
        let b = Block::encode(RAW, CidVersion::V1, vec![1]).unwrap();
        let mut car = CarWriter::new(Vec::new(), &[*b.cid()]).unwrap().finish().unwrap();
        crate::pb::put_varint(&mut car, 1 << 40);
        let err = CarReader::new(&car[..]).unwrap().next_block().unwrap_err();
        assert!(err.to_string().contains("section length"), "{err}");
    }

    #[test]
    fn not_a_car_is_refused() {
        assert!(CarReader::new(&b"hello world, not a CAR"[..]).is_err());
        assert!(CarReader::new(&b""[..]).is_err());
    }

    proptest! {
        #[test]
        fn roundtrip(datas in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..6)) {
            let blocks: Vec<Block> = datas.into_iter().map(|d| Block::encode(RAW, CidVersion::V1, d).unwrap()).collect();
            let car = car_with(&blocks);
            let r = CarReader::new(&car[..]).unwrap();
            prop_assert_eq!(r.roots(), &[*blocks[0].cid()]);
            let back: Vec<Block> = r.collect::<Result<_>>().unwrap();
            prop_assert_eq!(back, blocks);
        }

        #[test]
        fn reader_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(r) = CarReader::new(&buf[..]) {
                for b in r.take(10) { let _ = b; }
            }
        }

        #[test]
        fn header_roundtrip(digests in proptest::collection::vec(any::<[u8; 32]>(), 0..4)) {
            let roots: Vec<Cid> = digests.iter().map(|d| crate::block::cid_for(RAW, CidVersion::V1, d).unwrap()).collect();
            prop_assert_eq!(decode_header(&encode_header(&roots)), Ok((1, roots)));
        }
    }
}
