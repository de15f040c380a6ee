//! `verify` in bounded memory (`schema/storage.md` §7.1), driven through the
//! real binary with the smallest budget (`PIL_VERIFY_MEMORY=0`: 64 KiB), so
//! the rebuilt index spills to many runs and the comparison with the store
//! is the merge join over them. The same drills as `tamper.rs` must give the
//! same reasons as an in-memory verify, and a spill directory that cannot
//! be used must not change the verdict.

mod common;

use common::{with_raw, Env};
use serde_json::Value;

fn build() -> (Env, tempfile::TempDir) {
    (Env::with_stress(1500), tempfile::tempdir().unwrap())
}

/// `verify --json` with the smallest budget, spilling into `dir`.
fn verify_spilled(e: &Env, dir: &tempfile::TempDir) -> (i32, Value, String) {
    let d = dir.path().to_str().unwrap();
    let r = e.run_env(
        &["--json", "verify"],
        &[("PIL_VERIFY_MEMORY", "0"), ("PIL_SPILL_DIR", d), ("PIL_LOG", "pil_ledger=debug")],
    );
    (r.code, r.json(), r.stderr)
}

fn verify_in_memory(e: &Env) -> (i32, Value) {
    let r = e.run_env(&["--json", "verify"], &[("PIL_VERIFY_MEMORY", "100000")]);
    (r.code, r.json())
}

/// The runs the replay wrote, from the debug line `verify: entries replayed`.
fn runs(stderr: &str) -> u64 {
    let line = stderr.lines().find(|l| l.contains("verify: entries replayed")).expect("debug line");
    let at = line.find("runs=").expect("runs field") + 5;
    line[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

fn codes(v: &Value) -> Vec<(String, Value)> {
    let mut c: Vec<(String, Value)> = v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["code"].as_str().unwrap().to_string(), r["seq"].clone()))
        .collect();
    c.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.to_string().cmp(&b.1.to_string())));
    c
}

#[test]
fn a_spilled_verify_is_valid_and_agrees_with_the_in_memory_one_and_leaves_no_files() {
    let (e, dir) = build();
    let (code, spilled, stderr) = verify_spilled(&e, &dir);
    assert_eq!(code, 0, "{spilled} {stderr}");
    assert_eq!(spilled["verdict"], "valid");
    assert!(runs(&stderr) >= 3, "the index must have spilled: {stderr}");
    let (_, mem) = verify_in_memory(&e);
    assert_eq!(spilled["root"], mem["root"]);
    assert_eq!(spilled["entries"], mem["entries"]);
    assert!(spilled["entries"].as_u64().unwrap() > 1500);
    // The spill files are unlinked from the start.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn index_records_that_differ_are_extra_or_missing_are_found_by_the_merge_join() {
    let (e, dir) = build();
    let mut removed = Vec::new();
    with_raw(&e, |db| {
        // One case record altered, one forged, and the first and last
        // entry-hash records (namespace 3) removed, so the join sees a
        // missing record before any stored one and after the last.
        let mut k = vec![b'I', 4];
        k.extend_from_slice(b"C-1");
        let mut v = db.get(&k).unwrap().unwrap().to_vec();
        let n = v.len();
        v[n - 1] ^= 0x20;
        db.insert(k, v).unwrap();
        db.insert(b"I\x04forged-case", b"x".to_vec()).unwrap();
        let first = db.scan_prefix([b'I', 3]).next().unwrap().unwrap().0;
        let last = db.scan_prefix([b'I', 3]).next_back().unwrap().unwrap().0;
        let lowest = db.scan_prefix([b'I']).next().unwrap().unwrap().0;
        for k in [first, last, lowest] {
            if db.remove(&k).unwrap().is_some() {
                removed.push(k);
            }
        }
    });
    let (code, spilled, stderr) = verify_spilled(&e, &dir);
    assert_eq!(code, 1, "{spilled} {stderr}");
    assert!(runs(&stderr) >= 3);
    let (mcode, mem) = verify_in_memory(&e);
    assert_eq!(mcode, 1);
    assert_eq!(codes(&spilled), codes(&mem), "spilled:\n{spilled}\nin memory:\n{mem}");
    let msgs: Vec<&str> =
        spilled["reasons"].as_array().unwrap().iter().map(|r| r["message"].as_str().unwrap()).collect();
    assert!(msgs.iter().any(|m| m.contains("differs from")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("not derivable")), "{msgs:?}");
    let missing = msgs.iter().filter(|m| m.contains("is missing")).count();
    assert_eq!(missing, removed.len(), "{msgs:?}");
    assert!(spilled["reasons"].as_array().unwrap().iter().all(|r| r["code"] == "index_mismatch"), "{spilled}");
}

#[test]
fn a_spill_directory_that_cannot_be_used_keeps_the_rebuild_in_memory_with_the_same_verdict() {
    let (e, _) = build();
    let r =
        e.run_env(&["--json", "verify"], &[("PIL_VERIFY_MEMORY", "0"), ("PIL_SPILL_DIR", "/nonexistent/pil-spill")]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    assert_eq!(r.json()["verdict"], "valid");
    assert!(r.stderr.contains("/nonexistent/pil-spill") && r.stderr.contains("stayed in memory"), "{}", r.stderr);
}
