//! Model test with oracles of its own. Seeded scripts of operations by
//! several signers go through the real writer (group commit over sled,
//! several statements queued together), in a fixed submission order. The
//! scripts mix the registry and cases (enrolments, revocations, cases,
//! endorsements, corrections, resubmissions) with the evidence side
//! (registrations, second-collector endorsements, seals, handovers and
//! receipts, holds, disposals) and the fund side (accounts, obligations,
//! receipts, remittances, disbursement requests, staged approvals and
//! rejections, payments, voids). Every statement's outcome (accepted at
//! seq N, duplicate of seq N, refused with code C) is compared with two
//! oracles:
//!
//! - **sequential**: the statements applied one at a time, in submission
//!   order, through `state::apply` over a fresh in-memory `MemIndex`, with
//!   the same idempotency rule. Group commit, the writer's overlay and the
//!   store must not change any outcome; the store's indexes must equal the
//!   sequential index at the end.
//! - **model**: plain maps written here, from `schema/roles.md`,
//!   `schema/evidence.md` and `schema/fund.md`, never calling the rules: who
//!   is enrolled, revoked, and which role may sign which kind; each evidence
//!   item's holder, pending handover, seal, hold and disposal; each fund
//!   account's four balances (TigerBeetle's debits/credits, posted/pending),
//!   bank references, and each request's stages, approvers and settlement.
//!   It predicts acceptance or the exact refusal code. Where the schema
//!   fixes no order between two failing checks (an evidence item's checks;
//!   two shape checks of one fund entry) it predicts "one of" those codes;
//!   such cases are counted apart, and at least 95% of the judged
//!   statements must be predicted exactly. Each op is drawn when its group
//!   is built, against the model's state after the earlier groups, so that
//!   most ops are plausible (the holder hands over, an approver approves
//!   the next stage) and some are not.
//!
//! At the end the model's evidence records and balances must equal the
//! rules' records (`state::evidence_record`, `state::account_record`), the
//! fund auditor must pass over the rebuilt index and over the stored
//! records, and the independent replay in `verify` must accept the log.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use pil_ledger::ledger::{self, Ledger};
use pil_ledger::store::Store;
use pil_ledger_core::authority::{Role, ALL_ROLES};
use pil_ledger_core::digest::{Digest, DigestAlg};
use pil_ledger_core::fund_audit::{self, FundRecords};
use pil_ledger_core::hash;
use pil_ledger_core::keys;
use pil_ledger_core::state::{self, AccountBalance, Candidate, MemIndex, RequestStatus};
use pil_ledger_core::wire::{AccountKind, Body, Entry, Hash32, PublicKey, SealState, Statement, ALL_ACCOUNT_KINDS};

/// xorshift64*: a fixed, dependency-free sequence per seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True one time in `n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

#[derive(Clone, Debug)]
enum Op {
    Enroll {
        signer: usize,
        target: usize,
        roles: Vec<Role>,
    },
    Revoke {
        signer: usize,
        target: usize,
    },
    CaseOpen {
        signer: usize,
        case: u8,
    },
    Endorse {
        signer: usize,
        back: usize,
    },
    Correct {
        signer: usize,
        back: usize,
    },
    Resubmit {
        back: usize,
    },
    /// An evidence or fund statement (or a second-collector endorsement),
    /// drawn against the model's state when its group is built; the model
    /// judges it from its body alone.
    Domain {
        signer: usize,
        case_id: String,
        body: Box<Body>,
    },
}

/// Keys. Key 0 is the genesis officer ("Officer"); keys 1..=5 belong to
/// P1..P5; key 6 is a **second key of P1** (enrolled as "p1", the same
/// person by identity), so that the "another key *and* another person"
/// rules are exercised.
const PEOPLE: usize = 7;
const CASES: usize = 4;

fn holder(k: usize) -> String {
    match k {
        0 => "Officer".into(),
        6 => "p1".into(),
        k => format!("P{k}"),
    }
}

/// The person a key belongs to.
fn person(k: usize) -> usize {
    if k == 6 {
        1
    } else {
        k
    }
}

/// The person a collector's name names (the scripts write "P3", "p3",
/// "Officer", "officer"); `usize::MAX` for anyone else.
fn name_person(name: &str) -> usize {
    let l = name.trim().to_lowercase();
    if l == "officer" {
        return 0;
    }
    l.strip_prefix('p').and_then(|n| n.parse().ok()).unwrap_or(usize::MAX)
}

fn case_id(c: usize) -> String {
    format!("C-{c}")
}

/// Roles for people other than the genesis officer: never key-officer, so
/// the officer set stays the genesis officer alone (its dual-control rules
/// are tested elsewhere); prosecutors are common so that cases get opened.
fn roles(rng: &mut Rng) -> Vec<Role> {
    let n = 1 + rng.below(3);
    let mut r: Vec<Role> = (0..n)
        .map(|_| if rng.one_in(4) { Role::Prosecutor } else { ALL_ROLES[1 + rng.below(ALL_ROLES.len() - 1)] })
        .collect();
    r.sort();
    r.dedup();
    r
}

/// The officer (0) signs half the time, anyone the rest.
fn signer(rng: &mut Rng) -> usize {
    if rng.one_in(2) {
        0
    } else {
        rng.below(PEOPLE)
    }
}

/// Which roles may sign which kind: `schema/roles.md`'s table, by hand.
fn allowed(kind: &str) -> &'static [Role] {
    use Role::*;
    match kind {
        "Genesis" | "KeyEnrolled" | "KeyRevoked" => &[KeyOfficer],
        "Endorsed" | "Correction" => &ALL_ROLES,
        "CaseOpened" => &[Prosecutor],
        "CaseEvent" => &[Prosecutor, Assistant, CourtLiaison],
        "EvidenceRegistered" | "EvidenceDerived" => &[Prosecutor, Assistant, Custodian],
        "Sealed" => &[Custodian, Prosecutor, Assistant],
        "Unsealed" => &[Custodian, Prosecutor],
        "CustodyTransferred" | "CustodyReceived" => &[Custodian, Prosecutor, Assistant, CourtLiaison],
        "EvidenceAccessed" => &[Prosecutor, Assistant, Custodian, CourtLiaison, Auditor],
        "IntegrityChecked" => &[Custodian, Auditor, Prosecutor, Assistant],
        "SubmittedToCourt" => &[CourtLiaison, Prosecutor],
        "Disposed" => &[Custodian],
        "LegalHold" | "HoldReleased" => &[Prosecutor, Approver],
        "AccountOpened" | "FundReceipt" | "Remittance" | "DisbursementPaid" | "Reversal" => &[Finance],
        "Obligation" => &[Prosecutor, CourtLiaison, Finance],
        "DisbursementRequested" => &[Prosecutor, Finance],
        "DisbursementApproved" | "DisbursementRejected" => &[Approver, FinanceReviewer],
        "DisbursementVoided" => &[Finance, Approver],
        "Reconciled" => &[Finance, FinanceReviewer],
        "Published" => &[Publisher],
        "AuditFinding" => &[Auditor],
        other => panic!("the model has no row for {other}"),
    }
}

fn kind_name(body: &Body) -> &'static str {
    match body {
        Body::Genesis { .. } => "Genesis",
        Body::KeyEnrolled { .. } => "KeyEnrolled",
        Body::KeyRevoked { .. } => "KeyRevoked",
        Body::Endorsed { .. } => "Endorsed",
        Body::Correction { .. } => "Correction",
        Body::CaseOpened { .. } => "CaseOpened",
        Body::CaseEvent { .. } => "CaseEvent",
        Body::EvidenceRegistered { .. } => "EvidenceRegistered",
        Body::EvidenceDerived { .. } => "EvidenceDerived",
        Body::Sealed { .. } => "Sealed",
        Body::Unsealed { .. } => "Unsealed",
        Body::CustodyTransferred { .. } => "CustodyTransferred",
        Body::CustodyReceived { .. } => "CustodyReceived",
        Body::EvidenceAccessed { .. } => "EvidenceAccessed",
        Body::IntegrityChecked { .. } => "IntegrityChecked",
        Body::SubmittedToCourt { .. } => "SubmittedToCourt",
        Body::Disposed { .. } => "Disposed",
        Body::LegalHold { .. } => "LegalHold",
        Body::HoldReleased { .. } => "HoldReleased",
        Body::AccountOpened { .. } => "AccountOpened",
        Body::Obligation { .. } => "Obligation",
        Body::FundReceipt { .. } => "FundReceipt",
        Body::Remittance { .. } => "Remittance",
        Body::DisbursementRequested { .. } => "DisbursementRequested",
        Body::DisbursementApproved { .. } => "DisbursementApproved",
        Body::DisbursementRejected { .. } => "DisbursementRejected",
        Body::DisbursementPaid { .. } => "DisbursementPaid",
        Body::DisbursementVoided { .. } => "DisbursementVoided",
        Body::Reversal { .. } => "Reversal",
        Body::Reconciled { .. } => "Reconciled",
        Body::Published { .. } => "Published",
        Body::AuditFinding { .. } => "AuditFinding",
    }
}

/// The kind a statement of this op has (for labels and the role table).
fn op_kind(op: &Op) -> &'static str {
    match op {
        Op::Enroll { .. } => "KeyEnrolled",
        Op::Revoke { .. } => "KeyRevoked",
        Op::CaseOpen { .. } => "CaseOpened",
        Op::Endorse { .. } => "Endorsed",
        Op::Correct { .. } => "Correction",
        Op::Domain { body, .. } if matches!(&**body, Body::Endorsed { capacity, .. } if capacity == "second-collector") => {
            "Endorsed(second-collector)"
        }
        Op::Domain { body, .. } => kind_name(body),
        Op::Resubmit { .. } => unreachable!("resolved to the original op"),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Accepted(u64),
    Duplicate(u64),
    Refused(String),
}

/// The model's prediction.
#[derive(Debug)]
enum Expect {
    Accept,
    Refuse(&'static str),
    /// Refused with one of these codes: several checks fail and the schema
    /// fixes no order between them.
    OneOf(Vec<&'static str>),
}

/// `Ok`: the model predicts acceptance; `Err`: a refusal.
type Verdict = Result<(), Expect>;

fn no(code: &'static str) -> Verdict {
    Err(Expect::Refuse(code))
}

/// Every failing check, where the schema orders none of them.
fn any_of(mut codes: Vec<&'static str>) -> Verdict {
    codes.sort();
    codes.dedup();
    match codes.len() {
        0 => Ok(()),
        1 => no(codes[0]),
        _ => Err(Expect::OneOf(codes)),
    }
}

/// An evidence item as the model sees it (`schema/evidence.md`).
#[derive(Clone, Debug)]
struct Item {
    case: String,
    /// The registration's entry hash.
    reg: Hash32,
    /// The collectors, as persons (`usize::MAX`: nobody the model knows).
    collectors: Vec<usize>,
    physical: bool,
    digests: Vec<Digest>,
    /// The key holding it.
    holder: usize,
    /// A handover not yet received: (its entry hash, the receiving key).
    pending: Option<(Hash32, usize)>,
    /// Every handover's entry hash (the scripts answer old ones too).
    transfers: Vec<Hash32>,
    sealed: bool,
    hold: bool,
    disposed: bool,
    second_collector: bool,
    rehash_mismatch: bool,
}

/// A fund account (`schema/fund.md` §1): [debits posted, credits posted,
/// debits pending, credits pending].
#[derive(Clone, Debug)]
struct Account {
    kind: AccountKind,
    case: String,
    no_overdraft: bool,
    stages: u8,
    bal: [u64; 4],
}

/// A disbursement request (`schema/fund.md` §2.4).
#[derive(Clone, Debug)]
struct Request {
    case: String,
    from: String,
    to: String,
    amount: u64,
    requester: usize,
    stages: u8,
    /// The key of each approved stage, stage 1 first.
    approvals: Vec<usize>,
    rejected: bool,
    /// Settled: `Some(true)` paid, `Some(false)` voided.
    settled: Option<bool>,
    paid: u64,
}

/// What the model knows.
#[derive(Default)]
struct Model {
    pks: Vec<PublicKey>,
    /// Enrolled keys: roles, revoked.
    keys: HashMap<usize, (Vec<Role>, bool)>,
    /// Entries by hash: author key, kind.
    entries: HashMap<Hash32, (usize, &'static str)>,
    cases: BTreeSet<String>,
    /// (endorsed entry, endorsing key), any capacity.
    endorsed: HashSet<(Hash32, usize)>,
    items: BTreeMap<String, Item>,
    /// Digests claimed by an item.
    digests: HashSet<Digest>,
    accounts: BTreeMap<String, Account>,
    /// (account, bank reference) used.
    bank_refs: HashSet<(String, String)>,
    requests: BTreeMap<String, Request>,
    obligations: HashSet<String>,
    /// Designated uses per case.
    uses: HashMap<String, Vec<String>>,
    /// Total ordered per case, in fen.
    ordered: HashMap<String, u64>,
}

fn managed(k: AccountKind) -> bool {
    matches!(k, AccountKind::Fund | AccountKind::Case)
}

/// Digests in a registration or a re-hash: each of its algorithm's length,
/// one per algorithm, and (for a file) at least one.
fn digests_ok(digests: &[Digest], need_one: bool) -> bool {
    let mut algs = HashSet::new();
    digests.iter().all(|d| d.value.len() == d.alg.output_len() && algs.insert(d.alg))
        && !(need_one && digests.is_empty())
}

/// A re-hash matches when every algorithm it shares with the registration
/// has the same value, and it shares at least one.
fn rehash_matches(registered: &[Digest], rehash: &[Digest]) -> bool {
    let shared: Vec<_> =
        rehash.iter().filter_map(|d| registered.iter().find(|r| r.alg == d.alg).map(|r| (r, d))).collect();
    !shared.is_empty() && shared.iter().all(|(r, d)| r.value == d.value)
}

impl Model {
    fn key_index(&self, pk: &PublicKey) -> Option<usize> {
        self.pks.iter().position(|k| k == pk)
    }

    fn may_sign(&self, key: usize, kind: &str) -> bool {
        self.keys.get(&key).is_some_and(|(roles, revoked)| !revoked && roles.iter().any(|r| allowed(kind).contains(r)))
    }

    /// The author checks every entry passes (roles.md, "Checks every entry
    /// passes", step 4).
    fn authority(&self, signer: usize, kind: &str) -> Option<&'static str> {
        let kind = if kind.starts_with("Endorsed") { "Endorsed" } else { kind };
        match self.keys.get(&signer) {
            None => Some("author_not_enrolled"),
            Some((_, true)) => Some("author_revoked"),
            Some((roles, _)) if !roles.iter().any(|r| allowed(kind).contains(r)) => Some("role_not_allowed"),
            Some(_) => None,
        }
    }

    fn predict(&self, op: &Op, signer: usize, target_hash: Option<Hash32>) -> Expect {
        if let Some(code) = self.authority(signer, op_kind(op)) {
            return Expect::Refuse(code);
        }
        // Step 5: a case id names an opened case.
        if let Op::Domain { case_id, .. } = op {
            if !case_id.is_empty() && !self.cases.contains(case_id) {
                return Expect::Refuse("unknown_case");
            }
        }
        let verdict = match op {
            Op::Enroll { target, .. } if self.keys.contains_key(target) => no("key_already_enrolled"),
            Op::Enroll { .. } => Ok(()),
            // The genesis officer is the only key officer.
            Op::Revoke { target: 0, .. } => no("last_key_officer"),
            Op::Revoke { target, .. } => match self.keys.get(target) {
                None => no("unknown_key"),
                Some((_, true)) => no("already_revoked"),
                Some(_) => Ok(()),
            },
            Op::CaseOpen { case, .. } if self.cases.contains(&case_id(usize::from(*case))) => no("case_exists"),
            Op::CaseOpen { .. } => Ok(()),
            Op::Endorse { .. } => self.endorse(signer, target_hash, "witness"),
            Op::Correct { .. } => match target_hash.and_then(|h| self.entries.get(&h)) {
                None => no("unknown_entry"),
                // Only someone who may sign the corrected kind corrects it.
                Some((_, kind)) if !self.may_sign(signer, kind) => no("role_not_allowed"),
                Some(_) => Ok(()),
            },
            Op::Domain { case_id, body, .. } => match &**body {
                Body::Endorsed { entry_hash, capacity } => self.endorse(signer, Some(*entry_hash), capacity),
                Body::EvidenceRegistered { .. }
                | Body::Sealed { .. }
                | Body::CustodyTransferred { .. }
                | Body::CustodyReceived { .. }
                | Body::LegalHold { .. }
                | Body::HoldReleased { .. }
                | Body::Disposed { .. } => self.evidence(signer, case_id, body),
                _ => self.fund(signer, case_id, body),
            },
            Op::Resubmit { .. } => unreachable!(),
        };
        match verdict {
            Ok(()) => Expect::Accept,
            Err(e) => e,
        }
    }

    /// `Endorsed` (roles.md, "Endorsements"), then the capacity's own rule.
    fn endorse(&self, signer: usize, target: Option<Hash32>, capacity: &str) -> Verdict {
        let Some((h, &(author, kind))) = target.and_then(|h| self.entries.get(&h).map(|e| (h, e))) else {
            return no("unknown_entry");
        };
        if person(author) == person(signer) {
            return no("self_endorsement");
        }
        if self.endorsed.contains(&(h, signer)) {
            return no("already_endorsed");
        }
        match capacity {
            "witness" => Ok(()),
            "second-collector" => {
                if kind != "EvidenceRegistered" {
                    return no("capacity_mismatch");
                }
                let item = self.items.values().find(|i| i.reg == h).expect("a registration names its item");
                let mut codes = Vec::new();
                if !self.may_sign(signer, "EvidenceRegistered") {
                    codes.push("role_not_allowed");
                }
                if !item.collectors.iter().skip(1).any(|p| *p == person(signer)) {
                    codes.push("not_a_collector");
                }
                any_of(codes)
            }
            other => panic!("the scripts do not endorse as {other}"),
        }
    }

    /// May `to` receive custody now, from `from`? (evidence.md, custody)
    fn valid_receiver(&self, to: &PublicKey, from: usize) -> bool {
        self.key_index(to).is_some_and(|k| self.may_sign(k, "CustodyReceived") && person(k) != person(from))
    }

    /// The evidence rules (`schema/evidence.md`). The schema orders none of
    /// an item's checks, so every failing one is collected.
    fn evidence(&self, signer: usize, case: &str, body: &Body) -> Verdict {
        let mut codes = Vec::new();
        if let Body::EvidenceRegistered { evidence_id, digests, physical, description, collectors, .. } = body {
            if !digests_ok(digests, !physical) {
                codes.push("invalid_digest");
            } else if digests.iter().any(|d| self.digests.contains(d)) {
                codes.push("digest_exists");
            }
            if self.items.contains_key(evidence_id) {
                codes.push("evidence_exists");
            }
            if *physical && description.trim().is_empty() {
                codes.push("missing_field");
            }
            match collectors.first() {
                None => codes.push("missing_field"),
                Some(first) if name_person(first) != person(signer) => codes.push("registrant_not_collector"),
                Some(_) => {}
            }
            return any_of(codes);
        }
        let id = match body {
            Body::Sealed { evidence_id, .. }
            | Body::CustodyTransferred { evidence_id, .. }
            | Body::CustodyReceived { evidence_id, .. }
            | Body::LegalHold { evidence_id, .. }
            | Body::HoldReleased { evidence_id, .. }
            | Body::Disposed { evidence_id, .. } => evidence_id,
            _ => unreachable!(),
        };
        let Some(it) = self.items.get(id) else { return no("unknown_evidence") };
        if it.case != case {
            codes.push("case_mismatch");
        }
        if it.disposed {
            codes.push("already_disposed");
        }
        let not_holder = it.holder != signer;
        match body {
            Body::Sealed { .. } => {
                if not_holder {
                    codes.push("not_the_holder");
                }
                if it.sealed {
                    codes.push("already_sealed");
                }
            }
            Body::CustodyTransferred { to, .. } => {
                if not_holder {
                    codes.push("not_the_holder");
                }
                if it.pending.is_some() {
                    codes.push("transfer_pending");
                }
                if !self.valid_receiver(to, signer) {
                    codes.push("invalid_receiver");
                }
            }
            Body::CustodyReceived { transfer, digests, .. } => {
                match it.pending {
                    None => codes.push("unknown_transfer"),
                    Some((h, to)) => {
                        if h != *transfer {
                            codes.push("unknown_transfer");
                        }
                        // "signed by its addressee": the key it was sent to.
                        if to != signer {
                            codes.push("not_the_receiver");
                        }
                    }
                }
                if digests.is_empty() {
                    if !it.physical {
                        codes.push("missing_field");
                    }
                } else if !digests_ok(digests, true) {
                    codes.push("invalid_digest");
                }
            }
            Body::LegalHold { .. } => {
                if it.hold {
                    codes.push("already_on_hold");
                }
            }
            Body::HoldReleased { .. } => {
                if !it.hold {
                    codes.push("not_on_hold");
                }
            }
            Body::Disposed { .. } => {
                if not_holder {
                    codes.push("not_the_holder");
                }
                if it.hold {
                    codes.push("on_legal_hold");
                }
                if it.pending.is_some() {
                    codes.push("transfer_pending");
                }
            }
            _ => unreachable!(),
        }
        any_of(codes)
    }

    fn account(&self, id: &str) -> Result<&Account, Expect> {
        self.accounts.get(id).ok_or(Expect::Refuse("unknown_account"))
    }

    fn request(&self, id: &str) -> Result<&Request, Expect> {
        self.requests.get(id).ok_or(Expect::Refuse("unknown_request"))
    }

    /// A case account is acted on under its own case only.
    fn case_ok(&self, case: &str, a: &Account) -> Verdict {
        if a.kind == AccountKind::Case && a.case != case {
            return no("fund_case_mismatch");
        }
        Ok(())
    }

    fn bank_ref_free(&self, account: &str, bank_ref: &str) -> Verdict {
        if !bank_ref.is_empty() && self.bank_refs.contains(&(account.to_string(), bank_ref.to_string())) {
            return no("duplicate_bank_ref");
        }
        Ok(())
    }

    /// A transfer `debit` → `credit`: `posted` posted, `reserved` made
    /// pending, `released` pending released. The new balances, or
    /// `amount_overflow`, then `insufficient_funds` (fund.md §1.1, §2.1).
    fn book(
        &self,
        debit: &str,
        credit: &str,
        posted: u64,
        reserved: u64,
        released: u64,
    ) -> Result<[[u64; 4]; 2], Expect> {
        let (d, c) = (self.accounts[debit].bal, self.accounts[credit].bal);
        let add = |a: u64, b: u64| a.checked_add(b).ok_or(Expect::Refuse("amount_overflow"));
        let release = |a: u64| a.checked_sub(released).expect("a reservation is released once");
        let nd = [add(d[0], posted)?, d[1], release(add(d[2], reserved)?), d[3]];
        let nc = [c[0], add(c[1], posted)?, c[2], release(add(c[3], reserved)?)];
        let available = i128::from(nd[1]) - i128::from(nd[0]) - i128::from(nd[2]);
        if self.accounts[debit].no_overdraft && available < 0 {
            return Err(Expect::Refuse("insufficient_funds"));
        }
        Ok([nd, nc])
    }

    /// The fund rules (`schema/fund.md`), in the order of §2.1: shape,
    /// new ids and named records, kinds and case, state, people, money.
    fn fund(&self, signer: usize, case: &str, body: &Body) -> Verdict {
        match body {
            Body::AccountOpened { account_id, account_kind, no_overdraft, stages, .. } => {
                let mut shape = Vec::new();
                if *stages > 5 || (*stages > 0 && !managed(*account_kind)) {
                    shape.push("invalid_value");
                }
                if *no_overdraft && *account_kind == AccountKind::Payer {
                    shape.push("invalid_value");
                }
                if *account_kind == AccountKind::Case && case.is_empty() {
                    shape.push("missing_field");
                }
                any_of(shape)?;
                if self.accounts.contains_key(account_id) {
                    return no("account_exists");
                }
                Ok(())
            }
            Body::Obligation { obligation_id, payer, amount_fen, .. } => {
                let mut shape = Vec::new();
                if case.is_empty() {
                    shape.push("missing_field");
                }
                if *amount_fen == 0 {
                    shape.push("zero_amount");
                }
                any_of(shape)?;
                if self.obligations.contains(obligation_id) {
                    return no("obligation_exists");
                }
                if self.account(payer)?.kind != AccountKind::Payer {
                    return no("wrong_account_kind");
                }
                // The case's total ordered is a sum too (fund.md: every sum
                // is checked).
                let ordered = self.ordered.get(case).copied().unwrap_or(0);
                if ordered.checked_add(*amount_fen).is_none() {
                    return no("amount_overflow");
                }
                Ok(())
            }
            Body::FundReceipt { account_id, from, amount_fen, bank_ref } => {
                if *amount_fen == 0 {
                    return no("zero_amount");
                }
                let (to, payer) = (self.account(account_id)?, self.account(from)?);
                if !managed(to.kind) || payer.kind != AccountKind::Payer {
                    return no("wrong_account_kind");
                }
                self.case_ok(case, to)?;
                self.bank_ref_free(account_id, bank_ref)?;
                self.book(from, account_id, *amount_fen, 0, 0).map(drop)
            }
            Body::Remittance { from, to, amount_fen, bank_ref } => {
                if *amount_fen == 0 {
                    return no("zero_amount");
                }
                let (source, treasury) = (self.account(from)?, self.account(to)?);
                if !managed(source.kind) || treasury.kind != AccountKind::Treasury {
                    return no("wrong_account_kind");
                }
                self.case_ok(case, source)?;
                self.bank_ref_free(from, bank_ref)?;
                self.book(from, to, *amount_fen, 0, 0).map(drop)
            }
            Body::DisbursementRequested { request_id, from, to, amount_fen, purpose, .. } => {
                if *amount_fen == 0 {
                    return no("zero_amount");
                }
                if self.requests.contains_key(request_id) {
                    return no("request_exists");
                }
                let (source, payee) = (self.account(from)?, self.account(to)?);
                if !managed(source.kind) || payee.kind != AccountKind::Payee {
                    return no("wrong_account_kind");
                }
                self.case_ok(case, source)?;
                let uses = self.uses.get(case).filter(|u| !case.is_empty() && !u.is_empty());
                if uses.is_some_and(|u| !u.contains(purpose)) {
                    return no("purpose_mismatch");
                }
                self.book(from, to, 0, *amount_fen, 0).map(drop)
            }
            Body::DisbursementApproved { request_id, stage } | Body::DisbursementRejected { request_id, stage, .. } => {
                let r = self.request(request_id)?;
                if r.case != case {
                    return no("fund_case_mismatch");
                }
                if r.settled.is_some() {
                    return no("request_settled");
                }
                if r.rejected {
                    return no("request_rejected");
                }
                if usize::from(*stage) != r.approvals.len() + 1 || *stage > r.stages {
                    return no("stage_out_of_order");
                }
                if person(signer) == person(r.requester) {
                    return no("self_approval");
                }
                if r.approvals.iter().any(|a| person(*a) == person(signer)) {
                    return no("approver_repeated");
                }
                Ok(())
            }
            Body::DisbursementPaid { request_id, amount_fen, bank_ref } => {
                if *amount_fen == 0 {
                    return no("zero_amount");
                }
                let r = self.request(request_id)?;
                if r.case != case {
                    return no("fund_case_mismatch");
                }
                if r.settled.is_some() {
                    return no("request_settled");
                }
                if r.rejected {
                    return no("request_rejected");
                }
                if r.approvals.len() < usize::from(r.stages) {
                    return no("not_approved");
                }
                if *amount_fen > r.amount {
                    return no("amount_exceeds_approved");
                }
                if r.approvals.iter().any(|a| person(*a) == person(signer)) {
                    return no("approver_cannot_pay");
                }
                self.bank_ref_free(&r.from, bank_ref)?;
                self.book(&r.from, &r.to, *amount_fen, 0, r.amount).map(drop)
            }
            Body::DisbursementVoided { request_id, .. } => {
                let r = self.request(request_id)?;
                if r.case != case {
                    return no("fund_case_mismatch");
                }
                if r.settled.is_some() {
                    return no("request_settled");
                }
                self.book(&r.from, &r.to, 0, 0, r.amount).map(drop)
            }
            other => panic!("the scripts do not write {}", kind_name(other)),
        }
    }

    fn post(&mut self, debit: &str, credit: &str, posted: u64, reserved: u64, released: u64) {
        let [d, c] = self.book(debit, credit, posted, reserved, released).expect("predicted and accepted");
        self.accounts.get_mut(debit).expect("known").bal = d;
        self.accounts.get_mut(credit).expect("known").bal = c;
    }

    fn claim_ref(&mut self, account: &str, bank_ref: &str) {
        if !bank_ref.is_empty() {
            self.bank_refs.insert((account.to_string(), bank_ref.to_string()));
        }
    }

    fn accepted(&mut self, op: &Op, signer: usize, hash: Hash32, target_hash: Option<Hash32>) {
        let kind = match op {
            Op::Domain { body, .. } => kind_name(body),
            op => op_kind(op),
        };
        self.entries.insert(hash, (signer, kind));
        match op {
            Op::Enroll { target, roles, .. } => {
                self.keys.insert(*target, (roles.clone(), false));
            }
            Op::Revoke { target, .. } => {
                if let Some(k) = self.keys.get_mut(target) {
                    k.1 = true;
                }
            }
            Op::CaseOpen { case, .. } => {
                self.cases.insert(case_id(usize::from(*case)));
            }
            Op::Endorse { .. } => {
                self.endorsed.insert((target_hash.expect("endorsed a known entry"), signer));
            }
            Op::Correct { .. } | Op::Resubmit { .. } => {}
            Op::Domain { case_id, body, .. } => self.accepted_domain(signer, case_id, body, hash),
        }
    }

    fn item_mut(&mut self, id: &str) -> &mut Item {
        self.items.get_mut(id).expect("an accepted entry acts on a known item")
    }

    fn accepted_domain(&mut self, signer: usize, case: &str, body: &Body, hash: Hash32) {
        match body {
            Body::Endorsed { entry_hash, capacity } => {
                self.endorsed.insert((*entry_hash, signer));
                if capacity == "second-collector" {
                    let it = self.items.values_mut().find(|i| i.reg == *entry_hash).expect("a registration");
                    it.second_collector = true;
                }
            }
            Body::EvidenceRegistered { evidence_id, digests, physical, collectors, .. } => {
                self.digests.extend(digests.iter().cloned());
                let item = Item {
                    case: case.to_string(),
                    reg: hash,
                    collectors: collectors.iter().map(|n| name_person(n)).collect(),
                    physical: *physical,
                    digests: digests.clone(),
                    holder: signer,
                    pending: None,
                    transfers: Vec::new(),
                    sealed: false,
                    hold: false,
                    disposed: false,
                    second_collector: false,
                    rehash_mismatch: false,
                };
                self.items.insert(evidence_id.clone(), item);
            }
            Body::Sealed { evidence_id, .. } => self.item_mut(evidence_id).sealed = true,
            Body::CustodyTransferred { evidence_id, to, .. } => {
                let to = self.key_index(to).expect("an accepted receiver is a known key");
                let it = self.item_mut(evidence_id);
                it.pending = Some((hash, to));
                it.transfers.push(hash);
            }
            Body::CustodyReceived { evidence_id, digests, .. } => {
                let it = self.item_mut(evidence_id);
                it.holder = it.pending.take().expect("a receipt answers the pending handover").1;
                if !digests.is_empty() && !rehash_matches(&it.digests, digests) {
                    it.rehash_mismatch = true;
                }
            }
            Body::LegalHold { evidence_id, .. } => self.item_mut(evidence_id).hold = true,
            Body::HoldReleased { evidence_id, .. } => self.item_mut(evidence_id).hold = false,
            Body::Disposed { evidence_id, .. } => self.item_mut(evidence_id).disposed = true,
            Body::AccountOpened { account_id, account_kind, no_overdraft, stages, .. } => {
                let case = if *account_kind == AccountKind::Case { case.to_string() } else { String::new() };
                let a =
                    Account { kind: *account_kind, case, no_overdraft: *no_overdraft, stages: *stages, bal: [0; 4] };
                self.accounts.insert(account_id.clone(), a);
            }
            Body::Obligation { obligation_id, designated_use, amount_fen, .. } => {
                self.obligations.insert(obligation_id.clone());
                *self.ordered.entry(case.to_string()).or_default() += amount_fen;
                let uses = self.uses.entry(case.to_string()).or_default();
                if !uses.contains(designated_use) {
                    uses.push(designated_use.clone());
                }
            }
            Body::FundReceipt { account_id, from, amount_fen, bank_ref } => {
                self.claim_ref(account_id, bank_ref);
                self.post(from, account_id, *amount_fen, 0, 0);
            }
            Body::Remittance { from, to, amount_fen, bank_ref } => {
                self.claim_ref(from, bank_ref);
                self.post(from, to, *amount_fen, 0, 0);
            }
            Body::DisbursementRequested { request_id, from, to, amount_fen, .. } => {
                self.post(from, to, 0, *amount_fen, 0);
                let r = Request {
                    case: case.to_string(),
                    from: from.clone(),
                    to: to.clone(),
                    amount: *amount_fen,
                    requester: signer,
                    stages: self.accounts[from].stages,
                    approvals: Vec::new(),
                    rejected: false,
                    settled: None,
                    paid: 0,
                };
                self.requests.insert(request_id.clone(), r);
            }
            Body::DisbursementApproved { request_id, .. } => {
                self.requests.get_mut(request_id).expect("known").approvals.push(signer);
            }
            Body::DisbursementRejected { request_id, .. } => {
                self.requests.get_mut(request_id).expect("known").rejected = true;
            }
            Body::DisbursementPaid { request_id, amount_fen, bank_ref } => {
                let r = self.requests[request_id].clone();
                self.claim_ref(&r.from, bank_ref);
                self.post(&r.from, &r.to, *amount_fen, 0, r.amount);
                let r = self.requests.get_mut(request_id).expect("known");
                r.settled = Some(true);
                r.paid = *amount_fen;
            }
            Body::DisbursementVoided { request_id, .. } => {
                let r = self.requests[request_id].clone();
                self.post(&r.from, &r.to, 0, 0, r.amount);
                self.requests.get_mut(request_id).expect("known").settled = Some(false);
            }
            other => panic!("the scripts do not write {}", kind_name(other)),
        }
    }
}

// ---- the scripts: each op is drawn when its group is built, against the
// ---- model's state after the previous groups (never the same group's).

const USES: [&str; 2] = ["restoration", "monitoring"];
const PURPOSES: [&str; 3] = ["restoration", "monitoring", "travel"];

fn natural_kind(n: usize) -> AccountKind {
    match n {
        0 | 1 => AccountKind::Fund,
        2 | 3 => AccountKind::Case,
        4 | 5 => AccountKind::Payer,
        6 | 7 => AccountKind::Payee,
        _ => AccountKind::Treasury,
    }
}

fn nth<T: Clone>(set: impl IntoIterator<Item = T>, n: usize) -> T {
    set.into_iter().nth(n).expect("n < len")
}

/// The script generator: the seeded sequence and fresh-id counters.
struct Gen {
    rng: Rng,
    items: u32,
    requests: u32,
    obligations: u32,
    digest: u8,
}

impl Gen {
    fn below(&mut self, n: usize) -> usize {
        self.rng.below(n)
    }
    fn one_in(&mut self, n: usize) -> bool {
        self.rng.one_in(n)
    }

    /// Mostly a key the model thinks may sign `kind`; sometimes anyone.
    fn signer_for(&mut self, m: &Model, kind: &str) -> usize {
        let fit: Vec<usize> = (0..PEOPLE).filter(|k| m.authority(*k, kind).is_none()).collect();
        if fit.is_empty() || self.one_in(6) {
            self.below(PEOPLE)
        } else {
            fit[self.below(fit.len())]
        }
    }

    /// Mostly `key` (the holder, the receiver), else someone fit.
    fn this_or(&mut self, m: &Model, key: Option<usize>, kind: &str) -> usize {
        match key {
            Some(k) if !self.one_in(4) => k,
            _ => self.signer_for(m, kind),
        }
    }

    /// Mostly an opened case, sometimes any (perhaps never opened).
    fn case(&mut self, m: &Model) -> String {
        if m.cases.is_empty() || self.one_in(10) {
            case_id(self.below(CASES))
        } else {
            nth(m.cases.iter().cloned(), self.below(m.cases.len()))
        }
    }

    fn case_or_none(&mut self, m: &Model) -> String {
        if self.one_in(2) {
            String::new()
        } else {
            self.case(m)
        }
    }

    fn amount(&mut self, typical: u64) -> u64 {
        match self.below(40) {
            0 | 1 => 0,
            2 => u64::MAX / 2 + self.below(1000) as u64,
            3 => u64::MAX - self.below(1000) as u64,
            _ => 1 + self.rng.next() % typical,
        }
    }

    /// Sometimes exactly what `account` has available, or one fen more
    /// (the edge of `insufficient_funds`); else [`Gen::amount`].
    fn edge_or(&mut self, m: &Model, account: &str, typical: u64) -> u64 {
        let available =
            m.accounts.get(account).map(|a| i128::from(a.bal[1]) - i128::from(a.bal[0]) - i128::from(a.bal[2]));
        match available.and_then(|v| u64::try_from(v).ok()) {
            Some(v) if v > 0 && self.one_in(4) => v.saturating_add(self.below(2) as u64),
            _ => self.amount(typical),
        }
    }

    fn bank_ref(&mut self) -> String {
        if self.one_in(4) {
            String::new()
        } else {
            format!("B{}", self.below(12))
        }
    }

    fn op(&mut self, m: &Model, acked: &[Hash32]) -> Op {
        if m.cases.len() < 2 && self.one_in(3) {
            return Op::CaseOpen { signer: self.signer_for(m, "CaseOpened"), case: self.below(CASES) as u8 };
        }
        match self.below(90) {
            0..=4 => {
                Op::Enroll { signer: signer(&mut self.rng), target: self.below(PEOPLE), roles: roles(&mut self.rng) }
            }
            5 => Op::Revoke { signer: signer(&mut self.rng), target: self.below(PEOPLE) },
            6..=8 => Op::CaseOpen { signer: 1 + self.below(PEOPLE - 1), case: self.below(CASES) as u8 },
            9..=12 => Op::Endorse { signer: signer(&mut self.rng), back: self.below(8) },
            13..=15 => Op::Correct { signer: signer(&mut self.rng), back: self.below(8) },
            16..=19 => Op::Resubmit { back: self.below(8) },
            20..=51 => self.evidence(m, acked),
            _ => self.fund(m),
        }
    }

    fn register(&mut self, m: &Model) -> Op {
        let signer = self.signer_for(m, "EvidenceRegistered");
        let case_id = self.case(m);
        let evidence_id = if !m.items.is_empty() && self.one_in(10) {
            nth(m.items.keys().cloned(), self.below(m.items.len()))
        } else {
            self.items += 1;
            format!("E{}", self.items)
        };
        let physical = self.one_in(8);
        let with_digests: Vec<&Item> = m.items.values().filter(|i| !i.digests.is_empty()).collect();
        let b = if !with_digests.is_empty() && self.one_in(8) {
            with_digests[self.below(with_digests.len())].digests[0].value[0]
        } else {
            self.digest = self.digest % 200 + 1;
            self.digest
        };
        let algs: &[DigestAlg] = match self.below(6) {
            0 => &[DigestAlg::Sha256],
            1 => &[DigestAlg::Blake3, DigestAlg::Sm3],
            _ => &[DigestAlg::Blake3, DigestAlg::Sha256, DigestAlg::Sm3],
        };
        let mut digests: Vec<Digest> = if physical && self.one_in(2) {
            Vec::new()
        } else {
            algs.iter().map(|alg| Digest { alg: *alg, value: vec![b; 32] }).collect()
        };
        if self.one_in(20) {
            // Wrong length, or an algorithm listed twice (or, with SHA-256
            // alone, a valid extra BLAKE3).
            match self.below(2) {
                0 => digests.push(Digest { alg: DigestAlg::Sha256, value: vec![b; 31] }),
                _ => digests.push(Digest { alg: DigestAlg::Blake3, value: vec![b; 32] }),
            }
        }
        let description = if physical && self.one_in(2) { "" } else { "outfall sample" };
        let mut people = Vec::new();
        if !self.one_in(30) {
            people.push(if self.one_in(8) { self.below(6) } else { person(signer) });
            if !self.one_in(4) {
                people.push(self.below(6));
            }
            if self.one_in(4) {
                people.push(self.below(6));
            }
        }
        let collectors = people
            .into_iter()
            .map(|p| match (p, self.one_in(3)) {
                (0, false) => "Officer".to_string(),
                (0, true) => "officer".to_string(),
                (p, false) => format!("P{p}"),
                (p, true) => format!("p{p}"),
            })
            .collect();
        let body = Body::EvidenceRegistered {
            evidence_id,
            category: if physical { "physical" } else { "electronic-data" }.into(),
            digests,
            size: 10,
            media_type: "image/jpeg".into(),
            physical,
            description: description.into(),
            source: "on site".into(),
            method: "photograph".into(),
            legal_basis: "Civil Procedure Law art. 67".into(),
            collectors,
            witness: String::new(),
            place: "Chaobai River".into(),
            collected_at_ms: 1,
            collected_tz_offset_min: 480,
            tool: "camera".into(),
            tool_version: "1".into(),
            original_medium: "SD card".into(),
            provenance: String::new(),
            prior_digests: Vec::new(),
        };
        Op::Domain { signer, case_id, body: Box::new(body) }
    }

    fn evidence(&mut self, m: &Model, acked: &[Hash32]) -> Op {
        let mut pick = if m.items.is_empty() { 0 } else { self.below(15) };
        // A receipt needs a handover, a release a hold (mostly).
        if (8..=10).contains(&pick) && !m.items.values().any(|i| i.pending.is_some()) && !self.one_in(4) {
            pick = 6;
        }
        if pick == 12 && !m.items.values().any(|i| i.hold) && !self.one_in(4) {
            pick = 11;
        }
        if pick <= 2 {
            return self.register(m);
        }
        // Mostly an item the op fits, else any, rarely an unknown one.
        let fits: fn(&Item) -> bool = match pick {
            3 | 4 => |i| !i.second_collector,
            5 => |i| !i.sealed && !i.disposed,
            6 | 7 => |i| i.pending.is_none() && !i.disposed,
            8..=10 => |i| i.pending.is_some(),
            11 => |i| !i.hold && !i.disposed,
            12 => |i| i.hold,
            _ => |i| !i.disposed && i.pending.is_none(),
        };
        let fit: Vec<(&String, &Item)> = m.items.iter().filter(|(_, i)| fits(i)).collect();
        let (id, item) = if self.one_in(15) {
            ("E-none".to_string(), None)
        } else if !fit.is_empty() && !self.one_in(5) {
            let (id, it) = fit[self.below(fit.len())];
            (id.clone(), Some(it))
        } else {
            let (id, it) = nth(m.items.iter(), self.below(m.items.len()));
            (id.clone(), Some(it))
        };
        let case_id = match item {
            Some(it) if !self.one_in(12) => it.case.clone(),
            _ => self.case(m),
        };
        let holder = item.map(|it| it.holder);
        let evidence_id = id.clone();
        let (signer, body) = match pick {
            3 | 4 => {
                // The second collector confirms (or someone else tries).
                let second: Vec<usize> = (0..PEOPLE)
                    .filter(|k| item.is_some_and(|it| it.collectors.iter().skip(1).any(|p| *p == person(*k))))
                    .collect();
                let signer = if !second.is_empty() && !self.one_in(3) {
                    second[self.below(second.len())]
                } else {
                    self.signer_for(m, "EvidenceRegistered")
                };
                let entry_hash = match item {
                    Some(it) if !self.one_in(8) => it.reg,
                    _ if !acked.is_empty() => acked[self.below(acked.len())],
                    _ => [0x55; 32],
                };
                let body = Body::Endorsed { entry_hash, capacity: "second-collector".into() };
                return Op::Domain { signer, case_id: String::new(), body: Box::new(body) };
            }
            5 => (
                self.this_or(m, holder, "Sealed"),
                Body::Sealed { evidence_id, seal_id: "S-1".into(), note: String::new() },
            ),
            6 | 7 => {
                let signer = self.this_or(m, holder, "CustodyTransferred");
                let to = if self.one_in(3) { self.below(PEOPLE) } else { self.signer_for(m, "CustodyReceived") };
                let seal = [SealState::None, SealState::Intact, SealState::Broken][self.below(3)];
                (signer, Body::CustodyTransferred { evidence_id, to: m.pks[to], purpose: "storage".into(), seal })
            }
            8..=10 => {
                let pending = item.and_then(|it| it.pending);
                let signer = self.this_or(m, pending.map(|p| p.1), "CustodyReceived");
                let transfer = match (pending, item) {
                    (Some((h, _)), _) if !self.one_in(6) => h,
                    (_, Some(it)) if !it.transfers.is_empty() => it.transfers[self.below(it.transfers.len())],
                    _ => [0x77; 32],
                };
                let reg = item.map(|it| it.digests.clone()).unwrap_or_default();
                let digests = match self.below(10) {
                    0 => Vec::new(),
                    1 => vec![Digest { alg: DigestAlg::Sha256, value: vec![0xEE; 32] }],
                    2 => vec![Digest { alg: DigestAlg::Blake3, value: vec![1; 5] }],
                    _ if reg.is_empty() => Vec::new(),
                    _ => {
                        let (k, s) = (1 + self.below(reg.len()), self.below(reg.len()));
                        (0..k).map(|i| reg[(s + i) % reg.len()].clone()).collect()
                    }
                };
                let seal = [SealState::None, SealState::Intact, SealState::Broken][self.below(3)];
                (signer, Body::CustodyReceived { evidence_id, transfer, digests, seal })
            }
            11 => (self.signer_for(m, "LegalHold"), Body::LegalHold { evidence_id, reason: "appeal".into() }),
            12 => (self.signer_for(m, "HoldReleased"), Body::HoldReleased { evidence_id, reason: "done".into() }),
            _ => (
                self.this_or(m, holder.filter(|h| m.may_sign(*h, "Disposed")), "Disposed"),
                Body::Disposed { evidence_id, method: "returned".into(), reason: "case closed".into() },
            ),
        };
        Op::Domain { signer, case_id, body: Box::new(body) }
    }

    /// An account of one of `kinds` the model knows, or any id (perhaps
    /// never opened: A9 never is).
    fn account(&mut self, m: &Model, kinds: &[AccountKind]) -> String {
        let fit: Vec<&String> = m.accounts.iter().filter(|(_, a)| kinds.contains(&a.kind)).map(|(id, _)| id).collect();
        if fit.is_empty() || self.one_in(10) {
            format!("A{}", self.below(10))
        } else {
            fit[self.below(fit.len())].clone()
        }
    }

    /// The case to name when acting on `account`: its own, mostly.
    fn case_for(&mut self, m: &Model, account: &str) -> String {
        match m.accounts.get(account) {
            Some(a) if a.kind == AccountKind::Case && !self.one_in(10) => a.case.clone(),
            _ => self.case_or_none(m),
        }
    }

    /// A request `want` likes, mostly; else any; rarely an unknown one.
    fn request<'m>(&mut self, m: &'m Model, want: fn(&Request) -> bool) -> (String, Option<&'m Request>) {
        let fit: Vec<(&String, &Request)> = m.requests.iter().filter(|(_, r)| want(r)).collect();
        if !fit.is_empty() && !self.one_in(6) {
            let (id, r) = fit[self.below(fit.len())];
            (id.clone(), Some(r))
        } else if !m.requests.is_empty() && !self.one_in(4) {
            let (id, r) = nth(m.requests.iter(), self.below(m.requests.len()));
            (id.clone(), Some(r))
        } else {
            ("R-none".to_string(), None)
        }
    }

    fn request_case(&mut self, m: &Model, r: Option<&Request>) -> String {
        match r {
            Some(r) if !self.one_in(10) => r.case.clone(),
            _ => self.case_or_none(m),
        }
    }

    fn fund(&mut self, m: &Model) -> Op {
        let mut pick = if m.accounts.len() < 6 && self.one_in(2) { 0 } else { self.below(20) };
        // A decision, payment or void needs a request in the right state
        // (mostly): else the script requests (or approves) first.
        let awaiting = m
            .requests
            .values()
            .any(|r| r.settled.is_none() && !r.rejected && r.approvals.len() < usize::from(r.stages));
        let payable = m
            .requests
            .values()
            .any(|r| r.settled.is_none() && !r.rejected && r.approvals.len() == usize::from(r.stages));
        let open = m.requests.values().any(|r| r.settled.is_none());
        if (11..=15).contains(&pick) && !awaiting && !self.one_in(4) {
            pick = 8;
        }
        if (16..=18).contains(&pick) && !payable && !self.one_in(4) {
            pick = if awaiting { 11 } else { 8 };
        }
        if pick == 19 && !open && !self.one_in(4) {
            pick = 8;
        }
        let (signer, case_id, body) = match pick {
            0 | 1 => {
                // Mostly an id not yet opened.
                let unopened: Vec<usize> = (0..9).filter(|n| !m.accounts.contains_key(&format!("A{n}"))).collect();
                let n = if unopened.is_empty() || self.one_in(5) {
                    self.below(9)
                } else {
                    unopened[self.below(unopened.len())]
                };
                let kind = if self.one_in(5) { ALL_ACCOUNT_KINDS[self.below(5)] } else { natural_kind(n) };
                let no_overdraft = if kind == AccountKind::Payer { self.one_in(6) } else { self.one_in(2) };
                let stages = match (managed(kind), self.below(15)) {
                    (true, 0) => 6,
                    (true, s) => (s % 3) as u8,
                    (false, 0 | 1) => 1 + (self.below(2) as u8),
                    (false, _) => 0,
                };
                let case_id = match kind {
                    AccountKind::Case if self.one_in(15) => String::new(),
                    AccountKind::Case => self.case(m),
                    _ if self.one_in(8) => self.case(m),
                    _ => String::new(),
                };
                let body = Body::AccountOpened {
                    account_id: format!("A{n}"),
                    account_kind: kind,
                    name: format!("account {n}"),
                    no_overdraft,
                    stages,
                };
                (self.signer_for(m, "AccountOpened"), case_id, body)
            }
            2..=5 => {
                let account_id = self.account(m, &[AccountKind::Fund, AccountKind::Case]);
                let from = self.account(m, &[AccountKind::Payer]);
                let case_id = self.case_for(m, &account_id);
                let (amount_fen, bank_ref) = (self.amount(5000), self.bank_ref());
                let body = Body::FundReceipt { account_id, from, amount_fen, bank_ref };
                (self.signer_for(m, "FundReceipt"), case_id, body)
            }
            6 => {
                let from = self.account(m, &[AccountKind::Fund, AccountKind::Case]);
                let to = self.account(m, &[AccountKind::Treasury]);
                let case_id = self.case_for(m, &from);
                let (amount_fen, bank_ref) = (self.edge_or(m, &from, 2000), self.bank_ref());
                (self.signer_for(m, "Remittance"), case_id, Body::Remittance { from, to, amount_fen, bank_ref })
            }
            7 => {
                let obligation_id = if !m.obligations.is_empty() && self.one_in(10) {
                    "O1".to_string()
                } else {
                    self.obligations += 1;
                    format!("O{}", self.obligations)
                };
                let case_id = if self.one_in(10) { String::new() } else { self.case(m) };
                let body = Body::Obligation {
                    obligation_id,
                    payer: self.account(m, &[AccountKind::Payer]),
                    amount_fen: self.amount(10_000),
                    designated_use: USES[self.below(USES.len())].into(),
                    due_ms: 0,
                    judgment: None,
                };
                (self.signer_for(m, "Obligation"), case_id, body)
            }
            8..=10 => {
                let request_id = if !m.requests.is_empty() && self.one_in(10) {
                    nth(m.requests.keys().cloned(), self.below(m.requests.len()))
                } else {
                    self.requests += 1;
                    format!("R{}", self.requests)
                };
                let from = self.account(m, &[AccountKind::Fund, AccountKind::Case]);
                let to = self.account(m, &[AccountKind::Payee]);
                let case_id = self.case_for(m, &from);
                let amount_fen = self.edge_or(m, &from, 3000);
                let body = Body::DisbursementRequested {
                    request_id,
                    from,
                    to,
                    amount_fen,
                    purpose: PURPOSES[self.below(PURPOSES.len())].into(),
                    note: String::new(),
                };
                (self.signer_for(m, "DisbursementRequested"), case_id, body)
            }
            11..=15 => {
                let (request_id, r) = self
                    .request(m, |r| r.settled.is_none() && !r.rejected && r.approvals.len() < usize::from(r.stages));
                let stage = match r {
                    Some(r) if !self.one_in(5) => r.approvals.len() as u8 + 1,
                    _ => 1 + self.below(4) as u8,
                };
                let case_id = self.request_case(m, r);
                let body = if pick == 15 {
                    Body::DisbursementRejected { request_id, stage, reason: "not for this use".into() }
                } else {
                    Body::DisbursementApproved { request_id, stage }
                };
                (self.signer_for(m, "DisbursementApproved"), case_id, body)
            }
            16..=18 => {
                let (request_id, r) = self
                    .request(m, |r| r.settled.is_none() && !r.rejected && r.approvals.len() == usize::from(r.stages));
                let a = r.map_or(100, |r| r.amount);
                let amount_fen = match self.below(12) {
                    0 => 0,
                    1 => a.saturating_add(1),
                    2 => a.saturating_add(1 + self.below(100) as u64),
                    3 => a,
                    _ => 1 + self.rng.next() % a,
                };
                let case_id = self.request_case(m, r);
                let body = Body::DisbursementPaid { request_id, amount_fen, bank_ref: self.bank_ref() };
                // Sometimes one of its approvers (or another key of one) pays.
                let approvers: Vec<usize> = (0..PEOPLE)
                    .filter(|k| m.may_sign(*k, "DisbursementPaid"))
                    .filter(|k| r.is_some_and(|r| r.approvals.iter().any(|a| person(*a) == person(*k))))
                    .collect();
                let signer = if !approvers.is_empty() && self.one_in(2) {
                    approvers[self.below(approvers.len())]
                } else {
                    self.signer_for(m, "DisbursementPaid")
                };
                (signer, case_id, body)
            }
            _ => {
                let (request_id, r) = self.request(m, |r| r.settled.is_none());
                let case_id = self.request_case(m, r);
                let body = Body::DisbursementVoided { request_id, reason: "withdrawn".into() };
                (self.signer_for(m, "DisbursementVoided"), case_id, body)
            }
        };
        Op::Domain { signer, case_id, body: Box::new(body) }
    }
}

/// One submitted statement: the op it came from (a resubmission keeps the
/// original's), its signer, the hash it points at, its bytes.
#[derive(Clone)]
struct Sent {
    op: Op,
    signer: usize,
    target_hash: Option<Hash32>,
    statement: Vec<u8>,
    signature: [u8; 64],
}

/// `(author, nonce)`: what makes a statement unique in a ledger.
type NonceKey = ([u8; 32], [u8; 16]);

#[derive(Default)]
struct Run {
    groups_with_several: usize,
    statements: usize,
    /// Judged statements whose outcome the model predicted exactly.
    exact: usize,
    /// Judged statements the model predicted as "refused, one of these".
    one_of: usize,
    accepted: usize,
    refused: usize,
    /// Per kind: accepted, refused, refusals by code.
    by_kind: BTreeMap<&'static str, (usize, usize, BTreeMap<String, usize>)>,
    /// Refusal codes of evidence and fund statements.
    codes: BTreeSet<String>,
}

fn run_script(seed: u64) -> Run {
    let mut gen = Gen {
        rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
        items: 0,
        requests: 0,
        obligations: 0,
        digest: 0,
    };
    let tmp = tempfile::tempdir().unwrap();
    let l = Ledger::init(tmp.path(), "model.example/pil", "Officer", "Unit").unwrap();
    let mut people = vec![ledger::read_key_file(&l.paths().officer_key()).unwrap()];
    for _ in 1..PEOPLE {
        people.push(keys::generate());
    }
    let origin = l.origin().to_string();
    let w = l.writer().unwrap().clone();
    // One runtime thread and ONE blocking thread: `append` checks each
    // signature on the blocking pool, whose queue is FIFO, and the wakeups
    // come back in that order (the runtime's remote queue is FIFO too); so
    // jobs reach the writer's queue in spawn order, provided every task is
    // already waiting on its check when the first check ends (see the gate
    // below). (With several blocking threads the order would be a race.)
    let rt = tokio::runtime::Builder::new_current_thread().max_blocking_threads(1).build().unwrap();

    let mut model = Model { pks: people.iter().map(|k| k.verifying_key().to_bytes()).collect(), ..Model::default() };
    model.keys.insert(0, (vec![Role::KeyOfficer], false));
    model.entries.insert(hash::entry_hash(&l.entry(0).unwrap().unwrap()), (0, "Genesis"));
    // The officer enrols most people first; then anything goes.
    // Each of keys 1..=6 gets one of the main roles (in a seeded order) and
    // some random ones, so that every script has people for both sides.
    let mut main =
        [Role::Prosecutor, Role::Finance, Role::Custodian, Role::Approver, Role::FinanceReviewer, Role::Assistant];
    for i in (1..main.len()).rev() {
        main.swap(i, gen.below(i + 1));
    }
    // In half the scripts P1's two keys split a disbursement's duties (one
    // approves, the other requests or pays): only "another person" stops it.
    let split = gen.one_in(2);
    let mut prefix: VecDeque<Op> = VecDeque::new();
    for target in 1..PEOPLE {
        if !gen.one_in(8) {
            let mut roles = roles(&mut gen.rng);
            roles.push(main[target - 1]);
            match target {
                1 if split => roles.push(Role::Approver),
                6 if split => roles.push(Role::Finance),
                _ => {}
            }
            roles.sort();
            roles.dedup();
            prefix.push_back(Op::Enroll { signer: 0, target, roles });
        }
    }
    let total = prefix.len() + 80 + gen.below(80);
    let mut sent: Vec<Sent> = Vec::new();
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut acked: Vec<Hash32> = Vec::new(); // hashes of accepted entries, in order
    let mut run = Run::default();

    while sent.len() < total {
        let chunk = (1 + gen.below(7)).min(total - sent.len());
        // Build the group's statements against what the model knows after
        // the earlier groups; hashes refer to entries acked before.
        let mut batch: Vec<Sent> = Vec::new();
        for _ in 0..chunk {
            let op = match prefix.pop_front() {
                Some(op) => op,
                None => gen.op(&model, &acked),
            };
            let recent = |back: usize| acked.iter().rev().nth(back).copied();
            let s = match &op {
                Op::Resubmit { back } => match sent.iter().chain(&batch).rev().nth(*back) {
                    Some(s) => s.clone(),
                    None => continue,
                },
                Op::Enroll { signer, target, roles } => {
                    let body =
                        Body::enrol(people[*target].verifying_key().to_bytes(), holder(*target), "U", roles.clone());
                    sign(&origin, &people, &op, *signer, None, "", body)
                }
                Op::Revoke { signer, target } => {
                    let body = Body::KeyRevoked {
                        key: people[*target].verifying_key().to_bytes(),
                        reason: "r".into(),
                        compromised_since_ms: None,
                    };
                    sign(&origin, &people, &op, *signer, None, "", body)
                }
                Op::CaseOpen { signer, case } => {
                    let body = Body::CaseOpened { title: "t".into(), area: "a".into(), unit: "u".into() };
                    sign(&origin, &people, &op, *signer, None, &case_id(usize::from(*case)), body)
                }
                Op::Endorse { signer, back } => {
                    let h = recent(*back).unwrap_or([0x55; 32]);
                    let body = Body::Endorsed { entry_hash: h, capacity: "witness".into() };
                    sign(&origin, &people, &op, *signer, Some(h), "", body)
                }
                Op::Correct { signer, back } => {
                    let h = recent(*back).unwrap_or([0x55; 32]);
                    let body =
                        Body::Correction { entry_hash: h, field: "f".into(), value: "v".into(), reason: "r".into() };
                    sign(&origin, &people, &op, *signer, Some(h), "", body)
                }
                Op::Domain { signer, case_id, body } => {
                    sign(&origin, &people, &op, *signer, None, case_id, (**body).clone())
                }
            };
            batch.push(s);
        }
        if batch.is_empty() {
            continue;
        }
        // Spawned in order; the writer sees them in this order (see the
        // runtime above), in as few groups as it takes. The gate holds the
        // one blocking thread until every task has queued its check: else a
        // task first polled after its check already ended (the runtime
        // thread preempted meanwhile) would send before earlier tasks whose
        // wakeups still wait in the runtime's queue, and the writer would
        // see the group out of order.
        let results = rt.block_on(async {
            let (open, gate) = std::sync::mpsc::channel::<()>();
            let gate = tokio::task::spawn_blocking(move || gate.recv());
            let waiting = Arc::new(AtomicUsize::new(0));
            let handles: Vec<_> = batch
                .iter()
                .map(|s| {
                    let (w, st, sig, waiting) = (w.clone(), s.statement.clone(), s.signature, waiting.clone());
                    tokio::spawn(async move {
                        // In the same poll as the check is queued.
                        waiting.fetch_add(1, Ordering::SeqCst);
                        w.append(st, sig).await
                    })
                })
                .collect();
            while waiting.load(Ordering::SeqCst) < handles.len() {
                tokio::task::yield_now().await;
            }
            open.send(()).expect("the gate waits");
            gate.await.expect("gate").expect("opened");
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.expect("task"));
            }
            out
        });
        // New entries got their seqs in submission order (else the writer
        // saw the group in another order, and the oracles below would judge
        // a different history).
        let seqs: Vec<u64> =
            results.iter().filter_map(|r| r.as_ref().ok().filter(|a| !a.duplicate).map(|a| a.seq)).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seed {seed}: the writer saw a group out of order: {seqs:?}");
        let mut new_in_group: HashMap<u64, usize> = HashMap::new();
        for (s, r) in batch.into_iter().zip(results) {
            let outcome = match &r {
                Ok(ack) if ack.duplicate => Outcome::Duplicate(ack.seq),
                Ok(ack) => {
                    *new_in_group.entry(ack.size).or_default() += 1;
                    Outcome::Accepted(ack.seq)
                }
                Err(e) => Outcome::Refused(e.code().to_string()),
            };
            // The model, judged statement by statement.
            if !matches!(outcome, Outcome::Duplicate(_)) {
                let expect = model.predict(&s.op, s.signer, s.target_hash);
                match &expect {
                    Expect::Accept | Expect::Refuse(_) => run.exact += 1,
                    Expect::OneOf(_) => run.one_of += 1,
                }
                let kind = op_kind(&s.op);
                let tally = run.by_kind.entry(kind).or_default();
                match &outcome {
                    Outcome::Accepted(_) => {
                        run.accepted += 1;
                        tally.0 += 1;
                    }
                    Outcome::Refused(code) => {
                        run.refused += 1;
                        tally.1 += 1;
                        *tally.2.entry(code.clone()).or_default() += 1;
                        if matches!(s.op, Op::Domain { .. }) {
                            run.codes.insert(code.clone());
                        }
                    }
                    Outcome::Duplicate(_) => unreachable!(),
                }
                let ok = match (&expect, &outcome) {
                    (Expect::Accept, Outcome::Accepted(_)) => true,
                    (Expect::Refuse(c), Outcome::Refused(got)) => got == c,
                    (Expect::OneOf(cs), Outcome::Refused(got)) => cs.contains(&got.as_str()),
                    _ => false,
                };
                assert!(
                    ok,
                    "seed {seed}, statement {} ({kind}): {:?} by key {} predicted {expect:?}, writer said {outcome:?}",
                    sent.len(),
                    s.op,
                    s.signer
                );
            }
            if let Ok(ack) = &r {
                if !ack.duplicate {
                    acked.push(ack.hash);
                    model.accepted(&s.op, s.signer, ack.hash, s.target_hash);
                }
            }
            outcomes.push(outcome);
            sent.push(s);
        }
        run.groups_with_several += new_in_group.values().filter(|n| **n > 1).count();
    }

    // The sequential oracle: state::apply one statement at a time over a
    // fresh MemIndex, in submission order, with the writer's idempotency
    // rule ((author, nonce) seen: same bytes = duplicate).
    let mut idx = MemIndex::default();
    let genesis = l.entry(0).unwrap().unwrap();
    let g = Entry::from_bytes(&genesis).unwrap();
    let gst = Statement::from_bytes(&g.statement).unwrap();
    let out = state::apply(
        &idx,
        &origin,
        &Candidate {
            seq: 0,
            recorded_at_ms: g.recorded_at_ms,
            entry_hash: hash::entry_hash(&genesis),
            statement: &gst,
        },
    )
    .unwrap();
    idx.put_all(&out.writes);
    let mut next = 1u64;
    let mut last_ms = g.recorded_at_ms;
    let mut by_nonce: HashMap<NonceKey, (Vec<u8>, u64)> = HashMap::new();
    for (s, got) in sent.iter().zip(&outcomes) {
        let st = Statement::from_bytes(&s.statement).unwrap();
        let want = if let Some((bytes, seq)) = by_nonce.get(&(st.author, st.nonce)) {
            assert_eq!(bytes, &s.statement, "scripts never reuse a nonce with other bytes");
            Outcome::Duplicate(*seq)
        } else {
            // An accepted statement is judged with its real entry (clock and
            // hash); a refused one with the clock so far.
            let (recorded_at_ms, entry_hash) = match got {
                Outcome::Accepted(seq) => {
                    let bytes = l.entry(*seq).unwrap().expect("acked entry is stored");
                    (Entry::from_bytes(&bytes).unwrap().recorded_at_ms, hash::entry_hash(&bytes))
                }
                _ => (last_ms, [0xAA; 32]),
            };
            match state::apply(&idx, &origin, &Candidate { seq: next, recorded_at_ms, entry_hash, statement: &st }) {
                Ok(out) => {
                    idx.put_all(&out.writes);
                    by_nonce.insert((st.author, st.nonce), (s.statement.clone(), next));
                    last_ms = recorded_at_ms;
                    next += 1;
                    Outcome::Accepted(next - 1)
                }
                Err(r) => Outcome::Refused(r.code().to_string()),
            }
        };
        if std::env::var_os("MODEL_DEBUG").is_some() {
            eprintln!("{:?} by {} -> {got:?} / {want:?}", s.op, s.signer);
        }
        assert_eq!(got, &want, "seed {seed}: {:?} by {}: writer vs sequential apply", s.op, s.signer);
    }

    // Every ack names what is stored; seqs are dense.
    let head = l.head().unwrap();
    assert_eq!(head.size, next, "seed {seed}");
    for (seq, h) in acked.iter().enumerate() {
        assert_eq!(&hash::entry_hash(&l.entry(seq as u64 + 1).unwrap().unwrap()), h, "seed {seed}");
    }
    // The store's indexes are exactly the sequential ones.
    let mut stored: Vec<(u8, Vec<u8>, Vec<u8>)> = l.store().index_all().unwrap();
    let mut want: Vec<(u8, Vec<u8>, Vec<u8>)> = idx.iter().map(|(ns, k, v)| (ns, k.clone(), v.clone())).collect();
    stored.sort();
    want.sort();
    assert!(stored == want, "seed {seed}: stored indexes differ from the sequential apply");

    check_records(seed, &model, &idx);
    // The fund auditor passes over the rebuilt index and over the stored
    // records read raw.
    let report = fund_audit::audit(&idx);
    assert!(report.passed(), "seed {seed}: fund audit of the rebuilt index: {:?}", report.violations);
    assert_eq!((report.accounts, report.requests), (model.accounts.len(), model.requests.len()), "seed {seed}");
    let raw = FundRecords::from_raw(stored.iter().map(|(ns, k, v)| (*ns, k.as_slice(), v.as_slice())));
    let report = fund_audit::audit_records(&raw);
    assert!(report.passed(), "seed {seed}: fund audit of the stored records: {:?}", report.violations);

    // The independent replay accepts the log (warnings about the single
    // key officer are allowed; errors are not).
    let v = l.verify(&|_, _| {}).unwrap();
    assert_ne!(v.verdict.as_str(), "invalid", "seed {seed}: {:?}", v.reasons);
    run.statements = sent.len();
    run
}

/// The model's evidence items, accounts and requests equal the rules'
/// records in the rebuilt index.
fn check_records(seed: u64, model: &Model, idx: &MemIndex) {
    for (id, it) in &model.items {
        let r = state::evidence_record(idx, id).unwrap().unwrap_or_else(|| panic!("seed {seed}: no record of {id}"));
        let pending = it.pending.map(|(h, k)| (h, model.pks[k]));
        assert_eq!(
            (r.case_id.as_str(), r.holder, r.pending_transfer, r.hold, r.disposed_seq.is_some(), r.seal.is_some()),
            (it.case.as_str(), model.pks[it.holder], pending, it.hold, it.disposed, it.sealed),
            "seed {seed}: evidence {id}: case, holder, pending transfer, hold, disposed, sealed"
        );
        assert_eq!(
            (
                r.registered_hash,
                r.transfers as usize,
                r.second_collector_seq.is_some(),
                r.rehash_mismatch_seq.is_some()
            ),
            (it.reg, it.transfers.len() - usize::from(it.pending.is_some()), it.second_collector, it.rehash_mismatch),
            "seed {seed}: evidence {id}: registration, handovers received, second collector, re-hash mismatch"
        );
    }
    for d in &model.digests {
        let owner = state::evidence_by_digest(idx, d).unwrap();
        assert!(owner.is_some_and(|o| model.items[&o].digests.contains(d)), "seed {seed}: digest {d:?}");
    }
    for (id, a) in &model.accounts {
        let r = state::account_record(idx, id).unwrap().unwrap_or_else(|| panic!("seed {seed}: no account {id}"));
        let [debits_posted, credits_posted, debits_pending, credits_pending] = a.bal;
        let want = AccountBalance { debits_posted, credits_posted, debits_pending, credits_pending };
        assert_eq!(r.balance, want, "seed {seed}: account {id}: balances");
        assert_eq!(
            (r.kind, r.case_id.as_str(), r.no_overdraft, r.stages),
            (a.kind, a.case.as_str(), a.no_overdraft, a.stages),
            "seed {seed}: account {id}"
        );
    }
    for (id, q) in &model.requests {
        let r = state::request_record(idx, id).unwrap().unwrap_or_else(|| panic!("seed {seed}: no request {id}"));
        let status = match (q.settled, q.rejected) {
            (Some(true), _) => RequestStatus::Paid,
            (Some(false), _) => RequestStatus::Voided,
            (None, true) => RequestStatus::Rejected,
            (None, false) if q.approvals.len() == usize::from(q.stages) => RequestStatus::Approved,
            (None, false) => RequestStatus::Pending,
        };
        let approvers: Vec<PublicKey> = q.approvals.iter().map(|k| model.pks[*k]).collect();
        assert_eq!(
            (r.status, r.paid_fen, r.amount_fen, r.stages, r.requester, r.from.as_str(), r.to.as_str()),
            (status, q.paid, q.amount, q.stages, model.pks[q.requester], q.from.as_str(), q.to.as_str()),
            "seed {seed}: request {id}"
        );
        assert_eq!(r.approvals.iter().map(|a| a.key).collect::<Vec<_>>(), approvers, "seed {seed}: request {id}");
    }
}

fn sign(
    origin: &str,
    people: &[ed25519_dalek::SigningKey],
    op: &Op,
    signer: usize,
    target_hash: Option<Hash32>,
    case_id: &str,
    body: Body,
) -> Sent {
    let (statement, signature) = ledger::sign_statement(origin, &people[signer], case_id, body);
    Sent { op: op.clone(), signer, target_hash, statement, signature }
}

#[test]
fn writer_outcomes_equal_sequential_apply_and_the_model() {
    let mut all = Run::default();
    // MODEL_SEED=n runs script n alone (with MODEL_DEBUG set, it prints
    // every statement's outcome).
    let only: Option<u64> = std::env::var("MODEL_SEED").ok().and_then(|s| s.parse().ok());
    for seed in 1..=48u64 {
        if only.is_some_and(|o| o != seed) {
            continue;
        }
        let r = run_script(seed);
        all.groups_with_several += r.groups_with_several;
        all.statements += r.statements;
        all.exact += r.exact;
        all.one_of += r.one_of;
        all.accepted += r.accepted;
        all.refused += r.refused;
        for (k, (a, f, codes)) in r.by_kind {
            let t = all.by_kind.entry(k).or_default();
            t.0 += a;
            t.1 += f;
            for (code, n) in codes {
                *t.2.entry(code).or_default() += n;
            }
        }
        all.codes.extend(r.codes);
    }
    let judged = all.accepted + all.refused;
    eprintln!(
        "{} statements ({} accepted, {} refused, the rest duplicates); of the {judged} judged, {} predicted \
         exactly by the model, {} as one of several codes; {} groups committed more than one new entry",
        all.statements, all.accepted, all.refused, all.exact, all.one_of, all.groups_with_several
    );
    for (kind, (a, f, codes)) in &all.by_kind {
        let mut codes: Vec<(&String, &usize)> = codes.iter().collect();
        codes.sort_by(|x, y| y.1.cmp(x.1));
        let codes: Vec<String> = codes.iter().map(|(c, n)| format!("{c} {n}")).collect();
        eprintln!("  {kind:26} {a:4} accepted {f:4} refused: {}", codes.join(", "));
    }
    eprintln!("  evidence and fund refusal codes seen: {:?}", all.codes);
    // The scripts must exercise both sides, and the model must decide
    // nearly all exactly.
    assert!(
        all.accepted > judged / 4 && all.refused > judged / 4,
        "{} accepted, {} refused",
        all.accepted,
        all.refused
    );
    assert!(all.exact * 100 >= judged * 95, "the model decided exactly only {} of {judged}", all.exact);
    // The point is group commit: some groups must really hold several.
    assert!(all.groups_with_several > 0, "no group ever held more than one new entry");
    // Every new kind is both accepted and refused somewhere.
    for kind in [
        "EvidenceRegistered",
        "Endorsed(second-collector)",
        "Sealed",
        "CustodyTransferred",
        "CustodyReceived",
        "LegalHold",
        "HoldReleased",
        "Disposed",
        "AccountOpened",
        "Obligation",
        "FundReceipt",
        "Remittance",
        "DisbursementRequested",
        "DisbursementApproved",
        "DisbursementRejected",
        "DisbursementPaid",
        "DisbursementVoided",
    ] {
        let (a, f) = all.by_kind.get(kind).map_or((0, 0), |t| (t.0, t.1));
        assert!(a > 0 && f > 0, "{kind}: {a} accepted, {f} refused");
    }
    // And the rules that matter are hit.
    for code in [
        "digest_exists",
        "evidence_exists",
        "registrant_not_collector",
        "not_a_collector",
        "not_the_holder",
        "already_sealed",
        "transfer_pending",
        "invalid_receiver",
        "unknown_transfer",
        "not_the_receiver",
        "already_on_hold",
        "not_on_hold",
        "on_legal_hold",
        "already_disposed",
        "account_exists",
        "duplicate_bank_ref",
        "insufficient_funds",
        "amount_overflow",
        "purpose_mismatch",
        "stage_out_of_order",
        "self_approval",
        "approver_repeated",
        "not_approved",
        "amount_exceeds_approved",
        "approver_cannot_pay",
        "request_settled",
        "request_rejected",
        "fund_case_mismatch",
        "wrong_account_kind",
        "zero_amount",
    ] {
        assert!(all.codes.contains(code), "no script was refused {code}");
    }
}
