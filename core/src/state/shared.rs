//! Rules shared by every domain: endorsements (with a hook per capacity),
//! corrections and cases.

use crate::authority::{Capacity, Kind};
use crate::names::same_person;
use crate::wire::Hash32;

use super::index::{case_record, entry_ref, key_record, rec, CaseRecord, IndexRead, IndexWrite, KeyRecord, Ns};
use super::{evidence, fund, registry, roles_str, Candidate, Outcome, Refusal};

/// `Endorsed`: a second person — a different key *and* a different holder —
/// endorses an earlier entry in a stated capacity. The capacity's domain
/// decides what the endorsement does.
pub(super) fn endorse(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    me: &KeyRecord,
    entry_hash: &Hash32,
    capacity: &str,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    if capacity.is_empty() {
        return Err(Refusal::MissingField("capacity"));
    }
    let cap = Capacity::parse(capacity).ok_or_else(|| Refusal::UnknownCapacity(capacity.to_string()))?;
    let target = entry_ref(view, entry_hash)?.ok_or_else(|| Refusal::UnknownEntry(hex::encode(entry_hash)))?;
    let author = key_record(view, &target.author)?;
    if target.author == c.statement.author || author.as_ref().is_some_and(|o| same_person(&o.holder, &me.holder)) {
        return Err(Refusal::SelfEndorsement("the endorsed entry's author"));
    }
    let mut ek = entry_hash.to_vec();
    ek.extend_from_slice(&c.statement.author);
    if view.get(Ns::Endorsement, &ek)?.is_some() {
        return Err(Refusal::AlreadyEndorsed);
    }
    out.writes.push(IndexWrite { ns: Ns::Endorsement, key: ek, value: c.seq.to_be_bytes().to_vec() });
    match cap {
        Capacity::KeyOfficer => {
            if target.kind != Kind::KeyEnrolled {
                return Err(Refusal::CapacityMismatch { capacity: cap.as_str(), kind: target.kind.as_str() });
            }
            registry::endorse_enrolment(view, c, me, author.as_ref(), &target, out)
        }
        Capacity::SecondCollector => evidence::endorse_as_second_collector(view, c, me, entry_hash, &target, out),
        Capacity::Approver => evidence::endorse_as_approver(view, c, me, entry_hash, &target, out),
        Capacity::FinanceReviewer => fund::endorse_as_finance_reviewer(me, &target),
        // Recorded facts; later rules read them.
        Capacity::Witness | Capacity::CustodyReceiver => Ok(()),
    }
}

/// `Correction`: states the right value for a field of an earlier entry.
/// The corrector must hold a role that may sign the corrected kind.
pub(super) fn correct(
    view: &(impl IndexRead + ?Sized),
    me: &KeyRecord,
    entry_hash: &Hash32,
    field: &str,
    reason: &str,
) -> Result<(), Refusal> {
    if field.trim().is_empty() {
        return Err(Refusal::MissingField("field"));
    }
    if reason.trim().is_empty() {
        return Err(Refusal::MissingField("reason"));
    }
    let target = entry_ref(view, entry_hash)?.ok_or_else(|| Refusal::UnknownEntry(hex::encode(entry_hash)))?;
    if !target.kind.allows(&me.roles) {
        return Err(Refusal::RoleNotAllowed { kind: "Correction of that kind", roles: roles_str(&me.roles) });
    }
    Ok(())
}

/// `CaseOpened`: a prosecutor opens a case (the case id is the statement's).
pub(super) fn open_case(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    title: &str,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    let case_id = &c.statement.case_id;
    crate::names::check_text("case_id", case_id, false)?;
    if title.trim().is_empty() {
        return Err(Refusal::MissingField("title"));
    }
    if case_record(view, case_id)?.is_some() {
        return Err(Refusal::CaseExists(case_id.clone()));
    }
    let r = CaseRecord { opened_seq: c.seq, title: title.to_string(), judgment_seq: None, closed_seq: None };
    out.writes.push(IndexWrite { ns: Ns::Case, key: case_id.as_bytes().to_vec(), value: rec(&r) });
    out.created.push(("case_id", case_id.clone()));
    Ok(())
}
