//! The domain state machine: given the ledger's derived state (indexes) as it
//! stands just before `seq`, is this statement allowed, and what index writes
//! does it cause? One function, [`apply`], serves the writer (over the store
//! plus an in-group overlay), `reindex` (over an empty index) and `verify`
//! (over an in-memory index rebuilt from the log), so all three agree.
//!
//! Signatures are checked before `apply` (strictly); `apply` is pure with
//! respect to its view: it reads, and returns writes; it never mutates.
//!
//! Rooms, one per domain, behind the one dispatcher in this file:
//! - [`index`]: namespaces, records, look-ups, `MemIndex`, `Overlay`;
//! - [`refusal`]: the typed refusals and their stable codes;
//! - [`registry`]: genesis, keys, officers, dual control;
//! - [`shared`]: endorsements (a hook per capacity), corrections, cases;
//! - [`evidence`]: evidence items, seals, custody, holds, disposal, case events;
//! - [`fund`]: accounts, obligations, receipts, disbursements (reserve, staged
//!   approval, post or void), reversals, reconciliation, disclosure; its
//!   records and look-ups are in `fund_index` (re-exported by [`index`]).

mod evidence;
pub mod fund;
mod fund_index;
pub mod index;
pub mod refusal;
pub mod registry;
mod shared;

pub use evidence::{decode_record as decode_evidence_record, rehash_matches};
pub use index::{
    account_record, bank_ref_seq, decode_fund_record, fund_case_record, movement, obligation_record, request_record,
    reversed_fen, AccountBalance, AccountRecord, Approval, DesignatedUse, FundCaseRecord, Movement, MovementKind,
    ObligationRecord, Reconciliation, RequestRecord, RequestStatus,
};
pub use index::{
    case_entries_key, case_record, digest_key, entry_ref, evidence_by_digest, evidence_record, index_record_seq,
    key_record, nonce_key, nonce_seq, ns_name, BackendError, CaseRecord, EntryRef, EvidenceRecord, IndexRead,
    IndexWrite, KeyRecord, MemIndex, Ns, Overlay,
};
pub use refusal::Refusal;

use crate::authority::{Kind, Role};
use crate::wire::{Body, Hash32, Statement};

/// What applying an accepted statement produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub writes: Vec<IndexWrite>,
    /// Ids this entry creates, for the acknowledgement (e.g. `case_id`).
    pub created: Vec<(&'static str, String)>,
    /// Accepted, but a verifier should flag it: `(code, sentence)`.
    pub warnings: Vec<(&'static str, String)>,
}

impl Outcome {
    pub(crate) fn warn(&mut self, code: &'static str, message: impl Into<String>) {
        self.warnings.push((code, message.into()));
    }
}

/// The entry being decided: its place in the log and its statement.
pub struct Candidate<'a> {
    pub seq: u64,
    pub recorded_at_ms: u64,
    pub entry_hash: Hash32,
    pub statement: &'a Statement,
}

pub(crate) fn roles_str(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
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
    let author = if is_genesis { None } else { Some(author_record(view, c, kind)?) };
    if !st.case_id.is_empty()
        && !matches!(st.body, Body::CaseOpened { .. })
        && case_record(view, &st.case_id)?.is_none()
    {
        return Err(Refusal::UnknownCase(st.case_id.clone()));
    }
    let mut out = Outcome::default();
    dispatch(view, origin, c, author.as_ref(), &mut out)?;
    common_indexes(c, kind, &mut out);
    Ok(out)
}

/// The author's registry record, if the author may sign `kind` now.
fn author_record(view: &(impl IndexRead + ?Sized), c: &Candidate<'_>, kind: Kind) -> Result<KeyRecord, Refusal> {
    let st = c.statement;
    if registry::log_key(view)?.as_deref() == Some(&st.author[..]) {
        return Err(Refusal::AuthorIsLogKey);
    }
    let rec = key_record(view, &st.author)?.ok_or_else(|| Refusal::AuthorNotEnrolled(hex::encode(st.author)))?;
    check_authority(&rec, kind, c.recorded_at_ms)?;
    Ok(rec)
}

/// Each kind to the room that owns its rules.
fn dispatch(
    view: &(impl IndexRead + ?Sized),
    origin: &str,
    c: &Candidate<'_>,
    author: Option<&KeyRecord>,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    let me = || author.ok_or(Refusal::GenesisMisplaced);
    match &c.statement.body {
        Body::Genesis { origin: g, log_key, officer, holder, unit } => {
            registry::genesis(c, origin, (g, log_key, officer, holder, unit), out)
        }
        Body::KeyEnrolled { key, holder, unit, roles, valid_from_ms, valid_until_ms } => {
            let e = registry::Enrolment {
                key,
                holder,
                unit,
                roles,
                valid_from_ms: *valid_from_ms,
                valid_until_ms: *valid_until_ms,
            };
            registry::enrol(view, c, e, out)
        }
        Body::KeyRevoked { key, reason, compromised_since_ms } => {
            registry::revoke(view, c, key, reason, *compromised_since_ms, out)
        }
        Body::Endorsed { entry_hash, capacity } => shared::endorse(view, c, me()?, entry_hash, capacity, out),
        Body::Correction { entry_hash, field, value: _, reason } => {
            shared::correct(view, me()?, entry_hash, field, reason)
        }
        Body::CaseOpened { title, area: _, unit: _ } => shared::open_case(view, c, title, out),
        Body::CaseEvent { .. }
        | Body::EvidenceRegistered { .. }
        | Body::EvidenceDerived { .. }
        | Body::Sealed { .. }
        | Body::Unsealed { .. }
        | Body::CustodyTransferred { .. }
        | Body::CustodyReceived { .. }
        | Body::EvidenceAccessed { .. }
        | Body::IntegrityChecked { .. }
        | Body::SubmittedToCourt { .. }
        | Body::Disposed { .. }
        | Body::LegalHold { .. }
        | Body::HoldReleased { .. } => evidence::apply(view, c, me()?, out),
        Body::AccountOpened { .. }
        | Body::Obligation { .. }
        | Body::FundReceipt { .. }
        | Body::Remittance { .. }
        | Body::DisbursementRequested { .. }
        | Body::DisbursementApproved { .. }
        | Body::DisbursementRejected { .. }
        | Body::DisbursementPaid { .. }
        | Body::DisbursementVoided { .. }
        | Body::Reversal { .. }
        | Body::Reconciled { .. }
        | Body::Published { .. }
        | Body::AuditFinding { .. } => fund::apply(view, c, me()?, out),
    }
}

/// Indexes every accepted entry gets.
fn common_indexes(c: &Candidate<'_>, kind: Kind, out: &mut Outcome) {
    let st = c.statement;
    out.writes.push(IndexWrite {
        ns: Ns::Nonce,
        key: nonce_key(&st.author, &st.nonce),
        value: c.seq.to_be_bytes().to_vec(),
    });
    let er = EntryRef { seq: c.seq, author: st.author, kind };
    out.writes.push(IndexWrite { ns: Ns::EntryHash, key: c.entry_hash.to_vec(), value: index::rec(&er) });
    if !st.case_id.is_empty() {
        out.writes.push(IndexWrite {
            ns: Ns::CaseEntries,
            key: case_entries_key(&st.case_id, c.seq),
            value: Vec::new(),
        });
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_evidence;
#[cfg(test)]
mod tests_fund;
#[cfg(test)]
mod tests_fund_model;
