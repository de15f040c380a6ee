//! The open sled database behind a [`SledStore`](super::SledStore): lent to
//! every read as a counted [`Handle`], and reopened now and then so that
//! sled writes a fresh recovery snapshot (`schema/storage.md` §5.1).
//!
//! sled 0.34.7 writes its snapshot (the page table) only while it opens a
//! database, so the next open, after a clean close or a `kill -9`, replays
//! sled's log back to the last open: everything one long-running writer
//! wrote. [`Engine::refresh`] closes and reopens the database, which bounds
//! that replay by what was written since. It is only done while no handle is
//! lent out: closing a database that a reader still holds would keep sled's
//! file lock, and the reopen would fail.

use std::fs::File;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::super::copy::{lock_dir, lock_shared};
use super::super::StoreError;
use super::quiet::quietly;
use super::{SledStore, LOCK_WAIT};

/// The database, shared by all readers; `None` only if a reopen failed.
pub(super) struct Engine {
    db: RwLock<Option<sled::Db>>,
    /// One clone per handle or iterator lent out (plus this one).
    lent: Arc<()>,
    /// Bytes applied since sled last wrote a snapshot (at the last open).
    debt: AtomicU64,
    dir: PathBuf,
}

/// A database handle lent to one read; the engine is not reopened while it
/// lives.
pub struct Handle {
    db: sled::Db,
    _lent: Arc<()>,
}

impl Deref for Handle {
    type Target = sled::Db;
    fn deref(&self) -> &sled::Db {
        &self.db
    }
}

/// An iterator over the database that keeps the engine from being reopened
/// while it lives (sled's iterators hold the database open).
pub(super) struct Lent<I> {
    it: I,
    _lent: Arc<()>,
}

impl<I: Iterator> Iterator for Lent<I> {
    type Item = I::Item;
    fn next(&mut self) -> Option<I::Item> {
        self.it.next()
    }
}

impl<I: DoubleEndedIterator> DoubleEndedIterator for Lent<I> {
    fn next_back(&mut self) -> Option<I::Item> {
        self.it.next_back()
    }
}

fn closed() -> StoreError {
    StoreError::Corrupt("the store's database is closed: reopening it after a snapshot refresh failed".into())
}

impl Engine {
    pub(super) fn new(db: sled::Db, dir: PathBuf) -> Self {
        Engine { db: RwLock::new(Some(db)), lent: Arc::new(()), debt: AtomicU64::new(0), dir }
    }

    /// Lend the database to one read. The count is taken under the lock, so
    /// a refresh either sees this handle or happens before it exists.
    pub(super) fn get(&self) -> Result<Handle, StoreError> {
        let g = self.db.read().expect("poisoned");
        let db = g.as_ref().ok_or_else(closed)?.clone();
        Ok(Handle { db, _lent: self.lent.clone() })
    }

    /// Lend the database to an iterator built from it.
    pub(super) fn iter<I>(&self, f: impl FnOnce(&sled::Db) -> I) -> Result<Lent<I>, StoreError> {
        let g = self.db.read().expect("poisoned");
        let it = f(g.as_ref().ok_or_else(closed)?);
        Ok(Lent { it, _lent: self.lent.clone() })
    }

    /// Apply `b` atomically (not yet durable), counting its bytes towards
    /// the next snapshot refresh.
    pub(super) fn apply(&self, b: Batch) -> Result<(), StoreError> {
        self.debt.fetch_add(b.bytes, Ordering::Relaxed);
        Ok(self.get()?.apply_batch(b.batch)?)
    }

    /// Bytes applied since sled last wrote a snapshot.
    pub(super) fn debt(&self) -> u64 {
        self.debt.load(Ordering::Relaxed)
    }

    /// Close and reopen the database, so that sled writes a new snapshot.
    /// Returns `Ok(false)`, doing nothing, while any handle or iterator is
    /// lent out. Everything applied is flushed by the close and recovered
    /// by the open (sled's own guarantee), so nothing applied is lost; what
    /// was durable stays durable.
    pub(super) fn refresh(&self) -> Result<bool, StoreError> {
        let mut g = self.db.write().expect("poisoned");
        if Arc::strong_count(&self.lent) > 1 {
            return Ok(false);
        }
        let before = self.debt();
        g.as_ref().ok_or_else(closed)?.flush()?;
        drop(g.take()); // the last handle: sled closes and releases its file lock
        let t = std::time::Instant::now();
        // No other process can take sled's lock meanwhile: the store's
        // directory lock (`copy::lock_dir`) stays ours. `open_sled` waits
        // for sled's own threads of the closed database to let go.
        let db = open_sled(&self.dir, WRITER_CACHE)?;
        *g = Some(db);
        // sled renamed a new snapshot file into place and deleted the old
        // one: make that durable, as a writable open does.
        std::fs::File::open(&self.dir)?.sync_all()?;
        let blobs = self.dir.join("blobs");
        if blobs.is_dir() {
            std::fs::File::open(&blobs)?.sync_all()?;
        }
        self.debt.fetch_sub(before, Ordering::Relaxed);
        tracing::debug!(debt = before, reopen_us = t.elapsed().as_micros() as u64, "sled snapshot refreshed");
        Ok(true)
    }
}

/// Bytes a read-only scan reads before it reopens the database (see
/// [`Engine::scan_bounded`]).
pub(super) const SCAN_REOPEN_BYTES: u64 = 128 << 20;

impl Engine {
    /// Reopen a read-only copy's database, which frees what sled holds in
    /// memory for it. Does nothing while a handle is lent out.
    fn reopen_reader(&self) -> Result<bool, StoreError> {
        let mut g = self.db.write().expect("poisoned");
        if Arc::strong_count(&self.lent) > 1 {
            return Ok(false);
        }
        drop(g.take());
        *g = Some(open_sled(&self.dir, READER_CACHE)?);
        Ok(true)
    }

    /// Every record in key order, for a read-only copy, in bounded memory:
    /// sled 0.34.7 keeps much of what an iterator pulled through its page
    /// cache, whatever the cache's capacity (a scan of a 1M-entry store
    /// held about 450 MB; spacejam/sled#1036), so every
    /// [`SCAN_REOPEN_BYTES`] the scan drops its iterator, reopens the
    /// database and goes on after the last key it gave. The copy is private
    /// and nothing writes it, so the records are the same.
    pub(super) fn scan_bounded(&self) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + '_ {
        let mut it: Option<Lent<sled::Iter>> = None;
        let (mut last, mut read, mut done) = (None::<sled::IVec>, 0u64, false);
        std::iter::from_fn(move || {
            if done {
                return None;
            }
            if it.is_none() {
                let from = last.clone();
                let made = self.iter(|db| match from {
                    Some(k) => db.range((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded)),
                    None => db.iter(),
                });
                match made {
                    Ok(i) => it = Some(i),
                    Err(e) => {
                        done = true;
                        return Some(Err(e));
                    }
                }
            }
            match it.as_mut().expect("made above").next() {
                None => {
                    done = true;
                    None
                }
                Some(Err(e)) => {
                    done = true;
                    Some(Err(e.into()))
                }
                Some(Ok((k, v))) => {
                    read += (k.len() + v.len()) as u64;
                    let item = (k.to_vec(), v.to_vec());
                    last = Some(k);
                    if read >= SCAN_REOPEN_BYTES {
                        read = 0;
                        it = None; // lets go of the database
                        if let Err(e) = self.reopen_reader() {
                            done = true;
                            return Some(Err(e));
                        }
                    }
                    Some(Ok(item))
                }
            }
        })
    }
}

/// sled's page cache for a writable store: the writer's index look-ups
/// and proofs read the same pages again and again.
pub(super) const WRITER_CACHE: u64 = 256 << 20;
/// sled's page cache for a read-only copy: `verify` reads it once, in key
/// order, and a bigger cache only holds pages it will not read again
/// (peak RSS of a 1M-entry `verify`: 1.93 GB with 256 MiB, 1.46 GB with
/// 32 MiB, no slower).
pub(super) const READER_CACHE: u64 = 32 << 20;

pub(super) fn open_sled(dir: &Path, cache: u64) -> Result<sled::Db, StoreError> {
    // A process that has just closed the ledger may hold sled's file
    // lock for a moment longer; wait briefly rather than fail.
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        let config =
            sled::Config::new().path(dir).mode(sled::Mode::LowSpace).flush_every_ms(None).cache_capacity(cache);
        let r = quietly(|| config.open()).map_err(|why| {
            StoreError::Corrupt(format!(
                "sled could not recover the store in {} (it failed inside its recovery: {why}); the store is damaged, \
                 for example by a power cut: restore it from a copy",
                dir.display()
            ))
        })?;
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

/// Open `dir/db` and take the shared lock on it, making sure the file
/// locked is still the one at that path: `migrate` may swap the store
/// directory while a reader waits for the lock, and a copy of the new store
/// taken under a lock on the old one would not keep a writer out.
pub(super) fn lock_current(dir: &Path) -> Result<File, StoreError> {
    use std::os::unix::fs::MetadataExt;
    for _ in 0..3 {
        let original = File::open(dir.join("db"))?;
        lock_shared(&original, dir)?;
        let (locked, now) = (original.metadata()?, std::fs::metadata(dir.join("db"))?);
        if (locked.dev(), locked.ino()) == (now.dev(), now.ino()) {
            return Ok(original);
        }
    }
    Err(StoreError::Busy(dir.to_path_buf()))
}

/// A writable open's lock on the store directory, created if new (sled
/// would create it next).
pub(super) fn writer_lock(dir: &Path) -> Result<File, StoreError> {
    std::fs::create_dir_all(dir)?;
    lock_dir(dir, true)
}

/// A sled batch and the bytes put into it (the engine's snapshot debt).
#[derive(Default)]
pub(super) struct Batch {
    batch: sled::Batch,
    bytes: u64,
}

impl Batch {
    pub(super) fn put(&mut self, k: impl AsRef<[u8]>, v: impl AsRef<[u8]>) {
        self.bytes += (k.as_ref().len() + v.as_ref().len()) as u64;
        self.batch.insert(k.as_ref(), v.as_ref());
    }
    /// A removal is written to sled's log too (its key), so it counts.
    pub(super) fn remove(&mut self, k: impl AsRef<[u8]>) {
        self.bytes += k.as_ref().len() as u64;
        self.batch.remove(k.as_ref());
    }
}

/// A writable store closed with at least this many bytes applied since
/// sled last wrote its snapshot reopens sled once first, so that the next
/// open (a writer's, or each read-only copy's) replays no more than that.
const CLOSE_DEBT: u64 = 8 << 20;

impl Drop for SledStore {
    fn drop(&mut self) {
        if !self.read_only && self.engine.debt() >= CLOSE_DEBT {
            if let Err(e) = self.engine.refresh() {
                tracing::warn!("could not refresh sled's snapshot at close: {e}");
            }
        }
    }
}
