//! Storage: a small [`Store`] trait and its sled 0.34.7 implementation.
//!
//! Everything lives in one sled tree, so one `sled::Batch` is one atomic
//! commit covering entries, Merkle nodes, indexes, the checkpoint and the
//! head (sled batches are crash-atomic; multi-tree transactions are not
//! needed). Key space, by first byte:
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `B` | first seq (u64 BE) | entry bundle: up to 64 consecutive entries ([`layout`]) |
//! | `T` | stratum (u8) ‖ tile (u64 BE) | hash tile: 8 levels of complete-subtree hashes ([`layout::Tile`]) |
//! | `C` | tree size (u64 BE) | checkpoint note (UTF-8) |
//! | `R` | tree size (u64 BE) | registry note beside that checkpoint (UTF-8; `bundle.md` §2) |
//! | `I` | namespace (u8) ‖ key | index value (derived, rebuildable) |
//! | `H` | — | [`Head`] |
//! | `G` | — | [`LedgerConfig`] (origin, log key) |
//! | `V` | — | storage format, u32 LE ([`STORAGE_FORMAT`]) |
//!
//! Format 1 (`E` per entry, `N` per node) is still read; only format 2 is
//! written (`pil-ledger migrate`, `src/migrate.rs`).
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

use std::path::PathBuf;

use bincode::{Decode, Encode};
use pil_ledger_core::merkle::{NodeSource, ProofError};
use pil_ledger_core::state::{BackendError, IndexRead, IndexWrite, Ns};
use pil_ledger_core::wire::{Hash32, PublicKey};

mod copy;
pub mod layout;
mod sled_store;
pub use sled_store::SledStore;

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
    #[error(
        "the store uses storage format {found}, which this build reads but no longer writes; run `pil-ledger migrate` to convert it to format {supported} (crash-safe, in place)"
    )]
    MigrationNeeded { found: u32, supported: u32 },
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

/// The storage format this build writes: the layout of keys and records
/// described in `schema/storage.md`. Stored under key `V` (u32 little-endian)
/// in the commit that writes the configuration. A store with a
/// configuration but without `V` was written before the version existed and
/// is format 1. Formats 1 and 2 are read; a writable open of format 1 asks
/// for `migrate` ([`StoreError::MigrationNeeded`]); any other value is
/// refused at open ([`StoreError::UnsupportedFormat`]).
pub const STORAGE_FORMAT: u32 = 2;
/// The oldest format this build still reads.
pub const OLDEST_READ_FORMAT: u32 = 1;

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
    /// Merkle nodes the engine holds in memory only, derived at open from
    /// stored entries (format 2: the unfinished lowest tile). `nodes` does
    /// not list them; `node` answers them.
    fn unstored_nodes(&self) -> Vec<(u8, u64, Hash32)> {
        Vec::new()
    }
    /// Every stored Merkle node (format 2: tile by tile, each tile's rows
    /// lowest first).
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
    /// Replace every index record with `records` (reindex; each key once),
    /// durably, in bounded memory and crash-safely (`schema/storage.md`
    /// §6): until it returns, [`reindex_incomplete`](Self::reindex_incomplete)
    /// is true, also after a crash. Returns the number of records written.
    fn replace_indexes(
        &self,
        records: &mut dyn Iterator<Item = Result<IndexWrite, StoreError>>,
    ) -> Result<u64, StoreError>;
    /// True while a reindex has not finished: the indexes are incomplete.
    fn reindex_incomplete(&self) -> Result<bool, StoreError>;
    /// Bytes the engine occupies on disk.
    fn disk_bytes(&self) -> Result<u64, StoreError>;
    /// Every record in the store, ascending by raw key (byte-wise), with
    /// nothing interpreted: the verifier's view, which must report a
    /// malformed key or record instead of failing on it. Only a failure of
    /// the engine itself is an `Err`.
    fn raw_scan(&self) -> RawIter<'_>;
    /// The storage format recorded in the store (`V`; absent: 1).
    fn storage_format(&self) -> Result<u32, StoreError>;
    /// Housekeeping that bounds the next open's recovery, done only when at
    /// least `min_debt` bytes were applied since it was last done and no
    /// read is running (sled: reopen, so that it writes a fresh snapshot,
    /// `storage.md` §5.1). Returns whether it ran. Nothing applied is lost
    /// and nothing durable stops being durable. An `Err` leaves the store
    /// unusable, like a failed `sync`.
    fn maintain(&self, min_debt: u64) -> Result<bool, StoreError> {
        let _ = min_debt;
        Ok(false)
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
