//! The ledger: init/open over a [`Store`], the single writer thread with
//! group commit (DESIGN §6), reads, proofs, reindex and full verification.
//!
//! Write path: the submitting thread decodes (canonical) and checks the
//! signature (`verify_strict`); the one writer thread takes a group of
//! pending statements and, in arrival order: idempotency check, assign seq,
//! build the entry, `state::apply` the domain rules against the store plus
//! this group's overlay, add Merkle nodes; then signs the checkpoint and
//! applies one atomic store batch (entries, nodes, indexes, checkpoint,
//! head) and computes every proof. The syncer thread makes applied groups
//! durable and only then answers every caller with `{seq, hash, checkpoint,
//! proof}`. The proof comes with the acknowledgement: no integration delay.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use pil_ledger_core::hash;
use pil_ledger_core::keys::{self, SigItem};
use pil_ledger_core::merkle::{self, Blake3Tree, NodeSource, ProofError};
use pil_ledger_core::note::{Checkpoint, NoteVerifier};
use pil_ledger_core::state::{self, Candidate, IndexRead, Overlay, Refusal};
use pil_ledger_core::verify::{self, LedgerVerdict, LedgerVerifier, Reason};
use pil_ledger_core::wire::{Body, Entry, Hash32, Statement, FORMAT_V1};
use tokio::sync::{mpsc, oneshot};

use crate::store::{Commit, Head, LedgerConfig, SledStore, Store, StoreError, StoreIndex, StoreNodes};

/// Most statements taken into one group commit.
pub const MAX_GROUP: usize = 2048;
/// Bound of the writer's queue; senders wait when it is full.
pub const QUEUE_BOUND: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no ledger at {0} (run `pil-ledger init --origin NAME` first)")]
    NotALedger(PathBuf),
    #[error("a ledger already exists at {0}")]
    LedgerExists(PathBuf),
    #[error("ledger failed its start-up self-check: {0}")]
    SelfCheck(String),
    #[error("key file {path}: {message}")]
    KeyFile { path: PathBuf, message: String },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("proof: {0}")]
    Proof(#[from] ProofError),
    #[error("the writer has stopped: {0}")]
    WriterStopped(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl LedgerError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            LedgerError::Refused(r) => r.code(),
            LedgerError::Store(crate::store::StoreError::Busy(_)) => "ledger_busy",
            LedgerError::Store(_) => "storage_error",
            LedgerError::NotALedger(_) => "no_ledger",
            LedgerError::LedgerExists(_) => "ledger_exists",
            LedgerError::SelfCheck(_) => "self_check_failed",
            LedgerError::KeyFile { .. } => "bad_key_file",
            LedgerError::InvalidArgument(_) => "invalid_argument",
            LedgerError::Proof(ProofError::Storage(_) | ProofError::MissingNode { .. }) => "storage_error",
            LedgerError::Proof(_) => "invalid_argument",
            LedgerError::WriterStopped(_) => "writer_stopped",
            LedgerError::Io(_) => "io_error",
        }
    }

    /// True when the caller's input was refused (exit 2), false for I/O
    /// or internal failures (exit 3).
    pub fn is_refusal(&self) -> bool {
        match self {
            LedgerError::Refused(Refusal::Backend(_)) => false,
            LedgerError::Refused(_)
            | LedgerError::NotALedger(_)
            | LedgerError::LedgerExists(_)
            | LedgerError::KeyFile { .. }
            | LedgerError::InvalidArgument(_) => true,
            LedgerError::Proof(ProofError::Storage(_) | ProofError::MissingNode { .. }) => false,
            LedgerError::Proof(_) => true,
            LedgerError::Store(_) | LedgerError::SelfCheck(_) | LedgerError::WriterStopped(_) | LedgerError::Io(_) => {
                false
            }
        }
    }
}

/// The acknowledgement of an append (or of a resubmission).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    pub seq: u64,
    pub hash: Hash32,
    /// The checkpoint note the proof is against.
    pub checkpoint: String,
    pub size: u64,
    pub proof: Vec<Hash32>,
    /// Ids the entry created (`case_id`, ...).
    pub created: Vec<(String, String)>,
    /// True when this statement was already in the log (idempotent resubmit).
    pub duplicate: bool,
}

impl Ack {
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "seq": self.seq,
            "hash": hex::encode(self.hash),
            "checkpoint": self.checkpoint,
            "size": self.size,
            "proof": self.proof.iter().map(hex::encode).collect::<Vec<_>>(),
        });
        for (k, val) in &self.created {
            v[k.as_str()] = serde_json::Value::String(val.clone());
        }
        if self.duplicate {
            v["duplicate"] = serde_json::Value::Bool(true);
        }
        v
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// File layout of a data directory.
pub struct Paths {
    pub root: PathBuf,
}

impl Paths {
    pub fn new(root: &Path) -> Self {
        Paths { root: root.to_path_buf() }
    }
    pub fn store(&self) -> PathBuf {
        self.root.join("ledger")
    }
    pub fn log_key(&self) -> PathBuf {
        self.root.join("keys").join("log.key")
    }
    pub fn officer_key(&self) -> PathBuf {
        self.root.join("keys").join("officer.key")
    }
}

/// Write a PKCS#8 PEM key file with mode 0600; never overwrites.
pub fn write_key_file(path: &Path, key: &SigningKey) -> Result<(), LedgerError> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| LedgerError::KeyFile { path: path.to_path_buf(), message: format!("cannot create: {e}") })?;
    f.write_all(keys::to_pem(key).as_bytes())?;
    f.sync_all()?;
    Ok(())
}

pub fn read_key_file(path: &Path) -> Result<SigningKey, LedgerError> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| LedgerError::KeyFile { path: path.to_path_buf(), message: format!("cannot read: {e}") })?;
    keys::from_pem(&pem).map_err(|e| LedgerError::KeyFile { path: path.to_path_buf(), message: e.to_string() })
}

/// Build and sign a statement for this ledger: fresh random nonce, the
/// author's clock as `claimed_at_ms`.
pub fn sign_statement(origin: &str, author: &SigningKey, case_id: &str, body: Body) -> (Vec<u8>, [u8; 64]) {
    let mut nonce = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    let st = Statement {
        format: FORMAT_V1,
        origin: origin.to_string(),
        author: author.verifying_key().to_bytes(),
        claimed_at_ms: now_ms(),
        nonce,
        case_id: case_id.to_string(),
        body,
    };
    let bytes = st.to_bytes();
    let sig = keys::sign_statement(author, &bytes);
    (bytes, sig)
}

type Reply = oneshot::Sender<Result<Ack, LedgerError>>;

/// A statement on its way to the writer. Built only by [`Job::checked`], so
/// every job the writer sees was decoded canonically and its signature
/// checked (`verify_strict`) by the submitting thread: signature work is
/// spread over the callers' cores and the one writer does only what must be
/// serial (idempotency, authority and domain rules, seq, commit).
struct Job {
    statement: Vec<u8>,
    signature: [u8; 64],
    checked: Result<Statement, Refusal>,
    reply: Reply,
}

impl Job {
    fn checked(statement: Vec<u8>, signature: [u8; 64], reply: Reply) -> Job {
        let checked =
            Statement::from_bytes(&statement).map_err(|e| Refusal::NotCanonical(e.to_string())).and_then(|st| {
                let item = SigItem { author: st.author, digest: hash::statement_digest(&statement), signature };
                if keys::verify_one(&item) {
                    Ok(st)
                } else {
                    Err(Refusal::SignatureInvalid)
                }
            });
        Job { statement, signature, checked, reply }
    }
}

/// A cloneable handle to the one writer.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Job>,
}

impl WriterHandle {
    /// Submit signed statement bytes; resolves when durable, with the proof.
    pub async fn append(&self, statement: Vec<u8>, signature: [u8; 64]) -> Result<Ack, LedgerError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::checked(statement, signature, reply))
            .await
            .map_err(|_| LedgerError::WriterStopped("writer is closed".into()))?;
        rx.await.map_err(|_| LedgerError::WriterStopped("writer dropped the request".into()))?
    }

    /// The same, for synchronous callers (not from inside a tokio runtime).
    pub fn append_blocking(&self, statement: Vec<u8>, signature: [u8; 64]) -> Result<Ack, LedgerError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .blocking_send(Job::checked(statement, signature, reply))
            .map_err(|_| LedgerError::WriterStopped("writer is closed".into()))?;
        rx.blocking_recv().map_err(|_| LedgerError::WriterStopped("writer dropped the request".into()))?
    }
}

/// An open ledger.
pub struct Ledger {
    store: Arc<SledStore>,
    paths: Paths,
    config: LedgerConfig,
    vkey: NoteVerifier,
    writer: Option<Writer>,
}

/// The writer and syncer threads and the durable head they publish.
struct Writer {
    handle: WriterHandle,
    threads: Vec<std::thread::JoinHandle<()>>,
    durable: Arc<std::sync::Mutex<Option<Head>>>,
}

fn valid_origin(origin: &str) -> Result<(), LedgerError> {
    if origin.is_empty() || origin.len() > pil_ledger_core::wire::MAX_ORIGIN_BYTES {
        return Err(LedgerError::InvalidArgument("origin must be 1 to 255 bytes".into()));
    }
    if origin.chars().any(|c| c.is_whitespace() || c == '+' || c.is_control()) {
        return Err(LedgerError::InvalidArgument("origin must not contain spaces, '+' or control characters".into()));
    }
    Ok(())
}

impl Ledger {
    /// Create a new ledger in `dir`: keys, store, genesis at seq 0.
    pub fn init(dir: &Path, origin: &str, holder: &str, unit: &str) -> Result<Ledger, LedgerError> {
        valid_origin(origin)?;
        let paths = Paths::new(dir);
        if paths.store().exists() {
            // An init that died before its genesis was durable leaves a store
            // with no config: nothing was ever acknowledged from it, so it
            // and its never-used keys are cleared and init starts over.
            let committed = SledStore::open(&paths.store())?.config()?.is_some();
            if committed {
                return Err(LedgerError::LedgerExists(dir.to_path_buf()));
            }
            tracing::warn!("clearing an unfinished init at {}", dir.display());
            std::fs::remove_dir_all(paths.store())?;
            for p in [paths.log_key(), paths.officer_key()] {
                if p.exists() {
                    std::fs::remove_file(p)?;
                }
            }
        }
        for p in [paths.log_key(), paths.officer_key()] {
            if p.exists() {
                return Err(LedgerError::LedgerExists(dir.to_path_buf()));
            }
        }
        let log_key = keys::generate();
        let officer = keys::generate();
        write_key_file(&paths.log_key(), &log_key)?;
        write_key_file(&paths.officer_key(), &officer)?;
        let store = Arc::new(SledStore::open(&paths.store())?);
        let config = LedgerConfig { origin: origin.to_string(), log_key: log_key.verifying_key().to_bytes() };
        let vkey = NoteVerifier::new(origin, log_key.verifying_key())
            .map_err(|e| LedgerError::InvalidArgument(e.to_string()))?;
        let writer = spawn_writer(store.clone(), config.clone(), log_key, None);
        let ledger = Ledger { store, paths, config: config.clone(), vkey, writer: Some(writer) };
        let body = Body::Genesis {
            origin: origin.to_string(),
            log_key: config.log_key,
            officer: officer.verifying_key().to_bytes(),
            holder: holder.to_string(),
            unit: unit.to_string(),
        };
        let (st, sig) = sign_statement(origin, &officer, "", body);
        ledger.writer()?.append_blocking(st, sig)?;
        Ok(ledger)
    }

    /// Open an existing ledger. O(log n): no replay, a cheap self-check of
    /// the head. With `writable`, loads the log key and starts the writer.
    pub fn open(dir: &Path, writable: bool) -> Result<Ledger, LedgerError> {
        Self::open_inner(dir, writable, true)
    }

    /// Open read-only without the start-up self-check: for `verify`, which
    /// must report a damaged ledger as invalid, with reasons, rather than
    /// refuse to open it.
    pub fn open_for_verify(dir: &Path) -> Result<Ledger, LedgerError> {
        Self::open_inner(dir, false, false)
    }

    fn open_inner(dir: &Path, writable: bool, check: bool) -> Result<Ledger, LedgerError> {
        let paths = Paths::new(dir);
        if !paths.store().join("db").exists() {
            return Err(LedgerError::NotALedger(dir.to_path_buf()));
        }
        let store = Arc::new(SledStore::open(&paths.store())?);
        let config = store.config()?.ok_or_else(|| LedgerError::NotALedger(dir.to_path_buf()))?;
        let pk = keys::parse_public(&config.log_key).map_err(|e| LedgerError::SelfCheck(format!("log key: {e}")))?;
        let vkey = NoteVerifier::new(&config.origin, pk).map_err(|e| LedgerError::SelfCheck(e.to_string()))?;
        let head = if check { Some(self_check(store.as_ref(), &vkey)?) } else { None };
        let writer = if writable {
            let log_key = read_key_file(&paths.log_key())?;
            if log_key.verifying_key().to_bytes() != config.log_key {
                return Err(LedgerError::KeyFile {
                    path: paths.log_key(),
                    message: "this is not the ledger's log key".into(),
                });
            }
            Some(spawn_writer(store.clone(), config.clone(), log_key, head))
        } else {
            None
        };
        Ok(Ledger { store, paths, config, vkey, writer })
    }

    pub fn writer(&self) -> Result<&WriterHandle, LedgerError> {
        self.writer
            .as_ref()
            .map(|w| &w.handle)
            .ok_or_else(|| LedgerError::WriterStopped("ledger opened read-only".into()))
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }
    pub fn origin(&self) -> &str {
        &self.config.origin
    }
    pub fn vkey(&self) -> &NoteVerifier {
        &self.vkey
    }
    pub fn store(&self) -> &SledStore {
        &self.store
    }

    /// The head readers may rely on. With a writer running, that is the
    /// last *durable* head (an applied but not yet durable group is never
    /// shown: its checkpoint could be lost in a crash and re-signed for a
    /// different tree); otherwise the stored head.
    pub fn head(&self) -> Result<Head, LedgerError> {
        if let Some(w) = &self.writer {
            if let Some(h) = w.durable.lock().expect("poisoned").clone() {
                return Ok(h);
            }
        }
        self.store.head()?.ok_or_else(|| LedgerError::SelfCheck("no head".into()))
    }

    /// Sign and append a statement with `key`, waiting for the ack.
    pub fn append_signed(&self, key: &SigningKey, case_id: &str, body: Body) -> Result<Ack, LedgerError> {
        let (st, sig) = sign_statement(&self.config.origin, key, case_id, body);
        self.writer()?.append_blocking(st, sig)
    }

    /// The entry at `seq`, if it is within the durable head.
    pub fn entry(&self, seq: u64) -> Result<Option<Vec<u8>>, LedgerError> {
        if seq >= self.head()?.size {
            return Ok(None);
        }
        Ok(self.store.entry(seq)?)
    }

    /// Inclusion proof for `seq` in the tree of `size` (default: head).
    pub fn prove_inclusion(&self, seq: u64, size: Option<u64>) -> Result<(u64, Hash32, Vec<Hash32>), LedgerError> {
        let head = self.head()?;
        let size = size.unwrap_or(head.size);
        if size > head.size {
            return Err(LedgerError::InvalidArgument(format!("size {size} is beyond the log's {} entries", head.size)));
        }
        if seq >= size {
            return Err(LedgerError::InvalidArgument(format!("seq {seq} is not in a tree of size {size}")));
        }
        let leaf = self.store.node(0, seq)?.ok_or(ProofError::MissingNode { level: 0, index: seq })?;
        let proof = merkle::inclusion_proof(&Blake3Tree, &StoreNodes(self.store.as_ref()), seq, size)?;
        Ok((size, leaf, proof))
    }

    pub fn prove_consistency(&self, old: u64, size: Option<u64>) -> Result<(u64, Vec<Hash32>), LedgerError> {
        let head = self.head()?;
        let size = size.unwrap_or(head.size);
        if size > head.size {
            return Err(LedgerError::InvalidArgument(format!("size {size} is beyond the log's {} entries", head.size)));
        }
        if old == 0 || old > size {
            return Err(LedgerError::InvalidArgument(format!("old size must be 1..={size}, got {old}")));
        }
        let proof = merkle::consistency_proof(&Blake3Tree, &StoreNodes(self.store.as_ref()), old, size)?;
        Ok((size, proof))
    }

    pub fn root_at(&self, size: u64) -> Result<Hash32, LedgerError> {
        Ok(merkle::root(&Blake3Tree, &StoreNodes(self.store.as_ref()), size)?)
    }

    /// Drop every derived index and rebuild it from the log, through the
    /// same `state::apply` the writer uses. Returns the number of records.
    pub fn reindex(&self, progress: &dyn Fn(u64, u64)) -> Result<usize, LedgerError> {
        let head = self.head()?;
        let mut idx = state::MemIndex::default();
        for r in self.store.entries(0, head.size) {
            let (seq, bytes) = r?;
            let entry = Entry::from_bytes(&bytes).map_err(|e| LedgerError::SelfCheck(format!("entry {seq}: {e}")))?;
            let st = Statement::from_bytes(&entry.statement)
                .map_err(|e| LedgerError::SelfCheck(format!("statement {seq}: {e}")))?;
            let cand = Candidate {
                seq,
                recorded_at_ms: entry.recorded_at_ms,
                entry_hash: hash::entry_hash(&bytes),
                statement: &st,
            };
            let out = state::apply(&idx, &self.config.origin, &cand)
                .map_err(|e| LedgerError::SelfCheck(format!("entry {seq} breaks a rule ({}); run verify", e.code())))?;
            idx.put_all(&out.writes);
            progress(seq + 1, head.size);
        }
        let writes = idx.into_writes();
        let n = writes.len();
        self.store.replace_indexes(writes)?;
        Ok(n)
    }

    /// Re-check everything (see `verify::LedgerVerifier`), then compare the
    /// stored Merkle nodes, indexes, head and checkpoints with the rebuild.
    pub fn verify(&self, progress: &dyn Fn(u64, u64)) -> Result<LedgerVerdict, LedgerError> {
        verify_store(self.store.as_ref(), Some(&self.vkey), &[], progress)
    }

    /// `verify` as a court runs it: against the verifier key it trusts (not
    /// the one the store names) and the checkpoints it kept from earlier,
    /// each of which the log must still extend (else `log_rewritten`).
    pub fn verify_against(
        &self,
        trusted: &NoteVerifier,
        kept: &[Vec<u8>],
        progress: &dyn Fn(u64, u64),
    ) -> Result<LedgerVerdict, LedgerError> {
        verify_store(self.store.as_ref(), Some(trusted), kept, progress)
    }

    /// Close: stop the writer after it has answered everything queued.
    pub fn close(mut self) {
        self.stop_writer();
    }

    fn stop_writer(&mut self) {
        if let Some(w) = self.writer.take() {
            drop(w.handle);
            for t in w.threads {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.stop_writer();
    }
}

/// The start-up self-check on a store, as `open` runs it (public for the
/// open-time benchmark). Returns the verified head.
pub fn self_check_store(store: &SledStore) -> Result<Head, LedgerError> {
    let config = store.config()?.ok_or_else(|| LedgerError::SelfCheck("no config".into()))?;
    let pk = keys::parse_public(&config.log_key).map_err(|e| LedgerError::SelfCheck(format!("log key: {e}")))?;
    let vkey = NoteVerifier::new(&config.origin, pk).map_err(|e| LedgerError::SelfCheck(e.to_string()))?;
    self_check(store, &vkey)
}

/// O(log n) start-up check: the head's last entry exists, hashes to the
/// head, nothing lies beyond it, the stored nodes give the head's root, and
/// the head checkpoint verifies and matches.
fn self_check(store: &dyn Store, vkey: &NoteVerifier) -> Result<Head, LedgerError> {
    let head = store.head()?.ok_or_else(|| LedgerError::SelfCheck("no head record".into()))?;
    if head.size == 0 {
        return Err(LedgerError::SelfCheck("empty log".into()));
    }
    let last = store
        .entry(head.size - 1)?
        .ok_or_else(|| LedgerError::SelfCheck(format!("entry {} missing", head.size - 1)))?;
    if hash::entry_hash(&last) != head.last_hash {
        return Err(LedgerError::SelfCheck(format!("entry {} does not hash to the head", head.size - 1)));
    }
    let e = Entry::from_bytes(&last).map_err(|e| LedgerError::SelfCheck(format!("entry {}: {e}", head.size - 1)))?;
    if e.seq != head.size - 1 {
        return Err(LedgerError::SelfCheck("last entry's seq differs from the head".into()));
    }
    if store.entry(head.size)?.is_some() {
        return Err(LedgerError::SelfCheck(format!("an entry exists beyond the head at {}", head.size)));
    }
    let root = merkle::root(&Blake3Tree, &StoreNodes(store), head.size)?;
    if root != head.root {
        return Err(LedgerError::SelfCheck("stored Merkle nodes do not give the head's root".into()));
    }
    let cp = Checkpoint::open(head.checkpoint.as_bytes(), vkey)
        .map_err(|e| LedgerError::SelfCheck(format!("head checkpoint: {e}")))?;
    if cp.size != head.size || cp.root != head.root {
        return Err(LedgerError::SelfCheck("head checkpoint does not match the head".into()));
    }
    Ok(head)
}

/// Full verification of a store. `trusted`: the verifier key the caller
/// trusts (else the genesis entry's is used, and that is all it proves).
/// `kept`: checkpoint notes the caller saved earlier; the log must extend
/// each of them.
pub fn verify_store(
    store: &dyn Store,
    trusted: Option<&NoteVerifier>,
    kept: &[Vec<u8>],
    progress: &dyn Fn(u64, u64),
) -> Result<LedgerVerdict, LedgerError> {
    let head = store.head()?;
    let size = head.as_ref().map_or(0, |h| h.size);
    let mut v = LedgerVerifier::new();
    let mut extra = Vec::new();
    for r in store.entries(0, u64::MAX) {
        let (seq, bytes) = r?;
        if seq >= size {
            extra.push(Reason::error("entry_beyond_head", Some(seq), "an entry is stored beyond the head's size"));
            continue;
        }
        v.push(seq, &bytes);
        if seq % 1024 == 0 {
            progress(seq, size);
        }
    }
    progress(size, size);
    // Checkpoints: every stored one must match the rebuilt tree; the head's
    // is the latest.
    let mut cps: Vec<(Vec<u8>, bool)> =
        store.checkpoints()?.into_iter().map(|(_, n)| (n.into_bytes(), false)).collect();
    cps.extend(kept.iter().map(|n| (n.clone(), false)));
    if let Some(h) = &head {
        cps.push((h.checkpoint.clone().into_bytes(), true));
    } else {
        extra.push(Reason::error("head_missing", None, "no head record"));
    }
    let mut verdict_extra = extra;
    // Stored Merkle nodes against the rebuilt tree.
    // A node is attributed to the first leaf under it whose stored hash
    // differs from the entry, else to the first leaf it covers.
    let tree = v.tree();
    let mut bad_leaves: Vec<u64> = Vec::new();
    let width = |level: u8| if level < 64 { size >> level } else { 0 };
    let mut node_reason = |level: u8, i: u64, what: &str, bad_leaves: &mut Vec<u64>| {
        let span = 1u64.checked_shl(level as u32).unwrap_or(u64::MAX);
        let (lo, hi) = (i.saturating_mul(span), (i + 1).saturating_mul(span));
        let at = bad_leaves.iter().copied().find(|s| (lo..hi).contains(s)).unwrap_or(lo);
        if level == 0 {
            bad_leaves.push(i);
        }
        if verdict_extra.len() <= verify::MAX_REASONS {
            verdict_extra.push(Reason::error(
                "merkle_node_mismatch",
                Some(at),
                format!("stored Merkle node ({level}, {i}) {what}"),
            ));
        }
    };
    // One ordered scan; nodes come level by level, so leaf mismatches are
    // known before the parents that cover them.
    let mut seen = vec![0u64; 65];
    for r in store.nodes() {
        let (level, i, h) = r?;
        match tree.get(level, i) {
            Some(want) if i < width(level) => {
                seen[level as usize] += 1;
                if h != want {
                    node_reason(level, i, "differs from the entries", &mut bad_leaves);
                }
            }
            _ => node_reason(level, i, "is not derivable from the entries", &mut bad_leaves),
        }
    }
    for level in 0..64u8 {
        if width(level) == 0 {
            break;
        }
        if seen[level as usize] != width(level) {
            for i in 0..width(level) {
                if store.node(level, i)?.is_none() {
                    node_reason(level, i, "is missing", &mut bad_leaves);
                }
            }
        }
    }
    if let Some(h) = &head {
        if h.root != tree.root() || (size > 0 && h.last_hash != tree.get(0, size - 1).unwrap_or_default()) {
            verdict_extra.push(Reason::error(
                "head_mismatch",
                size.checked_sub(1),
                "the head record does not match the entries",
            ));
        }
    }
    // Stored indexes against the rebuild.
    let rebuilt = v.index();
    let stored = store.index_all()?;
    let mut index_reasons = Vec::new();
    let mut note = |ns: u8, key: &[u8], value: Option<&Vec<u8>>, how: &str| {
        if index_reasons.len() < verify::MAX_REASONS {
            let seq = value.and_then(|v| state::index_record_seq(ns, key, v));
            index_reasons.push(Reason::error(
                "index_mismatch",
                seq,
                format!("index record ({}, {}) {how} the log; run reindex", state::ns_name(ns), hex::encode(key)),
            ));
        }
    };
    let mut matched = 0usize;
    for (ns, k, v) in &stored {
        match rebuilt.get_raw(*ns, k) {
            Some(want) if want == v => matched += 1,
            Some(want) => {
                matched += 1;
                note(*ns, k, Some(want), "differs from");
            }
            None => note(*ns, k, None, "is not derivable from"),
        }
    }
    if matched != rebuilt.len() {
        let have: std::collections::HashSet<(u8, &[u8])> =
            stored.iter().map(|(ns, k, _)| (*ns, k.as_slice())).collect();
        for (ns, k, v) in rebuilt.iter() {
            if !have.contains(&(ns, k.as_slice())) {
                note(ns, k, Some(v), "is missing, derived from");
            }
        }
    }
    verdict_extra.extend(index_reasons);
    let mut verdict = v.finish(&cps, trusted);
    let more = verdict_extra.len();
    verdict.reasons.extend(verdict_extra);
    verdict.reasons.sort_by_key(|r| (r.seq.unwrap_or(u64::MAX), r.severity == verify::Severity::Warning));
    if more > 0 {
        let first =
            verdict.reasons.iter().filter(|r| r.severity == verify::Severity::Error).filter_map(|r| r.seq).min();
        verdict.first_bad_seq = match (verdict.first_bad_seq, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    verdict.verdict = verify::VerdictKind::from_reasons(&verdict.reasons);
    Ok(verdict)
}

// ---------------------------------------------------------------- writer --

struct WriterState {
    store: Arc<SledStore>,
    config: LedgerConfig,
    log_key: SigningKey,
    /// Head as applied (may be ahead of the durable head by groups in sync).
    head: Option<Head>,
    failed: Arc<std::sync::Mutex<Option<String>>>,
    to_syncer: std::sync::mpsc::SyncSender<Applied>,
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
fn spawn_writer(store: Arc<SledStore>, config: LedgerConfig, log_key: SigningKey, head: Option<Head>) -> Writer {
    let (tx, mut rx) = mpsc::channel::<Job>(QUEUE_BOUND);
    let (to_syncer, from_writer) = std::sync::mpsc::sync_channel::<Applied>(64);
    let failed = Arc::new(std::sync::Mutex::new(None::<String>));
    let durable = Arc::new(std::sync::Mutex::new(head.clone()));
    let mut st = WriterState { store: store.clone(), config, log_key, head, failed: failed.clone(), to_syncer };
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
        .spawn(move || {
            while let Ok(first) = from_writer.recv() {
                let mut batch = vec![first];
                while let Ok(more) = from_writer.try_recv() {
                    batch.push(more);
                }
                let newest = batch.iter().rev().find_map(|a| a.head.clone());
                let outcome = match &newest {
                    Some(_) => store.sync().map_err(|e| format!("storage failure while making a commit durable: {e}")),
                    None => Ok(()),
                };
                match outcome {
                    Ok(()) => {
                        if let Some(h) = newest {
                            *durable2.lock().expect("poisoned") = Some(h);
                        }
                        for a in batch {
                            for (reply, r) in a.replies {
                                let _ = reply.send(r);
                            }
                        }
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
        })
        .expect("spawn syncer thread");
    Writer { handle: WriterHandle { tx }, threads: vec![writer, syncer], durable }
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
    Duplicate { seq: u64 },
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
        // 1-2. decoding and signatures were checked by the submitters
        let t_sig = t0.elapsed();
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
                Err(Ok(dup_seq)) => fates.push(Fate::Duplicate { seq: dup_seq }),
                Err(Err(e)) => fates.push(Fate::Refused(e)),
            }
        }
        let t_rules = t0.elapsed();
        // 4. commit, durable, then checkpoint is already inside it
        let mut checkpoint = self.head.as_ref().map(|h| h.checkpoint.clone()).unwrap_or_default();
        if size > first_seq {
            let result = (|| -> Result<Head, LedgerError> {
                let root = merkle::root(&Blake3Tree, &nodes, size)?;
                let cp = Checkpoint { origin: self.config.origin.clone(), size, root, extensions: vec![] };
                let note = cp.sign(&self.log_key).map_err(|e| LedgerError::SelfCheck(e.to_string()))?;
                let head = Head { size, root, last_hash: prev, last_recorded_ms: last_ms, checkpoint: note.clone() };
                commit.index = overlay.into_writes();
                commit.checkpoint = Some((size, note));
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
                Fate::Duplicate { seq } => (|| {
                    let hash = nodes.node(0, seq)?;
                    let proof = merkle::inclusion_proof(&Blake3Tree, &nodes, seq, size)?;
                    Ok(Ack { seq, hash, checkpoint: checkpoint.clone(), size, proof, created: vec![], duplicate: true })
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
            sig_us = t_sig.as_micros() as u64,
            rules_us = (t_rules - t_sig).as_micros() as u64,
            commit_us = (t_commit - t_rules).as_micros() as u64,
            reply_us = (t0.elapsed() - t_commit).as_micros() as u64,
            "group commit"
        );
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
        let recorded = now_ms().max(*last_ms);
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

/// Test-only: read the raw index through the domain reader.
pub fn index_reader(store: &dyn Store) -> impl IndexRead + '_ {
    StoreIndex(store)
}
