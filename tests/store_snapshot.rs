//! sled writes its recovery snapshot only when it opens a database, so the
//! store reopens sled to bound the next open's replay (`storage.md` §5.1):
//! `Store::maintain` when the writer is idle, and at a writable close. These
//! tests check what a reopen must keep: every applied record readable
//! before, during and after; no reopen while a read holds the database; a
//! new snapshot file on disk afterwards.

use std::path::Path;

use pil_ledger::store::{Commit, SledStore, Store};
use pil_ledger_core::state::{IndexWrite, Ns};

/// sled's snapshot files in a store directory, by name (the name carries
/// the log position the snapshot covers, in hex: later sorts higher).
fn snapshots(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("snap.") && !n.ends_with(".generating"))
        .collect();
    v.sort();
    v
}

/// `n` index records in one commit, keys `tag ‖ i`, values 200 bytes.
fn commit(store: &SledStore, tag: u8, n: u32) {
    let index = (0..n)
        .map(|i| {
            let mut key = vec![tag];
            key.extend_from_slice(&i.to_be_bytes());
            IndexWrite { ns: Ns::Nonce, key, value: vec![tag; 200] }
        })
        .collect();
    store.commit(Commit { index, ..Commit::default() }).unwrap();
}

fn count(store: &SledStore, tag: u8) -> usize {
    store.index_scan(Ns::Nonce, &[tag]).unwrap().len()
}

#[test]
fn maintain_reopens_sled_only_past_the_debt_and_keeps_every_record() {
    let d = tempfile::tempdir().unwrap();
    let store = SledStore::open(d.path()).unwrap();
    let first = snapshots(d.path()); // none yet: a new store has nothing to snapshot
    commit(&store, 1, 5_000); // about 1 MB
    assert!(!store.maintain(u64::MAX).unwrap(), "below the debt: nothing to do");
    assert_eq!(snapshots(d.path()), first);
    assert!(store.maintain(1).unwrap(), "past the debt and no read running: reopened");
    let second = snapshots(d.path());
    assert_eq!(second.len(), 1, "sled keeps its newest snapshot: {second:?}");
    assert!(second.last() > first.last(), "a newer snapshot: {first:?} then {second:?}");
    assert_eq!(count(&store, 1), 5_000, "every record applied before the reopen is read after it");
    // The debt starts again from zero.
    assert!(!store.maintain(1).unwrap());
    // Writes go on after a reopen, and survive a close and an open.
    commit(&store, 2, 10);
    drop(store);
    let store = SledStore::open(d.path()).unwrap();
    assert_eq!((count(&store, 1), count(&store, 2)), (5_000, 10));
}

#[test]
fn no_reopen_while_an_iterator_or_handle_holds_the_database() {
    let d = tempfile::tempdir().unwrap();
    let store = SledStore::open(d.path()).unwrap();
    commit(&store, 3, 100);
    let before = snapshots(d.path());
    let mut it = store.raw_scan();
    let first = it.next().unwrap().unwrap();
    assert!(!store.maintain(1).unwrap(), "an open scan keeps sled's database: no reopen");
    // The scan goes on, unharmed, and ends.
    assert_eq!(1 + it.count(), 100);
    let h = store.raw();
    assert!(!store.maintain(1).unwrap(), "a lent handle keeps it too");
    drop(h);
    assert_eq!(snapshots(d.path()), before);
    assert!(store.maintain(1).unwrap(), "nothing lent any more: reopened");
    assert_eq!(store.raw_scan().next().unwrap().unwrap(), first);
}

#[test]
fn a_writable_close_with_debt_leaves_a_fresh_snapshot_and_a_small_one_does_not() {
    let d = tempfile::tempdir().unwrap();
    let store = SledStore::open(d.path()).unwrap();
    let first = snapshots(d.path());
    commit(&store, 4, 10); // a few KB: below the close debt
    drop(store);
    assert_eq!(snapshots(d.path()), first, "a small write is not worth a reopen at close");

    let store = SledStore::open(d.path()).unwrap();
    let opened = snapshots(d.path());
    for t in 0..10u8 {
        commit(&store, 10 + t, 5_000); // 10 MB in all: past the 8 MiB close debt
    }
    drop(store);
    let closed = snapshots(d.path());
    assert!(closed.last() > opened.last(), "the close reopened sled: {opened:?} then {closed:?}");
    let store = SledStore::open(d.path()).unwrap();
    assert_eq!((10..20u8).map(|t| count(&store, t)).sum::<usize>(), 50_000);
    assert_eq!(count(&store, 4), 10);
}

/// While a refresh has sled closed, sled's own lock is free; the store's
/// directory lock is not, so another writer (or a reader's copy) polling to
/// open the ledger never gets in between, however many refreshes it sees.
#[test]
fn no_other_opener_gets_in_while_sled_is_reopened() {
    let d = tempfile::tempdir().unwrap();
    let store = SledStore::open(d.path()).unwrap();
    let dir = d.path().to_path_buf();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let intruder = std::thread::spawn(move || {
        let mut tries = 0;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            tries += 1;
            // Each attempt polls for the locks for up to 3 s.
            if let Ok(other) = SledStore::open(&dir) {
                drop(other);
                return Err(format!("a second writer opened the store on attempt {tries}"));
            }
            if let Ok(ro) = SledStore::open_read_only(&dir) {
                drop(ro);
                return Err(format!("a reader copied the store on attempt {tries}"));
            }
        }
        Ok(tries)
    });
    let started = std::time::Instant::now();
    let mut refreshes = 0;
    let mut tag = 0u8;
    while started.elapsed() < std::time::Duration::from_secs(7) {
        commit(&store, 100u8.wrapping_add(tag), 5);
        tag = tag.wrapping_add(1);
        if store.maintain(1).unwrap() {
            refreshes += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let tries = intruder.join().unwrap().unwrap();
    assert!(refreshes > 20 && tries >= 1, "{refreshes} refreshes, {tries} attempts");
    assert!(store.raw_scan().count() > 0);
}

#[test]
fn a_read_only_store_never_reopens() {
    let d = tempfile::tempdir().unwrap();
    let store = SledStore::open(d.path()).unwrap();
    commit(&store, 5, 100);
    drop(store);
    let ro = SledStore::open_read_only(d.path()).unwrap();
    assert!(!ro.maintain(0).unwrap());
    assert_eq!(count(&ro, 5), 100);
}

mod common;
mod http_support;

/// The whole path, on the real binary: `serve` with a tiny idle debt takes
/// writes over HTTP, goes idle, and refreshes sled's snapshot while it runs
/// (a newer `snap.*` file appears); then it is killed with SIGKILL, and
/// every acknowledged entry is still there and `verify` finds the ledger
/// valid.
#[test]
fn an_idle_server_refreshes_the_snapshot_and_a_kill_after_it_loses_nothing() {
    use common::{s, Env};
    let e = Env::new();
    e.init();
    let (pros, _) = e.enroll("pros.key", "prosecutor");
    let store_dir = e.data().join("ledger");
    let mut server = http_support::Server::start(&e, &[], &[("PIL_IDLE_SNAPSHOT_DEBT", "1")]);
    let at_start = snapshots(&store_dir);
    let url = server.base.clone();
    let mut acked = Vec::new();
    for i in 0..5 {
        let case = format!("（2026）京04民初{i}号");
        let r =
            e.run(&["--json", "--server", &url, "case", "open", "--key", s(&pros), "--case", &case, "--title", "t"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        acked.push(r.json()["seq"].as_u64().unwrap());
    }
    // The syncer refreshes after 1 s without a group to sync.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while snapshots(&store_dir).last() <= at_start.last() {
        assert!(std::time::Instant::now() < deadline, "no snapshot refresh while idle: {at_start:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The server still answers, from the reopened database.
    let r = e.run(&[
        "--json",
        "--server",
        &url,
        "case",
        "open",
        "--key",
        s(&pros),
        "--case",
        "（2026）京04民初9号",
        "--title",
        "t",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    acked.push(r.json()["seq"].as_u64().unwrap());
    server.child.kill().unwrap(); // SIGKILL: no close, no refresh at close
    server.child.wait().unwrap();
    let v = e.run(&["--json", "verify"]);
    assert_eq!(v.code, 0, "{}", v.stdout);
    assert_eq!(v.json()["verdict"], "valid");
    let size = v.json()["entries"].as_u64().unwrap();
    assert!(acked.iter().all(|&q| q < size), "acked {acked:?}, {size} entries after the kill");
    for q in acked {
        assert_eq!(e.run(&["show", &q.to_string()]).code, 0);
    }
}
