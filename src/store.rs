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
//! | `I` | namespace (u8) ‖ key | index value (derived, rebuildable) |
//! | `H` | — | [`Head`] |
//! | `G` | — | [`LedgerConfig`] (origin, log key) |
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

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bincode::{Decode, Encode};
use pil_ledger_core::merkle::{NodeSource, ProofError};
use pil_ledger_core::state::{BackendError, IndexRead, IndexWrite, Ns};
use pil_ledger_core::wire::{self, Hash32, PublicKey};

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

/// Fixed facts about the ledger, written once by `init`.
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
    pub head: Option<Head>,
    pub config: Option<LedgerConfig>,
}

/// `(namespace, key, value)` of one index record.
pub type IndexRecord = (u8, Vec<u8>, Vec<u8>);
/// `(key, value)` pairs.
pub type KeyValues = Vec<(Vec<u8>, Vec<u8>)>;

pub type NodeIter<'a> = Box<dyn Iterator<Item = Result<(u8, u64, Hash32), StoreError>> + 'a>;

pub type EntryIter<'a> = Box<dyn Iterator<Item = Result<(u64, Vec<u8>), StoreError>> + 'a>;

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

fn index_key(ns: Ns, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + key.len());
    k.push(b'I');
    k.push(ns as u8);
    k.extend_from_slice(key);
    k
}

const HEAD_KEY: &[u8] = b"H";
const CONFIG_KEY: &[u8] = b"G";

fn be(b: &[u8]) -> Result<u64, StoreError> {
    Ok(u64::from_be_bytes(b.try_into().map_err(|_| StoreError::Corrupt("bad u64 key".into()))?))
}

fn decode_rec<T: Encode + Decode<()>>(what: &str, b: &[u8]) -> Result<T, StoreError> {
    wire::decode_canonical(b, wire::MAX_ENTRY_BYTES).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// sled 0.34.7, one tree, honest fsyncs.
pub struct SledStore {
    db: sled::Db,
    dir: PathBuf,
    log_file: File,
    synced_blobs: Mutex<HashSet<std::ffi::OsString>>,
}

impl SledStore {
    /// Open (or create) the store in `dir`. sled takes an exclusive lock: a
    /// second process opening the same ledger gets an error, not a race.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        // A process that has just closed the ledger may hold sled's file
        // lock for a moment longer; wait briefly rather than fail.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let db = loop {
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
                other => break other?,
            }
        };
        let log_file = File::open(dir.join("db"))?;
        let store = SledStore { db, dir: dir.to_path_buf(), log_file, synced_blobs: Mutex::new(HashSet::new()) };
        // A predecessor killed between apply and sync may have left blob
        // files that sled's recovery now counts as present: sync them all
        // once (blobs are rare: only log messages over ~128 KiB), the log
        // file and the directories, before anything new is acknowledged.
        // (`seen` starts empty, so this syncs every blob file.)
        store.sync_files()?;
        File::open(&store.dir)?.sync_all()?;
        Ok(store)
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

    /// Test and tamper-drill access to the raw tree.
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
        if let Some(h) = c.head {
            b.insert(HEAD_KEY, wire::encode(&h));
        }
        if let Some(cfg) = c.config {
            b.insert(CONFIG_KEY, wire::encode(&cfg));
        }
        let t = std::time::Instant::now();
        self.db.apply_batch(b)?;
        tracing::debug!(apply_us = t.elapsed().as_micros() as u64, "apply_batch");
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.durable()
    }

    fn replace_indexes(&self, writes: Vec<IndexWrite>) -> Result<(), StoreError> {
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
