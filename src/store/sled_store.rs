//! [`SledStore`]: the [`Store`] on sled 0.34.7, one tree, honest fsyncs;
//! the key layout of both storage formats is in [`super::layout`].

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bincode::{Decode, Encode};

use pil_ledger_core::state::{IndexWrite, Ns};
use pil_ledger_core::wire::{self, Hash32};

use super::copy::{copy_dir, copy_parent, lock_dir};
use super::layout::{
    self, bundle_key, checkpoint_key, decode_bundle, encode_bundle, entry_key, node_key, registry_key, tile_key,
    tile_of, Tile,
};
mod engine;
mod quiet;
mod reindex;
mod tiles;

pub use engine::Handle;
use engine::{lock_current, open_sled, writer_lock, Batch, Engine, READER_CACHE, WRITER_CACHE};

use super::{
    Commit, EntryIter, Head, IndexRecord, KeyValues, LedgerConfig, NodeIter, RawIter, Store, StoreError,
    OLDEST_READ_FORMAT, STORAGE_FORMAT,
};

fn index_key(ns: Ns, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + key.len());
    k.push(b'I');
    k.push(ns as u8);
    k.extend_from_slice(key);
    k
}

const HEAD_KEY: &[u8] = b"H";
const CONFIG_KEY: &[u8] = b"G";
const FORMAT_KEY: &[u8] = b"V";

/// Read the storage format record: a 4-byte little-endian u32. Absent: a
/// store with a configuration was written before the record existed
/// (format 1); one without (new, or an `init` that never finished) is
/// written in this build's format.
fn stored_format(db: &sled::Db) -> Result<u32, StoreError> {
    let Some(v) = db.get(FORMAT_KEY)? else {
        return Ok(if db.contains_key(CONFIG_KEY)? { 1 } else { STORAGE_FORMAT });
    };
    let b: [u8; 4] = v
        .as_ref()
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("the storage format record (key V) is {} bytes, not 4", v.len())))?;
    Ok(u32::from_le_bytes(b))
}

/// A store of another format version is never opened: the format decides
/// how every other record is read. A format record that is not a u32 at all
/// was written by no version: it is damage. A writable open refuses it; a
/// read-only open lets it through, so that `verify` reports it
/// (`store_record_malformed`) with the rest.
///
/// Returns the format to read the store in.
fn check_format(db: &sled::Db, read_only: bool) -> Result<u32, StoreError> {
    match stored_format(db) {
        Ok(found) if !(OLDEST_READ_FORMAT..=STORAGE_FORMAT).contains(&found) => {
            Err(StoreError::UnsupportedFormat { found, supported: STORAGE_FORMAT })
        }
        Ok(found) if found != STORAGE_FORMAT && !read_only => {
            Err(StoreError::MigrationNeeded { found, supported: STORAGE_FORMAT })
        }
        Ok(found) => Ok(found),
        Err(StoreError::Corrupt(_)) if read_only => Ok(STORAGE_FORMAT),
        Err(e) => Err(e),
    }
}

fn be(b: &[u8]) -> Result<u64, StoreError> {
    Ok(u64::from_be_bytes(b.try_into().map_err(|_| StoreError::Corrupt("bad u64 key".into()))?))
}

fn decode_rec<T: Encode + Decode<()>>(what: &str, b: &[u8]) -> Result<T, StoreError> {
    wire::decode_canonical(b, wire::MAX_ENTRY_BYTES).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn corrupt_bundle(first: u64, why: String) -> StoreError {
    StoreError::Corrupt(format!("entry bundle at seq {first}: {why}"))
}

fn corrupt_tile(stratum: u8, tile: u64, why: String) -> StoreError {
    StoreError::Corrupt(format!("hash tile ({stratum}, {tile}): {why}"))
}

/// sled 0.34.7, one tree, honest fsyncs.
pub struct SledStore {
    /// The sled database, lent to each read; reopened by `maintain` to
    /// refresh sled's recovery snapshot (`engine.rs`).
    engine: Engine,
    /// A writable store's exclusive lock on its directory (`copy::lock_dir`),
    /// held for its whole life, also while `engine` reopens sled; declared
    /// after `engine`, so sled is closed before it is released.
    _dir_lock: Option<File>,
    /// The directory sled runs in: the ledger's store, or the private copy.
    dir: PathBuf,
    log_file: File,
    synced_blobs: Mutex<HashSet<std::ffi::OsString>>,
    /// Read-only: `apply`, `sync` and `replace_indexes` are refused.
    read_only: bool,
    /// The storage format the records are read in (1 or 2; written: 2).
    format: u32,
    /// Format 2: the unfinished lowest tile (fewer than 64 leaves), which
    /// is never stored: it is rebuilt at open from the last entries (at most
    /// 63, so O(1)) and kept here; the tile is written once, when it is
    /// complete. Rewriting it at every commit would make sled rewrite its
    /// tree pages of tiles again and again.
    unfinished: Mutex<Option<(u64, Tile)>>,
    /// Complete tiles read lately (they never change once complete), so a
    /// proof's eight reads in one tile cost one store read. Bounded.
    complete_tiles: Mutex<std::collections::HashMap<(u8, u64), sled::IVec>>,
    /// The private copy a read-only store runs in; declared after `db`, so
    /// sled is closed before the copy is deleted (`TempDir`'s drop).
    _copy: Option<tempfile::TempDir>,
}

/// How long to wait for a lock another process holds a moment too long.
/// Complete tiles kept in memory at most (4 KiB each).
const COMPLETE_TILE_CACHE: usize = 16_384;

/// Tiles a commit extends, by `(stratum, tile)`.
type Tiles = std::collections::BTreeMap<(u8, u64), Tile>;

pub(super) const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

impl SledStore {
    /// Open (or create) the store in `dir`. sled takes an exclusive lock: a
    /// second process opening the same ledger gets an error, not a race.
    /// A store of an unknown storage format is refused.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let dir_lock = writer_lock(dir)?;
        let db = open_sled(dir, WRITER_CACHE)?;
        let format = check_format(&db, false)?;
        Self::writable_at(db, dir, format, dir_lock)
    }

    /// Open an existing store of any format this build reads, for writing,
    /// but only to convert it (`migrate`): writes are refused unless the
    /// store is already in this build's format.
    pub fn open_for_migration(dir: &Path) -> Result<Self, StoreError> {
        let dir_lock = writer_lock(dir)?;
        let db = open_sled(dir, WRITER_CACHE)?;
        let format = match check_format(&db, false) {
            Err(StoreError::MigrationNeeded { found, .. }) => found,
            other => other?,
        };
        let mut s = Self::writable_at(db, dir, format, dir_lock)?;
        s.read_only = format != STORAGE_FORMAT;
        Ok(s)
    }

    fn writable_at(db: sled::Db, dir: &Path, format: u32, dir_lock: File) -> Result<Self, StoreError> {
        let log_file = File::open(dir.join("db"))?;
        let store = SledStore {
            engine: Engine::new(db, dir.to_path_buf()),
            _dir_lock: Some(dir_lock),
            dir: dir.to_path_buf(),
            log_file,
            synced_blobs: Mutex::new(HashSet::new()),
            read_only: false,
            format,
            unfinished: Mutex::new(None),
            complete_tiles: Mutex::new(std::collections::HashMap::new()),
            _copy: None,
        };
        store.rebuild_unfinished()?;
        // A predecessor killed between apply and sync may have left blob
        // files that sled's recovery now counts as present: sync them all
        // once (blobs are rare: only log messages over ~128 KiB), the log
        // file and the directories, before anything new is acknowledged.
        // (`seen` starts empty, so this syncs every blob file.)
        store.sync_files()?;
        File::open(&store.dir)?.sync_all()?;
        Ok(store)
    }

    /// Open an existing store for reading only, leaving every byte under
    /// `dir` unchanged, also on a read-only file system or copy.
    ///
    /// sled 0.34.7 writes whenever it opens a database (recovery extends the
    /// log file and writes a snapshot), so the store directory is copied,
    /// under a shared lock on its `db` file, into a private temporary
    /// directory (`/dev/shm` when it fits, else `$TMPDIR`: `copy_parent`),
    /// and sled is opened there; the copy is deleted
    /// when the store is dropped. Cost: one sequential read of the store and
    /// as much temporary space. `apply`, `sync` and `replace_indexes` are
    /// refused with [`StoreError::ReadOnly`]. Never creates a store: a
    /// directory without sled's `db` file is an error.
    pub fn open_read_only(dir: &Path) -> Result<SledStore, StoreError> {
        let copy = tempfile::Builder::new().prefix("pil-ledger-ro-").tempdir_in(copy_parent(dir))?;
        let dir_lock = lock_dir(dir, false)?;
        let original = lock_current(dir)?;
        let t = std::time::Instant::now();
        let copied = copy_dir(dir, copy.path());
        drop(original); // releases the shared locks
        drop(dir_lock);
        let copied = copied?;
        tracing::debug!(bytes = copied, copy_us = t.elapsed().as_micros() as u64, "read-only copy");
        let db = open_sled(copy.path(), READER_CACHE)?;
        let format = check_format(&db, true)?;
        let log_file = File::open(copy.path().join("db"))?;
        Ok(SledStore {
            engine: Engine::new(db, copy.path().to_path_buf()),
            _dir_lock: None,
            dir: copy.path().to_path_buf(),
            log_file,
            synced_blobs: Mutex::new(HashSet::new()),
            read_only: true,
            format,
            unfinished: Mutex::new(None),
            complete_tiles: Mutex::new(std::collections::HashMap::new()),
            _copy: Some(copy),
        })
        .inspect(|st: &SledStore| {
            // A damaged tail must not stop a read-only open: `verify` is
            // there to report it (the tile's nodes are then missing).
            if let Err(e) = st.rebuild_unfinished() {
                tracing::warn!("the unfinished lowest tile could not be rebuilt: {e}");
            }
        })
    }

    /// True for a store opened with [`open_read_only`](Self::open_read_only).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The directory sled runs in: the store itself, or for a read-only
    /// store its private copy (deleted on drop).
    pub fn working_dir(&self) -> &Path {
        &self.dir
    }

    fn writable(&self, what: &'static str) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly(what));
        }
        Ok(())
    }

    fn sync_files(&self) -> Result<(), StoreError> {
        self.log_file.sync_data()?;
        let blobs = self.dir.join("blobs");
        if let Ok(rd) = std::fs::read_dir(&blobs) {
            let mut seen = self.synced_blobs.lock().expect("poisoned");
            let mut any = false;
            for e in rd {
                let e = e?;
                let name = e.file_name();
                if !seen.contains(&name) {
                    File::open(e.path())?.sync_all()?;
                    seen.insert(name);
                    any = true;
                }
            }
            if any {
                File::open(&blobs)?.sync_all()?;
            }
        }
        Ok(())
    }

    fn durable(&self) -> Result<(), StoreError> {
        let t = std::time::Instant::now();
        self.engine.get()?.flush()?;
        let t_flush = t.elapsed();
        self.sync_files()?;
        tracing::debug!(
            flush_us = t_flush.as_micros() as u64,
            fsync_us = (t.elapsed() - t_flush).as_micros() as u64,
            "durable"
        );
        Ok(())
    }

    /// The storage format the records are read in.
    pub fn format(&self) -> u32 {
        self.format
    }

    /// Test and tamper-drill access to the raw tree (for a read-only store:
    /// the private copy's).
    pub fn raw(&self) -> Handle {
        self.engine.get().expect("the store's database is open")
    }
}

impl Store for SledStore {
    fn config(&self) -> Result<Option<LedgerConfig>, StoreError> {
        self.engine.get()?.get(CONFIG_KEY)?.map(|v| decode_rec("config", &v)).transpose()
    }

    fn head(&self) -> Result<Option<Head>, StoreError> {
        self.engine.get()?.get(HEAD_KEY)?.map(|v| decode_rec("head", &v)).transpose()
    }

    fn entry(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        if self.format == 1 {
            return Ok(self.engine.get()?.get(entry_key(seq))?.map(|v| v.to_vec()));
        }
        let Some((first, bundle)) = self.bundle_at(seq)? else { return Ok(None) };
        let es = decode_bundle(&bundle).map_err(|e| corrupt_bundle(first, e))?;
        Ok(usize::try_from(seq - first).ok().and_then(|i| es.get(i)).map(|e| e.to_vec()))
    }

    fn entries(&self, from: u64, to: u64) -> EntryIter<'_> {
        if from >= to {
            return Box::new(std::iter::empty());
        }
        if self.format == 1 {
            return match self.engine.iter(|db| db.range(entry_key(from)..entry_key(to))) {
                Ok(it) => Box::new(it.map(|r| {
                    let (k, v) = r?;
                    Ok((be(&k[1..])?, v.to_vec()))
                })),
                Err(e) => Box::new(std::iter::once(Err(e))),
            };
        }
        // Start at the bundle holding `from` (or the first after it).
        let start = match self.bundle_at(from) {
            Ok(Some((first, _))) => first,
            Ok(None) => from,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let bundles = match self.engine.iter(|db| db.range(bundle_key(start)..bundle_key(to))) {
            Ok(it) => it,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        Box::new(
            bundles
                .map(|r| -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
                    let (k, v) = r?;
                    let first = be(&k[1..])?;
                    let es = decode_bundle(&v).map_err(|e| corrupt_bundle(first, e))?;
                    Ok((first..).zip(es).map(|(seq, e)| (seq, e.to_vec())).collect())
                })
                .flat_map(|r| match r {
                    Ok(v) => v.into_iter().map(Ok).collect::<Vec<_>>(),
                    Err(e) => vec![Err(e)],
                })
                .filter(move |r| r.as_ref().map_or(true, |(seq, _)| (from..to).contains(seq))),
        )
    }

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash32>, StoreError> {
        if self.format == 1 {
            return match self.engine.get()?.get(node_key(level, index))? {
                None => Ok(None),
                Some(v) => {
                    Ok(Some(v.as_ref().try_into().map_err(|_| StoreError::Corrupt("node is not 32 bytes".into()))?))
                }
            };
        }
        let (stratum, tile, row, pos) = tile_of(level, index);
        if stratum == 0 {
            if let Some((k, t)) = &*self.unfinished.lock().expect("poisoned") {
                if *k == tile {
                    return Ok(t.get(row, pos));
                }
            }
        }
        let cached = self.complete_tiles.lock().expect("poisoned").get(&(stratum, tile)).cloned();
        let v = match cached {
            Some(v) => v,
            None => {
                let Some(v) = self.engine.get()?.get(tile_key(stratum, tile))? else { return Ok(None) };
                if v.len() == layout::COMPLETE_TILE_BYTES {
                    // A complete tile never changes again: keep it.
                    let mut c = self.complete_tiles.lock().expect("poisoned");
                    if c.len() >= COMPLETE_TILE_CACHE {
                        c.clear();
                    }
                    c.insert((stratum, tile), v.clone());
                }
                v
            }
        };
        Tile::node_in(&v, row, pos).map_err(|e| corrupt_tile(stratum, tile, e))
    }

    fn unstored_nodes(&self) -> Vec<(u8, u64, Hash32)> {
        match &*self.unfinished.lock().expect("poisoned") {
            Some((tile, t)) => t.nodes(0, *tile).collect(),
            None => Vec::new(),
        }
    }

    fn nodes(&self) -> NodeIter<'_> {
        let prefix: &[u8] = if self.format == 1 { b"N" } else { b"T" };
        let format = self.format;
        let scan = match self.engine.iter(|db| db.scan_prefix(prefix)) {
            Ok(it) => it,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        Box::new(
            scan.map(move |r| -> Result<Vec<(u8, u64, Hash32)>, StoreError> {
                let (k, v) = r?;
                if k.len() != 10 {
                    return Err(StoreError::Corrupt("bad node key".into()));
                }
                if format == 1 {
                    let h: Hash32 =
                        v.as_ref().try_into().map_err(|_| StoreError::Corrupt("node is not 32 bytes".into()))?;
                    return Ok(vec![(k[1], be(&k[2..])?, h)]);
                }
                let tile = be(&k[2..])?;
                if !layout::tile_in_range(k[1], tile) {
                    return Err(corrupt_tile(k[1], tile, "no tree reaches it".into()));
                }
                let t = Tile::decode(&v).map_err(|e| corrupt_tile(k[1], tile, e))?;
                Ok(t.nodes(k[1], tile).collect())
            })
            .flat_map(|r| match r {
                Ok(v) => v.into_iter().map(Ok).collect::<Vec<_>>(),
                Err(e) => vec![Err(e)],
            }),
        )
    }

    fn checkpoint(&self, size: u64) -> Result<Option<String>, StoreError> {
        match self.engine.get()?.get(checkpoint_key(size))? {
            None => Ok(None),
            Some(v) => {
                Ok(Some(String::from_utf8(v.to_vec()).map_err(|_| StoreError::Corrupt("checkpoint not UTF-8".into()))?))
            }
        }
    }

    fn checkpoints(&self) -> Result<Vec<(u64, String)>, StoreError> {
        self.engine
            .get()?
            .scan_prefix(b"C")
            .map(|r| {
                let (k, v) = r?;
                let note =
                    String::from_utf8(v.to_vec()).map_err(|_| StoreError::Corrupt("checkpoint not UTF-8".into()))?;
                Ok((be(&k[1..])?, note))
            })
            .collect()
    }

    fn registry_note(&self, size: u64) -> Result<Option<String>, StoreError> {
        let Some(v) = self.engine.get()?.get(registry_key(size))? else { return Ok(None) };
        Ok(Some(String::from_utf8(v.to_vec()).map_err(|_| StoreError::Corrupt("registry note not UTF-8".into()))?))
    }

    fn index_get(&self, ns: Ns, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.engine.get()?.get(index_key(ns, key))?.map(|v| v.to_vec()))
    }

    fn index_all(&self) -> Result<Vec<IndexRecord>, StoreError> {
        self.engine
            .get()?
            .scan_prefix(b"I")
            .map(|r| {
                let (k, v) = r?;
                if k.len() < 2 {
                    return Err(StoreError::Corrupt("short index key".into()));
                }
                Ok((k[1], k[2..].to_vec(), v.to_vec()))
            })
            .collect()
    }

    fn index_scan(&self, ns: Ns, prefix: &[u8]) -> Result<KeyValues, StoreError> {
        let p = index_key(ns, prefix);
        self.engine
            .get()?
            .scan_prefix(&p)
            .map(|r| {
                let (k, v) = r?;
                Ok((k[2..].to_vec(), v.to_vec()))
            })
            .collect()
    }

    fn apply(&self, c: Commit) -> Result<(), StoreError> {
        self.writable("writes")?;
        let mut b = Batch::default();
        for (first, es) in layout::cut_bundles(&c.entries) {
            debug_assert!(es.windows(2).all(|w| w[1].0 == w[0].0 + 1), "a commit's entries are consecutive");
            b.put(bundle_key(first), encode_bundle(es.iter().map(|(_, e)| e.as_slice())));
        }
        let touched = !c.nodes.is_empty();
        let mut unfinished = None;
        for ((stratum, tile), t) in self.extend_tiles(&c.nodes)? {
            if stratum == 0 && t.width() < layout::TILE_WIDTH {
                unfinished = Some((tile, t)); // held in memory, never stored
            } else {
                b.put(tile_key(stratum, tile), t.encode());
            }
        }
        for w in c.index {
            b.put(index_key(w.ns, &w.key), w.value);
        }
        if let Some((size, note)) = c.checkpoint {
            b.put(checkpoint_key(size), note.as_bytes());
        }
        if let Some((size, note)) = c.registry {
            b.put(registry_key(size), note.as_bytes());
        }
        if let Some(h) = c.head {
            b.put(HEAD_KEY, wire::encode(&h));
        }
        if let Some(cfg) = c.config {
            // The commit that writes the configuration records the format.
            b.put(CONFIG_KEY, wire::encode(&cfg));
            b.put(FORMAT_KEY, STORAGE_FORMAT.to_le_bytes());
        }
        let t = std::time::Instant::now();
        self.engine.apply(b)?;
        if touched {
            *self.unfinished.lock().expect("poisoned") = unfinished;
        }
        tracing::debug!(apply_us = t.elapsed().as_micros() as u64, "apply_batch");
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.writable("sync")?;
        self.durable()
    }

    fn replace_indexes(
        &self,
        records: &mut dyn Iterator<Item = Result<IndexWrite, StoreError>>,
    ) -> Result<u64, StoreError> {
        self.replace_indexes_streaming(records)
    }

    fn reindex_incomplete(&self) -> Result<bool, StoreError> {
        self.marker_stands()
    }

    fn disk_bytes(&self) -> Result<u64, StoreError> {
        Ok(self.engine.get()?.size_on_disk()?)
    }

    fn raw_scan(&self) -> RawIter<'_> {
        if self.read_only && self._copy.is_some() {
            return Box::new(self.engine.scan_bounded());
        }
        let scan = match self.engine.iter(|db| db.iter()) {
            Ok(it) => it,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        Box::new(scan.map(|r| {
            let (k, v) = r?;
            Ok((k.to_vec(), v.to_vec()))
        }))
    }

    fn maintain(&self, min_debt: u64) -> Result<bool, StoreError> {
        if self.read_only || self.engine.debt() < min_debt {
            return Ok(false);
        }
        self.engine.refresh()
    }

    fn storage_format(&self) -> Result<u32, StoreError> {
        stored_format(&*self.engine.get()?)
    }
}
