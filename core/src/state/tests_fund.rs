//! The fund rules, as scripts: every expected balance below is computed by
//! hand in the comments beside it, from `schema/fund.md`, never by the code
//! under test.

use ed25519_dalek::SigningKey;

use super::tests::{endorse, key, Script};
use super::*;
use crate::digest::{Digest, DigestAlg};
use crate::fund_audit::{audit, AuditReport};
use crate::wire::{AccountKind, Award, CaseStage};

pub(super) const CASE: &str = "（2026）京04民初9号";

pub(super) struct Team {
    pub(super) s: Script,
    pub(super) officer: SigningKey,
    pub(super) pros: SigningKey,
    pub(super) fin: SigningKey,
    pub(super) appr: SigningKey,
    pub(super) rev: SigningKey,
    pub(super) liaison: SigningKey,
    pub(super) publisher: SigningKey,
    pub(super) auditor: SigningKey,
}

pub(super) fn team() -> Team {
    let officer = key(1);
    let mut s = Script::new(&officer);
    let people = [
        (key(2), "Li Si", Role::Prosecutor),
        (key(3), "Qian Qi", Role::Finance),
        (key(5), "Sun Ba", Role::Approver),
        (key(6), "Wu Shi", Role::FinanceReviewer),
        (key(7), "Zheng Yi", Role::CourtLiaison),
        (key(8), "Feng Er", Role::Publisher),
        (key(9), "Chen San", Role::Auditor),
    ];
    for (k, holder, role) in &people {
        s.enrol(&officer, k, holder, vec![*role]);
    }
    let [pros, fin, appr, rev, liaison, publisher, auditor] = people.map(|p| p.0);
    s.ok(&pros, CASE, Body::CaseOpened { title: "river".into(), area: "ecology".into(), unit: "u".into() });
    Team { s, officer, pros, fin, appr, rev, liaison, publisher, auditor }
}

pub(super) fn open(id: &str, kind: AccountKind, no_overdraft: bool, stages: u8) -> Body {
    Body::AccountOpened {
        account_id: id.into(),
        account_kind: kind,
        name: format!("{id} account"),
        no_overdraft,
        stages,
    }
}

pub(super) fn receipt(to: &str, from: &str, amount_fen: u64, bank_ref: &str) -> Body {
    Body::FundReceipt { account_id: to.into(), from: from.into(), amount_fen, bank_ref: bank_ref.into() }
}

pub(super) fn remit(from: &str, to: &str, amount_fen: u64, bank_ref: &str) -> Body {
    Body::Remittance { from: from.into(), to: to.into(), amount_fen, bank_ref: bank_ref.into() }
}

pub(super) fn request(id: &str, from: &str, to: &str, amount_fen: u64, purpose: &str) -> Body {
    Body::DisbursementRequested {
        request_id: id.into(),
        from: from.into(),
        to: to.into(),
        amount_fen,
        purpose: purpose.into(),
        note: "".into(),
    }
}

pub(super) fn approve(id: &str, stage: u8) -> Body {
    Body::DisbursementApproved { request_id: id.into(), stage }
}

pub(super) fn reject(id: &str, stage: u8) -> Body {
    Body::DisbursementRejected { request_id: id.into(), stage, reason: "not for this use".into() }
}

pub(super) fn pay(id: &str, amount_fen: u64, bank_ref: &str) -> Body {
    Body::DisbursementPaid { request_id: id.into(), amount_fen, bank_ref: bank_ref.into() }
}

pub(super) fn void(id: &str) -> Body {
    Body::DisbursementVoided { request_id: id.into(), reason: "contract cancelled".into() }
}

pub(super) fn reversal(original: [u8; 32], amount_fen: u64) -> Body {
    Body::Reversal { original, amount_fen, reason: "bank returned the transfer".into() }
}

fn obligation(id: &str, payer: &str, amount_fen: u64, designated_use: &str, judgment: Option<[u8; 32]>) -> Body {
    Body::Obligation {
        obligation_id: id.into(),
        payer: payer.into(),
        amount_fen,
        designated_use: designated_use.into(),
        due_ms: 1_900_000_000_000,
        judgment,
    }
}

fn reconcile(id: &str, from: u64, to: u64, balance_fen: u64) -> Body {
    Body::Reconciled {
        account_id: id.into(),
        period_from_ms: from,
        period_to_ms: to,
        statement_digest: Digest { alg: DigestAlg::Sha256, value: vec![7; 32] },
        balance_fen,
    }
}

/// `(debits_posted, credits_posted, debits_pending, credits_pending)`.
pub(super) fn bal(s: &Script, id: &str) -> (u64, u64, u64, u64) {
    let b = account_record(&s.index, id).unwrap().unwrap().balance;
    (b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending)
}

fn req(s: &Script, id: &str) -> RequestRecord {
    request_record(&s.index, id).unwrap().unwrap()
}

fn codes(r: &AuditReport) -> Vec<&'static str> {
    let mut c: Vec<_> = r.violations.iter().map(|v| v.code).collect();
    c.sort();
    c.dedup();
    c
}

/// A case account C-7 (two stages, no overdraft), a payer, a payee and the
/// treasury, and a judgment with its obligation.
fn accounts(t: &mut Team) -> [u8; 32] {
    let fin = t.fin.clone();
    t.s.ok(&fin, CASE, open("C-7", AccountKind::Case, true, 2));
    t.s.ok(&fin, "", open("P-1", AccountKind::Payer, false, 0));
    t.s.ok(&fin, "", open("Y-1", AccountKind::Payee, false, 0));
    t.s.ok(&fin, "", open("T-1", AccountKind::Treasury, false, 0));
    let awards = vec![Award { head: "restoration".into(), amount_fen: 1_000_000, designated_use: "eco".into() }];
    let event = Body::CaseEvent {
        stage: CaseStage::Judgment,
        occurred_at_ms: 1,
        reference: "judgment".into(),
        note: "".into(),
        awards,
    };
    let judgment = t.s.ok(&t.pros, CASE, event);
    t.s.ok(&t.liaison, CASE, obligation("O-1", "P-1", 1_000_000, "eco", Some(judgment)));
    judgment
}

#[test]
fn judgment_receipts_two_stage_request_partial_payment_void_reversal_reconciliation() {
    let mut t = team();
    let judgment = accounts(&mut t);
    let fin = t.fin.clone();
    // A second obligation of the case: punitive damages for the treasury.
    t.s.ok(&t.pros, CASE, obligation("O-2", "P-1", 200_000, "treasury", None));
    assert_eq!(obligation_record(&t.s.index, "O-1").unwrap().unwrap().judgment, Some(judgment));
    let fc = fund_case_record(&t.s.index, CASE).unwrap().unwrap();
    assert_eq!(fc.ordered_fen, 1_200_000); // 1,000,000 + 200,000
    assert_eq!(fc.uses.iter().map(|u| u.designated_use.as_str()).collect::<Vec<_>>(), ["eco", "treasury"]);

    // Two receipts: 600,000 + 400,000 = 1,000,000 credited to C-7, debited to P-1.
    t.s.ok(&fin, CASE, receipt("C-7", "P-1", 600_000, "B-001"));
    let second = t.s.ok(&fin, CASE, receipt("C-7", "P-1", 400_000, "B-002"));
    assert_eq!(bal(&t.s, "C-7"), (0, 1_000_000, 0, 0));
    assert_eq!(bal(&t.s, "P-1"), (1_000_000, 0, 0, 0));

    // A request of 700,000 reserves it: available 1,000,000 − 700,000 = 300,000.
    let (_, out) = t.s.step(&t.pros, CASE, request("R-1", "C-7", "Y-1", 700_000, "eco")).unwrap();
    assert_eq!(out.created, [("request_id", "R-1".to_string())]);
    assert_eq!(bal(&t.s, "C-7"), (0, 1_000_000, 700_000, 0));
    assert_eq!(bal(&t.s, "Y-1"), (0, 0, 0, 700_000));
    assert_eq!(account_record(&t.s.index, "C-7").unwrap().unwrap().balance.available(), 300_000);
    assert_eq!(req(&t.s, "R-1").status, RequestStatus::Pending);
    t.s.ok(&t.appr, CASE, approve("R-1", 1));
    assert_eq!((req(&t.s, "R-1").status, req(&t.s, "R-1").approved_fen), (RequestStatus::Pending, 0));
    t.s.ok(&t.rev, CASE, approve("R-1", 2));
    assert_eq!((req(&t.s, "R-1").status, req(&t.s, "R-1").approved_fen), (RequestStatus::Approved, 700_000));

    // Partial payment of 650,000: posted 650,000, the other 50,000 released.
    let paid = t.s.ok(&fin, CASE, pay("R-1", 650_000, "B-003"));
    assert_eq!(bal(&t.s, "C-7"), (650_000, 1_000_000, 0, 0));
    assert_eq!(bal(&t.s, "Y-1"), (0, 650_000, 0, 0));
    let r = req(&t.s, "R-1");
    assert_eq!((r.status, r.paid_fen, r.settled_hash), (RequestStatus::Paid, 650_000, Some(paid)));

    // A second request of 200,000, approved once, then voided: all released.
    t.s.ok(&t.pros, CASE, request("R-2", "C-7", "Y-1", 200_000, "eco"));
    assert_eq!(bal(&t.s, "C-7"), (650_000, 1_000_000, 200_000, 0));
    t.s.ok(&t.appr, CASE, approve("R-2", 1));
    t.s.ok(&t.appr, CASE, void("R-2"));
    assert_eq!(bal(&t.s, "C-7"), (650_000, 1_000_000, 0, 0));
    assert_eq!(bal(&t.s, "Y-1"), (0, 650_000, 0, 0));
    assert_eq!(req(&t.s, "R-2").status, RequestStatus::Voided);

    // 100,000 of the second receipt goes back to the payer.
    t.s.ok(&fin, CASE, reversal(second, 100_000));
    assert_eq!(bal(&t.s, "C-7"), (750_000, 1_000_000, 0, 0));
    assert_eq!(bal(&t.s, "P-1"), (1_000_000, 100_000, 0, 0));
    assert_eq!(reversed_fen(&t.s.index, &second).unwrap(), 100_000);

    // 50,000 remitted to the treasury: C-7 posted 1,000,000 − 800,000 = 200,000.
    t.s.ok(&fin, CASE, remit("C-7", "T-1", 50_000, "B-004"));
    assert_eq!(bal(&t.s, "C-7"), (800_000, 1_000_000, 0, 0));
    assert_eq!(bal(&t.s, "T-1"), (0, 50_000, 0, 0));
    assert_eq!(account_record(&t.s.index, "C-7").unwrap().unwrap().balance.available(), 200_000);

    // The bank statement agrees: 200,000.
    let rec_hash = t.s.ok(&t.rev, CASE, reconcile("C-7", 1_000, 2_000, 200_000));
    let c7 = account_record(&t.s.index, "C-7").unwrap().unwrap();
    assert_eq!(c7.reconciled.map(|r| (r.period_to_ms, r.balance_fen)), Some((2_000, 200_000)));
    // Receipts 2, request 2, pay, void, reversal, remittance: 8 movements on C-7.
    assert_eq!(c7.movements, 8);

    // Σ debits posted 800,000 + 1,000,000 = Σ credits posted 1,000,000 + 100,000 + 650,000 + 50,000.
    let report = audit(&t.s.index);
    assert!(report.passed(), "{:?}", report.violations);
    // Every one of the 8 movements touches C-7.
    assert_eq!((report.accounts, report.requests, report.movements), (4, 2, 8));

    // A finance reviewer endorses the payment; disclosure; an audit finding.
    t.s.ok(&t.rev, CASE, endorse(paid, "finance-reviewer"));
    let publish = Body::Published {
        case_or_scope: CASE.into(),
        what: "receipts and payments of the case".into(),
        location: "https://example.org/disclosures/9".into(),
        notice_days: 30,
        report: vec![Digest { alg: DigestAlg::Blake3, value: vec![4; 32] }],
    };
    t.s.ok(&t.publisher, CASE, publish);
    let finding = Body::AuditFinding { scope: CASE.into(), finding: "agrees".into(), entries: vec![rec_hash, paid] };
    t.s.ok(&t.auditor, CASE, finding);
}

#[test]
fn account_and_obligation_refusals() {
    let mut t = team();
    accounts(&mut t);
    let fin = t.fin.clone();
    assert_eq!(t.s.refused(&fin, CASE, open("C-7", AccountKind::Case, true, 2)), "account_exists");
    assert_eq!(t.s.refused(&fin, "", open("F-9", AccountKind::Fund, true, 6)), "invalid_value");
    assert_eq!(t.s.refused(&fin, "", open("Y-9", AccountKind::Payee, false, 1)), "invalid_value");
    assert_eq!(t.s.refused(&fin, "", open("P-9", AccountKind::Payer, true, 0)), "invalid_value");
    assert_eq!(t.s.refused(&fin, "", open("C-9", AccountKind::Case, true, 1)), "missing_field");
    assert_eq!(t.s.refused(&fin, "", open("F 9", AccountKind::Fund, true, 1)), "invalid_value");
    assert_eq!(t.s.refused(&t.pros.clone(), "", open("F-9", AccountKind::Fund, true, 1)), "role_not_allowed");
    let pros = t.pros.clone();
    assert_eq!(t.s.refused(&pros, CASE, obligation("O-1", "P-1", 5, "eco", None)), "obligation_exists");
    assert_eq!(t.s.refused(&pros, CASE, obligation("O-9", "P-404", 5, "eco", None)), "unknown_account");
    assert_eq!(t.s.refused(&pros, CASE, obligation("O-9", "Y-1", 5, "eco", None)), "wrong_account_kind");
    assert_eq!(t.s.refused(&pros, CASE, obligation("O-9", "P-1", 0, "eco", None)), "zero_amount");
    assert_eq!(t.s.refused(&pros, "", obligation("O-9", "P-1", 5, "eco", None)), "missing_field");
    // The judgment must be a case event of this case, at or after its judgment.
    let opened = t.s.ok(&pros, "C-2", Body::CaseOpened { title: "t".into(), area: "a".into(), unit: "u".into() });
    assert_eq!(t.s.refused(&pros, CASE, obligation("O-9", "P-1", 5, "eco", Some(opened))), "not_a_judgment");
    let notice = Body::CaseEvent {
        stage: CaseStage::PreSuitNotice,
        occurred_at_ms: 1,
        reference: "n".into(),
        note: "".into(),
        awards: vec![],
    };
    let other = t.s.ok(&pros, "C-2", notice);
    assert_eq!(t.s.refused(&pros, CASE, obligation("O-9", "P-1", 5, "eco", Some(other))), "not_a_judgment");
    assert_eq!(t.s.refused(&pros, "C-2", obligation("O-9", "P-1", 5, "eco", Some(other))), "not_a_judgment");
    assert_eq!(t.s.refused(&pros, CASE, obligation("O-9", "P-1", 5, "eco", Some([9; 32]))), "unknown_entry");
    // Overflowing the case's ordered total.
    assert_eq!(t.s.refused(&pros, CASE, obligation("O-9", "P-1", u64::MAX, "eco", None)), "amount_overflow");
}

#[test]
fn receipt_remittance_and_reversal_refusals() {
    let mut t = team();
    accounts(&mut t);
    let fin = t.fin.clone();
    t.s.ok(&fin, "", open("F-1", AccountKind::Fund, false, 0));
    assert_eq!(t.s.refused(&fin, CASE, receipt("C-7", "P-1", 0, "")), "zero_amount");
    assert_eq!(t.s.refused(&fin, CASE, receipt("C-404", "P-1", 5, "")), "unknown_account");
    assert_eq!(t.s.refused(&fin, CASE, receipt("Y-1", "P-1", 5, "")), "wrong_account_kind");
    assert_eq!(t.s.refused(&fin, CASE, receipt("C-7", "Y-1", 5, "")), "wrong_account_kind");
    // A case account is acted on under its own case only.
    assert_eq!(t.s.refused(&fin, "", receipt("C-7", "P-1", 5, "")), "fund_case_mismatch");
    let r1 = t.s.ok(&fin, CASE, receipt("C-7", "P-1", 300, "B-1"));
    assert_eq!(t.s.refused(&fin, CASE, receipt("C-7", "P-1", 300, "B-1")), "duplicate_bank_ref");
    // The same reference on another account, or no reference, is fine.
    t.s.ok(&fin, "", receipt("F-1", "P-1", 300, "B-1"));
    t.s.ok(&fin, CASE, receipt("C-7", "P-1", 1, ""));
    t.s.ok(&fin, CASE, receipt("C-7", "P-1", 1, ""));
    // C-7: credits 302. Remittances: to a treasury, no overdraft.
    assert_eq!(t.s.refused(&fin, CASE, remit("C-7", "Y-1", 5, "")), "wrong_account_kind");
    assert_eq!(t.s.refused(&fin, CASE, remit("C-7", "T-1", 303, "")), "insufficient_funds");
    assert_eq!(t.s.refused(&fin, CASE, remit("C-7", "T-1", 10, "B-1")), "duplicate_bank_ref");
    let m = t.s.ok(&fin, CASE, remit("C-7", "T-1", 2, "R-1"));
    // Reversals: of money-moving entries, up to what is left.
    assert_eq!(t.s.refused(&fin, CASE, reversal(r1, 301)), "reversal_exceeds_original");
    t.s.ok(&fin, CASE, reversal(r1, 200));
    assert_eq!(t.s.refused(&fin, CASE, reversal(r1, 101)), "reversal_exceeds_original");
    assert_eq!(t.s.refused(&fin, "", reversal(r1, 1)), "fund_case_mismatch");
    t.s.ok(&fin, CASE, reversal(m, 2));
    let opened = account_record(&t.s.index, "C-7").unwrap().unwrap().opened_hash;
    assert_eq!(t.s.refused(&fin, CASE, reversal(opened, 1)), "not_reversible");
    assert_eq!(t.s.refused(&fin, CASE, reversal([3; 32], 1)), "unknown_entry");
    // The last 100 of the receipt. C-7: credits 300 + 1 + 1 + 2 (remittance
    // reversed) = 304; debits 2 (remittance) + 200 + 100 = 302.
    t.s.ok(&fin, CASE, reversal(r1, 100));
    assert_eq!(bal(&t.s, "C-7"), (302, 304, 0, 0));
    // P-1 was debited 602 (300 + 300 + 1 + 1): u64::MAX more overflows.
    assert_eq!(t.s.refused(&fin, "", receipt("F-1", "P-1", u64::MAX, "")), "amount_overflow");
    assert!(audit(&t.s.index).passed());
}

#[test]
fn reversal_of_a_receipt_already_spent_is_an_overdraft() {
    let mut t = team();
    accounts(&mut t);
    let fin = t.fin.clone();
    let r1 = t.s.ok(&fin, CASE, receipt("C-7", "P-1", 500, ""));
    t.s.ok(&t.pros, CASE, request("R-1", "C-7", "Y-1", 400, "eco"));
    // Available 500 − 400 reserved = 100: reversing 101 would overdraw it.
    assert_eq!(t.s.refused(&fin, CASE, reversal(r1, 101)), "insufficient_funds");
    t.s.ok(&fin, CASE, reversal(r1, 100));
    assert_eq!(bal(&t.s, "C-7"), (100, 500, 400, 0));
}

#[test]
fn request_and_approval_refusals() {
    let mut t = team();
    accounts(&mut t);
    let (fin, pros, appr, rev) = (t.fin.clone(), t.pros.clone(), t.appr.clone(), t.rev.clone());
    t.s.ok(&fin, CASE, receipt("C-7", "P-1", 1_000, ""));
    assert_eq!(t.s.refused(&pros, CASE, request("R-1", "C-7", "Y-1", 1_001, "eco")), "insufficient_funds");
    assert_eq!(t.s.refused(&pros, CASE, request("R-1", "C-7", "Y-1", 100, "parks")), "purpose_mismatch");
    assert_eq!(t.s.refused(&pros, CASE, request("R-1", "C-7", "T-1", 100, "eco")), "wrong_account_kind");
    assert_eq!(t.s.refused(&pros, CASE, request("R-1", "P-1", "Y-1", 100, "eco")), "wrong_account_kind");
    assert_eq!(t.s.refused(&pros, CASE, request("R-1", "C-7", "Y-1", 0, "eco")), "zero_amount");
    t.s.ok(&pros, CASE, request("R-1", "C-7", "Y-1", 600, "eco"));
    assert_eq!(t.s.refused(&pros, CASE, request("R-1", "C-7", "Y-1", 100, "eco")), "request_exists");
    // 1,000 − 600 reserved = 400 available.
    assert_eq!(t.s.refused(&pros, CASE, request("R-2", "C-7", "Y-1", 401, "eco")), "insufficient_funds");
    assert_eq!(t.s.refused(&appr, CASE, approve("R-404", 1)), "unknown_request");
    assert_eq!(t.s.refused(&appr, "", approve("R-1", 1)), "fund_case_mismatch");
    assert_eq!(t.s.refused(&appr, CASE, approve("R-1", 2)), "stage_out_of_order");
    assert_eq!(t.s.refused(&appr, CASE, approve("R-1", 0)), "stage_out_of_order");
    assert_eq!(t.s.refused(&fin, CASE, approve("R-1", 1)), "role_not_allowed");
    assert_eq!(t.s.refused(&fin, CASE, pay("R-1", 600, "")), "not_approved");
    // The requester's other key (same person, another role) cannot approve.
    let twin = key(20);
    t.s.enrol(&t.officer.clone(), &twin, "li  SI", vec![Role::Approver]);
    assert_eq!(t.s.refused(&twin, CASE, approve("R-1", 1)), "self_approval");
    t.s.ok(&appr, CASE, approve("R-1", 1));
    // Stage 2 by the same approver, or by another key of the same person.
    assert_eq!(t.s.refused(&appr, CASE, approve("R-1", 2)), "approver_repeated");
    let appr_twin = key(21);
    t.s.enrol(&t.officer.clone(), &appr_twin, "Sun Ba", vec![Role::FinanceReviewer, Role::Finance]);
    assert_eq!(t.s.refused(&appr_twin, CASE, approve("R-1", 2)), "approver_repeated");
    t.s.ok(&rev, CASE, approve("R-1", 2));
    assert_eq!(t.s.refused(&rev, CASE, approve("R-1", 3)), "stage_out_of_order");
    // An approver (by person, through another key) never pays.
    assert_eq!(t.s.refused(&appr_twin, CASE, pay("R-1", 600, "")), "approver_cannot_pay");
    assert_eq!(t.s.refused(&fin, CASE, pay("R-1", 601, "")), "amount_exceeds_approved");
    assert_eq!(t.s.refused(&fin, CASE, pay("R-1", 0, "")), "zero_amount");
    t.s.ok(&fin, CASE, pay("R-1", 600, "W-1"));
    assert_eq!(t.s.refused(&fin, CASE, pay("R-1", 1, "")), "request_settled");
    assert_eq!(t.s.refused(&fin, CASE, void("R-1")), "request_settled");
    assert_eq!(t.s.refused(&rev, CASE, reject("R-1", 3)), "request_settled");
    assert!(audit(&t.s.index).passed());
}

#[test]
fn a_rejection_ends_the_request_and_only_a_void_releases_it() {
    let mut t = team();
    accounts(&mut t);
    let (fin, pros, appr, rev) = (t.fin.clone(), t.pros.clone(), t.appr.clone(), t.rev.clone());
    t.s.ok(&fin, CASE, receipt("C-7", "P-1", 1_000, ""));
    t.s.ok(&pros, CASE, request("R-1", "C-7", "Y-1", 700, "eco"));
    t.s.ok(&appr, CASE, approve("R-1", 1));
    assert_eq!(t.s.refused(&rev, CASE, reject("R-1", 1)), "stage_out_of_order");
    assert_eq!(t.s.refused(&pros, CASE, reject("R-1", 2)), "role_not_allowed");
    t.s.ok(&rev, CASE, reject("R-1", 2));
    assert_eq!(req(&t.s, "R-1").status, RequestStatus::Rejected);
    // Still reserved until the void.
    assert_eq!(bal(&t.s, "C-7"), (0, 1_000, 700, 0));
    assert_eq!(t.s.refused(&rev, CASE, approve("R-1", 2)), "request_rejected");
    assert_eq!(t.s.refused(&fin, CASE, pay("R-1", 700, "")), "request_rejected");
    t.s.ok(&fin, CASE, void("R-1"));
    assert_eq!(bal(&t.s, "C-7"), (0, 1_000, 0, 0));
    assert_eq!(bal(&t.s, "Y-1"), (0, 0, 0, 0));
    assert_eq!(req(&t.s, "R-1").status, RequestStatus::Voided);
    assert!(audit(&t.s.index).passed());
}

#[test]
fn bank_refs_of_payments_are_unique_per_paying_account() {
    let mut t = team();
    accounts(&mut t);
    let fin = t.fin.clone();
    t.s.ok(&fin, "", open("F-1", AccountKind::Fund, true, 0));
    t.s.ok(&fin, "", receipt("F-1", "P-1", 1_000, "IN-1"));
    // No stages: approved at once; no case: no designated use to match.
    t.s.ok(&fin, "", request("R-1", "F-1", "Y-1", 100, "anything"));
    t.s.ok(&fin, "", request("R-2", "F-1", "Y-1", 100, "anything"));
    assert_eq!(req(&t.s, "R-1").status, RequestStatus::Approved);
    t.s.ok(&fin, "", pay("R-1", 100, "OUT-1"));
    assert_eq!(t.s.refused(&fin, "", pay("R-2", 100, "OUT-1")), "duplicate_bank_ref");
    assert_eq!(t.s.refused(&fin, "", pay("R-2", 100, "IN-1")), "duplicate_bank_ref");
    t.s.ok(&fin, "", pay("R-2", 100, "OUT-2"));
    assert_eq!(bal(&t.s, "F-1"), (200, 1_000, 0, 0));
}

#[test]
fn reconciliation_refusals_and_finance_reviewer_endorsements() {
    let mut t = team();
    accounts(&mut t);
    let (fin, rev, appr) = (t.fin.clone(), t.rev.clone(), t.appr.clone());
    let r1 = t.s.ok(&fin, CASE, receipt("C-7", "P-1", 1_000, ""));
    assert_eq!(t.s.refused(&rev, CASE, reconcile("C-7", 0, 10, 999)), "balance_mismatch");
    assert_eq!(t.s.refused(&rev, CASE, reconcile("C-7", 10, 0, 1_000)), "invalid_value");
    assert_eq!(t.s.refused(&rev, CASE, reconcile("P-1", 0, 10, 1_000)), "wrong_account_kind");
    let mut bad = reconcile("C-7", 0, 10, 1_000);
    if let Body::Reconciled { statement_digest, .. } = &mut bad {
        statement_digest.value.pop();
    }
    assert_eq!(t.s.refused(&rev, CASE, bad), "invalid_digest");
    t.s.ok(&rev, CASE, reconcile("C-7", 0, 10, 1_000));
    assert_eq!(t.s.refused(&rev, CASE, reconcile("C-7", 9, 20, 1_000)), "invalid_value");
    t.s.ok(&fin, CASE, reconcile("C-7", 10, 20, 1_000));
    // finance-reviewer endorsements: by that role, of finance records.
    assert_eq!(t.s.refused(&appr, CASE, endorse(r1, "finance-reviewer")), "role_not_allowed");
    let case_hash = {
        let c = Body::CaseOpened { title: "t".into(), area: "a".into(), unit: "u".into() };
        t.s.ok(&t.pros.clone(), "C-3", c)
    };
    assert_eq!(t.s.refused(&rev, "", endorse(case_hash, "finance-reviewer")), "capacity_mismatch");
    t.s.ok(&rev, CASE, endorse(r1, "finance-reviewer"));
}

#[test]
fn disclosure_and_findings_need_their_fields() {
    let mut t = team();
    let (publisher, auditor) = (t.publisher.clone(), t.auditor.clone());
    let publish = |what: &str| Body::Published {
        case_or_scope: "fund 2026Q1".into(),
        what: what.into(),
        location: "notice board".into(),
        notice_days: 0,
        report: vec![],
    };
    assert_eq!(t.s.refused(&publisher, "", publish(" ")), "missing_field");
    assert_eq!(t.s.refused(&t.fin.clone(), "", publish("w")), "role_not_allowed");
    t.s.ok(&publisher, "", publish("quarterly report"));
    let finding = |entries| Body::AuditFinding { scope: "fund".into(), finding: "f".into(), entries };
    assert_eq!(t.s.refused(&auditor, "", finding(vec![[1; 32]])), "unknown_entry");
    t.s.ok(&auditor, "", finding(vec![]));
}

/// A finished scenario, then its index edited offline, one field at a time:
/// the audit names each broken invariant.
#[test]
fn the_audit_catches_every_kind_of_edited_record() {
    let mut t = team();
    accounts(&mut t);
    let (fin, pros, appr, rev) = (t.fin.clone(), t.pros.clone(), t.appr.clone(), t.rev.clone());
    let r1 = t.s.ok(&fin, CASE, receipt("C-7", "P-1", 1_000, ""));
    t.s.ok(&pros, CASE, request("R-1", "C-7", "Y-1", 600, "eco"));
    t.s.ok(&appr, CASE, approve("R-1", 1));
    t.s.ok(&rev, CASE, approve("R-1", 2));
    t.s.ok(&fin, CASE, pay("R-1", 500, ""));
    t.s.ok(&fin, CASE, reversal(r1, 100));
    assert!(audit(&t.s.index).passed());

    let edit = |f: &dyn Fn(&mut MemIndex)| {
        let mut idx = t.s.index.clone();
        f(&mut idx);
        codes(&audit(&idx))
    };
    let put = |idx: &mut MemIndex, ns: Ns, key: &[u8], value: Vec<u8>| {
        idx.put_all(vec![IndexWrite { ns, key: key.to_vec(), value }]);
    };
    let account_edit = |f: fn(&mut AccountRecord)| {
        move |idx: &mut MemIndex| {
            let mut a = account_record(idx, "C-7").unwrap().unwrap();
            f(&mut a);
            put(idx, Ns::Account, b"C-7", index::rec(&a));
        }
    };
    let request_edit = |f: fn(&mut RequestRecord)| {
        move |idx: &mut MemIndex| {
            let mut r = request_record(idx, "R-1").unwrap().unwrap();
            f(&mut r);
            put(idx, Ns::Request, b"R-1", index::rec(&r));
        }
    };
    // One more fen credited: unbalanced, and not what the movements say.
    assert_eq!(edit(&account_edit(|a| a.balance.credits_posted += 1)), ["account_mismatch", "ledger_unbalanced"]);
    // C-7 (1,000 in, 500 + 100 out) debited 401 more: 1 fen below zero.
    assert_eq!(
        edit(&account_edit(|a| a.balance.debits_posted += 401)),
        ["account_mismatch", "account_overdrawn", "ledger_unbalanced"]
    );
    assert_eq!(edit(&request_edit(|r| r.paid_fen = 601)), ["request_overpaid"]);
    assert_eq!(edit(&request_edit(|r| r.approved_fen = 700)), ["request_overpaid"]);
    assert_eq!(edit(&request_edit(|r| r.approvals.truncate(1))), ["approval_missing"]);
    assert_eq!(edit(&request_edit(|r| r.approvals[1].holder = "LI SI".into())), ["approval_not_distinct"]);
    assert_eq!(edit(&request_edit(|r| r.settled_by_holder = "Sun Ba".into())), ["approval_not_distinct"]);
    assert_eq!(edit(&request_edit(|r| r.purpose = "parks".into())), ["designated_use_violated"]);
    assert_eq!(
        edit(&|idx: &mut MemIndex| {
            let mut m = movement(idx, &r1).unwrap().unwrap();
            m.kind = MovementKind::Release;
            m.posted_fen = 0;
            m.request_id = "R-1".into();
            m.seq = 999;
            m.entry_hash = [7; 32];
            put(idx, Ns::Movement, &[7; 32], index::rec(&m));
        }),
        ["request_settled_twice"]
    );
    assert_eq!(edit(&|idx| put(idx, Ns::Reversed, &r1, 2_000u64.to_be_bytes().to_vec())), ["over_reversed"]);
    assert_eq!(edit(&|idx| put(idx, Ns::Account, b"X", vec![1, 2, 3])), ["fund_record_malformed"]);
}

#[test]
fn fund_bodies_round_trip_through_json_with_hex_hashes() {
    let bodies = [
        obligation("O-1", "P-1", 5, "eco", Some([0xab; 32])),
        obligation("O-2", "P-1", 5, "eco", None),
        Body::AuditFinding { scope: "s".into(), finding: "f".into(), entries: vec![[1; 32], [2; 32]] },
        open("C-7", AccountKind::Case, true, 2),
    ];
    for b in bodies {
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(serde_json::from_value::<Body>(v.clone()).unwrap(), b, "{v}");
    }
    let v = serde_json::to_value(obligation("O-1", "P-1", 5, "eco", Some([0xab; 32]))).unwrap();
    assert_eq!(v["judgment"], "ab".repeat(32));
    let v = serde_json::to_value(open("C-7", AccountKind::Case, true, 2)).unwrap();
    assert_eq!((v["kind"].as_str(), v["account_kind"].as_str()), (Some("AccountOpened"), Some("case")));
    // Absent optional fields default; a short hash is refused.
    let o = serde_json::json!({"kind": "Obligation", "obligation_id": "O", "payer": "P", "amount_fen": 1,
        "designated_use": "u", "due_ms": 0});
    assert!(matches!(serde_json::from_value::<Body>(o).unwrap(), Body::Obligation { judgment: None, .. }));
    let bad = serde_json::json!({"kind": "AuditFinding", "scope": "s", "finding": "f", "entries": ["abcd"]});
    assert!(serde_json::from_value::<Body>(bad).is_err());
    assert_eq!("treasury".parse::<AccountKind>(), Ok(AccountKind::Treasury));
    assert!("Fund".parse::<AccountKind>().is_err());
}
