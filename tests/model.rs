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

include!("model_parts/defs.rs");
include!("model_parts/oracle.rs");
include!("model_parts/gen.rs");

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
    idx.put_all(out.writes);
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
                    idx.put_all(out.writes);
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
    let mut want: Vec<(u8, Vec<u8>, Vec<u8>)> = idx.iter().map(|(ns, k, v)| (ns, k.to_vec(), v.to_vec())).collect();
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
