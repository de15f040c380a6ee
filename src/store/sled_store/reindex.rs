//! Replacing every derived index record (`pil-ledger reindex`) in bounded
//! memory and crash-safely (`schema/storage.md` §6): the records arrive as
//! a stream and go to sled in batches, so one batch cannot hold a whole
//! ledger's index. Between the first and the last batch the indexes are
//! incomplete, so a marker key `X` is made durable first and removed
//! (durably) last; while it stands, the ledger refuses every open but
//! `reindex` and `verify` (`Ledger::open_inner`), and `verify` says why.

use pil_ledger_core::state::IndexWrite;

use super::engine::Batch;
use super::{index_key, SledStore};
use crate::store::StoreError;

/// The key of the marker: a reindex is under way, or was interrupted.
pub(crate) const REINDEX_MARKER: &[u8] = b"X";

/// Records per sled batch. sled's memory grows with the batch far beyond
/// its bytes; a reindex of 100k entries (400k records), measured: 1.72 GB
/// peak and 9.0 s with 16,384, 443 MB and 7.3 s with 1,024, 267 MB and
/// 7.2 s with 256.
const BATCH: usize = 256;
/// Records applied between two flushes.
const FLUSH_EVERY: usize = 16_384;
/// Bytes applied before sled is reopened (`Engine::refresh`), which frees
/// what it holds for pages it wrote.
const REFRESH_DEBT: u64 = 64 << 20;

impl SledStore {
    /// True while a reindex has not finished (the marker stands).
    pub(super) fn marker_stands(&self) -> Result<bool, StoreError> {
        Ok(self.engine.get()?.contains_key(REINDEX_MARKER)?)
    }

    /// Apply one batch, and flush every [`FLUSH_EVERY`] records: the store
    /// runs sled without its background flush (the writer syncs each group
    /// itself), and what is not flushed stays in sled's buffers.
    fn apply_batch(&self, b: Batch, n: usize, pending: &mut usize) -> Result<(), StoreError> {
        self.engine.apply(b)?;
        *pending += n;
        if *pending >= FLUSH_EVERY {
            *pending = 0;
            self.durable()?;
            if self.engine.debt() >= REFRESH_DEBT {
                self.engine.refresh()?;
            }
        }
        Ok(())
    }

    /// Mark, remove every `I` record, write `records`, unmark. Returns the
    /// number of records written.
    pub(super) fn replace_indexes_streaming(
        &self,
        records: &mut dyn Iterator<Item = Result<IndexWrite, StoreError>>,
    ) -> Result<u64, StoreError> {
        use std::ops::Bound::{Excluded, Included};
        self.writable("reindex")?;
        let mut b = Batch::default();
        b.put(REINDEX_MARKER, b"reindex under way: the derived indexes are incomplete");
        self.engine.apply(b)?;
        self.durable()?;
        // Old records, a batch at a time, each scan going on after the last
        // key removed (never from the start of the emptied range again).
        let (mut from, end) = (Included(sled::IVec::from(b"I")), Excluded(sled::IVec::from(b"J")));
        let mut pending = 0usize;
        loop {
            let keys: Vec<sled::IVec> =
                self.engine.get()?.range((from.clone(), end.clone())).keys().take(BATCH).collect::<Result<_, _>>()?;
            let Some(last) = keys.last().cloned() else { break };
            let mut b = Batch::default();
            let n = keys.len();
            for k in keys {
                b.remove(k);
            }
            self.apply_batch(b, n, &mut pending)?;
            from = Excluded(last);
        }
        tracing::debug!("reindex: old records removed");
        let mut written = 0u64;
        let mut b = Batch::default();
        let mut in_batch = 0usize;
        for r in records {
            let w = r?;
            b.put(index_key(w.ns, &w.key), w.value);
            in_batch += 1;
            written += 1;
            if in_batch == BATCH {
                self.apply_batch(std::mem::take(&mut b), in_batch, &mut pending)?;
                in_batch = 0;
            }
        }
        b.remove(REINDEX_MARKER);
        self.engine.apply(b)?;
        self.durable()?;
        Ok(written)
    }
}
