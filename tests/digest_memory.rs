//! Hashing a large file keeps memory flat (issue 7): a 2 GiB sparse file is
//! hashed by `digest::hash_file` and the process's peak RSS (VmHWM) may grow by
//! at most 64 MiB. Ignored by default (it reads 2 GiB):
//! `cargo test --release --test digest_memory -- --ignored --nocapture`.

use std::io::{self, Read};

use pil_ledger_core::digest::{hash_file, hash_with, DigestAlg};

const SIZE: u64 = 2 << 30;
const LIMIT: u64 = 64 << 20;

/// A field of /proc/self/status, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    let kb: u64 = line[field.len()..].trim().trim_end_matches("kB").trim().parse().expect("a number of kB");
    kb * 1024
}

/// The oracle: BLAKE3 of `SIZE` zero bytes, streamed into the hasher 1 MiB at a time.
fn blake3_of_zeros() -> [u8; 32] {
    let zeros = vec![0u8; 1 << 20];
    let mut h = blake3::Hasher::new();
    for _ in 0..SIZE / (1 << 20) {
        h.update(&zeros);
    }
    *h.finalize().as_bytes()
}

#[test]
#[ignore = "reads a 2 GiB sparse file; run with --release -- --ignored"]
fn hashing_2_gib_keeps_peak_memory_flat() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sparse.bin");
    std::fs::File::create(&path).unwrap().set_len(SIZE).unwrap();

    // Reset the peak to the current RSS where the kernel allows it
    // (clear_refs "5", Linux 4.0+), so the peak measured is this test's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let hwm_before = status_bytes("VmHWM:");
    let rss_before = status_bytes("VmRSS:");
    let calls = std::cell::Cell::new(0u32);
    let start = std::time::Instant::now();
    let fd = hash_file(&path, &|_| calls.set(calls.get() + 1)).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let hwm_after = status_bytes("VmHWM:");
    let growth = hwm_after.saturating_sub(hwm_before);
    eprintln!(
        "2 GiB sparse file hashed in {secs:.1} s ({:.0} MB/s), {} progress calls; \
         VmRSS before {:.1} MiB, VmHWM before {:.1} MiB, after {:.1} MiB, growth {:.1} MiB (limit {} MiB)",
        SIZE as f64 / 1e6 / secs,
        calls.get(),
        rss_before as f64 / 1048576.0,
        hwm_before as f64 / 1048576.0,
        hwm_after as f64 / 1048576.0,
        growth as f64 / 1048576.0,
        LIMIT >> 20,
    );
    assert_eq!(fd.size, SIZE);
    assert!(growth < LIMIT, "peak RSS grew by {growth} bytes");

    assert_eq!(fd.blake3, blake3_of_zeros(), "blake3");
    // SHA-256 and SM3 by the single-algorithm streaming path over io::repeat.
    let zeros = || io::repeat(0).take(SIZE);
    assert_eq!(fd.sha256.to_vec(), hash_with(DigestAlg::Sha256, zeros()).unwrap(), "sha256");
    assert_eq!(fd.sm3.to_vec(), hash_with(DigestAlg::Sm3, zeros()).unwrap(), "sm3");
}
