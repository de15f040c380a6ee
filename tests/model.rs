//! Model test with oracles of its own. Seeded scripts of operations by
//! several signers go through the real writer (group commit over sled,
//! several statements queued together), in a fixed submission order. Every
//! statement's outcome (accepted at seq N, duplicate of seq N, refused with
//! code C) is compared with two oracles:
//!
//! - **sequential**: the statements applied one at a time, in submission
//!   order, through `state::apply` over a fresh in-memory `MemIndex`, with
//!   the same idempotency rule. Group commit, the writer's overlay and the
//!   store must not change any outcome; the store's indexes must equal the
//!   sequential index at the end.
//! - **authority model**: a plain `HashMap` model written here of who is
//!   enrolled, revoked, and which role may sign which kind (and of the few
//!   registry and case rules it can decide alone). Where it is sure, the
//!   outcome must be exactly its prediction.
//!
//! Finally the independent replay in `verify` must accept the log.

use std::collections::{HashMap, HashSet};

use pil_ledger::ledger::{self, Ledger};
use pil_ledger::store::Store;
use pil_ledger_core::authority::{Role, ALL_ROLES};
use pil_ledger_core::hash;
use pil_ledger_core::keys;
use pil_ledger_core::state::{self, Candidate, MemIndex};
use pil_ledger_core::wire::{Body, Entry, Hash32, Statement};

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
}

#[derive(Clone, Debug)]
enum Op {
    Enroll { signer: usize, target: usize, roles: Vec<Role> },
    Revoke { signer: usize, target: usize },
    CaseOpen { signer: usize, case: u8 },
    Endorse { signer: usize, back: usize },
    Correct { signer: usize, back: usize },
    Resubmit { back: usize },
}

const PEOPLE: usize = 6;

/// Roles for people other than the genesis officer: never key-officer, so
/// the officer set stays the genesis officer alone (its dual-control rules
/// are tested elsewhere); prosecutors are common so that cases get opened.
fn roles(rng: &mut Rng) -> Vec<Role> {
    let n = 1 + rng.below(2);
    let mut r: Vec<Role> = (0..n)
        .map(|_| if rng.below(2) == 0 { Role::Prosecutor } else { ALL_ROLES[1 + rng.below(ALL_ROLES.len() - 1)] })
        .collect();
    r.sort();
    r.dedup();
    r
}

/// The officer (0) signs half the time, anyone the rest.
fn signer(rng: &mut Rng) -> usize {
    if rng.below(2) == 0 {
        0
    } else {
        rng.below(PEOPLE)
    }
}

/// The officer enrols most people first, then anything goes.
fn script(rng: &mut Rng) -> Vec<Op> {
    let mut ops = Vec::new();
    for target in 1..PEOPLE {
        if rng.below(5) != 0 {
            ops.push(Op::Enroll { signer: 0, target, roles: roles(rng) });
        }
    }
    for _ in 0..(10 + rng.below(35)) {
        let op = match rng.below(10) {
            0 | 1 => Op::Enroll { signer: signer(rng), target: rng.below(PEOPLE), roles: roles(rng) },
            2 => Op::Revoke { signer: signer(rng), target: rng.below(PEOPLE) },
            3..=5 => Op::CaseOpen { signer: 1 + rng.below(PEOPLE - 1), case: rng.below(4) as u8 },
            6 | 7 => Op::Endorse { signer: signer(rng), back: rng.below(8) },
            8 => Op::Correct { signer: signer(rng), back: rng.below(8) },
            _ => Op::Resubmit { back: rng.below(8) },
        };
        ops.push(op);
    }
    ops
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Accepted(u64),
    Duplicate(u64),
    Refused(String),
}

/// The authority model's prediction.
#[derive(Debug)]
enum Expect {
    /// Exactly this outcome kind (accepted, or refused with this code).
    Accept,
    Refuse(&'static str),
    /// Refused, with a code the model does not pin down.
    RefuseAny,
    /// Authorised; the entry's own rules decide.
    Authorised,
}

/// What the model knows: enrolled people (roles, revoked), entries by
/// hash with their author, open cases.
#[derive(Default)]
struct Model {
    keys: HashMap<usize, (Vec<Role>, bool)>,
    entries: HashMap<Hash32, usize>,
    cases: HashSet<u8>,
    endorsed: HashSet<(Hash32, usize)>,
}

/// Which roles may sign which kind, written out here (schema/roles.md).
fn may_sign(op: &Op, roles: &[Role]) -> bool {
    match op {
        Op::Enroll { .. } | Op::Revoke { .. } => roles.contains(&Role::KeyOfficer),
        Op::CaseOpen { .. } => roles.contains(&Role::Prosecutor),
        Op::Endorse { .. } | Op::Correct { .. } => !roles.is_empty(),
        Op::Resubmit { .. } => unreachable!("resolved to the original op"),
    }
}

impl Model {
    fn predict(&self, op: &Op, signer: usize, target_hash: Option<Hash32>) -> Expect {
        let Some((roles, revoked)) = self.keys.get(&signer) else { return Expect::Refuse("author_not_enrolled") };
        if *revoked {
            return Expect::Refuse("author_revoked");
        }
        if !may_sign(op, roles) {
            return Expect::Refuse("role_not_allowed");
        }
        match op {
            Op::Enroll { target, .. } if self.keys.contains_key(target) => Expect::Refuse("key_already_enrolled"),
            Op::Enroll { .. } => Expect::Accept,
            Op::Revoke { target: 0, .. } => Expect::RefuseAny, // the only key officer
            Op::Revoke { target, .. } => match self.keys.get(target) {
                None => Expect::Refuse("unknown_key"),
                Some((_, true)) => Expect::Refuse("already_revoked"),
                Some(_) => Expect::Accept,
            },
            Op::CaseOpen { case, .. } if self.cases.contains(case) => Expect::Refuse("case_exists"),
            Op::CaseOpen { .. } => Expect::Accept,
            Op::Endorse { .. } | Op::Correct { .. } => match target_hash.and_then(|h| self.entries.get(&h)) {
                None => Expect::Refuse("unknown_entry"),
                Some(author) if matches!(op, Op::Endorse { .. }) && *author == signer => {
                    Expect::Refuse("self_endorsement")
                }
                Some(_)
                    if matches!(op, Op::Endorse { .. })
                        && self.endorsed.contains(&(target_hash.expect("known"), signer)) =>
                {
                    Expect::Refuse("already_endorsed")
                }
                // a witness endorsement has no rule beyond these
                Some(_) if matches!(op, Op::Endorse { .. }) => Expect::Accept,
                Some(_) => Expect::Authorised,
            },
            Op::Resubmit { .. } => unreachable!(),
        }
    }

    fn accepted(&mut self, op: &Op, signer: usize, hash: Hash32, target_hash: Option<Hash32>) {
        self.entries.insert(hash, signer);
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
                self.cases.insert(*case);
            }
            Op::Endorse { .. } => {
                self.endorsed.insert((target_hash.expect("endorsed a known entry"), signer));
            }
            Op::Correct { .. } | Op::Resubmit { .. } => {}
        }
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

struct Run {
    groups_with_several: usize,
    statements: usize,
    /// Statements whose outcome the authority model predicted exactly.
    exact: usize,
    accepted: usize,
    refused: usize,
}

fn run_script(seed: u64) -> Run {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let ops = script(&mut rng);
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
    // come back in that order; so jobs reach the writer's queue in spawn
    // order. (With several blocking threads the order would be a race.)
    let rt = tokio::runtime::Builder::new_current_thread().max_blocking_threads(1).build().unwrap();

    let mut model = Model::default();
    model.keys.insert(0, (vec![Role::KeyOfficer], false));
    model.entries.insert(hash::entry_hash(&l.entry(0).unwrap().unwrap()), 0);
    let mut sent: Vec<Sent> = Vec::new();
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut acked: Vec<Hash32> = Vec::new(); // hashes of accepted entries, in order
    let mut groups_with_several = 0;
    let (mut exact, mut accepted, mut refused) = (0, 0, 0);

    let mut i = 0;
    while i < ops.len() {
        let chunk = 1 + rng.below(7);
        let group = &ops[i..(i + chunk).min(ops.len())];
        i += chunk;
        // Build the group's statements; hashes refer to entries acked in
        // earlier groups (the model knows them).
        let mut batch: Vec<Sent> = Vec::new();
        for op in group {
            let recent = |back: usize| acked.iter().rev().nth(back).copied();
            let s = match op {
                Op::Resubmit { back } => match sent.iter().rev().nth(*back) {
                    Some(s) => s.clone(),
                    None => continue,
                },
                Op::Enroll { signer, target, roles } => {
                    let body = Body::enrol(
                        people[*target].verifying_key().to_bytes(),
                        format!("P{target}"),
                        "U",
                        roles.clone(),
                    );
                    sign(&origin, &people, op, *signer, None, "", body)
                }
                Op::Revoke { signer, target } => {
                    let body = Body::KeyRevoked {
                        key: people[*target].verifying_key().to_bytes(),
                        reason: "r".into(),
                        compromised_since_ms: None,
                    };
                    sign(&origin, &people, op, *signer, None, "", body)
                }
                Op::CaseOpen { signer, case } => {
                    let body = Body::CaseOpened { title: "t".into(), area: "a".into(), unit: "u".into() };
                    sign(&origin, &people, op, *signer, None, &format!("C-{case}"), body)
                }
                Op::Endorse { signer, back } => {
                    let h = recent(*back);
                    let body = Body::Endorsed { entry_hash: h.unwrap_or([0x55; 32]), capacity: "witness".into() };
                    sign(&origin, &people, op, *signer, Some(h.unwrap_or([0x55; 32])), "", body)
                }
                Op::Correct { signer, back } => {
                    let h = recent(*back);
                    let body = Body::Correction {
                        entry_hash: h.unwrap_or([0x55; 32]),
                        field: "f".into(),
                        value: "v".into(),
                        reason: "r".into(),
                    };
                    sign(&origin, &people, op, *signer, Some(h.unwrap_or([0x55; 32])), "", body)
                }
            };
            batch.push(s);
        }
        // Spawned in order; the writer sees them in this order (see the
        // runtime above), in as few groups as it takes.
        let results = rt.block_on(async {
            let handles: Vec<_> = batch
                .iter()
                .map(|s| {
                    let (w, st, sig) = (w.clone(), s.statement.clone(), s.signature);
                    tokio::spawn(async move { w.append(st, sig).await })
                })
                .collect();
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.expect("task"));
            }
            out
        });
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
            // The authority model, judged statement by statement.
            if !matches!(outcome, Outcome::Duplicate(_)) {
                let expect = model.predict(&s.op, s.signer, s.target_hash);
                exact += usize::from(matches!(expect, Expect::Accept | Expect::Refuse(_)));
                match outcome {
                    Outcome::Accepted(_) => accepted += 1,
                    _ => refused += 1,
                }
                let ok = match (&expect, &outcome) {
                    (Expect::Accept, Outcome::Accepted(_)) => true,
                    (Expect::Refuse(c), Outcome::Refused(got)) => got == c,
                    (Expect::RefuseAny, Outcome::Refused(_)) => true,
                    (Expect::Authorised, Outcome::Accepted(_)) => true,
                    (Expect::Authorised, Outcome::Refused(got)) => {
                        !["author_not_enrolled", "author_revoked", "unknown_entry"].contains(&got.as_str())
                    }
                    _ => false,
                };
                assert!(ok, "seed {seed}: {:?} by {} predicted {expect:?}, writer said {outcome:?}", s.op, s.signer);
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
        groups_with_several += new_in_group.values().filter(|n| **n > 1).count();
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
    // The independent replay accepts the log (warnings about the single
    // key officer are allowed; errors are not).
    let v = l.verify(&|_, _| {}).unwrap();
    assert_ne!(v.verdict.as_str(), "invalid", "seed {seed}: {:?}", v.reasons);
    Run { groups_with_several, statements: sent.len(), exact, accepted, refused }
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
fn writer_outcomes_equal_sequential_apply_and_the_authority_model() {
    let (mut several, mut statements, mut exact, mut accepted, mut refused) = (0, 0, 0, 0, 0);
    for seed in 1..=48u64 {
        let r = run_script(seed);
        several += r.groups_with_several;
        statements += r.statements;
        exact += r.exact;
        accepted += r.accepted;
        refused += r.refused;
    }
    eprintln!(
        "{statements} statements ({accepted} accepted, {refused} refused, the rest duplicates); \
         {exact} predicted exactly by the authority model; {several} groups committed more than one new entry"
    );
    // The scripts must exercise both sides, and the model must decide most.
    assert!(accepted > statements / 5 && refused > statements / 5, "{accepted} accepted, {refused} refused");
    assert!(exact > statements / 2, "the model decided only {exact} of {statements}");
    // The point is group commit: some groups must really hold several.
    assert!(several > 0, "no group ever held more than one new entry");
}
