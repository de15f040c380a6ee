//! Evidence and custody rules (DESIGN §5, evidence side; `schema/evidence.md`).
//!
//! One [`EvidenceRecord`] per item holds everything the rules need (current
//! holder, a pending handover, the seal, holds, disposal), so each rule is
//! one look-up. Two more indexes: digest → item (for `verify-file`), and
//! evidence entry hash → item (for endorsements and approvals that point at
//! an evidence entry).

use crate::authority::{Kind, Role};
use crate::digest::Digest;
use crate::names::{self, same_person};
use crate::wire::{Body, CaseStage, Hash32, PublicKey, SealState};

use super::index::{
    case_record, digest_key, evidence_by_digest, evidence_record, key_record, rec, unrec, CaseRecord, EntryRef,
    EvidenceRecord, IndexRead, IndexWrite, KeyRecord, Ns,
};
use super::{check_authority, roles_str, Candidate, Outcome, Refusal};

fn put(r: &EvidenceRecord, out: &mut Outcome) {
    out.writes.push(IndexWrite { ns: Ns::Evidence, key: r.evidence_id.as_bytes().to_vec(), value: rec(r) });
}

fn link_entry(c: &Candidate<'_>, evidence_id: &str, out: &mut Outcome) {
    out.writes.push(IndexWrite {
        ns: Ns::EvidenceEntry,
        key: c.entry_hash.to_vec(),
        value: evidence_id.as_bytes().to_vec(),
    });
}

fn text(field: &'static str, s: &str) -> Result<(), Refusal> {
    names::check_text(field, s, false).map_err(Refusal::from)
}

/// The item an entry acts on: it exists, belongs to the statement's case,
/// and has not been disposed of.
fn item(view: &(impl IndexRead + ?Sized), c: &Candidate<'_>, evidence_id: &str) -> Result<EvidenceRecord, Refusal> {
    let r = evidence_record(view, evidence_id)?.ok_or_else(|| Refusal::UnknownEvidence(evidence_id.to_string()))?;
    if r.case_id != c.statement.case_id {
        return Err(Refusal::CaseMismatch { evidence_id: r.evidence_id, case_id: r.case_id });
    }
    if let Some(seq) = r.disposed_seq {
        return Err(Refusal::AlreadyDisposed { evidence_id: r.evidence_id, seq });
    }
    Ok(r)
}

fn holder_only(r: &EvidenceRecord, c: &Candidate<'_>) -> Result<(), Refusal> {
    if r.holder != c.statement.author {
        return Err(Refusal::NotTheHolder(r.evidence_id.clone()));
    }
    Ok(())
}

/// Digests of a file as registered: at least one strong digest (BLAKE3,
/// SHA-256 or SM3), each of the right length, one per algorithm.
fn check_digests(digests: &[Digest], need_strong: bool) -> Result<(), Refusal> {
    let mut seen = Vec::new();
    for d in digests {
        if d.value.len() != d.alg.output_len() {
            return Err(Refusal::InvalidDigest(format!("{} digest must be {} bytes", d.alg, d.alg.output_len())));
        }
        if seen.contains(&d.alg) {
            return Err(Refusal::InvalidDigest(format!("{} is listed twice", d.alg)));
        }
        seen.push(d.alg);
    }
    if need_strong && !digests.iter().any(|d| !d.alg.is_weak()) {
        return Err(Refusal::InvalidDigest("a file needs a BLAKE3, SHA-256 or SM3 digest".into()));
    }
    if digests.iter().any(|d| d.alg.is_weak()) {
        return Err(Refusal::InvalidDigest("MD5 and SHA-1 go in prior_digests only".into()));
    }
    Ok(())
}

/// No digest may name two items: `verify-file` must find one answer.
fn claim_digests(
    view: &(impl IndexRead + ?Sized),
    evidence_id: &str,
    digests: &[Digest],
    out: &mut Outcome,
) -> Result<(), Refusal> {
    for d in digests {
        if let Some(other) = evidence_by_digest(view, d)? {
            return Err(Refusal::DigestExists { digest: d.to_string(), evidence_id: other });
        }
        out.writes.push(IndexWrite { ns: Ns::Digest, key: digest_key(d), value: evidence_id.as_bytes().to_vec() });
    }
    Ok(())
}

fn new_item(view: &(impl IndexRead + ?Sized), evidence_id: &str) -> Result<(), Refusal> {
    text("evidence_id", evidence_id)?;
    if evidence_id.chars().any(char::is_whitespace) {
        return Err(Refusal::InvalidValue("an evidence id has no spaces".into()));
    }
    if evidence_record(view, evidence_id)?.is_some() {
        return Err(Refusal::EvidenceExists(evidence_id.to_string()));
    }
    Ok(())
}

fn record(c: &Candidate<'_>, evidence_id: &str, digests: &[Digest]) -> EvidenceRecord {
    EvidenceRecord {
        evidence_id: evidence_id.to_string(),
        case_id: c.statement.case_id.clone(),
        registered_seq: c.seq,
        registered_hash: c.entry_hash,
        registrant: c.statement.author,
        collectors: Vec::new(),
        physical: false,
        digests: digests.to_vec(),
        parent: None,
        holder: c.statement.author,
        pending_transfer: None,
        transfers: 0,
        seal: None,
        seal_approval: None,
        seal_broken_seq: None,
        second_collector_seq: None,
        rehash_mismatch_seq: None,
        hold: false,
        disposed_seq: None,
        submitted_seq: None,
    }
}

/// Does a re-hash agree with the registered digests? Every algorithm both
/// name must match, and at least one must be shared.
pub fn rehash_matches(registered: &[Digest], rehash: &[Digest]) -> bool {
    let mut shared = 0;
    for d in rehash {
        if let Some(r) = registered.iter().find(|r| r.alg == d.alg) {
            if r.value != d.value {
                return false;
            }
            shared += 1;
        }
    }
    shared > 0
}

/// Evidence kinds, dispatched from `state::apply`. `me` is the author's
/// registry record.
pub(super) fn apply(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    me: &KeyRecord,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    let case = open_case(view, c)?;
    match &c.statement.body {
        Body::CaseEvent { stage, reference, awards, .. } => case_event(c, case, *stage, reference, awards, out),
        Body::EvidenceRegistered {
            evidence_id,
            category,
            digests,
            physical,
            description,
            collectors,
            prior_digests,
            ..
        } => {
            check_digests(digests, !physical)?;
            claim_digests(view, evidence_id, digests, out)?;
            new_item(view, evidence_id)?;
            text("category", category)?;
            if *physical && description.trim().is_empty() {
                return Err(Refusal::MissingField("description"));
            }
            for p in prior_digests {
                if p.value.len() != p.alg.output_len() {
                    return Err(Refusal::InvalidDigest(format!(
                        "prior {} digest must be {} bytes",
                        p.alg,
                        p.alg.output_len()
                    )));
                }
            }
            let first = collectors.first().ok_or(Refusal::MissingField("collectors"))?;
            for name in collectors {
                names::check_name("collector", name)?;
            }
            if !same_person(first, &me.holder) {
                return Err(Refusal::RegistrantNotCollector { registrant: me.holder.clone(), first: first.clone() });
            }
            let mut r = record(c, evidence_id, digests);
            r.collectors = collectors.clone();
            r.physical = *physical;
            put(&r, out);
            link_entry(c, evidence_id, out);
            out.created.push(("evidence_id", evidence_id.clone()));
            Ok(())
        }
        Body::EvidenceDerived { evidence_id, parent, digests, method, .. } => {
            check_digests(digests, true)?;
            claim_digests(view, evidence_id, digests, out)?;
            new_item(view, evidence_id)?;
            text("method", method)?;
            item(view, c, parent)?;
            let mut r = record(c, evidence_id, digests);
            r.parent = Some(parent.clone());
            r.collectors = vec![me.holder.clone()];
            put(&r, out);
            link_entry(c, evidence_id, out);
            out.created.push(("evidence_id", evidence_id.clone()));
            Ok(())
        }
        Body::Sealed { evidence_id, seal_id, .. } => {
            let mut r = item(view, c, evidence_id)?;
            holder_only(&r, c)?;
            text("seal_id", seal_id)?;
            if r.seal.is_some() {
                return Err(Refusal::AlreadySealed(r.evidence_id));
            }
            r.seal = Some(c.entry_hash);
            r.seal_approval = None;
            finish(r, c, out)
        }
        Body::Unsealed { evidence_id, approval, condition, .. } => {
            let mut r = item(view, c, evidence_id)?;
            holder_only(&r, c)?;
            if r.seal.is_none() {
                return Err(Refusal::NotSealed(r.evidence_id));
            }
            match r.seal_approval {
                Some((h, approver)) if h == *approval => {
                    let a = key_record(view, &approver)?;
                    if a.is_some_and(|a| same_person(&a.holder, &me.holder)) {
                        return Err(Refusal::ApprovalInvalid("the approver cannot be the person unsealing".into()));
                    }
                }
                _ => {
                    return Err(Refusal::ApprovalInvalid(
                        "the approval must be an approver's endorsement (capacity approver) of this item's seal entry"
                            .into(),
                    ))
                }
            }
            if *condition == SealState::Broken {
                r.seal_broken_seq.get_or_insert(c.seq);
            }
            r.seal = None;
            r.seal_approval = None;
            finish(r, c, out)
        }
        Body::CustodyTransferred { evidence_id, to, purpose, seal } => {
            let mut r = item(view, c, evidence_id)?;
            holder_only(&r, c)?;
            text("purpose", purpose)?;
            if r.pending_transfer.is_some() {
                return Err(Refusal::TransferPending(r.evidence_id));
            }
            check_receiver(view, c, me, to)?;
            note_seal(&mut r, *seal, c.seq);
            r.pending_transfer = Some((c.entry_hash, *to));
            finish(r, c, out)
        }
        Body::CustodyReceived { evidence_id, transfer, digests, seal } => {
            let mut r = item(view, c, evidence_id)?;
            let Some((t_hash, to)) = r.pending_transfer else { return Err(Refusal::UnknownTransfer(r.evidence_id)) };
            if t_hash != *transfer {
                return Err(Refusal::UnknownTransfer(r.evidence_id));
            }
            if to != c.statement.author {
                return Err(Refusal::NotTheReceiver(r.evidence_id));
            }
            check_rehash(&mut r, digests, c.seq)?;
            note_seal(&mut r, *seal, c.seq);
            r.holder = to;
            r.pending_transfer = None;
            r.transfers += 1;
            finish(r, c, out)
        }
        Body::EvidenceAccessed { evidence_id, purpose } => {
            let r = item(view, c, evidence_id)?;
            text("purpose", purpose)?;
            finish(r, c, out)
        }
        Body::IntegrityChecked { evidence_id, digests, .. } => {
            let mut r = item(view, c, evidence_id)?;
            if digests.is_empty() {
                return Err(Refusal::MissingField("digests"));
            }
            check_rehash(&mut r, digests, c.seq)?;
            finish(r, c, out)
        }
        Body::SubmittedToCourt { evidence_id, court, reference } => {
            let mut r = item(view, c, evidence_id)?;
            text("court", court)?;
            text("reference", reference)?;
            r.submitted_seq.get_or_insert(c.seq);
            finish(r, c, out)
        }
        Body::Disposed { evidence_id, method, reason } => {
            let mut r = item(view, c, evidence_id)?;
            holder_only(&r, c)?;
            text("method", method)?;
            text("reason", reason)?;
            if r.hold {
                return Err(Refusal::OnLegalHold(r.evidence_id));
            }
            if r.pending_transfer.is_some() {
                return Err(Refusal::TransferPending(r.evidence_id));
            }
            r.disposed_seq = Some(c.seq);
            finish(r, c, out)
        }
        Body::LegalHold { evidence_id, reason } => {
            let mut r = item(view, c, evidence_id)?;
            text("reason", reason)?;
            if r.hold {
                return Err(Refusal::AlreadyOnHold(r.evidence_id));
            }
            r.hold = true;
            finish(r, c, out)
        }
        Body::HoldReleased { evidence_id, reason } => {
            let mut r = item(view, c, evidence_id)?;
            text("reason", reason)?;
            if !r.hold {
                return Err(Refusal::NotOnHold(r.evidence_id));
            }
            r.hold = false;
            finish(r, c, out)
        }
        _ => unreachable!("evidence::apply is dispatched evidence kinds only"),
    }
}

fn finish(r: EvidenceRecord, c: &Candidate<'_>, out: &mut Outcome) -> Result<(), Refusal> {
    link_entry(c, &r.evidence_id, out);
    put(&r, out);
    Ok(())
}

/// The statement's case exists (checked by `apply`), and is not closed.
fn open_case(view: &(impl IndexRead + ?Sized), c: &Candidate<'_>) -> Result<Option<CaseRecord>, Refusal> {
    if c.statement.case_id.is_empty() {
        return Err(Refusal::MissingField("case_id"));
    }
    let case = case_record(view, &c.statement.case_id)?;
    if let Some(seq) = case.as_ref().and_then(|r| r.closed_seq) {
        return Err(Refusal::CaseClosed { case_id: c.statement.case_id.clone(), seq });
    }
    Ok(case)
}

fn case_event(
    c: &Candidate<'_>,
    case: Option<CaseRecord>,
    stage: CaseStage,
    reference: &str,
    awards: &[crate::wire::Award],
    out: &mut Outcome,
) -> Result<(), Refusal> {
    let mut case = case.ok_or_else(|| Refusal::UnknownCase(c.statement.case_id.clone()))?;
    if !reference.is_empty() {
        text("reference", reference)?;
    }
    if stage != CaseStage::Judgment && !awards.is_empty() {
        return Err(Refusal::InvalidValue("only a judgment carries awards".into()));
    }
    for a in awards {
        text("head", &a.head)?;
        text("designated_use", &a.designated_use)?;
        if a.amount_fen == 0 {
            return Err(Refusal::InvalidValue("an award is a positive amount of fen".into()));
        }
    }
    match stage {
        // A judgment may also dismiss: no award is fine.
        CaseStage::Judgment => {
            case.judgment_seq.get_or_insert(c.seq);
        }
        CaseStage::Closed => case.closed_seq = Some(c.seq),
        _ => {}
    }
    out.writes.push(IndexWrite { ns: Ns::Case, key: c.statement.case_id.as_bytes().to_vec(), value: rec(&case) });
    Ok(())
}

/// A receiver is an enrolled key, authorised now to receive custody, of a
/// different person than the one handing over.
fn check_receiver(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    me: &KeyRecord,
    to: &PublicKey,
) -> Result<(), Refusal> {
    let r =
        key_record(view, to)?.ok_or_else(|| Refusal::InvalidReceiver("the receiver's key is not enrolled".into()))?;
    check_authority(&r, Kind::CustodyReceived, c.recorded_at_ms)
        .map_err(|e| Refusal::InvalidReceiver(format!("the receiver cannot receive custody: {e}")))?;
    if same_person(&r.holder, &me.holder) {
        return Err(Refusal::InvalidReceiver("a handover goes to another person".into()));
    }
    Ok(())
}

fn note_seal(r: &mut EvidenceRecord, seen: SealState, seq: u64) {
    if seen == SealState::Broken || (r.seal.is_some() && seen == SealState::None) {
        r.seal_broken_seq.get_or_insert(seq);
    }
}

/// A re-hash at a receipt or check. File items need one; a mismatch is
/// accepted (it is a fact to record) and flagged from then on.
fn check_rehash(r: &mut EvidenceRecord, digests: &[Digest], seq: u64) -> Result<(), Refusal> {
    if digests.is_empty() {
        if r.physical {
            return Ok(());
        }
        return Err(Refusal::MissingField("digests"));
    }
    check_digests(digests, true)?;
    if !rehash_matches(&r.digests, digests) {
        r.rehash_mismatch_seq.get_or_insert(seq);
    }
    Ok(())
}

fn target_item(view: &(impl IndexRead + ?Sized), entry_hash: &Hash32) -> Result<Option<EvidenceRecord>, Refusal> {
    let Some(id) = view.get(Ns::EvidenceEntry, entry_hash)? else { return Ok(None) };
    let id = String::from_utf8(id).map_err(|_| super::BackendError("corrupt evidence entry index".into()))?;
    Ok(evidence_record(view, &id)?)
}

/// `Endorsed` in capacity `second-collector` of an `EvidenceRegistered`:
/// the second person named among the collectors confirms the collection.
pub(super) fn endorse_as_second_collector(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    me: &KeyRecord,
    entry_hash: &Hash32,
    target: &EntryRef,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    if target.kind != Kind::EvidenceRegistered {
        return Err(Refusal::CapacityMismatch { capacity: "second-collector", kind: target.kind.as_str() });
    }
    if !Kind::EvidenceRegistered.allows(&me.roles) {
        return Err(Refusal::RoleNotAllowed { kind: "Endorsed as second-collector", roles: roles_str(&me.roles) });
    }
    let Some(mut r) = target_item(view, entry_hash)? else {
        return Err(Refusal::UnknownEvidence("(the endorsed registration)".into()));
    };
    if !r.collectors.iter().skip(1).any(|n| same_person(n, &me.holder)) {
        return Err(Refusal::NotACollector(r.evidence_id));
    }
    if r.second_collector_seq.is_none() {
        r.second_collector_seq = Some(c.seq);
        put(&r, out);
    }
    Ok(())
}

/// `Endorsed` in capacity `approver`: an approver's approval. Of a `Sealed`
/// entry that is the item's current seal, it is what an unsealing names.
pub(super) fn endorse_as_approver(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    me: &KeyRecord,
    entry_hash: &Hash32,
    target: &EntryRef,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    if !me.roles.contains(&Role::Approver) {
        return Err(Refusal::RoleNotAllowed { kind: "Endorsed as approver", roles: roles_str(&me.roles) });
    }
    if target.kind == Kind::Sealed {
        if let Some(mut r) = target_item(view, entry_hash)? {
            if r.seal == Some(*entry_hash) && r.seal_approval.is_none() {
                r.seal_approval = Some((c.entry_hash, c.statement.author));
                put(&r, out);
            }
        }
    }
    Ok(())
}

/// Decode a stored evidence record (for readers outside the rules).
pub fn decode_record(bytes: &[u8]) -> Result<EvidenceRecord, super::BackendError> {
    unrec(Ns::Evidence, bytes)
}
