//! The CLI over HTTP (issue 9, "The CLI over HTTP"; DESIGN §7.1): the same
//! commands with `--server URL` against a running `pil-ledger serve` sign
//! locally and print what local mode prints, with the same exit codes.
//!
//! One scenario (enrol, case, evidence add, custody, verify-file, fund
//! accounts, receipt, request, approval, payment, balance, a refusal) runs
//! twice: locally on ledger A, and with `--server` on ledger B held by
//! `serve`. Acks must agree (seq, created ids, keys); B's remote reads
//! must equal B's local reads once the server has stopped.

mod common;
mod http_support;

use std::path::{Path, PathBuf};

use common::{s, Env, Run};
use http_support::Server;
use serde_json::Value;

const CASE: &str = "（2026）京04民初9号";

struct Keys {
    pros: (PathBuf, String),
    asst: (PathBuf, String),
    cust: (PathBuf, String),
    fin: (PathBuf, String),
    appr: (PathBuf, String),
    rev: (PathBuf, String),
}

fn keys(e: &Env) -> Keys {
    Keys {
        pros: e.keygen("pros.key"),
        asst: e.keygen("asst.key"),
        cust: e.keygen("cust.key"),
        fin: e.keygen("fin.key"),
        appr: e.keygen("appr.key"),
        rev: e.keygen("rev.key"),
    }
}

/// Runs one command (`--json` first) on a ledger, locally or over HTTP.
type Runner<'a> = &'a dyn Fn(&[&str]) -> Run;

fn evidence_file(e: &Env) -> PathBuf {
    let p = e.path("photo.jpg");
    std::fs::write(&p, b"outfall 3, 2026-11-20, photo one").unwrap();
    p
}

/// The scenario; every step's run, in order.
fn scenario(e: &Env, k: &Keys, run: Runner) -> Vec<Run> {
    let mut out = Vec::new();
    let officer = e.officer();
    let mut step = |args: &[&str], want: i32| {
        let r = run(args);
        assert_eq!(r.code, want, "{args:?}\nstdout: {}\nstderr: {}", r.stdout, r.stderr);
        let v: Value = serde_json::from_str(r.stdout.trim()).unwrap_or(Value::Null);
        out.push(r);
        v
    };
    for (who, name, roles) in [
        (&k.pros, "Li Si", "prosecutor"),
        (&k.asst, "Zhao Liu", "assistant"),
        (&k.cust, "Qian Qi", "custodian"),
        (&k.fin, "Wu Shi", "finance"),
        (&k.appr, "Sun Ba", "approver"),
        (&k.rev, "Zhou Jiu", "finance-reviewer"),
    ] {
        step(
            &[
                "enroll",
                "--key",
                s(&officer),
                "--pubkey",
                &who.1,
                "--holder",
                name,
                "--unit",
                "Unit 1",
                "--roles",
                roles,
            ],
            0,
        );
    }
    step(&["case", "open", "--key", s(&k.pros.0), "--case", CASE, "--title", "Chaobai River discharge"], 0);
    let f = evidence_file(e);
    let added = step(
        &[
            "evidence",
            "add",
            "--key",
            s(&k.pros.0),
            "--case",
            CASE,
            "--file",
            s(&f),
            "--collector",
            "Li Si",
            "--collector",
            "Zhao Liu",
            "--collected-at",
            "2026-11-20T10:30:00+08:00",
        ],
        0,
    );
    let ev = added["evidence_id"].as_str().unwrap().to_string();
    let reg_seq = added["seq"].as_u64().unwrap().to_string();
    step(&["endorse", "--key", s(&k.asst.0), "--seq", &reg_seq, "--capacity", "second-collector"], 0);
    step(
        &["custody", "transfer", "--key", s(&k.pros.0), "--evidence", &ev, "--to", &k.cust.1, "--purpose", "storage"],
        0,
    );
    step(&["custody", "receive", "--key", s(&k.cust.0), "--evidence", &ev, "--file", s(&f)], 0);
    step(&["verify-file", s(&f)], 0);
    // A refusal: a prosecutor may not enrol keys (exit 2, role_not_allowed).
    step(
        &["enroll", "--key", s(&k.pros.0), "--pubkey", &k.rev.1, "--holder", "X", "--unit", "U", "--roles", "auditor"],
        2,
    );
    // A refusal the client finds before signing: no such item.
    step(&["evidence", "access", "--key", s(&k.pros.0), "--evidence", "EV-NONE-NONE", "--purpose", "look"], 2);
    for (id, kind, extra) in [
        ("FUND", "fund", vec!["--no-overdraft", "--stages", "2"]),
        ("ACME", "payer", vec![]),
        ("RESTORE-CO", "payee", vec![]),
    ] {
        let mut args = vec!["fund", "open-account", "--key", s(&k.fin.0), "--account", id, "--kind", kind];
        args.extend(extra);
        step(&args, 0);
    }
    step(
        &[
            "fund",
            "receive",
            "--key",
            s(&k.fin.0),
            "--account",
            "FUND",
            "--from",
            "ACME",
            "--amount",
            "1500000",
            "--case",
            CASE,
            "--ref",
            "B-1",
        ],
        0,
    );
    step(
        &[
            "fund",
            "request",
            "--key",
            s(&k.fin.0),
            "--from",
            "FUND",
            "--to",
            "RESTORE-CO",
            "--amount",
            "650000",
            "--purpose",
            "restoration",
            "--case",
            CASE,
            "--id",
            "RQ-1",
        ],
        0,
    );
    step(&["fund", "approve", "--key", s(&k.appr.0), "--request", "RQ-1"], 0);
    step(&["fund", "approve", "--key", s(&k.rev.0), "--request", "RQ-1"], 0);
    step(&["fund", "pay", "--key", s(&k.fin.0), "--request", "RQ-1", "--ref", "P-1"], 0);
    step(&["fund", "pay", "--key", s(&k.fin.0), "--request", "RQ-1", "--ref", "P-2"], 2);
    step(&["fund", "balance", "--account", "FUND"], 0);
    out
}

/// The reads compared between remote and local on the same ledger.
fn reads(ev: &str, f: &Path) -> Vec<Vec<String>> {
    let f = s(f).to_string();
    [
        vec!["entries"],
        vec!["entries", "--from", "3", "--to", "5"],
        vec!["checkpoint"],
        vec!["checkpoint", "--size", "5"],
        vec!["vkey"],
        vec!["show", "7"],
        vec!["prove", "inclusion", "3"],
        vec!["prove", "inclusion", "3", "--size", "5"],
        vec!["prove", "consistency", "5"],
        vec!["case", "show", CASE],
        vec!["evidence", "show", ev],
        vec!["verify-file", &f],
        vec!["fund", "balance", "--account", "FUND"],
    ]
    .iter()
    .map(|v| v.iter().map(|x| x.to_string()).collect())
    .collect()
}

fn ack_shape(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    keys.sort();
    keys
}

#[test]
fn the_same_commands_over_http_print_and_exit_as_locally() {
    // Ledger A: local mode.
    let a = Env::new();
    a.init();
    let ka = keys(&a);
    let local_runs = scenario(&a, &ka, &|args: &[&str]| {
        let mut v = vec!["--json"];
        v.extend_from_slice(args);
        a.run(&v)
    });

    // Ledger B: the same, through `serve` with a bearer token.
    let b = Env::new();
    b.init();
    let kb = keys(&b);
    let token = b.run(&["--json", "token", "add", "--name", "cli"]).ok().json()["token"].as_str().unwrap().to_string();
    let mut server = Server::start(&b, &[], &[]);
    let url = server.base.clone();
    let remote = |args: &[&str]| {
        let mut v = vec!["--server", &url];
        v.extend_from_slice(args);
        b.run_env(&v, &[("PIL_TOKEN", &token)])
    };
    let remote_runs = scenario(&b, &kb, &|args: &[&str]| {
        let mut v = vec!["--json"];
        v.extend_from_slice(args);
        remote(&v)
    });

    // Same exit codes (asserted in scenario), same acks up to keys and times.
    assert_eq!(local_runs.len(), remote_runs.len());
    for (l, r) in local_runs.iter().zip(&remote_runs) {
        if l.code != 0 {
            assert_eq!(l.err_json()["error"]["code"], r.err_json()["error"]["code"], "{}\n{}", l.stderr, r.stderr);
            continue;
        }
        let (lv, rv) = (l.json(), r.json());
        assert_eq!(ack_shape(&lv), ack_shape(&rv), "{lv}\n{rv}");
        for k in ["seq", "size", "evidence_id", "case_id", "account_id", "request_id", "verdict", "available"] {
            assert_eq!(lv.get(k), rv.get(k), "{k}: {lv}\n{rv}");
        }
    }
    let refusal = remote_runs.iter().find(|r| r.code == 2).unwrap();
    assert_eq!(refusal.err_json()["error"]["code"], "role_not_allowed");

    // While serve holds B, a local command says ledger_busy and names --server
    // (`checkpoint` alone answers from the acknowledged note beside the store).
    b.run(&["--json", "checkpoint"]).ok();
    let busy = b.run(&["--json", "entries"]);
    assert_eq!(busy.code, 3, "{}", busy.stderr);
    assert_eq!(busy.err_json()["error"]["code"], "ledger_busy");
    assert!(busy.err_json()["error"]["message"].as_str().unwrap().contains("--server"));

    // Commands that only make sense here refuse --server.
    for args in [vec!["verify"], vec!["reindex"], vec!["init", "--origin", "x.example/y"], vec!["demo"]] {
        let r = remote(&[&["--json"], &args[..]].concat());
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert_eq!(r.err_json()["error"]["code"], "invalid_argument");
        assert!(r.err_json()["error"]["message"].as_str().unwrap().contains("--server"));
    }
    // Without the token, reads that need one are refused as the server says.
    let no_token = b.run(&["--json", "--server", &url, "entries"]);
    assert_eq!((no_token.code, no_token.err_json()["error"]["code"].as_str()), (2, Some("unauthenticated")));

    let ev = remote_runs[7].json()["evidence_id"].as_str().unwrap().to_string();
    let f = evidence_file(&b);
    let mut over_http = Vec::new();
    for args in reads(&ev, &f) {
        for json in [true, false] {
            let mut v: Vec<&str> = if json { vec!["--json"] } else { vec![] };
            v.extend(args.iter().map(String::as_str));
            over_http.push((v.iter().map(|x| x.to_string()).collect::<Vec<_>>(), remote(&v)));
        }
    }
    assert_eq!(server.terminate(), 0);

    // The same reads locally on B, now that serve has let it go.
    for (args, r) in over_http {
        let v: Vec<&str> = args.iter().map(String::as_str).collect();
        let l = b.run(&v);
        assert_eq!(l.code, r.code, "{args:?}\n{}\n{}", l.stderr, r.stderr);
        let human_timeline = !v.contains(&"--json") && (v.contains(&"case") || v.contains(&"evidence"));
        if human_timeline {
            // Without --json the remote timeline names keys, not people.
            assert_eq!(l.stdout.lines().next(), r.stdout.lines().next(), "{args:?}");
        } else {
            assert_eq!(l.stdout, r.stdout, "{args:?}");
        }
    }
}
