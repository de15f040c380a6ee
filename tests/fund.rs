//! The damages fund end to end through the real binary (`schema/fund.md`):
//! a judgment's obligation, two receipts, a two-stage request, a partial
//! payment, a void, a reversal, a reconciliation; balances and statements
//! against figures worked out by hand here; refusals leave the store
//! unchanged; an offline edit is caught by `verify` and `fund audit`.

mod common;

use std::path::PathBuf;

use common::{expect_refused, s, store_dump, Env};
use serde_json::Value;

const CASE: &str = "（2026）京04民初9号";

struct Team {
    e: Env,
    pros: PathBuf,
    fin: PathBuf,
    appr1: PathBuf,
    appr2: PathBuf,
    rev: PathBuf,
}

fn team() -> Team {
    let e = Env::new();
    e.init();
    let (pros, _) = e.enroll("Li Si", "prosecutor");
    let (fin, _) = e.enroll("Qian Qi", "finance");
    let (appr1, _) = e.enroll("Sun Ba", "approver");
    let (appr2, _) = e.enroll("Zhou Jiu", "finance-reviewer");
    let (rev, _) = e.enroll("Wu Shi", "finance-reviewer");
    e.run(&["case", "open", "--key", s(&pros), "--case", CASE, "--title", "counterfeit food"]).ok();
    let t = Team { e, pros, fin, appr1, appr2, rev };
    for (id, kind, extra) in [
        ("FUND", "fund", vec!["--no-overdraft", "--stages", "2"]),
        ("ACME", "payer", vec![]),
        ("RESTORE-CO", "payee", vec![]),
        ("TREASURY", "treasury", vec![]),
    ] {
        let mut args = vec!["fund", "open-account", "--key", s(&t.fin), "--account", id, "--kind", kind];
        args.extend(extra);
        t.e.run(&args).ok();
    }
    t
}

fn json(t: &Team, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    t.e.run(&a).ok().json()
}

fn balance(t: &Team, account: &str) -> Value {
    json(t, &["fund", "balance", "--account", account])
}

fn request(t: &Team, amount: &str) -> String {
    let ack = json(
        t,
        &[
            "fund",
            "request",
            "--key",
            s(&t.fin),
            "--from",
            "FUND",
            "--to",
            "RESTORE-CO",
            "--amount",
            amount,
            "--purpose",
            "ecological-restoration",
            "--case",
            CASE,
        ],
    );
    ack["request_id"].as_str().unwrap().to_string()
}

#[test]
fn a_judgment_two_receipts_a_staged_request_partial_pay_void_reversal_and_reconciliation() {
    let t = team();
    let judgment = json(
        &t,
        &[
            "case",
            "event",
            "--key",
            s(&t.pros),
            "--case",
            CASE,
            "--stage",
            "judgment",
            "--award",
            "restoration:1000000:ecological-restoration",
        ],
    );
    let jseq = judgment["seq"].as_u64().unwrap().to_string();
    t.e.run(&[
        "fund",
        "obligation",
        "--key",
        s(&t.pros),
        "--case",
        CASE,
        "--payer",
        "ACME",
        "--amount",
        "1000000",
        "--use",
        "ecological-restoration",
        "--judgment-seq",
        &jseq,
    ])
    .ok();
    t.e.run(&[
        "fund",
        "receive",
        "--key",
        s(&t.fin),
        "--account",
        "FUND",
        "--from",
        "ACME",
        "--amount",
        "600000",
        "--case",
        CASE,
        "--ref",
        "B-1",
    ])
    .ok();
    let second = json(
        &t,
        &[
            "fund",
            "receive",
            "--key",
            s(&t.fin),
            "--account",
            "FUND",
            "--from",
            "ACME",
            "--amount",
            "400000",
            "--case",
            CASE,
            "--ref",
            "B-2",
        ],
    );
    // 6,000.00 + 4,000.00 yuan received.
    assert_eq!(balance(&t, "FUND")["available"], 1_000_000);
    let r1 = request(&t, "700000");
    // reserved: available drops, posted does not
    let b = balance(&t, "FUND");
    assert_eq!((b["available"].as_i64(), b["debits_pending"].as_u64()), (Some(300_000), Some(700_000)));
    t.e.run(&["fund", "approve", "--key", s(&t.appr1), "--request", &r1]).ok();
    t.e.run(&["fund", "approve", "--key", s(&t.appr2), "--request", &r1]).ok();
    t.e.run(&["fund", "pay", "--key", s(&t.fin), "--request", &r1, "--amount", "650000", "--ref", "P-1"]).ok();
    // paid 650,000 of 700,000: the other 50,000 is released
    let b = balance(&t, "FUND");
    assert_eq!(b["debits_posted"], 650_000);
    assert_eq!(b["debits_pending"], 0);
    assert_eq!(b["available"], 350_000);
    assert_eq!(balance(&t, "RESTORE-CO")["credits_posted"], 650_000);
    let r2 = request(&t, "100000");
    t.e.run(&["fund", "approve", "--key", s(&t.appr1), "--request", &r2]).ok();
    t.e.run(&["fund", "void", "--key", s(&t.fin), "--request", &r2]).ok();
    assert_eq!(balance(&t, "FUND")["available"], 350_000);
    // reverse 40,000 of the second receipt (a bounced transfer, say)
    let seq2 = second["seq"].as_u64().unwrap().to_string();
    t.e.run(&["fund", "reverse", "--key", s(&t.fin), "--seq", &seq2, "--amount", "40000", "--reason", "bounced"]).ok();
    assert_eq!(balance(&t, "FUND")["available"], 310_000);
    // reconcile: posted balance 1,000,000 − 650,000 − 40,000 = 310,000
    let stmt = t.e.path("bank.pdf");
    std::fs::write(&stmt, b"bank statement").unwrap();
    t.e.run(&[
        "fund",
        "reconcile",
        "--key",
        s(&t.fin),
        "--account",
        "FUND",
        "--from",
        "2026-11-01T00:00:00+08:00",
        "--to",
        "2026-11-30T23:59:59+08:00",
        "--statement",
        s(&stmt),
        "--balance",
        "310000",
    ])
    .ok();
    // the statement: running balance after each posted movement
    let rows: Vec<Value> =
        t.e.run(&["--json", "fund", "statement", "--account", "FUND"])
            .ok()
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let posted: Vec<i64> = rows
        .iter()
        .filter(|r| r["posted_fen"].as_u64() > Some(0))
        .map(|r| r["balance_fen"].as_i64().unwrap())
        .collect();
    assert_eq!(posted, [600_000, 1_000_000, 350_000, 310_000]);
    let plain = t.e.run(&["fund", "balance", "--account", "FUND"]).ok().stdout;
    assert!(plain.contains("3,100.00 元"), "{plain}");
    let audit = t.e.run(&["--json", "fund", "audit"]).ok().json();
    assert_eq!(audit["verdict"], "valid", "{audit}");
    assert_eq!(t.e.run(&["--json", "verify"]).ok().json()["verdict"], "valid");
    let report = json(&t, &["fund", "publish", "--case", CASE]);
    assert_eq!((report["received_fen"].as_u64(), report["paid_fen"].as_u64()), (Some(1_000_000), Some(650_000)));
    assert_eq!(report["paid_by_purpose_fen"]["ecological-restoration"], 650_000);
}

#[test]
fn amounts_are_whole_positive_fen_only() {
    let t = team();
    for bad in ["12.5", "-5", "0", "1e3", "18446744073709551616", " 5", ""] {
        let before = store_dump(&t.e.data());
        let r = t.e.run(&[
            "--json",
            "fund",
            "receive",
            "--key",
            s(&t.fin),
            "--account",
            "FUND",
            "--from",
            "ACME",
            "--amount",
            bad,
        ]);
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stderr);
        assert_eq!(r.err_json()["error"]["code"], "invalid_argument", "{bad:?}");
        assert!(before == store_dump(&t.e.data()));
    }
}

#[test]
fn every_fund_rule_broken_is_refused_and_changes_nothing() {
    let t = team();
    let refuse = |args: &[&str], code: &str| {
        let before = store_dump(&t.e.data());
        expect_refused(&t.e, args, &[], code);
        assert!(before == store_dump(&t.e.data()), "{args:?} changed the store");
    };
    t.e.run(&[
        "fund",
        "receive",
        "--key",
        s(&t.fin),
        "--account",
        "FUND",
        "--from",
        "ACME",
        "--amount",
        "1000",
        "--ref",
        "B-1",
    ])
    .ok();
    // the same bank receipt twice
    refuse(
        &[
            "fund",
            "receive",
            "--key",
            s(&t.fin),
            "--account",
            "FUND",
            "--from",
            "ACME",
            "--amount",
            "1000",
            "--ref",
            "B-1",
        ],
        "duplicate_bank_ref",
    );
    // overdraft counting reservations
    refuse(
        &[
            "fund",
            "request",
            "--key",
            s(&t.fin),
            "--from",
            "FUND",
            "--to",
            "RESTORE-CO",
            "--amount",
            "1001",
            "--purpose",
            "x",
        ],
        "insufficient_funds",
    );
    let r = request_no_case(&t, "600");
    refuse(
        &[
            "fund",
            "request",
            "--key",
            s(&t.fin),
            "--from",
            "FUND",
            "--to",
            "RESTORE-CO",
            "--amount",
            "401",
            "--purpose",
            "x",
        ],
        "insufficient_funds",
    );
    // unapproved payment
    refuse(&["fund", "pay", "--key", s(&t.fin), "--request", &r], "not_approved");
    // the requester approves its own request (a finance officer who is also a reviewer)
    let (both, _) = t.e.enroll("Zheng Shiyi", "finance,finance-reviewer");
    let r_own = {
        let ack = json(
            &t,
            &[
                "fund",
                "request",
                "--key",
                s(&both),
                "--from",
                "FUND",
                "--to",
                "RESTORE-CO",
                "--amount",
                "100",
                "--purpose",
                "x",
            ],
        );
        ack["request_id"].as_str().unwrap().to_string()
    };
    refuse(&["fund", "approve", "--key", s(&both), "--request", &r_own], "self_approval");
    // one approver for two stages
    t.e.run(&["fund", "approve", "--key", s(&t.appr1), "--request", &r]).ok();
    refuse(&["fund", "approve", "--key", s(&t.appr1), "--request", &r], "approver_repeated");
    // wrong role approves
    refuse(&["fund", "approve", "--key", s(&t.pros), "--request", &r], "role_not_allowed");
    t.e.run(&["fund", "approve", "--key", s(&t.rev), "--request", &r]).ok();
    // paying more than approved
    refuse(&["fund", "pay", "--key", s(&t.fin), "--request", &r, "--amount", "601"], "amount_exceeds_approved");
    t.e.run(&["fund", "pay", "--key", s(&t.fin), "--request", &r]).ok();
    // settled once
    refuse(&["fund", "pay", "--key", s(&t.fin), "--request", &r], "request_settled");
    refuse(&["fund", "void", "--key", s(&t.fin), "--request", &r], "request_settled");
    // unknown account
    refuse(
        &["fund", "receive", "--key", s(&t.fin), "--account", "NOPE", "--from", "ACME", "--amount", "5"],
        "unknown_account",
    );
}

fn request_no_case(t: &Team, amount: &str) -> String {
    let ack = json(
        t,
        &[
            "fund",
            "request",
            "--key",
            s(&t.fin),
            "--from",
            "FUND",
            "--to",
            "RESTORE-CO",
            "--amount",
            amount,
            "--purpose",
            "x",
        ],
    );
    ack["request_id"].as_str().unwrap().to_string()
}

#[test]
fn an_offline_edit_that_unbalances_the_books_is_caught_by_verify_and_audit() {
    let t = team();
    t.e.run(&["fund", "receive", "--key", s(&t.fin), "--account", "FUND", "--from", "ACME", "--amount", "1000"]).ok();
    {
        use pil_ledger_core::state::{AccountRecord, Ns};
        let st = pil_ledger::store::SledStore::open(&t.e.data().join("ledger")).unwrap();
        let mut key = vec![b'I', Ns::Account as u8];
        key.extend_from_slice(b"FUND");
        let raw = st.raw().get(&key).unwrap().unwrap();
        let mut rec: AccountRecord = pil_ledger_core::wire::decode_canonical(&raw, 1 << 16).unwrap();
        rec.balance.credits_posted += 500;
        st.raw().insert(key, pil_ledger_core::wire::encode(&rec)).unwrap();
        st.raw().flush().unwrap();
    }
    let r = t.e.run(&["--json", "fund", "audit"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let codes: Vec<String> =
        r.json()["reasons"].as_array().unwrap().iter().map(|x| x["code"].as_str().unwrap().to_string()).collect();
    assert!(codes.contains(&"ledger_unbalanced".to_string()), "{codes:?}");
    let v = t.e.run(&["--json", "verify"]);
    assert_eq!(v.code, 1);
    assert!(v.stdout.contains("index_mismatch"));
}
