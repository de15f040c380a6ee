//! Raw statements through the real writer: each refusal is typed and leaves
//! the store byte-for-byte unchanged; resubmission is idempotent.

use pil_ledger::ledger::{self, Ledger, LedgerError};
use pil_ledger_core::authority::Role;
use pil_ledger_core::keys;
use pil_ledger_core::state::Refusal;
use pil_ledger_core::wire::{Body, Statement, MAX_STATEMENT_BYTES};

/// Every key and value in the store (entries, nodes, indexes, checkpoints, head).
fn dump(l: &Ledger) -> Vec<(Vec<u8>, Vec<u8>)> {
    l.store().raw().iter().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect()
}

fn setup() -> (tempfile::TempDir, Ledger, ed25519_dalek::SigningKey) {
    let tmp = tempfile::tempdir().unwrap();
    let l = Ledger::init(tmp.path(), "refusals.example/pil", "Officer", "Unit").unwrap();
    let officer = ledger::read_key_file(&l.paths().officer_key()).unwrap();
    let p = keys::generate();
    l.append_signed(&officer, "", Body::enrol(p.verifying_key().to_bytes(), "P", "U", vec![Role::Prosecutor])).unwrap();
    (tmp, l, p)
}

fn expect_refusal(l: &Ledger, st: Vec<u8>, sig: [u8; 64], code: &str) {
    let before = dump(l);
    let err = l.writer().unwrap().append_blocking(st, sig).unwrap_err();
    assert!(err.is_refusal(), "{err}");
    assert_eq!(err.code(), code, "{err}");
    assert_eq!(dump(l), before, "store changed after {code}");
}

fn case_body() -> Body {
    Body::CaseOpened { title: "t".into(), area: "ecology".into(), unit: "u".into() }
}

#[test]
fn bad_signature_refused() {
    let (_t, l, p) = setup();
    let (st, mut sig) = ledger::sign_statement(l.origin(), &p, "C", case_body());
    sig[0] ^= 1;
    expect_refusal(&l, st, sig, "signature_invalid");
    // signed by someone else
    let other = keys::generate();
    let (st, _) = ledger::sign_statement(l.origin(), &p, "C", case_body());
    let sig = keys::sign_statement(&other, &st);
    expect_refusal(&l, st, sig, "signature_invalid");
}

#[test]
fn other_origin_refused() {
    let (_t, l, p) = setup();
    let (st, sig) = ledger::sign_statement("another.example/pil", &p, "C", case_body());
    expect_refusal(&l, st, sig, "wrong_origin");
}

#[test]
fn garbage_trailing_and_oversize_refused() {
    let (_t, l, p) = setup();
    expect_refusal(&l, b"not a statement".to_vec(), [0; 64], "statement_not_canonical");
    let (mut st, _) = ledger::sign_statement(l.origin(), &p, "C", case_body());
    st.push(0);
    let sig = keys::sign_statement(&p, &st);
    expect_refusal(&l, st, sig, "statement_not_canonical");
    let big = Body::CaseOpened { title: "x".repeat(MAX_STATEMENT_BYTES), area: "a".into(), unit: "u".into() };
    let (st, sig) = ledger::sign_statement(l.origin(), &p, "C", big);
    assert!(st.len() > MAX_STATEMENT_BYTES);
    expect_refusal(&l, st, sig, "statement_not_canonical");
    // a non-canonical bool/option tag inside an otherwise fine statement
    let st = Statement::from_bytes(&ledger::sign_statement(l.origin(), &p, "C", case_body()).0).unwrap();
    let mut bytes = st.to_bytes();
    bytes[0] = 2; // format 2
    let sig = keys::sign_statement(&p, &bytes);
    expect_refusal(&l, bytes, sig, "statement_not_canonical");
}

#[test]
fn genesis_again_and_log_key_as_author_refused() {
    let (_t, l, _p) = setup();
    let officer = ledger::read_key_file(&l.paths().officer_key()).unwrap();
    let log = ledger::read_key_file(&l.paths().log_key()).unwrap();
    let g = Body::Genesis {
        origin: l.origin().into(),
        log_key: log.verifying_key().to_bytes(),
        officer: officer.verifying_key().to_bytes(),
        holder: "h".into(),
        unit: "u".into(),
    };
    let (st, sig) = ledger::sign_statement(l.origin(), &officer, "", g);
    expect_refusal(&l, st, sig, "genesis_misplaced");
    let (st, sig) = ledger::sign_statement(l.origin(), &log, "C", case_body());
    expect_refusal(&l, st, sig, "author_is_log_key");
}

#[test]
fn resubmission_is_idempotent_and_nonce_reuse_conflicts() {
    let (_t, l, p) = setup();
    let (st, sig) = ledger::sign_statement(l.origin(), &p, "C-1", case_body());
    let first = l.writer().unwrap().append_blocking(st.clone(), sig).unwrap();
    assert!(!first.duplicate);
    let before = dump(&l);
    let again = l.writer().unwrap().append_blocking(st.clone(), sig).unwrap();
    assert!(again.duplicate);
    assert_eq!((again.seq, again.hash), (first.seq, first.hash));
    assert_eq!(dump(&l), before, "a resubmission appended something");
    // same (author, nonce), different bytes
    let mut other = Statement::from_bytes(&st).unwrap();
    other.case_id = "C-2".into();
    let ob = other.to_bytes();
    let osig = keys::sign_statement(&p, &ob);
    expect_refusal(&l, ob, osig, "nonce_conflict");
}

#[test]
fn concurrent_duplicates_in_one_group_append_once() {
    let (_t, l, p) = setup();
    let (st, sig) = ledger::sign_statement(l.origin(), &p, "C-1", case_body());
    let w = l.writer().unwrap().clone();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let acks = rt.block_on(async {
        let futs: Vec<_> = (0..8)
            .map(|_| {
                let (w, st) = (w.clone(), st.clone());
                tokio::spawn(async move { w.append(st, sig).await })
            })
            .collect();
        let mut out = vec![];
        for f in futs {
            out.push(f.await.unwrap().unwrap());
        }
        out
    });
    assert!(acks.iter().all(|a| a.seq == acks[0].seq && a.hash == acks[0].hash));
    assert_eq!(acks.iter().filter(|a| !a.duplicate).count(), 1);
    assert_eq!(l.head().unwrap().size, 3);
}

#[test]
fn a_refused_statement_in_a_group_does_not_disturb_the_others() {
    let (_t, l, p) = setup();
    let w = l.writer().unwrap().clone();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let results = rt.block_on(async {
        let mut futs = vec![];
        for i in 0..20 {
            let (st, mut sig) = ledger::sign_statement(l.origin(), &p, &format!("C-{i}"), case_body());
            if i % 5 == 0 {
                sig[3] ^= 0x40;
            }
            let w = w.clone();
            futs.push(tokio::spawn(async move { w.append(st, sig).await }));
        }
        let mut out = vec![];
        for f in futs {
            out.push(f.await.unwrap());
        }
        out
    });
    let ok: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(ok.len(), 16);
    for (i, r) in results.iter().enumerate() {
        if i % 5 == 0 {
            assert!(matches!(r, Err(LedgerError::Refused(Refusal::SignatureInvalid))));
        }
    }
    let seqs: std::collections::BTreeSet<u64> = ok.iter().map(|a| a.seq).collect();
    assert_eq!(seqs.len(), 16, "distinct seqs, no gaps");
    assert_eq!(*seqs.iter().next().unwrap(), 2);
    assert_eq!(*seqs.iter().last().unwrap(), 17);
    let v = l.verify(&|_, _| {}).unwrap();
    assert_eq!(v.verdict.as_str(), "valid", "{:?}", v.reasons);
}
