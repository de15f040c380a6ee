//! Attacks on the authority rules, through the real binary (issue: "core
//! repairs"): an officer acting alone, an officer set locked for good,
//! look-alike names, odd keys. Each refusal leaves the store unchanged.

mod common;

use common::{expect_refused, s, store_dump, Env};

fn enroll_as(e: &Env, signer: &std::path::Path, pk: &str, holder: &str, roles: &str, extra: &[&str]) -> common::Run {
    let mut args = vec![
        "--json",
        "enroll",
        "--key",
        s(signer),
        "--pubkey",
        pk,
        "--holder",
        holder,
        "--unit",
        "Unit 1",
        "--roles",
        roles,
    ];
    args.extend_from_slice(extra);
    e.run(&args)
}

fn refuse(e: &Env, args: &[&str], code: &str) {
    let before = store_dump(&e.data());
    expect_refused(e, args, &[], code);
    assert!(before == store_dump(&e.data()), "{args:?} changed the store");
}

#[test]
fn one_officer_cannot_remove_the_other_and_act_alone_again() {
    let e = Env::new();
    e.init();
    let a = e.officer();
    let (b, b_pk) = e.keygen("b.key");
    enroll_as(&e, &a, &b_pk, "Li Si", "key-officer", &[]).ok();
    // A alone may not remove B...
    refuse(&e, &["revoke", "--key", s(&a), "--pubkey", &b_pk, "--reason", "left"], "dual_control_required");
    // ...may cut B off as compromised...
    e.run(&["revoke", "--key", s(&a), "--pubkey", &b_pk, "--reason", "laptop stolen", "--compromised-since", "0"]).ok();
    // ...but its next officer stays pending: solo control is not back.
    let (c, c_pk) = e.keygen("c.key");
    let ack = enroll_as(&e, &a, &c_pk, "Wang Wu", "key-officer", &[]).ok().json();
    let (_, p_pk) = e.keygen("p.key");
    refuse(
        &e,
        &["enroll", "--key", s(&c), "--pubkey", &p_pk, "--holder", "Zhao Liu", "--unit", "u", "--roles", "prosecutor"],
        "author_pending_endorsement",
    );
    let seq = ack["seq"].as_u64().unwrap().to_string();
    refuse(&e, &["endorse", "--key", s(&a), "--seq", &seq, "--capacity", "key-officer"], "self_endorsement");
    let v = e.run(&["--json", "verify"]).ok().json();
    assert_eq!(v["verdict"], "valid-with-warnings");
    let codes: Vec<&str> = v["reasons"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
    for want in ["solo_officer_appointment", "solo_officer_revocation", "single_key_officer"] {
        assert!(codes.contains(&want), "{want} in {codes:?}");
    }
    let _ = b;
}

#[test]
fn a_windowed_officer_cannot_lock_key_management_for_good() {
    let e = Env::new();
    e.init();
    let a = e.officer();
    let (t, t_pk) = e.keygen("t.key");
    let until = (pil_ledger::ledger::now_ms() + 3_600_000).to_string();
    enroll_as(&e, &a, &t_pk, "Li Si", "key-officer", &["--valid-until", &until]).ok();
    let a_pk = {
        let v = e.run(&["--json", "show", "0"]).ok().json();
        v["statement"]["author"].as_str().unwrap().to_string()
    };
    refuse(
        &e,
        &["revoke", "--key", s(&t), "--pubkey", &a_pk, "--reason", "takeover", "--compromised-since", "0"],
        "last_key_officer",
    );
    refuse(&e, &["revoke", "--key", s(&a), "--pubkey", &a_pk, "--reason", "retiring"], "last_key_officer");
}

#[test]
fn look_alike_holder_names_are_one_person_or_refused() {
    let e = Env::new();
    e.init();
    let a = e.officer();
    let (p, p_pk) = e.keygen("p.key");
    enroll_as(&e, &a, &p_pk, "Wang Wu", "prosecutor", &[]).ok();
    let ack = e.run(&["--json", "case", "open", "--key", s(&p), "--case", "C-1", "--title", "t"]).ok().json();
    let seq = ack["seq"].as_u64().unwrap().to_string();
    for (i, twin) in ["Wang Wu ", "wang wu", "Wang\u{a0}Wu", "ＷＡＮＧ ＷＵ"].iter().enumerate() {
        let (k, k_pk) = e.keygen(&format!("twin{i}.key"));
        enroll_as(&e, &a, &k_pk, twin, "assistant", &[]).ok();
        refuse(&e, &["endorse", "--key", s(&k), "--seq", &seq, "--capacity", "witness"], "self_endorsement");
    }
    for (i, bad) in ["Wang Wu\u{200b}", "W\u{430}ng Wu", "\u{202e}uW gnaW"].iter().enumerate() {
        let (_, k_pk) = e.keygen(&format!("bad{i}.key"));
        refuse(
            &e,
            &["enroll", "--key", s(&a), "--pubkey", &k_pk, "--holder", bad, "--unit", "u", "--roles", "assistant"],
            "invalid_name",
        );
    }
}

#[test]
fn a_revoked_key_plus_a_torsion_point_is_not_a_new_key() {
    use curve25519_dalek::constants::EIGHT_TORSION;
    use curve25519_dalek::edwards::CompressedEdwardsY;
    let e = Env::new();
    e.init();
    let a = e.officer();
    let (_, li_pk) = e.keygen("li.key");
    enroll_as(&e, &a, &li_pk, "Li Si", "prosecutor", &[]).ok();
    e.run(&["revoke", "--key", s(&a), "--pubkey", &li_pk, "--reason", "rotated"]).ok();
    let point = CompressedEdwardsY(hex::decode(&li_pk).unwrap().try_into().unwrap()).decompress().unwrap();
    let twin = hex::encode((point + EIGHT_TORSION[1]).compress().to_bytes());
    refuse(
        &e,
        &["enroll", "--key", s(&a), "--pubkey", &twin, "--holder", "Li Si", "--unit", "u", "--roles", "prosecutor"],
        "invalid_key",
    );
}
