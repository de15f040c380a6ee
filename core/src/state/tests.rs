//! Attacks on the authority rules, each as a script of statements applied in
//! order over a fresh `MemIndex`. The expected outcome of every step is
//! written out by hand from `schema/roles.md`, not computed.

use ed25519_dalek::SigningKey;

use super::*;
use crate::hash;
use crate::wire::{Body, PublicKey, Statement, FORMAT_V1};

const ORIGIN: &str = "test.example/ledger";
const T0: u64 = 1_800_000_000_000;

pub(super) struct Script {
    pub(super) index: MemIndex,
    pub(super) seq: u64,
    pub(super) now: u64,
    pub(super) nonce: u64,
    log: SigningKey,
}

pub(super) fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

pub(super) fn pk(k: &SigningKey) -> PublicKey {
    k.verifying_key().to_bytes()
}

impl Script {
    /// A ledger whose genesis names `officer` ("Zhang San").
    pub(super) fn new(officer: &SigningKey) -> Script {
        let mut s = Script { index: MemIndex::default(), seq: 0, now: T0, nonce: 0, log: key(200) };
        let g = Body::Genesis {
            origin: ORIGIN.into(),
            log_key: pk(&s.log),
            officer: pk(officer),
            holder: "Zhang San".into(),
            unit: "Unit".into(),
        };
        s.ok(officer, "", g);
        s
    }

    /// Apply; on success the writes go into the index. Returns the entry
    /// hash, or the refusal code.
    pub(super) fn step(
        &mut self,
        author: &SigningKey,
        case_id: &str,
        body: Body,
    ) -> Result<([u8; 32], Outcome), &'static str> {
        self.nonce += 1;
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&self.nonce.to_le_bytes());
        let st = Statement {
            format: FORMAT_V1,
            origin: ORIGIN.into(),
            author: pk(author),
            claimed_at_ms: self.now,
            nonce,
            case_id: case_id.into(),
            body,
        };
        let entry_hash = hash::statement_digest(&st.to_bytes());
        let c = Candidate { seq: self.seq, recorded_at_ms: self.now, entry_hash, statement: &st };
        let out = apply(&self.index, ORIGIN, &c).map_err(|r| r.code())?;
        self.index.put_all(out.writes.clone());
        self.seq += 1;
        self.now += 1000;
        Ok((entry_hash, out))
    }

    pub(super) fn ok(&mut self, author: &SigningKey, case_id: &str, body: Body) -> [u8; 32] {
        self.step(author, case_id, body).unwrap_or_else(|c| panic!("refused: {c}")).0
    }

    pub(super) fn refused(&mut self, author: &SigningKey, case_id: &str, body: Body) -> &'static str {
        match self.step(author, case_id, body) {
            Ok(_) => panic!("accepted, expected a refusal"),
            Err(c) => c,
        }
    }

    pub(super) fn enrol(&mut self, officer: &SigningKey, who: &SigningKey, holder: &str, roles: Vec<Role>) -> [u8; 32] {
        self.ok(officer, "", Body::enrol(pk(who), holder, "Unit", roles))
    }
}

fn revoke(k: &SigningKey, compromised: Option<u64>) -> Body {
    Body::KeyRevoked { key: pk(k), reason: "left".into(), compromised_since_ms: compromised }
}

pub(super) fn endorse(h: [u8; 32], capacity: &str) -> Body {
    Body::Endorsed { entry_hash: h, capacity: capacity.into() }
}

#[test]
fn one_officer_cannot_switch_dual_control_off_by_revoking_the_other() {
    let (a, b, c) = (key(1), key(2), key(3));
    let mut s = Script::new(&a);
    // The second officer is appointed by A alone, and flagged for it.
    let (_, out) = s.step(&a, "", Body::enrol(pk(&b), "Li Si", "Unit", vec![Role::KeyOfficer])).unwrap();
    assert_eq!(out.warnings.iter().map(|w| w.0).collect::<Vec<_>>(), ["solo_officer_appointment"]);
    // A alone may not remove B (no compromise claimed)...
    assert_eq!(s.refused(&a, "", revoke(&b, None)), "dual_control_required");
    // ...and may cut off B as compromised, but that does not bring back solo control:
    let (_, out) = s.step(&a, "", revoke(&b, Some(T0))).unwrap();
    assert_eq!(out.warnings.iter().map(|w| w.0).collect::<Vec<_>>(), ["solo_officer_revocation"]);
    let c_enrolment = s.enrol(&a, &c, "Wang Wu", vec![Role::KeyOfficer]);
    assert_eq!(
        s.refused(&c, "", Body::enrol(pk(&key(9)), "Zhao Liu", "Unit", vec![Role::Prosecutor])),
        "author_pending_endorsement"
    );
    // A cannot endorse its own enrolment of C.
    assert_eq!(s.refused(&a, "", endorse(c_enrolment, "key-officer")), "self_endorsement");
    // An auditor that A enrolled alone is not a second person A cannot make up.
    let puppet = key(10);
    s.enrol(&a, &puppet, "Sun Qi", vec![Role::Auditor]);
    assert_eq!(s.refused(&puppet, "", endorse(c_enrolment, "key-officer")), "role_not_allowed");
    assert_eq!(
        s.refused(&c, "", Body::enrol(pk(&key(9)), "Zhao Liu", "Unit", vec![Role::Prosecutor])),
        "author_pending_endorsement"
    );
    assert!(registry::officer_set_warning(&s.index, s.now).unwrap().is_some());
}

#[test]
fn a_vetted_auditor_is_the_second_person_when_one_officer_is_left() {
    let (a, b, c, v) = (key(1), key(2), key(3), key(4));
    let mut s = Script::new(&a);
    s.enrol(&a, &b, "Li Si", vec![Role::KeyOfficer]);
    // Under dual control, B co-signs the auditor's enrolment: vetted.
    let v_enrolment = s.enrol(&a, &v, "Qian Ba", vec![Role::Auditor]);
    s.ok(&b, "", endorse(v_enrolment, "key-officer"));
    s.ok(&a, "", revoke(&b, Some(T0)));
    let c_enrolment = s.enrol(&a, &c, "Wang Wu", vec![Role::KeyOfficer]);
    s.ok(&v, "", endorse(c_enrolment, "key-officer"));
    // C is now an active officer; two are active again.
    s.enrol(&c, &key(9), "Zhao Liu", vec![Role::Prosecutor]);
    assert_eq!(registry::officer_set_warning(&s.index, s.now).unwrap(), None);
    // With two officers active the auditor path is closed again.
    let d_enrolment = s.enrol(&a, &key(5), "Zhou Jiu", vec![Role::KeyOfficer]);
    assert_eq!(s.refused(&v, "", endorse(d_enrolment, "key-officer")), "role_not_allowed");
    s.ok(&c, "", endorse(d_enrolment, "key-officer"));
}

#[test]
fn the_person_being_enrolled_cannot_endorse_their_own_officer_enrolment() {
    let (a, b) = (key(1), key(2));
    let mut s = Script::new(&a);
    s.enrol(&a, &b, "Li Si", vec![Role::KeyOfficer]);
    // Li Si's second key, as a new officer: Li Si may not activate it.
    let second = s.enrol(&a, &key(6), "li  si", vec![Role::KeyOfficer]);
    assert_eq!(s.refused(&b, "", endorse(second, "key-officer")), "self_endorsement");
}

#[test]
fn a_windowed_officer_cannot_revoke_the_last_permanent_one() {
    let (a, t) = (key(1), key(2));
    let mut s = Script::new(&a);
    s.ok(
        &a,
        "",
        Body::KeyEnrolled {
            key: pk(&t),
            holder: "Li Si".into(),
            unit: "Unit".into(),
            roles: vec![Role::KeyOfficer],
            valid_from_ms: 0,
            valid_until_ms: Some(T0 + 1_000_000),
        },
    );
    assert_eq!(s.refused(&t, "", revoke(&a, Some(T0))), "last_key_officer");
    assert_eq!(s.refused(&a, "", revoke(&a, None)), "last_key_officer");
    // A permanent second officer makes A's removal possible (with both).
    let p = key(3);
    let p_enrolment = s.enrol(&a, &p, "Wang Wu", vec![Role::KeyOfficer]);
    s.ok(&t, "", endorse(p_enrolment, "key-officer"));
    s.ok(&t, "", revoke(&a, None));
}

#[test]
fn look_alike_names_are_one_person_for_dual_control() {
    let a = key(1);
    let mut s = Script::new(&a);
    let (p1, p2, p3) = (key(2), key(3), key(4));
    s.enrol(&a, &p1, "Wang Wu", vec![Role::Prosecutor]);
    s.enrol(&a, &p2, "  wang\u{a0}WU ", vec![Role::Assistant]);
    s.enrol(&a, &p3, "Ｗａｎｇ Ｗｕ", vec![Role::Assistant]);
    let opened = s.ok(&p1, "C-1", Body::CaseOpened { title: "t".into(), area: "a".into(), unit: "u".into() });
    assert_eq!(s.refused(&p2, "C-1", endorse(opened, "witness")), "self_endorsement");
    assert_eq!(s.refused(&p3, "C-1", endorse(opened, "witness")), "self_endorsement");
    for bad in ["W\u{430}ng Wu", "Wang Wu\u{200b}", "\u{202e}uW gnaW"] {
        assert_eq!(s.refused(&a, "", Body::enrol(pk(&key(7)), bad, "Unit", vec![Role::Assistant])), "invalid_name");
    }
    let other = key(8);
    s.enrol(&a, &other, "Zhao Liu", vec![Role::Assistant]);
    s.ok(&other, "C-1", endorse(opened, "witness"));
}

#[test]
fn a_revoked_key_plus_a_torsion_point_cannot_come_back() {
    use curve25519_dalek::constants::EIGHT_TORSION;
    let a = key(1);
    let mut s = Script::new(&a);
    let li = key(2);
    s.enrol(&a, &li, "Li Si", vec![Role::Prosecutor]);
    s.ok(&a, "", revoke(&li, None));
    let twin = (li.verifying_key().to_edwards() + EIGHT_TORSION[1]).compress().to_bytes();
    assert_eq!(s.refused(&a, "", Body::enrol(twin, "Li Si", "Unit", vec![Role::Prosecutor])), "invalid_key");
}

#[test]
fn capacities_are_a_closed_list_and_fit_their_target() {
    let a = key(1);
    let mut s = Script::new(&a);
    let (p, q) = (key(2), key(3));
    s.enrol(&a, &p, "Wang Wu", vec![Role::Prosecutor]);
    s.enrol(&a, &q, "Zhao Liu", vec![Role::Prosecutor]);
    let opened = s.ok(&p, "C-1", Body::CaseOpened { title: "t".into(), area: "a".into(), unit: "u".into() });
    assert_eq!(s.refused(&q, "", endorse(opened, "Witness")), "unknown_capacity");
    assert_eq!(s.refused(&q, "", endorse(opened, "")), "missing_field");
    assert_eq!(s.refused(&a, "", endorse(opened, "key-officer")), "capacity_mismatch");
}

#[test]
fn genesis_needs_a_unit_like_every_enrolment() {
    let a = key(1);
    let mut s = Script { index: MemIndex::default(), seq: 0, now: T0, nonce: 0, log: key(200) };
    let g = Body::Genesis {
        origin: ORIGIN.into(),
        log_key: pk(&s.log),
        officer: pk(&a),
        holder: "Zhang San".into(),
        unit: " ".into(),
    };
    assert_eq!(s.refused(&a, "", g), "missing_field");
}

#[test]
fn case_ids_with_invisible_characters_are_refused() {
    let a = key(1);
    let mut s = Script::new(&a);
    let p = key(2);
    s.enrol(&a, &p, "Wang Wu", vec![Role::Prosecutor]);
    s.ok(&p, "C-1", Body::CaseOpened { title: "t".into(), area: "a".into(), unit: "u".into() });
    let code = s.refused(&p, "C-1\u{200b}", Body::CaseOpened { title: "t".into(), area: "a".into(), unit: "u".into() });
    assert_eq!(code, "invalid_name");
}

#[test]
fn genesis_naming_one_key_as_log_key_and_officer_is_bad() {
    let a = key(1);
    let mut s = Script { index: MemIndex::default(), seq: 0, now: T0, nonce: 0, log: key(1) };
    let g = Body::Genesis {
        origin: ORIGIN.into(),
        log_key: pk(&a),
        officer: pk(&a),
        holder: "Zhang San".into(),
        unit: "Unit".into(),
    };
    assert_eq!(s.refused(&a, "", g), "bad_genesis");
}

#[test]
fn a_key_before_its_valid_from_cannot_sign() {
    let a = key(1);
    let mut s = Script::new(&a);
    let p = key(2);
    s.ok(
        &a,
        "",
        Body::KeyEnrolled {
            key: pk(&p),
            holder: "Li Si".into(),
            unit: "Unit".into(),
            roles: vec![Role::Prosecutor],
            valid_from_ms: T0 + 3_600_000,
            valid_until_ms: None,
        },
    );
    let code = s.refused(&p, "C-1", Body::CaseOpened { title: "t".into(), area: "a".into(), unit: "u".into() });
    assert_eq!(code, "author_not_yet_valid");
}

#[test]
fn the_same_author_and_nonce_twice_in_the_log_is_nonce_reused() {
    let a = key(1);
    let mut s = Script::new(&a);
    s.enrol(&a, &key(2), "Li Si", vec![Role::Prosecutor]);
    s.nonce -= 1; // the next statement reuses the last nonce
    assert_eq!(s.refused(&a, "", Body::enrol(pk(&key(3)), "Wang Wu", "Unit", vec![Role::Assistant])), "nonce_reused");
}

#[test]
fn verify_warns_single_key_officer_when_dual_control_is_down_to_one() {
    let (a, b) = (key(1), key(2));
    let mut s = Script::new(&a);
    s.enrol(&a, &b, "Li Si", vec![Role::KeyOfficer]);
    assert_eq!(registry::officer_set_warning(&s.index, s.now).unwrap(), None);
    s.ok(&a, "", revoke(&b, Some(T0)));
    let warning = registry::officer_set_warning(&s.index, s.now).unwrap().expect("down to one");
    assert!(warning.contains("only 1 key officer"), "{warning}");
    // The verifier reports it under this code:
    let code = "single_key_officer";
    assert!(crate::verify::SINGLE_KEY_OFFICER == code);
}
