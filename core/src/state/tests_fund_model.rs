//! Random fund operations against a small model written separately from the
//! rules, from `schema/fund.md` (plain maps of balances, its own role table,
//! its own order of checks). Every step must agree on accept or refuse (and
//! the code), every balance must agree after every step, and the auditor's
//! invariants must hold after every step.

use std::collections::{HashMap, HashSet};

use ed25519_dalek::SigningKey;
use proptest::prelude::*;

use super::tests::{key, Script};
use super::tests_fund::{approve, open, pay, receipt, reject, remit, request, reversal, void, CASE};
use super::*;
use crate::wire::AccountKind;

/// Accounts of the model: name, kind, no-overdraft, stages, case.
const ACCOUNTS: [(&str, AccountKind, bool, u8, &str); 6] = [
    ("F", AccountKind::Fund, true, 0, ""),
    ("C", AccountKind::Case, true, 2, CASE),
    ("O", AccountKind::Fund, false, 1, ""),
    ("P", AccountKind::Payer, false, 0, ""),
    ("Y", AccountKind::Payee, false, 0, ""),
    ("T", AccountKind::Treasury, false, 0, ""),
];
/// Names drawn by the operations: the six, and one never opened.
const NAMES: [&str; 7] = ["F", "C", "O", "P", "Y", "T", "Z"];

/// People: key seed, holder, person (same number = same person), roles.
const ACTORS: [(u8, &str, u8, &[Role]); 6] = [
    (30, "Li Si", 0, &[Role::Prosecutor]),
    (31, "Qian Qi", 1, &[Role::Finance]),
    (32, "Sun Ba", 2, &[Role::Approver]),
    (33, "Wu Shi", 3, &[Role::FinanceReviewer]),
    (34, "sun  BA", 2, &[Role::Finance, Role::Approver]),
    (35, "Zhou Jiu", 4, &[Role::Approver, Role::Finance]),
];

#[derive(Clone, Debug)]
enum Op {
    Receive {
        to: usize,
        from: usize,
        amount: u64,
        bank_ref: u8,
        case: bool,
    },
    Remit {
        from: usize,
        to: usize,
        amount: u64,
        bank_ref: u8,
        case: bool,
    },
    Request {
        id: u8,
        from: usize,
        to: usize,
        amount: u64,
        eco: bool,
        case: bool,
    },
    Decide {
        id: u8,
        stage: u8,
        reject: bool,
        case: bool,
    },
    /// `near`: pay the requested amount plus this instead of `amount`.
    Pay {
        id: u8,
        amount: u64,
        near: Option<i8>,
        bank_ref: u8,
        case: bool,
    },
    Void {
        id: u8,
        case: bool,
    },
    /// `near`: reverse what is left of the original plus this.
    Reverse {
        target: usize,
        amount: u64,
        near: Option<i8>,
        case: bool,
    },
}

/// Near an amount the model knows: `base + delta`, at least 0.
fn near(base: u64, delta: i8) -> u64 {
    base.saturating_add_signed(i64::from(delta))
}

fn amount_up_to(max: u64) -> impl Strategy<Value = u64> {
    prop_oneof![1 => Just(0u64), 16 => 1..max, 1 => (u64::MAX - 1_000)..=u64::MAX]
}

fn amount() -> impl Strategy<Value = u64> {
    amount_up_to(1_500)
}

/// Mostly one of `good`, sometimes anything (so refusals stay frequent
/// without drowning the accepted steps).
fn pick(good: &'static [usize], all: usize) -> impl Strategy<Value = usize> {
    prop_oneof![6 => prop::sample::select(good), 1 => 0..all]
}

fn account(good: &'static [usize]) -> impl Strategy<Value = usize> {
    pick(good, NAMES.len())
}

fn actor(good: &'static [usize]) -> impl Strategy<Value = usize> {
    pick(good, ACTORS.len())
}

/// The statement names the case, mostly.
fn case() -> impl Strategy<Value = bool> {
    prop::bool::weighted(0.9)
}

/// Half the time an amount at the edge: the exact limit, or one either side.
fn near_delta() -> impl Strategy<Value = Option<i8>> {
    prop_oneof![Just(None), (-2i8..=1).prop_map(Some)]
}

const MANAGED_ACCOUNTS: &[usize] = &[0, 1, 2];
const FINANCE: &[usize] = &[1, 4, 5];

fn op() -> impl Strategy<Value = (usize, Op)> {
    prop_oneof![
        4 => (actor(FINANCE), account(MANAGED_ACCOUNTS), account(&[3]), amount_up_to(5_000), 0u8..4, case())
            .prop_map(|(a, to, from, amount, bank_ref, case)| (a, Op::Receive { to, from, amount, bank_ref, case })),
        1 => (actor(FINANCE), account(MANAGED_ACCOUNTS), account(&[5]), amount(), 0u8..4, case())
            .prop_map(|(a, from, to, amount, bank_ref, case)| (a, Op::Remit { from, to, amount, bank_ref, case })),
        4 => (actor(&[0, 1]), 0u8..3, account(MANAGED_ACCOUNTS), account(&[4]), amount_up_to(800), prop::bool::weighted(0.9), case())
            .prop_map(|(a, id, from, to, amount, eco, case)| (a, Op::Request { id, from, to, amount, eco, case })),
        6 => (actor(&[2, 3, 4, 5]), 0u8..3, prop_oneof![5 => 1u8..3, 1 => 0u8..4], prop::bool::weighted(0.15), case())
            .prop_map(|(a, id, stage, reject, case)| (a, Op::Decide { id, stage, reject, case })),
        4 => (actor(FINANCE), 0u8..3, amount_up_to(800), near_delta(), 0u8..4, case())
            .prop_map(|(a, id, amount, near, bank_ref, case)| (a, Op::Pay { id, amount, near, bank_ref, case })),
        1 => (actor(&[1, 2, 4, 5]), 0u8..3, case()).prop_map(|(a, id, case)| (a, Op::Void { id, case })),
        2 => (actor(FINANCE), 0usize..64, amount(), near_delta(), case())
            .prop_map(|(a, target, amount, near, case)| (a, Op::Reverse { target, amount, near, case })),
    ]
}

#[derive(Clone, Copy, Default, Debug, PartialEq)]
struct Bal {
    dp: u128,
    cp: u128,
    dq: u128,
    cq: u128,
}

struct Req {
    case: &'static str,
    from: usize,
    to: usize,
    amount: u64,
    stages: u8,
    requester: usize,
    /// Actor indexes of the approvals, stage 1 first.
    approvers: Vec<usize>,
    rejected: bool,
    settled: bool,
}

/// A money-moving entry the model remembers (for reversals).
struct Moved {
    case: &'static str,
    debit: usize,
    credit: usize,
    posted: u64,
    reversible: bool,
    reversed: u64,
}

#[derive(Default)]
struct Model {
    bal: HashMap<usize, Bal>,
    bank_refs: HashSet<(usize, u8)>,
    reqs: HashMap<u8, Req>,
    /// Every accepted entry hash of the run, in order, with its movement.
    entries: Vec<([u8; 32], Option<Moved>)>,
}

fn managed(a: usize) -> bool {
    a < NAMES.len() - 1 && matches!(ACCOUNTS[a].1, AccountKind::Fund | AccountKind::Case)
}

fn is(a: usize, k: AccountKind) -> bool {
    a < NAMES.len() - 1 && ACCOUNTS[a].1 == k
}

/// The role table of `roles.md`, written again.
fn may_sign(actor: usize, op: &Op) -> bool {
    let allowed: &[Role] = match op {
        Op::Receive { .. } | Op::Remit { .. } | Op::Pay { .. } | Op::Reverse { .. } => &[Role::Finance],
        Op::Request { .. } => &[Role::Prosecutor, Role::Finance],
        Op::Decide { .. } => &[Role::Approver, Role::FinanceReviewer],
        Op::Void { .. } => &[Role::Finance, Role::Approver],
    };
    ACTORS[actor].3.iter().any(|r| allowed.contains(r))
}

type Step = Result<Option<Moved>, &'static str>;

impl Model {
    /// Post, reserve or release between two accounts; overflow, then the
    /// debited account's no-overdraft flag.
    fn transfer(&mut self, d: usize, c: usize, posted: u64, reserve: u64, release: u64) -> Result<(), &'static str> {
        let (mut bd, mut bc) = (self.bal[&d], self.bal[&c]);
        bd.dp += u128::from(posted);
        bc.cp += u128::from(posted);
        bd.dq = bd.dq + u128::from(reserve) - u128::from(release);
        bc.cq = bc.cq + u128::from(reserve) - u128::from(release);
        let max = u128::from(u64::MAX);
        if bd.dp > max || bc.cp > max || bd.dq > max || bc.cq > max {
            return Err("amount_overflow");
        }
        if ACCOUNTS[d].2 && bd.dp + bd.dq > bd.cp {
            return Err("insufficient_funds");
        }
        self.bal.insert(d, bd);
        self.bal.insert(c, bc);
        Ok(())
    }

    fn case_of(a: usize) -> &'static str {
        ACCOUNTS[a].4
    }

    fn step(&mut self, actor: usize, op: &Op) -> Step {
        if !may_sign(actor, op) {
            return Err("role_not_allowed");
        }
        let person = ACTORS[actor].2;
        let case_of_st = |case: bool| if case { CASE } else { "" };
        let exists = |a: usize| if a == NAMES.len() - 1 { Err("unknown_account") } else { Ok(()) };
        match *op {
            Op::Receive { to, from, amount, bank_ref, case } => {
                let st = case_of_st(case);
                if amount == 0 {
                    return Err("zero_amount");
                }
                exists(to)?;
                exists(from)?;
                if !managed(to) || !is(from, AccountKind::Payer) {
                    return Err("wrong_account_kind");
                }
                if ACCOUNTS[to].1 == AccountKind::Case && Self::case_of(to) != st {
                    return Err("fund_case_mismatch");
                }
                if bank_ref > 0 && self.bank_refs.contains(&(to, bank_ref)) {
                    return Err("duplicate_bank_ref");
                }
                self.transfer(from, to, amount, 0, 0)?;
                if bank_ref > 0 {
                    self.bank_refs.insert((to, bank_ref));
                }
                Ok(Some(Moved { case: st, debit: from, credit: to, posted: amount, reversible: true, reversed: 0 }))
            }
            Op::Remit { from, to, amount, bank_ref, case } => {
                let st = case_of_st(case);
                if amount == 0 {
                    return Err("zero_amount");
                }
                exists(from)?;
                exists(to)?;
                if !managed(from) || !is(to, AccountKind::Treasury) {
                    return Err("wrong_account_kind");
                }
                if ACCOUNTS[from].1 == AccountKind::Case && Self::case_of(from) != st {
                    return Err("fund_case_mismatch");
                }
                if bank_ref > 0 && self.bank_refs.contains(&(from, bank_ref)) {
                    return Err("duplicate_bank_ref");
                }
                self.transfer(from, to, amount, 0, 0)?;
                if bank_ref > 0 {
                    self.bank_refs.insert((from, bank_ref));
                }
                Ok(Some(Moved { case: st, debit: from, credit: to, posted: amount, reversible: true, reversed: 0 }))
            }
            Op::Request { id, from, to, amount, eco, case } => {
                let st = case_of_st(case);
                if amount == 0 {
                    return Err("zero_amount");
                }
                if self.reqs.contains_key(&id) {
                    return Err("request_exists");
                }
                exists(from)?;
                exists(to)?;
                if !managed(from) || !is(to, AccountKind::Payee) {
                    return Err("wrong_account_kind");
                }
                if ACCOUNTS[from].1 == AccountKind::Case && Self::case_of(from) != st {
                    return Err("fund_case_mismatch");
                }
                // The case has one obligation, for "eco".
                if st == CASE && !eco {
                    return Err("purpose_mismatch");
                }
                self.transfer(from, to, 0, amount, 0)?;
                let stages = ACCOUNTS[from].3;
                let r = Req {
                    case: st,
                    from,
                    to,
                    amount,
                    stages,
                    requester: actor,
                    approvers: vec![],
                    rejected: false,
                    settled: false,
                };
                self.reqs.insert(id, r);
                Ok(Some(Moved { case: st, debit: from, credit: to, posted: 0, reversible: false, reversed: 0 }))
            }
            Op::Decide { id, stage, reject, case } => {
                let r = self.reqs.get_mut(&id).ok_or("unknown_request")?;
                if r.case != case_of_st(case) {
                    return Err("fund_case_mismatch");
                }
                if r.settled {
                    return Err("request_settled");
                }
                if r.rejected {
                    return Err("request_rejected");
                }
                if usize::from(stage) != r.approvers.len() + 1 || stage > r.stages {
                    return Err("stage_out_of_order");
                }
                if r.requester == actor || ACTORS[r.requester].2 == person {
                    return Err("self_approval");
                }
                if r.approvers.iter().any(|&a| a == actor || ACTORS[a].2 == person) {
                    return Err("approver_repeated");
                }
                if reject {
                    r.rejected = true;
                } else {
                    r.approvers.push(actor);
                }
                Ok(None)
            }
            Op::Pay { id, amount, bank_ref, case, .. } => {
                if amount == 0 {
                    return Err("zero_amount");
                }
                let r = self.reqs.get(&id).ok_or("unknown_request")?;
                if r.case != case_of_st(case) {
                    return Err("fund_case_mismatch");
                }
                if r.settled {
                    return Err("request_settled");
                }
                if r.rejected {
                    return Err("request_rejected");
                }
                if r.approvers.len() < usize::from(r.stages) {
                    return Err("not_approved");
                }
                if amount > r.amount {
                    return Err("amount_exceeds_approved");
                }
                if r.approvers.iter().any(|&a| a == actor || ACTORS[a].2 == person) {
                    return Err("approver_cannot_pay");
                }
                if bank_ref > 0 && self.bank_refs.contains(&(r.from, bank_ref)) {
                    return Err("duplicate_bank_ref");
                }
                let (from, to, reserved, st) = (r.from, r.to, r.amount, r.case);
                self.transfer(from, to, amount, 0, reserved)?;
                if bank_ref > 0 {
                    self.bank_refs.insert((from, bank_ref));
                }
                self.reqs.get_mut(&id).expect("just read").settled = true;
                Ok(Some(Moved { case: st, debit: from, credit: to, posted: amount, reversible: true, reversed: 0 }))
            }
            Op::Void { id, case } => {
                let r = self.reqs.get(&id).ok_or("unknown_request")?;
                if r.case != case_of_st(case) {
                    return Err("fund_case_mismatch");
                }
                if r.settled {
                    return Err("request_settled");
                }
                let (from, to, reserved, st) = (r.from, r.to, r.amount, r.case);
                self.transfer(from, to, 0, 0, reserved)?;
                self.reqs.get_mut(&id).expect("just read").settled = true;
                Ok(Some(Moved { case: st, debit: from, credit: to, posted: 0, reversible: false, reversed: 0 }))
            }
            Op::Reverse { target, amount, case, .. } => {
                if amount == 0 {
                    return Err("zero_amount");
                }
                let Some(i) = (!self.entries.is_empty()).then(|| target % self.entries.len()) else {
                    return Err("unknown_entry");
                };
                let Some(m) = self.entries[i].1.as_ref().filter(|m| m.reversible) else {
                    return Err("not_reversible");
                };
                if m.case != case_of_st(case) {
                    return Err("fund_case_mismatch");
                }
                if amount > m.posted - m.reversed {
                    return Err("reversal_exceeds_original");
                }
                let (d, c, st) = (m.credit, m.debit, m.case);
                self.transfer(d, c, amount, 0, 0)?;
                self.entries[i].1.as_mut().expect("a movement").reversed += amount;
                Ok(Some(Moved { case: st, debit: d, credit: c, posted: amount, reversible: false, reversed: 0 }))
            }
        }
    }
}

impl Model {
    /// The op with amounts near a limit made concrete, from what the model
    /// knows (the rules never see `near`).
    fn resolve(&self, op: &Op) -> Op {
        match op.clone() {
            Op::Pay { id, amount, near: Some(d), bank_ref, case } => {
                let amount = self.reqs.get(&id).map_or(amount, |r| near(r.amount, d));
                Op::Pay { id, amount, near: None, bank_ref, case }
            }
            Op::Reverse { target, amount, near: Some(d), case } if !self.entries.is_empty() => {
                let m = self.entries[target % self.entries.len()].1.as_ref();
                let amount = m.map_or(amount, |m| near(m.posted - m.reversed, d));
                Op::Reverse { target, amount, near: None, case }
            }
            other => other,
        }
    }
}

fn body(op: &Op, entries: &[([u8; 32], Option<Moved>)]) -> Body {
    let bank = |b: u8| if b == 0 { String::new() } else { format!("B{b}") };
    let rid = |id: u8| format!("R{id}");
    match *op {
        Op::Receive { to, from, amount, bank_ref, .. } => receipt(NAMES[to], NAMES[from], amount, &bank(bank_ref)),
        Op::Remit { from, to, amount, bank_ref, .. } => remit(NAMES[from], NAMES[to], amount, &bank(bank_ref)),
        Op::Request { id, from, to, amount, eco, .. } => {
            request(&rid(id), NAMES[from], NAMES[to], amount, if eco { "eco" } else { "parks" })
        }
        Op::Decide { id, stage, reject: false, .. } => approve(&rid(id), stage),
        Op::Decide { id, stage, reject: true, .. } => self::reject(&rid(id), stage),
        Op::Pay { id, amount, bank_ref, .. } => pay(&rid(id), amount, &bank(bank_ref)),
        Op::Void { id, .. } => void(&rid(id)),
        Op::Reverse { target, amount, .. } => {
            let original = if entries.is_empty() { [0xEE; 32] } else { entries[target % entries.len()].0 };
            reversal(original, amount)
        }
    }
}

fn case_flag(op: &Op) -> bool {
    match *op {
        Op::Receive { case, .. }
        | Op::Remit { case, .. }
        | Op::Request { case, .. }
        | Op::Decide { case, .. }
        | Op::Pay { case, .. }
        | Op::Void { case, .. }
        | Op::Reverse { case, .. } => case,
    }
}

/// What `setup` receives into each of F, C and O (from P).
const START_FEN: u64 = 3_000;

/// The ledger and the model, set up alike: accounts, one obligation (use
/// "eco") on the case, and `START_FEN` received into each managed account.
fn setup() -> (Script, Vec<SigningKey>) {
    let officer = key(1);
    let mut s = Script::new(&officer);
    let keys: Vec<SigningKey> = ACTORS.iter().map(|a| key(a.0)).collect();
    for (k, a) in keys.iter().zip(ACTORS.iter()) {
        s.enrol(&officer, k, a.1, a.3.to_vec());
    }
    let (pros, fin) = (&keys[0], &keys[1]);
    s.ok(pros, CASE, Body::CaseOpened { title: "t".into(), area: "a".into(), unit: "u".into() });
    for (name, kind, no_overdraft, stages, case) in ACCOUNTS {
        s.ok(fin, case, open(name, kind, no_overdraft, stages));
    }
    let o = Body::Obligation {
        obligation_id: "O".into(),
        payer: "P".into(),
        amount_fen: 1_000,
        designated_use: "eco".into(),
        due_ms: 0,
        judgment: None,
    };
    s.ok(pros, CASE, o);
    // Some money in each managed account to start with.
    for (name, case) in [("F", ""), ("C", CASE), ("O", "")] {
        s.ok(fin, case, receipt(name, "P", START_FEN, ""));
    }
    (s, keys)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn random_fund_operations_agree_with_the_model(ops in prop::collection::vec(op(), 1..64)) {
        let (mut s, keys) = setup();
        let mut model = Model::default();
        for a in 0..ACCOUNTS.len() {
            model.bal.insert(a, Bal::default());
        }
        let start = u128::from(START_FEN);
        for a in MANAGED_ACCOUNTS {
            model.bal.get_mut(a).unwrap().cp = start;
        }
        model.bal.get_mut(&3).unwrap().dp = 3 * start;
        for (i, (actor, op)) in ops.iter().enumerate() {
            let op = &model.resolve(op);
            let b = body(op, &model.entries);
            let case = if case_flag(op) { CASE } else { "" };
            let got = s.step(&keys[*actor], case, b).map(|(h, _)| h);
            let want = model.step(*actor, op);
            match (got, want) {
                (Ok(h), Ok(moved)) => model.entries.push((h, moved)),
                (Err(g), Err(w)) => prop_assert_eq!(g, w, "step {}: {:?} by actor {}", i, op, actor),
                (g, w) => prop_assert!(false, "step {}: {:?} by {}: rules {:?}, model {:?}", i, op, actor, g.err(), w.err()),
            }
            for (a, name) in NAMES.iter().enumerate().take(ACCOUNTS.len()) {
                let b = account_record(&s.index, name).unwrap().unwrap().balance;
                let got = Bal {
                    dp: b.debits_posted.into(),
                    cp: b.credits_posted.into(),
                    dq: b.debits_pending.into(),
                    cq: b.credits_pending.into(),
                };
                prop_assert_eq!(got, model.bal[&a], "step {}: balances of {}", i, name);
            }
            let report = crate::fund_audit::audit(&s.index);
            prop_assert!(report.passed(), "step {}: {:?}", i, report.violations);
        }
    }
}
