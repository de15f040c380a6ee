//! Decode and signature checks for async submitters (`serve`): a fixed pool
//! of one thread per core, fed by one bounded queue, each thread handing
//! its checked job straight to the writer.
//!
//! Before, each submission hopped to tokio's blocking pool and back: with
//! 128 clients in flight that meant up to 128 threads taking turns on two
//! cores (and 128 caches of parsed keys). Here the checks run on as many
//! threads as there are cores, each keeping one cache of parsed keys
//! (`keys::verify_one_cached`), and the async side waits once, for the
//! writer's answer.

use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::mpsc;

use super::{check, Job, Reply};
use crate::ledger::LedgerError;

/// A submission waiting for its check.
struct Pending {
    statement: Vec<u8>,
    signature: [u8; 64],
    reply: Reply,
}

/// The senders' side of the pool; the threads end when every sender is
/// gone (so the writer, whose queue they hold, can end after them).
#[derive(Clone)]
pub(super) struct Checkers {
    tx: mpsc::Sender<Pending>,
}

impl Checkers {
    /// Start `threads` checkers in front of the writer's queue `writer`.
    /// Their queue holds at most `bound` submissions (a sender waits while
    /// it is full).
    ///
    /// Jobs reach the writer in the order they were queued: each takes a
    /// ticket as it leaves the queue, is checked in parallel with the
    /// others, and waits for its turn to be handed on. So a batch submitted
    /// in one order is decided in that order, as with one checker.
    pub(super) fn spawn(threads: usize, bound: usize, writer: mpsc::Sender<Job>) -> Self {
        let (tx, rx) = mpsc::channel::<Pending>(bound);
        let queue = Arc::new(Mutex::new((rx, 0u64)));
        let turn = Arc::new((Mutex::new(0u64), Condvar::new()));
        for i in 0..threads.max(1) {
            let (queue, turn, writer) = (queue.clone(), turn.clone(), writer.clone());
            std::thread::Builder::new()
                .name(format!("pil-check-{i}"))
                .spawn(move || loop {
                    // One thread waits at the queue at a time; the others
                    // wait for the lock, then check in parallel.
                    let (p, ticket) = {
                        let mut q = queue.lock().expect("poisoned");
                        let Some(p) = q.0.blocking_recv() else { return };
                        q.1 += 1;
                        (p, q.1 - 1)
                    };
                    // A check that panicked must still give up its turn, or
                    // every later job would wait for it for ever.
                    let checked =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&p.statement, &p.signature)));
                    let (next, cv) = &*turn;
                    let mut next = cv.wait_while(next.lock().expect("poisoned"), |n| *n != ticket).expect("poisoned");
                    match checked {
                        Ok(checked) => {
                            let job = Job { statement: p.statement, signature: p.signature, checked, reply: p.reply };
                            if let Err(e) = writer.blocking_send(job) {
                                let _ = e.0.reply.send(Err(LedgerError::WriterStopped("writer is closed".into())));
                            }
                        }
                        Err(_) => {
                            let why = "the statement's check failed unexpectedly; nothing was appended";
                            let _ = p.reply.send(Err(LedgerError::WriterStopped(why.into())));
                        }
                    }
                    *next += 1;
                    cv.notify_all();
                })
                .expect("spawn checker thread");
        }
        Checkers { tx }
    }

    /// Queue a submission; its answer comes on `reply`, from the writer.
    pub(super) async fn submit(
        &self,
        statement: Vec<u8>,
        signature: [u8; 64],
        reply: Reply,
    ) -> Result<(), LedgerError> {
        self.tx
            .send(Pending { statement, signature, reply })
            .await
            .map_err(|_| LedgerError::WriterStopped("writer is closed".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pil_ledger_core::wire::Body;

    /// Jobs queued in one order reach the writer's queue in that order,
    /// whatever order four checkers finish them in, and each carries its
    /// own check's answer (every third signature is broken).
    #[test]
    fn jobs_reach_the_writer_in_queue_order_with_their_own_verdicts() {
        let key = pil_ledger_core::keys::generate();
        let n = 400usize;
        let jobs: Vec<(Vec<u8>, [u8; 64])> = (0..n)
            .map(|i| {
                let body = Body::CaseOpened { title: format!("case {i}"), area: "a".into(), unit: "u".into() };
                let (st, mut sig) = crate::ledger::sign_statement("t.example/pil", &key, &format!("C-{i}"), body);
                if i % 3 == 0 {
                    sig[7] ^= 1;
                }
                (st, sig)
            })
            .collect();
        let (writer_tx, mut writer_rx) = mpsc::channel::<Job>(16); // small: checkers wait for room
        let checkers = Checkers::spawn(4, 64, writer_tx);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let sent = jobs.clone();
        let submitter = std::thread::spawn(move || {
            rt.block_on(async {
                for (st, sig) in sent {
                    let (reply, _rx) = tokio::sync::oneshot::channel();
                    checkers.submit(st, sig, reply).await.unwrap();
                }
            })
        });
        for (i, (st, _)) in jobs.iter().enumerate() {
            let job = writer_rx.blocking_recv().expect("a job");
            assert_eq!(&job.statement, st, "job {i} out of order");
            assert_eq!(job.checked.is_ok(), i % 3 != 0, "job {i}'s verdict");
        }
        submitter.join().unwrap();
        // Every sender gone: the checkers end and drop the writer's queue.
        assert!(writer_rx.blocking_recv().is_none());
    }
}
