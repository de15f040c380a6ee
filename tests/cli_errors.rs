//! CLI errors that are neither rules nor verdicts: each code through the
//! real binary, with its exit code.

mod common;

use common::{s, tree_hashes, Env};

#[test]
fn keygen_never_overwrites_a_key_file() {
    let e = Env::new();
    let (p, _) = e.keygen("k.key");
    let before = std::fs::read(&p).unwrap();
    let r = e.run(&["--json", "keygen", "--out", s(&p)]);
    assert_eq!((r.code, r.err_json()["error"]["code"].as_str().unwrap()), (2, "file_exists"));
    assert_eq!(std::fs::read(&p).unwrap(), before);
}

#[test]
fn checkpoint_at_a_size_never_signed_is_no_checkpoint() {
    let e = Env::new();
    e.init();
    let before = tree_hashes(&e.data());
    let r = e.run(&["--json", "checkpoint", "--size", "999"]);
    assert_eq!((r.code, r.err_json()["error"]["code"].as_str().unwrap()), (2, "no_checkpoint"));
    assert!(before == tree_hashes(&e.data()));
}

#[test]
fn a_store_of_an_unknown_storage_format_is_refused_before_anything() {
    let e = Env::new();
    e.init();
    {
        let st = pil_ledger::store::SledStore::open(&e.data().join("ledger")).unwrap();
        st.raw().insert(b"V", 3u32.to_le_bytes().to_vec()).unwrap();
        st.raw().flush().unwrap();
    }
    let officer = e.officer();
    let (_, pk) = e.keygen("p.key");
    let revoke = ["--json", "revoke", "--key", s(&officer), "--pubkey", &pk, "--reason", "r"];
    for args in [&["--json", "entries"][..], &["--json", "verify"], &revoke] {
        let r = e.run(args);
        assert_eq!(r.code, 3, "{args:?}: {}", r.stderr);
        assert_eq!(r.err_json()["error"]["code"], "unsupported_storage_format", "{args:?}");
    }
}

#[test]
fn a_usage_error_is_one_line_naming_the_missing_arguments() {
    let e = Env::new();
    e.init();
    let r = e.run(&["revoke", "--reason", "r"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert!(lines[0].starts_with("error [invalid_argument]: "), "{}", r.stderr);
    assert!(lines[0].contains("--key <KEY>") && lines[0].contains("--pubkey <PUBKEY>"), "{}", r.stderr);
    assert!(!lines[0].contains("Usage"), "{}", r.stderr);

    let r = e.run(&["--json", "revoke", "--reason", "r"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stderr.trim()).unwrap();
    assert_eq!(v["error"]["code"], "invalid_argument");
    let m = v["error"]["message"].as_str().unwrap();
    assert!(m.contains("--key <KEY>") && m.contains("--pubkey <PUBKEY>"), "{m}");

    // --help and --version are not errors
    assert_eq!(e.run(&["--help"]).code, 0);
    assert_eq!(e.run(&["--version"]).code, 0);
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let e = Env::new();
    e.init();
    for i in 0..3 {
        e.enroll(&format!("P{i}"), "prosecutor");
    }
    let bin = format!("'{}' --data '{}' entries", common::BIN, s(&e.data()));
    let sh = |cmd: &str| {
        let o = std::process::Command::new("sh").args(["-c", cmd]).env_remove("PIL_DATA").output().unwrap();
        (o.stdout, String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (out, stderr) = sh(&format!("{bin} | head -c 1"));
    assert_eq!(out.len(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The reader is surely gone before the first write: SIGPIPE (141), not
    // a panic (101).
    let (_, stderr) = sh(&format!("(sleep 0.3; {bin}; echo \"status=$?\" >&2) | true"));
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("status=141"), "{stderr}");
}
