//! The evidence rules, as scripts: the expected outcome of every step is
//! written by hand from `schema/evidence.md`.

use ed25519_dalek::SigningKey;

use super::tests::{endorse, key, pk, Script};
use super::*;
use crate::digest::{Digest, DigestAlg};
use crate::wire::{Award, CaseStage, SealState};

fn d(alg: DigestAlg, b: u8) -> Digest {
    Digest { alg, value: vec![b; alg.output_len()] }
}

fn file(b: u8) -> Vec<Digest> {
    vec![d(DigestAlg::Blake3, b), d(DigestAlg::Sha256, b), d(DigestAlg::Sm3, b)]
}

fn register(id: &str, digests: Vec<Digest>, collectors: &[&str]) -> Body {
    Body::EvidenceRegistered {
        evidence_id: id.into(),
        category: "electronic-data".into(),
        digests,
        size: 10,
        media_type: "image/jpeg".into(),
        physical: false,
        description: "outfall photo".into(),
        source: "on site".into(),
        method: "photograph".into(),
        legal_basis: "Civil Procedure Law art. 67".into(),
        collectors: collectors.iter().map(|s| s.to_string()).collect(),
        witness: "".into(),
        place: "Chaobai River".into(),
        collected_at_ms: 1,
        collected_tz_offset_min: 480,
        tool: "camera".into(),
        tool_version: "1".into(),
        original_medium: "SD card".into(),
        provenance: "".into(),
        prior_digests: vec![],
    }
}

struct Team {
    s: Script,
    pros: SigningKey,
    asst: SigningKey,
    cust: SigningKey,
    appr: SigningKey,
    liaison: SigningKey,
}

const CASE: &str = "（2026）京04民初7号";

fn team() -> Team {
    let officer = key(1);
    let mut s = Script::new(&officer);
    let (pros, asst, cust, appr, liaison) = (key(2), key(3), key(4), key(5), key(6));
    s.enrol(&officer, &pros, "Li Si", vec![Role::Prosecutor]);
    s.enrol(&officer, &asst, "Zhao Liu", vec![Role::Assistant]);
    s.enrol(&officer, &cust, "Qian Qi", vec![Role::Custodian]);
    s.enrol(&officer, &appr, "Sun Ba", vec![Role::Approver]);
    s.enrol(&officer, &liaison, "Zhou Jiu", vec![Role::CourtLiaison]);
    s.ok(&pros, CASE, Body::CaseOpened { title: "river".into(), area: "ecology".into(), unit: "u".into() });
    Team { s, pros, asst, cust, appr, liaison }
}

fn transfer(id: &str, to: &SigningKey) -> Body {
    Body::CustodyTransferred { evidence_id: id.into(), to: pk(to), purpose: "storage".into(), seal: SealState::Intact }
}

fn receive(id: &str, t: [u8; 32], digests: Vec<Digest>) -> Body {
    Body::CustodyReceived { evidence_id: id.into(), transfer: t, digests, seal: SealState::Intact }
}

fn record(s: &Script, id: &str) -> EvidenceRecord {
    evidence_record(&s.index, id).unwrap().unwrap()
}

#[test]
fn collection_seal_two_handovers_derivation_and_submission() {
    let mut t = team();
    let reg = t.s.ok(&t.pros, CASE, register("E1", file(1), &["Li Si", "Zhao Liu"]));
    t.s.ok(&t.asst, CASE, endorse(reg, "second-collector"));
    let seal = t.s.ok(&t.pros, CASE, Body::Sealed { evidence_id: "E1".into(), seal_id: "S-1".into(), note: "".into() });
    let tr1 = t.s.ok(&t.pros, CASE, transfer("E1", &t.cust));
    t.s.ok(&t.cust, CASE, receive("E1", tr1, file(1)));
    let tr2 = t.s.ok(&t.cust, CASE, transfer("E1", &t.liaison));
    t.s.ok(&t.liaison, CASE, receive("E1", tr2, vec![d(DigestAlg::Sm3, 1)]));
    let r = record(&t.s, "E1");
    assert_eq!((r.holder, r.transfers, r.pending_transfer), (pk(&t.liaison), 2, None));
    assert!(r.second_collector_seq.is_some() && r.seal == Some(seal) && r.rehash_mismatch_seq.is_none());
    t.s.ok(
        &t.liaison,
        CASE,
        Body::SubmittedToCourt { evidence_id: "E1".into(), court: "Beijing No.4".into(), reference: "r".into() },
    );
    t.s.ok(
        &t.asst,
        CASE,
        Body::EvidenceDerived {
            evidence_id: "E1-copy".into(),
            parent: "E1".into(),
            digests: file(2),
            size: 5,
            media_type: "image/png".into(),
            method: "transcode".into(),
        },
    );
    assert_eq!(record(&t.s, "E1-copy").parent.as_deref(), Some("E1"));
    assert_eq!(evidence_by_digest(&t.s.index, &d(DigestAlg::Sha256, 2)).unwrap().as_deref(), Some("E1-copy"));
}

#[test]
fn a_receipt_whose_rehash_differs_is_recorded_and_flagged() {
    let mut t = team();
    t.s.ok(&t.pros, CASE, register("E1", file(1), &["Li Si"]));
    let tr = t.s.ok(&t.pros, CASE, transfer("E1", &t.cust));
    t.s.ok(&t.cust, CASE, receive("E1", tr, vec![d(DigestAlg::Blake3, 9)]));
    assert!(record(&t.s, "E1").rehash_mismatch_seq.is_some());
}

#[test]
fn custody_rules_refuse_the_wrong_person() {
    let mut t = team();
    t.s.ok(&t.pros, CASE, register("E1", file(1), &["Li Si"]));
    // not the current holder
    assert_eq!(t.s.refused(&t.cust, CASE, transfer("E1", &t.liaison)), "not_the_holder");
    let tr = t.s.ok(&t.pros, CASE, transfer("E1", &t.cust));
    assert_eq!(t.s.refused(&t.pros, CASE, transfer("E1", &t.liaison)), "transfer_pending");
    // only the addressee receives
    assert_eq!(t.s.refused(&t.liaison, CASE, receive("E1", tr, file(1))), "not_the_receiver");
    assert_eq!(t.s.refused(&t.cust, CASE, receive("E1", [0; 32], file(1))), "unknown_transfer");
    assert_eq!(t.s.refused(&t.cust, CASE, receive("E1", tr, vec![])), "missing_field");
    // a handover to oneself, or to a key that cannot receive
    t.s.ok(&t.cust, CASE, receive("E1", tr, file(1)));
    assert_eq!(t.s.refused(&t.cust, CASE, transfer("E1", &t.cust)), "invalid_receiver");
    assert_eq!(t.s.refused(&t.cust, CASE, transfer("E1", &t.appr)), "invalid_receiver");
}

#[test]
fn registration_rules() {
    let mut t = team();
    // wrong role
    assert_eq!(t.s.refused(&t.appr, CASE, register("E1", file(1), &["Sun Ba"])), "role_not_allowed");
    // unknown case, no case
    assert_eq!(t.s.refused(&t.pros, "NO-SUCH", register("E1", file(1), &["Li Si"])), "unknown_case");
    assert_eq!(t.s.refused(&t.pros, "", register("E1", file(1), &["Li Si"])), "missing_field");
    // the registrant is the first collector
    assert_eq!(t.s.refused(&t.pros, CASE, register("E1", file(1), &["Zhao Liu", "Li Si"])), "registrant_not_collector");
    assert_eq!(t.s.refused(&t.pros, CASE, register("E1", vec![], &["Li Si"])), "invalid_digest");
    assert_eq!(t.s.refused(&t.pros, CASE, register("E1", vec![d(DigestAlg::Md5, 1)], &["Li Si"])), "invalid_digest");
    let mut short = file(1);
    short[0].value.pop();
    assert_eq!(t.s.refused(&t.pros, CASE, register("E1", short, &["Li Si"])), "invalid_digest");
    assert_eq!(t.s.refused(&t.pros, CASE, register("E 1", file(1), &["Li Si"])), "invalid_value");
    t.s.ok(&t.pros, CASE, register("E1", file(1), &["Li Si", "Zhao Liu"]));
    assert_eq!(t.s.refused(&t.pros, CASE, register("E1", file(3), &["Li Si"])), "evidence_exists");
    assert_eq!(t.s.refused(&t.pros, CASE, register("E2", vec![d(DigestAlg::Sm3, 1)], &["Li Si"])), "digest_exists");
}

#[test]
fn the_second_collector_is_another_person_named_as_collector() {
    let mut t = team();
    let officer = key(1);
    let li_again = key(7);
    t.s.enrol(&officer, &li_again, "li si", vec![Role::Assistant]);
    let reg = t.s.ok(&t.pros, CASE, register("E1", file(1), &["Li Si", "Zhao Liu"]));
    assert_eq!(t.s.refused(&li_again, CASE, endorse(reg, "second-collector")), "self_endorsement");
    assert_eq!(t.s.refused(&t.cust, CASE, endorse(reg, "second-collector")), "not_a_collector");
    assert_eq!(t.s.refused(&t.appr, CASE, endorse(reg, "second-collector")), "role_not_allowed");
    t.s.ok(&t.asst, CASE, endorse(reg, "second-collector"));
}

#[test]
fn unsealing_needs_an_approvers_approval_of_that_seal() {
    let mut t = team();
    t.s.ok(&t.pros, CASE, register("E1", file(1), &["Li Si"]));
    let seal = t.s.ok(&t.pros, CASE, Body::Sealed { evidence_id: "E1".into(), seal_id: "S-1".into(), note: "".into() });
    assert_eq!(
        t.s.refused(&t.pros, CASE, Body::Sealed { evidence_id: "E1".into(), seal_id: "S-2".into(), note: "".into() }),
        "already_sealed"
    );
    let unseal =
        |approval| Body::Unsealed { evidence_id: "E1".into(), approval, condition: SealState::Intact, note: "".into() };
    assert_eq!(t.s.refused(&t.pros, CASE, unseal([0; 32])), "approval_invalid");
    // an endorsement as approver needs the approver role
    assert_eq!(t.s.refused(&t.asst, CASE, endorse(seal, "approver")), "role_not_allowed");
    let ok = t.s.ok(&t.appr, CASE, endorse(seal, "approver"));
    t.s.ok(&t.pros, CASE, unseal(ok));
    assert_eq!(t.s.refused(&t.pros, CASE, unseal(ok)), "not_sealed");
}

#[test]
fn holds_block_disposal_and_nothing_follows_disposal() {
    let mut t = team();
    t.s.ok(&t.pros, CASE, register("E1", file(1), &["Li Si"]));
    let tr = t.s.ok(&t.pros, CASE, transfer("E1", &t.cust));
    t.s.ok(&t.cust, CASE, receive("E1", tr, file(1)));
    t.s.ok(&t.appr, CASE, Body::LegalHold { evidence_id: "E1".into(), reason: "appeal".into() });
    assert_eq!(
        t.s.refused(&t.appr, CASE, Body::LegalHold { evidence_id: "E1".into(), reason: "x".into() }),
        "already_on_hold"
    );
    let dispose = || Body::Disposed { evidence_id: "E1".into(), method: "destroyed".into(), reason: "closed".into() };
    assert_eq!(t.s.refused(&t.cust, CASE, dispose()), "on_legal_hold");
    t.s.ok(&t.pros, CASE, Body::HoldReleased { evidence_id: "E1".into(), reason: "final".into() });
    assert_eq!(
        t.s.refused(&t.pros, CASE, Body::HoldReleased { evidence_id: "E1".into(), reason: "x".into() }),
        "not_on_hold"
    );
    t.s.ok(&t.cust, CASE, dispose());
    assert_eq!(
        t.s.refused(&t.pros, CASE, Body::EvidenceAccessed { evidence_id: "E1".into(), purpose: "look".into() }),
        "already_disposed"
    );
}

#[test]
fn case_events_and_closing() {
    let mut t = team();
    let judgment = |awards| Body::CaseEvent {
        stage: CaseStage::Judgment,
        occurred_at_ms: 1,
        reference: "（2026）京04民初7号".into(),
        note: "".into(),
        awards,
    };
    let zero =
        vec![Award { head: "restoration".into(), amount_fen: 0, designated_use: "ecological-restoration".into() }];
    assert_eq!(t.s.refused(&t.pros, CASE, judgment(zero)), "invalid_value");
    let award = vec![Award {
        head: "restoration".into(),
        amount_fen: 1_000_000,
        designated_use: "ecological-restoration".into(),
    }];
    t.s.ok(&t.liaison, CASE, judgment(award));
    assert!(case_record(&t.s.index, CASE).unwrap().unwrap().judgment_seq.is_some());
    let close = || Body::CaseEvent {
        stage: CaseStage::Closed,
        occurred_at_ms: 2,
        reference: "r".into(),
        note: "".into(),
        awards: vec![],
    };
    t.s.ok(&t.pros, CASE, close());
    assert_eq!(t.s.refused(&t.pros, CASE, register("E9", file(9), &["Li Si"])), "case_closed");
    assert_eq!(t.s.refused(&t.pros, CASE, close()), "case_closed");
}

#[test]
fn an_item_is_acted_on_under_its_own_case_only() {
    let mut t = team();
    t.s.ok(&t.pros, CASE, register("E1", file(1), &["Li Si"]));
    t.s.ok(&t.pros, "OTHER", Body::CaseOpened { title: "t".into(), area: "a".into(), unit: "u".into() });
    assert_eq!(
        t.s.refused(&t.pros, "OTHER", Body::EvidenceAccessed { evidence_id: "E1".into(), purpose: "p".into() }),
        "case_mismatch"
    );
    assert_eq!(
        t.s.refused(&t.pros, CASE, Body::EvidenceAccessed { evidence_id: "E404".into(), purpose: "p".into() }),
        "unknown_evidence"
    );
}

#[test]
fn a_body_names_the_ids_its_acceptance_creates() {
    let mut t = team();
    for (case, body) in [
        ("C-NEW", Body::CaseOpened { title: "t".into(), area: "a".into(), unit: "u".into() }),
        (CASE, register("E1", file(1), &["Li Si"])),
    ] {
        let (_, out) = t.s.step(&t.pros, case, body.clone()).unwrap();
        let created: Vec<(&str, String)> = out.created.clone();
        assert_eq!(created, body.created_ids(case));
    }
}
