//! Signature checks on every core: [`SigPool`] for the entries (fed while
//! the replay goes on) and [`par_map`] for notes.

use crate::keys::{self, SigItem};

pub(super) const SIG_BATCH: usize = 2048;
/// Chunks of [`SIG_BATCH`] waiting for a signature worker, at most: about a
/// million signatures, 140 MB. The replay runs ahead of the signature
/// checks, and the checks left queued when it ends run beside the
/// comparison of the stored records, which is one thread's work: a small
/// bound would leave a core idle then (measured: 40.4 s instead of 35 s for
/// 1M entries with 64 chunks).
const SIG_QUEUE: usize = 512;

/// `f` over `items` on every core (scoped threads, up to 8), the results in
/// the order of `items`.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    if threads <= 1 || items.len() < 16 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> =
            items.chunks(chunk).map(|c| s.spawn(move || c.iter().map(f).collect::<Vec<R>>())).collect();
        handles.into_iter().flat_map(|h| h.join().expect("worker thread panicked")).collect()
    })
}

/// Signature checks on worker threads (one per core), fed in chunks through
/// one shared queue, so a worker that is done takes the next chunk and all
/// finish together; the result is the seqs whose signatures failed.
type SigChunk = Vec<(u64, SigItem)>;

pub(super) struct SigPool {
    tx: Option<std::sync::mpsc::SyncSender<SigChunk>>,
    workers: Vec<std::thread::JoinHandle<Vec<u64>>>,
    /// Set when the pool is dropped unfinished (a verify that stopped on an
    /// error): the workers skip what is still queued.
    cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for SigPool {
    fn drop(&mut self) {
        self.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl SigPool {
    pub(super) fn new() -> Self {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
        // Bounded (`SIG_QUEUE`): unbounded, it would hold most of a big
        // log's signatures (136 bytes each). When it is full, the replay
        // waits and its core checks signatures instead.
        let (tx, rx) = std::sync::mpsc::sync_channel::<SigChunk>(SIG_QUEUE);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let workers = (0..n)
            .map(|_| {
                let (rx, cancel) = (rx.clone(), cancel.clone());
                std::thread::spawn(move || {
                    let mut bad = Vec::new();
                    let mut cache = keys::KeyCache::default();
                    loop {
                        // The lock is held only to take a chunk (2,048
                        // checks, tens of milliseconds of work).
                        let Ok(chunk) = rx.lock().expect("poisoned").recv() else { break };
                        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                            continue; // drain the queue without checking
                        }
                        let items: Vec<SigItem> = chunk.iter().map(|(_, i)| *i).collect();
                        for ((seq, _), ok) in chunk.iter().zip(keys::verify_many_cached(&items, &mut cache)) {
                            if !ok {
                                bad.push(*seq);
                            }
                        }
                    }
                    bad
                })
            })
            .collect();
        SigPool { tx: Some(tx), workers, cancel }
    }

    pub(super) fn submit(&mut self, chunk: Vec<(u64, SigItem)>) {
        self.tx.as_ref().expect("pool open").send(chunk).expect("signature worker alive");
    }

    pub(super) fn finish(&mut self) -> Vec<u64> {
        drop(self.tx.take()); // the workers end once the queue is empty
        let mut bad = Vec::new();
        for h in std::mem::take(&mut self.workers) {
            bad.extend(h.join().expect("signature worker panicked"));
        }
        bad.sort_unstable();
        bad
    }
}
