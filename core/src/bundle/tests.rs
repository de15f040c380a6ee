use ed25519_dalek::SigningKey;

use super::*;
use crate::authority::Role;
use crate::digest::{hash_bytes, Digest, DigestAlg};
use crate::hash;
use crate::keys;
use crate::merkle::{Blake3Tree, MemTree};
use crate::wire::{Body, FORMAT_V1};

const ORIGIN: &str = "court.example/log";

fn key(b: u8) -> SigningKey {
    SigningKey::from_bytes(&[b; 32])
}

/// 0 genesis (officer 1), 1 enrol Li Si (2) as prosecutor, 2 case opened
/// by Li Si, 3 Li Si revoked, 4 a case opened by Li Si after that (a log
/// the writer would never accept: a bundle must show it).
struct Log {
    entries: Vec<Vec<u8>>,
    tree: MemTree<Blake3Tree>,
    log: SigningKey,
}

fn log() -> Log {
    let (officer, pros) = (key(1), key(2));
    let bodies: Vec<(&SigningKey, &str, Body)> = vec![
        (&officer, "", genesis(&officer)),
        (&officer, "", Body::enrol(pros.verifying_key().to_bytes(), "Li Si", "Branch 4", vec![Role::Prosecutor])),
        (&pros, "C1", Body::CaseOpened { title: "river".into(), area: "ecology".into(), unit: "".into() }),
        (
            &officer,
            "",
            Body::KeyRevoked {
                key: pros.verifying_key().to_bytes(),
                reason: "left".into(),
                compromised_since_ms: None,
            },
        ),
        (&pros, "C2", Body::CaseOpened { title: "air".into(), area: "ecology".into(), unit: "".into() }),
    ];
    build(bodies)
}

fn genesis(officer: &SigningKey) -> Body {
    Body::Genesis {
        origin: ORIGIN.into(),
        log_key: key(9).verifying_key().to_bytes(),
        officer: officer.verifying_key().to_bytes(),
        holder: "Wang Wu".into(),
        unit: "HQ".into(),
    }
}

/// A log of these statements, recorded at 1000 + seq, with log key 9.
fn build(bodies: Vec<(&SigningKey, &str, Body)>) -> Log {
    let log = key(9);
    let mut entries = Vec::new();
    let mut tree = MemTree::new(Blake3Tree);
    let mut prev = [0u8; 32];
    for (seq, (k, case, body)) in bodies.into_iter().enumerate() {
        let st = Statement {
            format: FORMAT_V1,
            origin: ORIGIN.into(),
            author: k.verifying_key().to_bytes(),
            claimed_at_ms: 1000 + seq as u64,
            nonce: [seq as u8; 16],
            case_id: case.into(),
            body,
        };
        let bytes = st.to_bytes();
        let signature = keys::sign_statement(k, &bytes);
        let e = Entry {
            format: FORMAT_V1,
            seq: seq as u64,
            prev,
            recorded_at_ms: 1000 + seq as u64,
            statement: bytes,
            signature,
        };
        let eb = e.to_bytes();
        prev = hash::entry_hash(&eb);
        tree.push(prev);
        entries.push(eb);
    }
    Log { entries, tree, log }
}

fn vkey(l: &Log) -> NoteVerifier {
    NoteVerifier::new(ORIGIN, l.log.verifying_key()).unwrap()
}

fn item(l: &Log, seq: u64) -> BundleEntry {
    let size = l.entries.len() as u64;
    BundleEntry { seq, entry: l.entries[seq as usize].clone(), proof: l.tree.inclusion_proof(seq, size).unwrap() }
}

fn bundle(l: &Log, entries: &[u64], registry: &[u64]) -> Bundle {
    let size = l.entries.len() as u64;
    let root = l.tree.root();
    let reg_hashes: Vec<Hash32> = l
        .entries
        .iter()
        .filter(|e| is_registry(&Statement::from_bytes(&Entry::from_bytes(e).unwrap().statement).unwrap().body))
        .map(|e| hash::entry_hash(e))
        .collect();
    let note = RegistryNote { origin: ORIGIN.into(), size, root, chain: RegistryChain::over(&reg_hashes) };
    Bundle {
        format: FORMAT.into(),
        vkey: vkey(l).to_vkey_string(),
        checkpoint: Checkpoint { origin: ORIGIN.into(), size, root, extensions: vec![] }.sign(&l.log).unwrap(),
        registry_note: note.sign(&l.log).unwrap(),
        entries: entries.iter().map(|s| item(l, *s)).collect(),
        registry: registry.iter().map(|s| item(l, *s)).collect(),
        consistency: None,
        files: Vec::new(),
    }
}

fn run(l: &Log, b: &Bundle, kept: Option<&[u8]>) -> Result<BundleVerdict, BundleError> {
    verify_bundle(serde_json::to_string(b).unwrap().as_bytes(), &vkey(l), kept)
}

fn codes(l: &Log, b: &Bundle) -> Vec<String> {
    run(l, b, None).unwrap().reasons.iter().map(|r| r.code.clone()).collect()
}

#[test]
fn an_honest_bundle_is_valid_and_names_the_signer() {
    let l = log();
    let v = run(&l, &bundle(&l, &[2], &[0, 1, 3]), None).unwrap();
    assert_eq!(v.verdict, VerdictKind::Valid, "{:?}", v.reasons);
    assert_eq!(v.registry_count, 3);
    assert_eq!(v.entries[0].holder.as_deref(), Some("Li Si"));
    assert_eq!(v.entries[0].roles, ["prosecutor"]);
}

#[test]
fn an_entry_after_its_authors_revocation_is_author_revoked() {
    let l = log();
    assert_eq!(codes(&l, &bundle(&l, &[4], &[0, 1, 3])), ["author_revoked"]);
}

#[test]
fn a_revocation_left_out_or_the_registry_reordered_is_registry_incomplete() {
    let l = log();
    let c = codes(&l, &bundle(&l, &[4], &[0, 1]));
    assert!(c.contains(&"registry_incomplete".to_string()), "{c:?}");
    let c = codes(&l, &bundle(&l, &[2], &[0, 3, 1]));
    assert!(c.contains(&"registry_incomplete".to_string()), "{c:?}");
    // a non-registry entry smuggled into the registry list
    let c = codes(&l, &bundle(&l, &[2], &[0, 1, 2, 3]));
    assert!(c.contains(&"registry_incomplete".to_string()), "{c:?}");
}

#[test]
fn a_flipped_proof_or_entry_byte_is_caught() {
    let l = log();
    let mut b = bundle(&l, &[2], &[0, 1, 3]);
    b.entries[0].proof[0][0] ^= 1;
    assert_eq!(codes(&l, &b), ["inclusion_proof_invalid"]);
    let mut b = bundle(&l, &[2], &[0, 1, 3]);
    let n = b.entries[0].entry.len();
    b.entries[0].entry[n - 1] ^= 1;
    let c = codes(&l, &b);
    assert!(c.contains(&"inclusion_proof_invalid".to_string()) && c.contains(&"signature_invalid".to_string()));
    let mut b = bundle(&l, &[2], &[0, 1, 3]);
    b.entries[0].seq = 1;
    assert!(codes(&l, &b).contains(&"entry_not_canonical".to_string()));
}

#[test]
fn registry_notes_of_another_size_or_key_are_refused() {
    let l = log();
    let mut b = bundle(&l, &[2], &[0, 1, 3]);
    let other = RegistryNote {
        origin: ORIGIN.into(),
        size: 4,
        root: l.tree.root_at(4).unwrap(),
        chain: RegistryChain::default(),
    };
    b.registry_note = other.sign(&l.log).unwrap();
    assert!(codes(&l, &b).contains(&"registry_note_mismatch".to_string()));
    let mut b = bundle(&l, &[2], &[0, 1, 3]);
    let text = b.registry_note.split("\n\n").next().unwrap().to_string() + "\n";
    b.registry_note = crate::note::sign_note(&text, ORIGIN, &key(8)).unwrap();
    assert_eq!(codes(&l, &b), ["registry_note_invalid"]);
    let mut b = bundle(&l, &[2], &[0, 1, 3]);
    b.vkey = NoteVerifier::new(ORIGIN, key(8).verifying_key()).unwrap().to_vkey_string();
    assert_eq!(codes(&l, &b), ["log_key_mismatch"]);
}

#[test]
fn malformed_bundles_are_input_errors_not_verdicts() {
    let l = log();
    let b = bundle(&l, &[2], &[0, 1, 3]);
    let good = serde_json::to_string(&b).unwrap();
    let h = hex::encode(b.entries[0].proof[0]);
    assert_ne!(h, h.to_uppercase());
    let upper = good.replacen(&h, &h.to_uppercase(), 1);
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    v["extra"] = 1.into();
    let mut w: serde_json::Value = serde_json::from_str(&good).unwrap();
    w["format"] = "pil-ledger-bundle/v2".into();
    for bad in [upper, v.to_string(), w.to_string(), "{".to_string()] {
        assert!(matches!(verify_bundle(bad.as_bytes(), &vkey(&l), None), Err(BundleError::Malformed(_))), "{bad}");
    }
    let huge = vec![b' '; MAX_BUNDLE_BYTES as usize + 1];
    assert_eq!(verify_bundle(&huge, &vkey(&l), None).unwrap_err().code(), "invalid_bundle");
}

#[test]
fn a_kept_checkpoint_is_checked_through_the_consistency_proof() {
    let l = log();
    let kept = Checkpoint { origin: ORIGIN.into(), size: 3, root: l.tree.root_at(3).unwrap(), extensions: vec![] }
        .sign(&l.log)
        .unwrap();
    let mut b = bundle(&l, &[2], &[0, 1, 3]);
    assert!(matches!(run(&l, &b, Some(kept.as_bytes())), Err(BundleError::Kept(_))));
    b.consistency = Some(Consistency {
        old_size: 3,
        old_root: l.tree.root_at(3).unwrap(),
        proof: l.tree.consistency_proof(3, 5).unwrap(),
    });
    assert_eq!(run(&l, &b, Some(kept.as_bytes())).unwrap().verdict, VerdictKind::Valid);
    b.consistency.as_mut().unwrap().old_root[0] ^= 1;
    let v = run(&l, &b, Some(kept.as_bytes())).unwrap();
    assert!(v.reasons.iter().any(|r| r.code == "log_rewritten"), "{:?}", v.reasons);
}

#[test]
fn registry_notes_and_checkpoints_never_parse_as_each_other() {
    let l = log();
    let note =
        RegistryNote { origin: ORIGIN.into(), size: 5, root: l.tree.root(), chain: RegistryChain::over(&[[1; 32]]) };
    assert_eq!(RegistryNote::parse_text(&note.to_text()).unwrap(), note);
    assert!(Checkpoint::parse_text(&note.to_text()).map_or(true, |c| c.origin != ORIGIN));
    let cp = Checkpoint { origin: ORIGIN.into(), size: 5, root: l.tree.root(), extensions: vec![] };
    assert!(RegistryNote::parse_text(&cp.to_text()).is_err());
    let signed = note.sign(&l.log).unwrap();
    assert!(Checkpoint::open(signed.as_bytes(), &vkey(&l)).is_err());
    assert_eq!(RegistryNote::open(signed.as_bytes(), &vkey(&l)).unwrap(), note);
}

#[test]
fn only_key_officer_endorsements_are_registry_entries() {
    let e = |capacity: &str| Body::Endorsed { entry_hash: [0; 32], capacity: capacity.into() };
    assert!(is_registry(&e("key-officer")));
    for c in ["witness", "second-collector", "Key-Officer", "key-officer "] {
        assert!(!is_registry(&e(c)), "{c}");
    }
    let mut a = RegistryChain::default();
    a.push(&[1; 32]);
    a.push(&[2; 32]);
    assert_ne!(a, RegistryChain::over(&[[2; 32], [1; 32]]));
    assert_eq!(a.count, 2);
}

/// 0 genesis, 1 enrol Li Si, 2 case, 3 a file item (its digests: BLAKE3,
/// SHA-256, SM3 of `FILE`), 4 a physical item without digests.
const FILE: &[u8] = b"outfall 3 at dawn";

fn derived(id: &str, digests: Vec<Digest>, size: u64) -> Body {
    Body::EvidenceDerived {
        evidence_id: id.into(),
        parent: "EV-0".into(),
        digests,
        size,
        media_type: "image/jpeg".into(),
        method: "copy".into(),
    }
}

fn file_log() -> Log {
    let (officer, pros) = (key(1), key(2));
    let digests = DigestAlg::COMPUTED.iter().map(|&a| Digest { alg: a, value: hash_bytes(a, FILE) }).collect();
    build(vec![
        (&officer, "", genesis(&officer)),
        (&officer, "", Body::enrol(pros.verifying_key().to_bytes(), "Li Si", "Branch 4", vec![Role::Prosecutor])),
        (&pros, "C1", Body::CaseOpened { title: "river".into(), area: "ecology".into(), unit: "".into() }),
        (&pros, "C1", derived("EV-1", digests, FILE.len() as u64)),
        (&pros, "C1", derived("EV-2", vec![], 0)),
    ])
}

fn file(seq: u64, id: &str, data: &[u8]) -> BundleFile {
    BundleFile { seq, evidence_id: id.into(), data: data.to_vec() }
}

#[test]
fn a_carried_file_is_checked_against_its_registration() {
    let l = file_log();
    let mut b = bundle(&l, &[3, 4], &[0, 1]);
    b.files = vec![file(3, "EV-1", FILE)];
    let v = run(&l, &b, None).unwrap();
    assert_eq!(v.verdict, VerdictKind::Valid, "{:?}", v.reasons);
    assert_eq!((v.files.len(), v.files[0].matches, v.files[0].size), (1, true, FILE.len() as u64));
    // one changed byte, one byte more, one less
    let mut changed = FILE.to_vec();
    changed[5] ^= 1;
    for data in [changed, [FILE, b"x"].concat(), FILE[1..].to_vec()] {
        b.files = vec![file(3, "EV-1", &data)];
        assert_eq!(codes(&l, &b), ["file_digest_mismatch"]);
        assert!(!run(&l, &b, None).unwrap().files[0].matches);
    }
    // another evidence id, a seq that registers nothing, a physical item, an entry not bundled
    for (seq, id) in [(3, "EV-9"), (2, "EV-1"), (4, "EV-2"), (1, "EV-1")] {
        b.files = vec![file(seq, id, FILE)];
        let want = if seq == 4 { "file_digest_mismatch" } else { "file_not_registered" };
        assert_eq!(codes(&l, &b), [want], "{seq} {id}");
    }
    let b = bundle(&l, &[4], &[0, 1]);
    let mut b2 = b.clone();
    b2.files = vec![file(3, "EV-1", FILE)];
    assert_eq!(codes(&l, &b2), ["file_not_registered"]);
}

#[test]
fn a_registration_naming_a_weak_digest_identifies_no_file() {
    let md5 = Digest { alg: DigestAlg::Md5, value: hash_bytes(DigestAlg::Md5, FILE) };
    let blake = Digest { alg: DigestAlg::Blake3, value: hash_bytes(DigestAlg::Blake3, FILE) };
    assert!(file_matches(FILE, FILE.len() as u64, std::slice::from_ref(&blake)).is_ok());
    assert!(file_matches(FILE, FILE.len() as u64, &[blake.clone(), md5.clone()]).is_err());
    assert!(file_matches(FILE, FILE.len() as u64, &[md5]).is_err());
    assert!(file_matches(FILE, FILE.len() as u64, &[]).is_err());
    assert!(file_matches(FILE, FILE.len() as u64 + 1, &[blake]).is_err());
}

#[test]
fn files_out_of_order_over_the_limits_or_not_canonical_base64_are_refused_as_input() {
    let l = file_log();
    let mut b = bundle(&l, &[3], &[0, 1]);
    b.files = vec![file(3, "EV-1", FILE), file(3, "EV-1", FILE)];
    let malformed = |b: &Bundle| matches!(run(&l, b, None), Err(BundleError::Malformed(_)));
    assert!(malformed(&b));
    b.files = vec![file(3, "EV-1", &vec![0; MAX_FILE_BYTES as usize + 1])];
    assert!(malformed(&b));
    b.files = vec![file(3, "EV-1", FILE)];
    let good = serde_json::to_string(&b).unwrap();
    assert_eq!(run(&l, &b, None).unwrap().verdict, VerdictKind::Valid);
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, FILE);
    assert!(b64.ends_with('='), "{b64}");
    // the last data character with a stray low bit set
    let data = b64.trim_end_matches('=');
    let i = data.len() - 1;
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let low = ALPHABET.find(&data[i..]).unwrap() ^ 1;
    let stray = format!("{}{}{}", &data[..i], &ALPHABET[low..low + 1], &b64[data.len()..]);
    for bad in [data.to_string(), format!("{b64}\\n"), format!(" {b64}"), stray] {
        let text = good.replace(&b64, &bad);
        assert_ne!(text, good);
        assert!(matches!(verify_bundle(text.as_bytes(), &vkey(&l), None), Err(BundleError::Malformed(_))), "{bad}");
    }
    // entries out of order, or listed twice
    let b = bundle(&l, &[4, 3], &[0, 1]);
    assert!(malformed(&b));
    let b = bundle(&l, &[3, 3], &[0, 1]);
    assert!(malformed(&b));
}

#[test]
fn the_total_of_the_files_is_bounded() {
    let l = file_log();
    let mut b = bundle(&l, &[3, 4], &[0, 1]);
    let big = vec![0u8; MAX_FILE_BYTES as usize];
    b.files = vec![file(1, "a", &big), file(2, "b", &big), file(3, "c", b"x")];
    assert!(matches!(run(&l, &b, None), Err(BundleError::Malformed(m)) if m.contains("together")));
}
