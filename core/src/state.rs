//! The domain state machine: given the ledger's derived state (indexes) as it
//! stands just before `seq`, is this statement allowed, and what index writes
//! does it cause? One function, [`apply`], serves the writer (over the store
//! plus an in-batch overlay), `reindex` (over an empty index) and `verify`
//! (over an in-memory index rebuilt from the log), so all three agree.
//!
//! Signatures are checked before `apply` (strictly); `apply` is pure with
//! respect to its view: it reads, and returns writes; it never mutates.

use std::collections::HashMap;

use bincode::{Decode, Encode};

use crate::authority::{Kind, Role};
use crate::keys;
use crate::wire::{self, Body, Hash32, PublicKey, Statement};

/// Index namespaces. Every index is derived from the log (invariant 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Ns {
    /// author ‖ nonce → seq (u64 BE): idempotency and replay protection.
    Nonce = 1,
    /// public key → [`KeyRecord`]: the key registry.
    Key = 2,
    /// entry hash → [`EntryRef`]: what Endorsed/Correction point at.
    EntryHash = 3,
    /// case id → [`CaseRecord`].
    Case = 4,
    /// case id ‖ 0xFF ‖ seq BE → empty: entries by case.
    CaseEntries = 5,
    /// entry hash ‖ endorser → seq BE: who endorsed what.
    Endorsement = 6,
    /// fixed names → values (counters, the log key).
    Meta = 7,
}

pub const ALL_NS: [Ns; 7] = [Ns::Nonce, Ns::Key, Ns::EntryHash, Ns::Case, Ns::CaseEntries, Ns::Endorsement, Ns::Meta];

impl Ns {
    pub fn from_u8(b: u8) -> Option<Ns> {
        ALL_NS.iter().copied().find(|n| *n as u8 == b)
    }
}

const META_LOG_KEY: &[u8] = b"log_key";
/// Concatenated 32-byte keys of every key officer in effect (enrolled, not
/// pending, not revoked); whether each is within its validity window is
/// decided at the time of use.
const META_OFFICERS: &[u8] = b"key_officers";

/// Storage failure seen through an index read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage error: {0}")]
pub struct BackendError(pub String);

/// Read access to the derived indexes.
pub trait IndexRead {
    fn get(&self, ns: Ns, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError>;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexWrite {
    pub ns: Ns,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// A key as the registry knows it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct KeyRecord {
    pub key: PublicKey,
    pub holder: String,
    pub unit: String,
    pub roles: Vec<Role>,
    pub valid_from_ms: u64,
    pub valid_until_ms: Option<u64>,
    pub enrolled_seq: u64,
    pub enrolled_hash: Hash32,
    /// A key-officer enrolment waiting for a second officer's endorsement.
    pub pending: bool,
    pub revoked_seq: Option<u64>,
    pub compromised_since_ms: Option<u64>,
}

/// What an entry hash points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct EntryRef {
    pub seq: u64,
    pub author: PublicKey,
    /// Index into `authority::ALL_KINDS`.
    pub kind: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct CaseRecord {
    pub opened_seq: u64,
    pub title: String,
}

fn rec<T: Encode>(v: &T) -> Vec<u8> {
    wire::encode(v)
}

fn unrec<T: Encode + Decode<()>>(ns: Ns, b: &[u8]) -> Result<T, BackendError> {
    wire::decode_canonical(b, wire::MAX_ENTRY_BYTES)
        .map_err(|e| BackendError(format!("corrupt {ns:?} index record: {e}")))
}

fn kind_index(k: Kind) -> u8 {
    crate::authority::ALL_KINDS.iter().position(|x| *x == k).expect("kind listed") as u8
}

/// Why a statement is refused. `code()` is the stable snake_case code used on
/// the CLI, over HTTP and in verifier reasons.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("statement is not canonical wire format v1: {0}")]
    NotCanonical(String),
    #[error("signature does not verify (verify_strict) for the author's key")]
    SignatureInvalid,
    #[error("statement is for origin {got:?}, this ledger is {want:?}")]
    WrongOrigin { got: String, want: String },
    #[error("a genesis statement belongs at seq 0 only, and seq 0 must be a genesis")]
    GenesisMisplaced,
    #[error("genesis is inconsistent: {0}")]
    BadGenesis(&'static str),
    #[error("author key {0} is not enrolled")]
    AuthorNotEnrolled(String),
    #[error("author key {key} was revoked at seq {seq}")]
    AuthorRevoked { key: String, seq: u64 },
    #[error("author key {0} has expired")]
    AuthorExpired(String),
    #[error("author key {0} is not yet valid")]
    AuthorNotYetValid(String),
    #[error("author key {0} is a key-officer enrolment still awaiting a second officer's endorsement")]
    AuthorPending(String),
    #[error("the log key signs checkpoints only, never entries")]
    AuthorIsLogKey,
    #[error("no role of this key ({roles}) may sign {kind}")]
    RoleNotAllowed { kind: &'static str, roles: String },
    #[error("key is not a valid Ed25519 key: {0}")]
    InvalidKey(String),
    #[error("key {0} is already enrolled")]
    KeyAlreadyEnrolled(String),
    #[error("key {0} is not enrolled")]
    UnknownKey(String),
    #[error("key {0} is already revoked")]
    AlreadyRevoked(String),
    #[error("revoking the last active key officer would leave no one able to enrol keys")]
    LastKeyOfficer,
    #[error("no earlier entry has hash {0}")]
    UnknownEntry(String),
    #[error("an endorsement must come from a different key and a different holder than the entry's author")]
    SelfEndorsement,
    #[error("this key already endorsed that entry")]
    AlreadyEndorsed,
    #[error("case {0:?} is already open")]
    CaseExists(String),
    #[error("case {0:?} has not been opened")]
    UnknownCase(String),
    #[error("field {0} is missing or empty")]
    MissingField(&'static str),
    #[error("invalid value: {0}")]
    InvalidValue(String),
    #[error("(author, nonce) already used at seq {seq} by different statement bytes")]
    NonceConflict { seq: u64 },
    #[error("(author, nonce) already used at seq {seq}")]
    NonceReused { seq: u64 },
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        use Refusal::*;
        match self {
            NotCanonical(_) => "statement_not_canonical",
            SignatureInvalid => "signature_invalid",
            WrongOrigin { .. } => "wrong_origin",
            GenesisMisplaced => "genesis_misplaced",
            BadGenesis(_) => "bad_genesis",
            AuthorNotEnrolled(_) => "author_not_enrolled",
            AuthorRevoked { .. } => "author_revoked",
            AuthorExpired(_) => "author_expired",
            AuthorNotYetValid(_) => "author_not_yet_valid",
            AuthorPending(_) => "author_pending_endorsement",
            AuthorIsLogKey => "author_is_log_key",
            RoleNotAllowed { .. } => "role_not_allowed",
            InvalidKey(_) => "invalid_key",
            KeyAlreadyEnrolled(_) => "key_already_enrolled",
            UnknownKey(_) => "unknown_key",
            AlreadyRevoked(_) => "already_revoked",
            LastKeyOfficer => "last_key_officer",
            UnknownEntry(_) => "unknown_entry",
            SelfEndorsement => "self_endorsement",
            AlreadyEndorsed => "already_endorsed",
            CaseExists(_) => "case_exists",
            UnknownCase(_) => "unknown_case",
            MissingField(_) => "missing_field",
            InvalidValue(_) => "invalid_value",
            NonceConflict { .. } => "nonce_conflict",
            NonceReused { .. } => "nonce_reused",
            Backend(_) => "storage_error",
        }
    }
}

/// What applying an accepted statement produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub writes: Vec<IndexWrite>,
    /// Ids this entry creates, for the acknowledgement (e.g. `case_id`).
    pub created: Vec<(&'static str, String)>,
}

/// The entry being decided: its place in the log and its statement.
pub struct Candidate<'a> {
    pub seq: u64,
    pub recorded_at_ms: u64,
    pub entry_hash: Hash32,
    pub statement: &'a Statement,
}

pub fn nonce_key(author: &PublicKey, nonce: &[u8; 16]) -> Vec<u8> {
    let mut k = author.to_vec();
    k.extend_from_slice(nonce);
    k
}

pub fn case_entries_key(case_id: &str, seq: u64) -> Vec<u8> {
    let mut k = case_id.as_bytes().to_vec();
    k.push(0xFF);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Look up a key's registry record.
pub fn key_record(view: &(impl IndexRead + ?Sized), key: &PublicKey) -> Result<Option<KeyRecord>, BackendError> {
    view.get(Ns::Key, key)?.map(|b| unrec(Ns::Key, &b)).transpose()
}

pub fn entry_ref(view: &(impl IndexRead + ?Sized), hash: &Hash32) -> Result<Option<EntryRef>, BackendError> {
    view.get(Ns::EntryHash, hash)?.map(|b| unrec(Ns::EntryHash, &b)).transpose()
}

pub fn nonce_seq(
    view: &(impl IndexRead + ?Sized),
    author: &PublicKey,
    nonce: &[u8; 16],
) -> Result<Option<u64>, BackendError> {
    Ok(view.get(Ns::Nonce, &nonce_key(author, nonce))?.map(|b| be_u64(&b)))
}

pub fn case_record(view: &(impl IndexRead + ?Sized), case_id: &str) -> Result<Option<CaseRecord>, BackendError> {
    view.get(Ns::Case, case_id.as_bytes())?.map(|b| unrec(Ns::Case, &b)).transpose()
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    let n = b.len().min(8);
    a[8 - n..].copy_from_slice(&b[b.len() - n..]);
    u64::from_be_bytes(a)
}

fn officer_list(view: &(impl IndexRead + ?Sized)) -> Result<Vec<PublicKey>, BackendError> {
    let raw = view.get(Ns::Meta, META_OFFICERS)?.unwrap_or_default();
    if raw.len() % 32 != 0 {
        return Err(BackendError("corrupt key officer list".into()));
    }
    Ok(raw.chunks_exact(32).map(|c| c.try_into().expect("32")).collect())
}

fn officer_list_write(list: &[PublicKey]) -> IndexWrite {
    IndexWrite { ns: Ns::Meta, key: META_OFFICERS.to_vec(), value: list.concat() }
}

/// Key officers in effect *and* within their validity window at `at_ms`.
fn active_officers(view: &(impl IndexRead + ?Sized), at_ms: u64) -> Result<Vec<KeyRecord>, BackendError> {
    let mut out = Vec::new();
    for k in officer_list(view)? {
        if let Some(r) = key_record(view, &k)? {
            if check_authority(&r, Kind::KeyEnrolled, at_ms).is_ok() {
                out.push(r);
            }
        }
    }
    Ok(out)
}

fn roles_str(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

fn nonempty(s: &str, field: &'static str) -> Result<(), Refusal> {
    if s.trim().is_empty() {
        Err(Refusal::MissingField(field))
    } else {
        Ok(())
    }
}

/// Is `rec` authorised to sign `kind` at `recorded_at_ms`? Returns the
/// typed refusal otherwise.
pub fn check_authority(rec: &KeyRecord, kind: Kind, recorded_at_ms: u64) -> Result<(), Refusal> {
    let who = hex::encode(rec.key);
    if let Some(seq) = rec.revoked_seq {
        return Err(Refusal::AuthorRevoked { key: who, seq });
    }
    if rec.pending {
        return Err(Refusal::AuthorPending(who));
    }
    if recorded_at_ms < rec.valid_from_ms {
        return Err(Refusal::AuthorNotYetValid(who));
    }
    if rec.valid_until_ms.is_some_and(|u| recorded_at_ms >= u) {
        return Err(Refusal::AuthorExpired(who));
    }
    if !kind.allows(&rec.roles) {
        return Err(Refusal::RoleNotAllowed { kind: kind.as_str(), roles: roles_str(&rec.roles) });
    }
    Ok(())
}

/// Decide `c` against `view` (the state just before `c.seq`) for the ledger
/// named `origin`. Pure: returns the index writes to make if accepted.
pub fn apply(view: &(impl IndexRead + ?Sized), origin: &str, c: &Candidate<'_>) -> Result<Outcome, Refusal> {
    let st = c.statement;
    if st.origin != origin {
        return Err(Refusal::WrongOrigin { got: st.origin.clone(), want: origin.to_string() });
    }
    let is_genesis = matches!(st.body, Body::Genesis { .. });
    if is_genesis != (c.seq == 0) {
        return Err(Refusal::GenesisMisplaced);
    }
    if let Some(seq) = nonce_seq(view, &st.author, &st.nonce)? {
        return Err(Refusal::NonceReused { seq });
    }
    let kind = st.body.kind();
    let mut out = Outcome::default();
    let author_rec = if is_genesis {
        None
    } else {
        if view.get(Ns::Meta, META_LOG_KEY)?.as_deref() == Some(&st.author[..]) {
            return Err(Refusal::AuthorIsLogKey);
        }
        let rec = key_record(view, &st.author)?.ok_or_else(|| Refusal::AuthorNotEnrolled(hex::encode(st.author)))?;
        check_authority(&rec, kind, c.recorded_at_ms)?;
        Some(rec)
    };
    if !st.case_id.is_empty()
        && !matches!(st.body, Body::CaseOpened { .. })
        && case_record(view, &st.case_id)?.is_none()
    {
        return Err(Refusal::UnknownCase(st.case_id.clone()));
    }

    match &st.body {
        Body::Genesis { origin: g_origin, log_key, officer, holder, unit } => {
            if g_origin != origin {
                return Err(Refusal::BadGenesis("body origin differs from the statement's origin"));
            }
            if officer != &st.author {
                return Err(Refusal::BadGenesis("genesis must be signed by the officer it names"));
            }
            if log_key == officer {
                return Err(Refusal::BadGenesis("the log key must not be a person's key"));
            }
            keys::parse_public(log_key).map_err(|e| Refusal::InvalidKey(e.to_string()))?;
            keys::parse_public(officer).map_err(|e| Refusal::InvalidKey(e.to_string()))?;
            nonempty(holder, "holder")?;
            let r = KeyRecord {
                key: *officer,
                holder: holder.clone(),
                unit: unit.clone(),
                roles: vec![Role::KeyOfficer],
                valid_from_ms: 0,
                valid_until_ms: None,
                enrolled_seq: c.seq,
                enrolled_hash: c.entry_hash,
                pending: false,
                revoked_seq: None,
                compromised_since_ms: None,
            };
            out.writes.push(IndexWrite { ns: Ns::Key, key: officer.to_vec(), value: rec(&r) });
            out.writes.push(IndexWrite { ns: Ns::Meta, key: META_LOG_KEY.to_vec(), value: log_key.to_vec() });
            out.writes.push(officer_list_write(&[*officer]));
        }
        Body::KeyEnrolled { key, holder, unit, roles, valid_from_ms, valid_until_ms } => {
            keys::parse_public(key).map_err(|e| Refusal::InvalidKey(e.to_string()))?;
            if view.get(Ns::Meta, META_LOG_KEY)?.as_deref() == Some(&key[..]) {
                return Err(Refusal::InvalidKey("the log key cannot be enrolled for a person".into()));
            }
            if key_record(view, key)?.is_some() {
                return Err(Refusal::KeyAlreadyEnrolled(hex::encode(key)));
            }
            nonempty(holder, "holder")?;
            nonempty(unit, "unit")?;
            if roles.is_empty() {
                return Err(Refusal::MissingField("roles"));
            }
            let mut sorted = roles.clone();
            sorted.sort();
            sorted.dedup();
            if sorted.len() != roles.len() {
                return Err(Refusal::InvalidValue("a role is listed twice".into()));
            }
            if valid_until_ms.is_some_and(|u| u <= *valid_from_ms) {
                return Err(Refusal::InvalidValue("valid_until must be after valid_from".into()));
            }
            // One key officer in effect: its enrolments take effect alone.
            // Two or more: a new key officer waits for another's endorsement.
            let is_officer = roles.contains(&Role::KeyOfficer);
            let pending = is_officer && active_officers(view, c.recorded_at_ms)?.len() >= 2;
            let r = KeyRecord {
                key: *key,
                holder: holder.clone(),
                unit: unit.clone(),
                roles: roles.clone(),
                valid_from_ms: *valid_from_ms,
                valid_until_ms: *valid_until_ms,
                enrolled_seq: c.seq,
                enrolled_hash: c.entry_hash,
                pending,
                revoked_seq: None,
                compromised_since_ms: None,
            };
            out.writes.push(IndexWrite { ns: Ns::Key, key: key.to_vec(), value: rec(&r) });
            out.writes.push(enrolment_pointer(c.seq, key));
            if is_officer && !pending {
                let mut list = officer_list(view)?;
                list.push(*key);
                out.writes.push(officer_list_write(&list));
            }
        }
        Body::KeyRevoked { key, reason, compromised_since_ms } => {
            nonempty(reason, "reason")?;
            let mut r = key_record(view, key)?.ok_or_else(|| Refusal::UnknownKey(hex::encode(key)))?;
            if r.revoked_seq.is_some() {
                return Err(Refusal::AlreadyRevoked(hex::encode(key)));
            }
            // Never leave the ledger without a key officer able to act now.
            let active = active_officers(view, c.recorded_at_ms)?;
            if active.iter().all(|o| o.key == *key) && active.iter().any(|o| o.key == *key) {
                return Err(Refusal::LastKeyOfficer);
            }
            r.revoked_seq = Some(c.seq);
            r.compromised_since_ms = *compromised_since_ms;
            out.writes.push(IndexWrite { ns: Ns::Key, key: key.to_vec(), value: rec(&r) });
            let list = officer_list(view)?;
            if list.contains(key) {
                let rest: Vec<PublicKey> = list.into_iter().filter(|k| k != key).collect();
                out.writes.push(officer_list_write(&rest));
            }
        }
        Body::Endorsed { entry_hash, capacity } => {
            nonempty(capacity, "capacity")?;
            let target = entry_ref(view, entry_hash)?.ok_or_else(|| Refusal::UnknownEntry(hex::encode(entry_hash)))?;
            let me = author_rec.as_ref().expect("non-genesis has an author record");
            let original = key_record(view, &target.author)?;
            if target.author == st.author || original.as_ref().is_some_and(|o| o.holder == me.holder) {
                return Err(Refusal::SelfEndorsement);
            }
            let mut ek = entry_hash.to_vec();
            ek.extend_from_slice(&st.author);
            if view.get(Ns::Endorsement, &ek)?.is_some() {
                return Err(Refusal::AlreadyEndorsed);
            }
            out.writes.push(IndexWrite { ns: Ns::Endorsement, key: ek, value: c.seq.to_be_bytes().to_vec() });
            // A pending key-officer enrolment takes effect when another
            // active key officer endorses it in that capacity.
            if capacity == Role::KeyOfficer.as_str()
                && crate::authority::ALL_KINDS[target.kind as usize] == Kind::KeyEnrolled
            {
                if !me.roles.contains(&Role::KeyOfficer) {
                    return Err(Refusal::RoleNotAllowed {
                        kind: "Endorsed as key-officer",
                        roles: roles_str(&me.roles),
                    });
                }
                if let Some(mut pending) = find_enrolment(view, &target)? {
                    if pending.pending && pending.revoked_seq.is_none() {
                        // Dual control: neither the enrolling officer nor
                        // the person being enrolled may be the endorser.
                        if pending.holder == me.holder {
                            return Err(Refusal::SelfEndorsement);
                        }
                        pending.pending = false;
                        out.writes.push(IndexWrite { ns: Ns::Key, key: pending.key.to_vec(), value: rec(&pending) });
                        let mut list = officer_list(view)?;
                        list.push(pending.key);
                        out.writes.push(officer_list_write(&list));
                    }
                }
            }
        }
        Body::Correction { entry_hash, field, value: _, reason } => {
            nonempty(field, "field")?;
            nonempty(reason, "reason")?;
            let target = entry_ref(view, entry_hash)?.ok_or_else(|| Refusal::UnknownEntry(hex::encode(entry_hash)))?;
            let target_kind = crate::authority::ALL_KINDS[target.kind as usize];
            let me = author_rec.as_ref().expect("non-genesis has an author record");
            if !target_kind.allows(&me.roles) {
                return Err(Refusal::RoleNotAllowed { kind: "Correction of that kind", roles: roles_str(&me.roles) });
            }
        }
        Body::CaseOpened { title, area: _, unit: _ } => {
            nonempty(&st.case_id, "case_id")?;
            nonempty(title, "title")?;
            if case_record(view, &st.case_id)?.is_some() {
                return Err(Refusal::CaseExists(st.case_id.clone()));
            }
            let r = CaseRecord { opened_seq: c.seq, title: title.clone() };
            out.writes.push(IndexWrite { ns: Ns::Case, key: st.case_id.as_bytes().to_vec(), value: rec(&r) });
            out.created.push(("case_id", st.case_id.clone()));
        }
    }

    // Indexes every entry gets.
    out.writes.push(IndexWrite {
        ns: Ns::Nonce,
        key: nonce_key(&st.author, &st.nonce),
        value: c.seq.to_be_bytes().to_vec(),
    });
    let er = EntryRef { seq: c.seq, author: st.author, kind: kind_index(kind) };
    out.writes.push(IndexWrite { ns: Ns::EntryHash, key: c.entry_hash.to_vec(), value: rec(&er) });
    if !st.case_id.is_empty() {
        out.writes.push(IndexWrite {
            ns: Ns::CaseEntries,
            key: case_entries_key(&st.case_id, c.seq),
            value: Vec::new(),
        });
    }
    Ok(out)
}

/// The key a KeyEnrolled entry created, found through the registry (the
/// enrolment's entry hash is recorded on the key).
fn find_enrolment(view: &(impl IndexRead + ?Sized), target: &EntryRef) -> Result<Option<KeyRecord>, BackendError> {
    // The enrolled key is not in EntryRef; the KeyRecord stores the
    // enrolment hash, and the Meta namespace maps enrolment seq to key.
    let Some(k) = view.get(Ns::Meta, &enrol_meta_key(target.seq))? else { return Ok(None) };
    let key: PublicKey = k.try_into().map_err(|_| BackendError("corrupt enrolment record".into()))?;
    key_record(view, &key)
}

fn enrol_meta_key(seq: u64) -> Vec<u8> {
    let mut k = b"enrolled@".to_vec();
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Extra writes every KeyEnrolled makes so endorsements can find the key.
pub fn enrolment_pointer(seq: u64, key: &PublicKey) -> IndexWrite {
    IndexWrite { ns: Ns::Meta, key: enrol_meta_key(seq), value: key.to_vec() }
}

/// Human name of a namespace byte.
pub fn ns_name(ns: u8) -> &'static str {
    match Ns::from_u8(ns) {
        Some(Ns::Nonce) => "nonce",
        Some(Ns::Key) => "key",
        Some(Ns::EntryHash) => "entry_hash",
        Some(Ns::Case) => "case",
        Some(Ns::CaseEntries) => "case_entries",
        Some(Ns::Endorsement) => "endorsement",
        Some(Ns::Meta) => "meta",
        None => "unknown",
    }
}

/// The seq an index record derives from, where the record says (used to
/// name the seq in verify reasons).
pub fn index_record_seq(ns: u8, key: &[u8], value: &[u8]) -> Option<u64> {
    match Ns::from_u8(ns)? {
        Ns::Nonce | Ns::Endorsement => (value.len() == 8).then(|| be_u64(value)),
        Ns::Key => unrec::<KeyRecord>(Ns::Key, value).ok().map(|r| r.revoked_seq.unwrap_or(r.enrolled_seq)),
        Ns::EntryHash => unrec::<EntryRef>(Ns::EntryHash, value).ok().map(|r| r.seq),
        Ns::Case => unrec::<CaseRecord>(Ns::Case, value).ok().map(|r| r.opened_seq),
        Ns::CaseEntries => (key.len() >= 8).then(|| be_u64(&key[key.len() - 8..])),
        Ns::Meta => key.strip_prefix(b"enrolled@".as_slice()).filter(|k| k.len() == 8).map(be_u64),
    }
}

/// An index held in memory (verify, tests, rebuilds): one hash map per
/// namespace, so lookups by `&[u8]` neither allocate nor compare keys in
/// order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemIndex {
    by_ns: [HashMap<Vec<u8>, Vec<u8>>; 8],
}

impl MemIndex {
    pub fn put_all(&mut self, writes: &[IndexWrite]) {
        for w in writes {
            self.by_ns[w.ns as usize].insert(w.key.clone(), w.value.clone());
        }
    }
    /// A record by raw namespace byte.
    pub fn get_raw(&self, ns: u8, key: &[u8]) -> Option<&Vec<u8>> {
        self.by_ns.get(ns as usize).and_then(|m| m.get(key))
    }
    /// Every record, in no particular order: `(namespace, key, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (u8, &Vec<u8>, &Vec<u8>)> {
        self.by_ns.iter().enumerate().flat_map(|(ns, m)| m.iter().map(move |(k, v)| (ns as u8, k, v)))
    }
    pub fn len(&self) -> usize {
        self.by_ns.iter().map(HashMap::len).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// All records as writes.
    pub fn into_writes(self) -> Vec<IndexWrite> {
        let mut out = Vec::with_capacity(self.len());
        for (ns, m) in self.by_ns.into_iter().enumerate() {
            let ns = Ns::from_u8(ns as u8);
            for (key, value) in m {
                out.push(IndexWrite { ns: ns.expect("only known namespaces are written"), key, value });
            }
        }
        out
    }
}

impl IndexRead for MemIndex {
    fn get(&self, ns: Ns, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.by_ns[ns as usize].get(key).cloned())
    }
}

/// Base reads remembered by an [`Overlay`], misses included.
type ReadCache = HashMap<Vec<u8>, Option<Vec<u8>>>;

/// Pending writes of an uncommitted group over a base index: what the writer
/// consults so a batch sees its own earlier entries. It also remembers what
/// it read from the base (the base does not change while a group is being
/// decided: the writer is its only writer), so repeated lookups in a group
/// (the author's key record, the log key) cost one store read.
pub struct Overlay<'a, R: IndexRead + ?Sized> {
    pub base: &'a R,
    pending: [HashMap<Vec<u8>, Vec<u8>>; 8],
    read: std::cell::RefCell<[ReadCache; 8]>,
}

impl<'a, R: IndexRead + ?Sized> Overlay<'a, R> {
    pub fn new(base: &'a R) -> Self {
        Overlay { base, pending: Default::default(), read: Default::default() }
    }
    pub fn put_all(&mut self, writes: Vec<IndexWrite>) {
        for w in writes {
            self.pending[w.ns as usize].insert(w.key, w.value);
        }
    }
    /// The final value of every key written (a key written twice in a
    /// group is stored once).
    pub fn into_writes(self) -> Vec<IndexWrite> {
        let mut out = Vec::new();
        for (ns, m) in self.pending.into_iter().enumerate() {
            let ns = Ns::from_u8(ns as u8);
            for (key, value) in m {
                out.push(IndexWrite { ns: ns.expect("only known namespaces are written"), key, value });
            }
        }
        out
    }
}

impl<R: IndexRead + ?Sized> IndexRead for Overlay<'_, R> {
    fn get(&self, ns: Ns, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        if let Some(v) = self.pending[ns as usize].get(key) {
            return Ok(Some(v.clone()));
        }
        if let Some(v) = self.read.borrow()[ns as usize].get(key) {
            return Ok(v.clone());
        }
        let v = self.base.get(ns, key)?;
        self.read.borrow_mut()[ns as usize].insert(key.to_vec(), v.clone());
        Ok(v)
    }
}
