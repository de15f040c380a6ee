//! Storage format 1 → 2 (`pil-ledger migrate`), on the ledger written by the
//! format-1 build and kept in `testdata/ledger-v1/` (715 entries): reads
//! work before, writes ask for `migrate`, the conversion keeps every entry,
//! checkpoint and index, and a `kill -9` at any moment leaves the old or the
//! new store, complete.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::{s, Env, BIN};
use pil_ledger::store::{SledStore, Store};

/// Known answers of the testdata ledger (its README).
const ENTRIES: u64 = 715;
const ROOT: &str = "868fd5f708cbb779f464fd15e8197bd217d524fa121c95f3e044f452d1005cbd";

fn v1_ledger() -> Env {
    let e = Env::new();
    common::copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/ledger-v1"), &e.data());
    e
}

fn format_of(data: &Path) -> u32 {
    SledStore::open_read_only(&data.join("ledger")).unwrap().storage_format().unwrap()
}

/// `verify --json` must be valid with the testdata's entries and root.
fn assert_valid_original(e: &Env, what: &str) {
    let v = e.run(&["--json", "verify"]).json();
    assert_eq!(v["verdict"], "valid", "{what}: {v}");
    assert_eq!(v["entries"], ENTRIES, "{what}: {v}");
    assert_eq!(v["root"], ROOT, "{what}: {v}");
}

fn listing(e: &Env) -> String {
    e.run(&["--json", "entries"]).ok().stdout
}

#[test]
fn a_format_1_ledger_reads_as_before_and_writes_ask_for_migrate() {
    let e = v1_ledger();
    assert_eq!(format_of(&e.data()), 1);
    assert_valid_original(&e, "format 1, before");
    assert_eq!(listing(&e).lines().count() as u64, ENTRIES);
    let (_, pk) = e.keygen("p.key");
    let r = e.run(&[
        "--json",
        "enroll",
        "--key",
        s(&e.officer()),
        "--pubkey",
        &pk,
        "--holder",
        "Zhao Liu",
        "--unit",
        "Procuratorate",
        "--roles",
        "prosecutor",
    ]);
    assert_eq!(r.code, 3, "{} {}", r.stdout, r.stderr);
    assert_eq!(r.err_json()["error"]["code"], "migration_needed", "{}", r.stderr);
    assert!(r.err_json()["error"]["message"].as_str().unwrap().contains("pil-ledger migrate"), "{}", r.stderr);
    // Refused: nothing was appended.
    assert_valid_original(&e, "format 1, after the refused append");
}

#[test]
fn migrate_keeps_every_entry_checkpoint_and_index_and_the_ledger_grows_after() {
    let e = v1_ledger();
    let before = listing(&e);
    let cp_before = e.run(&["--json", "checkpoint"]).ok().json();
    let proofs = |e: &Env| {
        let a = e.run(&["--json", "prove", "inclusion", "300"]).ok().stdout;
        let b = e.run(&["--json", "prove", "consistency", "100"]).ok().stdout;
        (a, b)
    };
    let proofs_before = proofs(&e);
    let r = e.run(&["--json", "migrate"]).ok().json();
    assert_eq!(r["converted"], true, "{r}");
    assert_eq!((r["from_format"].as_u64(), r["to_format"].as_u64()), (Some(1), Some(2)), "{r}");
    assert_eq!(r["entries"], ENTRIES, "{r}");
    assert_eq!(r["root"], ROOT, "{r}");
    assert_eq!(format_of(&e.data()), 2);
    assert!(!e.data().join("ledger.migrating").exists());
    assert_valid_original(&e, "format 2, after migrate");
    assert_eq!(listing(&e), before, "every entry reads back byte for byte");
    assert_eq!(e.run(&["--json", "checkpoint"]).ok().json(), cp_before);
    // The same tree, read from tiles now, gives the same proofs.
    assert_eq!(proofs(&e), proofs_before);
    // The converted store takes appends: the index came along (the
    // officer's key is known, the nonce index and dual-control state too).
    let (_, _) = e.enroll("p.key", "prosecutor");
    let v = e.run(&["--json", "verify"]).json();
    assert_eq!(v["verdict"], "valid", "{v}");
    assert_eq!(v["entries"], ENTRIES + 1, "{v}");
    // A second run changes nothing.
    let again = e.run(&["--json", "migrate"]).ok().json();
    assert_eq!(again["converted"], false, "{again}");
    assert_eq!(again["entries"], ENTRIES + 1, "{again}");
}

#[test]
fn migrate_refuses_a_ledger_that_does_not_give_its_head_and_changes_nothing() {
    let e = v1_ledger();
    {
        // Flip a byte inside entry 100's statement: the entries no longer
        // give the head's root.
        let st = SledStore::open_for_migration(&e.data().join("ledger")).unwrap();
        let mut k = vec![b'E'];
        k.extend_from_slice(&100u64.to_be_bytes());
        let mut v = st.raw().get(&k).unwrap().unwrap().to_vec();
        let n = v.len();
        v[n - 80] ^= 1;
        st.raw().insert(k, v).unwrap();
        st.raw().flush().unwrap();
    }
    let listing_before = e.run(&["--json", "entries"]).stdout;
    let r = e.run(&["--json", "migrate"]);
    assert_eq!(r.code, 3, "{} {}", r.stdout, r.stderr);
    assert_eq!(r.err_json()["error"]["code"], "self_check_failed", "{}", r.stderr);
    assert_eq!(format_of(&e.data()), 1, "the old store stays in place");
    assert!(!e.data().join("ledger.migrating").exists(), "the half-built store is removed");
    assert_eq!(e.run(&["--json", "entries"]).stdout, listing_before);
}

/// A change made to the raw store.
type Damage = Box<dyn Fn(&sled::Db)>;

/// Damage that a conversion would silently repair or drop is refused
/// instead, and the old store stays as it is: a wrong Merkle node (the new
/// tree is recomputed from the entries), an entry beyond the head (never
/// read), a key of a known kind but the wrong shape (not copied).
#[test]
fn migrate_refuses_damage_it_would_repair_or_drop() {
    let node = |k: &mut Vec<u8>| {
        k.push(b'N');
        k.push(3);
        k.extend_from_slice(&5u64.to_be_bytes());
    };
    let cases: [(&str, Damage); 3] = [
        (
            "merkle_node_mismatch",
            Box::new(move |db: &sled::Db| {
                let mut k = Vec::new();
                node(&mut k);
                let mut v = db.get(&k).unwrap().unwrap().to_vec();
                v[0] ^= 1;
                db.insert(k, v).unwrap();
            }),
        ),
        (
            "entry_beyond_head",
            Box::new(|db: &sled::Db| {
                let mut k = vec![b'E'];
                k.extend_from_slice(&714u64.to_be_bytes());
                let v = db.get(&k).unwrap().unwrap();
                let mut beyond = vec![b'E'];
                beyond.extend_from_slice(&715u64.to_be_bytes());
                db.insert(beyond, v).unwrap();
            }),
        ),
        (
            "store_key_malformed",
            Box::new(|db: &sled::Db| {
                db.insert(b"E\x00\x01", b"x".to_vec()).unwrap();
            }),
        ),
    ];
    for (code, damage) in cases {
        let e = v1_ledger();
        {
            let st = SledStore::open_for_migration(&e.data().join("ledger")).unwrap();
            damage(&st.raw());
            st.raw().flush().unwrap();
        }
        let v = e.run(&["--json", "verify"]);
        assert_eq!(v.code, 1, "{code}: {}", v.stdout);
        assert!(v.stdout.contains(code), "{code}: {}", v.stdout);
        let r = e.run(&["--json", "migrate"]);
        assert_eq!(r.code, 3, "{code}: {} {}", r.stdout, r.stderr);
        assert_eq!(r.err_json()["error"]["code"], "self_check_failed", "{code}: {}", r.stderr);
        assert!(r.stderr.contains(code), "{code}: the refusal names the first reason: {}", r.stderr);
        assert_eq!(format_of(&e.data()), 1, "{code}: the old store stays");
        assert!(!leftover(&e.data()).exists());
        assert_eq!(e.run(&["--json", "verify"]).stdout, v.stdout, "{code}: the same verdict after");
    }
}

/// A store reached through a symbolic link is refused (the swap would
/// exchange the link, not the store); a file left at `ledger.migrating` is
/// removed like a directory would be.
#[test]
fn migrate_refuses_a_symlinked_store_and_clears_any_leftover() {
    let e = v1_ledger();
    let real = e.path("real-store");
    std::fs::rename(e.data().join("ledger"), &real).unwrap();
    std::os::unix::fs::symlink(&real, e.data().join("ledger")).unwrap();
    let r = e.run(&["--json", "migrate"]);
    assert_eq!(r.code, 2, "{} {}", r.stdout, r.stderr);
    assert_eq!(r.err_json()["error"]["code"], "invalid_argument");
    assert_eq!(SledStore::open_read_only(&real).unwrap().storage_format().unwrap(), 1);
    std::fs::remove_file(e.data().join("ledger")).unwrap();
    std::fs::rename(&real, e.data().join("ledger")).unwrap();
    std::fs::write(leftover(&e.data()), b"not a store").unwrap();
    e.run(&["--json", "migrate"]).ok();
    assert_eq!(format_of(&e.data()), 2);
    assert!(!leftover(&e.data()).exists());
    assert_valid_original(&e, "after migrate");
}

/// `kill -9` at spread-out moments of `migrate`: after each, the ledger is
/// the old store or the new one, complete (valid, same entries and root);
/// the next `migrate` finishes the job.
#[test]
fn kill_9_at_any_moment_of_migrate_leaves_the_old_or_the_new_store_complete() {
    // How long one whole run takes here, to spread the kills over it.
    let probe = v1_ledger();
    let t = Instant::now();
    probe.run(&["migrate"]).ok();
    let whole = t.elapsed();
    let rounds = 10u32;
    let (mut saw_old, mut saw_new) = (0, 0);
    for round in 0..rounds {
        let e = v1_ledger();
        let delay = whole.mul_f64(f64::from(round) / f64::from(rounds - 1) * 1.1);
        let mut child = Command::new(BIN)
            .args(["--data", s(&e.data()), "migrate"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        match format_of(&e.data()) {
            1 => saw_old += 1,
            2 => saw_new += 1,
            f => panic!("round {round}: format {f}"),
        }
        assert_valid_original(&e, &format!("round {round}, after kill -9 at {delay:?}"));
        let r = e.run(&["--json", "migrate"]).ok().json();
        assert_eq!(r["to_format"], 2, "{r}");
        assert_eq!(format_of(&e.data()), 2);
        assert!(!leftover(&e.data()).exists(), "round {round}: leftover removed");
        assert_valid_original(&e, &format!("round {round}, after the second migrate"));
    }
    eprintln!("kill -9 during migrate: {saw_old} rounds left the old store, {saw_new} the new one");
    assert!(saw_old > 0 && saw_new > 0, "the kills should land on both sides: old {saw_old}, new {saw_new}");
}

fn leftover(data: &Path) -> PathBuf {
    data.join("ledger.migrating")
}
