//! Model test: random sequences of operations by random signers go through
//! the real writer (group commit over sled, several statements per group),
//! and whatever the writer accepted and refused, the log it leaves must be
//! one that the independent replay in `verify` accepts, with identical
//! indexes. This checks the writer's in-group overlay, idempotency and rules
//! against the pure replay, and that acks name what is stored.

use pil_ledger::ledger::{self, Ledger};
use pil_ledger_core::authority::{Role, ALL_ROLES};
use pil_ledger_core::hash;
use pil_ledger_core::keys;
use pil_ledger_core::wire::Body;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Enroll { signer: usize, target: usize, roles: Vec<usize> },
    Revoke { signer: usize, target: usize },
    CaseOpen { signer: usize, case: u8 },
    Endorse { signer: usize, back: usize },
    Correct { signer: usize, back: usize },
    Resubmit { back: usize },
}

/// The officer signs half the time; anyone else the rest.
fn signer() -> impl Strategy<Value = usize> {
    prop_oneof![Just(0usize), 0..6usize]
}

fn roles() -> impl Strategy<Value = Vec<usize>> {
    // prosecutors are common so that cases get opened
    prop::collection::vec(prop_oneof![Just(1usize), 0..ALL_ROLES.len()], 1..3)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (signer(), 1..6usize, roles()).prop_map(|(signer, target, roles)| Op::Enroll { signer, target, roles }),
        1 => (signer(), 0..6usize).prop_map(|(signer, target)| Op::Revoke { signer, target }),
        3 => (1..6usize, 0..4u8).prop_map(|(signer, case)| Op::CaseOpen { signer, case }),
        2 => (signer(), 0..8usize).prop_map(|(signer, back)| Op::Endorse { signer, back }),
        1 => (signer(), 0..8usize).prop_map(|(signer, back)| Op::Correct { signer, back }),
        1 => (0..8usize).prop_map(|back| Op::Resubmit { back }),
    ]
}

/// The officer enrols everyone first (random roles), then anything goes.
fn script() -> impl Strategy<Value = Vec<Op>> {
    (prop::collection::vec(roles(), 5), prop::collection::vec(op(), 5..40)).prop_map(|(first, rest)| {
        let mut ops: Vec<Op> =
            first.into_iter().enumerate().map(|(i, roles)| Op::Enroll { signer: 0, target: i + 1, roles }).collect();
        ops.extend(rest);
        ops
    })
}

const KNOWN: &[&str] = &[
    "author_not_enrolled",
    "author_revoked",
    "author_pending_endorsement",
    "role_not_allowed",
    "key_already_enrolled",
    "unknown_key",
    "already_revoked",
    "last_key_officer",
    "unknown_entry",
    "self_endorsement",
    "already_endorsed",
    "case_exists",
    "unknown_case",
    "invalid_value",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn writer_and_replay_agree(ops in script(), chunk in 1usize..7) {
        let tmp = tempfile::tempdir().unwrap();
        let l = Ledger::init(tmp.path(), "model.example/pil", "Officer", "Unit").unwrap();
        let mut people = vec![ledger::read_key_file(&l.paths().officer_key()).unwrap()];
        for _ in 0..5 {
            people.push(keys::generate());
        }
        let origin = l.origin().to_string();
        let mut sent: Vec<(Vec<u8>, [u8; 64])> = Vec::new();
        let mut acked: Vec<(u64, [u8; 32])> = Vec::new();
        let mut sizes: Vec<u64> = Vec::new();
        let w = l.writer().unwrap().clone();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for group in ops.chunks(chunk) {
            let mut batch = Vec::new();
            for op in group {
                let recent = |back: usize| acked.iter().rev().nth(back).map(|a| a.1).unwrap_or([0x55; 32]);
                let (st, sig) = match op {
                    Op::Enroll { signer, target, roles } => {
                        let mut r: Vec<Role> = roles.iter().map(|i| ALL_ROLES[*i]).collect();
                        r.dedup();
                        let body = Body::enrol(people[*target].verifying_key().to_bytes(), format!("P{target}"), "U", r);
                        ledger::sign_statement(&origin, &people[*signer], "", body)
                    }
                    Op::Revoke { signer, target } => ledger::sign_statement(
                        &origin,
                        &people[*signer],
                        "",
                        Body::KeyRevoked { key: people[*target].verifying_key().to_bytes(), reason: "r".into(), compromised_since_ms: None },
                    ),
                    Op::CaseOpen { signer, case } => ledger::sign_statement(
                        &origin,
                        &people[*signer],
                        &format!("C-{case}"),
                        Body::CaseOpened { title: "t".into(), area: "a".into(), unit: "u".into() },
                    ),
                    Op::Endorse { signer, back } => ledger::sign_statement(
                        &origin,
                        &people[*signer],
                        "",
                        Body::Endorsed { entry_hash: recent(*back), capacity: "key-officer".into() },
                    ),
                    Op::Correct { signer, back } => ledger::sign_statement(
                        &origin,
                        &people[*signer],
                        "",
                        Body::Correction { entry_hash: recent(*back), field: "f".into(), value: "v".into(), reason: "r".into() },
                    ),
                    Op::Resubmit { back } => match sent.iter().rev().nth(*back) {
                        Some(s) => s.clone(),
                        None => continue,
                    },
                };
                sent.push((st.clone(), sig));
                let w = w.clone();
                batch.push(move || async move { w.append(st, sig).await });
            }
            // spawned together, so they are queued before the writer answers
            // and tend to share a group
            let results = rt.block_on(async {
                let handles: Vec<_> = batch.into_iter().map(|f| tokio::spawn(f())).collect();
                let mut out = Vec::new();
                for h in handles {
                    out.push(h.await.expect("task"));
                }
                out
            });
            for r in results {
                match r {
                    Ok(ack) => {
                        if !ack.duplicate {
                            acked.push((ack.seq, ack.hash));
                            sizes.push(ack.size);
                        }
                    }
                    Err(e) => prop_assert!(KNOWN.contains(&e.code()), "unexpected refusal {}: {e}", e.code()),
                }
            }
        }
        sizes.dedup();
        if std::env::var_os("PIL_MODEL_DEBUG").is_some() {
            eprintln!("{} appended in {} groups", acked.len(), sizes.len());
        }
        // every ack names what is stored, seqs are dense
        let head = l.head().unwrap();
        prop_assert_eq!(head.size, 1 + acked.len() as u64);
        for (seq, h) in &acked {
            let bytes = l.entry(*seq).unwrap().unwrap();
            prop_assert_eq!(&hash::entry_hash(&bytes), h);
        }
        // the independent replay accepts the log and rebuilds the same indexes
        let v = l.verify(&|_, _| {}).unwrap();
        prop_assert_eq!(v.verdict.as_str(), "valid", "{:?}", v.reasons);
    }
}
