//! Court bundles end to end (`schema/bundle.md`): a ledger built through the
//! real binary (officers, a revoked key, a case, evidence with a custody
//! handover), bundles exported and verified with no data directory, a
//! tamper matrix in which no change is ever judged valid, and `verify`
//! catching a tampered registry note.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{s, Env, Run, BIN};
use pil_ledger::core::bundle::{self, verify_bundle, RegistryChain, RegistryNote};
use pil_ledger::core::note::NoteVerifier;
use pil_ledger::core::verify::VerdictKind;
use pil_ledger::ledger;
use pil_ledger::store::SledStore;
use serde_json::Value;

const CASE: &str = "（2026）京04民初9号";

struct World {
    e: Env,
    vkey: String,
    /// A checkpoint note kept before the evidence was added.
    kept: PathBuf,
    evidence: String,
    /// Seq of the case opened by the key revoked later, and of the revocation.
    by_revoked: u64,
    revocation: u64,
    transfer: u64,
}

fn ack(r: Run) -> Value {
    let line = r.ok().stdout;
    serde_json::from_str(line.lines().last().unwrap()).unwrap()
}

fn world() -> World {
    let e = Env::new();
    let vkey = e.init();
    e.enroll("Zhou Officer", "key-officer");
    let (pros, _) = e.enroll("Li Si", "prosecutor");
    let (asst, _) = e.enroll("Zhao Liu", "assistant");
    let (cust, cust_pk) = e.enroll("Qian Qi", "custodian");
    let (gone, gone_pk) = e.enroll("Sun Ba", "prosecutor");
    let r = e.run(&["--json", "case", "open", "--key", s(&gone), "--case", "OLD-1", "--title", "earlier matter"]);
    let by_revoked = ack(r)["seq"].as_u64().unwrap();
    let o = e.officer();
    let r = e.run(&["--json", "revoke", "--key", s(&o), "--pubkey", &gone_pk, "--reason", "left the unit"]);
    let revocation = ack(r)["seq"].as_u64().unwrap();
    let kept = e.path("kept.note");
    std::fs::write(&kept, e.run(&["checkpoint"]).ok().stdout).unwrap();
    e.run(&["case", "open", "--key", s(&pros), "--case", CASE, "--title", "Chaobai River discharge"]).ok();
    let f = e.path("photo.jpg");
    std::fs::write(&f, b"outfall 3 at dawn").unwrap();
    let r = e.run(&[
        "--json",
        "evidence",
        "add",
        "--key",
        s(&pros),
        "--case",
        CASE,
        "--file",
        s(&f),
        "--collector",
        "Li Si",
        "--collector",
        "Zhao Liu",
        "--method",
        "photograph",
        "--place",
        "outfall 3",
        "--collected-at",
        "2026-11-20T10:30:00+08:00",
    ]);
    let a = ack(r);
    let (evidence, reg) = (a["evidence_id"].as_str().unwrap().to_string(), a["seq"].as_u64().unwrap());
    e.run(&["endorse", "--key", s(&asst), "--seq", &reg.to_string(), "--capacity", "second-collector"]).ok();
    let t = ["custody", "transfer", "--key", s(&pros), "--evidence", &evidence, "--to", &cust_pk];
    let r = e.run(&[&["--json"][..], &t[..], &["--purpose", "storage"][..]].concat());
    let transfer = ack(r)["seq"].as_u64().unwrap();
    e.run(&["custody", "receive", "--key", s(&cust), "--evidence", &evidence, "--file", s(&f)]).ok();
    World { e, vkey, kept, evidence, by_revoked, revocation, transfer }
}

fn export(w: &World, name: &str, sel: &[&str]) -> PathBuf {
    let out = w.e.path(name);
    let mut args = vec!["--json", "bundle", "export", "--out", s(&out)];
    args.extend_from_slice(sel);
    w.e.run(&args).ok();
    out
}

/// `bundle verify` run from an empty directory with `--data` pointing
/// nowhere: the bundle alone decides.
fn verify_offline(file: &Path, vkey: &str, extra: &[&str]) -> Run {
    let empty = tempfile::tempdir().unwrap();
    let nowhere = empty.path().join("no-such-data");
    let o = Command::new(BIN)
        .current_dir(empty.path())
        .env_remove("PIL_DATA")
        .arg("--data")
        .arg(&nowhere)
        .args(["--json", "bundle", "verify", s(file), "--vkey", vkey])
        .args(extra)
        .output()
        .unwrap();
    assert!(!nowhere.exists(), "verify created a data directory");
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0, "verify wrote into its directory");
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn codes(v: &Value) -> Vec<String> {
    v["reasons"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap().to_string()).collect()
}

fn errors(v: &Value) -> Vec<String> {
    let e = v["reasons"].as_array().unwrap().iter().filter(|r| r["severity"] == "error");
    e.map(|r| r["code"].as_str().unwrap().to_string()).collect()
}

fn load(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn evidence_case_and_seq_bundles_verify_offline_and_a_left_out_revocation_fails() {
    let w = world();
    let b = export(&w, "ev.json", &["--evidence", &w.evidence]);
    let r = verify_offline(&b, &w.vkey, &[]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let v = r.json();
    assert!(errors(&v).is_empty(), "{v}");
    assert_ne!(v["verdict"], "invalid");
    // registration, second collector, handover and receipt
    let kinds: Vec<&str> = v["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["EvidenceRegistered", "Endorsed", "CustodyTransferred", "CustodyReceived"], "{v}");
    assert_eq!(v["entries"][0]["holder"], "Li Si");
    assert!(!codes(&v).contains(&"custody_gap".to_string()), "{v}");
    let bundle = load(&b);
    let reg_kinds = bundle["registry"].as_array().unwrap().len();
    assert_eq!(v["registry_count"], reg_kinds as u64);
    // Sun Ba's case was opened before the revocation: authorised then.
    let old = export(&w, "old.json", &["--seq", &w.by_revoked.to_string()]);
    let v = verify_offline(&old, &w.vkey, &[]).ok().json();
    assert!(errors(&v).is_empty(), "{v}");
    // The same bundle without the revocation must fail.
    let mut t = load(&old);
    let reg = t["registry"].as_array_mut().unwrap();
    let before = reg.len();
    reg.retain(|e| e["seq"] != w.revocation);
    assert_eq!(reg.len(), before - 1);
    std::fs::write(&old, t.to_string()).unwrap();
    let r = verify_offline(&old, &w.vkey, &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(codes(&r.json()).contains(&"registry_incomplete".to_string()), "{}", r.stdout);
    // a whole case, with a kept checkpoint and its consistency proof
    let c = export(&w, "case.json", &["--case", CASE, "--since-checkpoint", s(&w.kept)]);
    let v = verify_offline(&c, &w.vkey, &["--checkpoint", s(&w.kept)]).ok().json();
    assert!(errors(&v).is_empty(), "{v}");
    assert_eq!(v["entries"][0]["kind"], "CaseOpened");
}

#[test]
fn a_handover_without_its_receipt_is_a_custody_gap_and_bad_input_is_refused() {
    let w = world();
    let b = export(&w, "t.json", &["--seq", &w.transfer.to_string()]);
    let v = verify_offline(&b, &w.vkey, &[]).ok().json();
    assert_eq!(v["verdict"], "valid-with-warnings", "{v}");
    assert!(codes(&v).contains(&"custody_gap".to_string()), "{v}");
    // bad vkey, unparseable file, kept checkpoint the bundle cannot reach
    assert_eq!(verify_offline(&b, "not-a-key", &[]).code, 2);
    let junk = w.e.path("junk.json");
    std::fs::write(&junk, b"{\"format\":").unwrap();
    let r = verify_offline(&junk, &w.vkey, &[]);
    assert_eq!((r.code, r.err_json()["error"]["code"].as_str()), (2, Some("invalid_bundle")), "{}", r.stderr);
    let r = verify_offline(&b, &w.vkey, &["--checkpoint", s(&w.kept)]);
    assert_eq!((r.code, r.err_json()["error"]["code"].as_str()), (2, Some("invalid_argument")), "{}", r.stderr);
    let r = verify_offline(&w.e.path("missing.json"), &w.vkey, &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    // the vkey may also be given as a file
    let vk = w.e.path("vkey.txt");
    std::fs::write(&vk, format!("{}\n", w.vkey)).unwrap();
    assert_eq!(verify_offline(&b, s(&vk), &[]).code, 0);
}

#[test]
fn a_receipt_whose_rehash_differs_is_custody_rehash_mismatch() {
    let w = world();
    let cust = w.e.path("Qian Qi");
    let (liaison, liaison_pk) = w.e.enroll("Zhou Jiu", "court-liaison");
    let swapped = w.e.path("swapped");
    std::fs::write(&swapped, b"not the original").unwrap();
    let t = ["custody", "transfer", "--key", s(&cust), "--evidence", &w.evidence, "--to", &liaison_pk];
    w.e.run(&[&t[..], &["--purpose", "court"][..]].concat()).ok();
    w.e.run(&["custody", "receive", "--key", s(&liaison), "--evidence", &w.evidence, "--file", s(&swapped)]).ok();
    let b = export(&w, "ev.json", &["--evidence", &w.evidence]);
    let r = verify_offline(&b, &w.vkey, &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(errors(&r.json()), ["custody_rehash_mismatch"], "{}", r.stdout);
}

/// Every change to a bundle, one at a time, is detected: judged invalid or
/// refused as input, never valid.
#[test]
fn tamper_matrix_no_change_is_ever_valid() {
    let w = world();
    let path = export(&w, "all.json", &["--evidence", &w.evidence, "--since-checkpoint", s(&w.kept)]);
    let good = load(&path);
    let vk = NoteVerifier::parse(&w.vkey).unwrap();
    let kept = std::fs::read(&w.kept).unwrap();
    let judge = |v: &Value| match verify_bundle(v.to_string().as_bytes(), &vk, Some(&kept)) {
        Err(_) => "refused".to_string(),
        Ok(x) => x.verdict.as_str().to_string(),
    };
    assert_ne!(judge(&good), "invalid");
    let mut cases: Vec<(String, Value)> = Vec::new();
    let mut add = |name: String, f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        assert!(v != good, "{name} changed nothing");
        cases.push((name, v));
    };
    let other = Env::new();
    let other_vkey = other.init();
    add("vkey".into(), &|v| v["vkey"] = other_vkey.clone().into());
    for field in ["checkpoint", "registry_note"] {
        let text = good[field].as_str().unwrap().to_string();
        for i in 0..text.len() {
            if !text.is_char_boundary(i) || !text.is_char_boundary(i + 1) {
                continue;
            }
            let c = text.as_bytes()[i];
            let to = if c == b'\n' {
                ' '
            } else if c == b'A' {
                'B'
            } else {
                'A'
            };
            let mut t = text.clone();
            t.replace_range(i..i + 1, &to.to_string());
            add(format!("{field}[{i}]"), &|v| v[field] = t.clone().into());
        }
    }
    for list in ["entries", "registry"] {
        let n = good[list].as_array().unwrap().len();
        for k in 0..n {
            let hexs = good[list][k]["entry"].as_str().unwrap().to_string();
            let bytes = hex::decode(&hexs).unwrap();
            for i in (0..bytes.len()).filter(|i| i % 5 == 0 || *i < 64 || *i + 64 >= bytes.len()) {
                let mut b = bytes.clone();
                b[i] ^= 0x01;
                add(format!("{list}[{k}].entry[{i}]"), &|v| v[list][k]["entry"] = hex::encode(&b).into());
            }
            for p in 0..good[list][k]["proof"].as_array().unwrap().len() {
                let h = good[list][k]["proof"][p].as_str().unwrap();
                let flipped = format!("{}{}", if h.starts_with('0') { '1' } else { '0' }, &h[1..]);
                add(format!("{list}[{k}].proof[{p}]"), &|v| v[list][k]["proof"][p] = flipped.clone().into());
            }
            let proof_len = good[list][k]["proof"].as_array().unwrap().len();
            add(format!("{list}[{k}].proof dropped"), &|v| {
                v[list][k]["proof"].as_array_mut().unwrap().truncate(proof_len.saturating_sub(1))
            });
            let seq = good[list][k]["seq"].as_u64().unwrap();
            for d in [seq + 1, seq.wrapping_sub(1), seq + 1000] {
                add(format!("{list}[{k}].seq={d}"), &|v| v[list][k]["seq"] = d.into());
            }
        }
    }
    let n = good["registry"].as_array().unwrap().len();
    for k in 0..n {
        add(format!("registry[{k}] dropped"), &|v| {
            v["registry"].as_array_mut().unwrap().remove(k);
        });
        if k + 1 < n {
            add(format!("registry[{k}] swapped"), &|v| v["registry"].as_array_mut().unwrap().swap(k, k + 1));
        }
    }
    add("registry[1] repeated".into(), &|v| {
        let r = v["registry"][1].clone();
        v["registry"].as_array_mut().unwrap().insert(2, r);
    });
    add("consistency.old_size".into(), &|v| v["consistency"]["old_size"] = 1.into());
    let h = good["consistency"]["old_root"].as_str().unwrap();
    let flipped = format!("{}{}", if h.starts_with('0') { '1' } else { '0' }, &h[1..]);
    add("consistency.old_root".into(), &|v| v["consistency"]["old_root"] = flipped.clone().into());
    let c0 = good["consistency"]["proof"][0].as_str().unwrap();
    let c0 = format!("{}{}", if c0.starts_with('0') { '1' } else { '0' }, &c0[1..]);
    add("consistency.proof".into(), &|v| v["consistency"]["proof"][0] = c0.clone().into());
    add("format".into(), &|v| v["format"] = "pil-ledger-bundle/v2".into());
    add("extra field".into(), &|v| v["note"] = "trust me".into());
    let upper = good["entries"][0]["proof"][0].as_str().unwrap().to_uppercase();
    add("upper-case hex".into(), &|v| v["entries"][0]["proof"][0] = upper.clone().into());
    assert!(cases.len() > 300, "{}", cases.len());
    let mut passed = Vec::new();
    for (name, v) in &cases {
        let j = judge(v);
        if j != "invalid" && j != "refused" {
            passed.push(format!("{name}: {j}"));
        }
    }
    assert!(passed.is_empty(), "changes judged valid: {passed:#?}");
    // A sample through the binary: exit 1 or 2, never 0.
    for (name, v) in cases.iter().step_by(cases.len() / 12) {
        let p = w.e.path("tampered.json");
        std::fs::write(&p, v.to_string()).unwrap();
        let r = verify_offline(&p, &w.vkey, &["--checkpoint", s(&w.kept)]);
        assert!(r.code == 1 || r.code == 2, "{name}: exit {} {}", r.code, r.stdout);
    }
}

fn with_raw<F: FnOnce(&sled::Db)>(e: &Env, f: F) {
    let st = SledStore::open(&e.data().join("ledger")).unwrap();
    f(st.raw());
    st.raw().flush().unwrap();
}

fn registry_key(size: u64) -> Vec<u8> {
    let mut k = vec![b'R'];
    k.extend_from_slice(&size.to_be_bytes());
    k
}

#[test]
fn verify_recomputes_every_registry_note_and_old_ledgers_get_one_with_their_next_entry() {
    let w = world();
    let size = w.e.run(&["--json", "checkpoint"]).ok().json()["size"].as_u64().unwrap();
    let log = ledger::read_key_file(&w.e.data().join("keys/log.key")).unwrap();
    let vk = NoteVerifier::parse(&w.vkey).unwrap();
    let st = SledStore::open_read_only(&w.e.data().join("ledger")).unwrap();
    let note = st.raw().get(registry_key(size)).unwrap().unwrap();
    drop(st);
    let honest = RegistryNote::open(&note, &vk).unwrap();
    // a note the log key signed over a registry without the revocation
    let forged =
        RegistryNote { chain: RegistryChain { count: honest.chain.count - 1, ..honest.chain }, ..honest.clone() };
    with_raw(&w.e, |db| {
        db.insert(registry_key(size), forged.sign(&log).unwrap().as_bytes()).unwrap();
    });
    let r = w.e.run(&["--json", "verify"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(codes(&r.json()).contains(&"registry_note_mismatch".to_string()), "{}", r.stdout);
    // one not signed by the log key
    with_raw(&w.e, |db| {
        db.insert(
            registry_key(size),
            honest.sign(&ed25519_dalek::SigningKey::from_bytes(&[7; 32])).unwrap().as_bytes(),
        )
        .unwrap();
    });
    let r = w.e.run(&["--json", "verify"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(codes(&r.json()).contains(&"registry_note_invalid".to_string()), "{}", r.stdout);
    // A ledger from before registry notes: none stored at all. verify
    // accepts it, export refuses, the next entry brings one (the writer
    // recomputes the chain from the log), and the bundle verifies.
    with_raw(&w.e, |db| {
        let keys: Vec<_> = db.scan_prefix(b"R").keys().map(|k| k.unwrap()).collect();
        assert!(keys.len() > 5);
        for k in keys {
            db.remove(k).unwrap();
        }
    });
    let r = w.e.run(&["--json", "verify"]);
    assert!(!codes(&r.json()).iter().any(|c| c.starts_with("registry")), "{}", r.stdout);
    let out = w.e.path("legacy.json");
    let r = w.e.run(&["--json", "bundle", "export", "--seq", "1", "--out", s(&out)]);
    assert_eq!((r.code, r.err_json()["error"]["code"].as_str()), (2, Some("invalid_argument")), "{}", r.stderr);
    w.e.enroll("Wu Shi", "auditor");
    let b = export(&w, "legacy.json", &["--seq", &w.by_revoked.to_string()]);
    let v = verify_offline(&b, &w.vkey, &[]).ok().json();
    assert!(errors(&v).is_empty(), "{v}");
    assert_eq!(v["registry_count"].as_u64(), Some(honest.chain.count + 1));
    assert_eq!(load(&b)["format"], bundle::FORMAT);
    assert_ne!(verify_bundle(&std::fs::read(&b).unwrap(), &vk, None).unwrap().verdict, VerdictKind::Invalid);
}
