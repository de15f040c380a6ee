//! `init`, `stress` and `demo` never destroy anything (issue 6, items 6, 7
//! and 13): a refused `init` leaves nothing behind, key files are never
//! deleted or overwritten, and `stress` writes only into a ledger it created
//! unless told `--allow-existing`.

mod common;

use common::{expect_refused, store_dump, tree_hashes, Env};

#[test]
fn init_with_empty_holder_or_unit_is_refused_and_creates_nothing() {
    for (flag, value) in [("--holder", ""), ("--holder", "   "), ("--unit", ""), ("--unit", " ")] {
        let e = Env::new();
        let r = expect_refused(&e, &["init", "--origin", "t.example/pil", flag, value], &[], "missing_field");
        assert!(r.err_json()["error"]["message"].as_str().unwrap().contains(&flag[2..]), "{}", r.stderr);
        assert!(!e.data().exists(), "{flag} {value:?}: the data directory was created");
    }
}

#[test]
fn init_with_bad_origin_is_refused_and_creates_nothing() {
    for origin in ["", "has space", "a+b"] {
        let e = Env::new();
        expect_refused(&e, &["init", "--origin", origin], &[], "invalid_argument");
        assert!(!e.data().exists(), "origin {origin:?}: the data directory was created");
    }
}

#[test]
fn init_refusal_in_an_existing_empty_data_dir_leaves_it_empty() {
    let e = Env::new();
    std::fs::create_dir(e.data()).unwrap();
    expect_refused(&e, &["init", "--origin", "t.example/pil", "--holder", ""], &[], "missing_field");
    assert!(tree_hashes(&e.data()).is_empty(), "{:?}", tree_hashes(&e.data()));
}

#[test]
fn init_never_deletes_or_overwrites_key_files_next_to_an_unfinished_store() {
    let e = Env::new();
    // an unfinished init (store with no record) next to key files: before,
    // init deleted the store and both keys and wrote new ones
    std::fs::create_dir_all(e.data().join("keys")).unwrap();
    drop(pil_ledger::store::SledStore::open(&e.data().join("ledger")).unwrap());
    let officer = pil_ledger_core::keys::to_pem(&pil_ledger_core::keys::generate());
    std::fs::write(e.officer(), &officer).unwrap();
    let before = tree_hashes(&e.data());
    let r = expect_refused(&e, &["init", "--origin", "t.example/pil"], &[], "ledger_exists");
    assert!(r.err_json()["error"]["message"].as_str().unwrap().contains("officer.key"), "{}", r.stderr);
    assert_eq!(tree_hashes(&e.data()), before, "init changed the data directory");
    assert_eq!(std::fs::read_to_string(e.officer()).unwrap(), officer);
}

#[test]
fn init_on_a_committed_ledger_is_refused_and_changes_no_byte() {
    let e = Env::new();
    e.init();
    let before = tree_hashes(&e.data());
    expect_refused(&e, &["init", "--origin", "other.example/pil"], &[], "ledger_exists");
    // the same with the key files moved away: the store alone is a ledger
    std::fs::rename(e.data().join("keys"), e.path("keys-elsewhere")).unwrap();
    let without_keys = tree_hashes(&e.data());
    expect_refused(&e, &["init", "--origin", "other.example/pil"], &[], "ledger_exists");
    assert_eq!(tree_hashes(&e.data()), without_keys);
    std::fs::rename(e.path("keys-elsewhere"), e.data().join("keys")).unwrap();
    assert_eq!(tree_hashes(&e.data()), before);
}

#[test]
fn init_refuses_a_ledger_directory_that_is_not_a_store() {
    let e = Env::new();
    std::fs::create_dir_all(e.data().join("ledger")).unwrap();
    std::fs::write(e.data().join("ledger/notes.txt"), "mine").unwrap();
    let before = tree_hashes(&e.data());
    expect_refused(&e, &["init", "--origin", "t.example/pil"], &[], "ledger_exists");
    assert_eq!(tree_hashes(&e.data()), before);
}

#[test]
fn demo_on_a_directory_with_stray_keys_refuses_and_keeps_them() {
    let e = Env::new();
    std::fs::create_dir_all(e.data().join("keys")).unwrap();
    std::fs::write(e.data().join("keys/log.key"), "precious").unwrap();
    let before = tree_hashes(&e.data());
    expect_refused(&e, &["demo"], &[], "ledger_exists");
    assert_eq!(tree_hashes(&e.data()), before);
}

#[test]
fn stress_refuses_a_ledger_it_did_not_create_without_allow_existing() {
    let e = Env::new();
    e.init();
    let before = store_dump(&e.data());
    let r = expect_refused(&e, &["stress", "--count", "3", "--clients", "1"], &[], "ledger_exists");
    assert!(r.err_json()["error"]["message"].as_str().unwrap().contains("--allow-existing"), "{}", r.stderr);
    assert_eq!(store_dump(&e.data()), before, "stress changed a ledger it did not create");
    // with the flag it writes into it
    let r = e.run(&["stress", "--count", "3", "--clients", "1", "--allow-existing"]).ok();
    assert_eq!(r.stdout.lines().count(), 4, "{}", r.stdout);
    assert!(!e.data().join(pil_ledger::stress::MARKER).exists(), "the ledger is not stress's own");
}

#[test]
fn stress_refuses_any_non_empty_directory_it_did_not_create() {
    let e = Env::new();
    std::fs::create_dir_all(e.data()).unwrap();
    std::fs::write(e.data().join("README"), "someone's files").unwrap();
    let before = tree_hashes(&e.data());
    expect_refused(&e, &["stress", "--count", "3", "--clients", "1"], &[], "ledger_exists");
    assert_eq!(tree_hashes(&e.data()), before);
}

#[test]
fn stress_creates_marks_and_reuses_its_own_ledger_without_the_flag() {
    let e = Env::new();
    let first = e.run(&["stress", "--count", "4", "--clients", "2"]).ok();
    assert_eq!(first.stdout.lines().count(), 6);
    assert!(e.data().join(pil_ledger::stress::MARKER).is_file());
    assert!(first.stderr.contains("created a new ledger"), "{}", first.stderr);
    let second = e.run(&["stress", "--count", "4", "--clients", "2"]).ok();
    assert_eq!(second.stdout.lines().count(), 6);
    let seqs: Vec<u64> =
        second.stdout.lines().map(|l| l.split(' ').nth(1).unwrap().parse().unwrap()).collect::<Vec<_>>();
    assert!(seqs.iter().all(|&s| s >= 7), "second run appends after the first: {seqs:?}");
    assert_eq!(e.run(&["--json", "verify"]).ok().json()["verdict"], "valid");
}

#[test]
fn stress_presign_reports_pre_signed_rate_latency_and_raw_verify() {
    let e = Env::new();
    let r = e.run(&["stress", "--count", "40", "--clients", "4", "--presign"]).ok();
    assert_eq!(r.stdout.lines().count(), 44);
    let last = r.stderr.lines().last().unwrap();
    for word in ["pre-signed", "entries/s", "p50", "p99", "verify_strict", "1 core"] {
        assert!(last.contains(word), "{word:?} missing from {last}");
    }
    let j = e.run(&["--json", "stress", "--count", "8", "--clients", "2", "--presign"]).ok();
    let v: serde_json::Value = serde_json::from_str(j.stderr.lines().last().unwrap()).unwrap();
    assert_eq!(v["presigned"], true);
    assert_eq!(v["entries"], 8);
    assert!(v["raw_verify_strict_per_sec_one_core"].as_f64().unwrap() > 0.0);
}

#[test]
fn stress_report_is_returned_not_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let opts = pil_ledger::stress::StressOptions { count: 10, clients: 2, presign: false, allow_existing: false };
    let report = pil_ledger::stress::run(&data, &opts).unwrap();
    assert_eq!(report.entries, 10);
    assert_eq!(report.clients, 2);
    assert!(report.created.is_some());
    assert!(report.entries_per_sec > 0.0 && report.raw_verify_strict_per_sec > 0.0);
    assert!(report.ack_p50 <= report.ack_p99);
    assert!(report.summary().contains("entries/s"));
    let again = pil_ledger::stress::run(&data, &opts).unwrap();
    assert!(again.created.is_none(), "the second run reuses the ledger");
}
