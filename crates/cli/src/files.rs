//! Files the commands read and write: inputs are read with a size limit checked while
//! streaming, outputs written beside their destination and renamed into place once
//! complete, so a failed command never leaves a truncated file where a good one was.

use std::path::Path;

use eyre::WrapErr;

/// Largest receipts file, recipe or subjects list read (JSON or text).
pub const MAX_TEXT: u64 = 64 << 20;
/// Largest model file read.
pub const MAX_MODEL: u64 = 1 << 30;

/// The bytes of `path` (at most `max`), for reading `what`.
pub fn read(path: &Path, max: u64, what: &str) -> eyre::Result<Vec<u8>> {
    alara_store::read_file_capped(path, max)
        .wrap_err_with(|| format!("reading {what} from {}", path.display()))
}

/// The text of `path` (at most `max` bytes of UTF-8), for reading `what`.
pub fn read_text(path: &Path, max: u64, what: &str) -> eyre::Result<String> {
    String::from_utf8(read(path, max, what)?)
        .wrap_err_with(|| format!("{what} in {} is not UTF-8 text", path.display()))
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename).
pub fn write(path: &Path, bytes: &[u8]) -> eyre::Result<()> {
    alara_store::write_atomic(path, bytes).wrap_err_with(|| format!("writing {}", path.display()))
}
