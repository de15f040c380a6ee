//! Evidence end to end through the real binary (`schema/evidence.md`): a
//! case with several files, collected by two people, sealed, handed over
//! twice, copied and submitted; `verify-file` on each; and every rule broken
//! once, with the store unchanged after each refusal.

mod common;

use std::path::PathBuf;

use common::{expect_refused, s, store_dump, Env};
use serde_json::Value;

const CASE: &str = "（2026）京04民初7号";

struct Team {
    e: Env,
    pros: PathBuf,
    asst: PathBuf,
    cust: (PathBuf, String),
    appr: PathBuf,
    liaison: (PathBuf, String),
}

fn team() -> Team {
    let e = Env::new();
    e.init();
    let (pros, _) = e.enroll("Li Si", "prosecutor");
    let (asst, _) = e.enroll("Zhao Liu", "assistant");
    let cust = e.enroll("Qian Qi", "custodian");
    let (appr, _) = e.enroll("Sun Ba", "approver");
    let liaison = e.enroll("Zhou Jiu", "court-liaison");
    e.run(&["case", "open", "--key", s(&pros), "--case", CASE, "--title", "Chaobai River discharge"]).ok();
    Team { e, pros, asst, cust, appr, liaison }
}

fn file(e: &Env, name: &str, bytes: &[u8]) -> PathBuf {
    let p = e.path(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Register files collected by Li Si and Zhao Liu; returns (id, seq) each.
fn add(t: &Team, files: &[&PathBuf]) -> Vec<(String, u64)> {
    let mut args = vec!["--json", "evidence", "add", "--key", s(&t.pros), "--case", CASE];
    for f in files {
        args.extend(["--file", s(f)]);
    }
    args.extend(["--collector", "Li Si", "--collector", "Zhao Liu", "--method", "photograph", "--place", "outfall 3"]);
    args.extend(["--collected-at", "2026-11-20T10:30:00+08:00"]);
    let r = t.e.run(&args).ok();
    json_lines(&r.stdout)
        .iter()
        .map(|v| (v["evidence_id"].as_str().unwrap().to_string(), v["seq"].as_u64().unwrap()))
        .collect()
}

fn verify_file(e: &Env, f: &std::path::Path) -> (i32, Value) {
    let r = e.run(&["--json", "verify-file", s(f)]);
    (r.code, serde_json::from_str(r.stdout.trim()).unwrap_or_else(|_| panic!("{} {}", r.stdout, r.stderr)))
}

fn codes(v: &Value) -> Vec<String> {
    v["reasons"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap().to_string()).collect()
}

fn second_collector(t: &Team, seq: u64) {
    t.e.run(&["endorse", "--key", s(&t.asst), "--seq", &seq.to_string(), "--capacity", "second-collector"]).ok();
}

#[test]
fn a_case_with_several_files_through_collection_seal_handovers_copy_and_court() {
    let t = team();
    let (f1, f2, f3) =
        (file(&t.e, "a.jpg", b"photo one"), file(&t.e, "b.pdf", b"lab report"), file(&t.e, "c.mp4", b"video"));
    let items = add(&t, &[&f1, &f2, &f3]);
    assert_eq!(items.len(), 3);
    for (id, seq) in &items {
        assert!(id.starts_with("EV-"), "{id}");
        second_collector(&t, *seq);
    }
    let e1 = items[0].0.as_str();
    t.e.run(&["seal", "--key", s(&t.pros), "--evidence", e1, "--seal-id", "S-0001"]).ok();
    t.e.run(&[
        "custody",
        "transfer",
        "--key",
        s(&t.pros),
        "--evidence",
        e1,
        "--to",
        &t.cust.1,
        "--purpose",
        "storage",
        "--seal",
        "intact",
    ])
    .ok();
    t.e.run(&["custody", "receive", "--key", s(&t.cust.0), "--evidence", e1, "--file", s(&f1), "--seal", "intact"])
        .ok();
    t.e.run(&[
        "custody",
        "transfer",
        "--key",
        s(&t.cust.0),
        "--evidence",
        e1,
        "--to",
        &t.liaison.1,
        "--purpose",
        "court",
        "--seal",
        "intact",
    ])
    .ok();
    t.e.run(&["custody", "receive", "--key", s(&t.liaison.0), "--evidence", e1, "--file", s(&f1), "--seal", "intact"])
        .ok();
    let copy = file(&t.e, "a-copy.png", b"photo one, transcoded");
    t.e.run(&["evidence", "derive", "--key", s(&t.asst), "--parent", e1, "--file", s(&copy), "--method", "transcode"])
        .ok();
    t.e.run(&[
        "evidence",
        "submit",
        "--key",
        s(&t.liaison.0),
        "--evidence",
        e1,
        "--court",
        "Beijing No.4 Intermediate Court",
        "--reference",
        "R-1",
    ])
    .ok();
    for f in [&f1, &f2, &f3] {
        let (code, v) = verify_file(&t.e, f);
        assert_eq!((code, v["verdict"].as_str().unwrap()), (0, "valid"), "{v}");
        // the proof and the checkpoint come with the answer
        assert!(v["checkpoint"].as_str().unwrap().contains("test.example/pil"));
        assert!(v["proof"].is_array());
    }
    let (_, v) = verify_file(&t.e, &copy);
    assert_eq!(v["verdict"], "valid", "{v}");
    // One changed byte: no entry has that digest.
    std::fs::write(&f2, b"lab reporT").unwrap();
    let (code, v) = verify_file(&t.e, &f2);
    assert_eq!((code, v["verdict"].as_str().unwrap()), (1, "invalid"));
    assert_eq!(codes(&v), ["digest_unknown"]);
    // The whole ledger verifies, and the timeline reads.
    assert_eq!(t.e.run(&["--json", "verify"]).ok().json()["verdict"], "valid");
    let show = t.e.run(&["case", "show", CASE]).ok().stdout;
    assert!(show.contains("Qian Qi") && show.contains("+08:00"), "{show}");
}

#[test]
fn a_missing_receipt_a_broken_seal_and_a_single_collector_are_warnings() {
    let t = team();
    let (f1, f2, f3) = (file(&t.e, "a", b"one"), file(&t.e, "b", b"two"), file(&t.e, "c", b"three"));
    let items = add(&t, &[&f1, &f2, &f3]);
    second_collector(&t, items[0].1);
    second_collector(&t, items[1].1);
    // f1: handed over, never received
    t.e.run(&[
        "custody",
        "transfer",
        "--key",
        s(&t.pros),
        "--evidence",
        &items[0].0,
        "--to",
        &t.cust.1,
        "--purpose",
        "storage",
    ])
    .ok();
    let (code, v) = verify_file(&t.e, &f1);
    assert_eq!((code, v["verdict"].as_str().unwrap()), (0, "valid-with-warnings"));
    assert_eq!(codes(&v), ["custody_gap"]);
    // f2: sealed, and the seal found broken at the handover
    t.e.run(&["seal", "--key", s(&t.pros), "--evidence", &items[1].0, "--seal-id", "S-2"]).ok();
    t.e.run(&[
        "custody",
        "transfer",
        "--key",
        s(&t.pros),
        "--evidence",
        &items[1].0,
        "--to",
        &t.cust.1,
        "--purpose",
        "storage",
        "--seal",
        "intact",
    ])
    .ok();
    t.e.run(&[
        "custody",
        "receive",
        "--key",
        s(&t.cust.0),
        "--evidence",
        &items[1].0,
        "--file",
        s(&f2),
        "--seal",
        "broken",
    ])
    .ok();
    let (_, v) = verify_file(&t.e, &f2);
    assert_eq!(codes(&v), ["seal_broken"]);
    // f3: one collector only
    let (_, v) = verify_file(&t.e, &f3);
    assert_eq!(codes(&v), ["second_collector_missing"]);
}

#[test]
fn a_receipt_of_different_bytes_makes_the_item_invalid() {
    let t = team();
    let f1 = file(&t.e, "a", b"original");
    let items = add(&t, &[&f1]);
    second_collector(&t, items[0].1);
    t.e.run(&[
        "custody",
        "transfer",
        "--key",
        s(&t.pros),
        "--evidence",
        &items[0].0,
        "--to",
        &t.cust.1,
        "--purpose",
        "storage",
    ])
    .ok();
    let swapped = file(&t.e, "swapped", b"not the original");
    t.e.run(&["custody", "receive", "--key", s(&t.cust.0), "--evidence", &items[0].0, "--file", s(&swapped)]).ok();
    let (code, v) = verify_file(&t.e, &f1);
    assert_eq!((code, codes(&v)), (1, vec!["custody_rehash_mismatch".to_string()]));
}

#[test]
fn every_broken_rule_is_refused_and_changes_nothing() {
    let t = team();
    let f1 = file(&t.e, "a", b"one");
    let items = add(&t, &[&f1]);
    let (id, seq) = (items[0].0.clone(), items[0].1.to_string());
    let other = file(&t.e, "other", b"other");
    let refuse = |args: &[&str], code: &str| {
        let before = store_dump(&t.e.data());
        expect_refused(&t.e, args, &[], code);
        assert!(before == store_dump(&t.e.data()), "{args:?} changed the store");
    };
    // wrong role: an approver registers evidence
    refuse(&["evidence", "add", "--key", s(&t.appr), "--case", CASE, "--file", s(&other)], "role_not_allowed");
    // unknown case
    refuse(&["evidence", "add", "--key", s(&t.pros), "--case", "NO-SUCH-CASE", "--file", s(&other)], "unknown_case");
    // not the current holder
    refuse(
        &["custody", "transfer", "--key", s(&t.cust.0), "--evidence", &id, "--to", &t.liaison.1, "--purpose", "x"],
        "not_the_holder",
    );
    // the second collector is the registrant under another key
    let (li2, _) = t.e.enroll("li  si", "assistant");
    refuse(&["endorse", "--key", s(&li2), "--seq", &seq, "--capacity", "second-collector"], "self_endorsement");
    // disposal under a hold
    t.e.run(&[
        "custody",
        "transfer",
        "--key",
        s(&t.pros),
        "--evidence",
        &id,
        "--to",
        &t.cust.1,
        "--purpose",
        "storage",
    ])
    .ok();
    t.e.run(&["custody", "receive", "--key", s(&t.cust.0), "--evidence", &id, "--file", s(&f1)]).ok();
    t.e.run(&["hold", "--key", s(&t.appr), "--evidence", &id, "--reason", "appeal pending"]).ok();
    refuse(
        &["evidence", "dispose", "--key", s(&t.cust.0), "--evidence", &id, "--method", "destroyed", "--reason", "x"],
        "on_legal_hold",
    );
    t.e.run(&["release", "--key", s(&t.appr), "--evidence", &id, "--reason", "appeal decided"]).ok();
    t.e.run(&[
        "evidence",
        "dispose",
        "--key",
        s(&t.cust.0),
        "--evidence",
        &id,
        "--method",
        "returned",
        "--reason",
        "case closed",
    ])
    .ok();
    // nothing after disposal
    refuse(&["evidence", "access", "--key", s(&t.pros), "--evidence", &id, "--purpose", "look"], "already_disposed");
    // the same file twice
    refuse(&["evidence", "add", "--key", s(&t.pros), "--case", CASE, "--file", s(&f1)], "digest_exists");
    // an unreadable file refuses the whole command before anything is appended
    let missing = t.e.path("missing");
    let before = store_dump(&t.e.data());
    let r = t.e.run(&[
        "--json",
        "evidence",
        "add",
        "--key",
        s(&t.pros),
        "--case",
        CASE,
        "--file",
        s(&other),
        "--file",
        s(&missing),
    ]);
    assert_ne!(r.code, 0);
    assert!(before == store_dump(&t.e.data()));
    // a prior digest that does not match the file
    refuse(
        &[
            "evidence",
            "add",
            "--key",
            s(&t.pros),
            "--case",
            CASE,
            "--file",
            s(&other),
            "--prior-digest",
            "md5:00000000000000000000000000000000",
        ],
        "prior_digest_mismatch",
    );
    let (_, v) = verify_file(&t.e, &f1);
    assert!(codes(&v).contains(&"evidence_disposed".to_string()), "{v}");
}

#[test]
fn a_matching_prior_md5_is_recorded_as_weak() {
    let t = team();
    let f = file(&t.e, "a", b"abc");
    // MD5("abc")
    let r = t.e.run(&[
        "--json",
        "evidence",
        "add",
        "--key",
        s(&t.pros),
        "--case",
        CASE,
        "--file",
        s(&f),
        "--prior-digest",
        "md5:900150983cd24fb0d6963f7d28e17f72",
    ]);
    let r = r.ok();
    let seq = r.json()["seq"].as_u64().unwrap();
    let shown = t.e.run(&["--json", "show", &seq.to_string()]).ok().json();
    let prior = &shown["statement"]["body"]["prior_digests"][0];
    assert_eq!(prior["alg"], "md5");
    // the weak digest is not a way to find the item, and is shown as weak
    let (_, v) = verify_file(&t.e, &f);
    assert_eq!(v["evidence_id"], r.json()["evidence_id"]);
    assert_eq!(v["prior_digests"][0]["digest"], "md5:900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(v["prior_digests"][0]["weak"], true);
    assert_eq!(codes(&v), ["second_collector_missing"], "the prior digest adds no reason of its own: {v}");
    let plain = t.e.run(&["verify-file", s(&f)]).stdout;
    assert!(plain.contains("weak; shown, not used to find the file"), "{plain}");
}

/// `--file DIR` registers the directory's regular files only: a symbolic
/// link (here to a file outside the directory) and a subdirectory are
/// skipped, each named on stderr.
#[cfg(unix)]
#[test]
fn a_directory_skips_symbolic_links_and_subdirectories_and_says_so() {
    let t = team();
    let dir = t.e.path("dir");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/inner"), b"not registered").unwrap();
    std::fs::write(dir.join("photo.jpg"), b"photo bytes").unwrap();
    let outside = file(&t.e, "outside-secret", b"outside the directory");
    std::os::unix::fs::symlink(&outside, dir.join("link")).unwrap();
    let r = t.e.run(&["--json", "evidence", "add", "--key", s(&t.pros), "--case", CASE, "--file", s(&dir)]).ok();
    let items = json_lines(&r.stdout);
    assert_eq!(items.len(), 1, "{}", r.stdout);
    assert_eq!(items[0]["file"], dir.join("photo.jpg").display().to_string());
    let stderr_has = |name: &str, why: &str| {
        let line = format!("skipped {}: {why}", dir.join(name).display());
        assert!(r.stderr.lines().any(|l| l == line), "no line {line:?} in stderr: {}", r.stderr);
    };
    stderr_has("link", "a symbolic link");
    stderr_has("sub", "a directory (not recursive)");
    assert_eq!(r.stderr.lines().filter(|l| l.starts_with("skipped ")).count(), 2, "{}", r.stderr);
    // the file behind the link was not registered
    let (_, v) = verify_file(&t.e, &outside);
    assert_ne!(v["evidence_id"], items[0]["evidence_id"], "{v}");
}
