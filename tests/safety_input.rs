//! Hostile input gets a typed refusal and changes nothing (issue 6, items
//! 9, 10, 11 and 13): non-UTF-8 arguments, endless or blocking files, kept
//! checkpoints that are not this log's, a data directory that cannot be read.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use common::{expect_refused, s, store_dump, tree_hashes, Env};

fn os(a: &str) -> &OsStr {
    OsStr::new(a)
}

// ------------------------------------------------------------ non-UTF-8 --

#[test]
fn non_utf8_arguments_are_refused_invalid_argument_not_a_panic() {
    let e = Env::new();
    e.init();
    let (pros, pk) = e.enroll("p.key", "prosecutor");
    let o = e.officer();
    let bad1 = OsStr::from_bytes(b"\xff");
    let bad2 = OsStr::from_bytes(b"\xff\xfe");
    let cases: Vec<Vec<&OsStr>> = vec![
        vec![os("case"), os("open"), os("--key"), pros.as_os_str(), os("--case"), bad1, os("--title"), os("t")],
        vec![os("case"), os("open"), os("--key"), pros.as_os_str(), os("--case"), os("C"), os("--title"), bad2],
        vec![
            os("enroll"),
            os("--key"),
            o.as_os_str(),
            os("--pubkey"),
            os(&pk),
            os("--holder"),
            bad2,
            os("--unit"),
            os("u"),
            os("--roles"),
            os("auditor"),
        ],
        vec![os("show"), bad1],
        vec![os("init"), os("--origin"), bad1],
        vec![os("verify"), os("--vkey"), bad2],
    ];
    for json in [true, false] {
        for args in &cases {
            let before = store_dump(&e.data());
            let mut a: Vec<&OsStr> = if json { vec![os("--json")] } else { vec![] };
            a.extend(args.iter().copied());
            let r = e.run_os(a, &[]);
            assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
            assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
            if json {
                assert_eq!(r.err_json()["error"]["code"], "invalid_argument", "{args:?}: {}", r.stderr);
            }
            assert!(r.stdout.is_empty());
            assert_eq!(store_dump(&e.data()), before, "{args:?} changed the ledger");
        }
    }
}

#[test]
fn a_non_utf8_data_path_works_and_json_output_does_not_panic() {
    let e = Env::new();
    let data = e.tmp.path().join(OsStr::from_bytes(b"d\xffata"));
    let out = std::process::Command::new(common::BIN)
        .arg("--data")
        .arg(&data)
        .args(["--json", "init", "--origin", "t.example/pil"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["vkey"].as_str().unwrap().starts_with("t.example/pil+"));
    let key = e.tmp.path().join(OsStr::from_bytes(b"k\xfe.key"));
    let out =
        std::process::Command::new(common::BIN).arg("--json").arg("keygen").arg("--out").arg(&key).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

// -------------------------------------------------------- bounded reads --

fn mkfifo(path: &std::path::Path) {
    let st = std::process::Command::new("mkfifo").arg(path).status().unwrap();
    assert!(st.success());
}

/// Run and fail the test (instead of hanging it) if the binary blocks.
fn run_with_deadline(e: &Env, args: &[&str]) -> common::Run {
    let (tx, rx) = std::sync::mpsc::channel();
    let data = e.data();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    std::thread::spawn(move || {
        let o = std::process::Command::new(common::BIN).arg("--data").arg(data).args(&args).output().unwrap();
        let _ = tx.send(o);
    });
    let o = rx.recv_timeout(std::time::Duration::from_secs(20)).expect("the command hung");
    common::Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

#[test]
fn key_file_that_is_dev_zero_a_fifo_a_directory_or_huge_is_refused_bad_key_file() {
    let e = Env::new();
    e.init();
    let fifo = e.path("key.fifo");
    mkfifo(&fifo);
    let huge = e.path("huge.key");
    std::fs::write(&huge, vec![b'A'; 64 * 1024 + 1]).unwrap();
    let dir = e.path("a-dir");
    std::fs::create_dir(&dir).unwrap();
    for key in ["/dev/zero", s(&fifo), s(&huge), s(&dir)] {
        let before = store_dump(&e.data());
        let r = run_with_deadline(&e, &["--json", "case", "open", "--key", key, "--case", "C", "--title", "t"]);
        assert_eq!(r.code, 2, "{key}: {}", r.stderr);
        assert_eq!(r.err_json()["error"]["code"], "bad_key_file", "{key}: {}", r.stderr);
        assert_eq!(store_dump(&e.data()), before);
    }
}

#[test]
fn kept_checkpoint_that_is_dev_zero_or_a_fifo_is_refused_invalid_argument() {
    let e = Env::new();
    e.init();
    let fifo = e.path("cp.fifo");
    mkfifo(&fifo);
    let huge = e.path("huge.note");
    std::fs::write(&huge, vec![b'a'; 1024 * 1024 + 1]).unwrap();
    let before = tree_hashes(&e.data());
    for cp in ["/dev/zero", s(&fifo), s(&huge)] {
        let r = run_with_deadline(&e, &["--json", "verify", "--checkpoint", cp]);
        assert_eq!(r.code, 2, "{cp}: {}", r.stderr);
        assert_eq!(r.err_json()["error"]["code"], "invalid_argument", "{cp}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "no verdict is given: {}", r.stdout);
    }
    assert_eq!(tree_hashes(&e.data()), before);
}

// ----------------------------------------------------- kept checkpoints --

#[test]
fn kept_checkpoint_with_crlf_line_ends_is_bad_input_not_an_invalid_ledger() {
    let e = Env::new();
    e.init();
    e.enroll("p.key", "prosecutor");
    let note = e.run(&["checkpoint", "--size", "1"]).ok().stdout;
    let crlf = e.path("crlf.note");
    std::fs::write(&crlf, note.replace('\n', "\r\n")).unwrap();
    let before = tree_hashes(&e.data());
    let r = expect_refused(&e, &["verify", "--checkpoint", s(&crlf)], &[], "invalid_argument");
    assert!(r.err_json()["error"]["message"].as_str().unwrap().contains("crlf.note"), "{}", r.stderr);
    assert_eq!(tree_hashes(&e.data()), before);
    // the same note with LF line ends is a good kept checkpoint
    let lf = e.path("lf.note");
    std::fs::write(&lf, note).unwrap();
    assert_eq!(e.run(&["--json", "verify", "--checkpoint", s(&lf)]).ok().json()["verdict"], "valid");
}

#[test]
fn kept_checkpoint_from_another_log_is_bad_input_not_an_invalid_ledger() {
    let other = Env::new();
    other.init();
    other.enroll("p.key", "prosecutor");
    let foreign = other.path("foreign.note");
    std::fs::write(&foreign, other.run(&["checkpoint"]).ok().stdout).unwrap();
    let e = Env::new();
    e.init();
    let before = tree_hashes(&e.data());
    expect_refused(&e, &["verify", "--checkpoint", s(&foreign)], &[], "invalid_argument");
    assert_eq!(tree_hashes(&e.data()), before);
}

#[test]
fn a_properly_signed_kept_checkpoint_the_log_does_not_extend_is_still_log_rewritten() {
    // a checkpoint signed by this log's key for a tree the log never had
    let e = Env::new();
    e.init();
    let log_key = pil_ledger::ledger::read_key_file(&e.data().join("keys/log.key")).unwrap();
    let forged = pil_ledger_core::note::Checkpoint {
        origin: "test.example/pil".into(),
        size: 1,
        root: [7u8; 32],
        extensions: vec![],
    }
    .sign(&log_key)
    .unwrap();
    let kept = e.path("kept.note");
    std::fs::write(&kept, forged).unwrap();
    let r = e.run(&["--json", "verify", "--checkpoint", s(&kept)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["verdict"], "invalid");
    assert!(v["reasons"].as_array().unwrap().iter().any(|r| r["code"] == "log_rewritten"), "{v}");
}

// ------------------------------------------------ unreadable data dir --

#[test]
fn a_data_path_that_is_a_file_is_an_io_error_not_no_ledger() {
    let e = Env::new();
    std::fs::write(e.data(), "not a directory").unwrap();
    for args in [&["--json", "entries"][..], &["--json", "verify"], &["--json", "vkey"]] {
        let r = e.run(args);
        assert_eq!(r.code, 3, "{args:?}: {}", r.stderr);
        assert_eq!(r.err_json()["error"]["code"], "io_error", "{args:?}: {}", r.stderr);
    }
    assert_eq!(std::fs::read_to_string(e.data()).unwrap(), "not a directory");
}

#[test]
fn a_data_path_under_a_file_is_an_io_error_not_no_ledger() {
    let e = Env::new();
    std::fs::write(e.path("plain"), "x").unwrap();
    let r = std::process::Command::new(common::BIN)
        .arg("--data")
        .arg(e.path("plain").join("data"))
        .args(["--json", "checkpoint"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(3), "{}", String::from_utf8_lossy(&r.stderr));
    let line = String::from_utf8_lossy(&r.stderr);
    let v: serde_json::Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    assert_eq!(v["error"]["code"], "io_error");
}

#[test]
fn an_absent_data_directory_is_still_no_ledger() {
    let e = Env::new();
    let r = expect_refused(&e, &["entries"], &[], "no_ledger");
    assert!(r.stderr.contains("init"));
    assert!(!e.data().exists());
}
