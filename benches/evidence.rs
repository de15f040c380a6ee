//! Evidence figures, each beside a baseline measured in the same run:
//!
//! 1. `evidence add` of many small files in one command (hash each file's
//!    three digests, sign, submit concurrently through the one writer)
//!    against plain signed `CaseOpened` appends submitted the same way (what
//!    `stress` does): issue goal ≥ 0.5×.
//! 2. Registering one large file (three digests in one pass, then one
//!    append) against the slowest of the three raw hashers alone on the same
//!    bytes: issue goal ≥ 0.8×.
//!
//! `cargo bench --bench evidence` (`PIL_BENCH_FILES`, default 10000;
//! `PIL_BENCH_MIB`, default 256).

use std::time::Instant;

use pil_ledger::evidence_add::{hash_path, readable_id, submit_all};
use pil_ledger::ledger::{self, Ledger};
use pil_ledger_core::authority::Role;
use pil_ledger_core::digest::{self, DigestAlg};
use pil_ledger_core::wire::Body;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn registration(fd: &digest::FileDigests, collectors: &[String]) -> Body {
    Body::EvidenceRegistered {
        evidence_id: readable_id(&fd.blake3),
        category: "electronic-data".into(),
        digests: fd.digests(),
        size: fd.size,
        media_type: "image/jpeg".into(),
        physical: false,
        description: "bench".into(),
        source: String::new(),
        method: "photograph".into(),
        legal_basis: String::new(),
        collectors: collectors.to_vec(),
        witness: String::new(),
        place: String::new(),
        collected_at_ms: ledger::now_ms(),
        collected_tz_offset_min: 480,
        tool: String::new(),
        tool_version: String::new(),
        original_medium: String::new(),
        provenance: String::new(),
        prior_digests: vec![],
    }
}

fn main() {
    let files = env("PIL_BENCH_FILES", 10_000);
    let mib = env("PIL_BENCH_MIB", 256);
    let tmp = tempfile::tempdir().unwrap();
    let l = Ledger::init(&tmp.path().join("data"), "bench.example/evidence", "Officer", "Unit").unwrap();
    let officer = ledger::read_key_file(&l.paths().officer_key()).unwrap();
    let pros = pil_ledger_core::keys::generate();
    l.append_signed(&officer, "", Body::enrol(pros.verifying_key().to_bytes(), "Li Si", "U", vec![Role::Prosecutor]))
        .unwrap();
    l.append_signed(&pros, "CASE-1", Body::CaseOpened { title: "t".into(), area: "a".into(), unit: "u".into() })
        .unwrap();

    // Baseline: plain appends, signed then submitted concurrently.
    let t = Instant::now();
    let plain: Vec<_> = (0..files)
        .map(|i| {
            let body = Body::CaseOpened { title: format!("case {i}"), area: "a".into(), unit: "u".into() };
            ledger::sign_statement(l.origin(), &pros, &format!("BASE-{i}"), body)
        })
        .collect();
    let acks = submit_all(&l, plain).unwrap_or_else(|f| panic!("{}", f.message));
    assert!(acks.iter().all(Result::is_ok));
    let base = files as f64 / t.elapsed().as_secs_f64();

    // evidence add: files on disk, each hashed (three digests), signed, submitted.
    let dir = tmp.path().join("files");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..files {
        std::fs::write(dir.join(format!("photo-{i:05}.jpg")), format!("small evidence file number {i}")).unwrap();
    }
    let collectors = vec!["Li Si".to_string()];
    let t = Instant::now();
    let mut statements = Vec::with_capacity(files);
    for i in 0..files {
        let fd = hash_path(&dir.join(format!("photo-{i:05}.jpg"))).unwrap_or_else(|_| panic!("hash"));
        statements.push(ledger::sign_statement(l.origin(), &pros, "CASE-1", registration(&fd, &collectors)));
    }
    let acks = submit_all(&l, statements).unwrap_or_else(|f| panic!("{}", f.message));
    assert!(acks.iter().all(Result::is_ok));
    let ev = files as f64 / t.elapsed().as_secs_f64();
    eprintln!(
        "evidence add: {files} small files = {ev:.0} items/s; plain signed appends (stress-like) in the same run = {base:.0}/s; ratio {:.2}x (goal >= 0.5x)",
        ev / base
    );

    // One large file: three digests in one pass + one append, vs the slowest raw hasher.
    let big = tmp.path().join("big.bin");
    let bytes: Vec<u8> = (0..mib * 1024 * 1024).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(&big, &bytes).unwrap();
    let mut slowest = f64::MAX;
    for alg in [DigestAlg::Blake3, DigestAlg::Sha256, DigestAlg::Sm3] {
        let t = Instant::now();
        std::hint::black_box(digest::hash_bytes(alg, &bytes));
        let rate = bytes.len() as f64 / t.elapsed().as_secs_f64() / 1e6;
        eprintln!("raw {alg} alone: {rate:.0} MB/s");
        slowest = slowest.min(rate);
    }
    let t = Instant::now();
    let fd = hash_path(&big).unwrap_or_else(|_| panic!("hash"));
    l.append_signed(&pros, "CASE-1", registration(&fd, &collectors)).unwrap();
    let reg = bytes.len() as f64 / t.elapsed().as_secs_f64() / 1e6;
    eprintln!(
        "large-file registration ({mib} MiB, three digests + durable append): {reg:.0} MB/s; slowest raw hasher alone {slowest:.0} MB/s; ratio {:.2}x (goal >= 0.8x)",
        reg / slowest
    );
    l.close();
}
