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

/// Records per sled batch.
const BATCH: usize = 16_384;

impl SledStore {
    /// True while a reindex has not finished (the marker stands).
    pub(super) fn marker_stands(&self) -> Result<bool, StoreError> {
        Ok(self.engine.get()?.contains_key(REINDEX_MARKER)?)
    }

    /// Mark, remove every `I` record, write `records`, unmark. Returns the
    /// number of records written.
    pub(super) fn replace_indexes_streaming(
        &self,
        records: &mut dyn Iterator<Item = Result<IndexWrite, StoreError>>,
    ) -> Result<u64, StoreError> {
        self.writable("reindex")?;
        let mut b = Batch::default();
        b.put(REINDEX_MARKER, b"reindex under way: the derived indexes are incomplete");
        self.engine.apply(b)?;
        self.durable()?;
        // Old records, a batch at a time (each scan starts afresh after
        // the last batch's removals).
        loop {
            let keys: Vec<sled::IVec> =
                self.engine.get()?.scan_prefix(b"I").keys().take(BATCH).collect::<Result<_, _>>()?;
            if keys.is_empty() {
                break;
            }
            let mut b = Batch::default();
            for k in keys {
                b.remove(k);
            }
            self.engine.apply(b)?;
        }
        let mut written = 0u64;
        let mut b = Batch::default();
        let mut in_batch = 0usize;
        for r in records {
            let w = r?;
            b.put(index_key(w.ns, &w.key), w.value);
            in_batch += 1;
            written += 1;
            if in_batch == BATCH {
                self.engine.apply(std::mem::take(&mut b))?;
                in_batch = 0;
            }
        }
        b.remove(REINDEX_MARKER);
        self.engine.apply(b)?;
        self.durable()?;
        Ok(written)
    }
}
