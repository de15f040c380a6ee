//! End-to-end through the real binary: the §7.1 acceptance interface.

mod common;

use common::{s, Env};
use pil_ledger_core::merkle::{self, Blake3Tree};
use pil_ledger_core::note::{Checkpoint, NoteVerifier};
use pil_ledger_core::wire::{Entry, Statement};
use pil_ledger_core::{hash, Body};
use serde_json::Value;

fn h32(v: &Value) -> [u8; 32] {
    hex::decode(v.as_str().unwrap()).unwrap().try_into().unwrap()
}

fn proof_of(v: &Value) -> Vec<[u8; 32]> {
    v.as_array().unwrap().iter().map(h32).collect()
}

#[test]
fn init_prints_vkey_and_refuses_existing_ledger() {
    let e = Env::new();
    let vkey = e.init();
    let v = NoteVerifier::parse(&vkey).unwrap();
    assert_eq!(v.name, "test.example/pil");
    assert_eq!(e.run(&["vkey"]).ok().stdout.trim(), vkey);
    assert!(e.data().join("keys/log.key").exists() && e.officer().exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(e.officer()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let before = e.snapshot();
    let again = e.run(&["--json", "init", "--origin", "test.example/pil"]);
    assert_eq!(again.code, 2);
    assert_eq!(again.err_json()["error"]["code"], "ledger_exists");
    assert_eq!(e.snapshot(), before);
    // seq 0 is the genesis, signed by the officer, naming the log key
    let line: Value = serde_json::from_str(before.0.lines().next().unwrap()).unwrap();
    let entry = Entry::from_bytes(&hex::decode(line["entry"].as_str().unwrap()).unwrap()).unwrap();
    let st = Statement::from_bytes(&entry.statement).unwrap();
    match st.body {
        Body::Genesis { origin, log_key, officer, .. } => {
            assert_eq!(origin, "test.example/pil");
            assert_eq!(&log_key, v.key.as_bytes());
            assert_eq!(officer, st.author);
        }
        other => panic!("seq 0 is {other:?}"),
    }
}

#[test]
fn keygen_writes_pkcs8_pem_0600_and_refuses_overwrite() {
    let e = Env::new();
    let (p, pk) = e.keygen("a.key");
    assert_eq!(pk.len(), 64);
    let pem = std::fs::read_to_string(&p).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let k = pil_ledger_core::keys::from_pem(&pem).unwrap();
    assert_eq!(hex::encode(k.verifying_key().as_bytes()), pk);
    let again = e.run(&["--json", "keygen", "--out", s(&p)]);
    assert_eq!(again.code, 2);
    assert_eq!(std::fs::read_to_string(&p).unwrap(), pem);
}

#[test]
fn append_ack_carries_a_proof_that_verifies_offline() {
    let e = Env::new();
    let vkey = NoteVerifier::parse(&e.init()).unwrap();
    let (pkey, _) = e.enroll("prosecutor.key", "prosecutor");
    let ack = e
        .run(&["--json", "case", "open", "--key", s(&pkey), "--case", "（2026）京04民初7号", "--title", "River"])
        .ok()
        .json();
    assert_eq!(ack["case_id"], "（2026）京04民初7号");
    let cp = Checkpoint::open(ack["checkpoint"].as_str().unwrap().as_bytes(), &vkey).unwrap();
    let seq = ack["seq"].as_u64().unwrap();
    assert_eq!(seq, 2);
    assert_eq!(cp.size, 3);
    merkle::verify_inclusion(&Blake3Tree, seq, cp.size, &h32(&ack["hash"]), &proof_of(&ack["proof"]), &cp.root)
        .unwrap();
    // the checkpoint command prints the same note, exactly
    assert_eq!(e.run(&["checkpoint"]).ok().stdout, ack["checkpoint"].as_str().unwrap());
}

#[test]
fn entries_chain_and_proofs_check_independently() {
    let e = Env::new();
    let vkey = NoteVerifier::parse(&e.init()).unwrap();
    let (pkey, _) = e.enroll("p.key", "prosecutor");
    for i in 0..5 {
        e.run(&["case", "open", "--key", s(&pkey), "--case", &format!("C-{i}"), "--title", "t"]).ok();
    }
    let cp = Checkpoint::open(e.run(&["checkpoint"]).ok().stdout.as_bytes(), &vkey).unwrap();
    let lines: Vec<Value> = e.run(&["entries"]).ok().stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len() as u64, cp.size);
    let mut prev = [0u8; 32];
    let mut leaves = vec![];
    for (i, l) in lines.iter().enumerate() {
        let bytes = hex::decode(l["entry"].as_str().unwrap()).unwrap();
        let entry = Entry::from_bytes(&bytes).unwrap();
        assert_eq!(entry.seq, i as u64);
        assert_eq!(l["seq"].as_u64().unwrap(), i as u64);
        assert_eq!(entry.prev, prev);
        let h = hash::entry_hash(&bytes);
        assert_eq!(h32(&l["hash"]), h);
        prev = h;
        leaves.push(h);
    }
    assert_eq!(merkle::reference_root(&Blake3Tree, &leaves), cp.root);
    // --from/--to are inclusive
    let some = e.run(&["entries", "--from", "2", "--to", "4"]).ok().stdout;
    assert_eq!(some.lines().count(), 3);
    for seq in 0..cp.size {
        let p = e.run(&["prove", "inclusion", &seq.to_string()]).ok().json();
        assert_eq!(p["size"].as_u64().unwrap(), cp.size);
        let proof = proof_of(&p["proof"]);
        merkle::verify_inclusion(&Blake3Tree, seq, cp.size, &h32(&p["leaf"]), &proof, &cp.root).unwrap();
        // a tampered proof, leaf or checkpoint root is detected
        for k in 0..proof.len() {
            let mut bad = proof.clone();
            bad[k][31] ^= 1;
            assert!(merkle::verify_inclusion(&Blake3Tree, seq, cp.size, &h32(&p["leaf"]), &bad, &cp.root).is_err());
        }
        let mut leaf = h32(&p["leaf"]);
        leaf[0] ^= 1;
        assert!(merkle::verify_inclusion(&Blake3Tree, seq, cp.size, &leaf, &proof, &cp.root).is_err());
        let mut root = cp.root;
        root[7] ^= 1;
        assert!(merkle::verify_inclusion(&Blake3Tree, seq, cp.size, &h32(&p["leaf"]), &proof, &root).is_err());
    }
    for old in 1..cp.size {
        let p = e.run(&["prove", "consistency", &old.to_string()]).ok().json();
        let old_root = merkle::reference_root(&Blake3Tree, &leaves[..old as usize]);
        merkle::verify_consistency(&Blake3Tree, old, cp.size, &old_root, &cp.root, &proof_of(&p["proof"])).unwrap();
        // and against the historic checkpoint the log signed at that size
        let old_note = e.run(&["checkpoint", "--size", &old.to_string()]).ok().stdout;
        assert_eq!(Checkpoint::open(old_note.as_bytes(), &vkey).unwrap().root, old_root);
    }
    let p = e.run(&["prove", "inclusion", "1", "--size", "3"]).ok().json();
    merkle::verify_inclusion(
        &Blake3Tree,
        1,
        3,
        &leaves[1],
        &proof_of(&p["proof"]),
        &merkle::reference_root(&Blake3Tree, &leaves[..3]),
    )
    .unwrap();
    let bad = e.run(&["--json", "prove", "inclusion", "99"]);
    assert_eq!(bad.code, 2);
    assert_eq!(bad.err_json()["error"]["code"], "invalid_argument");
}

#[test]
fn verify_valid_then_json_verdict() {
    let e = Env::new();
    e.init();
    let (pkey, _) = e.enroll("p.key", "prosecutor");
    e.run(&["case", "open", "--key", s(&pkey), "--case", "C1", "--title", "t"]).ok();
    let v = e.run(&["--json", "verify"]).ok().json();
    assert_eq!(v["verdict"], "valid");
    assert_eq!(v["entries"], 3);
    assert!(v["reasons"].as_array().unwrap().is_empty());
    // global flags after the subcommand work too
    let v2 = e.run(&["verify", "--json"]).ok().json();
    assert_eq!(v2["verdict"], "valid");
}

fn refused(e: &Env, args: &[&str], code: &str) {
    let before = e.snapshot();
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let r = e.run(&a);
    assert_eq!(r.code, 2, "{args:?}: stdout {} stderr {}", r.stdout, r.stderr);
    assert_eq!(r.err_json()["error"]["code"], code, "{args:?}: {}", r.stderr);
    assert!(r.stdout.is_empty());
    assert_eq!(e.snapshot(), before, "ledger changed after a refusal: {args:?}");
}

#[test]
fn refusals_leave_the_ledger_byte_for_byte_unchanged() {
    let e = Env::new();
    e.init();
    let (pros, pros_pk) = e.enroll("p.key", "prosecutor");
    let (stranger, stranger_pk) = e.keygen("s.key");
    let o = e.officer();
    // not enrolled
    refused(&e, &["case", "open", "--key", s(&stranger), "--case", "X", "--title", "t"], "author_not_enrolled");
    // wrong role: a prosecutor cannot enrol keys
    refused(
        &e,
        &["enroll", "--key", s(&pros), "--pubkey", &stranger_pk, "--holder", "h", "--unit", "u", "--roles", "auditor"],
        "role_not_allowed",
    );
    // already enrolled
    refused(
        &e,
        &["enroll", "--key", s(&o), "--pubkey", &pros_pk, "--holder", "h", "--unit", "u", "--roles", "auditor"],
        "key_already_enrolled",
    );
    // bad public key and unknown role
    refused(
        &e,
        &["enroll", "--key", s(&o), "--pubkey", "zz", "--holder", "h", "--unit", "u", "--roles", "auditor"],
        "invalid_key",
    );
    refused(
        &e,
        &["enroll", "--key", s(&o), "--pubkey", &stranger_pk, "--holder", "h", "--unit", "u", "--roles", "emperor"],
        "invalid_argument",
    );
    // empty holder
    refused(
        &e,
        &["enroll", "--key", s(&o), "--pubkey", &stranger_pk, "--holder", " ", "--unit", "u", "--roles", "auditor"],
        "missing_field",
    );
    // the last key officer cannot be revoked
    let officer_pk = {
        let k = pil_ledger_core::keys::from_pem(&std::fs::read_to_string(&o).unwrap()).unwrap();
        hex::encode(k.verifying_key().as_bytes())
    };
    refused(&e, &["revoke", "--key", s(&o), "--pubkey", &officer_pk, "--reason", "left"], "last_key_officer");
    // duplicate case
    e.run(&["case", "open", "--key", s(&pros), "--case", "C1", "--title", "t"]).ok();
    refused(&e, &["case", "open", "--key", s(&pros), "--case", "C1", "--title", "t"], "case_exists");
    // self-endorsement
    refused(&e, &["endorse", "--key", s(&pros), "--seq", "2", "--capacity", "witness"], "self_endorsement");
    // revoked key
    e.run(&["revoke", "--key", s(&o), "--pubkey", &pros_pk, "--reason", "transferred"]).ok();
    refused(&e, &["case", "open", "--key", s(&pros), "--case", "C2", "--title", "t"], "author_revoked");
    refused(&e, &["revoke", "--key", s(&o), "--pubkey", &pros_pk, "--reason", "again"], "already_revoked");
    // a missing key file is a refusal too
    refused(&e, &["case", "open", "--key", "/nonexistent/k.pem", "--case", "C3", "--title", "t"], "bad_key_file");
    // and the ledger still verifies
    assert_eq!(e.run(&["--json", "verify"]).ok().json()["verdict"], "valid");
}

#[test]
fn expired_key_is_refused() {
    let e = Env::new();
    e.init();
    let (k, pk) = e.keygen("old.key");
    let o = e.officer();
    e.run(&[
        "enroll",
        "--key",
        s(&o),
        "--pubkey",
        &pk,
        "--holder",
        "Old",
        "--unit",
        "u",
        "--roles",
        "prosecutor",
        "--valid-from",
        "1000",
        "--valid-until",
        "2000",
    ])
    .ok();
    refused(&e, &["case", "open", "--key", s(&k), "--case", "C", "--title", "t"], "author_expired");
}

#[test]
fn openssl_written_key_works_where_a_key_is_asked() {
    // RFC 8410 §10.3 example key, as `openssl genpkey -algorithm ed25519` writes it.
    let e = Env::new();
    e.init();
    let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
    let p = e.path("openssl.pem");
    std::fs::write(&p, pem).unwrap();
    let pk = hex::encode(pil_ledger_core::keys::from_pem(pem).unwrap().verifying_key().as_bytes());
    let o = e.officer();
    e.run(&["enroll", "--key", s(&o), "--pubkey", &pk, "--holder", "O", "--unit", "u", "--roles", "prosecutor"]).ok();
    e.run(&["case", "open", "--key", s(&p), "--case", "C", "--title", "t"]).ok();
}

#[test]
fn key_officer_dual_control() {
    let e = Env::new();
    e.init();
    let o = e.officer();
    // with one key officer, a second takes effect alone
    let (o2, _) = e.enroll("o2.key", "key-officer");
    let (_, p1) = e.keygen("x.key");
    e.run(&["enroll", "--key", s(&o2), "--pubkey", &p1, "--holder", "X", "--unit", "u", "--roles", "auditor"]).ok();
    // with two, a third needs the other's endorsement
    let (o3, o3_pk) = e.keygen("o3.key");
    let ack = e
        .run(&[
            "--json",
            "enroll",
            "--key",
            s(&o),
            "--pubkey",
            &o3_pk,
            "--holder",
            "Third",
            "--unit",
            "u",
            "--roles",
            "key-officer",
        ])
        .ok()
        .json();
    let (_, p2) = e.keygen("y.key");
    refused(
        &e,
        &["enroll", "--key", s(&o3), "--pubkey", &p2, "--holder", "Y", "--unit", "u", "--roles", "auditor"],
        "author_pending_endorsement",
    );
    let seq = ack["seq"].as_u64().unwrap().to_string();
    // nor can an officer endorse a key enrolled in its own holder's name
    let (o4, o4_pk) = e.keygen("o4.key");
    let ack4 = e
        .run(&[
            "--json",
            "enroll",
            "--key",
            s(&o),
            "--pubkey",
            &o4_pk,
            "--holder",
            "o2.key",
            "--unit",
            "u",
            "--roles",
            "key-officer",
        ])
        .ok()
        .json();
    let seq4 = ack4["seq"].as_u64().unwrap().to_string();
    refused(&e, &["endorse", "--key", s(&o2), "--seq", &seq4, "--capacity", "key-officer"], "self_endorsement");
    refused(
        &e,
        &["enroll", "--key", s(&o4), "--pubkey", &p2, "--holder", "Y", "--unit", "u", "--roles", "auditor"],
        "author_pending_endorsement",
    );
    // the enrolling officer cannot endorse its own enrolment
    refused(&e, &["endorse", "--key", s(&o), "--seq", &seq, "--capacity", "key-officer"], "self_endorsement");
    e.run(&["endorse", "--key", s(&o2), "--seq", &seq, "--capacity", "key-officer"]).ok();
    e.run(&["enroll", "--key", s(&o3), "--pubkey", &p2, "--holder", "Y", "--unit", "u", "--roles", "auditor"]).ok();
    // Valid, with one flag: the second officer was appointed by one alone.
    let v = e.run(&["--json", "verify"]).ok().json();
    assert_eq!(v["verdict"], "valid-with-warnings");
    let codes: Vec<&str> = v["reasons"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["solo_officer_appointment"]);
}

#[test]
fn init_completes_a_store_with_no_record_without_deleting_anything() {
    let e = Env::new();
    // what a crash between creating the store and committing genesis leaves
    // (the store holds no record at all; no key file was written)
    std::fs::create_dir_all(e.data().join("keys")).unwrap();
    drop(pil_ledger::store::SledStore::open(&e.data().join("ledger")).unwrap());
    let r = e.run(&["--json", "entries"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.err_json()["error"]["code"], "no_ledger");
    e.init();
    assert_eq!(e.run(&["--json", "verify"]).ok().json()["verdict"], "valid");
}

#[test]
fn compromised_key_is_flagged_by_verify() {
    let e = Env::new();
    e.init();
    let (pros, pk) = e.enroll("p.key", "prosecutor");
    e.run(&["case", "open", "--key", s(&pros), "--case", "C1", "--title", "t"]).ok();
    let o = e.officer();
    e.run(&["revoke", "--key", s(&o), "--pubkey", &pk, "--reason", "laptop stolen", "--compromised-since", "0"]).ok();
    let v = e.run(&["--json", "verify"]).ok().json();
    assert_eq!(v["verdict"], "valid-with-warnings");
    let r = &v["reasons"][0];
    assert_eq!(r["code"], "signed_after_compromise");
    assert_eq!(r["severity"], "warning");
    assert_eq!(r["seq"], 2);
}

#[test]
fn reindex_rebuilds_the_same_indexes() {
    let e = Env::new();
    e.init();
    let (pros, _) = e.enroll("p.key", "prosecutor");
    let (asst, _) = e.enroll("a.key", "assistant");
    e.run(&["case", "open", "--key", s(&pros), "--case", "C1", "--title", "t"]).ok();
    e.run(&["endorse", "--key", s(&asst), "--seq", "3", "--capacity", "witness"]).ok();
    let before = index_dump(&e);
    let r = e.run(&["--json", "reindex"]).ok().json();
    assert_eq!(r["entries"], 5);
    assert_eq!(index_dump(&e), before);
    assert_eq!(e.run(&["--json", "verify"]).ok().json()["verdict"], "valid");
}

fn index_dump(e: &Env) -> Vec<(u8, Vec<u8>, Vec<u8>)> {
    use pil_ledger::store::{SledStore, Store};
    let st = SledStore::open(&e.data().join("ledger")).unwrap();
    st.index_all().unwrap()
}

#[test]
fn errors_are_one_line_and_exit_codes_hold() {
    let e = Env::new();
    // no ledger yet
    let r = e.run(&["--json", "verify"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.err_json()["error"]["code"], "no_ledger");
    let r = e.run(&["verify"]);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    // unknown flag
    let r = e.run(&["--json", "frobnicate"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.err_json()["error"]["code"], "invalid_argument");
}

#[test]
fn pil_data_env_and_default_dir() {
    let e = Env::new();
    let o = std::process::Command::new(common::BIN)
        .args(["init", "--origin", "env.example/pil"])
        .env("PIL_DATA", e.data())
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(e.data().join("ledger").exists());
    // default ./pil-data relative to the working directory
    let o = std::process::Command::new(common::BIN)
        .args(["init", "--origin", "cwd.example/pil"])
        .current_dir(e.tmp.path())
        .env_remove("PIL_DATA")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(e.tmp.path().join("pil-data/ledger").exists());
}

#[test]
fn stress_prints_acks_that_match_the_log_and_a_rate_line() {
    let e = Env::new();
    let r = e.run(&["stress", "--count", "60", "--clients", "4"]).ok();
    let acks: Vec<(u64, String)> = r
        .stdout
        .lines()
        .map(|l| {
            let p: Vec<&str> = l.split(' ').collect();
            assert_eq!((p.len(), p[0]), (3, "ack"), "{l}");
            (p[1].parse().unwrap(), p[2].to_string())
        })
        .collect();
    assert_eq!(acks.len(), 64, "4 enrolments + 60 statements (the genesis is not acknowledged by stress)");
    let entries: std::collections::HashMap<u64, String> = e
        .run(&["entries"])
        .ok()
        .stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["seq"].as_u64().unwrap(), v["hash"].as_str().unwrap().to_string())
        })
        .collect();
    for (seq, h) in &acks {
        assert_eq!(entries.get(seq), Some(h));
    }
    let last = r.stderr.lines().last().unwrap();
    assert!(last.contains("entries/s") && last.contains("verify_strict"), "{last}");
    assert_eq!(e.run(&["--json", "verify"]).ok().json()["verdict"], "valid");
}

#[test]
fn stress_after_its_own_crashed_first_init_resumes_with_the_same_keys() {
    let e = Env::new();
    // what a kill -9 during stress's own first init can leave behind: its
    // marker (written first), a key file, an empty store
    std::fs::create_dir_all(e.data().join("keys")).unwrap();
    std::fs::write(e.data().join(pil_ledger::stress::MARKER), "created by stress\n").unwrap();
    let log_key = pil_ledger_core::keys::to_pem(&pil_ledger_core::keys::generate());
    std::fs::write(e.data().join("keys/log.key"), &log_key).unwrap();
    drop(pil_ledger::store::SledStore::open(&e.data().join("ledger")).unwrap());
    let r = e.run(&["stress", "--count", "5", "--clients", "1"]).ok();
    assert_eq!(r.stdout.lines().count(), 6, "1 enrolment + 5 statements: {}", r.stdout);
    // the key file it found was used, never replaced
    assert_eq!(std::fs::read_to_string(e.data().join("keys/log.key")).unwrap(), log_key);
    let vkey = NoteVerifier::parse(e.run(&["vkey"]).ok().stdout.trim()).unwrap();
    let k = pil_ledger_core::keys::from_pem(&log_key).unwrap();
    assert_eq!(vkey.key, k.verifying_key());
    assert_eq!(e.run(&["--json", "verify"]).ok().json()["verdict"], "valid");
}
