//! The per-part checks of the bundle verifier (`schema/bundle.md` §4):
//! the kept checkpoint, each entry, the registry list, authority from the
//! registry replayed through the rules, the chain between bundled entries,
//! and custody.

use std::collections::BTreeMap;

use super::{is_registry, Bundle, BundleEntry, BundleError, EntrySummary, Found, Item, RegistryChain, RegistryNote};
use crate::digest::Digest;
use crate::hash;
use crate::keys::{self, SigItem};
use crate::merkle::{self, Blake3Tree};
use crate::note::{Checkpoint, NoteVerifier};
use crate::state::{self, check_authority, Candidate, MemIndex, Refusal};
use crate::wire::{Body, Entry, Hash32, Statement};

/// The court's kept checkpoint against the bundle's (`bundle.md` §4.10).
pub(super) fn check_kept(
    b: &Bundle,
    cp: &Checkpoint,
    kept: Option<&Checkpoint>,
    f: &mut Found,
) -> Result<(), BundleError> {
    if let Some(c) = &b.consistency {
        if let Err(e) = merkle::verify_consistency(&Blake3Tree, c.old_size, cp.size, &c.old_root, &cp.root, &c.proof) {
            f.error(
                "log_rewritten",
                None,
                format!("the consistency proof from size {} to {} does not verify: {e}", c.old_size, cp.size),
            );
        }
    }
    let Some(k) = kept else { return Ok(()) };
    if k.size > cp.size {
        return Err(BundleError::Kept(format!(
            "it is of size {}, newer than the bundle's checkpoint of size {}; ask for a later bundle",
            k.size, cp.size
        )));
    }
    let old_root = if k.size == cp.size {
        cp.root
    } else {
        match &b.consistency {
            Some(c) if c.old_size == k.size => c.old_root,
            _ => {
                return Err(BundleError::Kept(format!(
                    "the bundle carries no consistency proof from size {} (export it with --since-checkpoint)",
                    k.size
                )))
            }
        }
    };
    if old_root != k.root {
        f.error(
            "log_rewritten",
            None,
            format!("the kept checkpoint of size {} commits to another tree than the bundle's log", k.size),
        );
    }
    Ok(())
}

/// Proof, canonical bytes, seq, statement, origin, signature.
pub(super) fn check_item(e: &BundleEntry, cp: &Checkpoint, vkey: &NoteVerifier, f: &mut Found) -> Item {
    let seq = e.seq;
    let hash = hash::entry_hash(&e.entry);
    if let Err(err) = merkle::verify_inclusion(&Blake3Tree, seq, cp.size, &hash, &e.proof, &cp.root) {
        f.error(
            "inclusion_proof_invalid",
            Some(seq),
            format!("the entry is not proven at seq {seq} in the checkpoint of size {}: {err}", cp.size),
        );
    }
    let none = Item { seq, hash, decoded: None };
    let entry = match Entry::from_bytes(&e.entry) {
        Ok(x) if x.seq == seq => x,
        Ok(x) => {
            f.error("entry_not_canonical", Some(seq), format!("the entry names seq {}, not {seq}", x.seq));
            return none;
        }
        Err(err) => {
            f.error("entry_not_canonical", Some(seq), format!("entry bytes: {err}"));
            return none;
        }
    };
    let st = match Statement::from_bytes(&entry.statement) {
        Ok(s) => s,
        Err(err) => {
            f.error("statement_not_canonical", Some(seq), format!("statement bytes: {err}"));
            return none;
        }
    };
    if st.origin != vkey.name {
        f.error("wrong_origin", Some(seq), format!("the statement names origin {:?}", st.origin));
    }
    let item =
        SigItem { author: st.author, digest: hash::statement_digest(&entry.statement), signature: entry.signature };
    if !keys::verify_one(&item) {
        f.error("signature_invalid", Some(seq), "author signature does not verify (verify_strict)");
    }
    Item { seq, hash, decoded: Some((entry, st)) }
}

/// The registry list is the complete registry: registry kinds only, in log
/// order, chaining to the signed `R` and count; it starts with the genesis
/// of the trusted key.
pub(super) fn check_registry_list(registry: &[Item], note: Option<&RegistryNote>, vkey: &NoteVerifier, f: &mut Found) {
    for w in registry.windows(2) {
        if w[1].seq <= w[0].seq {
            f.error(
                "registry_incomplete",
                Some(w[1].seq),
                format!("the registry list is not in log order ({} after {})", w[1].seq, w[0].seq),
            );
        }
    }
    for it in registry {
        if let Some((_, st)) = &it.decoded {
            if !is_registry(&st.body) {
                let what = st.body.kind().as_str();
                f.error("registry_incomplete", Some(it.seq), format!("a {what} is not a key-registry entry"));
            }
        }
    }
    let chain = RegistryChain::over(registry.iter().map(|i| &i.hash));
    if let Some(n) = note {
        if chain != n.chain {
            f.error(
                "registry_incomplete",
                None,
                format!(
                    "the registry list ({} entries) does not give the registry root the log signed for {} entries: \
                     an entry was left out, added or reordered",
                    chain.count, n.chain.count
                ),
            );
        }
    }
    match registry.first().and_then(|i| i.decoded.as_ref().map(|d| (i.seq, &d.1.body))) {
        Some((0, Body::Genesis { origin, log_key, .. })) => {
            if origin != &vkey.name || log_key != vkey.key.as_bytes() {
                f.error(
                    "log_key_mismatch",
                    Some(0),
                    "the genesis names another log key or origin than the trusted key",
                );
            }
        }
        _ => f.error("registry_incomplete", Some(0), "the registry list does not start with the genesis at seq 0"),
    }
}

/// Replay the registry through the domain rules, deciding each entry in
/// question against the registry as it stood just before its seq.
pub(super) fn decide_authority(
    registry: &[Item],
    entries: &[Item],
    vkey: &NoteVerifier,
    f: &mut Found,
) -> Vec<EntrySummary> {
    // Only key-registry kinds are replayed: anything else in the registry list
    // is already `registry_incomplete` and writes no registry record.
    let mut reg: Vec<&Item> =
        registry.iter().filter(|i| i.decoded.as_ref().is_some_and(|(_, st)| is_registry(&st.body))).collect();
    reg.sort_by_key(|i| i.seq);
    reg.dedup_by_key(|i| i.seq);
    let mut idx = MemIndex::default();
    let mut next = 0;
    let mut apply_until = |idx: &mut MemIndex, f: &mut Found, bound: u64| {
        while next < reg.len() && reg[next].seq < bound {
            let it = reg[next];
            next += 1;
            let (entry, st) = it.decoded.as_ref().expect("filtered");
            let mut st = st.clone();
            st.case_id.clear();
            let cand =
                Candidate { seq: it.seq, recorded_at_ms: entry.recorded_at_ms, entry_hash: it.hash, statement: &st };
            match state::apply(&*idx, &vkey.name, &cand) {
                Ok(out) => {
                    idx.put_all(out.writes);
                    for (code, message) in out.warnings {
                        f.warning(code, Some(it.seq), message);
                    }
                }
                Err(refusal) => f.error(refusal.code(), Some(it.seq), refusal.to_string()),
            }
        }
    };
    let mut sorted: Vec<&Item> = entries.iter().collect();
    sorted.sort_by_key(|i| i.seq);
    let mut out = Vec::new();
    for it in sorted {
        apply_until(&mut idx, f, it.seq);
        let Some((entry, st)) = &it.decoded else { continue };
        let rec = state::key_record(&idx, &st.author).ok().flatten();
        let kind = st.body.kind();
        if !is_registry(&st.body) {
            let refusal = if st.author == *vkey.key.as_bytes() {
                Some(Refusal::AuthorIsLogKey)
            } else {
                match &rec {
                    None => Some(Refusal::AuthorNotEnrolled(hex::encode(st.author))),
                    Some(r) => check_authority(r, kind, entry.recorded_at_ms).err(),
                }
            };
            if let Some(r) = refusal {
                f.error(r.code(), Some(it.seq), r.to_string());
            }
        }
        out.push(EntrySummary {
            seq: it.seq,
            hash: it.hash,
            kind: kind.as_str(),
            author: st.author,
            holder: rec.as_ref().map(|r| r.holder.clone()),
            unit: rec.as_ref().map(|r| r.unit.clone()),
            roles: rec.as_ref().map_or_else(Vec::new, |r| r.roles.iter().map(|x| x.as_str()).collect()),
            recorded_at_ms: entry.recorded_at_ms,
        });
    }
    apply_until(&mut idx, f, u64::MAX);
    for it in entries {
        let Some((entry, st)) = &it.decoded else { continue };
        let Some(r) = state::key_record(&idx, &st.author).ok().flatten() else { continue };
        if let (Some(since), Some(revoked)) = (r.compromised_since_ms, r.revoked_seq) {
            if entry.recorded_at_ms >= since && it.seq < revoked {
                f.warning(
                    "signed_after_compromise",
                    Some(it.seq),
                    format!("signed by {} ({}) after the time it was later declared compromised", r.holder, r.unit),
                );
            }
        }
    }
    out
}

/// Adjacent bundled entries chain by `prev`, and the log's clock never
/// goes back between bundled entries.
pub(super) fn check_chain(registry: &[Item], entries: &[Item], f: &mut Found) {
    let mut all: BTreeMap<u64, (&Hash32, &Entry)> = BTreeMap::new();
    for it in registry.iter().chain(entries) {
        if let Some((e, _)) = &it.decoded {
            all.entry(it.seq).or_insert((&it.hash, e));
        }
    }
    let v: Vec<_> = all.into_iter().collect();
    for w in v.windows(2) {
        let ((s0, (h0, e0)), (s1, (_, e1))) = (w[0], w[1]);
        if s1 == s0 + 1 && e1.prev != *h0 {
            f.error("chain_broken", Some(s1), "prev is not the hash of the entry before it");
        }
        if e1.recorded_at_ms < e0.recorded_at_ms {
            f.error("clock_regressed", Some(s1), format!("recorded before seq {s0}"));
        }
    }
}

/// Custody continuity among the bundled entries, item by item.
pub(super) fn check_custody(entries: &[Item], f: &mut Found) {
    #[derive(Default)]
    struct Track {
        digests: Option<Vec<Digest>>,
        pending: Option<(Hash32, u64)>,
    }
    let mut items: BTreeMap<&str, Track> = BTreeMap::new();
    let mut sorted: Vec<&Item> = entries.iter().collect();
    sorted.sort_by_key(|i| i.seq);
    sorted.dedup_by_key(|i| i.seq);
    let gap = |f: &mut Found, seq: u64, id: &str| {
        f.warning("custody_gap", Some(seq), format!("the handover of {id} has no receipt in the bundle"))
    };
    for it in sorted {
        let Some((_, st)) = &it.decoded else { continue };
        let (id, rehash) = match &st.body {
            Body::EvidenceRegistered { evidence_id, digests, .. }
            | Body::EvidenceDerived { evidence_id, digests, .. } => {
                items.entry(evidence_id).or_default().digests = Some(digests.clone());
                continue;
            }
            Body::CustodyTransferred { evidence_id, .. } => {
                let t = items.entry(evidence_id).or_default();
                if let Some((_, s)) = t.pending.replace((it.hash, it.seq)) {
                    gap(f, s, evidence_id);
                }
                continue;
            }
            Body::CustodyReceived { evidence_id, transfer, digests, .. } => {
                let t = items.entry(evidence_id).or_default();
                match t.pending {
                    Some((h, _)) if h == *transfer => t.pending = None,
                    _ => f.warning(
                        "custody_gap",
                        Some(it.seq),
                        format!("a receipt of {evidence_id} answers a handover that is not in the bundle"),
                    ),
                }
                (evidence_id, digests)
            }
            Body::IntegrityChecked { evidence_id, digests, .. } => (evidence_id, digests),
            _ => continue,
        };
        let t = items.entry(id).or_default();
        if let Some(reg) = &t.digests {
            if !rehash.is_empty() && !crate::state::rehash_matches(reg, rehash) {
                f.error(
                    "custody_rehash_mismatch",
                    Some(it.seq),
                    format!("the re-hash of {id} differs from its registered digests"),
                );
            }
        }
    }
    for (id, t) in items {
        if let Some((_, s)) = t.pending {
            gap(f, s, id);
        }
    }
}
