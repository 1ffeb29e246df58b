//! Reading input files with a size limit checked while streaming.

use std::io::Read;
use std::path::Path;

use crate::{Error, Result};

/// Largest ONNX model read from a file.
pub(crate) const MAX_MODEL: u64 = 1 << 30;
/// Largest CSV or JSON input (rows to score, datasets).
pub(crate) const MAX_TABLE: u64 = 256 << 20;

/// The bytes of `path`, refused with [`Error::TooLarge`] past `limit` (read at most
/// `limit + 1` bytes, so `/dev/zero` or a multi-gigabyte file costs nothing).
pub(crate) fn read_capped(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let mut out = Vec::new();
    std::fs::File::open(path).map_err(io)?.take(limit + 1).read_to_end(&mut out).map_err(io)?;
    if out.len() as u64 > limit {
        return Err(Error::TooLarge { path: path.to_path_buf(), what, limit });
    }
    Ok(out)
}

/// Like [`read_capped`], as UTF-8 text.
pub(crate) fn read_text_capped(path: &Path, limit: u64, what: &'static str) -> Result<String> {
    String::from_utf8(read_capped(path, limit, what)?).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_or_an_oversized_file_is_refused_without_reading_it_whole() {
        let e = read_capped(Path::new("/dev/zero"), 1 << 20, "a test").unwrap_err();
        assert!(matches!(e, Error::TooLarge { limit, .. } if limit == 1 << 20), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, [7u8; 10]).unwrap();
        assert_eq!(read_capped(&p, 10, "a test").unwrap().len(), 10);
        assert!(matches!(read_capped(&p, 9, "a test"), Err(Error::TooLarge { .. })));
    }
}
