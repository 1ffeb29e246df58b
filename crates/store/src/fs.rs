//! The local blockstore: one file per block in Kubo's flatfs layout
//! (`blocks/<shard>/<KEY>.data`, KEY = base32 of the multihash, shard = its next-to-last
//! two characters), and one file per pin under `pins/`.
//!
//! Durability: a block is written to a temporary file; [`Blockstore::flush`] fsyncs the
//! temporary files, renames them into place and fsyncs the directories. A pin is written
//! the same way and only after the blocks it covers are flushed, so an acknowledged add
//! survives `kill -9` and power loss, and a crash mid-add leaves only unpinned blocks
//! (which `gc` removes).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use cid::multibase::Base;
use cid::multihash::Multihash;
use cid::Cid;
use parking_lot::Mutex;

use crate::blockstore::{Blockstore, GcStats};
use crate::error::IoContext;
use crate::{block, dag, Error, Result};

/// Blocks waiting for an fsync are flushed in batches of this many, which bounds open
/// file handles while letting the kernel write back in the background.
const FLUSH_BATCH: usize = 64;

/// Written to `blocks/SHARDING`, as Kubo's flatfs does.
const SHARDING: &str = "/repo/flatfs/shard/v1/next-to-last/2\n";

/// Options of an [`FsBlockstore`].
#[derive(Debug, Clone, Copy)]
pub struct FsOptions {
    /// fsync blocks, pins and directories. Only benchmarks and scratch stores turn this off.
    pub sync: bool,
}

impl Default for FsOptions {
    fn default() -> Self {
        Self { sync: true }
    }
}

/// A blockstore in a local directory (see the module docs for layout and durability).
#[derive(Debug)]
pub struct FsBlockstore {
    blocks: PathBuf,
    pins: PathBuf,
    options: FsOptions,
    pending: Mutex<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    /// key → (open temporary file, its path, the final path)
    files: HashMap<String, (File, PathBuf, PathBuf)>,
    /// Directories whose entries changed since the last fsync.
    dirs: BTreeSet<PathBuf>,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn tmp_name(stem: &str) -> String {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(".{stem}.{}.{n}.tmp", std::process::id())
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).ctx(|| format!("fsync directory {}", dir.display()))
}

impl FsBlockstore {
    /// Opens (creating if needed) a blockstore in `dir`, durable.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(dir, FsOptions::default())
    }

    /// Opens (creating if needed) a blockstore in `dir` with `options`.
    pub fn open_with(dir: impl AsRef<Path>, options: FsOptions) -> Result<Self> {
        let dir = dir.as_ref();
        let blocks = dir.join("blocks");
        let pins = dir.join("pins");
        for d in [&blocks, &pins] {
            fs::create_dir_all(d).ctx(|| format!("create store directory {}", d.display()))?;
        }
        let sharding = blocks.join("SHARDING");
        if !sharding.exists() {
            fs::write(&sharding, SHARDING).ctx(|| format!("write {}", sharding.display()))?;
        }
        Ok(Self { blocks, pins, options, pending: Mutex::new(Pending::default()) })
    }

    /// The flatfs key of a multihash: unpadded upper-case base32.
    fn key(mh: &Multihash<64>) -> String {
        Base::Base32Upper.encode(mh.to_bytes())
    }

    fn shard_dir(&self, key: &str) -> PathBuf {
        let n = key.len();
        let shard = if n >= 3 { &key[n - 3..n - 1] } else { "__" };
        self.blocks.join(shard)
    }

    fn block_path(&self, key: &str) -> PathBuf {
        self.shard_dir(key).join(format!("{key}.data"))
    }

    fn flush_pending(&self, pending: &mut Pending) -> Result<()> {
        for (_, (file, tmp, dest)) in pending.files.drain() {
            if self.options.sync {
                file.sync_data().ctx(|| format!("fsync {}", tmp.display()))?;
            }
            drop(file);
            fs::rename(&tmp, &dest)
                .ctx(|| format!("rename {} to {}", tmp.display(), dest.display()))?;
        }
        if self.options.sync {
            for dir in std::mem::take(&mut pending.dirs) {
                sync_dir(&dir)?;
            }
        } else {
            pending.dirs.clear();
        }
        Ok(())
    }

    fn pin_path(&self, root: &Cid) -> PathBuf {
        self.pins.join(root.to_string())
    }

    /// Every stored block as (multihash, path, size).
    fn list_blocks(&self) -> Result<Vec<(Option<Multihash<64>>, PathBuf, u64)>> {
        let mut out = Vec::new();
        let shards =
            fs::read_dir(&self.blocks).ctx(|| format!("list {}", self.blocks.display()))?;
        for shard in shards {
            let shard = shard.ctx(|| format!("list {}", self.blocks.display()))?;
            if !shard.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            let entries =
                fs::read_dir(shard.path()).ctx(|| format!("list {}", shard.path().display()))?;
            for entry in entries {
                let entry = entry.ctx(|| format!("list {}", shard.path().display()))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                let mh = name
                    .strip_suffix(".data")
                    .and_then(|k| Base::Base32Upper.decode(k).ok())
                    .and_then(|b| Multihash::<64>::from_bytes(&b).ok());
                out.push((mh, entry.path(), size));
            }
        }
        Ok(out)
    }
}

impl Blockstore for FsBlockstore {
    fn get(&self, cid: &Cid) -> Result<Vec<u8>> {
        let key = Self::key(cid.hash());
        let pending_tmp = self.pending.lock().files.get(&key).map(|(_, tmp, _)| tmp.clone());
        let path = pending_tmp.unwrap_or_else(|| self.block_path(&key));
        let mut data = Vec::new();
        match File::open(&path) {
            Ok(mut f) => {
                f.read_to_end(&mut data)
                    .ctx(|| format!("read block {cid} from {}", path.display()))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::BlockNotFound(*cid));
            }
            Err(e) => return Err(Error::io(format!("open block {cid} at {}", path.display()), e)),
        }
        block::verify(cid, &data)?;
        Ok(data)
    }

    fn has(&self, cid: &Cid) -> Result<bool> {
        let key = Self::key(cid.hash());
        if self.pending.lock().files.contains_key(&key) {
            return Ok(true);
        }
        Ok(self.block_path(&key).exists())
    }

    fn put_parts(&self, cid: &Cid, parts: &[&[u8]]) -> Result<()> {
        let key = Self::key(cid.hash());
        let dest = self.block_path(&key);
        let mut pending = self.pending.lock();
        if pending.files.contains_key(&key) {
            return Ok(());
        }
        if let Ok(meta) = fs::metadata(&dest) {
            let len: usize = parts.iter().map(|p| p.len()).sum();
            // A file of the wrong length can only be a torn write: replace it.
            if meta.len() == len as u64 {
                return Ok(());
            }
        }
        let shard = self.shard_dir(&key);
        if !shard.is_dir() {
            fs::create_dir_all(&shard).ctx(|| format!("create {}", shard.display()))?;
            pending.dirs.insert(self.blocks.clone());
        }
        let tmp = shard.join(tmp_name(&key));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .ctx(|| format!("create {}", tmp.display()))?;
        for part in parts {
            file.write_all(part).ctx(|| format!("write block {cid} to {}", tmp.display()))?;
        }
        pending.dirs.insert(shard);
        pending.files.insert(key, (file, tmp, dest));
        if pending.files.len() >= FLUSH_BATCH {
            self.flush_pending(&mut pending)?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        let mut pending = self.pending.lock();
        self.flush_pending(&mut pending)
    }

    fn pin(&self, root: &Cid) -> Result<()> {
        self.flush()?;
        let dest = self.pin_path(root);
        let tmp = self.pins.join(tmp_name("pin"));
        let mut f = File::create(&tmp).ctx(|| format!("create {}", tmp.display()))?;
        f.write_all(format!("{root}\n").as_bytes()).ctx(|| format!("write {}", tmp.display()))?;
        if self.options.sync {
            f.sync_all().ctx(|| format!("fsync {}", tmp.display()))?;
        }
        drop(f);
        fs::rename(&tmp, &dest)
            .ctx(|| format!("rename {} to {}", tmp.display(), dest.display()))?;
        if self.options.sync {
            sync_dir(&self.pins)?;
        }
        Ok(())
    }

    fn unpin(&self, root: &Cid) -> Result<bool> {
        match fs::remove_file(self.pin_path(root)) {
            Ok(()) => {
                if self.options.sync {
                    sync_dir(&self.pins)?;
                }
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(format!("remove pin {root}"), e)),
        }
    }

    fn pins(&self) -> Result<Vec<Cid>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.pins).ctx(|| format!("list {}", self.pins.display()))? {
            let entry = entry.ctx(|| format!("list {}", self.pins.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            out.push(block::parse_cid(&name)?);
        }
        out.sort_by_key(|c| c.to_string());
        Ok(out)
    }

    fn gc(&self) -> Result<GcStats> {
        self.flush()?;
        // Mark: every block reachable from a pin. A missing or corrupt pinned block stops
        // the collection before anything is deleted.
        let mut live: HashSet<Vec<u8>> = HashSet::new();
        for root in self.pins()? {
            dag::walk(self, &root, |cid, _| {
                live.insert(cid.hash().to_bytes());
                Ok(())
            })?;
        }
        let in_flight: HashSet<PathBuf> =
            self.pending.lock().files.values().map(|(_, tmp, _)| tmp.clone()).collect();
        let mut stats = GcStats::default();
        let mut dirs = BTreeSet::new();
        for (mh, path, size) in self.list_blocks()? {
            let keep = match &mh {
                Some(mh) => live.contains(&mh.to_bytes()),
                // Leftover temporary files from a crashed write; anything else unknown stays.
                None => {
                    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                    !name.is_some_and(|n| n.ends_with(".tmp")) || in_flight.contains(&path)
                }
            };
            if keep {
                stats.kept_blocks += u64::from(mh.is_some());
                continue;
            }
            fs::remove_file(&path).ctx(|| format!("remove {}", path.display()))?;
            if mh.is_some() {
                stats.removed_blocks += 1;
                stats.removed_bytes += size;
            }
            if let Some(parent) = path.parent() {
                dirs.insert(parent.to_path_buf());
            }
        }
        if self.options.sync {
            for d in dirs {
                sync_dir(&d)?;
            }
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::{Block, CidVersion};
    use crate::dag_pb::RAW;

    #[test]
    fn layout_is_kubo_flatfs() {
        let dir = tempfile::tempdir().unwrap();
        let bs = FsBlockstore::open(dir.path()).unwrap();
        // flatfs: KEY = upper-case base32 of the multihash, shard = next-to-last two chars.
        let b = Block::encode(RAW, CidVersion::V1, b"hello\n".to_vec()).unwrap();
        bs.put(b.cid(), b.data()).unwrap();
        bs.flush().unwrap();
        let key = FsBlockstore::key(b.cid().hash());
        assert!(key.starts_with("CIQ"), "sha2-256 multihash keys start with CIQ: {key}");
        let n = key.len();
        let path = dir.path().join("blocks").join(&key[n - 3..n - 1]).join(format!("{key}.data"));
        assert_eq!(fs::read(path).unwrap(), b"hello\n");
        assert_eq!(fs::read_to_string(dir.path().join("blocks/SHARDING")).unwrap(), SHARDING);
    }

    #[test]
    fn corrupt_file_is_detected_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let bs = FsBlockstore::open(dir.path()).unwrap();
        let b = Block::encode(RAW, CidVersion::V1, vec![1, 2, 3]).unwrap();
        bs.put(b.cid(), b.data()).unwrap();
        bs.flush().unwrap();
        let path = bs.block_path(&FsBlockstore::key(b.cid().hash()));
        fs::write(&path, [1, 2, 4]).unwrap();
        match bs.get(b.cid()) {
            Err(Error::CorruptBlock { cid, .. }) => assert_eq!(cid, *b.cid()),
            other => panic!("expected CorruptBlock, got {other:?}"),
        }
    }

    #[test]
    fn torn_block_of_wrong_length_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let bs = FsBlockstore::open(dir.path()).unwrap();
        let b = Block::encode(RAW, CidVersion::V1, vec![9; 1000]).unwrap();
        let path = bs.block_path(&FsBlockstore::key(b.cid().hash()));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, [0; 10]).unwrap();
        bs.put(b.cid(), b.data()).unwrap();
        bs.flush().unwrap();
        assert_eq!(bs.get(b.cid()).unwrap(), b.data());
    }

    #[test]
    fn pins_survive_reopen_and_unpin_reports_absence() {
        let dir = tempfile::tempdir().unwrap();
        let b = Block::encode(RAW, CidVersion::V1, vec![5]).unwrap();
        {
            let bs = FsBlockstore::open(dir.path()).unwrap();
            bs.put(b.cid(), b.data()).unwrap();
            bs.pin(b.cid()).unwrap();
        }
        let bs = FsBlockstore::open(dir.path()).unwrap();
        assert_eq!(bs.pins().unwrap(), vec![*b.cid()]);
        assert_eq!(bs.get(b.cid()).unwrap(), vec![5]);
        assert!(bs.unpin(b.cid()).unwrap());
        assert!(!bs.unpin(b.cid()).unwrap());
        let stats = bs.gc().unwrap();
        assert_eq!(stats.removed_blocks, 1);
        assert!(!bs.has(b.cid()).unwrap());
    }
}
