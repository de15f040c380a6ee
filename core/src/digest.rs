//! Evidence file digests (DESIGN §3.2, §5; issue 7).
//!
//! An evidence file is hashed with BLAKE3, SHA-256 and SM3 (GB/T 32905) in one
//! read pass and in constant memory: the reading thread fills 1 MiB buffers
//! from a fixed pool and hands each filled buffer, shared, to three hasher
//! threads; a buffer goes back to the pool when the last of the three is done
//! with it. The reader blocks when the pool is empty, so memory never grows
//! with the input and the slowest hasher alone sets the pace. Inputs shorter
//! than one buffer are hashed on the calling thread (no threads spawned).
//!
//! MD5 and SHA-1 appear only to check a digest written in an earlier forensic
//! record (`--prior-digest`); they are [`DigestAlg::is_weak`] and
//! [`hash_with`] computes them (or any single algorithm) in a second pass.
//!
//! Every digest names its algorithm: [`Digest`] is `alg:hex` in text and
//! `{"alg": "...", "value": "<hex>"}` in JSON.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::str::FromStr;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread;

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};
use sha2::digest::Digest as _;

/// Size of one read buffer.
const CHUNK: usize = 1 << 20;
/// Buffers that exist at once in the threaded path: one being filled and the
/// rest queued for (or being hashed by) the hasher threads. Peak buffer memory
/// is `POOL * CHUNK`, whatever the input's size.
const POOL: usize = 5;
/// `progress` is called at most once per this many bytes (and once at the end).
const PROGRESS_EVERY: u64 = 4 << 20;
/// Buffer for the single-algorithm second pass ([`hash_with`]).
const SINGLE_BUF: usize = 64 << 10;

/// A digest algorithm. Declaration order is the wire tag: append only, never
/// reorder. Serde names (JSON) are `blake3`, `sha256`, `sm3`, `md5`, `sha1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DigestAlg {
    Blake3,
    Sha256,
    Sm3,
    Md5,
    Sha1,
}

impl DigestAlg {
    /// Every algorithm, in wire-tag order.
    pub const ALL: [DigestAlg; 5] =
        [DigestAlg::Blake3, DigestAlg::Sha256, DigestAlg::Sm3, DigestAlg::Md5, DigestAlg::Sha1];
    /// The algorithms [`hash_reader`] computes, in the order [`FileDigests::digests`] lists them.
    pub const COMPUTED: [DigestAlg; 3] = [DigestAlg::Blake3, DigestAlg::Sha256, DigestAlg::Sm3];

    /// The canonical lowercase name (also the serde name).
    pub const fn as_str(self) -> &'static str {
        match self {
            DigestAlg::Blake3 => "blake3",
            DigestAlg::Sha256 => "sha256",
            DigestAlg::Sm3 => "sm3",
            DigestAlg::Md5 => "md5",
            DigestAlg::Sha1 => "sha1",
        }
    }

    /// Digest length in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            DigestAlg::Blake3 | DigestAlg::Sha256 | DigestAlg::Sm3 => 32,
            DigestAlg::Md5 => 16,
            DigestAlg::Sha1 => 20,
        }
    }

    /// MD5 and SHA-1 have practical collisions: a match is shown as weak and is
    /// never the only basis of a `valid` verdict.
    pub const fn is_weak(self) -> bool {
        matches!(self, DigestAlg::Md5 | DigestAlg::Sha1)
    }
}

impl fmt::Display for DigestAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DigestAlg {
    type Err = DigestParseError;

    /// Case-insensitive; accepts the canonical names and `sha-256`, `sha-1`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let alg = match s.to_ascii_lowercase().as_str() {
            "blake3" => DigestAlg::Blake3,
            "sha256" | "sha-256" => DigestAlg::Sha256,
            "sm3" => DigestAlg::Sm3,
            "md5" => DigestAlg::Md5,
            "sha1" | "sha-1" => DigestAlg::Sha1,
            _ => return Err(DigestParseError::UnknownAlg(s.to_owned())),
        };
        Ok(alg)
    }
}

/// Why a digest (or an algorithm name) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestParseError {
    #[error("digest `{0}` is not written ALG:HEX")]
    MissingSeparator(String),
    #[error("unknown digest algorithm `{0}` (known: blake3, sha256, sm3, md5, sha1)")]
    UnknownAlg(String),
    #[error("digest value is not hex: {0}")]
    BadHex(String),
    #[error("a {alg} digest has {expected} bytes, this one has {got}")]
    WrongLength { alg: DigestAlg, expected: usize, got: usize },
}

/// One digest, naming its algorithm. Text form `alg:hex` (lowercase).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
pub struct Digest {
    pub alg: DigestAlg,
    #[serde(with = "hex::serde")]
    pub value: Vec<u8>,
}

impl Digest {
    /// A digest whose length is checked against its algorithm.
    pub fn new(alg: DigestAlg, value: Vec<u8>) -> Result<Self, DigestParseError> {
        if value.len() != alg.output_len() {
            return Err(DigestParseError::WrongLength { alg, expected: alg.output_len(), got: value.len() });
        }
        Ok(Digest { alg, value })
    }

    /// Parses `ALG:HEX` (algorithm case-insensitive, as [`DigestAlg::from_str`];
    /// hex in either case; length checked against the algorithm).
    pub fn parse(s: &str) -> Result<Self, DigestParseError> {
        let (alg, hex_value) = s.split_once(':').ok_or_else(|| DigestParseError::MissingSeparator(s.to_owned()))?;
        let alg: DigestAlg = alg.parse()?;
        let value = hex::decode(hex_value).map_err(|e| DigestParseError::BadHex(e.to_string()))?;
        Digest::new(alg, value)
    }

    /// The value as lowercase hex.
    pub fn hex(&self) -> String {
        hex::encode(&self.value)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.alg, self.hex())
    }
}

impl FromStr for Digest {
    type Err = DigestParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

/// What one pass of [`hash_reader`] computes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDigests {
    /// Bytes read (and hashed).
    pub size: u64,
    pub blake3: [u8; 32],
    pub sha256: [u8; 32],
    pub sm3: [u8; 32],
}

impl FileDigests {
    /// The three digests, in the order blake3, sha256, sm3.
    pub fn digests(&self) -> Vec<Digest> {
        DigestAlg::COMPUTED
            .iter()
            .map(|&alg| Digest { alg, value: self.get(alg).expect("computed algorithm").to_vec() })
            .collect()
    }

    /// The computed value for `alg`, or `None` for an algorithm not computed here.
    pub fn get(&self, alg: DigestAlg) -> Option<&[u8; 32]> {
        match alg {
            DigestAlg::Blake3 => Some(&self.blake3),
            DigestAlg::Sha256 => Some(&self.sha256),
            DigestAlg::Sm3 => Some(&self.sm3),
            DigestAlg::Md5 | DigestAlg::Sha1 => None,
        }
    }

    /// Whether `d` equals the digest computed for its algorithm; `None` when
    /// that algorithm is not one of the three computed here (use [`hash_with`]).
    pub fn matches(&self, d: &Digest) -> Option<bool> {
        self.get(d.alg).map(|v| v.as_slice() == d.value.as_slice())
    }
}

/// Hashes `reader` to its end with BLAKE3, SHA-256 and SM3 in one read pass and
/// constant memory (at most `POOL` 1 MiB buffers, whatever the input's size).
/// Inputs of 1 MiB or more are hashed by three threads, one per algorithm, the
/// reader running ahead by at most the pool. `progress` is called on the
/// calling thread with the number of bytes read so far, at most once per
/// 4 MiB, and once at the end with the total.
pub fn hash_reader<R: Read>(mut reader: R, progress: &dyn Fn(u64)) -> io::Result<FileDigests> {
    // The first buffer decides the path; it grows only as far as the input
    // does, so small files cost a small allocation.
    let mut first = Vec::new();
    (&mut reader).take(CHUNK as u64).read_to_end(&mut first)?;
    if first.len() < CHUNK {
        // read_to_end stopped short of the limit: this is the whole input.
        let mut three = Three::new();
        three.update(&first);
        let out = three.finish(first.len() as u64);
        progress(out.size);
        return Ok(out);
    }
    hash_threaded(reader, first, progress)
}

/// Hashes the regular file at `path` (see [`hash_reader`]). Anything that is
/// not a regular file (directory, FIFO, socket, device such as `/dev/zero`) is
/// refused with [`io::ErrorKind::InvalidInput`] before it is opened for reading.
pub fn hash_file(path: &Path, progress: &dyn Fn(u64)) -> io::Result<FileDigests> {
    let not_regular =
        || io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not a regular file", path.display()));
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = File::open(path)?;
    // The path may have been swapped between the check and the open.
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    hash_reader(file, progress)
}

/// Hashes `reader` to its end with one algorithm (any of them, MD5 and SHA-1
/// included): the second pass that checks a prior forensic record's digest.
pub fn hash_with<R: Read>(alg: DigestAlg, mut reader: R) -> io::Result<Vec<u8>> {
    let mut hasher = OneHasher::new(alg);
    let mut buf = vec![0u8; SINGLE_BUF];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(hasher.finish())
}

/// One algorithm over bytes already in memory (the raw hasher, one call).
pub fn hash_bytes(alg: DigestAlg, bytes: &[u8]) -> Vec<u8> {
    match alg {
        DigestAlg::Blake3 => blake3::hash(bytes).as_bytes().to_vec(),
        DigestAlg::Sha256 => sha2::Sha256::digest(bytes).to_vec(),
        DigestAlg::Sm3 => sm3::Sm3::digest(bytes).to_vec(),
        DigestAlg::Md5 => md5::Md5::digest(bytes).to_vec(),
        DigestAlg::Sha1 => sha1::Sha1::digest(bytes).to_vec(),
    }
}

/// Whether the bytes `reader` yields match `prior` (a second pass with the
/// prior digest's algorithm). The caller shows a weak algorithm's match as weak.
pub fn check_prior<R: Read>(reader: R, prior: &Digest) -> io::Result<bool> {
    Ok(hash_with(prior.alg, reader)? == prior.value)
}

// ---------------------------------------------------------------------------
// Internals.

/// The three computed hashers on one thread (the small-input path).
struct Three {
    blake3: blake3::Hasher,
    sha256: sha2::Sha256,
    sm3: sm3::Sm3,
}

impl Three {
    fn new() -> Self {
        Three { blake3: blake3::Hasher::new(), sha256: sha2::Sha256::new(), sm3: sm3::Sm3::new() }
    }

    fn update(&mut self, bytes: &[u8]) {
        self.blake3.update(bytes);
        self.sha256.update(bytes);
        self.sm3.update(bytes);
    }

    fn finish(self, size: u64) -> FileDigests {
        FileDigests {
            size,
            blake3: *self.blake3.finalize().as_bytes(),
            sha256: self.sha256.finalize().into(),
            sm3: self.sm3.finalize().into(),
        }
    }
}

/// Any one algorithm, streaming.
enum OneHasher {
    Blake3(Box<blake3::Hasher>),
    Sha256(sha2::Sha256),
    Sm3(sm3::Sm3),
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
}

impl OneHasher {
    fn new(alg: DigestAlg) -> Self {
        match alg {
            DigestAlg::Blake3 => OneHasher::Blake3(Box::default()),
            DigestAlg::Sha256 => OneHasher::Sha256(sha2::Sha256::new()),
            DigestAlg::Sm3 => OneHasher::Sm3(sm3::Sm3::new()),
            DigestAlg::Md5 => OneHasher::Md5(md5::Md5::new()),
            DigestAlg::Sha1 => OneHasher::Sha1(sha1::Sha1::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            OneHasher::Blake3(h) => {
                h.update(bytes);
            }
            OneHasher::Sha256(h) => h.update(bytes),
            OneHasher::Sm3(h) => h.update(bytes),
            OneHasher::Md5(h) => h.update(bytes),
            OneHasher::Sha1(h) => h.update(bytes),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            OneHasher::Blake3(h) => h.finalize().as_bytes().to_vec(),
            OneHasher::Sha256(h) => h.finalize().to_vec(),
            OneHasher::Sm3(h) => h.finalize().to_vec(),
            OneHasher::Md5(h) => h.finalize().to_vec(),
            OneHasher::Sha1(h) => h.finalize().to_vec(),
        }
    }
}

/// A pool buffer (always `CHUNK` long, never re-zeroed) and how much of it
/// holds input.
struct Chunk {
    buf: Vec<u8>,
    len: usize,
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn fill<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// One hasher thread: hash each shared chunk, and return the buffer to the
/// pool when this thread was the last to hold it. Ends when the reader hangs up.
fn run_worker<H>(mut hasher: H, chunks: Receiver<Arc<Chunk>>, free: Sender<Vec<u8>>, update: fn(&mut H, &[u8])) -> H {
    for chunk in chunks {
        update(&mut hasher, &chunk.buf[..chunk.len]);
        if let Some(done) = Arc::into_inner(chunk) {
            // The reader may have stopped (read error); the buffer is then
            // simply dropped.
            let _ = free.send(done.buf);
        }
    }
    hasher
}

fn worker_gone() -> io::Error {
    io::Error::other("a digest thread stopped")
}

fn join<H>(handle: thread::ScopedJoinHandle<'_, H>) -> H {
    match handle.join() {
        Ok(h) => h,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The threaded path. `first` holds the first `CHUNK` bytes of the input.
fn hash_threaded<R: Read>(mut reader: R, mut first: Vec<u8>, progress: &dyn Fn(u64)) -> io::Result<FileDigests> {
    debug_assert_eq!(first.len(), CHUNK);
    first.shrink_to(CHUNK);
    thread::scope(|s| {
        let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
        let (blake3_tx, blake3_rx) = mpsc::sync_channel::<Arc<Chunk>>(POOL);
        let (sha256_tx, sha256_rx) = mpsc::sync_channel::<Arc<Chunk>>(POOL);
        let (sm3_tx, sm3_rx) = mpsc::sync_channel::<Arc<Chunk>>(POOL);

        let free = free_tx.clone();
        let blake3_h = thread::Builder::new().name("digest-blake3".into()).spawn_scoped(s, move || {
            run_worker(blake3::Hasher::new(), blake3_rx, free, |h, b| {
                h.update(b);
            })
        })?;
        let free = free_tx.clone();
        let sha256_h = thread::Builder::new()
            .name("digest-sha256".into())
            .spawn_scoped(s, move || run_worker(sha2::Sha256::new(), sha256_rx, free, |h, b| h.update(b)))?;
        // The reader keeps no sender of its own: if every worker is gone,
        // waiting for a free buffer fails instead of hanging.
        let sm3_h = thread::Builder::new()
            .name("digest-sm3".into())
            .spawn_scoped(s, move || run_worker(sm3::Sm3::new(), sm3_rx, free_tx, |h, b| h.update(b)))?;

        let senders: [&SyncSender<Arc<Chunk>>; 3] = [&blake3_tx, &sha256_tx, &sm3_tx];
        let mut chunk = Chunk { buf: first, len: CHUNK };
        let mut allocated = 1;
        let mut total = 0u64;
        let mut reported = 0u64;
        loop {
            let len = chunk.len;
            total += len as u64;
            // The reader keeps no reference: the last worker to finish
            // with the chunk gets the buffer back for the pool.
            let shared = Arc::new(chunk);
            for tx in &senders[..2] {
                tx.send(Arc::clone(&shared)).map_err(|_| worker_gone())?;
            }
            senders[2].send(shared).map_err(|_| worker_gone())?;
            if total - reported >= PROGRESS_EVERY {
                progress(total);
                reported = total;
            }
            if len < CHUNK {
                break;
            }
            let mut buf = match free_rx.try_recv() {
                Ok(buf) => buf,
                Err(_) if allocated < POOL => {
                    allocated += 1;
                    vec![0u8; CHUNK]
                }
                Err(_) => free_rx.recv().map_err(|_| worker_gone())?,
            };
            let n = fill(&mut reader, &mut buf)?;
            if n == 0 {
                break;
            }
            chunk = Chunk { buf, len: n };
        }
        // Hang up so the workers finish, then collect them.
        drop((blake3_tx, sha256_tx, sm3_tx));
        let blake3 = *join(blake3_h).finalize().as_bytes();
        let sha256 = join(sha256_h).finalize().into();
        let sm3 = join(sm3_h).finalize().into();
        if reported != total {
            progress(total);
        }
        Ok(FileDigests { size: total, blake3, sha256, sm3 })
    })
}

#[cfg(test)]
mod tests;
