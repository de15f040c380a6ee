//! System figures, each beside the raw limit measured in the same run
//! (DESIGN §8): durable appends/s vs one-core verify_strict/s, ack latency at
//! light load, open time of a big ledger vs a 1k one, full verify rate vs raw
//! batch verification, disk bytes per entry vs canonical bytes.
//!
//! `cargo bench --bench figures` (PIL_BENCH_BIG=1000000 for the 1M figure;
//! default 100000).

use std::time::{Duration, Instant};

use pil_ledger::ledger::{self, Ledger};
use pil_ledger::store::Store;
use pil_ledger_core::authority::Role;
use pil_ledger_core::keys::{self, SigItem};
use pil_ledger_core::wire::Body;

/// The binary's allocator (src/main.rs), so the in-process figures (open,
/// verify) are the binary's: sled's open alone is about 40% faster with it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn raw_batch_per_sec(dur: Duration) -> f64 {
    let its: Vec<SigItem> = (0..64u8)
        .map(|i| {
            let k = ed25519_dalek::SigningKey::from_bytes(&[i; 32]);
            let digest = pil_ledger_core::hash::statement_digest(&[i]);
            let signature = ed25519_dalek::Signer::sign(&k, &digest).to_bytes();
            SigItem { author: k.verifying_key().to_bytes(), digest, signature }
        })
        .collect();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < dur {
        assert!(keys::batch_verify_raw(&its));
        n += 64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn raw_fsync_per_sec(dir: &std::path::Path) -> f64 {
    use std::io::Write;
    let mut f = std::fs::File::create(dir.join("fsync-probe")).unwrap();
    let start = Instant::now();
    let mut n = 0;
    while n < 300 {
        f.write_all(&[0u8; 512]).unwrap();
        f.sync_data().unwrap();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn enroll(l: &Ledger, officer: &ed25519_dalek::SigningKey, n: usize) -> Vec<ed25519_dalek::SigningKey> {
    (0..n)
        .map(|i| {
            let k = keys::generate();
            l.append_signed(
                officer,
                "",
                Body::enrol(k.verifying_key().to_bytes(), format!("P{i}"), "U", vec![Role::Prosecutor]),
            )
            .unwrap();
            k
        })
        .collect()
}

/// Append `n` pre-signed statements from `clients` concurrent clients;
/// returns (entries/s, latencies).
fn load(l: &Ledger, keys: &[ed25519_dalek::SigningKey], n: usize, clients: usize, tag: &str) -> (f64, Vec<Duration>) {
    let stmts: Vec<(Vec<u8>, [u8; 64])> = (0..n)
        .map(|i| {
            ledger::sign_statement(
                l.origin(),
                &keys[i % keys.len()],
                &format!("{tag}-{i}"),
                Body::CaseOpened { title: "bench".into(), area: "ecology".into(), unit: "u".into() },
            )
        })
        .collect();
    let w = l.writer().unwrap().clone();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let start = Instant::now();
    let lat = rt.block_on(async {
        let mut per_client: Vec<Vec<(Vec<u8>, [u8; 64])>> = vec![Vec::new(); clients];
        for (i, s) in stmts.into_iter().enumerate() {
            per_client[i % clients].push(s);
        }
        let mut tasks = Vec::new();
        for mine in per_client {
            let w = w.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                for (st, sig) in mine {
                    let t = Instant::now();
                    w.append(st, sig).await.unwrap();
                    lat.push(t.elapsed());
                }
                lat
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    (n as f64 / start.elapsed().as_secs_f64(), lat)
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)].as_secs_f64() * 1e3
}

/// Median over 15 opens of (sled's own recovery, our self-check) in ms.
fn median_open(dir: &std::path::Path) -> (f64, f64) {
    let mut sled_ms: Vec<f64> = Vec::new();
    let mut check_ms: Vec<f64> = Vec::new();
    for _ in 0..15 {
        let s = Instant::now();
        let store = pil_ledger::store::SledStore::open(&dir.join("ledger")).unwrap();
        sled_ms.push(s.elapsed().as_secs_f64() * 1e3);
        let s = Instant::now();
        ledger::self_check_store(&store).unwrap();
        check_ms.push(s.elapsed().as_secs_f64() * 1e3);
    }
    sled_ms.sort_by(f64::total_cmp);
    check_ms.sort_by(f64::total_cmp);
    (sled_ms[7], check_ms[7])
}

/// A writer (`stress`, appending) killed with SIGKILL, then the timings a
/// restart pays, in ms: the whole `checkpoint` command (a process of the
/// real binary), the first writable open of the store, and `checkpoint
/// --size N` (which reads the store through a private copy).
fn after_kill_9(dir: &std::path::Path) -> (f64, f64, f64) {
    let bin = env!("CARGO_BIN_EXE_pil-ledger");
    let mut child = std::process::Command::new(bin)
        .args(["--data", dir.to_str().unwrap(), "stress", "--allow-existing", "--count", "1000000", "--clients", "8"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    let run = |args: &[&str]| {
        let s = Instant::now();
        let out = std::process::Command::new(bin).args(["--data", dir.to_str().unwrap()]).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        s.elapsed().as_secs_f64() * 1e3
    };
    let checkpoint = run(&["checkpoint"]);
    let s = Instant::now();
    let l = Ledger::open(dir, true).unwrap();
    let open = s.elapsed().as_secs_f64() * 1e3;
    let size = l.head().unwrap().size;
    l.close();
    let old = run(&["checkpoint", "--size", &size.to_string()]);
    (checkpoint, open, old)
}

fn main() {
    // cargo bench passes --bench; ignore arguments.
    let big: usize = std::env::var("PIL_BENCH_BIG").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let tmp = tempfile::tempdir().unwrap();
    println!("pil-ledger figures (2-core machine); raw limits measured in this same run");
    let raw_strict = pil_ledger::stress::raw_verify_strict_per_sec(Duration::from_secs(1));
    let raw_batch = raw_batch_per_sec(Duration::from_secs(1));
    let raw_fsync = raw_fsync_per_sec(tmp.path());
    println!("raw: verify_strict {raw_strict:.0}/s (1 core); batch verify {raw_batch:.0} sig/s (1 core); fdatasync {raw_fsync:.0}/s");

    // 1-2: throughput and light-load latency on a small ledger
    let small = tmp.path().join("small");
    let l = Ledger::init(&small, "bench.example/pil", "Officer", "Unit").unwrap();
    let officer = ledger::read_key_file(&l.paths().officer_key()).unwrap();
    let ks = enroll(&l, &officer, 64);
    let (_, mut light) = load(&l, &ks, 1000, 1, "light");
    println!(
        "ack latency, 1 client (proof included): p50 {:.2} ms, p99 {:.2} ms  (raw fdatasync {:.2} ms)",
        pct(&mut light, 0.5),
        pct(&mut light, 0.99),
        1e3 / raw_fsync
    );
    let (rate, mut lat) = load(&l, &ks, 20_000, 256, "load");
    println!(
        "durable appends, full checks, 256 clients, pre-signed: {rate:.0}/s = {:.2}x raw 1-core verify_strict (p50 {:.1} ms, p99 {:.1} ms)",
        rate / raw_strict,
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.99)
    );
    let head = l.head().unwrap();
    let canon: u64 = l.store().entries(0, head.size).map(|r| r.unwrap().1.len() as u64).sum();
    let disk = l.store().disk_bytes().unwrap();
    println!(
        "disk: {:.0} bytes/entry on disk vs {:.0} canonical bytes/entry ({:.1}x), {} entries",
        disk as f64 / head.size as f64,
        canon as f64 / head.size as f64,
        disk as f64 / canon as f64,
        head.size
    );
    l.close();

    // 3: open time, 1k vs big
    let k1 = tmp.path().join("k1");
    {
        let l = Ledger::init(&k1, "bench.example/pil", "Officer", "Unit").unwrap();
        let officer = ledger::read_key_file(&l.paths().officer_key()).unwrap();
        let ks = enroll(&l, &officer, 8);
        load(&l, &ks, 1000 - 9, 64, "k1");
        l.close();
    }
    // PIL_BENCH_BIG_DIR keeps (or reuses) the big ledger between runs.
    let bigdir = std::env::var_os("PIL_BENCH_BIG_DIR").map_or_else(|| tmp.path().join("big"), std::path::PathBuf::from);
    if !bigdir.join("ledger").exists() {
        let l = Ledger::init(&bigdir, "bench.example/pil", "Officer", "Unit").unwrap();
        let officer = ledger::read_key_file(&l.paths().officer_key()).unwrap();
        let ks = enroll(&l, &officer, 64);
        let mut done = 65;
        while done < big {
            let n = (big - done).min(50_000);
            load(&l, &ks, n, 256, &format!("big{done}"));
            done += n;
            eprintln!("  built {done}/{big}");
        }
        l.close();
    }
    let (kill1, killb) = (after_kill_9(&k1), after_kill_9(&bigdir));
    println!(
        "after kill -9 of a writer: the whole `checkpoint` command {:.1} ms at 1k vs {:.1} ms at {big} = {:.2}x (goal <= 3x); \
         the first writable open (sled's recovery, self-check, acked-checkpoint check) {:.1} ms vs {:.1} ms = {:.1}x; \
         `checkpoint --size` (opens a private copy of the store) {:.1} ms vs {:.1} ms = {:.0}x",
        kill1.0,
        killb.0,
        killb.0 / kill1.0,
        kill1.1,
        killb.1,
        killb.1 / kill1.1,
        kill1.2,
        killb.2,
        killb.2 / kill1.2
    );
    {
        let st = pil_ledger::store::SledStore::open_read_only(&bigdir.join("ledger")).unwrap();
        let head = st.head().unwrap().unwrap();
        let canon: u64 = st.entries(0, head.size).map(|r| r.unwrap().1.len() as u64).sum();
        let disk = st.disk_bytes().unwrap();
        println!(
            "disk at {} entries: {:.0} bytes/entry on disk vs {:.0} canonical bytes/entry ({:.2}x; goal <= 3x)",
            head.size,
            disk as f64 / head.size as f64,
            canon as f64 / head.size as f64,
            disk as f64 / canon as f64
        );
    }
    let ((s1, c1), (sb, cb)) = (median_open(&k1), median_open(&bigdir));
    println!(
        "open: our self-check (no replay) 1k entries {c1:.3} ms, {big} entries {cb:.3} ms = {:.2}x; sled 0.34's own recovery {s1:.1} ms vs {sb:.1} ms = {:.0}x; whole open {:.1} ms vs {:.1} ms = {:.0}x",
        cb / c1,
        sb / s1,
        s1 + c1,
        sb + cb,
        (sb + cb) / (s1 + c1)
    );

    // 4: full verify rate vs raw batch verification
    let l = Ledger::open(&bigdir, false).unwrap();
    let s = Instant::now();
    let v = l.verify(&|_, _| {}).unwrap();
    let secs = s.elapsed().as_secs_f64();
    assert_eq!(v.verdict.as_str(), "valid");
    let vr = v.entries as f64 / secs;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    println!(
        "full verify: {} entries in {secs:.2} s = {vr:.0} entries/s = {:.2}x ({cores} cores x raw 1-core verify_strict; goal >= 0.8x); {:.2}x raw 1-core batch verify",
        v.entries,
        vr / (cores * raw_strict),
        vr / raw_batch
    );
}
