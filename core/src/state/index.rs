//! Derived indexes (invariant 7): the namespaces, the records they hold,
//! typed look-ups, and the two in-memory views the rules run over
//! ([`MemIndex`] for verify and reindex, [`Overlay`] for a group commit).
//!
//! A namespace byte read from storage is untrusted: it is turned into an
//! [`Ns`] with [`Ns::from_u8`] (unknown bytes are `None`), and only an `Ns`
//! ever indexes an array here.

use std::collections::HashMap;

use bincode::{Decode, Encode};

use crate::authority::{Kind, Role};
use crate::wire::{self, Hash32, PublicKey};

pub use super::fund_index::*;

/// Index namespaces, declared once. Every index is derived from the log.
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
    /// fixed names → values (the log key, the officer list, dual control).
    Meta = 7,
    /// evidence id → [`EvidenceRecord`]: one record per item, so every
    /// evidence rule is one look-up.
    Evidence = 8,
    /// algorithm tag (u8) ‖ digest bytes → evidence id.
    Digest = 9,
    /// entry hash of an evidence entry → evidence id.
    EvidenceEntry = 10,
    // ---- fund side (schema/fund.md)
    /// account id → [`AccountRecord`]: kind, flags and the four balances.
    Account = 11,
    /// request id → [`RequestRecord`]: a disbursement and its approvals.
    Request = 12,
    /// obligation id → [`ObligationRecord`].
    Obligation = 13,
    /// case id → [`FundCaseRecord`]: the case's obligations and designated uses.
    FundCase = 14,
    /// entry hash of a money-moving entry → [`Movement`].
    Movement = 15,
    /// account id ‖ 0xFF ‖ seq BE → [`Movement`]: an account's statement.
    AccountMovement = 16,
    /// account id ‖ 0xFF ‖ bank reference → seq BE.
    BankRef = 17,
    /// entry hash of a reversed movement → fen reversed so far, u64 BE.
    Reversed = 18,
}

/// Slots in per-namespace arrays: the largest discriminant plus one.
const NS_SLOTS: usize = 19;

impl Ns {
    /// Every namespace, with its stable name (`storage.md`).
    pub const ALL: [(Ns, &'static str); 18] = [
        (Ns::Nonce, "nonce"),
        (Ns::Key, "key"),
        (Ns::EntryHash, "entry_hash"),
        (Ns::Case, "case"),
        (Ns::CaseEntries, "case_entries"),
        (Ns::Endorsement, "endorsement"),
        (Ns::Meta, "meta"),
        (Ns::Evidence, "evidence"),
        (Ns::Digest, "digest"),
        (Ns::EvidenceEntry, "evidence_entry"),
        (Ns::Account, "account"),
        (Ns::Request, "request"),
        (Ns::Obligation, "obligation"),
        (Ns::FundCase, "fund_case"),
        (Ns::Movement, "movement"),
        (Ns::AccountMovement, "account_movement"),
        (Ns::BankRef, "bank_ref"),
        (Ns::Reversed, "reversed"),
    ];

    /// The namespace a stored byte names, if any.
    pub fn from_u8(b: u8) -> Option<Ns> {
        Ns::ALL.iter().map(|(n, _)| *n).find(|n| *n as u8 == b)
    }

    pub fn name(self) -> &'static str {
        Ns::ALL.iter().find(|(n, _)| *n == self).map_or("unknown", |(_, s)| s)
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// Human name of a namespace byte (`"unknown"` for bytes no namespace has).
pub fn ns_name(ns: u8) -> &'static str {
    Ns::from_u8(ns).map_or("unknown", Ns::name)
}

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
    /// A key-officer enrolment waiting for a second person's endorsement.
    pub pending: bool,
    /// Two people stood behind this enrolment: a second key officer
    /// endorsed it (or it was activated under dual control).
    pub vetted: bool,
    pub revoked_seq: Option<u64>,
    pub compromised_since_ms: Option<u64>,
}

/// What an entry hash points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct EntryRef {
    pub seq: u64,
    pub author: PublicKey,
    pub kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct CaseRecord {
    pub opened_seq: u64,
    pub title: String,
    /// The `CaseEvent` judgment, if one was recorded.
    pub judgment_seq: Option<u64>,
    /// The `CaseEvent` closing the case: nothing more is recorded on it.
    pub closed_seq: Option<u64>,
}

/// One item of evidence as the rules see it now (current holder, seal,
/// custody, holds, disposal).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct EvidenceRecord {
    pub evidence_id: String,
    pub case_id: String,
    pub registered_seq: u64,
    pub registered_hash: Hash32,
    pub registrant: PublicKey,
    pub collectors: Vec<String>,
    pub physical: bool,
    pub digests: Vec<crate::digest::Digest>,
    /// For a derived item, the item it was made from.
    pub parent: Option<String>,
    /// The key that holds the item now.
    pub holder: PublicKey,
    /// A handover not yet received: the transfer entry and the receiver.
    pub pending_transfer: Option<(Hash32, PublicKey)>,
    pub transfers: u32,
    /// The `Sealed` entry of the seal on the item now, if sealed.
    pub seal: Option<Hash32>,
    /// An approver's `Endorsed` of that seal (entry hash, approver key):
    /// what an unsealing must name.
    pub seal_approval: Option<(Hash32, PublicKey)>,
    /// First seq at which a seal was found broken.
    pub seal_broken_seq: Option<u64>,
    /// Seq of the second collector's endorsement.
    pub second_collector_seq: Option<u64>,
    /// First seq at which a re-hash did not match.
    pub rehash_mismatch_seq: Option<u64>,
    pub hold: bool,
    pub disposed_seq: Option<u64>,
    pub submitted_seq: Option<u64>,
}

pub(crate) fn rec<T: Encode>(v: &T) -> Vec<u8> {
    wire::encode(v)
}

pub(crate) fn unrec<T: Encode + Decode<()>>(ns: Ns, b: &[u8]) -> Result<T, BackendError> {
    wire::decode_canonical(b, wire::MAX_ENTRY_BYTES)
        .map_err(|e| BackendError(format!("corrupt {} index record: {e}", ns.name())))
}

pub(crate) fn be_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.try_into().ok()?))
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

/// A key's registry record.
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
    match view.get(Ns::Nonce, &nonce_key(author, nonce))? {
        None => Ok(None),
        Some(b) => be_u64(&b).map(Some).ok_or_else(|| BackendError("corrupt nonce index record".into())),
    }
}

pub fn evidence_record(
    view: &(impl IndexRead + ?Sized),
    evidence_id: &str,
) -> Result<Option<EvidenceRecord>, BackendError> {
    view.get(Ns::Evidence, evidence_id.as_bytes())?.map(|b| unrec(Ns::Evidence, &b)).transpose()
}

/// The key of a digest in [`Ns::Digest`].
pub fn digest_key(d: &crate::digest::Digest) -> Vec<u8> {
    let mut k = vec![d.alg as u8];
    k.extend_from_slice(&d.value);
    k
}

/// The evidence id a digest (any algorithm) was registered under.
pub fn evidence_by_digest(
    view: &(impl IndexRead + ?Sized),
    d: &crate::digest::Digest,
) -> Result<Option<String>, BackendError> {
    view.get(Ns::Digest, &digest_key(d))?
        .map(|b| String::from_utf8(b).map_err(|_| BackendError("corrupt digest index record".into())))
        .transpose()
}

pub fn case_record(view: &(impl IndexRead + ?Sized), case_id: &str) -> Result<Option<CaseRecord>, BackendError> {
    view.get(Ns::Case, case_id.as_bytes())?.map(|b| unrec(Ns::Case, &b)).transpose()
}

/// The seq an index record derives from, where the record says (to name the
/// seq in verify reasons). `None` for unknown namespaces or malformed data.
pub fn index_record_seq(ns: u8, key: &[u8], value: &[u8]) -> Option<u64> {
    let ns = Ns::from_u8(ns)?;
    match ns {
        Ns::Nonce | Ns::Endorsement => be_u64(value),
        Ns::Key => unrec::<KeyRecord>(Ns::Key, value).ok().map(|r| r.revoked_seq.unwrap_or(r.enrolled_seq)),
        Ns::EntryHash => unrec::<EntryRef>(Ns::EntryHash, value).ok().map(|r| r.seq),
        Ns::Case => unrec::<CaseRecord>(Ns::Case, value).ok().map(|r| r.opened_seq),
        Ns::CaseEntries => key.len().checked_sub(8).and_then(|i| be_u64(&key[i..])),
        Ns::Meta => key.strip_prefix(b"enrolled@".as_slice()).and_then(be_u64),
        Ns::Evidence => unrec::<EvidenceRecord>(Ns::Evidence, value).ok().map(|r| r.registered_seq),
        Ns::Digest | Ns::EvidenceEntry => None,
        Ns::Account
        | Ns::Request
        | Ns::Obligation
        | Ns::FundCase
        | Ns::Movement
        | Ns::AccountMovement
        | Ns::BankRef
        | Ns::Reversed => super::fund_index::record_seq(ns, key, value),
    }
}

type Maps = [HashMap<Vec<u8>, Vec<u8>>; NS_SLOTS];

/// One namespace of a [`MemIndex`]: every record packed in one byte arena as
/// `klen u32 LE ‖ vlen u32 LE ‖ key ‖ value`, found through a hash table of
/// arena offsets. A record costs its bytes plus 8 (header) plus a table slot,
/// where a map of two `Vec`s cost two allocations and 48 bytes of headers
/// (758 bytes per stress entry against 226 bytes of records, measured). An
/// overwritten record leaves its old bytes behind; the arena is compacted
/// once they are more than half of it.
#[derive(Clone, Default)]
struct Packed {
    arena: Vec<u8>,
    table: hashbrown::HashTable<usize>,
    hasher: std::hash::RandomState,
    /// Bytes of the arena still referenced by the table.
    live: usize,
}

const HEADER: usize = 8;

impl Packed {
    fn hash(&self, key: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(key)
    }

    /// The hash of the record stored at `at`, for the table to rehash with
    /// (a free function of the parts, so the table can be borrowed apart).
    fn hash_at(hasher: &std::hash::RandomState, arena: &[u8], at: usize) -> u64 {
        use std::hash::BuildHasher;
        hasher.hash_one(Self::record(arena, at).0)
    }

    /// The key and value of the record at `at`.
    fn record(arena: &[u8], at: usize) -> (&[u8], &[u8]) {
        let len = |i: usize| u32::from_le_bytes(arena[i..i + 4].try_into().expect("4 bytes")) as usize;
        let (k, v) = (len(at), len(at + 4));
        let key = &arena[at + HEADER..at + HEADER + k];
        (key, &arena[at + HEADER + k..at + HEADER + k + v])
    }

    fn get(&self, key: &[u8]) -> Option<&[u8]> {
        let at = self.table.find(self.hash(key), |&at| Self::record(&self.arena, at).0 == key)?;
        Some(Self::record(&self.arena, *at).1)
    }

    fn insert(&mut self, key: &[u8], value: &[u8]) {
        let at = self.arena.len();
        let (k, v) = (u32::try_from(key.len()), u32::try_from(value.len()));
        let (Ok(k), Ok(v)) = (k, v) else { panic!("an index record over 4 GiB") };
        self.arena.extend_from_slice(&k.to_le_bytes());
        self.arena.extend_from_slice(&v.to_le_bytes());
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(value);
        let size = HEADER + key.len() + value.len();
        let hash = self.hash(key);
        let (arena, hasher) = (&self.arena, &self.hasher);
        let rehash = |&at: &usize| Self::hash_at(hasher, arena, at);
        match self.table.entry(hash, |&old| Self::record(arena, old).0 == key, rehash) {
            hashbrown::hash_table::Entry::Occupied(mut e) => {
                let old = *e.get();
                let (ok, ov) = Self::record(arena, old);
                self.live -= HEADER + ok.len() + ov.len();
                *e.get_mut() = at;
            }
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert(at);
            }
        }
        self.live += size;
        if self.arena.len() > 2 * self.live + (1 << 20) {
            self.compact();
        }
    }

    /// Rewrite the arena with the live records only.
    fn compact(&mut self) {
        let old = std::mem::take(&mut self.arena);
        let mut fresh = Packed { hasher: self.hasher.clone(), ..Packed::default() };
        fresh.arena.reserve(self.live);
        fresh.table.reserve(self.table.len(), |_| 0);
        for &at in self.table.iter() {
            let (k, v) = Self::record(&old, at);
            fresh.insert(k, v);
        }
        *self = fresh;
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.table.iter().map(|&at| Self::record(&self.arena, at))
    }

    fn len(&self) -> usize {
        self.table.len()
    }

    /// Heap bytes held: the arena's capacity and the table's slots.
    fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.table.capacity() * (std::mem::size_of::<usize>() + 1)
    }
}

/// An index held in memory (verify, tests, rebuilds): one packed map per
/// namespace ([`Packed`]), so look-ups by `&[u8]` neither allocate nor
/// compare keys in order, and a record costs little more than its bytes.
#[derive(Clone, Default)]
pub struct MemIndex {
    by_ns: [Packed; NS_SLOTS],
}

impl std::fmt::Debug for MemIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemIndex({} records)", self.len())
    }
}

/// Two indexes are equal when they hold the same records.
impl PartialEq for MemIndex {
    fn eq(&self, other: &Self) -> bool {
        self.by_ns
            .iter()
            .zip(&other.by_ns)
            .all(|(a, b)| a.len() == b.len() && a.iter().all(|(k, v)| b.get(k) == Some(v)))
    }
}

impl Eq for MemIndex {}

impl MemIndex {
    /// Apply a statement's writes.
    pub fn put_all(&mut self, writes: Vec<IndexWrite>) {
        for w in writes {
            self.by_ns[w.ns.slot()].insert(&w.key, &w.value);
        }
    }
    /// Make room for `entries` entries' records in the namespaces every
    /// entry writes one record to (its nonce and its hash), so that a big
    /// replay does not rehash them again and again. A hint only: the
    /// caller bounds it.
    pub fn reserve_for(&mut self, entries: usize) {
        for ns in [Ns::Nonce, Ns::EntryHash] {
            let p = &mut self.by_ns[ns.slot()];
            let (arena, hasher) = (&p.arena, &p.hasher);
            // A hint: if the room cannot be had, the table grows as it goes.
            let _ = p.table.try_reserve(entries, |&at| Packed::hash_at(hasher, arena, at));
        }
    }
    /// A record by raw namespace byte (`None` for unknown namespaces).
    pub fn get_raw(&self, ns: u8, key: &[u8]) -> Option<&[u8]> {
        let ns = Ns::from_u8(ns)?;
        self.by_ns[ns.slot()].get(key)
    }
    /// Every record, in no particular order: `(namespace, key, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (u8, &[u8], &[u8])> {
        self.by_ns.iter().enumerate().flat_map(|(ns, m)| m.iter().map(move |(k, v)| (ns as u8, k, v)))
    }
    pub fn len(&self) -> usize {
        self.by_ns.iter().map(Packed::len).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Heap bytes held (arenas and tables), for a caller that keeps the
    /// index to a budget.
    pub fn heap_bytes(&self) -> usize {
        self.by_ns.iter().map(Packed::heap_bytes).sum()
    }
}

fn into_writes(mut maps: Maps) -> Vec<IndexWrite> {
    let mut out = Vec::with_capacity(maps.iter().map(HashMap::len).sum());
    for (ns, _) in Ns::ALL {
        for (key, value) in std::mem::take(&mut maps[ns.slot()]) {
            out.push(IndexWrite { ns, key, value });
        }
    }
    out
}

impl IndexRead for MemIndex {
    fn get(&self, ns: Ns, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.by_ns[ns.slot()].get(key).map(<[u8]>::to_vec))
    }
}

/// Base reads remembered by an [`Overlay`], misses included.
type ReadCache = HashMap<Vec<u8>, Option<Vec<u8>>>;

/// Pending writes of an uncommitted group over a base index: what the writer
/// consults so a group sees its own earlier entries. It also remembers what
/// it read from the base (the base does not change while a group is being
/// decided: the writer is its only writer), so repeated look-ups in a group
/// (the author's key record, the log key) cost one store read.
pub struct Overlay<'a, R: IndexRead + ?Sized> {
    pub base: &'a R,
    pending: Maps,
    read: std::cell::RefCell<[ReadCache; NS_SLOTS]>,
}

impl<'a, R: IndexRead + ?Sized> Overlay<'a, R> {
    pub fn new(base: &'a R) -> Self {
        Overlay { base, pending: Default::default(), read: Default::default() }
    }
    pub fn put_all(&mut self, writes: Vec<IndexWrite>) {
        for w in writes {
            self.pending[w.ns.slot()].insert(w.key, w.value);
        }
    }
    /// The final value of every key written (a key written twice in a
    /// group is stored once).
    pub fn into_writes(self) -> Vec<IndexWrite> {
        into_writes(self.pending)
    }
}

impl<R: IndexRead + ?Sized> IndexRead for Overlay<'_, R> {
    fn get(&self, ns: Ns, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        if let Some(v) = self.pending[ns.slot()].get(key) {
            return Ok(Some(v.clone()));
        }
        if let Some(v) = self.read.borrow()[ns.slot()].get(key) {
            return Ok(v.clone());
        }
        let v = self.base.get(ns, key)?;
        self.read.borrow_mut()[ns.slot()].insert(key.to_vec(), v.clone());
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_namespace_fits_the_slot_arrays_and_names_are_unique() {
        let mut names = std::collections::HashSet::new();
        for (ns, name) in Ns::ALL {
            assert!((ns as usize) < NS_SLOTS);
            assert_eq!(Ns::from_u8(ns as u8), Some(ns));
            assert!(names.insert(name));
        }
        assert_eq!(Ns::from_u8(0), None);
        assert_eq!(Ns::from_u8(200), None);
        assert_eq!(ns_name(255), "unknown");
    }

    #[test]
    fn malformed_records_name_no_seq_and_never_panic() {
        assert_eq!(index_record_seq(Ns::Nonce as u8, b"k", &[1, 2, 3]), None);
        assert_eq!(index_record_seq(Ns::CaseEntries as u8, b"short", b""), None);
        assert_eq!(index_record_seq(Ns::Key as u8, b"k", &[0xff; 3]), None);
        assert_eq!(index_record_seq(99, b"k", b"v"), None);
        assert_eq!(index_record_seq(Ns::Nonce as u8, b"k", &7u64.to_be_bytes()), Some(7));
    }

    #[test]
    fn entry_ref_with_an_unknown_kind_tag_is_a_backend_error_not_a_panic() {
        let mut idx = MemIndex::default();
        let mut bad = rec(&EntryRef { seq: 1, author: [1; 32], kind: Kind::Genesis });
        let n = bad.len();
        bad[n - 4..].copy_from_slice(&9999u32.to_le_bytes());
        idx.put_all(vec![IndexWrite { ns: Ns::EntryHash, key: vec![5; 32], value: bad }]);
        assert!(entry_ref(&idx, &[5; 32]).is_err());
    }
}
