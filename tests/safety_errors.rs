//! One classification of errors gives both the CLI exit code and the HTTP
//! status; signature checks never run on an async runtime's thread (issue 6,
//! "room for the domain layers").

use std::path::PathBuf;

use pil_ledger::error::{ErrorClass, LedgerError};
use pil_ledger::ledger::{self, Ledger};
use pil_ledger::store::StoreError;
use pil_ledger_core::authority::Role;
use pil_ledger_core::clock::ClockError;
use pil_ledger_core::state::Refusal;
use pil_ledger_core::wire::{Body, Statement};

#[test]
fn each_class_gives_one_exit_code_and_one_http_status() {
    let table = [
        (ErrorClass::Invalid, 2, 400),
        (ErrorClass::Unauthenticated, 2, 401),
        (ErrorClass::Forbidden, 2, 403),
        (ErrorClass::NotFound, 2, 404),
        (ErrorClass::Conflict, 2, 409),
        (ErrorClass::TooLarge, 2, 413),
        (ErrorClass::Rejected, 2, 422),
        (ErrorClass::ClockRefused, 2, 503),
        (ErrorClass::Unavailable, 3, 503),
        (ErrorClass::Internal, 3, 500),
    ];
    for (class, exit, http) in table {
        assert_eq!((class.exit_code(), class.http_status()), (exit, http), "{class:?}");
    }
}

#[test]
fn ledger_errors_map_to_codes_classes_exit_codes_and_http_statuses() {
    let p = PathBuf::from("/x");
    let cases: Vec<(LedgerError, &str, u8, u16)> = vec![
        (Refusal::SignatureInvalid.into(), "signature_invalid", 2, 403),
        (Refusal::NotCanonical("x".into()).into(), "statement_not_canonical", 2, 400),
        (Refusal::NonceConflict { seq: 3 }.into(), "nonce_conflict", 2, 409),
        (Refusal::CaseExists("C".into()).into(), "case_exists", 2, 409),
        (Refusal::MissingField("holder").into(), "missing_field", 2, 400),
        (Refusal::LastKeyOfficer.into(), "last_key_officer", 2, 422),
        (LedgerError::NotALedger(p.clone()), "no_ledger", 2, 404),
        (LedgerError::LedgerExists { path: p.clone(), why: "x".into() }, "ledger_exists", 2, 409),
        (LedgerError::KeyFile { path: p.clone(), message: "x".into() }, "bad_key_file", 2, 400),
        (LedgerError::InvalidArgument("x".into()), "invalid_argument", 2, 400),
        (ClockError::Skew { now_ms: 1, claimed_ms: 0 }.into(), "clock_skew", 2, 422),
        (ClockError::BehindLog { now_ms: 0, head_ms: 1 }.into(), "clock_behind_log", 2, 503),
        (ClockError::Jump { now_ms: 1, head_ms: 0, max_jump_ms: 9 }.into(), "clock_jump", 2, 503),
        (LedgerError::WriterStopped("x".into()), "writer_stopped", 3, 503),
        (LedgerError::Store(StoreError::Busy(p.clone())), "ledger_busy", 3, 503),
        (LedgerError::Store(StoreError::Corrupt("x".into())), "storage_error", 3, 500),
        (LedgerError::SelfCheck("x".into()), "self_check_failed", 3, 500),
        (LedgerError::IoAt { path: p, source: std::io::Error::other("x") }, "io_error", 3, 500),
    ];
    for (e, code, exit, http) in cases {
        assert_eq!((e.code(), e.exit_code(), e.http_status()), (code, exit, http), "{e}");
        assert_eq!(e.exit_code(), e.class().exit_code());
        assert_eq!(e.is_refusal(), exit == 2);
    }
}

#[test]
fn the_old_paths_still_name_the_error_and_ack_types() {
    let e: ledger::LedgerError = LedgerError::InvalidArgument("x".into());
    assert_eq!(e.code(), "invalid_argument");
    let a = ledger::Ack {
        seq: 1,
        hash: [1; 32],
        checkpoint: "c".into(),
        size: 2,
        proof: vec![],
        created: vec![("case_id".into(), "C".into())],
        duplicate: true,
    };
    let j: &pil_ledger::ack::Ack = &a;
    assert_eq!(j.to_json()["case_id"], "C");
    assert_eq!(j.to_json()["duplicate"], true);
}

/// CPU time this thread has run, in nanoseconds (Linux schedstat).
#[cfg(target_os = "linux")]
fn thread_cpu_ns() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    s.split_whitespace().next().unwrap().parse().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn async_append_decodes_and_verifies_signatures_off_the_runtime_thread() {
    let tmp = tempfile::tempdir().unwrap();
    let l = Ledger::init(tmp.path(), "async.example/pil", "Officer", "Unit").unwrap();
    let officer = ledger::read_key_file(&l.paths().officer_key()).unwrap();
    let p = pil_ledger_core::keys::generate();
    l.append_signed(&officer, "", Body::enrol(p.verifying_key().to_bytes(), "P", "U", vec![Role::Prosecutor])).unwrap();
    let n = 1500;
    let stmts: Vec<(Vec<u8>, [u8; 64])> = (0..n)
        .map(|i| {
            let body = Body::CaseOpened { title: "t".into(), area: "ecology".into(), unit: "u".into() };
            ledger::sign_statement(l.origin(), &p, &format!("A-{i}"), body)
        })
        .collect();
    // what decoding and checking all of them costs on one thread
    let t = thread_cpu_ns();
    for (st, sig) in &stmts {
        let s = Statement::from_bytes(st).unwrap();
        let item = pil_ledger_core::keys::SigItem {
            author: s.author,
            digest: pil_ledger_core::hash::statement_digest(st),
            signature: *sig,
        };
        assert!(pil_ledger_core::keys::verify_one(&item));
    }
    let check_cpu = thread_cpu_ns() - t;
    // a single-threaded runtime on this very thread submits them all
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let w = l.writer().unwrap().clone();
    let t = thread_cpu_ns();
    let acks = rt.block_on(async move {
        let tasks: Vec<_> = stmts
            .into_iter()
            .map(|(st, sig)| {
                let w = w.clone();
                tokio::spawn(async move { w.append(st, sig).await })
            })
            .collect();
        let mut acks = Vec::new();
        for t in tasks {
            acks.push(t.await.unwrap().unwrap());
        }
        acks
    });
    let runtime_cpu = thread_cpu_ns() - t;
    assert_eq!(acks.len(), n);
    assert!(
        runtime_cpu * 2 < check_cpu,
        "the runtime thread spent {runtime_cpu} ns for {n} appends; checking them costs {check_cpu} ns: \
         the checks ran on the runtime thread"
    );
}
