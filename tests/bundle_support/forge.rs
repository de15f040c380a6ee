//! Bundles of logs the writer would never accept, signed with the log key as
//! a dishonest operator could: registry entries that the rules refuse when
//! the registry is replayed (`bundle.md` §4 step 7). Each scenario names the
//! codes the Rust verifier must report; tests/page.rs checks the page's
//! JavaScript verifier gives the same outcome.

use ed25519_dalek::SigningKey;
use pil_ledger::core::authority::Role;
use pil_ledger::core::bundle::{is_registry, Bundle, BundleEntry, RegistryChain, RegistryNote, FORMAT};
use pil_ledger::core::digest::{hash_bytes, Digest, DigestAlg};
use pil_ledger::core::hash;
use pil_ledger::core::keys;
use pil_ledger::core::merkle::{Blake3Tree, MemTree};
use pil_ledger::core::note::{Checkpoint, NoteVerifier};
use pil_ledger::core::wire::{Body, Entry, SealState, Statement, FORMAT_V1};

pub const ORIGIN: &str = "forge.example/log";

pub fn key(b: u8) -> SigningKey {
    SigningKey::from_bytes(&[b; 32])
}
pub fn pk(b: u8) -> [u8; 32] {
    key(b).verifying_key().to_bytes()
}
pub fn log_key() -> SigningKey {
    key(99)
}
pub fn vkey() -> NoteVerifier {
    NoteVerifier::new(ORIGIN, log_key().verifying_key()).unwrap()
}

/// One statement of a forged log: signer, body, and what to change.
pub struct St {
    pub by: u8,
    pub body: Body,
    pub case: &'static str,
    /// Nonce byte (default: the seq).
    pub nonce: Option<u8>,
    /// recorded_at_ms (default: 1000 + seq).
    pub at: Option<u64>,
    pub origin: &'static str,
}

pub fn st(by: u8, body: Body) -> St {
    St { by, body, case: "", nonce: None, at: None, origin: ORIGIN }
}

pub fn genesis(officer: u8, holder: &str) -> St {
    st(
        officer,
        Body::Genesis {
            origin: ORIGIN.into(),
            log_key: log_key().verifying_key().to_bytes(),
            officer: pk(officer),
            holder: holder.into(),
            unit: "HQ".into(),
        },
    )
}

pub fn enrol(by: u8, who: [u8; 32], holder: &str, roles: Vec<Role>) -> St {
    st(by, Body::enrol(who, holder, "Unit 1", roles))
}

pub fn enrol_window(by: u8, who: u8, holder: &str, roles: Vec<Role>, from: u64, until: Option<u64>) -> St {
    st(
        by,
        Body::KeyEnrolled {
            key: pk(who),
            holder: holder.into(),
            unit: "Unit 1".into(),
            roles,
            valid_from_ms: from,
            valid_until_ms: until,
        },
    )
}

pub fn revoke(by: u8, who: [u8; 32], reason: &str, compromised_since_ms: Option<u64>) -> St {
    st(by, Body::KeyRevoked { key: who, reason: reason.into(), compromised_since_ms })
}

pub fn case(by: u8, id: &'static str) -> St {
    St { case: id, ..st(by, Body::CaseOpened { title: "t".into(), area: "".into(), unit: "".into() }) }
}

/// A log built from statements, and a bundle of it: `entries` are the
/// seqs in question; the registry list is every key-registry entry.
pub struct Forged {
    pub entries: Vec<Vec<u8>>,
    pub hashes: Vec<[u8; 32]>,
}

/// Entry `seq` of the log being built is endorsed in capacity key-officer.
pub fn endorse_seq(by: u8, f: &Forged, seq: usize) -> St {
    st(by, Body::Endorsed { entry_hash: f.hashes[seq], capacity: "key-officer".into() })
}

impl Forged {
    pub fn new() -> Forged {
        Forged { entries: Vec::new(), hashes: Vec::new() }
    }

    pub fn push(&mut self, s: St) -> &mut Self {
        let seq = self.entries.len() as u64;
        let k = key(s.by);
        let statement = Statement {
            format: FORMAT_V1,
            origin: s.origin.into(),
            author: k.verifying_key().to_bytes(),
            claimed_at_ms: s.at.unwrap_or(1000 + seq),
            nonce: [s.nonce.unwrap_or(seq as u8); 16],
            case_id: s.case.into(),
            body: s.body,
        };
        let bytes = statement.to_bytes();
        let e = Entry {
            format: FORMAT_V1,
            seq,
            prev: self.hashes.last().copied().unwrap_or([0; 32]),
            recorded_at_ms: s.at.unwrap_or(1000 + seq),
            signature: keys::sign_statement(&k, &bytes),
            statement: bytes,
        };
        let eb = e.to_bytes();
        self.hashes.push(hash::entry_hash(&eb));
        self.entries.push(eb);
        self
    }

    pub fn bundle(&self, in_question: &[u64]) -> Bundle {
        let mut tree = MemTree::new(Blake3Tree);
        for h in &self.hashes {
            tree.push(*h);
        }
        let size = self.entries.len() as u64;
        let root = tree.root();
        let item = |seq: u64| BundleEntry {
            seq,
            entry: self.entries[seq as usize].clone(),
            proof: tree.inclusion_proof(seq, size).unwrap(),
        };
        let reg: Vec<u64> = (0..size)
            .filter(|&s| {
                let e = Entry::from_bytes(&self.entries[s as usize]).unwrap();
                is_registry(&Statement::from_bytes(&e.statement).unwrap().body)
            })
            .collect();
        let chain = RegistryChain::over(reg.iter().map(|&s| &self.hashes[s as usize]));
        let log = log_key();
        Bundle {
            format: FORMAT.into(),
            vkey: vkey().to_vkey_string(),
            checkpoint: Checkpoint { origin: ORIGIN.into(), size, root, extensions: vec![] }.sign(&log).unwrap(),
            registry_note: RegistryNote { origin: ORIGIN.into(), size, root, chain }.sign(&log).unwrap(),
            entries: in_question.iter().map(|&s| item(s)).collect(),
            registry: reg.into_iter().map(item).collect(),
            consistency: None,
            files: Vec::new(),
        }
    }
}

/// A forged bundle and the `(code, seq)` the verdict must hold (errors and
/// warnings alike; `None` when no single entry is concerned).
pub struct Scenario {
    pub name: &'static str,
    pub bundle: Bundle,
    pub expect: Vec<(&'static str, Option<u64>)>,
}

/// Officers: 1 "Wang Wu" (genesis), 2 "Zhou Er", 3 "Chen San"; prosecutor
/// 10 "Li Si"; auditor 20 "Audit Qi"; 30.. other people. Entries are
/// recorded at 1000 + seq.
pub fn scenarios() -> Vec<Scenario> {
    use Role::*;
    let mut out = Vec::new();
    let mut add = |name: &'static str, f: &Forged, q: &[u64], expect: Vec<(&'static str, Option<u64>)>| {
        out.push(Scenario { name, bundle: f.bundle(q), expect });
    };
    let base = || {
        let mut f = Forged::new();
        f.push(genesis(1, "Wang Wu")).push(enrol(1, pk(10), "Li Si", vec![Prosecutor]));
        f
    };
    let mut f = base();
    f.push(enrol(1, pk(10), "Li Si again", vec![Prosecutor])).push(case(10, "C1"));
    add("an enrolment of an enrolled key", &f, &[3], vec![("key_already_enrolled", Some(2))]);

    let mut f = base();
    f.push(revoke(1, pk(50), "gone", None)).push(revoke(1, pk(10), "left", None)).push(revoke(
        1,
        pk(10),
        "twice",
        None,
    ));
    f.push(case(10, "C1"));
    add(
        "revocations of an unknown key and twice of one key",
        &f,
        &[5],
        vec![("unknown_key", Some(2)), ("already_revoked", Some(4)), ("author_revoked", Some(5))],
    );

    let mut f = base();
    f.push(enrol(1, pk(30), "W\u{430}ng Liu", vec![Assistant])).push(enrol(1, pk(31), "Li\u{200b}Si", vec![Assistant]));
    f.push(enrol(1, pk(32), "Зhao", vec![Assistant])).push(enrol(1, pk(33), "   ", vec![Assistant]));
    f.push(enrol(1, pk(34), "赵六 Zhao Liu", vec![Assistant])).push(enrol(1, pk(35), "Иван Петров", vec![Assistant]));
    f.push(case(30, "C1"));
    add(
        "names that imitate or hide",
        &f,
        &[8],
        vec![
            ("invalid_name", Some(2)),
            ("invalid_name", Some(3)),
            ("invalid_name", Some(4)),
            ("missing_field", Some(5)),
            ("author_not_enrolled", Some(8)),
        ],
    );

    let mut f = base();
    f.push(enrol(10, pk(30), "Zhao Liu", vec![Assistant])).push(case(30, "C1"));
    add(
        "an enrolment by a prosecutor",
        &f,
        &[3],
        vec![("role_not_allowed", Some(2)), ("author_not_enrolled", Some(3))],
    );

    let mut f = base();
    f.push(enrol(1, pk(2), "Zhou Er", vec![KeyOfficer])).push(revoke(1, pk(2), "leaves", None));
    add(
        "one officer revokes the other under dual control",
        &f,
        &[],
        vec![("solo_officer_appointment", Some(2)), ("dual_control_required", Some(3))],
    );

    let mut f = base();
    f.push(enrol(1, pk(2), "Zhou Er", vec![KeyOfficer])).push(enrol(2, pk(30), "Zhao Liu", vec![Assistant]));
    f.push(revoke(1, pk(2), "key stolen", Some(1003)));
    add(
        "an officer cut off as compromised",
        &f,
        &[3],
        vec![
            ("solo_officer_appointment", Some(2)),
            ("solo_officer_revocation", Some(4)),
            ("signed_after_compromise", Some(3)),
        ],
    );

    let mut f = base();
    f.push(enrol(1, pk(2), "Zhou Er", vec![KeyOfficer])).push(enrol(1, pk(3), "Chen San", vec![KeyOfficer]));
    f.push(enrol(3, pk(30), "Zhao Liu", vec![Assistant]));
    let e3 = endorse_seq(1, &f, 3);
    f.push(e3);
    let e3b = endorse_seq(2, &f, 3);
    f.push(e3b);
    let e3c = endorse_seq(2, &f, 3);
    f.push(e3c).push(enrol(3, pk(31), "Qian Qi", vec![Assistant]));
    add(
        "a pending officer, its enroller's own endorsement, a second one repeated",
        &f,
        &[4],
        vec![
            ("solo_officer_appointment", Some(2)),
            ("author_pending_endorsement", Some(4)),
            ("self_endorsement", Some(5)),
            ("already_endorsed", Some(7)),
        ],
    );

    // "Сох" (Cyrillic) and "Cox" (Latin) are one person by the confusable skeleton.
    let mut f = Forged::new();
    f.push(genesis(1, "Cox")).push(enrol(1, pk(2), "Сох", vec![KeyOfficer]));
    f.push(enrol(1, pk(3), "Chen San", vec![KeyOfficer]));
    let e = endorse_seq(2, &f, 2);
    f.push(e);
    add(
        "a look-alike name endorses for its own person",
        &f,
        &[],
        vec![("solo_officer_appointment", Some(1)), ("self_endorsement", Some(3))],
    );

    let mut f = base();
    f.push(enrol_window(1, 2, "Zhou Er", vec![KeyOfficer], 0, Some(1_000_000))).push(revoke(2, pk(1), "retires", None));
    add(
        "the last officer without an end date revoked",
        &f,
        &[],
        vec![("solo_officer_appointment", Some(2)), ("last_key_officer", Some(3))],
    );

    let mut f = base();
    f.push(enrol(1, log_key().verifying_key().to_bytes(), "Log", vec![Auditor]));
    let mut small = [0u8; 32];
    small[0] = 1; // the identity point: small order
    f.push(enrol(1, small, "Nobody", vec![Auditor]));
    f.push(enrol(1, pk(30), "Zhao Liu", vec![Assistant, Assistant]));
    f.push(enrol_window(1, 31, "Qian Qi", vec![Assistant], 5000, Some(5000)));
    f.push(enrol(1, pk(32), "Sun Ba", vec![])).push(revoke(1, pk(10), " ", None));
    add(
        "bad keys and values",
        &f,
        &[],
        vec![
            ("invalid_key", Some(2)),
            ("invalid_key", Some(3)),
            ("invalid_value", Some(4)),
            ("invalid_value", Some(5)),
            ("missing_field", Some(6)),
            ("missing_field", Some(7)),
        ],
    );

    let mut f = Forged::new();
    let mut g = genesis(1, "Wang Wu");
    g.by = 5;
    f.push(g).push(enrol(1, pk(10), "Li Si", vec![Prosecutor])).push(case(10, "C1"));
    add(
        "a genesis signed by another key than its officer",
        &f,
        &[2],
        vec![("bad_genesis", Some(0)), ("author_not_enrolled", Some(1)), ("author_not_enrolled", Some(2))],
    );

    let mut f = base();
    let mut again = enrol(1, pk(30), "Zhao Liu", vec![Assistant]);
    again.nonce = Some(1);
    f.push(again).push(genesis(1, "Wang Wu"));
    let mut other = enrol(1, pk(31), "Qian Qi", vec![Assistant]);
    other.origin = "other.example/log";
    f.push(other);
    add(
        "a nonce used twice, a second genesis, another origin",
        &f,
        &[],
        vec![("nonce_reused", Some(2)), ("genesis_misplaced", Some(3)), ("wrong_origin", Some(4))],
    );

    let mut f = base();
    f.push(enrol(1, pk(2), "Zhou Er", vec![KeyOfficer])).push(case(10, "C1")).push(revoke(1, pk(10), "left", None));
    let e = endorse_seq(2, &f, 3);
    f.push(e);
    let e = endorse_seq(2, &f, 4);
    f.push(e);
    add(
        "key-officer endorsements of a case and of a revocation",
        &f,
        &[],
        vec![("solo_officer_appointment", Some(2)), ("unknown_entry", Some(5)), ("capacity_mismatch", Some(6))],
    );

    let mut f = base();
    f.push(enrol(1, pk(2), "Zhou Er", vec![KeyOfficer])).push(enrol(1, pk(20), "Audit Qi", vec![Auditor]));
    let e = endorse_seq(2, &f, 3);
    f.push(e).push(revoke(1, pk(2), "stolen", Some(1000))).push(enrol(1, pk(3), "Chen San", vec![KeyOfficer]));
    let e = endorse_seq(20, &f, 6);
    f.push(e).push(enrol(3, pk(30), "Zhao Liu", vec![Assistant]));
    f.push(enrol_window(1, 31, "Qian Qi", vec![Prosecutor], 50_000, None)).push(case(31, "C1"));
    f.push(enrol_window(1, 32, "Sun Ba", vec![Prosecutor], 0, Some(1012))).push(case(32, "C2"));
    add(
        "a vetted auditor activates an officer when one is left; windows",
        &f,
        &[8, 10, 12],
        vec![
            ("solo_officer_appointment", Some(2)),
            ("solo_officer_revocation", Some(5)),
            ("author_not_yet_valid", Some(10)),
            ("author_expired", Some(12)),
        ],
    );
    // Custody: re-hashes that disagree with the registration (a receipt, a
    // check naming one algorithm only), one that agrees on the algorithms it
    // shares, and a handover never received.
    let d = |alg: DigestAlg, data: &[u8]| Digest { alg, value: hash_bytes(alg, data) };
    let all = |data: &[u8]| DigestAlg::COMPUTED.iter().map(|&a| d(a, data)).collect::<Vec<_>>();
    let item = |id: &str, data: &[u8]| Body::EvidenceDerived {
        evidence_id: id.into(),
        parent: "EV-0".into(),
        digests: all(data),
        size: data.len() as u64,
        media_type: "text/plain".into(),
        method: "copy".into(),
    };
    let mut f = base();
    f.push(enrol(1, pk(11), "Qian Qi", vec![Custodian]));
    f.push(st(10, item("EV-1", b"original")));
    let hand = |id: &str, to: u8| Body::CustodyTransferred {
        evidence_id: id.into(),
        to: pk(to),
        purpose: "storage".into(),
        seal: SealState::None,
    };
    f.push(st(10, hand("EV-1", 11)));
    let t = f.hashes[4];
    f.push(st(
        11,
        Body::CustodyReceived {
            evidence_id: "EV-1".into(),
            transfer: t,
            digests: all(b"swapped"),
            seal: SealState::None,
        },
    ));
    f.push(st(
        11,
        Body::IntegrityChecked {
            evidence_id: "EV-1".into(),
            digests: vec![d(DigestAlg::Sm3, b"swapped")],
            note: "".into(),
        },
    ));
    f.push(st(
        11,
        Body::IntegrityChecked {
            evidence_id: "EV-1".into(),
            digests: vec![d(DigestAlg::Sha256, b"original")],
            note: "".into(),
        },
    ));
    f.push(st(11, hand("EV-1", 10)));
    add(
        "re-hashes that differ from the registration, a handover never received",
        &f,
        &[3, 4, 5, 6, 7, 8],
        vec![("custody_rehash_mismatch", Some(5)), ("custody_rehash_mismatch", Some(6)), ("custody_gap", Some(8))],
    );

    out
}
