//! `verify-file`: is this file the evidence the ledger says it is?
//! (`schema/evidence.md`, DESIGN §1 "the court's position".)
//!
//! The caller hashes the file and looks up what the ledger holds for it;
//! [`check_file`] then re-checks everything from those bytes alone: the
//! registering entry decodes, hashes to the proven leaf and names the file's
//! digests; its signature verifies (`verify_strict`); the leaf sits in the
//! checkpoint's tree and the checkpoint is the log's; the signer was
//! authorised at that seq; and the item's custody record (second collector,
//! handovers received with matching re-hashes, seal, disposal) is sound.

use serde::Serialize;

use crate::authority::Kind;
use crate::digest::Digest;
use crate::hash;
use crate::keys::{self, SigItem};
use crate::merkle::{self, Blake3Tree};
use crate::note::{Checkpoint, NoteVerifier};
use crate::state::{check_authority, EvidenceRecord, KeyRecord, Refusal};
use crate::verify::{Reason, VerdictKind};
use crate::wire::{Body, Entry, Hash32, Statement};

/// What the ledger holds about a file, gathered by the caller.
pub struct FileEvidence<'a> {
    /// The file's own digests, as just computed.
    pub file: &'a [Digest],
    pub record: &'a EvidenceRecord,
    /// The entry that registered (or derived) the item.
    pub entry: &'a [u8],
    /// The registry record of that entry's author.
    pub author: Option<&'a KeyRecord>,
    /// The checkpoint note the proof is against, and the proof.
    pub checkpoint: &'a str,
    pub proof: &'a [Hash32],
    /// The verifier key of the log the caller trusts.
    pub vkey: &'a NoteVerifier,
}

/// The answer: a verdict with reasons, and what it was decided on.
#[derive(Clone, Debug, Serialize)]
pub struct FileVerdict {
    pub verdict: VerdictKind,
    pub reasons: Vec<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

impl FileVerdict {
    fn new(reasons: Vec<Reason>, evidence_id: Option<String>, seq: Option<u64>) -> Self {
        FileVerdict { verdict: VerdictKind::from_reasons(&reasons), reasons, evidence_id, seq }
    }
}

/// No item has any of the file's digests.
pub fn unknown_file(file: &[Digest]) -> FileVerdict {
    let list = file.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ");
    FileVerdict::new(
        vec![Reason::error("digest_unknown", None, format!("no entry with this digest ({list})"))],
        None,
        None,
    )
}

/// Decide a file against what the ledger holds for it.
pub fn check_file(f: &FileEvidence<'_>) -> FileVerdict {
    let r = f.record;
    let seq = r.registered_seq;
    let mut reasons = Vec::new();
    let entry_ok = check_entry(f, &mut reasons);
    if let Some((entry, st)) = entry_ok {
        check_signer(f, &entry, &st, &mut reasons);
    }
    check_custody(r, &mut reasons);
    reasons.sort_by_key(|x| (x.seq.unwrap_or(u64::MAX), x.severity == crate::verify::Severity::Warning));
    FileVerdict::new(reasons, Some(r.evidence_id.clone()), Some(seq))
}

/// The entry: canonical, the proven leaf, naming the file, validly signed,
/// in the checkpoint's tree. Returns the decoded entry when it decodes.
fn check_entry(f: &FileEvidence<'_>, reasons: &mut Vec<Reason>) -> Option<(Entry, Statement)> {
    let seq = f.record.registered_seq;
    let leaf = hash::entry_hash(f.entry);
    if leaf != f.record.registered_hash {
        reasons.push(Reason::error(
            "entry_hash_mismatch",
            Some(seq),
            "the stored entry does not hash to the registered entry hash",
        ));
    }
    match Checkpoint::open(f.checkpoint.as_bytes(), f.vkey) {
        Err(e) => reasons.push(Reason::error("checkpoint_signature_invalid", None, format!("checkpoint: {e}"))),
        Ok(cp) => {
            if let Err(e) = merkle::verify_inclusion(&Blake3Tree, seq, cp.size, &leaf, f.proof, &cp.root) {
                reasons.push(Reason::error(
                    "inclusion_proof_invalid",
                    Some(seq),
                    format!("the entry is not proven in the checkpoint of size {}: {e}", cp.size),
                ));
            }
        }
    }
    let entry = match Entry::from_bytes(f.entry) {
        Ok(e) if e.seq == seq => e,
        Ok(_) => {
            reasons.push(Reason::error("entry_not_canonical", Some(seq), "the entry names another seq"));
            return None;
        }
        Err(e) => {
            reasons.push(Reason::error("entry_not_canonical", Some(seq), format!("entry bytes: {e}")));
            return None;
        }
    };
    let st = match Statement::from_bytes(&entry.statement) {
        Ok(s) => s,
        Err(e) => {
            reasons.push(Reason::error("statement_not_canonical", Some(seq), format!("statement bytes: {e}")));
            return None;
        }
    };
    let item =
        SigItem { author: st.author, digest: hash::statement_digest(&entry.statement), signature: entry.signature };
    if !keys::verify_one(&item) {
        reasons.push(Reason::error(
            "signature_invalid",
            Some(seq),
            "the registering entry's signature does not verify (verify_strict)",
        ));
    }
    let named: &[Digest] = match &st.body {
        Body::EvidenceRegistered { digests, .. } | Body::EvidenceDerived { digests, .. } => digests,
        _ => &[],
    };
    let agree = f.file.iter().filter_map(|d| named.iter().find(|n| n.alg == d.alg).map(|n| n == d)).collect::<Vec<_>>();
    if agree.is_empty() || agree.contains(&false) {
        reasons.push(Reason::error(
            "entry_hash_mismatch",
            Some(seq),
            "the registering entry does not name this file's digests",
        ));
    }
    Some((entry, st))
}

/// The signer was authorised at the entry's seq, by the registry record.
fn check_signer(f: &FileEvidence<'_>, entry: &Entry, st: &Statement, reasons: &mut Vec<Reason>) {
    let seq = entry.seq;
    let Some(a) = f.author.filter(|a| a.key == st.author && a.enrolled_seq < seq) else {
        reasons.push(Reason::error(
            "author_not_enrolled",
            Some(seq),
            "the signer's key was not enrolled before this entry",
        ));
        return;
    };
    let mut at_seq = a.clone();
    if a.revoked_seq.is_some_and(|r| r > seq) {
        at_seq.revoked_seq = None;
    }
    // A pending officer enrolment is irrelevant to evidence kinds.
    at_seq.pending = false;
    let kind = st.body.kind();
    if let Err(refusal) = check_authority(&at_seq, kind, entry.recorded_at_ms) {
        reasons.push(Reason::error(refusal.code(), Some(seq), signer_sentence(&refusal, a)));
    }
    if kind != Kind::EvidenceRegistered && kind != Kind::EvidenceDerived {
        reasons.push(Reason::error("entry_hash_mismatch", Some(seq), "the entry is not an evidence registration"));
    }
    if let (Some(since), Some(_)) = (a.compromised_since_ms, a.revoked_seq) {
        if entry.recorded_at_ms >= since {
            reasons.push(Reason::warning(
                "signed_after_compromise",
                Some(seq),
                format!("{} ({}) signed this after the time the key was later declared compromised", a.holder, a.unit),
            ));
        }
    }
}

fn signer_sentence(refusal: &Refusal, a: &KeyRecord) -> String {
    format!("signer {} ({}): {refusal}", a.holder, a.unit)
}

/// The item's record: second collector, custody, seal, disposal.
fn check_custody(r: &EvidenceRecord, reasons: &mut Vec<Reason>) {
    if let Some(seq) = r.rehash_mismatch_seq {
        reasons.push(Reason::error(
            "custody_rehash_mismatch",
            Some(seq),
            "a receiver or checker re-hashed the item and got different digests",
        ));
    }
    if r.parent.is_none() && r.second_collector_seq.is_none() {
        reasons.push(Reason::warning(
            "second_collector_missing",
            Some(r.registered_seq),
            "no second collector has endorsed the collection",
        ));
    }
    if let Some((_, _)) = r.pending_transfer {
        reasons.push(Reason::warning("custody_gap", None, "a handover of the item has not been received"));
    }
    if let Some(seq) = r.seal_broken_seq {
        reasons.push(Reason::warning("seal_broken", Some(seq), "the item's seal was found broken"));
    }
    if let Some(seq) = r.disposed_seq {
        reasons.push(Reason::warning("evidence_disposed", Some(seq), "the item has been disposed of"));
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::authority::Role;
    use crate::digest::DigestAlg;
    use crate::merkle::MemTree;
    use crate::wire::FORMAT_V1;

    const ORIGIN: &str = "court.example/log";

    struct World {
        entries: Vec<Vec<u8>>,
        record: EvidenceRecord,
        author: KeyRecord,
        log: SigningKey,
        file: Vec<Digest>,
    }

    /// Three entries; the middle one registers a file with digest [7; 32].
    fn world() -> World {
        let author = SigningKey::from_bytes(&[3; 32]);
        let log = SigningKey::from_bytes(&[4; 32]);
        let file = vec![Digest { alg: DigestAlg::Blake3, value: vec![7; 32] }];
        let body = Body::EvidenceRegistered {
            evidence_id: "E1".into(),
            category: "c".into(),
            digests: file.clone(),
            size: 1,
            media_type: "m".into(),
            physical: false,
            description: "d".into(),
            source: "s".into(),
            method: "m".into(),
            legal_basis: "b".into(),
            collectors: vec!["Li Si".into()],
            witness: "".into(),
            place: "p".into(),
            collected_at_ms: 1,
            collected_tz_offset_min: 480,
            tool: "".into(),
            tool_version: "".into(),
            original_medium: "".into(),
            provenance: "".into(),
            prior_digests: vec![],
        };
        let mut entries = Vec::new();
        let mut prev = [0u8; 32];
        for seq in 0..3u64 {
            let st = Statement {
                format: FORMAT_V1,
                origin: ORIGIN.into(),
                author: author.verifying_key().to_bytes(),
                claimed_at_ms: 1000 + seq,
                nonce: [seq as u8; 16],
                case_id: "C".into(),
                body: body.clone(),
            };
            let bytes = st.to_bytes();
            let signature = keys::sign_statement(&author, &bytes);
            let e = Entry { format: FORMAT_V1, seq, prev, recorded_at_ms: 1000 + seq, statement: bytes, signature };
            let eb = e.to_bytes();
            prev = hash::entry_hash(&eb);
            entries.push(eb);
        }
        let record = EvidenceRecord {
            evidence_id: "E1".into(),
            case_id: "C".into(),
            registered_seq: 1,
            registered_hash: hash::entry_hash(&entries[1]),
            registrant: author.verifying_key().to_bytes(),
            collectors: vec!["Li Si".into(), "Zhao Liu".into()],
            physical: false,
            digests: file.clone(),
            parent: None,
            holder: author.verifying_key().to_bytes(),
            pending_transfer: None,
            transfers: 0,
            seal: None,
            seal_approval: None,
            seal_broken_seq: None,
            second_collector_seq: Some(2),
            rehash_mismatch_seq: None,
            hold: false,
            disposed_seq: None,
            submitted_seq: None,
        };
        let author_rec = KeyRecord {
            key: author.verifying_key().to_bytes(),
            holder: "Li Si".into(),
            unit: "u".into(),
            roles: vec![Role::Prosecutor],
            valid_from_ms: 0,
            valid_until_ms: None,
            enrolled_seq: 0,
            enrolled_hash: [0; 32],
            pending: false,
            vetted: false,
            revoked_seq: None,
            compromised_since_ms: None,
        };
        World { entries, record, author: author_rec, log, file }
    }

    fn decide(w: &World, entry: &[u8], proof_fix: impl Fn(&mut Vec<Hash32>)) -> Vec<String> {
        let mut tree = MemTree::new(Blake3Tree);
        for e in &w.entries {
            tree.push(hash::entry_hash(e));
        }
        let cp = Checkpoint { origin: ORIGIN.into(), size: 3, root: tree.root(), extensions: vec![] };
        let note = cp.sign(&w.log).unwrap();
        let mut proof = tree.inclusion_proof(1, 3).unwrap();
        proof_fix(&mut proof);
        let vkey = NoteVerifier::new(ORIGIN, w.log.verifying_key()).unwrap();
        let v = check_file(&FileEvidence {
            file: &w.file,
            record: &w.record,
            entry,
            author: Some(&w.author),
            checkpoint: &note,
            proof: &proof,
            vkey: &vkey,
        });
        v.reasons.iter().map(|r| r.code.clone()).collect()
    }

    #[test]
    fn an_honest_registration_is_valid() {
        let w = world();
        assert!(decide(&w, &w.entries[1], |_| {}).is_empty());
    }

    #[test]
    fn a_flipped_proof_byte_is_inclusion_proof_invalid() {
        let w = world();
        assert_eq!(decide(&w, &w.entries[1], |p| p[0][0] ^= 1), ["inclusion_proof_invalid"]);
    }

    #[test]
    fn another_entry_in_its_place_is_entry_hash_mismatch() {
        let w = world();
        let codes = decide(&w, &w.entries[2], |_| {});
        assert!(codes.contains(&"entry_hash_mismatch".to_string()), "{codes:?}");
    }

    #[test]
    fn a_flipped_signature_byte_is_signature_invalid() {
        let w = world();
        let mut e = w.entries[1].clone();
        let n = e.len();
        e[n - 1] ^= 1;
        let codes = decide(&w, &e, |_| {});
        assert!(codes.contains(&"signature_invalid".to_string()), "{codes:?}");
    }

    #[test]
    fn a_key_enrolled_later_or_not_yet_valid_is_refused_as_signer() {
        let mut w = world();
        w.author.valid_from_ms = 5000;
        assert_eq!(decide(&w, &w.entries[1], |_| {}), ["author_not_yet_valid"]);
        w.author.valid_from_ms = 0;
        w.author.enrolled_seq = 2;
        assert_eq!(decide(&w, &w.entries[1], |_| {}), ["author_not_enrolled"]);
    }

    #[test]
    fn a_checkpoint_from_another_log_key_is_refused() {
        let mut w = world();
        w.log = SigningKey::from_bytes(&[9; 32]);
        let mut tree = MemTree::new(Blake3Tree);
        for e in &w.entries {
            tree.push(hash::entry_hash(e));
        }
        let note =
            Checkpoint { origin: ORIGIN.into(), size: 3, root: tree.root(), extensions: vec![] }.sign(&w.log).unwrap();
        let trusted = NoteVerifier::new(ORIGIN, SigningKey::from_bytes(&[4; 32]).verifying_key()).unwrap();
        let proof = tree.inclusion_proof(1, 3).unwrap();
        let v = check_file(&FileEvidence {
            file: &w.file,
            record: &w.record,
            entry: &w.entries[1],
            author: Some(&w.author),
            checkpoint: &note,
            proof: &proof,
            vkey: &trusted,
        });
        assert_eq!(v.verdict, VerdictKind::Invalid);
        assert_eq!(v.reasons[0].code, "checkpoint_signature_invalid");
    }

    #[test]
    fn custody_facts_become_warnings_and_a_mismatch_an_error() {
        let mut w = world();
        w.record.second_collector_seq = None;
        w.record.pending_transfer = Some(([1; 32], [2; 32]));
        w.record.seal_broken_seq = Some(2);
        w.record.disposed_seq = Some(2);
        let mut codes = decide(&w, &w.entries[1], |_| {});
        codes.sort();
        assert_eq!(codes, ["custody_gap", "evidence_disposed", "seal_broken", "second_collector_missing"]);
        w.record.rehash_mismatch_seq = Some(2);
        assert!(decide(&w, &w.entries[1], |_| {}).contains(&"custody_rehash_mismatch".to_string()));
    }
}
