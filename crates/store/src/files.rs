//! Whole files read and written safely, for every crate and the CLI.
//!
//! - [`read_capped`] / [`read_file_capped`] check the size *while* streaming: an oversized
//!   or endless input (`/dev/zero`, a peer that never stops) is refused after `max + 1`
//!   bytes, never read into memory first.
//! - [`AtomicFile`] / [`write_atomic`] write to a temporary file in the destination's
//!   directory, fsync it, rename it over the destination and fsync the directory. A write
//!   that fails or is never committed leaves an existing file exactly as it was, and never
//!   leaves a partial one.

use std::fs::{File, Permissions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};
use crate::Error;

/// Reads all of `reader`, refusing more than `max` bytes: at most `max + 1` bytes are
/// ever read. `what` names the input in the error (a path, "the coordinator's model").
pub fn read_capped(reader: impl Read, max: u64, what: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    reader.take(max.saturating_add(1)).read_to_end(&mut out).ctx(|| format!("read {what}"))?;
    if out.len() as u64 > max {
        return Err(Error::TooLarge { what: what.to_string(), limit: max });
    }
    Ok(out)
}

/// Reads the file at `path`, refusing one larger than `max` bytes (checked while reading,
/// so a device or a file that grows cannot make it read more than `max + 1` bytes).
pub fn read_file_capped(path: impl AsRef<Path>, max: u64) -> Result<Vec<u8>> {
    let path = path.as_ref();
    let f = File::open(path).ctx(|| format!("open {}", path.display()))?;
    read_capped(f, max, &path.display().to_string())
}

/// A file being written in place of `path`: bytes go to a temporary file beside it, and
/// only [`AtomicFile::commit`] makes them visible under `path`. Dropped without a commit,
/// the temporary file is removed and `path` is untouched.
pub struct AtomicFile {
    out: BufWriter<tempfile::NamedTempFile>,
    path: PathBuf,
}

impl AtomicFile {
    /// Starts writing the file that will replace `path` (created if it does not exist).
    /// A new file gets mode 0644, a replaced one keeps its permissions.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let name = path.file_name().ok_or_else(|| {
            Error::io(
                format!("create {}", path.display()),
                io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"),
            )
        })?;
        let prefix = format!(".{}.", name.to_string_lossy());
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".partial");
        if let Some(mode) = permissions_for(&path) {
            builder.permissions(mode);
        }
        let tmp = builder
            .tempfile_in(parent(&path))
            .ctx(|| format!("create a temporary file beside {}", path.display()))?;
        Ok(Self { out: BufWriter::new(tmp), path })
    }

    /// The path the file will have once committed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes and fsyncs the temporary file, renames it to the destination, and fsyncs
    /// the directory so the rename is durable too.
    pub fn commit(self) -> Result<()> {
        let path = self.path;
        let tmp = self
            .out
            .into_inner()
            .map_err(|e| Error::io(format!("write {}", path.display()), e.into_error()))?;
        tmp.as_file().sync_all().ctx(|| format!("fsync {}", tmp.path().display()))?;
        tmp.persist(&path)
            .map_err(|e| Error::io(format!("rename to {}", path.display()), e.error))?;
        sync_dir(parent(&path))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.out.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Replaces the file at `path` by `bytes` atomically and durably (see [`AtomicFile`]).
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes).ctx(|| format!("write {}", f.path().display()))?;
    f.commit()
}

fn parent(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// The mode of the file being replaced, else 0644 (where modes exist).
fn permissions_for(path: &Path) -> Option<Permissions> {
    if let Ok(meta) = std::fs::metadata(path) {
        return Some(meta.permissions());
    }
    #[cfg(unix)]
    return Some(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    #[cfg(not(unix))]
    None
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).ctx(|| format!("fsync directory {}", dir.display()))
}

#[cfg(not(unix))]
fn sync_dir(_: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_capped_stops_at_the_limit_while_streaming() {
        assert_eq!(read_capped(&b"abc"[..], 3, "x").unwrap(), b"abc");
        // An endless input: an error after max + 1 bytes, not a hang or an allocation.
        let err = read_capped(io::repeat(0), 1 << 20, "the endless input").unwrap_err();
        assert!(matches!(&err, Error::TooLarge { limit, .. } if *limit == 1 << 20), "{err}");
        assert!(err.to_string().contains("the endless input"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn reading_dev_zero_fails_fast() {
        let t = std::time::Instant::now();
        let err = read_file_capped("/dev/zero", 4 << 20).unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }), "{err}");
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn uncommitted_write_leaves_the_old_file_and_no_partial() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.car");
        write_atomic(&path, b"good").unwrap();
        {
            let mut f = AtomicFile::create(&path).unwrap();
            f.write_all(b"half of something else").unwrap();
            // dropped: the write failed somewhere
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"good");
        let names: Vec<_> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["out.car"]);
        write_atomic(&path, b"better").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"better");
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_0644_and_replaced_ones_keep_their_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_atomic(&path, b"1").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        std::fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
        write_atomic(&path, b"2").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
