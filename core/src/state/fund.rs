//! Damages-fund rules (DESIGN §5, fund side; `schema/fund.md`).
//!
//! Double entry after TigerBeetle: every account record holds debits and
//! credits, posted and pending. A receipt, a remittance and a reversal post
//! a transfer; a disbursement request reserves one (pending), which is then
//! posted (paid, at most the approved amount) or released (voided), once.
//! One record per account and per request holds what the rules need, so
//! each rule is one look-up; every money-moving entry also leaves a
//! [`Movement`] (by entry hash, and under each account it touches, for
//! statements).
//!
//! Checks run in one order for every kind (`schema/fund.md`, "Order of
//! checks"): the fields' shape, the records named, account kinds and the
//! case, the request's state, the people, and last the money.

use crate::authority::{Kind, Role};
use crate::digest::Digest;
use crate::names;
use crate::wire::{AccountKind, Body, Hash32};

use super::index::{
    account_key, account_record, bank_ref_seq, case_entries_key, case_record, entry_ref, fund_case_record, movement,
    obligation_record, rec, reversed_fen, AccountBalance, AccountRecord, BackendError, DesignatedUse, EntryRef,
    IndexRead, IndexWrite, KeyRecord, Movement, MovementKind, Ns, ObligationRecord, Reconciliation,
};
use super::{roles_str, Candidate, Outcome, Refusal};

/// The most approval stages an account may require.
pub const MAX_STAGES: u8 = 5;

mod requests;

// ---- small helpers: field shapes and arithmetic

/// An id: a checked text without white space.
fn id(field: &'static str, s: &str) -> Result<(), Refusal> {
    names::check_text(field, s, false)?;
    if s.chars().any(char::is_whitespace) {
        return Err(Refusal::InvalidValue(format!("{field} has no spaces")));
    }
    Ok(())
}

/// A short text: a name, a purpose, a reference (no invisible characters).
fn text(field: &'static str, s: &str) -> Result<(), Refusal> {
    names::check_text(field, s, false).map_err(Refusal::from)
}

/// Free prose (a reason, a finding): anything but blank.
fn prose(field: &'static str, s: &str) -> Result<(), Refusal> {
    if s.trim().is_empty() {
        return Err(Refusal::MissingField(field));
    }
    Ok(())
}

fn positive(amount_fen: u64) -> Result<u64, Refusal> {
    if amount_fen == 0 {
        return Err(Refusal::ZeroAmount);
    }
    Ok(amount_fen)
}

fn add(a: u64, b: u64, what: &'static str) -> Result<u64, Refusal> {
    a.checked_add(b).ok_or(Refusal::AmountOverflow(what))
}

/// Subtraction that only a corrupt index could make negative.
fn sub(a: u64, b: u64, what: &'static str) -> Result<u64, Refusal> {
    a.checked_sub(b).ok_or_else(|| Refusal::Backend(BackendError(format!("fund records inconsistent: {what} < 0"))))
}

fn digest_ok(d: &Digest) -> Result<(), Refusal> {
    if d.value.len() != d.alg.output_len() {
        return Err(Refusal::InvalidDigest(format!("{} digest must be {} bytes", d.alg, d.alg.output_len())));
    }
    if d.alg.is_weak() {
        return Err(Refusal::InvalidDigest("use BLAKE3, SHA-256 or SM3, not MD5 or SHA-1".into()));
    }
    Ok(())
}

// ---- records

fn account(view: &(impl IndexRead + ?Sized), account_id: &str) -> Result<AccountRecord, Refusal> {
    account_record(view, account_id)?.ok_or_else(|| Refusal::UnknownAccount(account_id.to_string()))
}

fn kind_is(a: &AccountRecord, ok: &[AccountKind], want: &'static str) -> Result<(), Refusal> {
    if !ok.contains(&a.kind) {
        return Err(Refusal::WrongAccountKind { account_id: a.account_id.clone(), is: a.kind.as_str(), want });
    }
    Ok(())
}

const MANAGED: &[AccountKind] = &[AccountKind::Fund, AccountKind::Case];

/// The statement names `case_id` (which the thing it acts on belongs to).
fn same_case(c: &Candidate<'_>, what: impl FnOnce() -> String, case_id: &str) -> Result<(), Refusal> {
    if c.statement.case_id != case_id {
        return Err(Refusal::FundCaseMismatch { what: what(), case_id: case_id.to_string() });
    }
    Ok(())
}

/// A case account is only acted on under its own case.
fn case_account(c: &Candidate<'_>, a: &AccountRecord) -> Result<(), Refusal> {
    if a.kind == AccountKind::Case {
        return same_case(c, || format!("account {:?}", a.account_id), &a.case_id);
    }
    Ok(())
}

fn no_overdraft(a: &AccountRecord) -> Result<(), Refusal> {
    let available = a.balance.available();
    if a.no_overdraft && available < 0 {
        return Err(Refusal::InsufficientFunds {
            account_id: a.account_id.clone(),
            short_fen: available.unsigned_abs(),
        });
    }
    Ok(())
}

fn put_account(a: &AccountRecord, out: &mut Outcome) {
    out.writes.push(IndexWrite { ns: Ns::Account, key: a.account_id.as_bytes().to_vec(), value: rec(a) });
}

/// A non-empty bank reference is used once per account.
fn claim_bank_ref(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    account_id: &str,
    bank_ref: &str,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    if bank_ref.is_empty() {
        return Ok(());
    }
    if let Some(seq) = bank_ref_seq(view, account_id, bank_ref)? {
        return Err(Refusal::DuplicateBankRef {
            account_id: account_id.to_string(),
            bank_ref: bank_ref.to_string(),
            seq,
        });
    }
    out.writes.push(IndexWrite {
        ns: Ns::BankRef,
        key: account_key(account_id, bank_ref.as_bytes()),
        value: c.seq.to_be_bytes().to_vec(),
    });
    Ok(())
}

fn bank_ref_shape(bank_ref: &str) -> Result<(), Refusal> {
    if bank_ref.is_empty() {
        return Ok(());
    }
    text("bank_ref", bank_ref)
}

/// Apply a movement to its two accounts (debit side first), check the
/// debited account's overdraft flag, and write the movement and both
/// accounts.
fn book(
    c: &Candidate<'_>,
    m: Movement,
    debit: &mut AccountRecord,
    credit: &mut AccountRecord,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    let (d, k) = (&mut debit.balance, &mut credit.balance);
    d.debits_posted = add(d.debits_posted, m.posted_fen, "debits posted")?;
    k.credits_posted = add(k.credits_posted, m.posted_fen, "credits posted")?;
    d.debits_pending = add(d.debits_pending, m.reserved_fen, "debits pending")?;
    k.credits_pending = add(k.credits_pending, m.reserved_fen, "credits pending")?;
    d.debits_pending = sub(d.debits_pending, m.released_fen, "debits pending")?;
    k.credits_pending = sub(k.credits_pending, m.released_fen, "credits pending")?;
    no_overdraft(debit)?;
    debit.movements = add(debit.movements, 1, "movements")?;
    credit.movements = add(credit.movements, 1, "movements")?;
    let value = rec(&m);
    out.writes.push(IndexWrite { ns: Ns::Movement, key: c.entry_hash.to_vec(), value: value.clone() });
    for a in [&*debit, &*credit] {
        out.writes.push(IndexWrite {
            ns: Ns::AccountMovement,
            key: account_key(&a.account_id, &c.seq.to_be_bytes()),
            value: value.clone(),
        });
        put_account(a, out);
    }
    Ok(())
}

fn movement_of(c: &Candidate<'_>, kind: MovementKind, debit: &str, credit: &str) -> Movement {
    Movement {
        seq: c.seq,
        entry_hash: c.entry_hash,
        kind,
        case_id: c.statement.case_id.clone(),
        debit: debit.to_string(),
        credit: credit.to_string(),
        posted_fen: 0,
        reserved_fen: 0,
        released_fen: 0,
        request_id: String::new(),
        original: None,
        bank_ref: String::new(),
    }
}

// ---- the kinds

/// Fund kinds, dispatched from `state::apply`. `me` is the author's
/// registry record.
pub(super) fn apply(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    me: &KeyRecord,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    match &c.statement.body {
        Body::AccountOpened { account_id, account_kind, name, no_overdraft, stages } => {
            open_account(view, c, account_id, *account_kind, name, *no_overdraft, *stages, out)
        }
        Body::Obligation { obligation_id, payer, amount_fen, designated_use, due_ms, judgment } => {
            let o = ObligationRecord {
                obligation_id: obligation_id.clone(),
                case_id: c.statement.case_id.clone(),
                payer: payer.clone(),
                amount_fen: *amount_fen,
                designated_use: designated_use.clone(),
                due_ms: *due_ms,
                judgment: *judgment,
                seq: c.seq,
                entry_hash: c.entry_hash,
            };
            obligation(view, c, o, out)
        }
        Body::FundReceipt { account_id, from, amount_fen, bank_ref } => {
            positive(*amount_fen)?;
            bank_ref_shape(bank_ref)?;
            let mut to = account(view, account_id)?;
            let mut payer = account(view, from)?;
            kind_is(&to, MANAGED, "a receipt goes into a fund or case account")?;
            kind_is(&payer, &[AccountKind::Payer], "a receipt comes from a payer account")?;
            case_account(c, &to)?;
            claim_bank_ref(view, c, account_id, bank_ref, out)?;
            let mut m = movement_of(c, MovementKind::Receipt, from, account_id);
            m.posted_fen = *amount_fen;
            m.bank_ref = bank_ref.clone();
            book(c, m, &mut payer, &mut to, out)
        }
        Body::Remittance { from, to, amount_fen, bank_ref } => {
            positive(*amount_fen)?;
            bank_ref_shape(bank_ref)?;
            let mut source = account(view, from)?;
            let mut treasury = account(view, to)?;
            kind_is(&source, MANAGED, "a remittance goes from a fund or case account")?;
            kind_is(&treasury, &[AccountKind::Treasury], "a remittance goes to a treasury account")?;
            case_account(c, &source)?;
            claim_bank_ref(view, c, from, bank_ref, out)?;
            let mut m = movement_of(c, MovementKind::Remittance, from, to);
            m.posted_fen = *amount_fen;
            m.bank_ref = bank_ref.clone();
            book(c, m, &mut source, &mut treasury, out)
        }
        Body::DisbursementRequested { request_id, from, to, amount_fen, purpose, note: _ } => {
            requests::request(view, c, me, request_id, from, to, *amount_fen, purpose, out)
        }
        Body::DisbursementApproved { request_id, stage } => {
            requests::decide(view, c, me, request_id, *stage, false, out)
        }
        Body::DisbursementRejected { request_id, stage, reason } => {
            prose("reason", reason)?;
            requests::decide(view, c, me, request_id, *stage, true, out)
        }
        Body::DisbursementPaid { request_id, amount_fen, bank_ref } => {
            requests::pay(view, c, me, request_id, *amount_fen, bank_ref, out)
        }
        Body::DisbursementVoided { request_id, reason } => {
            prose("reason", reason)?;
            requests::void(view, c, me, request_id, out)
        }
        Body::Reversal { original, amount_fen, reason } => reverse(view, c, original, *amount_fen, reason, out),
        Body::Reconciled { account_id, period_from_ms, period_to_ms, statement_digest, balance_fen } => {
            if period_from_ms > period_to_ms {
                return Err(Refusal::InvalidValue("period_from_ms is after period_to_ms".into()));
            }
            digest_ok(statement_digest)?;
            let mut a = account(view, account_id)?;
            kind_is(&a, MANAGED, "only fund and case accounts are reconciled with a bank statement")?;
            case_account(c, &a)?;
            if let Some(last) = a.reconciled.as_ref().filter(|r| *period_from_ms < r.period_to_ms) {
                return Err(Refusal::InvalidValue(format!(
                    "reconciled periods may not overlap: the last one ended at {} ms",
                    last.period_to_ms
                )));
            }
            let posted = a.balance.posted();
            if posted != i128::from(*balance_fen) {
                return Err(Refusal::BalanceMismatch { stated_fen: *balance_fen, posted_fen: posted });
            }
            a.reconciled = Some(Reconciliation {
                seq: c.seq,
                period_from_ms: *period_from_ms,
                period_to_ms: *period_to_ms,
                balance_fen: *balance_fen,
            });
            put_account(&a, out);
            Ok(())
        }
        Body::Published { case_or_scope, what, location, notice_days: _, report } => {
            text("case_or_scope", case_or_scope)?;
            prose("what", what)?;
            prose("location", location)?;
            report.iter().try_for_each(digest_ok)
        }
        Body::AuditFinding { scope, finding, entries } => {
            text("scope", scope)?;
            prose("finding", finding)?;
            for h in entries {
                entry_ref(view, h)?.ok_or_else(|| Refusal::UnknownEntry(hex::encode(h)))?;
            }
            Ok(())
        }
        _ => unreachable!("fund::apply is dispatched fund kinds only"),
    }
}

#[allow(clippy::too_many_arguments)]
fn open_account(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    account_id: &str,
    kind: AccountKind,
    name: &str,
    no_overdraft: bool,
    stages: u8,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    id("account_id", account_id)?;
    text("name", name)?;
    if stages > MAX_STAGES {
        return Err(Refusal::InvalidValue(format!("stages is 0 to {MAX_STAGES}")));
    }
    if stages > 0 && !kind.is_managed() {
        return Err(Refusal::InvalidValue("only fund and case accounts have approval stages".into()));
    }
    if no_overdraft && kind == AccountKind::Payer {
        return Err(Refusal::InvalidValue(
            "a payer account is debited by every receipt: it cannot be no-overdraft".into(),
        ));
    }
    if kind == AccountKind::Case && c.statement.case_id.is_empty() {
        return Err(Refusal::MissingField("case_id"));
    }
    if account_record(view, account_id)?.is_some() {
        return Err(Refusal::AccountExists(account_id.to_string()));
    }
    let a = AccountRecord {
        account_id: account_id.to_string(),
        kind,
        name: name.to_string(),
        case_id: if kind == AccountKind::Case { c.statement.case_id.clone() } else { String::new() },
        no_overdraft,
        stages,
        opened_seq: c.seq,
        opened_hash: c.entry_hash,
        balance: AccountBalance::default(),
        movements: 0,
        reconciled: None,
    };
    put_account(&a, out);
    out.created.push(("account_id", account_id.to_string()));
    Ok(())
}

/// An obligation names its case's judgment, if any: a `CaseEvent` of this
/// case, at or after the case's first recorded judgment.
fn check_judgment(view: &(impl IndexRead + ?Sized), case_id: &str, judgment: &Hash32) -> Result<(), Refusal> {
    let r: EntryRef = entry_ref(view, judgment)?.ok_or_else(|| Refusal::UnknownEntry(hex::encode(judgment)))?;
    if r.kind != Kind::CaseEvent {
        return Err(Refusal::NotAJudgment(format!("it names a {} entry, not a case event", r.kind.as_str())));
    }
    if view.get(Ns::CaseEntries, &case_entries_key(case_id, r.seq))?.is_none() {
        return Err(Refusal::NotAJudgment("that case event belongs to another case".into()));
    }
    let judged = case_record(view, case_id)?.and_then(|cr| cr.judgment_seq);
    if judged.is_none_or(|j| j > r.seq) {
        return Err(Refusal::NotAJudgment("no judgment of the case is recorded at or before that entry".into()));
    }
    Ok(())
}

fn obligation(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    o: ObligationRecord,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    if o.case_id.is_empty() {
        return Err(Refusal::MissingField("case_id"));
    }
    id("obligation_id", &o.obligation_id)?;
    positive(o.amount_fen)?;
    text("designated_use", &o.designated_use)?;
    if obligation_record(view, &o.obligation_id)?.is_some() {
        return Err(Refusal::ObligationExists(o.obligation_id));
    }
    let payer = account(view, &o.payer)?;
    kind_is(&payer, &[AccountKind::Payer], "an obligation names a payer account")?;
    if let Some(j) = &o.judgment {
        check_judgment(view, &o.case_id, j)?;
    }
    let mut fc = fund_case_record(view, &o.case_id)?.unwrap_or_default();
    fc.ordered_fen = add(fc.ordered_fen, o.amount_fen, "the case's ordered total")?;
    fc.obligations.push(o.obligation_id.clone());
    if !fc.uses.iter().any(|u| u.designated_use == o.designated_use) {
        fc.uses.push(DesignatedUse { designated_use: o.designated_use.clone(), since_seq: c.seq });
    }
    out.writes.push(IndexWrite { ns: Ns::FundCase, key: o.case_id.as_bytes().to_vec(), value: rec(&fc) });
    out.writes.push(IndexWrite { ns: Ns::Obligation, key: o.obligation_id.as_bytes().to_vec(), value: rec(&o) });
    out.created.push(("obligation_id", o.obligation_id));
    Ok(())
}

fn reverse(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    original: &Hash32,
    amount_fen: u64,
    reason: &str,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    positive(amount_fen)?;
    prose("reason", reason)?;
    let target = entry_ref(view, original)?.ok_or_else(|| Refusal::UnknownEntry(hex::encode(original)))?;
    let m = match movement(view, original)? {
        Some(m) if matches!(m.kind, MovementKind::Receipt | MovementKind::Remittance | MovementKind::Post) => m,
        _ => return Err(Refusal::NotReversible(format!("a {} entry", target.kind.as_str()))),
    };
    same_case(c, || "the reversed entry".to_string(), &m.case_id)?;
    let done = reversed_fen(view, original)?;
    let remaining_fen = sub(m.posted_fen, done, "unreversed amount")?;
    if amount_fen > remaining_fen {
        return Err(Refusal::ReversalExceedsOriginal { amount_fen, remaining_fen });
    }
    // The opposite transfer: debit what the original credited.
    let mut debit = account(view, &m.credit)?;
    let mut credit = account(view, &m.debit)?;
    let mut back = movement_of(c, MovementKind::Reversal, &m.credit, &m.debit);
    back.posted_fen = amount_fen;
    back.original = Some(*original);
    back.request_id = m.request_id.clone();
    book(c, back, &mut debit, &mut credit, out)?;
    let total = add(done, amount_fen, "reversed amount")?;
    out.writes.push(IndexWrite { ns: Ns::Reversed, key: original.to_vec(), value: total.to_be_bytes().to_vec() });
    Ok(())
}

/// The finance records a `finance-reviewer` endorsement may stand behind.
fn is_finance_record(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::AccountOpened
            | Kind::Obligation
            | Kind::FundReceipt
            | Kind::Remittance
            | Kind::DisbursementRequested
            | Kind::DisbursementPaid
            | Kind::DisbursementVoided
            | Kind::Reversal
            | Kind::Reconciled
    )
}

/// `Endorsed` in capacity `finance-reviewer`: the second person on a
/// finance record (dual control, DESIGN §4). A recorded fact; the endorser
/// holds the `finance-reviewer` role and the target is a finance record.
pub(super) fn endorse_as_finance_reviewer(me: &KeyRecord, target: &EntryRef) -> Result<(), Refusal> {
    if !me.roles.contains(&Role::FinanceReviewer) {
        return Err(Refusal::RoleNotAllowed { kind: "Endorsed as finance-reviewer", roles: roles_str(&me.roles) });
    }
    if !is_finance_record(target.kind) {
        return Err(Refusal::CapacityMismatch { capacity: "finance-reviewer", kind: target.kind.as_str() });
    }
    Ok(())
}
