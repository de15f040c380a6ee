//! Evidence digests on a 256 MiB in-memory buffer (issue 7): `hash_reader`
//! (BLAKE3, SHA-256 and SM3 at once, one read pass) against each raw hasher
//! alone on the same bytes. The goal is three-at-once ≥ 0.8 × the slowest raw
//! hasher.
//!
//! `cargo bench --bench digest`. Besides criterion's figures, the bench times
//! its own interleaved rounds (best of `ROUNDS` per function, so load from other
//! processes on a shared machine hurts every function alike) and prints MB/s
//! for each and the ratio `three-at-once / slowest raw` on stderr.

use std::io::Cursor;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pil_ledger_core::digest::{hash_bytes, hash_reader, DigestAlg};

const LEN: usize = 256 << 20;
const ROUNDS: usize = 3;

fn buffer() -> Vec<u8> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut v = vec![0u8; LEN];
    for w in v.chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w.copy_from_slice(&x.to_le_bytes());
    }
    v
}

fn three(data: &[u8]) {
    let d = hash_reader(Cursor::new(data), &|_| {}).unwrap();
    assert_eq!(d.size, data.len() as u64);
}

fn raw(alg: DigestAlg, data: &[u8]) {
    std::hint::black_box(hash_bytes(alg, data));
}

const RAW: [DigestAlg; 3] = [DigestAlg::Blake3, DigestAlg::Sha256, DigestAlg::Sm3];

fn mbps(len: usize, t: Duration) -> f64 {
    len as f64 / 1e6 / t.as_secs_f64()
}

/// Interleaved rounds, best time of each; prints the figures and the ratio.
fn ratio(data: &[u8]) {
    let mut best_three = Duration::MAX;
    let mut best_raw = [Duration::MAX; 3];
    for _ in 0..ROUNDS {
        let t = Instant::now();
        three(data);
        best_three = best_three.min(t.elapsed());
        for (i, alg) in RAW.into_iter().enumerate() {
            let t = Instant::now();
            raw(alg, data);
            best_raw[i] = best_raw[i].min(t.elapsed());
        }
    }
    let three_mbps = mbps(data.len(), best_three);
    eprintln!("digest figures, 256 MiB in memory, best of {ROUNDS} interleaved rounds:");
    eprintln!("  three-at-once (hash_reader)  {three_mbps:8.0} MB/s");
    let mut slowest = (f64::MAX, DigestAlg::Blake3);
    for (i, alg) in RAW.into_iter().enumerate() {
        let m = mbps(data.len(), best_raw[i]);
        eprintln!("  raw {:<24} {m:8.0} MB/s", alg.as_str());
        if m < slowest.0 {
            slowest = (m, alg);
        }
    }
    eprintln!("  ratio three-at-once / slowest raw ({}) = {:.3} (goal >= 0.8)", slowest.1, three_mbps / slowest.0);
}

fn digests(c: &mut Criterion) {
    let data = buffer();
    let mut g = c.benchmark_group("digest-256MiB");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Bytes(LEN as u64));
    g.bench_function("three-at-once", |b| b.iter(|| three(&data)));
    for alg in RAW {
        g.bench_function(format!("raw-{alg}"), |b| b.iter(|| raw(alg, &data)));
    }
    g.finish();
    ratio(&data);
}

criterion_group!(benches, digests);
criterion_main!(benches);
