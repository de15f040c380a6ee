//! The verifier's rebuilt index and its signer log in bounded memory
//! (`schema/storage.md` §7.1): past a budget, sorted runs in private
//! temporary files, found again through Bloom filters and block keys, and
//! merged in key order for the comparison with the store.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use crate::state::{BackendError, IndexRead, IndexWrite, MemIndex, Ns};
use crate::wire::PublicKey;

/// Where the verifier may spill, and how much memory its index may take
/// before it does. `dir: None` keeps everything in memory (no budget).
#[derive(Clone, Debug, Default)]
pub struct SpillConfig {
    pub dir: Option<PathBuf>,
    /// Bytes for the index in memory (memtable and read cache).
    pub budget: usize,
}

impl SpillConfig {
    /// The smallest budget honoured (a smaller one is raised to it).
    pub const MIN_BUDGET: usize = 1 << 16;

    /// The budget honoured: `budget`, at least [`Self::MIN_BUDGET`].
    pub fn budget(&self) -> usize {
        self.budget.max(Self::MIN_BUDGET)
    }
}

/// A run's records are cut into blocks of about this many bytes; memory
/// keeps each block's first key.
const BLOCK: u64 = 8192;
/// Bloom filter: bits per record and probes (about 1% false positives).
const BLOOM_BITS: usize = 10;
const BLOOM_PROBES: u64 = 7;

/// The hash a run's Bloom filter is built and probed with.
fn key_hash(hasher: &std::hash::RandomState, ns: u8, key: &[u8]) -> u64 {
    let mut h = hasher.build_hasher();
    h.write_u8(ns);
    h.write(key);
    h.finish()
}

/// `(ns, key)` against a stored composite key `ns ‖ key`.
fn cmp_composite(stored: &[u8], ns: u8, key: &[u8]) -> Ordering {
    match stored.split_first() {
        Some((n, k)) => n.cmp(&ns).then_with(|| k.cmp(key)),
        None => Ordering::Less,
    }
}

fn composite(ns: u8, key: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(1 + key.len());
    c.push(ns);
    c.extend_from_slice(key);
    c
}

struct Bloom {
    bits: Vec<u64>,
}

impl Bloom {
    fn new(records: usize) -> Self {
        Bloom { bits: vec![0; (records.max(1) * BLOOM_BITS).div_ceil(64)] }
    }
    fn probes(&self, h: u64) -> impl Iterator<Item = usize> {
        let len = self.bits.len() as u64 * 64;
        let step = h.rotate_left(32) | 1;
        (0..BLOOM_PROBES).map(move |i| (h.wrapping_add(i.wrapping_mul(step)) % len) as usize)
    }
    fn insert(&mut self, h: u64) {
        for p in self.probes(h).collect::<Vec<_>>() {
            self.bits[p / 64] |= 1 << (p % 64);
        }
    }
    fn may_contain(&self, h: u64) -> bool {
        self.probes(h).all(|p| self.bits[p / 64] & (1 << (p % 64)) != 0)
    }
}

fn bad_run(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("verify's spill file: {why}"))
}

/// The records of one block: `clen u32 LE ‖ vlen u32 LE ‖ ns ‖ key ‖ value`.
fn parse_block(buf: &[u8]) -> io::Result<Vec<(&[u8], &[u8])>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < buf.len() {
        let len = |i: usize| -> io::Result<usize> {
            let b = buf.get(i..i + 4).ok_or_else(|| bad_run("a record header is cut"))?;
            Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
        };
        let (c, v) = (len(at)?, len(at + 4)?);
        let body = at + 8;
        let end = body.checked_add(c).and_then(|e| e.checked_add(v)).filter(|e| *e <= buf.len());
        let end = end.ok_or_else(|| bad_run("a record runs past its block"))?;
        out.push((&buf[body..body + c], &buf[body + c..end]));
        at = end;
    }
    Ok(out)
}

/// One sorted run in a temporary file.
struct Run {
    file: File,
    /// The first composite key of each block, and where the block starts.
    blocks: Vec<(Box<[u8]>, u64)>,
    end: u64,
    bloom: Bloom,
    records: usize,
}

/// Writes one run, records in ascending key order with no key twice.
struct RunWriter {
    w: BufWriter<File>,
    bloom: Bloom,
    blocks: Vec<(Box<[u8]>, u64)>,
    off: u64,
    records: usize,
}

impl RunWriter {
    /// A run of about `expected` records (the Bloom filter's size).
    fn new(dir: &std::path::Path, expected: usize) -> io::Result<Self> {
        let file = tempfile::tempfile_in(dir)?;
        let w = BufWriter::with_capacity(1 << 20, file);
        Ok(RunWriter { w, bloom: Bloom::new(expected), blocks: Vec::new(), off: 0, records: 0 })
    }

    fn push(&mut self, hasher: &std::hash::RandomState, ns: u8, key: &[u8], value: &[u8]) -> io::Result<()> {
        if self.blocks.last().is_none_or(|(_, start)| self.off - start >= BLOCK) {
            self.blocks.push((composite(ns, key).into_boxed_slice(), self.off));
        }
        self.bloom.insert(key_hash(hasher, ns, key));
        let c = u32::try_from(key.len() + 1).map_err(|_| bad_run("a key over 4 GiB"))?;
        let v = u32::try_from(value.len()).map_err(|_| bad_run("a value over 4 GiB"))?;
        self.w.write_all(&c.to_le_bytes())?;
        self.w.write_all(&v.to_le_bytes())?;
        self.w.write_all(&[ns])?;
        self.w.write_all(key)?;
        self.w.write_all(value)?;
        self.off += 8 + u64::from(c) + u64::from(v);
        self.records += 1;
        Ok(())
    }

    fn finish(self) -> io::Result<Run> {
        let file = self.w.into_inner().map_err(|e| e.into_error())?;
        Ok(Run { file, blocks: self.blocks, end: self.off, bloom: self.bloom, records: self.records })
    }
}

impl Run {
    fn read_block(&self, i: usize) -> io::Result<Vec<u8>> {
        let start = self.blocks[i].1;
        let end = self.blocks.get(i + 1).map_or(self.end, |b| b.1);
        let mut buf = vec![0; usize::try_from(end - start).map_err(|_| bad_run("a block over memory"))?];
        self.file.read_exact_at(&mut buf, start)?;
        Ok(buf)
    }

    fn get(&self, ns: u8, key: &[u8], h: u64) -> io::Result<Option<Vec<u8>>> {
        if !self.bloom.may_contain(h) {
            return Ok(None);
        }
        let n = self.blocks.partition_point(|(first, _)| cmp_composite(first, ns, key) != Ordering::Greater);
        let Some(i) = n.checked_sub(1) else { return Ok(None) };
        let buf = self.read_block(i)?;
        for (c, v) in parse_block(&buf)? {
            match cmp_composite(c, ns, key) {
                Ordering::Less => continue,
                Ordering::Equal => return Ok(Some(v.to_vec())),
                Ordering::Greater => break,
            }
        }
        Ok(None)
    }
}

/// Records read from runs, and their bytes (roughly).
type Hot = (HashMap<Vec<u8>, Vec<u8>>, usize);

/// One record of the merged index: `(ns, key, value)`.
pub type IndexRecord = (u8, Vec<u8>, Vec<u8>);

/// Runs kept at most: one more, and they are all merged into one, so a
/// budget tiny for the log cannot make thousands (each an open file, each
/// probed by every look-up).
const MAX_RUNS: usize = 16;

/// The rebuilt index: a memtable ([`MemIndex`]) and, past the budget, runs
/// (newest last). Reads see the newest record of a key.
pub struct SpillIndex {
    mem: MemIndex,
    cfg: SpillConfig,
    runs: Vec<Run>,
    hasher: std::hash::RandomState,
    /// Records found in runs (hits only), emptied whenever a run is added,
    /// so it never holds a record older than a run's.
    hot: RefCell<Hot>,
    /// The first error reading or writing a spill file after it was made.
    error: RefCell<Option<String>>,
    /// Why the index stayed in memory although a directory was given.
    degraded: Option<String>,
}

impl SpillIndex {
    pub fn new(cfg: SpillConfig) -> Self {
        SpillIndex {
            mem: MemIndex::default(),
            cfg,
            runs: Vec::new(),
            hasher: std::hash::RandomState::new(),
            hot: RefCell::new((HashMap::new(), 0)),
            error: RefCell::new(None),
            degraded: None,
        }
    }

    /// Room for about `entries` entries' records, within the budget.
    pub fn reserve_for(&mut self, entries: usize) {
        let cap = if self.cfg.dir.is_some() { self.cfg.budget() / 512 } else { entries };
        self.mem.reserve_for(entries.min(cap));
    }

    pub fn put_all(&mut self, writes: Vec<IndexWrite>) {
        self.mem.put_all(writes);
        // Half the budget: sorting adds a reference per record, and the
        // cache of records read from runs takes up to an eighth.
        if self.cfg.dir.is_some() && self.mem.heap_bytes() > self.cfg.budget() / 2 {
            self.spill();
        }
    }

    /// The memtable becomes a run (and past [`MAX_RUNS`] the runs become
    /// one); if that cannot be written, everything stays in memory.
    fn spill(&mut self) {
        let Some(dir) = self.cfg.dir.clone() else { return };
        let written = (|| {
            let mut records: Vec<(u8, &[u8], &[u8])> = self.mem.iter().collect();
            records.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
            let mut w = RunWriter::new(&dir, records.len())?;
            for (ns, k, v) in records {
                w.push(&self.hasher, ns, k, v)?;
            }
            w.finish()
        })();
        let written = written.and_then(|run| {
            self.runs.push(run);
            self.mem = MemIndex::default();
            *self.hot.borrow_mut() = (HashMap::new(), 0);
            if self.runs.len() > MAX_RUNS {
                self.compact(&dir)?;
            }
            Ok(())
        });
        if let Err(e) = written {
            self.degraded = Some(format!("could not write a spill file in {}: {e}", dir.display()));
            self.cfg.dir = None;
        }
    }

    /// Merge every run into one. The values are the same, so the cache of
    /// records read from runs stays true.
    fn compact(&mut self, dir: &std::path::Path) -> io::Result<()> {
        let mut w = RunWriter::new(dir, self.runs.iter().map(|r| r.records).sum())?;
        for r in merged(Vec::new(), self.runs.iter().rev()) {
            let (ns, k, v) = r?;
            w.push(&self.hasher, ns, &k, &v)?;
        }
        self.runs = vec![w.finish()?];
        Ok(())
    }

    /// Runs written so far.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    pub fn error(&self) -> Option<String> {
        self.error.borrow().clone()
    }

    pub fn degraded(&self) -> Option<&str> {
        self.degraded.as_deref()
    }

    pub(super) fn fail(&self, e: io::Error) -> BackendError {
        let why = format!("verify's spill file: {e}");
        self.error.borrow_mut().get_or_insert(why.clone());
        BackendError(why)
    }

    /// Every record in key order (`ns`, then key), the newest of each key:
    /// the sorted memtable merged with the runs.
    pub fn sorted(&self) -> Merged<'_> {
        let mut mem: Vec<(u8, &[u8], &[u8])> = self.mem.iter().collect();
        mem.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        merged(mem, self.runs.iter().rev())
    }
}

/// The sorted `mem` and `runs` (newest first) merged.
fn merged<'a>(mem: Vec<(u8, &'a [u8], &'a [u8])>, runs: impl Iterator<Item = &'a Run>) -> Merged<'a> {
    let mut sources = vec![Source::Mem(mem.into_iter())];
    sources.extend(runs.map(|run| Source::Run { run, block: 0, queue: Vec::new().into_iter() }));
    Merged { heads: vec![None; sources.len()], sources, started: false, failed: false }
}

impl IndexRead for SpillIndex {
    fn get(&self, ns: Ns, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        if let Some(v) = self.mem.get_raw(ns as u8, key) {
            return Ok(Some(v.to_vec()));
        }
        if self.runs.is_empty() {
            return Ok(None);
        }
        let c = composite(ns as u8, key);
        if let Some(v) = self.hot.borrow().0.get(&c) {
            return Ok(Some(v.clone()));
        }
        let h = key_hash(&self.hasher, ns as u8, key);
        for run in self.runs.iter().rev() {
            if let Some(v) = run.get(ns as u8, key, h).map_err(|e| self.fail(e))? {
                let mut hot = self.hot.borrow_mut();
                if hot.1 > self.cfg.budget() / 8 {
                    *hot = (HashMap::new(), 0);
                }
                hot.1 += c.len() + v.len() + 64;
                hot.0.insert(c, v.clone());
                return Ok(Some(v));
            }
        }
        Ok(None)
    }
}

type Record = (Vec<u8>, Vec<u8>);

enum Source<'a> {
    Mem(std::vec::IntoIter<(u8, &'a [u8], &'a [u8])>),
    Run { run: &'a Run, block: usize, queue: std::vec::IntoIter<Record> },
}

impl Source<'_> {
    fn next(&mut self) -> io::Result<Option<Record>> {
        match self {
            Source::Mem(it) => Ok(it.next().map(|(ns, k, v)| (composite(ns, k), v.to_vec()))),
            Source::Run { run, block, queue } => loop {
                if let Some(r) = queue.next() {
                    return Ok(Some(r));
                }
                if *block >= run.blocks.len() {
                    return Ok(None);
                }
                let buf = run.read_block(*block)?;
                *block += 1;
                let records: Vec<Record> =
                    parse_block(&buf)?.into_iter().map(|(c, v)| (c.to_vec(), v.to_vec())).collect();
                *queue = records.into_iter();
            },
        }
    }
}

/// [`SpillIndex::sorted`]: `(ns, key, value)` ascending, or the I/O error
/// that stopped it (then nothing more).
pub struct Merged<'a> {
    sources: Vec<Source<'a>>,
    heads: Vec<Option<Record>>,
    started: bool,
    failed: bool,
}

impl Merged<'_> {
    fn advance(&mut self, i: usize) -> io::Result<()> {
        self.heads[i] = self.sources[i].next()?;
        Ok(())
    }
}

impl Iterator for Merged<'_> {
    type Item = io::Result<IndexRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let step = |m: &mut Self| -> io::Result<Option<IndexRecord>> {
            if !m.started {
                m.started = true;
                for i in 0..m.sources.len() {
                    m.advance(i)?;
                }
            }
            // The smallest key; on a tie the newest source (the first) wins.
            let mut best: Option<usize> = None;
            for (i, h) in m.heads.iter().enumerate() {
                if let Some((c, _)) = h {
                    if best.is_none_or(|b| c < &m.heads[b].as_ref().expect("head").0) {
                        best = Some(i);
                    }
                }
            }
            let Some(b) = best else { return Ok(None) };
            let (c, v) = m.heads[b].take().expect("head");
            m.advance(b)?;
            for i in 0..m.heads.len() {
                while m.heads[i].as_ref().is_some_and(|(k, _)| *k == c) {
                    m.advance(i)?; // an older record of the same key
                }
            }
            let (ns, key) = c.split_first().ok_or_else(|| bad_run("an empty key"))?;
            Ok(Some((*ns, key.to_vec(), v)))
        };
        match step(self) {
            Ok(r) => r.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Who signed which entry when, for `signed_after_compromise`: authors are
/// numbered, and each entry is 20 bytes `id u32 ‖ seq u64 ‖ time u64` (LE),
/// in memory up to 4 MiB at a time, then appended to a spill file.
pub struct AuthorLog {
    ids: HashMap<PublicKey, u32>,
    keys: Vec<PublicKey>,
    buf: Vec<u8>,
    file: Option<(File, u64)>,
    dir: Option<PathBuf>,
    error: Option<String>,
}

const AUTHOR_RECORD: usize = 20;
const AUTHOR_BUF: usize = AUTHOR_RECORD << 18;

impl AuthorLog {
    pub fn new(dir: Option<PathBuf>) -> Self {
        AuthorLog { ids: HashMap::new(), keys: Vec::new(), buf: Vec::new(), file: None, dir, error: None }
    }

    pub fn push(&mut self, author: &PublicKey, seq: u64, at_ms: u64) {
        let next = u32::try_from(self.keys.len()).unwrap_or(u32::MAX);
        let id = *self.ids.entry(*author).or_insert_with(|| {
            self.keys.push(*author);
            next
        });
        self.buf.extend_from_slice(&id.to_le_bytes());
        self.buf.extend_from_slice(&seq.to_le_bytes());
        self.buf.extend_from_slice(&at_ms.to_le_bytes());
        if self.buf.len() >= AUTHOR_BUF && self.dir.is_some() {
            self.write_out();
        }
    }

    fn write_out(&mut self) {
        let Some(dir) = self.dir.clone() else { return };
        let res = (|| -> io::Result<()> {
            if self.file.is_none() {
                self.file = Some((tempfile::tempfile_in(&dir)?, 0));
            }
            let (f, len) = self.file.as_mut().expect("just made");
            f.write_all_at(&self.buf, *len)?;
            *len += self.buf.len() as u64;
            Ok(())
        })();
        match res {
            Ok(()) => self.buf.clear(),
            // What was written stays readable; the rest stays in memory.
            Err(e) => {
                self.error.get_or_insert(format!("could not write a spill file in {}: {e}", dir.display()));
                self.dir = None;
            }
        }
    }

    /// Every author that signed an entry.
    pub fn authors(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Why some of the log stayed in memory, if it did.
    pub fn degraded(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Each entry `(author, seq, time)`, in seq order.
    pub fn for_each(&self, mut f: impl FnMut(&PublicKey, u64, u64)) -> io::Result<()> {
        let mut each = |chunk: &[u8]| {
            for r in chunk.chunks_exact(AUTHOR_RECORD) {
                let id = u32::from_le_bytes(r[..4].try_into().expect("4")) as usize;
                let seq = u64::from_le_bytes(r[4..12].try_into().expect("8"));
                let at = u64::from_le_bytes(r[12..20].try_into().expect("8"));
                if let Some(k) = self.keys.get(id) {
                    f(k, seq, at);
                }
            }
        };
        if let Some((file, len)) = &self.file {
            let mut chunk = vec![0u8; AUTHOR_BUF];
            let mut off = 0u64;
            while off < *len {
                let n = (*len - off).min(AUTHOR_BUF as u64) as usize;
                file.read_exact_at(&mut chunk[..n], off)?;
                each(&chunk[..n]);
                off += n as u64;
            }
        }
        each(&self.buf);
        Ok(())
    }
}
