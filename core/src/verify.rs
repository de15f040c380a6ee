//! Verdicts with reasons (DESIGN §1.1) and the whole-ledger verifier.
//!
//! [`LedgerVerifier`] is fed every stored entry in order and re-checks
//! everything from nothing but those bytes: canonical encoding, seq, hash
//! chain, log clock, statement encoding, signatures (strict, on worker threads),
//! authority and domain rules at each seq (through [`crate::state::apply`] on
//! an index it rebuilds), then the Merkle root against every checkpoint it
//! is given. It never trusts a stored index or node; callers compare those
//! against what it rebuilt.

use serde::Serialize;

use crate::bundle::{self, RegistryChain};
use crate::clock;
use crate::hash;
use crate::keys::{self, SigItem};
use crate::note::{Checkpoint, NoteVerifier};
use crate::state::{self, Candidate};
use crate::wire::{Body, Entry, Hash32, PublicKey, Statement};

mod sigs;
mod spill;
mod tree;

pub use sigs::par_map;
use sigs::{SigPool, SIG_BATCH};
pub use spill::{AuthorLog, Merged, SpillConfig, SpillIndex};
pub use tree::SpillTree;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One reason: a stable snake_case code, the seq concerned, a sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    pub severity: Severity,
    pub message: String,
}

impl Reason {
    pub fn error(code: &str, seq: Option<u64>, message: impl Into<String>) -> Self {
        Reason { code: code.to_string(), seq, severity: Severity::Error, message: message.into() }
    }
    pub fn warning(code: &str, seq: Option<u64>, message: impl Into<String>) -> Self {
        Reason { code: code.to_string(), seq, severity: Severity::Warning, message: message.into() }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum VerdictKind {
    #[serde(rename = "valid")]
    Valid,
    #[serde(rename = "valid-with-warnings")]
    ValidWithWarnings,
    #[serde(rename = "invalid")]
    Invalid,
}

impl VerdictKind {
    pub fn from_reasons(reasons: &[Reason]) -> Self {
        if reasons.iter().any(|r| r.severity == Severity::Error) {
            VerdictKind::Invalid
        } else if reasons.is_empty() {
            VerdictKind::Valid
        } else {
            VerdictKind::ValidWithWarnings
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Valid => "valid",
            VerdictKind::ValidWithWarnings => "valid-with-warnings",
            VerdictKind::Invalid => "invalid",
        }
    }
}

/// The warning for a ledger under dual control with fewer than two
/// officers active at its last entry.
pub const SINGLE_KEY_OFFICER: &str = "single_key_officer";

/// Most reasons a verifier lists; the rest are counted.
pub const MAX_REASONS: usize = 100;

/// The answer to a whole-ledger verification.
#[derive(Clone, Debug, Serialize)]
pub struct LedgerVerdict {
    pub verdict: VerdictKind,
    pub reasons: Vec<Reason>,
    /// Reasons beyond [`MAX_REASONS`] that were found but not listed.
    pub more_reasons: u64,
    pub entries: u64,
    pub first_bad_seq: Option<u64>,
    #[serde(serialize_with = "hex::serde::serialize")]
    pub root: Hash32,
    pub checkpoints_checked: u64,
}

/// Re-checks a ledger entry by entry. Feed with [`push`](Self::push), then
/// [`finish`](Self::finish).
pub struct LedgerVerifier {
    origin: Option<String>,
    log_key: Option<PublicKey>,
    next_seq: u64,
    prev: Hash32,
    last_recorded_ms: u64,
    tree: SpillTree,
    index: SpillIndex,
    sigs: Vec<(u64, SigItem)>,
    pool: SigPool,
    reasons: Vec<Reason>,
    more_reasons: u64,
    first_bad: Option<u64>,
    by_author: AuthorLog,
    /// The registry chain after each key-registry entry: `(seq, chain)`.
    registry: Vec<(u64, RegistryChain)>,
}

impl Default for LedgerVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl LedgerVerifier {
    /// A verifier that keeps its whole rebuild in memory.
    pub fn new() -> Self {
        Self::with_spill(SpillConfig::default())
    }

    /// A verifier that keeps its rebuild to `cfg`'s budget, spilling the
    /// rest to files in `cfg.dir` (`schema/storage.md` §7.1).
    pub fn with_spill(cfg: SpillConfig) -> Self {
        let mem_leaves = if cfg.dir.is_some() { cfg.budget() / 8 / 32 } else { usize::MAX };
        LedgerVerifier {
            origin: None,
            log_key: None,
            next_seq: 0,
            prev: [0; 32],
            last_recorded_ms: 0,
            tree: SpillTree::new(cfg.dir.clone(), mem_leaves),
            by_author: AuthorLog::new(cfg.dir.clone()),
            index: SpillIndex::new(cfg),
            sigs: Vec::new(),
            pool: SigPool::new(),
            reasons: Vec::new(),
            more_reasons: 0,
            first_bad: None,
            registry: Vec::new(),
        }
    }

    fn report(&mut self, r: Reason) {
        if r.severity == Severity::Error {
            if let Some(s) = r.seq {
                self.first_bad = Some(self.first_bad.map_or(s, |f| f.min(s)));
            } else if self.first_bad.is_none() {
                self.first_bad = Some(self.next_seq);
            }
        }
        if self.reasons.len() < MAX_REASONS {
            self.reasons.push(r);
        } else {
            self.more_reasons += 1;
        }
    }

    /// Make room for about `entries` entries (a hint, e.g. the head's size,
    /// which the caller bounds: a forged head must not make this allocate
    /// without limit).
    pub fn reserve(&mut self, entries: usize) {
        self.index.reserve_for(entries);
    }

    /// Number of entries pushed so far.
    pub fn entries(&self) -> u64 {
        self.next_seq
    }

    /// Verify the entry stored at position `seq` with bytes `bytes`.
    pub fn push(&mut self, seq: u64, bytes: &[u8]) {
        let hash = hash::entry_hash(bytes);
        if seq != self.next_seq {
            self.report(Reason::error(
                "chain_broken",
                Some(seq),
                format!("entry stored at {seq}, expected {}", self.next_seq),
            ));
        }
        let pos = self.next_seq;
        self.next_seq += 1;
        self.tree.push(hash);
        let prev = std::mem::replace(&mut self.prev, hash);
        let entry = match Entry::from_bytes(bytes) {
            Ok(e) => e,
            Err(e) => {
                self.report(Reason::error("entry_not_canonical", Some(pos), format!("entry bytes: {e}")));
                return;
            }
        };
        if entry.seq != pos {
            self.report(Reason::error(
                "chain_broken",
                Some(pos),
                format!("entry says seq {}, it sits at {pos}", entry.seq),
            ));
        }
        if entry.prev != prev {
            self.report(Reason::error("chain_broken", Some(pos), "prev does not equal the hash of the previous entry"));
        }
        if entry.recorded_at_ms < self.last_recorded_ms {
            self.report(Reason::error(
                "clock_regressed",
                Some(pos),
                "recorded_at_ms is earlier than the previous entry's",
            ));
        } else if pos > 0 && entry.recorded_at_ms - self.last_recorded_ms > clock::MAX_JUMP_MS {
            self.report(Reason::warning(
                "clock_jump",
                Some(pos),
                format!(
                    "the log's clock jumped {} days ahead of the previous entry: a wrong clock may have moved the log's time",
                    (entry.recorded_at_ms - self.last_recorded_ms) / 86_400_000
                ),
            ));
        }
        self.last_recorded_ms = self.last_recorded_ms.max(entry.recorded_at_ms);
        let st = match Statement::from_bytes(&entry.statement) {
            Ok(s) => s,
            Err(e) => {
                self.report(Reason::error("statement_not_canonical", Some(pos), format!("statement bytes: {e}")));
                return;
            }
        };
        if st.claimed_at_ms.abs_diff(entry.recorded_at_ms) > clock::MAX_SKEW_MS {
            self.report(Reason::warning(
                "clock_skew",
                Some(pos),
                format!(
                    "recorded {} s from the time its signer claimed; one of the two clocks was wrong",
                    st.claimed_at_ms.abs_diff(entry.recorded_at_ms) / 1000
                ),
            ));
        }
        self.sigs.push((
            pos,
            SigItem { author: st.author, digest: hash::statement_digest(&entry.statement), signature: entry.signature },
        ));
        if self.sigs.len() >= SIG_BATCH {
            self.flush_sigs();
        }
        if bundle::is_registry(&st.body) {
            let mut chain = self.registry.last().map(|(_, c)| *c).unwrap_or_default();
            chain.push(&hash);
            self.registry.push((pos, chain));
        }
        if let Body::Genesis { origin, log_key, .. } = &st.body {
            if pos == 0 {
                self.origin = Some(origin.clone());
                self.log_key = Some(*log_key);
            }
        }
        let origin = self.origin.clone().unwrap_or_default();
        let cand = Candidate { seq: pos, recorded_at_ms: entry.recorded_at_ms, entry_hash: hash, statement: &st };
        match state::apply(&self.index, &origin, &cand) {
            Ok(out) => {
                self.index.put_all(out.writes);
                for (code, message) in out.warnings {
                    self.report(Reason::warning(code, Some(pos), message));
                }
            }
            Err(refusal) => {
                let code = refusal.code();
                self.report(Reason::error(code, Some(pos), refusal.to_string()));
            }
        }
        self.by_author.push(&st.author, pos, entry.recorded_at_ms);
    }

    /// Hand the pending signatures to the pool; they are checked on other
    /// cores while this thread goes on decoding and applying rules.
    fn flush_sigs(&mut self) {
        if !self.sigs.is_empty() {
            self.pool.submit(std::mem::take(&mut self.sigs));
        }
    }

    fn collect_sigs(&mut self) {
        self.flush_sigs();
        for seq in self.pool.finish() {
            self.report(Reason::error(
                "signature_invalid",
                Some(seq),
                "author signature does not verify (verify_strict)",
            ));
        }
    }

    /// The log's verifier as named by the genesis entry.
    pub fn genesis_verifier(&self) -> Option<NoteVerifier> {
        let (o, k) = (self.origin.as_ref()?, self.log_key.as_ref()?);
        NoteVerifier::new(o, keys::parse_public(k).ok()?).ok()
    }

    /// The registry chain over the key-registry entries below `size`
    /// (`schema/bundle.md` §1), for comparison with stored registry notes.
    pub fn registry_at(&self, size: u64) -> RegistryChain {
        let n = self.registry.partition_point(|(seq, _)| *seq < size);
        n.checked_sub(1).map(|i| self.registry[i].1).unwrap_or_default()
    }

    /// Rebuilt state, for comparison with stored indexes and nodes.
    pub fn index(&self) -> &SpillIndex {
        &self.index
    }
    pub fn tree(&self) -> &SpillTree {
        &self.tree
    }

    /// The first I/O error on a spill file: the rebuild is incomplete, so
    /// the caller must not give a verdict.
    pub fn spill_error(&self) -> Option<String> {
        self.index.error().or_else(|| self.tree.error())
    }

    /// Why part of the rebuild stayed in memory although a spill directory
    /// was given (files could not be made there).
    pub fn spill_degraded(&self) -> Option<&str> {
        self.index.degraded().or(self.tree.degraded()).or(self.by_author.degraded())
    }

    /// Check a checkpoint note, already opened (its signature checked, on
    /// any thread), against the rebuilt tree. `latest` marks the head
    /// checkpoint, which must cover every entry.
    fn check_opened<E: std::fmt::Display>(&mut self, opened: Result<Checkpoint, E>, latest: bool) {
        let cp = match opened {
            Ok(cp) => cp,
            Err(e) => {
                self.report(Reason::error("checkpoint_signature_invalid", None, format!("checkpoint: {e}")));
                return;
            }
        };
        if cp.size > self.tree.size() {
            // An older checkpoint larger than the log: the log was cut back.
            let code = if latest { "checkpoint_root_mismatch" } else { "log_rewritten" };
            self.report(Reason::error(
                code,
                Some(self.tree.size()),
                format!("checkpoint of size {} but the log holds {} entries", cp.size, self.tree.size()),
            ));
            return;
        }
        // Only a spill file's I/O error can fail this (the size is checked):
        // `spill_error` then stops the caller from giving a verdict.
        let Ok(root) = self.tree.root_at(cp.size) else { return };
        if root != cp.root {
            let code = if latest { "checkpoint_root_mismatch" } else { "log_rewritten" };
            self.report(Reason::error(
                code,
                Some(cp.size.saturating_sub(1)),
                format!("checkpoint of size {} commits to a different tree than the stored entries", cp.size),
            ));
        }
        if latest && cp.size != self.tree.size() {
            self.report(Reason::error(
                "checkpoint_root_mismatch",
                Some(cp.size),
                format!("latest checkpoint covers {} of {} entries", cp.size, self.tree.size()),
            ));
        }
    }

    /// Finish: flush signature checks, add compromise warnings, and answer.
    /// `trusted` is the verifier key the caller trusts; if it differs from the
    /// genesis entry's, that is reported.
    pub fn finish(&mut self, checkpoints: &[(Vec<u8>, bool)], trusted: Option<&NoteVerifier>) -> LedgerVerdict {
        // The checkpoints' signatures are checked on every core while the
        // entries' last signature checks finish, not after them.
        let genesis_v = self.genesis_verifier();
        let opened = match trusted.cloned().or_else(|| genesis_v.clone()) {
            Some(v) => par_map(checkpoints, |(note, _)| Checkpoint::open(note, &v)),
            None => Vec::new(),
        };
        self.collect_sigs();
        if self.tree.size() == 0 {
            self.report(Reason::error("empty_ledger", None, "the ledger has no entries, not even a genesis"));
        }
        if let (Some(t), Some(g)) = (trusted, genesis_v.as_ref()) {
            if t != g {
                self.report(Reason::error(
                    "log_key_mismatch",
                    Some(0),
                    "genesis names a different log key or origin than the trusted verifier key",
                ));
            }
        }
        for ((_, latest), cp) in checkpoints.iter().zip(opened) {
            self.check_opened(cp, *latest);
        }
        self.compromise_warnings();
        match state::registry::officer_set_warning(&self.index, self.last_recorded_ms) {
            Ok(Some(message)) if self.tree.size() > 0 => {
                self.report(Reason::warning(SINGLE_KEY_OFFICER, None, message))
            }
            _ => {}
        }
        self.reasons.sort_by_key(|r| (r.seq.unwrap_or(u64::MAX), r.severity == Severity::Warning));
        LedgerVerdict {
            verdict: VerdictKind::from_reasons(&self.reasons),
            reasons: self.reasons.clone(),
            more_reasons: self.more_reasons,
            entries: self.tree.size(),
            first_bad_seq: self.first_bad,
            root: self.tree.root(),
            checkpoints_checked: checkpoints.len() as u64,
        }
    }

    /// `signed_after_compromise`: entries a key signed at or after the time
    /// it was later declared compromised, before its revocation. Only the
    /// authors' key records are looked up; the signer log is read once,
    /// and only if some key was declared compromised.
    fn compromise_warnings(&mut self) {
        let mut compromised = std::collections::HashMap::new();
        for key in self.by_author.authors() {
            if let Ok(Some(rec)) = state::key_record(&self.index, key) {
                if let (Some(since), Some(revoked)) = (rec.compromised_since_ms, rec.revoked_seq) {
                    compromised.insert(*key, (since, revoked));
                }
            }
        }
        if compromised.is_empty() {
            return;
        }
        let mut found = Vec::new();
        let read = self.by_author.for_each(|key, seq, at| {
            if let Some((since, revoked)) = compromised.get(key) {
                if at >= *since && seq < *revoked {
                    found.push(Reason::warning(
                        "signed_after_compromise",
                        Some(seq),
                        format!("signed by {} after the time it was later declared compromised", hex::encode(key)),
                    ));
                }
            }
        });
        if let Err(e) = read {
            self.index.fail(e);
        }
        for r in found {
            self.report(r);
        }
    }
}
