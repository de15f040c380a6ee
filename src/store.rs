//! Storage: a small [`Store`] trait and its sled 0.34.7 implementation.
//!
//! Everything lives in one sled tree, so one `sled::Batch` is one atomic
//! commit covering entries, Merkle nodes, indexes, the checkpoint and the
//! head (sled batches are crash-atomic; multi-tree transactions are not
//! needed). Key space, by first byte:
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `E` | seq (u64 BE) | canonical entry bytes |
//! | `N` | level (u8) ‖ index (u64 BE) | 32-byte complete-subtree hash |
//! | `C` | tree size (u64 BE) | checkpoint note (UTF-8) |
//! | `R` | tree size (u64 BE) | registry note beside that checkpoint (UTF-8; `bundle.md` §2) |
//! | `I` | namespace (u8) ‖ key | index value (derived, rebuildable) |
//! | `H` | — | [`Head`] |
//! | `G` | — | [`LedgerConfig`] (origin, log key) |
//! | `V` | — | storage format, u32 LE ([`STORAGE_FORMAT`]; absent means 1) |
//!
//! Durability: sled's `flush()` on Linux ends in `sync_file_range(WAIT_BEFORE
//! | WRITE | WAIT_AFTER)` on the log file, which writes the data pages but
//! neither the file's metadata (its size) nor the device cache, and sled
//! writes large values to `blobs/` files with no sync at all. So after each
//! flush we `fdatasync` the log file, `fsync` every blob file not yet synced,
//! and `fsync` the `blobs/` directory when it gained files. Only then is a
//! commit acknowledged. At open, every existing blob file and the store
//! directory are fsynced once (a crashed predecessor may have left blobs of
//! an applied but unsynced group that recovery now counts as present).
//!
//! Read-only opening ([`SledStore::open_read_only`]): sled 0.34.7 cannot open
//! a database without writing to it (recovery rewrites the log's tail and
//! writes a snapshot, even when nothing is inserted and the `Db` is never
//! dropped; the test `store_readonly` shows it). So a read-only store is a
//! private copy of the store directory in a temporary directory, copied
//! under a shared lock on the original's `db` file, and deleted on drop. The
//! original is opened for reading only and never written.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bincode::{Decode, Encode};
use pil_ledger_core::merkle::{NodeSource, ProofError};
use pil_ledger_core::state::{BackendError, IndexRead, IndexWrite, Ns};
use pil_ledger_core::wire::{self, Hash32, PublicKey};

mod copy;
use copy::{copy_dir, lock_shared};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage engine: {0}")]
    Engine(#[from] sled::Error),
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("storage is corrupt: {0}")]
    Corrupt(String),
    #[error("the ledger at {0} is in use by another process (one writer at a time)")]
    Busy(PathBuf),
    #[error("the store was opened read-only (a private copy of the ledger); it refuses {0}")]
    ReadOnly(&'static str),
    #[error(
        "the store uses storage format {found}, but this build reads only format {supported}; use a newer pil-ledger"
    )]
    UnsupportedFormat { found: u32, supported: u32 },
}

impl From<StoreError> for BackendError {
    fn from(e: StoreError) -> Self {
        BackendError(e.to_string())
    }
}

/// The head of the log, written in the same batch as the entries it covers.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Head {
    pub size: u64,
    pub root: Hash32,
    pub last_hash: Hash32,
    pub last_recorded_ms: u64,
    /// The checkpoint note for `size`.
    pub checkpoint: String,
}

/// The storage format this build writes and reads: the layout of keys and
/// records described in `schema/storage.md`. Stored under key `V` (u32
/// little-endian) in the commit that writes the configuration. A store
/// without `V` was written before the version existed and is format 1; a
/// store with any other value is refused at open
/// ([`StoreError::UnsupportedFormat`]).
pub const STORAGE_FORMAT: u32 = 1;

/// Fixed facts about the ledger, written once by `init` (key `G`). The
/// storage format is kept beside it under its own key `V`, so configuration
/// records written before the version existed still decode unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct LedgerConfig {
    pub origin: String,
    pub log_key: PublicKey,
}

/// Everything one group commit writes.
#[derive(Default)]
pub struct Commit {
    pub entries: Vec<(u64, Vec<u8>)>,
    pub nodes: Vec<(u8, u64, Hash32)>,
    pub index: Vec<IndexWrite>,
    pub checkpoint: Option<(u64, String)>,
    /// The registry note signed with the checkpoint, under the same size.
    pub registry: Option<(u64, String)>,
    pub head: Option<Head>,
    pub config: Option<LedgerConfig>,
}

/// `(namespace, key, value)` of one index record.
pub type IndexRecord = (u8, Vec<u8>, Vec<u8>);
/// `(key, value)` pairs.
pub type KeyValues = Vec<(Vec<u8>, Vec<u8>)>;

pub type NodeIter<'a> = Box<dyn Iterator<Item = Result<(u8, u64, Hash32), StoreError>> + 'a>;

pub type EntryIter<'a> = Box<dyn Iterator<Item = Result<(u64, Vec<u8>), StoreError>> + 'a>;

/// `(key, value)` of every stored record, uninterpreted.
pub type RawIter<'a> = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + 'a>;

/// What the ledger needs from a storage engine: atomic `apply`, `sync` to
/// make applied writes durable; everything else is reads. Another engine can implement this
/// without touching the domain.
pub trait Store: Send + Sync {
    fn config(&self) -> Result<Option<LedgerConfig>, StoreError>;
    fn head(&self) -> Result<Option<Head>, StoreError>;
    fn entry(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// Entries with `from <= seq < to`, in order.
    fn entries(&self, from: u64, to: u64) -> EntryIter<'_>;
    fn node(&self, level: u8, index: u64) -> Result<Option<Hash32>, StoreError>;
    /// Every stored Merkle node, ascending by (level, index).
    fn nodes(&self) -> NodeIter<'_>;
    fn checkpoint(&self, size: u64) -> Result<Option<String>, StoreError>;
    /// Every stored checkpoint, ascending by size.
    fn checkpoints(&self) -> Result<Vec<(u64, String)>, StoreError>;
    /// The registry note signed with the checkpoint of `size`, if any. An
    /// engine that keeps none answers `None`; the writer then recomputes the
    /// registry chain from the log.
    fn registry_note(&self, size: u64) -> Result<Option<String>, StoreError> {
        let _ = size;
        Ok(None)
    }
    fn index_get(&self, ns: Ns, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every index record, ascending: `(namespace, key, value)`.
    fn index_all(&self) -> Result<Vec<IndexRecord>, StoreError>;
    /// Index records in `ns` whose key starts with `prefix`.
    fn index_scan(&self, ns: Ns, prefix: &[u8]) -> Result<KeyValues, StoreError>;
    /// Atomically apply `c`: visible to reads at once, all or nothing after
    /// a crash, but not yet durable.
    fn apply(&self, c: Commit) -> Result<(), StoreError>;
    /// Make everything applied so far durable.
    fn sync(&self) -> Result<(), StoreError>;
    /// Atomically apply `c`, then make it durable before returning.
    fn commit(&self, c: Commit) -> Result<(), StoreError> {
        self.apply(c)?;
        self.sync()
    }
    /// Atomically replace every index record with `writes` (reindex), durably.
    fn replace_indexes(&self, writes: Vec<IndexWrite>) -> Result<(), StoreError>;
    /// Bytes the engine occupies on disk.
    fn disk_bytes(&self) -> Result<u64, StoreError>;
    /// Every record in the store, ascending by raw key (byte-wise), with
    /// nothing interpreted: the verifier's view, which must report a
    /// malformed key or record instead of failing on it. Only a failure of
    /// the engine itself is an `Err`.
    fn raw_scan(&self) -> RawIter<'_>;
    /// The storage format recorded in the store (`V`; absent: 1).
    fn storage_format(&self) -> Result<u32, StoreError>;
}

fn entry_key(seq: u64) -> [u8; 9] {
    let mut k = [b'E'; 9];
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn node_key(level: u8, index: u64) -> [u8; 10] {
    let mut k = [b'N'; 10];
    k[1] = level;
    k[2..].copy_from_slice(&index.to_be_bytes());
    k
}

fn checkpoint_key(size: u64) -> [u8; 9] {
    let mut k = [b'C'; 9];
    k[1..].copy_from_slice(&size.to_be_bytes());
    k
}

fn registry_key(size: u64) -> [u8; 9] {
    let mut k = [b'R'; 9];
    k[1..].copy_from_slice(&size.to_be_bytes());
    k
}

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

/// Read the storage format record: absent means 1 (stores written before it
/// existed); else a 4-byte little-endian u32.
fn stored_format(db: &sled::Db) -> Result<u32, StoreError> {
    let Some(v) = db.get(FORMAT_KEY)? else { return Ok(1) };
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
fn check_format(db: &sled::Db, read_only: bool) -> Result<(), StoreError> {
    match stored_format(db) {
        Ok(found) if found != STORAGE_FORMAT => Err(StoreError::UnsupportedFormat { found, supported: STORAGE_FORMAT }),
        Ok(_) => Ok(()),
        Err(StoreError::Corrupt(_)) if read_only => Ok(()),
        Err(e) => Err(e),
    }
}

fn be(b: &[u8]) -> Result<u64, StoreError> {
    Ok(u64::from_be_bytes(b.try_into().map_err(|_| StoreError::Corrupt("bad u64 key".into()))?))
}

fn decode_rec<T: Encode + Decode<()>>(what: &str, b: &[u8]) -> Result<T, StoreError> {
    wire::decode_canonical(b, wire::MAX_ENTRY_BYTES).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// sled 0.34.7, one tree, honest fsyncs.
pub struct SledStore {
    db: sled::Db,
    /// The directory sled runs in: the ledger's store, or the private copy.
    dir: PathBuf,
    log_file: File,
    synced_blobs: Mutex<HashSet<std::ffi::OsString>>,
    /// Read-only: `apply`, `sync` and `replace_indexes` are refused.
    read_only: bool,
    /// The private copy a read-only store runs in; declared after `db`, so
    /// sled is closed before the copy is deleted (`TempDir`'s drop).
    _copy: Option<tempfile::TempDir>,
}

/// How long to wait for a lock another process holds a moment too long.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

fn open_sled(dir: &Path) -> Result<sled::Db, StoreError> {
    // A process that has just closed the ledger may hold sled's file
    // lock for a moment longer; wait briefly rather than fail.
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        let r = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::LowSpace)
            .flush_every_ms(None)
            .cache_capacity(256 * 1024 * 1024)
            .open();
        match r {
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                if std::time::Instant::now() > deadline {
                    return Err(StoreError::Busy(dir.to_path_buf()));
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return Ok(other?),
        }
    }
}

impl SledStore {
    /// Open (or create) the store in `dir`. sled takes an exclusive lock: a
    /// second process opening the same ledger gets an error, not a race.
    /// A store of an unknown storage format is refused.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = open_sled(dir)?;
        check_format(&db, false)?;
        let log_file = File::open(dir.join("db"))?;
        let store = SledStore {
            db,
            dir: dir.to_path_buf(),
            log_file,
            synced_blobs: Mutex::new(HashSet::new()),
            read_only: false,
            _copy: None,
        };
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
    /// directory (`$TMPDIR`), and sled is opened there; the copy is deleted
    /// when the store is dropped. Cost: one sequential read of the store and
    /// as much temporary space. `apply`, `sync` and `replace_indexes` are
    /// refused with [`StoreError::ReadOnly`]. Never creates a store: a
    /// directory without sled's `db` file is an error.
    pub fn open_read_only(dir: &Path) -> Result<SledStore, StoreError> {
        let original = File::open(dir.join("db"))?;
        let copy = tempfile::Builder::new().prefix("pil-ledger-ro-").tempdir()?;
        lock_shared(&original, dir)?;
        let t = std::time::Instant::now();
        let copied = copy_dir(dir, copy.path());
        drop(original); // releases the shared lock
        let copied = copied?;
        tracing::debug!(bytes = copied, copy_us = t.elapsed().as_micros() as u64, "read-only copy");
        let db = open_sled(copy.path())?;
        check_format(&db, true)?;
        let log_file = File::open(copy.path().join("db"))?;
        Ok(SledStore {
            db,
            dir: copy.path().to_path_buf(),
            log_file,
            synced_blobs: Mutex::new(HashSet::new()),
            read_only: true,
            _copy: Some(copy),
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
        self.db.flush()?;
        let t_flush = t.elapsed();
        self.sync_files()?;
        tracing::debug!(
            flush_us = t_flush.as_micros() as u64,
            fsync_us = (t.elapsed() - t_flush).as_micros() as u64,
            "durable"
        );
        Ok(())
    }

    /// Test and tamper-drill access to the raw tree (for a read-only store:
    /// the private copy's).
    pub fn raw(&self) -> &sled::Db {
        &self.db
    }
}

impl Store for SledStore {
    fn config(&self) -> Result<Option<LedgerConfig>, StoreError> {
        self.db.get(CONFIG_KEY)?.map(|v| decode_rec("config", &v)).transpose()
    }

    fn head(&self) -> Result<Option<Head>, StoreError> {
        self.db.get(HEAD_KEY)?.map(|v| decode_rec("head", &v)).transpose()
    }

    fn entry(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(entry_key(seq))?.map(|v| v.to_vec()))
    }

    fn entries(&self, from: u64, to: u64) -> EntryIter<'_> {
        if from >= to {
            return Box::new(std::iter::empty());
        }
        Box::new(self.db.range(entry_key(from)..entry_key(to)).map(|r| {
            let (k, v) = r?;
            Ok((be(&k[1..])?, v.to_vec()))
        }))
    }

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash32>, StoreError> {
        match self.db.get(node_key(level, index))? {
            None => Ok(None),
            Some(v) => Ok(Some(v.as_ref().try_into().map_err(|_| StoreError::Corrupt("node is not 32 bytes".into()))?)),
        }
    }

    fn nodes(&self) -> NodeIter<'_> {
        Box::new(self.db.scan_prefix(b"N").map(|r| {
            let (k, v) = r?;
            if k.len() != 10 {
                return Err(StoreError::Corrupt("bad node key".into()));
            }
            let h: Hash32 = v.as_ref().try_into().map_err(|_| StoreError::Corrupt("node is not 32 bytes".into()))?;
            Ok((k[1], be(&k[2..])?, h))
        }))
    }

    fn checkpoint(&self, size: u64) -> Result<Option<String>, StoreError> {
        match self.db.get(checkpoint_key(size))? {
            None => Ok(None),
            Some(v) => {
                Ok(Some(String::from_utf8(v.to_vec()).map_err(|_| StoreError::Corrupt("checkpoint not UTF-8".into()))?))
            }
        }
    }

    fn checkpoints(&self) -> Result<Vec<(u64, String)>, StoreError> {
        self.db
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
        let Some(v) = self.db.get(registry_key(size))? else { return Ok(None) };
        Ok(Some(String::from_utf8(v.to_vec()).map_err(|_| StoreError::Corrupt("registry note not UTF-8".into()))?))
    }

    fn index_get(&self, ns: Ns, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(index_key(ns, key))?.map(|v| v.to_vec()))
    }

    fn index_all(&self) -> Result<Vec<IndexRecord>, StoreError> {
        self.db
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
        self.db
            .scan_prefix(&p)
            .map(|r| {
                let (k, v) = r?;
                Ok((k[2..].to_vec(), v.to_vec()))
            })
            .collect()
    }

    fn apply(&self, c: Commit) -> Result<(), StoreError> {
        self.writable("writes")?;
        let mut b = sled::Batch::default();
        for (seq, bytes) in c.entries {
            b.insert(&entry_key(seq), bytes);
        }
        for (level, index, h) in c.nodes {
            b.insert(&node_key(level, index), &h);
        }
        for w in c.index {
            b.insert(index_key(w.ns, &w.key), w.value);
        }
        if let Some((size, note)) = c.checkpoint {
            b.insert(&checkpoint_key(size), note.as_bytes());
        }
        if let Some((size, note)) = c.registry {
            b.insert(&registry_key(size), note.as_bytes());
        }
        if let Some(h) = c.head {
            b.insert(HEAD_KEY, wire::encode(&h));
        }
        if let Some(cfg) = c.config {
            // The commit that writes the configuration records the format.
            b.insert(CONFIG_KEY, wire::encode(&cfg));
            b.insert(FORMAT_KEY, &STORAGE_FORMAT.to_le_bytes());
        }
        let t = std::time::Instant::now();
        self.db.apply_batch(b)?;
        tracing::debug!(apply_us = t.elapsed().as_micros() as u64, "apply_batch");
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.writable("sync")?;
        self.durable()
    }

    fn replace_indexes(&self, writes: Vec<IndexWrite>) -> Result<(), StoreError> {
        self.writable("reindex")?;
        let mut b = sled::Batch::default();
        for r in self.db.scan_prefix(b"I").keys() {
            b.remove(r?);
        }
        for w in writes {
            b.insert(index_key(w.ns, &w.key), w.value);
        }
        self.db.apply_batch(b)?;
        self.durable()
    }

    fn disk_bytes(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }

    fn raw_scan(&self) -> RawIter<'_> {
        Box::new(self.db.iter().map(|r| {
            let (k, v) = r?;
            Ok((k.to_vec(), v.to_vec()))
        }))
    }

    fn storage_format(&self) -> Result<u32, StoreError> {
        stored_format(&self.db)
    }
}

/// The store seen as the domain's index reader.
pub struct StoreIndex<'a>(pub &'a dyn Store);

impl IndexRead for StoreIndex<'_> {
    fn get(&self, ns: Ns, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.0.index_get(ns, key)?)
    }
}

/// The store seen as a Merkle node source.
pub struct StoreNodes<'a>(pub &'a dyn Store);

impl NodeSource for StoreNodes<'_> {
    fn node(&self, level: u8, index: u64) -> Result<Hash32, ProofError> {
        self.0
            .node(level, index)
            .map_err(|e| ProofError::Storage(e.to_string()))?
            .ok_or(ProofError::MissingNode { level, index })
    }
}
