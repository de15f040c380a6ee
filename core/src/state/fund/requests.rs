//! Disbursement requests: the reservation, the approval stages, and the
//! one settlement (payment or void). Part of the fund rules (`super`).

use crate::names::same_person;
use crate::wire::AccountKind;

use super::super::index::{
    fund_case_record, rec, request_record, Approval, IndexRead, IndexWrite, KeyRecord, MovementKind, Ns, RequestRecord,
    RequestStatus,
};
use super::super::{Candidate, Outcome, Refusal};
use super::{
    account, bank_ref_shape, book, case_account, claim_bank_ref, id, kind_is, movement_of, positive, same_case, text,
    MANAGED,
};

fn record(view: &(impl IndexRead + ?Sized), request_id: &str) -> Result<RequestRecord, Refusal> {
    request_record(view, request_id)?.ok_or_else(|| Refusal::UnknownRequest(request_id.to_string()))
}

fn put_request(r: &RequestRecord, out: &mut Outcome) {
    out.writes.push(IndexWrite { ns: Ns::Request, key: r.request_id.as_bytes().to_vec(), value: rec(r) });
}

#[allow(clippy::too_many_arguments)]
pub(super) fn request(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    me: &KeyRecord,
    request_id: &str,
    from: &str,
    to: &str,
    amount_fen: u64,
    purpose: &str,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    id("request_id", request_id)?;
    positive(amount_fen)?;
    text("purpose", purpose)?;
    if request_record(view, request_id)?.is_some() {
        return Err(Refusal::RequestExists(request_id.to_string()));
    }
    let mut source = account(view, from)?;
    let mut payee = account(view, to)?;
    kind_is(&source, MANAGED, "a disbursement goes from a fund or case account")?;
    kind_is(&payee, &[AccountKind::Payee], "a disbursement goes to a payee account")?;
    case_account(c, &source)?;
    let case_id = &c.statement.case_id;
    if !case_id.is_empty() {
        let uses = fund_case_record(view, case_id)?.map(|fc| fc.uses).unwrap_or_default();
        if !uses.is_empty() && !uses.iter().any(|u| u.designated_use == purpose) {
            let list: Vec<&str> = uses.iter().map(|u| u.designated_use.as_str()).collect();
            return Err(Refusal::PurposeMismatch {
                purpose: purpose.to_string(),
                case_id: case_id.clone(),
                uses: list.join(", "),
            });
        }
    }
    let mut m = movement_of(c, MovementKind::Reserve, from, to);
    m.reserved_fen = amount_fen;
    m.request_id = request_id.to_string();
    book(c, m, &mut source, &mut payee, out)?;
    let stages = source.stages;
    let r = RequestRecord {
        request_id: request_id.to_string(),
        case_id: case_id.clone(),
        from: from.to_string(),
        to: to.to_string(),
        amount_fen,
        purpose: purpose.to_string(),
        requester: c.statement.author,
        requester_holder: me.holder.clone(),
        requested_seq: c.seq,
        requested_hash: c.entry_hash,
        stages,
        approvals: Vec::new(),
        rejection: None,
        status: if stages == 0 { RequestStatus::Approved } else { RequestStatus::Pending },
        approved_fen: if stages == 0 { amount_fen } else { 0 },
        paid_fen: 0,
        settled_seq: None,
        settled_hash: None,
        settled_by: None,
        settled_by_holder: String::new(),
    };
    put_request(&r, out);
    out.created.push(("request_id", request_id.to_string()));
    Ok(())
}

/// One stage's approval or rejection.
pub(super) fn decide(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    me: &KeyRecord,
    request_id: &str,
    stage: u8,
    reject: bool,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    let mut r = record(view, request_id)?;
    same_case(c, || format!("request {request_id:?}"), &r.case_id)?;
    if let Some(seq) = r.settled_seq {
        return Err(Refusal::RequestSettled { request_id: r.request_id, seq });
    }
    if let Some(rej) = &r.rejection {
        return Err(Refusal::RequestRejected { request_id: r.request_id, stage: rej.stage });
    }
    let next = r.approvals.len() + 1;
    if usize::from(stage) != next || stage > r.stages {
        return Err(Refusal::StageOutOfOrder {
            request_id: r.request_id,
            next: next as u32,
            stages: r.stages,
            got: stage,
        });
    }
    let author = c.statement.author;
    if author == r.requester || same_person(&me.holder, &r.requester_holder) {
        return Err(Refusal::SelfApproval(r.request_id));
    }
    if r.approvals.iter().any(|a| a.key == author || same_person(&a.holder, &me.holder)) {
        return Err(Refusal::ApproverRepeated { request_id: r.request_id, stage });
    }
    let a = Approval { stage, key: author, holder: me.holder.clone(), seq: c.seq };
    if reject {
        r.rejection = Some(a);
        r.status = RequestStatus::Rejected;
    } else {
        r.approvals.push(a);
        if r.approvals.len() == usize::from(r.stages) {
            r.status = RequestStatus::Approved;
            r.approved_fen = r.amount_fen;
        }
    }
    put_request(&r, out);
    Ok(())
}

pub(super) fn pay(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    me: &KeyRecord,
    request_id: &str,
    amount_fen: u64,
    bank_ref: &str,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    positive(amount_fen)?;
    bank_ref_shape(bank_ref)?;
    let mut r = record(view, request_id)?;
    same_case(c, || format!("request {request_id:?}"), &r.case_id)?;
    if let Some(seq) = r.settled_seq {
        return Err(Refusal::RequestSettled { request_id: r.request_id, seq });
    }
    if let Some(rej) = &r.rejection {
        return Err(Refusal::RequestRejected { request_id: r.request_id, stage: rej.stage });
    }
    if r.status != RequestStatus::Approved {
        return Err(Refusal::NotApproved { request_id: r.request_id, approved: r.approvals.len(), stages: r.stages });
    }
    if amount_fen > r.approved_fen {
        return Err(Refusal::AmountExceedsApproved {
            request_id: r.request_id,
            amount_fen,
            approved_fen: r.approved_fen,
        });
    }
    let author = c.statement.author;
    if r.approvals.iter().any(|a| a.key == author || same_person(&a.holder, &me.holder)) {
        return Err(Refusal::ApproverCannotPay(r.request_id));
    }
    claim_bank_ref(view, c, &r.from, bank_ref, out)?;
    settle(view, c, me, &mut r, amount_fen, bank_ref, out)
}

/// Post `paid_fen` of the reservation (0: void) and release all of it.
fn settle(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    me: &KeyRecord,
    r: &mut RequestRecord,
    paid_fen: u64,
    bank_ref: &str,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    let mut source = account(view, &r.from)?;
    let mut payee = account(view, &r.to)?;
    let kind = if paid_fen > 0 { MovementKind::Post } else { MovementKind::Release };
    let mut m = movement_of(c, kind, &r.from, &r.to);
    m.case_id = r.case_id.clone();
    m.posted_fen = paid_fen;
    m.released_fen = r.amount_fen;
    m.request_id = r.request_id.clone();
    m.bank_ref = bank_ref.to_string();
    book(c, m, &mut source, &mut payee, out)?;
    r.status = if paid_fen > 0 { RequestStatus::Paid } else { RequestStatus::Voided };
    r.paid_fen = paid_fen;
    r.settled_seq = Some(c.seq);
    r.settled_hash = Some(c.entry_hash);
    r.settled_by = Some(c.statement.author);
    r.settled_by_holder = me.holder.clone();
    put_request(r, out);
    Ok(())
}

/// Release the whole reservation without payment.
pub(super) fn void(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    me: &KeyRecord,
    request_id: &str,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    let mut r = record(view, request_id)?;
    same_case(c, || format!("request {request_id:?}"), &r.case_id)?;
    if let Some(seq) = r.settled_seq {
        return Err(Refusal::RequestSettled { request_id: r.request_id, seq });
    }
    settle(view, c, me, &mut r, 0, "", out)
}
