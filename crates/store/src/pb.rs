//! Protocol Buffers wire format, the subset dag-pb and UnixFS use: varints and
//! length-delimited fields. Decoding never panics and never allocates more than its input.

/// Wire type of a varint field.
pub(crate) const VARINT: u8 = 0;
/// Wire type of a length-delimited field.
pub(crate) const LEN: u8 = 2;

/// Appends `v` as an unsigned LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bytes `v` takes as a varint.
pub(crate) fn varint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Appends a field key.
pub(crate) fn put_key(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire));
}

/// Appends a length-delimited field.
pub(crate) fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a varint field.
pub(crate) fn put_uint(out: &mut Vec<u8>, field: u32, v: u64) {
    put_key(out, field, VARINT);
    put_varint(out, v);
}

/// Reads a varint from the front of `buf`: the value and the bytes used. Rejects
/// overlong (more than 10 bytes or overflowing) and truncated varints.
pub(crate) fn read_varint(buf: &[u8]) -> Result<(u64, usize), String> {
    let mut v: u64 = 0;
    for (i, &b) in buf.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        if i == 9 && b > 1 {
            return Err("varint overflows 64 bits".into());
        }
        v |= part << (7 * i);
        if b & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    if buf.len() >= 10 {
        Err("varint longer than 10 bytes".into())
    } else {
        Err("truncated varint".into())
    }
}

/// One field of a message.
#[derive(Debug)]
pub(crate) enum Field<'a> {
    /// A varint field.
    Varint(u32, u64),
    /// A length-delimited field.
    Bytes(u32, &'a [u8]),
}

/// Iterates over the fields of a message, failing on wire types dag-pb and UnixFS never use.
pub(crate) struct Fields<'a> {
    buf: &'a [u8],
}

impl<'a> Fields<'a> {
    /// Starts reading `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let res = (|| {
            let (key, n) = read_varint(self.buf)?;
            self.buf = &self.buf[n..];
            let field = u32::try_from(key >> 3)
                .map_err(|_| format!("field number {} too large", key >> 3))?;
            if field == 0 {
                return Err("field number 0".to_string());
            }
            match (key & 7) as u8 {
                VARINT => {
                    let (v, n) = read_varint(self.buf)?;
                    self.buf = &self.buf[n..];
                    Ok(Field::Varint(field, v))
                }
                LEN => {
                    let (len, n) = read_varint(self.buf)?;
                    let rest = &self.buf[n..];
                    let len = usize::try_from(len).ok().filter(|&l| l <= rest.len()).ok_or_else(
                        || format!("field {field} claims {len} bytes, {} remain", rest.len()),
                    )?;
                    self.buf = &rest[len..];
                    Ok(Field::Bytes(field, &rest[..len]))
                }
                w => Err(format!("field {field} has unsupported wire type {w}")),
            }
        })();
        if res.is_err() {
            self.buf = &[];
        }
        Some(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn varint_known_encodings() {
        let mut out = Vec::new();
        put_varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        assert_eq!(read_varint(&out), Ok((300, 2)));
        assert_eq!(varint_len(0), 1);
        assert_eq!(varint_len(127), 1);
        assert_eq!(varint_len(128), 2);
        assert_eq!(varint_len(u64::MAX), 10);
    }

    #[test]
    fn varint_rejects_truncated_and_overflowing() {
        assert!(read_varint(&[0x80]).is_err());
        assert!(read_varint(&[]).is_err());
        assert!(read_varint(&[0xff; 10]).is_err());
        assert!(read_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]).is_err());
    }

    #[test]
    fn length_past_end_is_an_error() {
        let buf = [0x0a, 0x05, 1, 2];
        let fields: Vec<_> = Fields::new(&buf).collect();
        assert_eq!(fields.len(), 1);
        assert!(fields[0].is_err());
    }

    proptest! {
        #[test]
        fn varint_roundtrip(v in any::<u64>()) {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            prop_assert_eq!(out.len(), varint_len(v));
            prop_assert_eq!(read_varint(&out), Ok((v, out.len())));
        }

        #[test]
        fn fields_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..64)) {
            for f in Fields::new(&buf) {
                let _ = f;
            }
        }
    }
}
