//! `pil-ledger migrate`: convert a store to this build's storage format,
//! in place and crash-safe (`schema/storage.md` §8).
//!
//! The new store is built beside the old one (`DATA/ledger.migrating`),
//! from the old one's entries, streamed: entries go into bundles and the
//! Merkle tree is recomputed into tiles by the same `Store::apply` the writer
//! uses; checkpoints, registry notes, indexes, the configuration and the head
//! are copied as they are. The new store is made durable and verified in
//! full (its root must be the old head's, the verdict not `invalid`, every
//! kept checkpoint consistent). Only then are the two directories swapped
//! with one `renameat2(RENAME_EXCHANGE)`, which is atomic: a `kill -9` or a
//! power cut at any moment leaves `DATA/ledger` either the old store or the
//! new one, complete. The old store then sits at `ledger.migrating` and is
//! deleted; a leftover from an interrupted run is deleted by the next run.
//! The old store holds sled's exclusive lock throughout, so no writer can
//! append to it while it is being converted.

use std::path::{Path, PathBuf};

use pil_ledger_core::merkle::{self, Blake3Tree, NodeSource, ProofError};
use pil_ledger_core::note::NoteVerifier;
use pil_ledger_core::verify::{LedgerVerdict, VerdictKind};
use pil_ledger_core::wire::Hash32;
use pil_ledger_core::{hash, wire::Entry};

use crate::check::verify_store;
use crate::error::LedgerError;
use crate::files::sync_dir;
use crate::ledger::{log_verifier, Paths};
use crate::store::{Commit, Head, SledStore, Store, StoreError, STORAGE_FORMAT};

/// Entries converted per atomic batch.
const CHUNK: usize = 4096;
/// Records copied per atomic batch.
const COPY_CHUNK: usize = 16_384;

/// What `migrate` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrateReport {
    pub from_format: u32,
    pub to_format: u32,
    /// False when the store was already in this build's format.
    pub converted: bool,
    pub entries: u64,
    /// Checkpoint, registry-note and index records copied.
    pub records_copied: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub verdict: String,
    pub root: String,
}

fn tmp_dir(paths: &Paths) -> PathBuf {
    paths.root.join("ledger.migrating")
}

/// Remove what an interrupted run left beside the store. It is never the
/// live store: the swap is atomic, and the live store is always `ledger/`.
fn remove_leftover(paths: &Paths) -> Result<(), LedgerError> {
    let tmp = tmp_dir(paths);
    let Ok(meta) = std::fs::symlink_metadata(&tmp) else { return Ok(()) };
    // A directory is removed with its contents; anything else (a file, a
    // symbolic link) is removed itself, never what a link points to.
    let removed = if meta.is_dir() { std::fs::remove_dir_all(&tmp) } else { std::fs::remove_file(&tmp) };
    removed.map_err(|source| LedgerError::IoAt { path: tmp.clone(), source })?;
    sync_dir(&paths.root)?;
    Ok(())
}

/// Convert the store under `data` to [`STORAGE_FORMAT`]. A store already in
/// it is left unchanged (a leftover of an interrupted run is removed).
pub fn run(data: &Path, progress: &dyn Fn(u64, u64)) -> Result<MigrateReport, LedgerError> {
    let paths = Paths::new(data);
    let store_dir = paths.store();
    if !crate::files::exists_at(&store_dir.join("db"))? {
        return Err(LedgerError::NotALedger(data.to_path_buf()));
    }
    // The swap exchanges directory entries: for a symbolic link it would
    // swap the link, not the store it points to, and leave that store as it
    // was. Refuse; the caller can move the store into place first.
    if std::fs::symlink_metadata(&store_dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(LedgerError::InvalidArgument(format!(
            "{} is a symbolic link; migrate converts a store in place by swapping directories, so run it where the \
             store really is (move the store to {} first); nothing was changed",
            store_dir.display(),
            store_dir.display()
        )));
    }
    // Holds sled's exclusive lock on the old store until the swap is done.
    let old = SledStore::open_for_migration(&store_dir)?;
    let from = old.format();
    let config = old.config()?.ok_or_else(|| LedgerError::NotALedger(data.to_path_buf()))?;
    let head = old.head()?.ok_or_else(|| LedgerError::SelfCheck("no head record".into()))?;
    let bytes_before = old.disk_bytes()?;
    remove_leftover(&paths)?;
    if from == STORAGE_FORMAT {
        return Ok(MigrateReport {
            from_format: from,
            to_format: STORAGE_FORMAT,
            converted: false,
            entries: head.size,
            records_copied: 0,
            bytes_before,
            bytes_after: bytes_before,
            verdict: "unchanged".into(),
            root: hex::encode(head.root),
        });
    }
    // Convert only a ledger that verifies: the conversion recomputes the
    // tree from the entries and copies the rest, so damage in the old store
    // (a wrong node, an entry beyond the head, a malformed key) would
    // otherwise be silently repaired or dropped, and its evidence lost.
    let vk = log_verifier(&config)?;
    let kept = crate::ledger::acked_as_kept(&paths, &vk);
    let old_verdict = verify_store(&old, Some(&vk), &kept, progress)?;
    if old_verdict.verdict == VerdictKind::Invalid {
        return Err(LedgerError::SelfCheck(format!(
            "the ledger does not verify ({}); migrate converts only a ledger that verifies, so that no damage is \
             repaired or dropped unseen; nothing was changed. Run `pil-ledger verify` for every reason",
            first_reason(&old_verdict)
        )));
    }
    let tmp = tmp_dir(&paths);
    let new = SledStore::open(&tmp)?;
    let built = build(&old, &new, &config, &head, &vk, &kept, progress);
    let bytes_after = new.disk_bytes();
    drop(new); // sled closes: everything is already durable
    let ((copied, verdict), bytes_after) = match built.and_then(|b| Ok((b, bytes_after?))) {
        Ok(x) => x,
        Err(e) => {
            remove_leftover(&paths)?;
            return Err(e);
        }
    };
    sync_dir(&tmp)?;
    if let Err(e) = exchange(&tmp, &store_dir) {
        remove_leftover(&paths)?;
        return Err(e);
    }
    sync_dir(&paths.root)?;
    // From here the ledger is the new store. The old one, now at `tmp`, is
    // closed and deleted (a crash here leaves it for the next run).
    drop(old);
    remove_leftover(&paths)?;
    Ok(MigrateReport {
        from_format: from,
        to_format: STORAGE_FORMAT,
        converted: true,
        entries: head.size,
        records_copied: copied,
        bytes_before,
        bytes_after,
        verdict: verdict.verdict.as_str().to_string(),
        root: hex::encode(head.root),
    })
}

/// Fill the new store and verify it in full: `(records copied, verdict)`.
/// The new store must stand on its own before it replaces the old one.
/// `vk`, `kept`: the log's verifier and the acknowledged checkpoints.
fn build(
    old: &SledStore,
    new: &SledStore,
    config: &crate::store::LedgerConfig,
    head: &Head,
    vk: &NoteVerifier,
    kept: &[Vec<u8>],
    progress: &dyn Fn(u64, u64),
) -> Result<(u64, LedgerVerdict), LedgerError> {
    let copied = convert(old, new, head, progress)?;
    new.commit(Commit { config: Some(config.clone()), head: Some(head.clone()), ..Commit::default() })?;
    let verdict = verify_store(new, Some(vk), kept, progress)?;
    if verdict.verdict == VerdictKind::Invalid || verdict.entries != head.size || verdict.root != head.root {
        return Err(LedgerError::SelfCheck(format!(
            "the converted store does not verify ({}); nothing was changed. Run `pil-ledger verify` on the ledger",
            first_reason(&verdict)
        )));
    }
    Ok((copied, verdict))
}

/// "code: message" of a verdict's first reason.
fn first_reason(v: &LedgerVerdict) -> String {
    v.reasons.first().map(|r| format!("{}: {}", r.code, r.message)).unwrap_or_default()
}

/// The latest node at each level: all a left-to-right append needs.
#[derive(Default)]
struct Frontier(Vec<Option<(u64, Hash32)>>);

impl NodeSource for Frontier {
    fn node(&self, level: u8, index: u64) -> Result<Hash32, ProofError> {
        match self.0.get(level as usize) {
            Some(Some((i, h))) if *i == index => Ok(*h),
            _ => Err(ProofError::MissingNode { level, index }),
        }
    }
}

/// Entries and tiles, then every checkpoint, registry note and index record.
fn convert(old: &SledStore, new: &SledStore, head: &Head, progress: &dyn Fn(u64, u64)) -> Result<u64, LedgerError> {
    let mut frontier = Frontier::default();
    let mut commit = Commit::default();
    let mut expect = 0u64;
    for r in old.entries(0, head.size) {
        let (seq, bytes) = r?;
        if seq != expect {
            return Err(LedgerError::SelfCheck(format!("entry {expect} is missing from the old store")));
        }
        let e = Entry::from_bytes(&bytes).map_err(|e| LedgerError::SelfCheck(format!("entry {seq}: {e}")))?;
        if e.seq != seq {
            return Err(LedgerError::SelfCheck(format!("entry stored at {seq} says seq {}", e.seq)));
        }
        let nodes = merkle::append_nodes(&Blake3Tree, &frontier, seq, hash::entry_hash(&bytes))?;
        for &(level, index, h) in &nodes {
            if frontier.0.len() <= level as usize {
                frontier.0.resize(level as usize + 1, None);
            }
            frontier.0[level as usize] = Some((index, h));
        }
        commit.nodes.extend(nodes);
        commit.entries.push((seq, bytes));
        expect += 1;
        if commit.entries.len() == CHUNK {
            new.apply(std::mem::take(&mut commit))?;
            progress(expect, head.size);
        }
    }
    if expect != head.size {
        return Err(LedgerError::SelfCheck(format!(
            "the old store holds {expect} of the head's {} entries",
            head.size
        )));
    }
    new.apply(commit)?;
    let root = merkle::root(&Blake3Tree, &crate::store::StoreNodes(new), head.size)?;
    if root != head.root {
        return Err(LedgerError::SelfCheck(format!(
            "the entries give root {} but the head says {}; nothing was changed",
            hex::encode(root),
            hex::encode(head.root)
        )));
    }
    copy_records(old, new)
}

/// Checkpoints (`C`), registry notes (`R`) and index records (`I`), byte
/// for byte. Any key this build does not know stops the migration.
fn copy_records(old: &SledStore, new: &SledStore) -> Result<u64, LedgerError> {
    let mut batch = sled::Batch::default();
    let (mut n, mut in_batch) = (0u64, 0usize);
    for r in old.raw_scan() {
        let (k, v) = r?;
        match k.first() {
            Some(b'C' | b'R' | b'I') => {
                batch.insert(k, v);
                n += 1;
                in_batch += 1;
            }
            Some(b'E' | b'N' | b'G' | b'H' | b'V') => {}
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "the old store holds key {} of no known kind; run `pil-ledger verify`",
                    hex::encode(&k)
                ))
                .into())
            }
        }
        if in_batch == COPY_CHUNK {
            new.raw().apply_batch(std::mem::take(&mut batch)).map_err(StoreError::from)?;
            in_batch = 0;
        }
    }
    new.raw().apply_batch(batch).map_err(StoreError::from)?;
    Ok(n)
}

/// Swap two directories atomically (Linux `renameat2(RENAME_EXCHANGE)`).
/// A file system without it gets a clear refusal, and nothing is swapped.
fn exchange(a: &Path, b: &Path) -> Result<(), LedgerError> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes()).map_err(|_| LedgerError::SelfCheck("path has a NUL".into()))?;
    let cb = CString::new(b.as_os_str().as_bytes()).map_err(|_| LedgerError::SelfCheck("path has a NUL".into()))?;
    // SAFETY: two valid NUL-terminated paths, relative to the current
    // directory; the call only reads them.
    let rc =
        unsafe { libc::renameat2(libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, cb.as_ptr(), libc::RENAME_EXCHANGE) };
    if rc != 0 {
        let source = std::io::Error::last_os_error();
        return Err(LedgerError::IoAt { path: b.to_path_buf(), source });
    }
    Ok(())
}
