//! The content store: add, read, export and import files over any [`Blockstore`].

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use cid::Cid;
use parking_lot::{RwLock, RwLockReadGuard};

use crate::blockstore::{Blockstore, GcStats};
use crate::car::{CarReader, CarWriter};
use crate::dag_pb::{DAG_PB, RAW};
use crate::error::{from_io, IoContext};
use crate::fs::{FsBlockstore, FsOptions};
use crate::importer::{AddOptions, AddResult, FileImporter};
use crate::reader::FileReader;
use crate::{dag, Error, Result};

/// A content store. `Store::open(dir)` keeps blocks in a local directory; any other
/// [`Blockstore`] (e.g. [`KuboBlockstore`](crate::KuboBlockstore)) works the same way
/// through [`Store::with_blockstore`].
///
/// ```
/// # fn main() -> alara_store::Result<()> {
/// let dir = tempfile::tempdir().map_err(|e| alara_store::Error::io("tempdir", e))?;
/// let store = alara_store::Store::open(dir.path())?;
/// let added = store.add_reader(&b"hello\n"[..], &Default::default())?;
/// assert_eq!(added.cid.to_string(), "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN");
/// let mut back = String::new();
/// std::io::Read::read_to_string(&mut store.cat(&added.cid)?, &mut back)
///     .map_err(|e| alara_store::Error::io("cat", e))?;
/// assert_eq!(back, "hello\n");
/// # Ok(()) }
/// ```
pub struct Store<B: Blockstore = FsBlockstore> {
    blocks: B,
    /// Adds and imports hold it shared; gc holds it exclusively, so a collection in this
    /// process never deletes blocks of an add that has not pinned its root yet.
    gc_lock: RwLock<()>,
}

/// What a CAR import did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportResult {
    /// Roots named by the CAR header (pinned).
    #[serde(serialize_with = "crate::serialize_cids")]
    pub roots: Vec<Cid>,
    /// Blocks read.
    pub blocks: u64,
    /// Block bytes read.
    pub bytes: u64,
}

/// What a CAR export wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExportResult {
    /// The root.
    #[serde(serialize_with = "crate::serialize_cid")]
    pub root: Cid,
    /// Blocks written.
    pub blocks: u64,
    /// Bytes of CAR written.
    pub bytes: u64,
}

/// The result of checking a whole DAG.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifyResult {
    /// The root.
    #[serde(serialize_with = "crate::serialize_cid")]
    pub root: Cid,
    /// Blocks checked.
    pub blocks: u64,
    /// Bytes of blocks checked.
    pub bytes: u64,
}

/// An add in progress: a [`Write`] that builds the file's DAG. Made by [`Store::importer`].
pub struct Adding<'s, B: Blockstore> {
    importer: FileImporter<'s, B>,
    _guard: RwLockReadGuard<'s, ()>,
}

impl<B: Blockstore> Adding<'_, B> {
    /// Bytes taken so far.
    pub fn bytes_in(&self) -> u64 {
        self.importer.bytes_in()
    }

    /// Ends the file (see [`FileImporter::finish`]).
    pub fn finish(self) -> Result<AddResult> {
        self.importer.finish()
    }
}

impl<B: Blockstore> Write for Adding<'_, B> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.importer.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Store<FsBlockstore> {
    /// Opens (creating if needed) a durable local store in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::with_blockstore(FsBlockstore::open(dir)?))
    }

    /// Opens a local store with explicit options (e.g. no fsync for scratch stores).
    pub fn open_with(dir: impl AsRef<Path>, options: FsOptions) -> Result<Self> {
        Ok(Self::with_blockstore(FsBlockstore::open_with(dir, options)?))
    }
}

impl<B: Blockstore> Store<B> {
    /// A store over any blockstore.
    pub fn with_blockstore(blocks: B) -> Self {
        Self { blocks, gc_lock: RwLock::new(()) }
    }

    /// The blockstore underneath.
    pub fn blockstore(&self) -> &B {
        &self.blocks
    }

    /// Starts an add fed through [`Write`] (e.g. by an encryptor).
    pub fn importer(&self, options: AddOptions) -> Result<Adding<'_, B>> {
        let guard = self.gc_lock.read();
        Ok(Adding { importer: FileImporter::new(&self.blocks, options)?, _guard: guard })
    }

    /// Adds everything `reader` yields as one file, streaming: memory stays at one chunk
    /// plus the pending links, whatever the size. Pins the root unless `options.pin` is off.
    pub fn add_reader(&self, reader: impl Read, options: &AddOptions) -> Result<AddResult> {
        let _guard = self.gc_lock.read();
        let mut importer = FileImporter::new(&self.blocks, options.clone())?;
        importer.read_from(reader)?;
        let result = importer.finish()?;
        tracing::debug!(cid = %result.cid, size = result.size, "added file");
        Ok(result)
    }

    /// Adds a file from disk.
    pub fn add_path(&self, path: impl AsRef<Path>, options: &AddOptions) -> Result<AddResult> {
        let path = path.as_ref();
        let file = File::open(path).ctx(|| format!("open {}", path.display()))?;
        self.add_reader(file, options)
    }

    /// Reads a file back as a stream; every block is verified as it is read.
    pub fn cat(&self, cid: &Cid) -> Result<FileReader<'_, B>> {
        FileReader::new(&self.blocks, cid)
    }

    /// Copies a file to `out`; returns the bytes written.
    pub fn cat_to(&self, cid: &Cid, mut out: impl Write) -> Result<u64> {
        let mut reader = self.cat(cid)?;
        io::copy(&mut reader, &mut out).map_err(|e| from_io(e, "write file"))
    }

    /// Writes a file to `path` atomically: a temporary file, fsynced, renamed into place
    /// only once every block has been verified.
    pub fn get_to_path(&self, cid: &Cid, path: impl AsRef<Path>) -> Result<u64> {
        let mut out = crate::files::AtomicFile::create(path)?;
        let n = self.cat_to(cid, &mut out)?;
        out.commit()?;
        Ok(n)
    }

    /// Writes the DAG under `root` as a CARv1 (blocks depth-first, each once).
    pub fn export_car(&self, root: &Cid, out: impl Write) -> Result<ExportResult> {
        let mut car = CarWriter::new(out, &[*root])?;
        dag::walk(&self.blocks, root, |cid, data| car.write_block(cid, data))?;
        let (blocks, bytes) = (car.blocks(), car.bytes());
        car.finish()?;
        Ok(ExportResult { root: *root, blocks, bytes })
    }

    /// Imports a CAR (v1 or v2): verifies every block, stores it, checks that each root's
    /// DAG is complete, then pins the roots. Only dag-pb and raw blocks (UnixFS files) are
    /// accepted.
    pub fn import_car(&self, input: impl Read) -> Result<ImportResult> {
        let _guard = self.gc_lock.read();
        let mut car = CarReader::new(input)?;
        let roots = car.roots().to_vec();
        if roots.is_empty() {
            return Err(Error::InvalidCar { offset: 0, reason: "the header names no root".into() });
        }
        let (mut blocks, mut bytes) = (0u64, 0u64);
        while let Some(block) = car.next_block()? {
            match block.cid().codec() {
                DAG_PB | RAW => {}
                codec => return Err(Error::UnsupportedCodec { cid: *block.cid(), codec }),
            }
            self.blocks.put(block.cid(), block.data())?;
            blocks += 1;
            bytes += block.data().len() as u64;
        }
        self.blocks.flush()?;
        for root in &roots {
            // A root whose DAG is incomplete is not pinned, as in `ipfs dag import`.
            dag::walk(&self.blocks, root, |_, _| Ok(()))?;
        }
        for root in &roots {
            self.blocks.pin(root)?;
        }
        Ok(ImportResult { roots, blocks, bytes })
    }

    /// Reads and verifies every block under `root`.
    pub fn verify(&self, root: &Cid) -> Result<VerifyResult> {
        let (mut blocks, mut bytes) = (0u64, 0u64);
        dag::walk(&self.blocks, root, |_, data| {
            blocks += 1;
            bytes += data.len() as u64;
            Ok(())
        })?;
        Ok(VerifyResult { root: *root, blocks, bytes })
    }

    /// Pins a root that is already stored.
    pub fn pin(&self, root: &Cid) -> Result<()> {
        if !self.blocks.has(root)? {
            return Err(Error::BlockNotFound(*root));
        }
        self.blocks.pin(root)
    }

    /// Unpins a root (`rm`); its blocks go at the next [`gc`](Store::gc). `false` when it
    /// was not pinned.
    pub fn rm(&self, root: &Cid) -> Result<bool> {
        self.blocks.unpin(root)
    }

    /// The pinned roots.
    pub fn pins(&self) -> Result<Vec<Cid>> {
        self.blocks.pins()
    }

    /// Deletes every block that no pin reaches.
    pub fn gc(&self) -> Result<GcStats> {
        let _guard = self.gc_lock.write();
        self.blocks.gc()
    }
}
