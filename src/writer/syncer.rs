//! The syncer thread: makes applied groups durable (flush + fsync), records
//! the newest acknowledged checkpoint beside the store, answers the callers,
//! and does the store's upkeep (`Store::maintain`) when idle or past a bound.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::ledger::LedgerError;
use crate::store::{Head, Store};

use super::Applied;

/// The syncer does the store's housekeeping (`Store::maintain`: for sled, a
/// reopen that writes a fresh recovery snapshot, `storage.md` §5.1) once no
/// group has come for this long and `IDLE_DEBT` bytes were applied since the
/// last; under a load that never pauses, once `BUSY_DEBT` bytes were (about
/// 400,000 entries). A reopen pauses the writer for sled's open (0.15 s at
/// 1M entries, plus the replay of what it refreshes), so it waits for a
/// quiet moment unless the replay it saves has grown large. Only the
/// requests in flight wait for it (each client has one at a time).
const IDLE_MAINTAIN: std::time::Duration = std::time::Duration::from_secs(1);
const IDLE_DEBT: u64 = 16 << 20;
const BUSY_DEBT: u64 = 256 << 20;

/// `IDLE_DEBT` and `BUSY_DEBT`, or `PIL_IDLE_SNAPSHOT_DEBT` and
/// `PIL_BUSY_SNAPSHOT_DEBT` (bytes) when set: smaller values refresh sooner
/// (the tests use them to see refreshes after a few writes, and the
/// power-loss test to cut power during them).
fn snapshot_debts() -> (u64, u64) {
    let var = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    (var("PIL_IDLE_SNAPSHOT_DEBT", IDLE_DEBT), var("PIL_BUSY_SNAPSHOT_DEBT", BUSY_DEBT))
}

/// Run the store's housekeeping; a failure stops the writer as a failed
/// sync does (the store may be unusable).
fn maintain(store: &dyn Store, min_debt: u64, failed: &std::sync::Mutex<Option<String>>) {
    // After a failure (a sync that did not complete, say) the store's
    // state is unknown: leave it alone, and keep the first reason.
    if failed.lock().expect("poisoned").is_some() {
        return;
    }
    if let Err(e) = store.maintain(min_debt) {
        let why = format!("storage failure while refreshing the store's recovery snapshot: {e}");
        tracing::error!("{why}");
        failed.lock().expect("poisoned").get_or_insert(why);
    }
}

/// The syncer's loop: batches of applied groups from the writer, until the
/// writer hangs up.
pub(super) fn run(
    store: &dyn Store,
    from_writer: std::sync::mpsc::Receiver<Applied>,
    witness: Option<PathBuf>,
    failed: &Mutex<Option<String>>,
    durable: &Mutex<Option<Head>>,
) {
    let mut witness = witness.map(crate::acked::Witness::new);
    let (idle_debt, busy_debt) = snapshot_debts();
    loop {
        let first = match from_writer.recv_timeout(IDLE_MAINTAIN) {
            Ok(a) => a,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                maintain(store, idle_debt, failed);
                continue;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut batch = vec![first];
        while let Ok(more) = from_writer.try_recv() {
            batch.push(more);
        }
        let newest = batch.iter().rev().find_map(|a| a.head.clone());
        let outcome = match &newest {
            Some(_) => store.sync().map_err(|e| format!("storage failure while making a commit durable: {e}")),
            None => Ok(()),
        };
        let outcome = outcome.and_then(|()| match (&newest, &mut witness) {
            (Some(h), Some(w)) => {
                w.record(&h.checkpoint).map_err(|e| format!("could not record the acknowledged checkpoint: {e}"))
            }
            _ => Ok(()),
        });
        match outcome {
            Ok(()) => {
                if let Some(h) = newest {
                    *durable.lock().expect("poisoned") = Some(h);
                }
                for a in batch {
                    for (reply, r) in a.replies {
                        let _ = reply.send(r);
                    }
                }
                maintain(store, busy_debt, failed);
            }
            Err(why) => {
                tracing::error!("{why}");
                *failed.lock().expect("poisoned") = Some(why.clone());
                for a in batch {
                    for (reply, _) in a.replies {
                        let _ = reply.send(Err(LedgerError::WriterStopped(why.clone())));
                    }
                }
            }
        }
    }
}
