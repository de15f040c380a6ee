//! `reindex` in bounded memory and crash-safe (`schema/storage.md` §6): the
//! rebuild spills like `verify`'s, the records go to sled in batches under
//! a durable marker, and while the marker stands (an interrupted reindex)
//! the ledger refuses to open for anything but `reindex` and `verify`.
//! The oracle for the records is what the writer itself wrote, entry by
//! entry, through its own path (`Overlay` in the group commit).

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use common::{s, with_raw, Env, BIN};
use pil_ledger::store::SledStore;

fn build() -> Env {
    Env::with_stress(3000)
}

/// Every `I` record of the store, and whether the reindex marker stands.
fn indexes(e: &Env) -> (BTreeMap<Vec<u8>, Vec<u8>>, bool) {
    let st = SledStore::open(&e.data().join("ledger")).unwrap();
    let db = st.raw();
    let recs = db.scan_prefix(b"I").map(|r| r.unwrap()).map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
    (recs, db.contains_key(b"X").unwrap())
}

fn tiny_budget() -> [(&'static str, &'static str); 1] {
    [("PIL_VERIFY_MEMORY", "0")]
}

#[test]
fn reindex_with_a_tiny_budget_rebuilds_byte_for_byte_what_the_writer_wrote() {
    let e = build();
    let (written, marker) = indexes(&e);
    assert!(!marker);
    assert!(written.len() > 12_000, "{} records", written.len());
    let r = e.run_env(&["--json", "reindex"], &tiny_budget()).ok();
    assert_eq!(r.json()["reindexed_records"].as_u64(), Some(written.len() as u64), "{}", r.stdout);
    let (rebuilt, marker) = indexes(&e);
    assert!(!marker, "the marker is gone once the reindex finished");
    assert!(rebuilt == written, "reindex must give exactly the writer's records");
    assert_eq!(e.run(&["--json", "verify"]).ok().json()["verdict"], "valid");
}

#[test]
fn an_interrupted_reindex_refuses_opens_until_a_reindex_finishes() {
    let e = build();
    let (p, _) = (e.path("p.key"), ());
    let before = e.snapshot();
    // What a reindex killed half-way leaves: the marker, and only some of
    // the records.
    with_raw(&e, |db| {
        db.insert(b"X", b"reindex under way".to_vec()).unwrap();
        let half: Vec<_> = db.scan_prefix(b"I").keys().step_by(2).map(|k| k.unwrap()).collect();
        for k in half {
            db.remove(k).unwrap();
        }
    });
    for args in [vec!["entries"], vec!["case", "open", "--key", s(&p), "--case", "C-9", "--title", "t"]] {
        let r = e.run(&args);
        assert_ne!(r.code, 0, "{args:?} must be refused: {}", r.stdout);
        assert!(
            r.stderr.contains("reindex was interrupted") && r.stderr.contains("pil-ledger reindex"),
            "{}",
            r.stderr
        );
    }
    let v = e.run(&["--json", "verify"]);
    assert_eq!(v.code, 1);
    let v = v.json();
    let says =
        v["reasons"].as_array().unwrap().iter().any(|r| {
            r["code"] == "index_mismatch" && r["message"].as_str().unwrap().contains("reindex was interrupted")
        });
    assert!(says, "{v}");
    e.run_env(&["reindex"], &tiny_budget()).ok();
    assert_eq!(e.run(&["--json", "verify"]).ok().json()["verdict"], "valid");
    assert_eq!(e.snapshot(), before, "entries and checkpoint unchanged by the whole episode");
    e.run(&["case", "open", "--key", s(&p), "--case", "C-9", "--title", "t"]).ok();
}

#[test]
fn reindex_killed_at_any_moment_leaves_either_the_old_or_the_new_indexes_or_the_marker() {
    let e = build();
    let (written, _) = indexes(&e);
    for delay_ms in [5u64, 150, 220, 260, 290, 320, 360, 420, 700] {
        let mut child = Command::new(BIN)
            .arg("--data")
            .arg(e.data())
            .arg("reindex")
            .env("PIL_VERIFY_MEMORY", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let (now, marker) = indexes(&e);
        eprintln!("killed at {delay_ms} ms: marker {marker}, {} of {} records", now.len(), written.len());
        if !marker {
            // Not started, or finished: the records are complete either way.
            assert!(now == written, "after a kill at {delay_ms} ms without the marker the records must be whole");
            assert_eq!(e.run(&["--json", "verify"]).ok().json()["verdict"], "valid");
        } else {
            assert_ne!(e.run(&["entries"]).code, 0, "a marker must refuse opens (kill at {delay_ms} ms)");
        }
        e.run(&["reindex"]).ok();
        assert_eq!(indexes(&e), (written.clone(), false));
    }
}

#[test]
fn a_ledger_with_a_writer_running_refuses_to_reindex() {
    let e = Env::new();
    e.init();
    let l = pil_ledger::ledger::Ledger::open(&e.data(), true).unwrap();
    let err = l.reindex(&|_, _| {}).unwrap_err();
    assert!(err.to_string().contains("no writer running"), "{err}");
    drop(l);
    e.run(&["reindex"]).ok();
}
