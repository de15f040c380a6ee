//! The ledger: init/open over a [`Store`] with the O(log n) start-up
//! self-check, the acknowledgement type and errors, key files, reads,
//! proofs, reindex and verification entry points. The write path lives in
//! `writer`, whole-store verification in `check`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use pil_ledger_core::hash;
use pil_ledger_core::keys;
use pil_ledger_core::merkle::{self, Blake3Tree, ProofError};
use pil_ledger_core::note::{Checkpoint, NoteVerifier};
use pil_ledger_core::state::{self, Candidate, Refusal};
use pil_ledger_core::verify::LedgerVerdict;
use pil_ledger_core::wire::{Body, Entry, Hash32, Statement, FORMAT_V1};

use crate::check::verify_store;
use crate::store::{Head, LedgerConfig, SledStore, Store, StoreError, StoreNodes};
pub use crate::writer::WriterHandle;
use crate::writer::{spawn_writer, Writer};

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

/// An open ledger.
pub struct Ledger {
    store: Arc<SledStore>,
    paths: Paths,
    config: LedgerConfig,
    vkey: NoteVerifier,
    writer: Option<Writer>,
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
        let vkey = log_verifier(&config)?;
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
    self_check(store, &log_verifier(&config)?)
}

/// The log's note verifier, from the stored configuration.
fn log_verifier(config: &LedgerConfig) -> Result<NoteVerifier, LedgerError> {
    let pk = keys::parse_public(&config.log_key).map_err(|e| LedgerError::SelfCheck(format!("log key: {e}")))?;
    NoteVerifier::new(&config.origin, pk).map_err(|e| LedgerError::SelfCheck(e.to_string()))
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
