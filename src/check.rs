//! Whole-store verification: the core's `LedgerVerifier` replays every
//! entry from its bytes; this module then compares what the store holds
//! besides entries (Merkle nodes, indexes, head, checkpoints) with the
//! rebuild, so nothing stored is trusted.
//!
//! The store is read through one ordered raw scan (`Store::raw_scan`), and
//! every key is classified here. A key that has a known prefix but the
//! wrong shape, a record that does not decode, and a key with an unknown
//! prefix are reported as reasons (`store_key_malformed`,
//! `store_record_malformed`, `store_key_unknown`), never as an error and
//! never by a panic: corrupt storage gets a verdict. Only a failure of the
//! storage engine itself is an error (exit 3).

use std::collections::HashMap;

use pil_ledger_core::bundle::RegistryNote;
use pil_ledger_core::note::NoteVerifier;
use pil_ledger_core::state::{self, Ns};
use pil_ledger_core::verify::{self, LedgerVerdict, LedgerVerifier, Reason};

use crate::ledger::LedgerError;
use crate::store::{layout, Head, LedgerConfig, Store, StoreError, STORAGE_FORMAT};

/// Storage reasons, at most [`verify::MAX_REASONS`] listed per code; the
/// rest are counted.
#[derive(Default)]
struct Found {
    reasons: Vec<Reason>,
    per_code: HashMap<String, usize>,
    more: u64,
}

impl Found {
    fn add(&mut self, r: Reason) {
        let n = self.per_code.entry(r.code.clone()).or_default();
        if *n < verify::MAX_REASONS {
            *n += 1;
            self.reasons.push(r);
        } else {
            self.more += 1;
        }
    }
    fn error(&mut self, code: &str, seq: Option<u64>, message: impl Into<String>) {
        self.add(Reason::error(code, seq, message));
    }
}

/// A raw key, shortened for a message.
fn show_key(k: &[u8]) -> String {
    if k.len() > 48 {
        format!("{}… ({} bytes)", hex::encode(&k[..48]), k.len())
    } else {
        format!("{} ({} bytes)", hex::encode(k), k.len())
    }
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    u64::from_be_bytes(a)
}

/// The leaves `[lo, hi)` a node `(level, index)` covers, if representable.
fn node_span(level: u8, index: u64) -> Option<(u64, u64)> {
    let span = 1u64.checked_shl(u32::from(level))?;
    let lo = index.checked_mul(span)?;
    Some((lo, lo.saturating_add(span)))
}

/// Compares stored Merkle nodes with the rebuilt tree.
struct NodeCheck {
    /// Entries rebuilt: the tree's size (never the head's claim, which may
    /// be forged).
    size: u64,
    /// Derivable nodes seen per level.
    seen: [u64; 64],
    /// Leaves whose stored leaf node mismatched (nodes arrive level by
    /// level, so these are known before the parents above them).
    bad_leaves: Vec<u64>,
}

impl NodeCheck {
    fn width(&self, level: u8) -> u64 {
        if level < 64 {
            self.size >> level
        } else {
            0
        }
    }
    /// Compare one stored node with the rebuilt tree.
    fn compare(&mut self, found: &mut Found, tree: &verify::SpillTree, level: u8, index: u64, h: [u8; 32]) {
        match tree.get(level, index) {
            Some(want) if index < self.width(level) => {
                self.seen[level as usize] += 1;
                if h != want {
                    self.mismatch(found, level, index, "differs from the entries");
                }
            }
            _ => self.mismatch(found, level, index, "is not derivable from the entries"),
        }
    }

    /// `merkle_node_mismatch`, attributed to the first mismatching leaf
    /// under the node, else its first leaf.
    fn mismatch(&mut self, found: &mut Found, level: u8, index: u64, what: &str) {
        let seq = node_span(level, index)
            .map(|(lo, hi)| self.bad_leaves.iter().copied().find(|s| (lo..hi).contains(s)).unwrap_or(lo));
        if level == 0 {
            self.bad_leaves.push(index);
        }
        found.error("merkle_node_mismatch", seq, format!("stored Merkle node ({level}, {index}) {what}"));
    }
}

/// Replay one stored entry (unless it lies beyond the head).
fn push_entry(found: &mut Found, v: &mut LedgerVerifier, seq: u64, bytes: &[u8], bound: u64, progress: &dyn Fn(u64)) {
    if seq >= bound {
        found.error("entry_beyond_head", Some(seq), "an entry is stored beyond the head's size");
        return;
    }
    v.push(seq, bytes);
    if seq % 1024 == 0 {
        progress(seq);
    }
}

/// Where `verify` spills its rebuild and how much memory it keeps
/// (`schema/storage.md` §7.1): `PIL_SPILL_DIR` (default: the system's
/// temporary directory) and `PIL_VERIFY_MEMORY` in MiB (default 256).
pub(crate) fn spill_config() -> verify::SpillConfig {
    let dir = std::env::var_os("PIL_SPILL_DIR").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let mib = std::env::var("PIL_VERIFY_MEMORY").ok().and_then(|s| s.trim().parse::<usize>().ok()).unwrap_or(256);
    verify::SpillConfig { dir: Some(dir), budget: mib.saturating_mul(1 << 20) }
}

/// An I/O error on a spill file in `dir`: an error (exit 3), never a
/// verdict (also `reindex`'s).
pub(crate) fn spill_io(dir: &Option<std::path::PathBuf>, source: std::io::Error) -> LedgerError {
    LedgerError::IoAt { path: dir.clone().unwrap_or_default(), source }
}

/// `index_mismatch` for one record.
fn index_note(found: &mut Found, ns: u8, key: &[u8], value: Option<&[u8]>, how: &str) {
    let seq = value.and_then(|v| state::index_record_seq(ns, key, v));
    found.error(
        "index_mismatch",
        seq,
        format!("index record ({}, {}) {how} the log; run reindex", state::ns_name(ns), hex::encode(key)),
    );
}

/// The stored `I` records against the rebuilt index, both in key order
/// (`namespace ‖ key`): a merge join, so a record that differs, that is
/// not derivable or that is missing is found in one pass, without look-ups.
struct IndexJoin<'a> {
    rebuilt: std::iter::Peekable<verify::Merged<'a>>,
    dir: Option<std::path::PathBuf>,
    /// The last stored record's `ns ‖ key` (empty before the first): the
    /// join needs them strictly ascending, and checks it.
    last: Vec<u8>,
}

impl IndexJoin<'_> {
    /// The next stored record: rebuilt records before it are missing from
    /// the store; an equal key is compared; else it is not derivable.
    fn stored(&mut self, found: &mut Found, ns: u8, key: &[u8], value: &[u8]) -> Result<(), LedgerError> {
        let last = &mut self.last;
        if !last.is_empty() && (last[0], &last[1..]) >= (ns, key) {
            return Err(StoreError::Corrupt("the store's raw scan is not in key order".into()).into());
        }
        last.clear();
        last.push(ns);
        last.extend_from_slice(key);
        loop {
            let order = match self.rebuilt.peek() {
                None => std::cmp::Ordering::Greater,
                Some(Ok((rns, rk, _))) => (*rns, rk.as_slice()).cmp(&(ns, key)),
                Some(Err(_)) => {
                    let Some(Err(e)) = self.rebuilt.next() else { unreachable!("peeked an error") };
                    return Err(spill_io(&self.dir, e));
                }
            };
            match order {
                std::cmp::Ordering::Less => {
                    let Some(Ok((rns, rk, rv))) = self.rebuilt.next() else { unreachable!("peeked a record") };
                    index_note(found, rns, &rk, Some(&rv), "is missing, derived from");
                }
                std::cmp::Ordering::Equal => {
                    let Some(Ok((_, _, rv))) = self.rebuilt.next() else { unreachable!("peeked a record") };
                    if rv != value {
                        index_note(found, ns, key, Some(&rv), "differs from");
                    }
                    return Ok(());
                }
                std::cmp::Ordering::Greater => {
                    index_note(found, ns, key, None, "is not derivable from");
                    return Ok(());
                }
            }
        }
    }

    /// Rebuilt records after the last stored one: missing.
    fn rest(&mut self, found: &mut Found) -> Result<(), LedgerError> {
        for r in self.rebuilt.by_ref() {
            let (ns, k, v) = r.map_err(|e| spill_io(&self.dir, e))?;
            index_note(found, ns, &k, Some(&v), "is missing, derived from");
        }
        Ok(())
    }
}

/// Full verification of a store. `trusted`: the verifier key the caller
/// trusts (else the genesis entry's is used, and that is all it proves).
/// `kept`: checkpoint notes the caller saved earlier; the log must extend
/// each of them. Never panics on stored data; malformed keys and records
/// are reasons in the verdict.
pub fn verify_store(
    store: &dyn Store,
    trusted: Option<&NoteVerifier>,
    kept: &[Vec<u8>],
    progress: &dyn Fn(u64, u64),
) -> Result<LedgerVerdict, LedgerError> {
    let started = std::time::Instant::now();
    let mut found = Found::default();
    let head: Option<Head> = match store.head() {
        Ok(Some(h)) => Some(h),
        Ok(None) => {
            found.error("head_missing", None, "no head record");
            None
        }
        Err(StoreError::Corrupt(why)) => {
            found.error("store_record_malformed", None, format!("the head record (key H) does not decode: {why}"));
            None
        }
        Err(e) => return Err(e.into()),
    };
    // Reported first, so that the per-code cap never hides it behind the
    // records such a reindex left missing.
    if store.reindex_incomplete()? {
        found.error(
            "index_mismatch",
            None,
            "a reindex was interrupted before it finished (key X): the derived indexes are incomplete; run reindex",
        );
    }
    // Without a usable head every stored entry is checked (none is "beyond").
    let bound = head.as_ref().map_or(u64::MAX, |h| h.size);
    let total = head.as_ref().map_or(0, |h| h.size);
    let spill = spill_config();
    let mut v = LedgerVerifier::with_spill(spill.clone());
    // Room for the head's entries, bounded by what the store can hold (an
    // entry takes well over 100 bytes on disk) and by 16M entries, so a
    // forged head cannot make this allocate without limit (and the
    // reservation is a hint that may fail quietly).
    const MAX_ROOM: u64 = 1 << 24;
    let room = total.min(store.disk_bytes().unwrap_or(0) / 100).min(MAX_ROOM);
    v.reserve(usize::try_from(room).unwrap_or(0));
    // The record kinds of the store's format (1: `E`, `N`; 2: `B`, `T`);
    // the other format's keys are keys of no known kind here.
    let format = store.storage_format().unwrap_or(STORAGE_FORMAT);
    let known = |p: u8| match p {
        b'E' | b'N' => format == 1,
        b'B' | b'T' => format == 2,
        _ => true,
    };
    let progress = |done: u64| progress(done, total);
    let mut cps: Vec<(Vec<u8>, bool)> = Vec::new();
    let mut scan = store.raw_scan().peekable();
    let mut last_prefix: Option<u8> = None;
    let mut in_order = |k: &[u8]| -> Result<(), LedgerError> {
        // Records must come ascending by key: entries (E) are all replayed
        // before index (I) and node (N) records are compared.
        let p = k.first().copied();
        if p < last_prefix {
            return Err(StoreError::Corrupt("the store's raw scan is not in key order".into()).into());
        }
        last_prefix = p;
        Ok(())
    };

    // Phase 1: every key below 'I': checkpoints (C), entries (E), the
    // configuration (G), the head (H), unknown prefixes.
    while let Some(Ok((k, _))) = scan.peek() {
        if k.first().is_some_and(|b| *b >= b'I') {
            break;
        }
        let (k, val) = scan.next().expect("peeked")?;
        in_order(&k)?;
        match k.first() {
            Some(b'E') if k.len() == 9 && format == 1 => {
                let seq = be_u64(&k[1..]);
                push_entry(&mut found, &mut v, seq, &val, bound, &progress);
            }
            Some(b'B') if k.len() == 9 && format == 2 => {
                let first = be_u64(&k[1..]);
                match layout::decode_bundle(&val) {
                    Ok(es) => {
                        for (seq, e) in (first..).zip(es) {
                            push_entry(&mut found, &mut v, seq, e, bound, &progress);
                        }
                    }
                    Err(why) => found.error(
                        "store_record_malformed",
                        Some(first),
                        format!("the entry bundle stored at seq {first} does not decode: {why}"),
                    ),
                }
            }
            Some(b'C') if k.len() == 9 => cps.push((val, false)),
            Some(b'G') if k.len() == 1 => {
                if let Err(e) = pil_ledger_core::wire::decode_canonical::<LedgerConfig>(
                    &val,
                    pil_ledger_core::wire::MAX_ENTRY_BYTES,
                ) {
                    found.error(
                        "store_record_malformed",
                        None,
                        format!("the configuration record (key G) does not decode: {e}"),
                    );
                }
            }
            Some(b'H') if k.len() == 1 => {} // read above
            Some(p @ (b'C' | b'G' | b'H' | b'E' | b'B')) if known(*p) => found.error(
                "store_key_malformed",
                None,
                format!("store key {} has prefix '{}' but not the shape of its records", show_key(&k), *p as char),
            ),
            _ => found.error("store_key_unknown", None, format!("store key {} has no known prefix", show_key(&k))),
        }
    }
    progress(v.entries());

    tracing::debug!(
        entries = v.entries(),
        runs = v.index().runs(),
        ms = started.elapsed().as_millis() as u64,
        "verify: entries replayed"
    );
    // Phase 2: indexes (I), Merkle nodes (N), registry notes (R), the
    // format (V), unknown prefixes; compared with the complete rebuild.
    let tree = v.tree();
    let mut nodes = NodeCheck { size: tree.size(), seen: [0; 64], bad_leaves: Vec::new() };
    let mut join = IndexJoin { rebuilt: v.index().sorted().peekable(), dir: spill.dir.clone(), last: Vec::new() };
    let mut registry_notes: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut stored_lowest: std::collections::HashSet<u64> = std::collections::HashSet::new();
    for r in scan {
        let (k, val) = r?;
        in_order(&k)?;
        match k.first() {
            Some(b'I') if k.len() >= 2 && Ns::from_u8(k[1]).is_some() => {
                join.stored(&mut found, k[1], &k[2..], &val)?
            }
            Some(b'I') => {
                found.error("store_key_malformed", None, format!("index key {} names no known namespace", show_key(&k)))
            }
            Some(b'N') if k.len() == 10 && format == 1 => {
                let (level, index) = (k[1], be_u64(&k[2..]));
                let Ok(h) = <[u8; 32]>::try_from(val.as_slice()) else {
                    let seq = node_span(level, index).map(|(lo, _)| lo);
                    found.error(
                        "store_record_malformed",
                        seq,
                        format!("stored Merkle node ({level}, {index}) is {} bytes, not 32", val.len()),
                    );
                    continue;
                };
                nodes.compare(&mut found, tree, level, index, h);
            }
            Some(b'T') if k.len() == 10 && format == 2 => {
                let (stratum, tile) = (k[1], be_u64(&k[2..]));
                if !layout::tile_in_range(stratum, tile) {
                    found.error(
                        "merkle_node_mismatch",
                        None,
                        format!("the hash tile ({stratum}, {tile}) lies where no tree reaches: not derivable from the entries"),
                    );
                    continue;
                }
                if stratum == 0 {
                    stored_lowest.insert(tile);
                }
                match layout::Tile::decode(&val) {
                    Ok(t) => {
                        for (level, index, h) in t.nodes(stratum, tile) {
                            nodes.compare(&mut found, tree, level, index, h);
                        }
                    }
                    Err(why) => {
                        let level = stratum.saturating_mul(layout::TILE_HEIGHT);
                        let seq =
                            tile.checked_mul(layout::TILE_WIDTH).and_then(|i| node_span(level, i)).map(|(lo, _)| lo);
                        found.error(
                            "store_record_malformed",
                            seq,
                            format!("the hash tile ({stratum}, {tile}) does not decode: {why}"),
                        );
                    }
                }
            }
            Some(b'R') if k.len() == 9 => registry_notes.push((be_u64(&k[1..]), val)),
            Some(b'X') if k.len() == 1 => {} // reported first (below the head)
            Some(b'V') if k.len() == 1 => {
                if val != format.to_le_bytes() {
                    found.error(
                        "store_record_malformed",
                        None,
                        format!("the storage format record (key V) is {}, not {format}", hex::encode(&val)),
                    );
                }
            }
            Some(p @ (b'R' | b'V' | b'N' | b'T' | b'X')) if known(*p) => found.error(
                "store_key_malformed",
                None,
                format!("store key {} has prefix '{}' but not the shape of its records", show_key(&k), *p as char),
            ),
            _ => found.error("store_key_unknown", None, format!("store key {} has no known prefix", show_key(&k))),
        }
    }
    // Nodes the engine derived at open from the stored entries and holds in
    // memory only (format 2: the unfinished lowest tile). A stored tile at
    // that place (never written there) was compared above; comparing the
    // memory copy too would count its nodes twice and could hide as many
    // missing ones.
    let unstored = store.unstored_nodes();
    let unfinished = unstored.first().map(|&(_, index, _)| index / layout::TILE_WIDTH);
    match unfinished {
        Some(tile) if stored_lowest.contains(&tile) => found.error(
            "store_record_malformed",
            Some(tile * layout::TILE_WIDTH),
            format!(
                "a hash tile is stored at (0, {tile}), the unfinished lowest tile, which is only ever held in memory"
            ),
        ),
        _ => {
            for (level, index, h) in unstored {
                nodes.compare(&mut found, tree, level, index, h);
            }
        }
    }
    // Nodes of complete subtrees that were not seen: look each one up (only
    // for a level that came up short; bounded by the entries rebuilt).
    for level in 0..64u8 {
        let width = nodes.width(level);
        if width == 0 {
            break;
        }
        if nodes.seen[level as usize] != width {
            for i in 0..width {
                match store.node(level, i) {
                    Ok(Some(_)) | Err(StoreError::Corrupt(_)) => {} // compared, or reported malformed
                    Ok(None) => nodes.mismatch(&mut found, level, i, "is missing"),
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    // Rebuilt index records beyond the last stored one: missing.
    join.rest(&mut found)?;
    drop(join);
    if let Some(h) = &head {
        let n = tree.size();
        let last = n.checked_sub(1).and_then(|i| tree.get(0, i)).unwrap_or_default();
        if h.size != n || h.root != tree.root() || h.last_hash != last {
            found.error("head_mismatch", h.size.min(n).checked_sub(1), "the head record does not match the entries");
        }
    }
    // Checkpoints: every stored one and every kept one must match the
    // rebuilt tree; the head's is the latest and must cover every entry.
    cps.extend(kept.iter().map(|n| (n.clone(), false)));
    if let Some(h) = &head {
        cps.push((h.checkpoint.clone().into_bytes(), true));
    }
    if let Some(vk) = trusted.cloned().or_else(|| v.genesis_verifier()) {
        // Each note is a signature check: on every core.
        let opened = verify::par_map(&registry_notes, |(_, note)| RegistryNote::open(note, &vk));
        for ((size, _), n) in registry_notes.iter().zip(opened) {
            check_registry_note(&mut found, &v, *size, n);
        }
    }
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "verify: stored records compared");
    let mut verdict = v.finish(&cps, trusted);
    if let Some(why) = v.spill_error() {
        return Err(spill_io(&spill.dir, std::io::Error::other(why)));
    }
    if let Some(why) = v.spill_degraded() {
        tracing::warn!("{why}; the rest of verify's rebuild stayed in memory");
    }
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "verify: signatures and checkpoints done");

    let any = !found.reasons.is_empty();
    verdict.reasons.extend(found.reasons);
    verdict.more_reasons += found.more;
    verdict.reasons.sort_by_key(|r| (r.seq.unwrap_or(u64::MAX), r.severity == verify::Severity::Warning));
    if any {
        let first =
            verdict.reasons.iter().filter(|r| r.severity == verify::Severity::Error).filter_map(|r| r.seq).min();
        verdict.first_bad_seq = match (verdict.first_bad_seq, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    verdict.verdict = verify::VerdictKind::from_reasons(&verdict.reasons);
    Ok(verdict)
}

/// A stored registry note (`bundle.md` §2) must be the log key's, stored
/// under its own size, for the rebuilt tree there, and carry the registry
/// chain rebuilt from the entries below that size. A checkpoint without a
/// registry note (written before registry notes existed) is not flagged.
fn check_registry_note<E: std::fmt::Display>(
    found: &mut Found,
    v: &LedgerVerifier,
    size: u64,
    opened: Result<RegistryNote, E>,
) {
    let n = match opened {
        Ok(n) => n,
        Err(e) => {
            return found.error("registry_note_invalid", None, format!("registry note stored at size {size}: {e}"))
        }
    };
    let tree = v.tree();
    let want = v.registry_at(size);
    let why = if n.size != size {
        format!("stored at size {size} is for size {}", n.size)
    } else if size > tree.size() {
        format!("of size {size} is beyond the {} entries", tree.size())
    } else if tree.root_at(size).ok() != Some(n.root) {
        format!("of size {size} names another root than the entries give")
    } else if want != n.chain {
        format!(
            "of size {size} commits to {} registry entries and a registry root, the log gives {} and another root",
            n.chain.count, want.count
        )
    } else {
        return;
    };
    found.error("registry_note_mismatch", None, format!("the registry note {why}"));
}
