//! The single writer and its syncer (DESIGN §6).
//!
//! The statement is decoded (canonical) and its signature checked
//! (`verify_strict`) before it reaches the writer: on the caller's thread for
//! `append_blocking`, on tokio's blocking pool for the async `append` (never
//! on a runtime worker), so that work spreads over the cores. The one writer thread takes a group of pending statements and, in
//! arrival order: idempotency check, assign seq, build the entry,
//! `state::apply` the domain rules against the store plus this group's
//! overlay, add Merkle nodes; then signs the checkpoint, applies one atomic
//! store batch (entries, nodes, indexes, checkpoint, head) and computes every
//! proof, with the registry note beside the checkpoint (`schema/bundle.md`
//! §2). The syncer thread makes applied groups durable and only then
//! answers every caller with `{seq, hash, checkpoint, proof}`: the proof
//! comes with the acknowledgement, with no integration delay.

mod checkers;
mod syncer;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use pil_ledger_core::bundle::{is_registry, RegistryChain, RegistryNote};
use pil_ledger_core::hash;
use pil_ledger_core::keys::{self, SigItem};
use pil_ledger_core::merkle::{self, Blake3Tree, NodeSource, ProofError};
use pil_ledger_core::note::{Checkpoint, NoteVerifier};
use pil_ledger_core::state::{self, Candidate, Overlay, Refusal};
use pil_ledger_core::wire::{Entry, Hash32, Statement, FORMAT_V1};
use tokio::sync::{mpsc, oneshot};

use crate::ack::Ack;
use crate::error::LedgerError;
use crate::store::{Commit, Head, LedgerConfig, Store, StoreIndex, StoreNodes};

/// Most statements taken into one group commit.
pub const MAX_GROUP: usize = 2048;
/// Bound of the writer's queue; senders wait when it is full.
pub const QUEUE_BOUND: usize = 8192;

type Reply = oneshot::Sender<Result<Ack, LedgerError>>;

// ----------------------------------------------------------------- clock --
//
// The log's clock (`recorded_at_ms`) never decreases, and one wrong clock
// must not drag it anywhere (DESIGN §4): the writer refuses, instead of
// ratcheting, when its clock disagrees with the signer's claimed time or
// with the log's last recorded time beyond the tolerances below.

/// The bounds themselves, their refusals and the rule that gives
/// `recorded_at_ms` live in the core (`pil_ledger_core::clock`), which the
/// verifier shares: 5 minutes ([`MAX_SKEW_MS`]) between the writer's clock
/// and the signer's `claimed_at_ms` either way (`clock_skew`, checked for
/// every new statement, the genesis included, but not for an idempotent
/// resubmission, which gets its original ack); 5 minutes behind the log's
/// last `recorded_at_ms` (`clock_behind_log`; within it the entry is
/// recorded at the last time, so the log's clock never decreases); and
/// [`DEFAULT_MAX_CLOCK_JUMP_DAYS`] ahead of it (`clock_jump`).
pub use pil_ledger_core::clock::MAX_SKEW_MS;

/// Default for the most the writer's clock may be ahead of the log's last
/// `recorded_at_ms`: 90 days (`pil_ledger_core::clock::MAX_JUMP_MS`). This
/// is what catches a signer and a writer sharing one wrong system clock (the
/// CLI's local mode), where the skew check cannot. A ledger really idle for
/// longer is appended to with [`MAX_CLOCK_JUMP_ENV`] set higher for that
/// one append.
pub const DEFAULT_MAX_CLOCK_JUMP_DAYS: u64 = pil_ledger_core::clock::MAX_JUMP_MS / DAY_MS;

/// Environment variable overriding [`DEFAULT_MAX_CLOCK_JUMP_DAYS`]: a whole
/// number of days, at least 1.
pub const MAX_CLOCK_JUMP_ENV: &str = "PIL_MAX_CLOCK_JUMP_DAYS";

/// Test and drill hook: a signed number of milliseconds added to this
/// process's clock ([`now_ms`]), which both the writer and the local signer
/// (`claimed_at_ms`) read. Lets tests run the real binary as if the system
/// clock were wrong (for example set to 2099). Unset in normal operation.
pub const CLOCK_OFFSET_ENV: &str = "PIL_CLOCK_OFFSET_MS";

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

fn env_clock_offset() -> Result<i64, String> {
    match std::env::var_os(CLOCK_OFFSET_ENV) {
        None => Ok(0),
        Some(v) => v
            .to_str()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .ok_or_else(|| format!("{CLOCK_OFFSET_ENV} must be a signed integer number of milliseconds")),
    }
}

fn env_max_clock_jump_days() -> Result<u64, String> {
    match std::env::var_os(MAX_CLOCK_JUMP_ENV) {
        None => Ok(DEFAULT_MAX_CLOCK_JUMP_DAYS),
        Some(v) => v
            .to_str()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|d| (1..=u64::MAX / DAY_MS).contains(d))
            .ok_or_else(|| format!("{MAX_CLOCK_JUMP_ENV} must be a whole number of days, at least 1")),
    }
}

static CLOCK_OFFSET: std::sync::OnceLock<Result<i64, String>> = std::sync::OnceLock::new();
static MAX_JUMP_DAYS: std::sync::OnceLock<Result<u64, String>> = std::sync::OnceLock::new();

/// Check the clock environment variables once, at start-up, so a typo is
/// an error rather than silently ignored.
pub fn check_clock_env() -> Result<(), LedgerError> {
    CLOCK_OFFSET.get_or_init(env_clock_offset).clone().map_err(LedgerError::InvalidArgument)?;
    MAX_JUMP_DAYS.get_or_init(env_max_clock_jump_days).clone().map_err(LedgerError::InvalidArgument)?;
    Ok(())
}

/// The most the writer's clock may be ahead of the log's last recorded
/// time, in days ([`MAX_CLOCK_JUMP_ENV`], else the default).
pub fn max_clock_jump_days() -> u64 {
    MAX_JUMP_DAYS.get_or_init(env_max_clock_jump_days).clone().unwrap_or(DEFAULT_MAX_CLOCK_JUMP_DAYS)
}

/// This process's clock, unix milliseconds (plus [`CLOCK_OFFSET_ENV`]).
pub fn now_ms() -> u64 {
    let sys = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let offset = CLOCK_OFFSET.get_or_init(env_clock_offset).clone().unwrap_or(0);
    sys.saturating_add_signed(offset)
}

/// The `recorded_at_ms` of a new entry, or the refusal
/// (`pil_ledger_core::clock::record_time`): `now` is the writer's clock,
/// `claimed` the statement's `claimed_at_ms`, `last` the previous entry's
/// `recorded_at_ms` (none for the genesis), `max_jump_days` the forward
/// bound.
pub fn recorded_at(now: u64, claimed: u64, last: Option<u64>, max_jump_days: u64) -> Result<u64, LedgerError> {
    Ok(pil_ledger_core::clock::record_time(now, claimed, last, max_jump_days.saturating_mul(DAY_MS))?)
}

/// A statement on its way to the writer. Built only from [`check`], so
/// every job the writer sees was decoded canonically and its signature
/// checked (`verify_strict`) before it was queued: signature work is spread
/// over the callers' cores (or tokio's blocking pool) and the one writer does
/// only what must be serial (idempotency, clock, authority and domain rules,
/// seq, commit).
struct Job {
    statement: Vec<u8>,
    signature: [u8; 64],
    checked: Result<Statement, Refusal>,
    reply: Reply,
}

/// Canonical decode and `verify_strict` of one statement: CPU work (tens of
/// microseconds), never to run on an async runtime's worker thread.
fn check(statement: &[u8], signature: &[u8; 64]) -> Result<Statement, Refusal> {
    let st = Statement::from_bytes(statement).map_err(|e| Refusal::NotCanonical(e.to_string()))?;
    let item = SigItem { author: st.author, digest: hash::statement_digest(statement), signature: *signature };
    if keys::verify_one_cached(&item) {
        Ok(st)
    } else {
        Err(Refusal::SignatureInvalid)
    }
}

/// A cloneable handle to the one writer.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Job>,
    /// Where async submissions are checked (`writer/checkers.rs`).
    checkers: checkers::Checkers,
}

impl WriterHandle {
    /// Submit signed statement bytes; resolves when durable, with the proof.
    /// The decode and signature check run on the checker threads
    /// (`writer/checkers.rs`), not on the runtime thread that polls this
    /// future.
    pub async fn append(&self, statement: Vec<u8>, signature: [u8; 64]) -> Result<Ack, LedgerError> {
        let (reply, rx) = oneshot::channel();
        self.checkers.submit(statement, signature, reply).await?;
        rx.await.map_err(|_| LedgerError::WriterStopped("writer dropped the request".into()))?
    }

    /// The same, for synchronous callers (not from inside a tokio runtime):
    /// the check runs on the caller's thread.
    pub fn append_blocking(&self, statement: Vec<u8>, signature: [u8; 64]) -> Result<Ack, LedgerError> {
        let checked = check(&statement, &signature);
        let (reply, rx) = oneshot::channel();
        self.tx
            .blocking_send(Job { statement, signature, checked, reply })
            .map_err(|_| LedgerError::WriterStopped("writer is closed".into()))?;
        rx.blocking_recv().map_err(|_| LedgerError::WriterStopped("writer dropped the request".into()))?
    }
}

/// The writer and syncer threads and the durable head they publish.
pub struct Writer {
    pub handle: WriterHandle,
    pub(crate) threads: Vec<std::thread::JoinHandle<()>>,
    pub(crate) durable: Arc<std::sync::Mutex<Option<Head>>>,
}

impl Writer {
    /// Close the queue and wait until everything queued was answered.
    pub fn stop(self) {
        drop(self.handle);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------- writer --

struct WriterState {
    store: Arc<dyn Store>,
    config: LedgerConfig,
    log_key: SigningKey,
    /// Head as applied (may be ahead of the durable head by groups in sync).
    head: Option<Head>,
    failed: Arc<std::sync::Mutex<Option<String>>>,
    to_syncer: std::sync::mpsc::SyncSender<Applied>,
    /// [`max_clock_jump_days`], read once at start.
    max_jump_days: u64,
    /// The registry chain at `head` (`schema/bundle.md` §1); `None` until
    /// the first group reads it ([`WriterState::registry_at_head`]).
    registry: Option<RegistryChain>,
}

/// A group applied to the store, waiting to be made durable and answered.
struct Applied {
    head: Option<Head>,
    replies: Vec<(Reply, Result<Ack, LedgerError>)>,
}

/// Start the writer (rules, seq, apply) and the syncer (flush, fsync, then
/// answer). They overlap: while one group is being made durable, the next is
/// checked and applied; one sync covers every group applied meanwhile. No
/// caller hears about a group before it is durable.
///
/// It runs over any [`Store`]; tests give it one that fails on purpose.
///
/// `witness`: where to keep the checkpoint of the newest acknowledged head
/// (`DATA/checkpoint.acked`), rewritten after every sync and before any
/// caller of that sync is answered, so a store that later loses
/// acknowledged entries (sled's recovery cuts a damaged log short) is
/// caught at open and by `verify`.
pub fn spawn_writer(
    store: Arc<dyn Store>,
    config: LedgerConfig,
    log_key: SigningKey,
    head: Option<Head>,
    witness: Option<PathBuf>,
) -> Writer {
    let (tx, mut rx) = mpsc::channel::<Job>(QUEUE_BOUND);
    let (to_syncer, from_writer) = std::sync::mpsc::sync_channel::<Applied>(64);
    let failed = Arc::new(std::sync::Mutex::new(None::<String>));
    let durable = Arc::new(std::sync::Mutex::new(head.clone()));
    let mut st = WriterState {
        store: store.clone(),
        config,
        log_key,
        head,
        failed: failed.clone(),
        to_syncer,
        max_jump_days: max_clock_jump_days(),
        registry: None,
    };
    let writer = std::thread::Builder::new()
        .name("pil-writer".into())
        .spawn(move || {
            while let Some(first) = rx.blocking_recv() {
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match rx.try_recv() {
                        Ok(j) => group.push(j),
                        Err(_) => break,
                    }
                }
                st.process(group);
            }
        })
        .expect("spawn writer thread");
    let durable2 = durable.clone();
    let syncer = std::thread::Builder::new()
        .name("pil-syncer".into())
        .spawn(move || syncer::run(&*store, from_writer, witness, &failed, &durable2))
        .expect("spawn syncer thread");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let checkers = checkers::Checkers::spawn(cores, QUEUE_BOUND, tx.clone());
    Writer { handle: WriterHandle { tx, checkers }, threads: vec![writer, syncer], durable }
}

/// Node reads for one group: the group's new nodes plus a read-through cache
/// of stored ones (consecutive proofs share most siblings).
struct GroupNodes<'a> {
    store: &'a dyn Store,
    nodes: RefCell<HashMap<(u8, u64), Hash32>>,
}

impl NodeSource for GroupNodes<'_> {
    fn node(&self, level: u8, index: u64) -> Result<Hash32, ProofError> {
        if let Some(h) = self.nodes.borrow().get(&(level, index)) {
            return Ok(*h);
        }
        let h = StoreNodes(self.store).node(level, index)?;
        self.nodes.borrow_mut().insert((level, index), h);
        Ok(h)
    }
}

enum Fate {
    Refused(LedgerError),
    New { seq: u64, hash: Hash32, created: Vec<(String, String)> },
    Duplicate { seq: u64, created: Vec<(String, String)> },
}

impl WriterState {
    fn process(&mut self, group: Vec<Job>) {
        if let Some(why) = self.failed.lock().expect("poisoned").clone() {
            for j in group {
                let _ = j.reply.send(Err(LedgerError::WriterStopped(why.clone())));
            }
            return;
        }
        let t0 = std::time::Instant::now();
        let mut registry = match self.registry {
            Some(r) => r,
            None => match self.registry_at_head() {
                Ok(r) => r,
                Err(e) => return self.stop(group, format!("cannot read the registry chain: {e}")),
            },
        };
        // 1-2. decoding and signatures were checked by the submitters
        // 3. rules, in arrival order, against store + overlay
        let store: &dyn Store = self.store.as_ref();
        let base = StoreIndex(store);
        let mut overlay = Overlay::new(&base);
        let nodes = GroupNodes { store, nodes: RefCell::new(HashMap::new()) };
        let (mut size, mut prev, mut last_ms) = match &self.head {
            Some(h) => (h.size, h.last_hash, h.last_recorded_ms),
            None => (0, [0u8; 32], 0),
        };
        let first_seq = size;
        let mut commit = Commit::default();
        let mut fates = Vec::with_capacity(group.len());
        let mut new_bytes: HashMap<u64, Vec<u8>> = HashMap::new();
        for job in group.iter() {
            let st = match &job.checked {
                Ok(s) => s,
                Err(r) => {
                    fates.push(Fate::Refused(r.clone().into()));
                    continue;
                }
            };
            let fate = self.decide(&overlay, &nodes, st, job, size, prev, &mut last_ms, &new_bytes);
            match fate {
                Ok((out, entry_bytes, h, node_writes)) => {
                    overlay.put_all(out.writes);
                    if is_registry(&st.body) {
                        registry.push(&h);
                    }
                    for (l, i, nh) in &node_writes {
                        nodes.nodes.borrow_mut().insert((*l, *i), *nh);
                    }
                    commit.nodes.extend(node_writes);
                    new_bytes.insert(size, job.statement.clone());
                    commit.entries.push((size, entry_bytes));
                    fates.push(Fate::New {
                        seq: size,
                        hash: h,
                        created: out.created.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                    });
                    prev = h;
                    size += 1;
                }
                Err(Ok(dup_seq)) => fates.push(Fate::Duplicate {
                    seq: dup_seq,
                    created: st.body.created_ids(&st.case_id).into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                }),
                Err(Err(e)) => fates.push(Fate::Refused(e)),
            }
        }
        let t_rules = t0.elapsed();
        // 4. sign the checkpoint for the new size and apply one atomic batch
        // that carries it with the entries it covers (durable: the syncer)
        let mut checkpoint = self.head.as_ref().map(|h| h.checkpoint.clone()).unwrap_or_default();
        if size > first_seq {
            let result = (|| -> Result<Head, LedgerError> {
                let root = merkle::root(&Blake3Tree, &nodes, size)?;
                let cp = Checkpoint { origin: self.config.origin.clone(), size, root, extensions: vec![] };
                let note = cp.sign(&self.log_key).map_err(|e| LedgerError::SelfCheck(e.to_string()))?;
                let head = Head { size, root, last_hash: prev, last_recorded_ms: last_ms, checkpoint: note.clone() };
                commit.index = overlay.into_writes();
                commit.checkpoint = Some((size, note));
                let reg = RegistryNote { origin: self.config.origin.clone(), size, root, chain: registry };
                let reg = reg.sign(&self.log_key).map_err(|e| LedgerError::SelfCheck(e.to_string()))?;
                commit.registry = Some((size, reg));
                commit.head = Some(head.clone());
                if first_seq == 0 {
                    commit.config = Some(self.config.clone());
                }
                self.store.apply(std::mem::take(&mut commit))?;
                Ok(head)
            })();
            match result {
                Ok(head) => {
                    checkpoint = head.checkpoint.clone();
                    self.head = Some(head);
                    self.registry = Some(registry);
                }
                Err(e) => {
                    // Nothing in this group is acknowledged; stop taking
                    // writes: the in-memory head may no longer match disk.
                    let why = format!("storage failure during commit: {e}");
                    tracing::error!("{why}");
                    *self.failed.lock().expect("poisoned") = Some(why.clone());
                    for j in group {
                        let _ = j.reply.send(Err(LedgerError::WriterStopped(why.clone())));
                    }
                    return;
                }
            }
        } else {
            drop(overlay);
        }
        let t_commit = t0.elapsed();
        // 5. proofs against the new checkpoint; the syncer answers once durable
        let mut replies = Vec::with_capacity(group.len());
        for (job, fate) in group.into_iter().zip(fates) {
            let reply = match fate {
                Fate::Refused(e) => Err(e),
                Fate::New { seq, hash, created } => merkle::inclusion_proof(&Blake3Tree, &nodes, seq, size)
                    .map(|proof| Ack {
                        seq,
                        hash,
                        checkpoint: checkpoint.clone(),
                        size,
                        proof,
                        created,
                        duplicate: false,
                    })
                    .map_err(LedgerError::from),
                Fate::Duplicate { seq, created } => (|| {
                    let hash = nodes.node(0, seq)?;
                    let proof = merkle::inclusion_proof(&Blake3Tree, &nodes, seq, size)?;
                    Ok(Ack { seq, hash, checkpoint: checkpoint.clone(), size, proof, created, duplicate: true })
                })(),
            };
            replies.push((job.reply, reply));
        }
        let head = if size > first_seq { self.head.clone() } else { None };
        if let Err(std::sync::mpsc::SendError(a)) = self.to_syncer.send(Applied { head, replies }) {
            for (reply, _) in a.replies {
                let _ = reply.send(Err(LedgerError::WriterStopped("syncer stopped".into())));
            }
        }
        tracing::debug!(
            group = size - first_seq,
            rules_us = t_rules.as_micros() as u64,
            commit_us = (t_commit - t_rules).as_micros() as u64,
            reply_us = (t0.elapsed() - t_commit).as_micros() as u64,
            "group commit"
        );
    }

    /// Refuse the whole group and stop taking writes.
    fn stop(&self, group: Vec<Job>, why: String) {
        tracing::error!("{why}");
        *self.failed.lock().expect("poisoned") = Some(why.clone());
        for j in group {
            let _ = j.reply.send(Err(LedgerError::WriterStopped(why.clone())));
        }
    }

    /// The registry chain at the head: from the registry note stored at the
    /// head's size (one read, one signature check), else, for a ledger
    /// written before registry notes (or a note that does not verify for
    /// the head), recomputed once by reading the whole log.
    fn registry_at_head(&self) -> Result<RegistryChain, LedgerError> {
        let Some(head) = &self.head else { return Ok(RegistryChain::default()) };
        let vkey = NoteVerifier::new(&self.config.origin, self.log_key.verifying_key())
            .map_err(|e| LedgerError::SelfCheck(e.to_string()))?;
        if let Some(note) = self.store.registry_note(head.size)? {
            match RegistryNote::open(note.as_bytes(), &vkey) {
                Ok(n) if n.size == head.size && n.root == head.root => return Ok(n.chain),
                _ => tracing::warn!("the registry note at size {} does not verify for the head", head.size),
            }
        }
        tracing::info!("computing the registry chain from the log ({} entries)", head.size);
        Ok(RegistryChain::over(scan_registry(self.store.as_ref(), head.size)?.iter().map(|(_, _, h)| h)))
    }

    /// Decide one statement. Ok: the outcome, entry bytes, hash and Merkle
    /// node writes. Err(Ok(seq)): an idempotent resubmission of `seq`.
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn decide(
        &self,
        overlay: &Overlay<'_, StoreIndex<'_>>,
        nodes: &GroupNodes<'_>,
        st: &Statement,
        job: &Job,
        seq: u64,
        prev: Hash32,
        last_ms: &mut u64,
        new_bytes: &HashMap<u64, Vec<u8>>,
    ) -> Result<(state::Outcome, Vec<u8>, Hash32, Vec<(u8, u64, Hash32)>), Result<u64, LedgerError>> {
        // idempotency: same (author, nonce)
        if let Some(old) = state::nonce_seq(overlay, &st.author, &st.nonce).map_err(|e| Err(Refusal::from(e).into()))? {
            let old_bytes = match new_bytes.get(&old) {
                Some(b) => b.clone(),
                None => {
                    let e = self
                        .store
                        .entry(old)
                        .map_err(|e| Err(e.into()))?
                        .ok_or_else(|| Err(LedgerError::SelfCheck(format!("entry {old} missing"))))?;
                    Entry::from_bytes(&e).map_err(|e| Err(LedgerError::SelfCheck(e.to_string())))?.statement
                }
            };
            return Err(if old_bytes == job.statement {
                Ok(old)
            } else {
                Err(Refusal::NonceConflict { seq: old }.into())
            });
        }
        let last = if seq == 0 { None } else { Some(*last_ms) };
        let recorded = recorded_at(now_ms(), st.claimed_at_ms, last, self.max_jump_days).map_err(Err)?;
        let entry = Entry {
            format: FORMAT_V1,
            seq,
            prev,
            recorded_at_ms: recorded,
            statement: job.statement.clone(),
            signature: job.signature,
        };
        let bytes = entry.to_bytes();
        let h = hash::entry_hash(&bytes);
        let cand = Candidate { seq, recorded_at_ms: recorded, entry_hash: h, statement: st };
        let out = state::apply(overlay, &self.config.origin, &cand).map_err(|r| Err(r.into()))?;
        let node_writes = merkle::append_nodes(&Blake3Tree, nodes, seq, h).map_err(|e| Err(e.into()))?;
        *last_ms = recorded;
        Ok((out, bytes, h, node_writes))
    }
}

/// Every key-registry entry below `size` (`schema/bundle.md` §1), by reading
/// the whole log: `(seq, entry bytes, entry hash)`. An entry that does not
/// decode is no registry entry (as for the verifier's chain).
pub fn scan_registry(store: &dyn Store, size: u64) -> Result<Vec<(u64, Vec<u8>, Hash32)>, LedgerError> {
    let mut out = Vec::new();
    for r in store.entries(0, size) {
        let (seq, bytes) = r?;
        let Ok(entry) = Entry::from_bytes(&bytes) else { continue };
        if Statement::from_bytes(&entry.statement).is_ok_and(|st| is_registry(&st.body)) {
            let h = hash::entry_hash(&bytes);
            out.push((seq, bytes, h));
        }
    }
    Ok(out)
}
