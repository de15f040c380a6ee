//! Crash test: run the real `stress` binary, `kill -9` it at random moments
//! over many cycles, and check after each: every acknowledged seq is present
//! with the same hash, no half entry exists, `verify` passes, appends go on.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::Env;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn cycles() -> usize {
    std::env::var("PIL_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(8)
}

#[test]
fn kill_9_mid_append_loses_nothing_acknowledged() {
    let e = Env::new();
    let seed = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("crash test seed {seed}");
    let mut rng = Lcg(seed);
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    for cycle in 0..cycles() {
        // Every other cycle the writer refreshes sled's snapshot (closes
        // and reopens sled, storage.md §5.1) after every 64 KiB applied,
        // about a hundred entries, so that kills land in refreshes too.
        let refresh_every = if cycle % 2 == 1 { "65536" } else { "268435456" };
        let mut child = Command::new(common::BIN)
            .arg("--data")
            .arg(e.data())
            .args(["stress", "--count", "10000000", "--clients", "16"])
            .env("PIL_BUSY_SNAPSHOT_DEBT", refresh_every)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let seen = Arc::new(Mutex::new(Vec::<(u64, String)>::new()));
        let reader = {
            let seen = seen.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let parts: Vec<&str> = line.split(' ').collect();
                    if parts.len() == 3 && parts[0] == "ack" && parts[2].len() == 64 {
                        seen.lock().unwrap().push((parts[1].parse().unwrap(), parts[2].to_string()));
                    }
                }
            })
        };
        if cycle % 3 == 0 {
            // early: around start-up (stress first measures raw verify_strict
            // for 300 ms), init and the enrolments of its client keys
            std::thread::sleep(Duration::from_millis(250 + rng.next() % 300));
        } else {
            // wait for the first ack, then a random moment
            let start = Instant::now();
            while seen.lock().unwrap().is_empty() && start.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(5));
            }
            assert!(!seen.lock().unwrap().is_empty(), "cycle {cycle}: stress acknowledged nothing");
            std::thread::sleep(Duration::from_millis(20 + rng.next() % 400));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let got = std::mem::take(&mut *seen.lock().unwrap());
        for (seq, h) in got {
            if let Some(prev) = acked.insert(seq, h.clone()) {
                assert_eq!(prev, h, "seq {seq} acknowledged twice with different hashes");
            }
        }
        // reopen: every acknowledged entry is there, same hash
        let listed = e.run(&["--json", "entries"]);
        if listed.code == 2 && listed.err_json()["error"]["code"] == "no_ledger" {
            // killed before the genesis was durable: nothing was acknowledged
            assert!(acked.is_empty(), "cycle {cycle}: acknowledged entries but no ledger");
            eprintln!("cycle {cycle}: killed before the first genesis was durable");
            continue;
        }
        let entries = listed.ok().stdout;
        let mut stored = BTreeMap::new();
        for line in entries.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            stored.insert(v["seq"].as_u64().unwrap(), v["hash"].as_str().unwrap().to_string());
        }
        for (seq, h) in &acked {
            assert_eq!(stored.get(seq), Some(h), "cycle {cycle}: acknowledged seq {seq} lost or changed");
        }
        // no gaps, no half entry: seqs are 0..n and verify re-checks all
        assert_eq!(stored.keys().copied().collect::<Vec<_>>(), (0..stored.len() as u64).collect::<Vec<_>>());
        let v = e.run(&["--json", "verify"]);
        assert_eq!(v.code, 0, "cycle {cycle}: verify after kill -9: {} {}", v.stdout, v.stderr);
        assert_eq!(v.json()["verdict"], "valid");
        eprintln!("cycle {cycle}: {} entries, {} acknowledged so far", stored.len(), acked.len());
    }
    // appends continue after the last crash
    let (k, _) = e.enroll("after.key", "prosecutor");
    e.run(&["case", "open", "--key", k.to_str().unwrap(), "--case", "after-crash", "--title", "t"]).ok();
}

/// `stress` killed at any moment of its own first `init` (marker, key files,
/// store, genesis) leaves a directory the next `stress` resumes: it is never
/// refused as someone else's ledger, and no key file is replaced.
#[test]
fn kill_9_during_stress_first_init_never_blocks_the_next_run() {
    let seed = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("crash test seed {seed}");
    let mut rng = Lcg(seed);
    for cycle in 0..cycles() {
        let e = Env::new();
        let mut child = Command::new(common::BIN)
            .arg("--data")
            .arg(e.data())
            .args(["stress", "--count", "5", "--clients", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // stress measures raw verify_strict for 300 ms before its init
        std::thread::sleep(Duration::from_millis(280 + rng.next() % 120));
        child.kill().unwrap();
        child.wait().unwrap();
        let keys_before: Vec<(String, Vec<u8>)> = ["log.key", "officer.key"]
            .iter()
            .filter_map(|k| std::fs::read(e.data().join("keys").join(k)).ok().map(|b| (k.to_string(), b)))
            .collect();
        let r = e.run(&["stress", "--count", "3", "--clients", "1"]);
        assert_eq!(r.code, 0, "cycle {cycle}: {}", r.stderr);
        for (k, b) in keys_before {
            assert_eq!(std::fs::read(e.data().join("keys").join(&k)).unwrap(), b, "cycle {cycle}: {k} replaced");
        }
        assert_eq!(e.run(&["--json", "verify"]).ok().json()["verdict"], "valid", "cycle {cycle}");
    }
}
