//! The log's clock is bounded, never ratcheted by one wrong clock (issue 6,
//! item 3): `clock_skew`, `clock_behind_log`, `clock_jump`, through the real
//! binary with the `PIL_CLOCK_OFFSET_MS` drill hook, and through the writer.

mod common;

use common::{expect_refused, s, store_dump, Env};
use pil_ledger::ledger::{self, Ledger};
use pil_ledger::writer::{recorded_at, MAX_SKEW_MS};
use pil_ledger_core::authority::Role;
use pil_ledger_core::wire::{Body, Entry, Statement, FORMAT_V1};

const YEAR_MS: i64 = 365 * 24 * 60 * 60 * 1000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn enroll_args(e: &Env, name: &str) -> Vec<String> {
    let (_, pk) = e.keygen(name);
    let o = e.officer();
    ["enroll", "--key", s(&o), "--pubkey", &pk, "--holder", name, "--unit", "Unit 1", "--roles", "prosecutor"]
        .iter()
        .map(|a| a.to_string())
        .collect()
}

fn last_recorded(e: &Env) -> u64 {
    let out = e.run(&["entries"]).ok().stdout;
    let line: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    Entry::from_bytes(&hex::decode(line["entry"].as_str().unwrap()).unwrap()).unwrap().recorded_at_ms
}

#[test]
fn enrol_under_a_2099_clock_is_refused_clock_jump_and_changes_nothing() {
    let e = Env::new();
    e.init();
    let args = enroll_args(&e, "future.key");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let before = store_dump(&e.data());
    let offset = (73 * YEAR_MS).to_string();
    let r = expect_refused(&e, &args, &[("PIL_CLOCK_OFFSET_MS", &offset)], "clock_jump");
    assert!(r.err_json()["error"]["message"].as_str().unwrap().contains("PIL_MAX_CLOCK_JUMP_DAYS"), "{}", r.stderr);
    assert_eq!(store_dump(&e.data()), before, "a clock_jump refusal changed the store");
    // the log's clock was not dragged forward: a normal append still works
    let t0 = ledger::now_ms();
    e.run(&args).ok();
    let rec = last_recorded(&e);
    assert!(rec >= t0 && rec < t0 + 60_000, "recorded_at {rec} is not now ({t0})");
    assert_eq!(e.run(&["--json", "verify"]).ok().json()["verdict"], "valid");
}

#[test]
fn a_longer_jump_is_accepted_when_pil_max_clock_jump_days_allows_it() {
    let e = Env::new();
    e.init();
    let args = enroll_args(&e, "later.key");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let offset = (100 * DAY_MS).to_string();
    let before = store_dump(&e.data());
    expect_refused(&e, &args, &[("PIL_CLOCK_OFFSET_MS", &offset)], "clock_jump");
    assert_eq!(store_dump(&e.data()), before);
    e.run_env(&args, &[("PIL_CLOCK_OFFSET_MS", &offset), ("PIL_MAX_CLOCK_JUMP_DAYS", "120")]).ok();
}

#[test]
fn a_clock_far_behind_the_log_is_refused_clock_behind_log() {
    let e = Env::new();
    e.init();
    let args = enroll_args(&e, "past.key");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let before = store_dump(&e.data());
    let offset = (-DAY_MS).to_string();
    expect_refused(&e, &args, &[("PIL_CLOCK_OFFSET_MS", &offset)], "clock_behind_log");
    assert_eq!(store_dump(&e.data()), before);
}

#[test]
fn a_clock_slightly_behind_the_log_records_the_last_time_never_less() {
    let e = Env::new();
    e.init();
    let genesis_at = last_recorded(&e);
    let args = enroll_args(&e, "slow.key");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    e.run_env(&args, &[("PIL_CLOCK_OFFSET_MS", "-120000")]).ok();
    assert_eq!(last_recorded(&e), genesis_at, "recorded_at must not decrease nor jump");
    assert_eq!(e.run(&["--json", "verify"]).ok().json()["verdict"], "valid");
}

#[test]
fn a_bad_clock_variable_is_an_invalid_argument() {
    let e = Env::new();
    e.init();
    let before = store_dump(&e.data());
    expect_refused(&e, &["vkey"], &[("PIL_CLOCK_OFFSET_MS", "soon")], "invalid_argument");
    expect_refused(&e, &["vkey"], &[("PIL_MAX_CLOCK_JUMP_DAYS", "0")], "invalid_argument");
    assert_eq!(store_dump(&e.data()), before);
}

#[test]
fn a_statement_claiming_a_time_far_from_the_writers_is_refused_clock_skew() {
    let tmp = tempfile::tempdir().unwrap();
    let l = Ledger::init(tmp.path(), "clock.example/pil", "Officer", "Unit").unwrap();
    let officer = ledger::read_key_file(&l.paths().officer_key()).unwrap();
    let dump = |l: &Ledger| -> Vec<(Vec<u8>, Vec<u8>)> {
        l.store().raw().iter().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect()
    };
    for delta in [-(MAX_SKEW_MS as i64) - 1000, MAX_SKEW_MS as i64 + 1000] {
        let st = Statement {
            format: FORMAT_V1,
            origin: l.origin().to_string(),
            author: officer.verifying_key().to_bytes(),
            claimed_at_ms: ledger::now_ms().saturating_add_signed(delta),
            nonce: [delta.unsigned_abs() as u8; 16],
            case_id: String::new(),
            body: Body::enrol(
                pil_ledger_core::keys::generate().verifying_key().to_bytes(),
                "X",
                "U",
                vec![Role::Prosecutor],
            ),
        };
        let bytes = st.to_bytes();
        let sig = pil_ledger_core::keys::sign_statement(&officer, &bytes);
        let before = dump(&l);
        let err = l.writer().unwrap().append_blocking(bytes, sig).unwrap_err();
        assert_eq!(err.code(), "clock_skew", "{err}");
        assert_eq!(err.exit_code(), 2);
        assert_eq!(dump(&l), before);
    }
}

#[test]
fn recorded_at_rules_at_their_bounds() {
    let day = DAY_MS as u64;
    let now = 1_800_000_000_000u64;
    // genesis: only the skew bound
    assert_eq!(recorded_at(now, now - MAX_SKEW_MS, None, 90).unwrap(), now);
    assert_eq!(recorded_at(now, now - MAX_SKEW_MS - 1, None, 90).unwrap_err().code(), "clock_skew");
    assert_eq!(recorded_at(now, now + MAX_SKEW_MS + 1, None, 90).unwrap_err().code(), "clock_skew");
    // behind the log: within the bound the last time is kept, beyond refused
    let last = now + MAX_SKEW_MS;
    assert_eq!(recorded_at(now, now, Some(last), 90).unwrap(), last);
    assert_eq!(recorded_at(now, now, Some(last + 1), 90).unwrap_err().code(), "clock_behind_log");
    // ahead of the log: up to max_jump_days, then refused
    assert_eq!(recorded_at(now, now, Some(now - 90 * day), 90).unwrap(), now);
    assert_eq!(recorded_at(now, now, Some(now - 90 * day - 1), 90).unwrap_err().code(), "clock_jump");
    assert_eq!(recorded_at(now, now, Some(now - 90 * day - 1), 91).unwrap(), now);
}
