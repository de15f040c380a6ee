//! Whole-store verification: the core's `LedgerVerifier` replays every
//! entry from its bytes; this module then compares what the store holds
//! besides entries (Merkle nodes, indexes, head, checkpoints) with the
//! rebuild, so nothing stored is trusted.

use pil_ledger_core::note::NoteVerifier;
use pil_ledger_core::state;
use pil_ledger_core::verify::{self, LedgerVerdict, LedgerVerifier, Reason};

use crate::ledger::LedgerError;
use crate::store::Store;

/// Full verification of a store. `trusted`: the verifier key the caller
/// trusts (else the genesis entry's is used, and that is all it proves).
/// `kept`: checkpoint notes the caller saved earlier; the log must extend
/// each of them.
pub fn verify_store(
    store: &dyn Store,
    trusted: Option<&NoteVerifier>,
    kept: &[Vec<u8>],
    progress: &dyn Fn(u64, u64),
) -> Result<LedgerVerdict, LedgerError> {
    let head = store.head()?;
    let size = head.as_ref().map_or(0, |h| h.size);
    let mut v = LedgerVerifier::new();
    let mut extra = Vec::new();
    for r in store.entries(0, u64::MAX) {
        let (seq, bytes) = r?;
        if seq >= size {
            extra.push(Reason::error("entry_beyond_head", Some(seq), "an entry is stored beyond the head's size"));
            continue;
        }
        v.push(seq, &bytes);
        if seq % 1024 == 0 {
            progress(seq, size);
        }
    }
    progress(size, size);
    // Checkpoints: every stored one must match the rebuilt tree; the head's
    // is the latest.
    let mut cps: Vec<(Vec<u8>, bool)> =
        store.checkpoints()?.into_iter().map(|(_, n)| (n.into_bytes(), false)).collect();
    cps.extend(kept.iter().map(|n| (n.clone(), false)));
    if let Some(h) = &head {
        cps.push((h.checkpoint.clone().into_bytes(), true));
    } else {
        extra.push(Reason::error("head_missing", None, "no head record"));
    }
    let mut verdict_extra = extra;
    // Stored Merkle nodes against the rebuilt tree.
    // A node is attributed to the first leaf under it whose stored hash
    // differs from the entry, else to the first leaf it covers.
    let tree = v.tree();
    let mut bad_leaves: Vec<u64> = Vec::new();
    let width = |level: u8| if level < 64 { size >> level } else { 0 };
    let mut node_reason = |level: u8, i: u64, what: &str, bad_leaves: &mut Vec<u64>| {
        let span = 1u64.checked_shl(level as u32).unwrap_or(u64::MAX);
        let (lo, hi) = (i.saturating_mul(span), (i + 1).saturating_mul(span));
        let at = bad_leaves.iter().copied().find(|s| (lo..hi).contains(s)).unwrap_or(lo);
        if level == 0 {
            bad_leaves.push(i);
        }
        if verdict_extra.len() <= verify::MAX_REASONS {
            verdict_extra.push(Reason::error(
                "merkle_node_mismatch",
                Some(at),
                format!("stored Merkle node ({level}, {i}) {what}"),
            ));
        }
    };
    // One ordered scan; nodes come level by level, so leaf mismatches are
    // known before the parents that cover them.
    let mut seen = vec![0u64; 65];
    for r in store.nodes() {
        let (level, i, h) = r?;
        match tree.get(level, i) {
            Some(want) if i < width(level) => {
                seen[level as usize] += 1;
                if h != want {
                    node_reason(level, i, "differs from the entries", &mut bad_leaves);
                }
            }
            _ => node_reason(level, i, "is not derivable from the entries", &mut bad_leaves),
        }
    }
    for level in 0..64u8 {
        if width(level) == 0 {
            break;
        }
        if seen[level as usize] != width(level) {
            for i in 0..width(level) {
                if store.node(level, i)?.is_none() {
                    node_reason(level, i, "is missing", &mut bad_leaves);
                }
            }
        }
    }
    if let Some(h) = &head {
        if h.root != tree.root() || (size > 0 && h.last_hash != tree.get(0, size - 1).unwrap_or_default()) {
            verdict_extra.push(Reason::error(
                "head_mismatch",
                size.checked_sub(1),
                "the head record does not match the entries",
            ));
        }
    }
    // Stored indexes against the rebuild.
    let rebuilt = v.index();
    let stored = store.index_all()?;
    let mut index_reasons = Vec::new();
    let mut note = |ns: u8, key: &[u8], value: Option<&Vec<u8>>, how: &str| {
        if index_reasons.len() < verify::MAX_REASONS {
            let seq = value.and_then(|v| state::index_record_seq(ns, key, v));
            index_reasons.push(Reason::error(
                "index_mismatch",
                seq,
                format!("index record ({}, {}) {how} the log; run reindex", state::ns_name(ns), hex::encode(key)),
            ));
        }
    };
    let mut matched = 0usize;
    for (ns, k, v) in &stored {
        match rebuilt.get_raw(*ns, k) {
            Some(want) if want == v => matched += 1,
            Some(want) => {
                matched += 1;
                note(*ns, k, Some(want), "differs from");
            }
            None => note(*ns, k, None, "is not derivable from"),
        }
    }
    if matched != rebuilt.len() {
        let have: std::collections::HashSet<(u8, &[u8])> =
            stored.iter().map(|(ns, k, _)| (*ns, k.as_slice())).collect();
        for (ns, k, v) in rebuilt.iter() {
            if !have.contains(&(ns, k.as_slice())) {
                note(ns, k, Some(v), "is missing, derived from");
            }
        }
    }
    verdict_extra.extend(index_reasons);
    let mut verdict = v.finish(&cps, trusted);
    let more = verdict_extra.len();
    verdict.reasons.extend(verdict_extra);
    verdict.reasons.sort_by_key(|r| (r.seq.unwrap_or(u64::MAX), r.severity == verify::Severity::Warning));
    if more > 0 {
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
