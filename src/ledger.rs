//! The ledger: init/open over a [`Store`] with the O(log n) start-up
//! self-check, key files and other input files (bounded reads), reads,
//! proofs, reindex and verification entry points. The write path lives in
//! `writer`, whole-store verification in `check`, errors in `error`, the
//! acknowledgement in `ack` (re-exported here).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use pil_ledger_core::hash;
use pil_ledger_core::keys;
use pil_ledger_core::merkle::{self, Blake3Tree, ProofError};
use pil_ledger_core::note::{Checkpoint, NoteVerifier};
use pil_ledger_core::state::{self, Candidate, Refusal};
use pil_ledger_core::verify::LedgerVerdict;
use pil_ledger_core::wire::{Body, Entry, Hash32, Statement, FORMAT_V1};

pub use crate::ack::Ack;
use crate::check::verify_store;
pub use crate::error::{ErrorClass, LedgerError};
use crate::store::{Head, LedgerConfig, SledStore, Store, StoreNodes};
pub use crate::writer::{now_ms, WriterHandle};
use crate::writer::{spawn_writer, Writer};

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
    /// The checkpoint of the newest acknowledged head, kept outside the
    /// store (see `writer::spawn_writer`).
    pub fn acked_checkpoint(&self) -> PathBuf {
        self.root.join("checkpoint.acked")
    }
    /// The log's verifier key (`pil-ledger vkey`), kept beside the store by
    /// every writable open, so that `checkpoint` can check the acknowledged
    /// checkpoint without opening the store.
    pub fn vkey_file(&self) -> PathBuf {
        self.root.join("log.vkey")
    }
}

use crate::acked::keep_vkey_file;
pub use crate::acked::{acked_as_kept, acked_checkpoint_fast};
use crate::files::exists_at;
pub use crate::files::{
    create_dir_durable, read_input_file, read_kept_checkpoint, read_key_file, sync_dir, write_key_file,
    MAX_KEY_FILE_BYTES, MAX_NOTE_FILE_BYTES,
};

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

/// How a ledger is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Read-only store, no writer: nothing on disk changes.
    Read,
    /// Writable store and the writer (needs the log key).
    Write,
    /// Writable store, no writer (reindex).
    Maintain,
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

/// Which keys `init` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitKeys {
    /// New keys; refuse (`ledger_exists`) if either key file exists.
    Fresh,
    /// Use key files an earlier, interrupted `init` of the same caller left
    /// (and make the missing ones). Only for a data directory the caller
    /// provably created itself (`stress`, by its marker file). Key files
    /// are still never deleted or overwritten.
    Resume,
}

/// Look at `dir` for `init`, changing nothing: refuse a committed ledger or
/// anything that is not provably an unfinished init. True when there is a
/// store with no record at all: an `init` that died before its genesis was
/// committed (the genesis batch carries config, head, entry, node and
/// checkpoint together).
fn inspect_for_init(dir: &Path, paths: &Paths) -> Result<bool, LedgerError> {
    let exists = |why: String| LedgerError::LedgerExists { path: dir.to_path_buf(), why };
    let store_dir = paths.store();
    if !exists_at(dir)? || !exists_at(&store_dir)? {
        return Ok(false);
    }
    if !exists_at(&store_dir.join("db"))? {
        let empty = std::fs::read_dir(&store_dir)
            .map_err(|source| LedgerError::IoAt { path: store_dir.clone(), source })?
            .next()
            .is_none();
        return if empty {
            Ok(false)
        } else {
            Err(exists(format!("{} exists and is not a ledger store; init changes nothing", store_dir.display())))
        };
    }
    let store = SledStore::open_read_only(&store_dir)?;
    let unfinished = store.config()?.is_none()
        && store.head()?.is_none()
        && store.entries(0, u64::MAX).next().is_none()
        && store.nodes().next().is_none()
        && store.checkpoints()?.is_empty()
        && store.index_all()?.is_empty();
    if unfinished {
        Ok(true)
    } else {
        Err(exists("a ledger already exists (init never replaces or clears one)".into()))
    }
}

/// The refusal a genesis would get, checked on a fresh in-memory index
/// before anything is written.
fn dry_run_genesis(origin: &str, statement: &[u8]) -> Result<(), LedgerError> {
    let st = Statement::from_bytes(statement).map_err(|e| Refusal::NotCanonical(e.to_string()))?;
    let cand = Candidate { seq: 0, recorded_at_ms: st.claimed_at_ms, entry_hash: [0u8; 32], statement: &st };
    state::apply(&state::MemIndex::default(), origin, &cand)?;
    Ok(())
}

impl Ledger {
    /// Create a new ledger in `dir`: keys, store, genesis at seq 0.
    ///
    /// Never destroys anything. Every argument is checked (including a dry
    /// run of the genesis through the domain rules) before any file or
    /// directory is created, so a refused `init` leaves nothing behind. A
    /// committed ledger, a `ledger/` directory that is not a store, or an
    /// existing key file is refused (`ledger_exists`); the only thing reused
    /// is a store with no record at all (an `init` that died before its
    /// genesis was committed). Key files are created with `create_new`,
    /// synced, and `keys/` and the data directory are synced after them.
    pub fn init(dir: &Path, origin: &str, holder: &str, unit: &str) -> Result<Ledger, LedgerError> {
        Self::init_with(dir, origin, holder, unit, InitKeys::Fresh)
    }

    /// [`Ledger::init`] with the choice of keys (see [`InitKeys`]).
    pub fn init_with(
        dir: &Path,
        origin: &str,
        holder: &str,
        unit: &str,
        keys_from: InitKeys,
    ) -> Result<Ledger, LedgerError> {
        // 1. arguments, before looking at the disk
        valid_origin(origin)?;
        if holder.trim().is_empty() {
            return Err(Refusal::MissingField("holder").into());
        }
        if unit.trim().is_empty() {
            return Err(Refusal::MissingField("unit").into());
        }
        // 2. what is there, changing nothing
        let paths = Paths::new(dir);
        let unfinished = inspect_for_init(dir, &paths)?;
        let mut existing_keys = [None, None];
        for (slot, p) in existing_keys.iter_mut().zip([paths.log_key(), paths.officer_key()]) {
            if exists_at(&p)? {
                if keys_from == InitKeys::Fresh {
                    return Err(LedgerError::LedgerExists {
                        path: dir.to_path_buf(),
                        why: format!(
                            "key file {} exists (init never deletes or overwrites keys; move the keys/ \
                             directory away or use another --data)",
                            p.display()
                        ),
                    });
                }
                *slot = Some(read_key_file(&p)?);
            }
        }
        let [log_old, officer_old] = existing_keys;
        let log_new = log_old.is_none();
        let officer_new = officer_old.is_none();
        let log_key = log_old.unwrap_or_else(keys::generate);
        let officer = officer_old.unwrap_or_else(keys::generate);
        // 3. the genesis, signed and dry-run through the rules
        let config = LedgerConfig { origin: origin.to_string(), log_key: log_key.verifying_key().to_bytes() };
        let vkey = NoteVerifier::new(origin, log_key.verifying_key())
            .map_err(|e| LedgerError::InvalidArgument(e.to_string()))?;
        let body = Body::Genesis {
            origin: origin.to_string(),
            log_key: config.log_key,
            officer: officer.verifying_key().to_bytes(),
            holder: holder.to_string(),
            unit: unit.to_string(),
        };
        let (st, sig) = sign_statement(origin, &officer, "", body);
        dry_run_genesis(origin, &st)?;
        // 4. now, and only now, create files
        create_dir_durable(&paths.root.join("keys"))?;
        if log_new {
            write_key_file(&paths.log_key(), &log_key)?;
        }
        if officer_new {
            write_key_file(&paths.officer_key(), &officer)?;
        }
        sync_dir(&paths.root)?;
        if unfinished {
            tracing::warn!("completing an unfinished init at {} (its store holds no record)", dir.display());
        }
        let store = Arc::new(SledStore::open(&paths.store())?);
        let writer = spawn_writer(store.clone(), config.clone(), log_key, None, Some(paths.acked_checkpoint()));
        let ledger = Ledger { store, paths, config, vkey, writer: Some(writer) };
        ledger.writer()?.append_blocking(st, sig)?;
        keep_vkey_file(&ledger.paths, &ledger.vkey)?;
        Ok(ledger)
    }

    /// Open an existing ledger. O(log n): no replay, a cheap self-check of
    /// the head. With `writable`, loads the log key and starts the writer;
    /// without, the store is opened read-only and no byte of the data
    /// directory changes (it works on a read-only copy).
    pub fn open(dir: &Path, writable: bool) -> Result<Ledger, LedgerError> {
        Self::open_inner(dir, if writable { Mode::Write } else { Mode::Read }, true)
    }

    /// Open read-only without the start-up self-check: for `verify`, which
    /// must report a damaged ledger as invalid, with reasons, rather than
    /// refuse to open it. Changes no byte of the data directory.
    pub fn open_for_verify(dir: &Path) -> Result<Ledger, LedgerError> {
        Self::open_inner(dir, Mode::Read, false)
    }

    /// Open with a writable store but no writer and no log key: for
    /// `reindex`, which replaces the derived indexes.
    pub fn open_for_reindex(dir: &Path) -> Result<Ledger, LedgerError> {
        Self::open_inner(dir, Mode::Maintain, true)
    }

    fn open_inner(dir: &Path, mode: Mode, check: bool) -> Result<Ledger, LedgerError> {
        let paths = Paths::new(dir);
        // Only "not there" means no ledger; a directory that cannot be read
        // (permission denied, a file where a directory should be) is an I/O
        // error, not an invitation to run init.
        let db = paths.store().join("db");
        match std::fs::metadata(&db) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                return Err(LedgerError::IoAt {
                    path: db,
                    source: std::io::Error::other("expected the store's log file, found something else"),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LedgerError::NotALedger(dir.to_path_buf()))
            }
            Err(source) => return Err(LedgerError::IoAt { path: db, source }),
        }
        let store = Arc::new(match mode {
            Mode::Read => SledStore::open_read_only(&paths.store())?,
            Mode::Write | Mode::Maintain => SledStore::open(&paths.store())?,
        });
        let config = store.config()?.ok_or_else(|| LedgerError::NotALedger(dir.to_path_buf()))?;
        let vkey = log_verifier(&config)?;
        if check && mode != Mode::Maintain && store.reindex_incomplete()? {
            return Err(LedgerError::SelfCheck(
                "a reindex was interrupted before it finished, so the derived indexes are incomplete: run `pil-ledger reindex`"
                    .into(),
            ));
        }
        let head = if check { Some(self_check(store.as_ref(), &vkey)?) } else { None };
        if let Some(h) = &head {
            check_acked(store.as_ref(), &vkey, h, &paths)?;
        }
        let writer = if mode == Mode::Write {
            keep_vkey_file(&paths, &vkey)?;
            let log_key = read_key_file(&paths.log_key())?;
            if log_key.verifying_key().to_bytes() != config.log_key {
                return Err(LedgerError::KeyFile {
                    path: paths.log_key(),
                    message: "this is not the ledger's log key".into(),
                });
            }
            Some(spawn_writer(store.clone(), config.clone(), log_key, head, Some(paths.acked_checkpoint())))
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
    /// same `state::apply` the writer uses, in bounded memory (the rebuild
    /// spills as `verify`'s does, `schema/storage.md` §6 and §7.1). Returns
    /// the number of records.
    pub fn reindex(&self, progress: &dyn Fn(u64, u64)) -> Result<usize, LedgerError> {
        if self.writer.is_some() {
            // A writer would decide appends on half-replaced indexes.
            return Err(LedgerError::InvalidArgument(
                "reindex needs the ledger opened for reindex (Ledger::open_for_reindex), with no writer running".into(),
            ));
        }
        let head = self.head()?;
        let spill = crate::check::spill_config();
        // A spill file that cannot be read back: an I/O error, never a
        // verdict on the log.
        let spill_failed = |why: String| crate::check::spill_io(&spill.dir, std::io::Error::other(why));
        let mut idx = pil_ledger_core::verify::SpillIndex::new(spill.clone());
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
            let out = state::apply(&idx, &self.config.origin, &cand).map_err(|e| match idx.error() {
                Some(why) => spill_failed(why),
                None => LedgerError::SelfCheck(format!("entry {seq} breaks a rule ({}); run verify", e.code())),
            })?;
            idx.put_all(out.writes);
            progress(seq + 1, head.size);
        }
        if let Some(why) = idx.error() {
            return Err(spill_failed(why));
        }
        tracing::debug!(runs = idx.runs(), "reindex: replayed");
        if let Some(why) = idx.degraded() {
            tracing::warn!("{why}; the rest of the rebuilt index stayed in memory");
        }
        // An error while the records stream in leaves the reindex marker
        // standing: the ledger then refuses to open until a reindex
        // finishes (`schema/storage.md` §6).
        let dir = spill.dir.clone().unwrap_or_default();
        let mut records = idx.sorted().map(|r| {
            let (ns, key, value) = r.map_err(|e| {
                std::io::Error::other(format!(
                    "reindex's spill file in {}: {e}; the reindex marker stays, run reindex again",
                    dir.display()
                ))
            })?;
            let ns = state::Ns::from_u8(ns)
                .ok_or_else(|| crate::store::StoreError::Corrupt(format!("rebuilt namespace {ns}")))?;
            Ok(state::IndexWrite { ns, key, value })
        });
        let n = self.store.replace_indexes(&mut records)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Re-check everything (see `verify::LedgerVerifier`), then compare the
    /// stored Merkle nodes, indexes, head and checkpoints with the rebuild.
    pub fn verify(&self, progress: &dyn Fn(u64, u64)) -> Result<LedgerVerdict, LedgerError> {
        verify_store(self.store.as_ref(), Some(&self.vkey), &self.acked(), progress)
    }

    /// The acknowledged checkpoint kept beside the store, as a checkpoint
    /// the log must still extend (a store cut back below it is
    /// `log_rewritten`).
    fn acked(&self) -> Vec<Vec<u8>> {
        acked_as_kept(&self.paths, &self.vkey)
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
        let mut all = kept.to_vec();
        all.extend(self.acked());
        verify_store(self.store.as_ref(), Some(trusted), &all, progress)
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
pub(crate) fn log_verifier(config: &LedgerConfig) -> Result<NoteVerifier, LedgerError> {
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

/// At open: the store must still hold everything ever acknowledged. The
/// checkpoint kept beside it (`checkpoint.acked`, written after each sync)
/// must be no larger than the head and commit to the same tree at its size;
/// otherwise the store lost acknowledged entries (sled's recovery cuts a
/// damaged log short without an error) and nothing may be appended over
/// them. O(log n) node reads. A missing file (a ledger written before it
/// existed) checks nothing; an unreadable one is refused.
fn check_acked(store: &dyn Store, vkey: &NoteVerifier, head: &Head, paths: &Paths) -> Result<(), LedgerError> {
    let path = paths.acked_checkpoint();
    let lost = |why: String| {
        LedgerError::SelfCheck(format!(
            "{why}: the store no longer holds what was acknowledged ({}); run `pil-ledger verify` and restore from a copy",
            path.display()
        ))
    };
    let good = match crate::acked::checked(&path, vkey)? {
        None => return Ok(()),
        Some(Ok(good)) => good,
        Some(Err(_)) => return Err(lost("the acknowledged checkpoint does not verify".into())),
    };
    // Every acknowledged note must still hold; the largest says the most.
    for (cp, _) in good.iter().rev() {
        if cp.size > head.size {
            return Err(lost(format!("{} entries were acknowledged but the store holds {}", cp.size, head.size)));
        }
        if merkle::root(&Blake3Tree, &StoreNodes(store), cp.size)? != cp.root {
            return Err(lost(format!("the store's tree at size {} differs from the acknowledged one", cp.size)));
        }
    }
    Ok(())
}
