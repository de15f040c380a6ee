//! A `Store` that injects I/O errors, wrapping the real `SledStore`.
//!
//! Used here to check that `verify_store` turns a failing storage engine
//! into an error (exit 3), never into a verdict about the ledger and never
//! a panic; and that the writer, run over it, answers `writer_stopped`,
//! acknowledges nothing whose group failed to apply or to sync, and leaves
//! a ledger that verifies.

use std::sync::atomic::{AtomicUsize, Ordering};

use pil_ledger::check::verify_store;
use pil_ledger::ledger::{self, Ledger};
use pil_ledger::store::*;
use pil_ledger_core::authority::Role;
use pil_ledger_core::keys;
use pil_ledger_core::state::{IndexWrite, Ns};
use pil_ledger_core::wire::{Body, Hash32};

/// Fails the chosen operation from its `n`-th call on (1-based).
struct FailingStore {
    inner: SledStore,
    fail_apply_at: usize,
    fail_sync_at: usize,
    /// The raw scan fails after this many records.
    fail_scan_after: usize,
    fail_head: bool,
    applies: AtomicUsize,
    syncs: AtomicUsize,
}

fn injected(what: &str) -> StoreError {
    StoreError::Io(std::io::Error::other(format!("injected failure: {what}")))
}

impl FailingStore {
    fn new(inner: SledStore) -> Self {
        FailingStore {
            inner,
            fail_apply_at: usize::MAX,
            fail_sync_at: usize::MAX,
            fail_scan_after: usize::MAX,
            fail_head: false,
            applies: AtomicUsize::new(0),
            syncs: AtomicUsize::new(0),
        }
    }
}

impl Store for FailingStore {
    fn config(&self) -> Result<Option<LedgerConfig>, StoreError> {
        self.inner.config()
    }
    fn head(&self) -> Result<Option<Head>, StoreError> {
        if self.fail_head {
            return Err(injected("head"));
        }
        self.inner.head()
    }
    fn entry(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.entry(seq)
    }
    fn entries(&self, from: u64, to: u64) -> EntryIter<'_> {
        self.inner.entries(from, to)
    }
    fn node(&self, level: u8, index: u64) -> Result<Option<Hash32>, StoreError> {
        self.inner.node(level, index)
    }
    fn nodes(&self) -> NodeIter<'_> {
        self.inner.nodes()
    }
    fn checkpoint(&self, size: u64) -> Result<Option<String>, StoreError> {
        self.inner.checkpoint(size)
    }
    fn checkpoints(&self) -> Result<Vec<(u64, String)>, StoreError> {
        self.inner.checkpoints()
    }
    fn index_get(&self, ns: Ns, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.index_get(ns, key)
    }
    fn index_all(&self) -> Result<Vec<IndexRecord>, StoreError> {
        self.inner.index_all()
    }
    fn index_scan(&self, ns: Ns, prefix: &[u8]) -> Result<KeyValues, StoreError> {
        self.inner.index_scan(ns, prefix)
    }
    fn apply(&self, c: Commit) -> Result<(), StoreError> {
        if self.applies.fetch_add(1, Ordering::SeqCst) + 1 >= self.fail_apply_at {
            return Err(injected("apply"));
        }
        self.inner.apply(c)
    }
    fn sync(&self) -> Result<(), StoreError> {
        if self.syncs.fetch_add(1, Ordering::SeqCst) + 1 >= self.fail_sync_at {
            return Err(injected("sync"));
        }
        self.inner.sync()
    }
    fn replace_indexes(
        &self,
        records: &mut dyn Iterator<Item = Result<IndexWrite, StoreError>>,
    ) -> Result<u64, StoreError> {
        self.inner.replace_indexes(records)
    }
    fn reindex_incomplete(&self) -> Result<bool, StoreError> {
        self.inner.reindex_incomplete()
    }
    fn disk_bytes(&self) -> Result<u64, StoreError> {
        self.inner.disk_bytes()
    }
    fn raw_scan(&self) -> RawIter<'_> {
        let n = self.fail_scan_after;
        Box::new(self.inner.raw_scan().enumerate().map(move |(i, r)| if i >= n { Err(injected("scan")) } else { r }))
    }
    fn storage_format(&self) -> Result<u32, StoreError> {
        self.inner.storage_format()
    }
}

fn ledger_dir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let l = Ledger::init(tmp.path(), "faults.example/pil", "Officer", "Unit").unwrap();
    let officer = ledger::read_key_file(&l.paths().officer_key()).unwrap();
    for name in ["A", "B", "C"] {
        let k = keys::generate();
        l.append_signed(&officer, "", Body::enrol(k.verifying_key().to_bytes(), name, "U", vec![Role::Auditor]))
            .unwrap();
    }
    l.close();
    tmp
}

#[test]
fn the_wrapper_passes_through_until_its_failure_point() {
    let tmp = ledger_dir();
    let mut st = FailingStore::new(SledStore::open(&tmp.path().join("ledger")).unwrap());
    st.fail_sync_at = 2;
    assert!(st.sync().is_ok());
    assert!(matches!(st.sync(), Err(StoreError::Io(_))));
    st.fail_apply_at = 1;
    assert!(matches!(st.apply(Commit::default()), Err(StoreError::Io(_))));
    let v = verify_store(&st, None, &[], &|_, _| {}).unwrap();
    assert_eq!(v.verdict.as_str(), "valid", "{:?}", v.reasons);
}

#[test]
fn engine_failure_in_the_middle_of_verify_is_an_error_not_a_verdict() {
    let tmp = ledger_dir();
    let dir = tmp.path().join("ledger");
    let total = SledStore::open_read_only(&dir).unwrap().raw_scan().count();
    // fail at every position of the scan: before entries, among them, in
    // the indexes, among the nodes, at the very end
    for after in 0..total {
        let mut st = FailingStore::new(SledStore::open_read_only(&dir).unwrap());
        st.fail_scan_after = after;
        match verify_store(&st, None, &[], &|_, _| {}) {
            Err(e) => assert_eq!(e.code(), "storage_error", "after {after}: {e}"),
            Ok(v) => panic!("after {after} records: a failing engine gave a verdict {:?}", v.verdict),
        }
    }
    let mut st = FailingStore::new(SledStore::open_read_only(&dir).unwrap());
    st.fail_head = true;
    assert!(verify_store(&st, None, &[], &|_, _| {}).is_err());
}

/// Start the real writer over a failing store of the ledger in `dir`.
fn writer_over(dir: &std::path::Path, fail_apply_at: usize, fail_sync_at: usize) -> pil_ledger::writer::Writer {
    let mut st = FailingStore::new(SledStore::open(&dir.join("ledger")).unwrap());
    st.fail_apply_at = fail_apply_at;
    st.fail_sync_at = fail_sync_at;
    let config = st.config().unwrap().unwrap();
    let head = st.head().unwrap();
    let log_key = ledger::read_key_file(&dir.join("keys/log.key")).unwrap();
    pil_ledger::writer::spawn_writer(std::sync::Arc::new(st), config, log_key, head, None)
}

fn enrolment(dir: &std::path::Path, name: &str) -> (Vec<u8>, [u8; 64]) {
    let officer = ledger::read_key_file(&dir.join("keys/officer.key")).unwrap();
    let k = keys::generate();
    let body = Body::enrol(k.verifying_key().to_bytes(), name, "U", vec![Role::Auditor]);
    ledger::sign_statement("faults.example/pil", &officer, "", body)
}

fn entries_after_restart(dir: &std::path::Path) -> u64 {
    let l = Ledger::open(dir, false).unwrap();
    let v = l.verify(&|_, _| {}).unwrap();
    assert_eq!(v.verdict.as_str(), "valid", "{:?}", v.reasons);
    v.entries
}

#[test]
fn a_failed_apply_acknowledges_nothing_and_stops_the_writer() {
    let tmp = ledger_dir();
    let w = writer_over(tmp.path(), 1, usize::MAX);
    let (st, sig) = enrolment(tmp.path(), "D");
    let err = w.handle.append_blocking(st, sig).unwrap_err();
    assert_eq!(err.code(), "writer_stopped", "{err}");
    // Every later write is refused too: the in-memory head may be stale.
    let (st, sig) = enrolment(tmp.path(), "E");
    assert_eq!(w.handle.append_blocking(st, sig).unwrap_err().code(), "writer_stopped");
    w.stop();
    assert_eq!(entries_after_restart(tmp.path()), 4, "genesis and three enrolments, nothing more");
}

#[test]
fn a_failed_sync_acknowledges_nothing_and_the_ledger_stays_whole() {
    let tmp = ledger_dir();
    let w = writer_over(tmp.path(), usize::MAX, 1);
    let (st, sig) = enrolment(tmp.path(), "D");
    assert_eq!(w.handle.append_blocking(st.clone(), sig).unwrap_err().code(), "writer_stopped");
    let (st2, sig2) = enrolment(tmp.path(), "E");
    assert_eq!(w.handle.append_blocking(st2, sig2).unwrap_err().code(), "writer_stopped");
    w.stop();
    // The unacknowledged entry is all there or not there at all; the
    // ledger verifies either way, and resubmitting it settles which.
    let n = entries_after_restart(tmp.path());
    assert!(n == 4 || n == 5, "{n}");
    let l = Ledger::open(tmp.path(), true).unwrap();
    let ack = l.writer().unwrap().append_blocking(st, sig).unwrap();
    assert_eq!((ack.seq, ack.duplicate), (4, n == 5));
}
