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

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::super::StoreError;
use super::open_sled;

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
    StoreError::Corrupt("the store's database could not be reopened after a snapshot refresh".into())
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

    /// Count `bytes` applied since the last snapshot.
    pub(super) fn owe(&self, bytes: u64) {
        self.debt.fetch_add(bytes, Ordering::Relaxed);
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
        let Some(db) = g.take() else { return Err(closed()) };
        let before = self.debt();
        db.flush()?;
        drop(db); // the last handle: sled closes and releases its file lock
        let t = std::time::Instant::now();
        // A reader that took its shared lock in the moment the database
        // was closed (a read-only copy) is waited for, up to a minute.
        let mut tries = 0;
        let db = loop {
            match open_sled(&self.dir) {
                Err(StoreError::Busy(_)) if tries < 20 => tries += 1,
                other => break other?,
            }
        };
        *g = Some(db);
        self.debt.fetch_sub(before, Ordering::Relaxed);
        tracing::debug!(debt = before, reopen_us = t.elapsed().as_micros() as u64, "sled snapshot refreshed");
        Ok(true)
    }
}
