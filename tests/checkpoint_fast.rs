//! `checkpoint` reads the newest acknowledged checkpoint kept beside the
//! store (`DATA/checkpoint.acked`, checked against `DATA/log.vkey`) without
//! opening the store: O(1) at any size, and it answers while another process
//! holds the ledger. Anything that does not check out falls back to the store.

mod common;

use common::Env;
use pil_ledger::store::SledStore;

fn ledger() -> Env {
    let e = Env::new();
    e.init();
    e.enroll("p.key", "prosecutor");
    e.enroll("a.key", "assistant");
    e
}

#[test]
fn checkpoint_answers_from_the_acknowledged_note_even_while_the_store_is_held() {
    let e = ledger();
    let v = e.run(&["--json", "verify"]).ok().json();
    let cp = e.run(&["--json", "checkpoint"]).ok().json();
    assert_eq!(cp["size"], v["entries"], "{cp} {v}");
    assert_eq!(cp["root"], v["root"], "{cp} {v}");
    assert_eq!(
        std::fs::read_to_string(e.data().join("log.vkey")).unwrap().trim_end(),
        e.run(&["vkey"]).ok().stdout.trim_end()
    );
    // Another process holds sled's exclusive lock (as `serve` does).
    let held = SledStore::open(&e.data().join("ledger")).unwrap();
    let again = e.run(&["--json", "checkpoint"]).ok().json();
    assert_eq!(again, cp);
    let r = e.run(&["--json", "entries"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(r.err_json()["error"]["code"], "ledger_busy");
    drop(held);
}

#[test]
fn a_verifier_key_file_that_does_not_match_falls_back_to_the_store() {
    let e = ledger();
    let cp = e.run(&["--json", "checkpoint"]).ok().json();
    // A vkey of another log: the acknowledged note does not verify under it,
    // so the file is not trusted and the store is opened instead.
    let other = Env::new();
    other.init();
    std::fs::copy(other.data().join("log.vkey"), e.data().join("log.vkey")).unwrap();
    let held = SledStore::open(&e.data().join("ledger")).unwrap();
    let r = e.run(&["--json", "checkpoint"]);
    assert_eq!(r.code, 3, "{} {}", r.stdout, r.stderr);
    assert_eq!(r.err_json()["error"]["code"], "ledger_busy", "the store had to be opened");
    drop(held);
    assert_eq!(e.run(&["--json", "checkpoint"]).ok().json(), cp);
    // The next writable open puts the right key back.
    e.enroll("q.key", "prosecutor");
    let held = SledStore::open(&e.data().join("ledger")).unwrap();
    let now = e.run(&["--json", "checkpoint"]).ok().json();
    assert_eq!(now["size"], cp["size"].as_u64().unwrap() + 1, "{now}");
    drop(held);
}

/// `checkpoint.acked` has two slots written in turn (`storage.md` §3): a
/// power cut can tear only the one being written. One torn slot is no
/// alarm (the other still holds an acknowledged note); both torn is.
#[test]
fn one_torn_slot_of_the_acknowledged_file_is_no_alarm_both_are() {
    use std::os::unix::fs::FileExt;
    let e = ledger();
    e.enroll("q.key", "prosecutor"); // a later process: both slots written in this one
    let path = e.data().join("checkpoint.acked");
    let slot = pil_ledger::acked::SLOT as u64;
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 2 * slot);
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.write_all_at(b"torn", 40).unwrap();
    assert_eq!(e.run(&["--json", "verify"]).ok().json()["verdict"], "valid");
    e.run(&["--json", "entries"]).ok();
    e.run(&["--json", "checkpoint"]).ok();
    f.write_all_at(b"torn", slot + 40).unwrap();
    let v = e.run(&["--json", "verify"]);
    assert_eq!(v.code, 1, "{}", v.stdout);
    let r = e.run(&["--json", "entries"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(r.err_json()["error"]["code"], "self_check_failed");
}

/// The fast path trusts `log.vkey` only as the public half of the log key
/// beside it: another ledger's `log.vkey` and `checkpoint.acked` copied in
/// are not printed (the store is opened, and refuses the foreign note); a
/// copy without `keys/` (a court's) reads the store instead, same answer.
#[test]
fn the_fast_path_is_bound_to_this_ledgers_log_key() {
    let e = ledger();
    let cp = e.run(&["--json", "checkpoint"]).ok().json();
    let court = Env::new();
    common::copy_tree(&e.data(), &court.data());
    std::fs::remove_dir_all(court.data().join("keys")).unwrap();
    assert_eq!(court.run(&["--json", "checkpoint"]).ok().json(), cp);

    let other = Env::new();
    other.init();
    for f in ["log.vkey", "checkpoint.acked"] {
        std::fs::copy(other.data().join(f), e.data().join(f)).unwrap();
    }
    let r = e.run(&["--json", "checkpoint"]);
    assert_eq!(r.code, 3, "another ledger's note must not be printed: {}", r.stdout);
    assert_eq!(r.err_json()["error"]["code"], "self_check_failed", "{}", r.stderr);
}

/// A `checkpoint.acked` of two empty slots was never written: verify and
/// open both call it damage, rather than one ignoring it.
#[test]
fn an_all_zero_acknowledged_file_is_damage_for_verify_and_open_alike() {
    let e = ledger();
    let path = e.data().join("checkpoint.acked");
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    std::fs::write(&path, vec![0u8; len]).unwrap();
    let v = e.run(&["--json", "verify"]);
    assert_eq!(v.code, 1, "{}", v.stdout);
    let r = e.run(&["--json", "entries"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(r.err_json()["error"]["code"], "self_check_failed");
}
