// The model test's vocabulary: a seeded RNG, the operations, people,
// cases, role table, expected outcomes and the model's records.
// Included into `tests/model.rs` (`include!`), not a test of its own.

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
