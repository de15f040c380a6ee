//! The auditor's invariants over the fund records (DESIGN §5; `fund audit`;
//! `schema/fund.md`, "Audit").
//!
//! A pure function of the derived fund records: the [`MemIndex`] a replay
//! rebuilds, or the records read raw from a store (so an index edited
//! offline is caught as well). It does not trust the rules that wrote the
//! records: account balances are recomputed from the movements, settlements
//! are counted, approvals are re-read. Each violation has a stable code and,
//! where one entry is concerned, its seq.

use std::collections::{BTreeMap, HashMap};

use crate::names::same_person;
use crate::state::index::{decode_fund_record, MemIndex, Ns};
use crate::state::{AccountRecord, FundCaseRecord, Movement, MovementKind, RequestRecord, RequestStatus};
use crate::wire::Hash32;

/// The violation codes (`schema/reasons.md`, "Fund audit violations").
pub mod codes {
    /// Σ debits ≠ Σ credits over all accounts (posted, or pending).
    pub const LEDGER_UNBALANCED: &str = "ledger_unbalanced";
    /// An account's balances are not the sums of its movements.
    pub const ACCOUNT_MISMATCH: &str = "account_mismatch";
    /// A no-overdraft account below zero counting reservations.
    pub const ACCOUNT_OVERDRAWN: &str = "account_overdrawn";
    /// paid ≤ approved ≤ requested does not hold.
    pub const REQUEST_OVERPAID: &str = "request_overpaid";
    /// More than one payment or void of a request.
    pub const REQUEST_SETTLED_TWICE: &str = "request_settled_twice";
    /// A payment without all its stages approved, in order, before it.
    pub const APPROVAL_MISSING: &str = "approval_missing";
    /// A payment whose stages, requester and payer are not distinct people.
    pub const APPROVAL_NOT_DISTINCT: &str = "approval_not_distinct";
    /// A request for a purpose its case did not designate.
    pub const DESIGNATED_USE_VIOLATED: &str = "designated_use_violated";
    /// Reversals beyond the original, or unlike the recorded reversed amount.
    pub const OVER_REVERSED: &str = "over_reversed";
    /// A fund record that does not decode.
    pub const FUND_RECORD_MALFORMED: &str = "fund_record_malformed";
}

use codes::*;

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub code: &'static str,
    pub seq: Option<u64>,
    pub message: String,
}

/// The outcome of an audit: what was looked at, and what is wrong.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditReport {
    pub accounts: usize,
    pub requests: usize,
    pub movements: usize,
    /// Sorted by seq (violations without a seq first), then code.
    pub violations: Vec<Violation>,
}

impl AuditReport {
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// The fund records of an index, decoded.
#[derive(Clone, Debug, Default)]
pub struct FundRecords {
    pub accounts: Vec<AccountRecord>,
    pub requests: Vec<RequestRecord>,
    pub movements: Vec<Movement>,
    pub cases: Vec<(String, FundCaseRecord)>,
    pub reversed: Vec<(Hash32, u64)>,
    malformed: Vec<Violation>,
}

impl FundRecords {
    /// From `(namespace byte, key, value)` triples, in any order; records of
    /// other namespaces are skipped, and fund records that do not decode are
    /// reported as `fund_record_malformed`.
    pub fn from_raw<'a>(records: impl IntoIterator<Item = (u8, &'a [u8], &'a [u8])>) -> FundRecords {
        let mut f = FundRecords::default();
        for (ns, key, value) in records {
            let Some(ns) = Ns::from_u8(ns) else { continue };
            let bad = |what: &str| Violation {
                code: FUND_RECORD_MALFORMED,
                seq: None,
                message: format!("a {what} record does not decode (key {})", hex::encode(key)),
            };
            match ns {
                Ns::Account => match decode_fund_record(ns, value) {
                    Ok(r) => f.accounts.push(r),
                    Err(_) => f.malformed.push(bad("account")),
                },
                Ns::Request => match decode_fund_record(ns, value) {
                    Ok(r) => f.requests.push(r),
                    Err(_) => f.malformed.push(bad("request")),
                },
                Ns::Movement => match decode_fund_record(ns, value) {
                    Ok(r) => f.movements.push(r),
                    Err(_) => f.malformed.push(bad("movement")),
                },
                Ns::FundCase => match (decode_fund_record(ns, value), String::from_utf8(key.to_vec())) {
                    (Ok(r), Ok(case)) => f.cases.push((case, r)),
                    _ => f.malformed.push(bad("fund case")),
                },
                Ns::Reversed => match (<[u8; 32]>::try_from(key), <[u8; 8]>::try_from(value)) {
                    (Ok(h), Ok(v)) => f.reversed.push((h, u64::from_be_bytes(v))),
                    _ => f.malformed.push(bad("reversed")),
                },
                _ => {}
            }
        }
        // Deterministic order whatever the source's.
        f.accounts.sort_by(|a, b| a.account_id.cmp(&b.account_id));
        f.requests.sort_by_key(|r| r.requested_seq);
        f.movements.sort_by_key(|m| m.seq);
        f.cases.sort_by(|a, b| a.0.cmp(&b.0));
        f.reversed.sort();
        f
    }

    pub fn from_index(index: &MemIndex) -> FundRecords {
        FundRecords::from_raw(index.iter())
    }
}

/// Audit the fund records of a rebuilt (or stored) index.
pub fn audit(index: &MemIndex) -> AuditReport {
    audit_records(&FundRecords::from_index(index))
}

/// The sums of one account's movements.
#[derive(Default)]
struct Sums {
    debits_posted: u128,
    credits_posted: u128,
    debits_pending: i128,
    credits_pending: i128,
    last_seq: Option<u64>,
}

pub fn audit_records(f: &FundRecords) -> AuditReport {
    let mut v = f.malformed.clone();
    let mut push = |code: &'static str, seq: Option<u64>, message: String| v.push(Violation { code, seq, message });

    // Σ debits = Σ credits, posted and pending.
    let total = |get: fn(&AccountRecord) -> u64| f.accounts.iter().map(|a| u128::from(get(a))).sum::<u128>();
    let (dp, cp) = (total(|a| a.balance.debits_posted), total(|a| a.balance.credits_posted));
    let (dq, cq) = (total(|a| a.balance.debits_pending), total(|a| a.balance.credits_pending));
    if dp != cp || dq != cq {
        push(LEDGER_UNBALANCED, None, format!("Σ debits ≠ Σ credits: posted {dp} / {cp} fen, pending {dq} / {cq} fen"));
    }

    // Each account's balances are the sums of its movements.
    let mut sums: BTreeMap<&str, Sums> = f.accounts.iter().map(|a| (a.account_id.as_str(), Sums::default())).collect();
    for m in &f.movements {
        let pending = i128::from(m.reserved_fen) - i128::from(m.released_fen);
        for (side, debit) in [(&m.debit, true), (&m.credit, false)] {
            let Some(s) = sums.get_mut(side.as_str()) else {
                push(ACCOUNT_MISMATCH, Some(m.seq), format!("the movement names an unknown account {side:?}"));
                continue;
            };
            if debit {
                s.debits_posted += u128::from(m.posted_fen);
                s.debits_pending += pending;
            } else {
                s.credits_posted += u128::from(m.posted_fen);
                s.credits_pending += pending;
            }
            s.last_seq = Some(m.seq);
        }
    }
    for a in &f.accounts {
        let s = &sums[a.account_id.as_str()];
        let b = &a.balance;
        let same = s.debits_posted == u128::from(b.debits_posted)
            && s.credits_posted == u128::from(b.credits_posted)
            && s.debits_pending == i128::from(b.debits_pending)
            && s.credits_pending == i128::from(b.credits_pending);
        if !same {
            push(
                ACCOUNT_MISMATCH,
                s.last_seq,
                format!("account {:?}: its balances are not the sums of its movements", a.account_id),
            );
        }
        if a.no_overdraft && b.available() < 0 {
            push(
                ACCOUNT_OVERDRAWN,
                s.last_seq,
                format!("no-overdraft account {:?} is {} fen below zero", a.account_id, b.available().unsigned_abs()),
            );
        }
    }

    // Each request settles once; paid ≤ approved ≤ requested; every
    // payment had all its stages, in order, earlier, from distinct people.
    let mut settlements: HashMap<&str, Vec<u64>> = HashMap::new();
    for m in &f.movements {
        if matches!(m.kind, MovementKind::Post | MovementKind::Release) {
            settlements.entry(m.request_id.as_str()).or_default().push(m.seq);
        }
    }
    let uses: HashMap<&str, &FundCaseRecord> = f.cases.iter().map(|(c, r)| (c.as_str(), r)).collect();
    for r in &f.requests {
        let at = Some(r.settled_seq.unwrap_or(r.requested_seq));
        let id = &r.request_id;
        if let Some(seqs) = settlements.get(id.as_str()).filter(|s| s.len() > 1) {
            push(REQUEST_SETTLED_TWICE, Some(seqs[1]), format!("request {id:?} was settled {} times", seqs.len()));
        }
        if r.paid_fen > r.approved_fen || r.approved_fen > r.amount_fen {
            push(
                REQUEST_OVERPAID,
                at,
                format!(
                    "request {id:?}: paid {} ≤ approved {} ≤ requested {} fen does not hold",
                    r.paid_fen, r.approved_fen, r.amount_fen
                ),
            );
        }
        if let Some(use_rec) = uses.get(r.case_id.as_str()) {
            let in_force: Vec<&str> = use_rec
                .uses
                .iter()
                .filter(|u| u.since_seq < r.requested_seq)
                .map(|u| u.designated_use.as_str())
                .collect();
            if !in_force.is_empty() && !in_force.contains(&r.purpose.as_str()) {
                push(
                    DESIGNATED_USE_VIOLATED,
                    Some(r.requested_seq),
                    format!("request {id:?} is for {:?}, not a designated use of its case", r.purpose),
                );
            }
        }
        if r.status == RequestStatus::Paid || r.paid_fen > 0 {
            audit_payment(r, &mut push);
        }
    }

    // A reversal never exceeds its original.
    let posted: HashMap<Hash32, &Movement> = f.movements.iter().map(|m| (m.entry_hash, m)).collect();
    let mut reversals: HashMap<Hash32, u128> = HashMap::new();
    for m in f.movements.iter().filter(|m| m.kind == MovementKind::Reversal) {
        *reversals.entry(m.original.unwrap_or_default()).or_default() += u128::from(m.posted_fen);
    }
    for (original, total) in &reversals {
        let recorded = f.reversed.iter().find(|(h, _)| h == original).map_or(0, |(_, n)| u128::from(*n));
        match posted.get(original) {
            Some(o) if *total <= u128::from(o.posted_fen) && *total == recorded => {}
            o => push(
                OVER_REVERSED,
                o.map(|o| o.seq),
                format!(
                    "entry {} is reversed by {total} fen (recorded {recorded}), more than it moved or than recorded",
                    hex::encode(original)
                ),
            ),
        }
    }

    for (original, n) in &f.reversed {
        if *n > 0 && !reversals.contains_key(original) {
            push(
                OVER_REVERSED,
                None,
                format!("entry {} is recorded as reversed, with no reversal", hex::encode(original)),
            );
        }
    }

    v.sort_by(|a, b| (a.seq, a.code, &a.message).cmp(&(b.seq, b.code, &b.message)));
    AuditReport { accounts: f.accounts.len(), requests: f.requests.len(), movements: f.movements.len(), violations: v }
}

/// A paid request: stages 1..=n approved in order before the payment, by
/// distinct keys and people, none of them the requester or the payer.
fn audit_payment(r: &RequestRecord, push: &mut impl FnMut(&'static str, Option<u64>, String)) {
    let id = &r.request_id;
    let paid_at = r.settled_seq.unwrap_or(u64::MAX);
    let in_order = r.approvals.len() == usize::from(r.stages)
        && r.approvals.iter().enumerate().all(|(i, a)| usize::from(a.stage) == i + 1 && a.seq < paid_at)
        && r.rejection.is_none();
    if !in_order {
        push(
            APPROVAL_MISSING,
            r.settled_seq,
            format!("request {id:?} was paid without stages 1..={} approved, in order, before payment", r.stages),
        );
    }
    let mut people = vec![(r.requester, r.requester_holder.as_str())];
    for a in &r.approvals {
        if people.iter().any(|(k, h)| *k == a.key || same_person(h, &a.holder)) {
            push(
                APPROVAL_NOT_DISTINCT,
                Some(a.seq),
                format!("stage {} of {id:?} was approved by the requester or an earlier approver", a.stage),
            );
        }
        people.push((a.key, a.holder.as_str()));
    }
    let payer = (r.settled_by.unwrap_or_default(), r.settled_by_holder.as_str());
    if r.approvals.iter().any(|a| a.key == payer.0 || same_person(&a.holder, payer.1)) {
        push(APPROVAL_NOT_DISTINCT, r.settled_seq, format!("request {id:?} was paid by one of its approvers"));
    }
}
