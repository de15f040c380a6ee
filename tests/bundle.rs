//! Court bundles end to end (`schema/bundle.md`): a ledger built through the
//! real binary (officers, a revoked key, a case, evidence with a custody
//! handover), bundles exported and verified with no data directory, a
//! tamper matrix in which no change is ever judged valid, and `verify`
//! catching a tampered registry note.

mod bundle_support;
mod common;
mod http_support;

use std::collections::BTreeMap;

use bundle_support::*;
use common::{s, with_raw, Env};
use pil_ledger::core::bundle::{self, verify_bundle, RegistryChain, RegistryNote};
use pil_ledger::core::note::NoteVerifier;
use pil_ledger::core::verify::VerdictKind;
use pil_ledger::ledger;
use pil_ledger::store::SledStore;
use serde_json::{json, Value};

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
/// refused as input, never valid. Leaving entries or files out makes a
/// smaller bundle, whose verdict lists exactly what is left.
#[test]
fn tamper_matrix_no_change_is_ever_valid() {
    let w = world();
    let path = full_bundle(&w);
    let good = load(&path);
    assert_eq!(good["files"].as_array().unwrap().len(), 2, "{good}");
    let vk = NoteVerifier::parse(&w.vkey).unwrap();
    let kept = std::fs::read(&w.kept).unwrap();
    let honest = judge(&good, &vk, Some(&kept));
    // (the second key officer was appointed by one officer: a warning)
    assert_eq!((honest.verdict.as_str(), honest.errors.len()), ("valid-with-warnings", 0), "{honest:?}");
    let mut cases = mutations(&good);
    let other = Env::new();
    let other_vkey = other.init();
    let mut v = good.clone();
    let op = Op::Set(other_vkey.into());
    op.apply(&mut v["vkey"]);
    cases.push(Case {
        name: "vkey of another log".into(),
        path: vec![Step::Key("vkey".into())],
        op,
        bundle: v,
        kind: Kind::Tamper,
    });
    let mut per_kind: BTreeMap<String, usize> = BTreeMap::new();
    let mut passed = Vec::new();
    for c in &cases {
        let o = judge(&c.bundle, &vk, Some(&kept));
        let field = c.name.split(['[', '.', ' ', '=']).next().unwrap().to_string();
        *per_kind.entry(field).or_default() += 1;
        match c.kind {
            Kind::Tamper if o.verdict != "invalid" && o.verdict != "refused" => {
                passed.push(format!("{}: {o:?}", c.name))
            }
            Kind::Selection => {
                let (entries, files) = listed(&c.bundle);
                if o.verdict == "refused" || o.entries != entries || o.files != files {
                    passed.push(format!("{} (selection): {o:?}", c.name));
                }
            }
            _ => {}
        }
    }
    assert!(passed.is_empty(), "changes not detected: {passed:#?}");
    for field in ["format", "vkey", "checkpoint", "registry_note", "entries", "registry", "consistency", "files"] {
        assert!(per_kind.get(field).is_some_and(|n| *n > 0), "no mutation of {field}: {per_kind:?}");
    }
    assert!(cases.len() > 1000, "{} cases", cases.len());
    eprintln!("tamper matrix: {} cases ({per_kind:?})", cases.len());
    // A sample through the binary: exit 1 or 2, never 0.
    let tampers: Vec<&Case> = cases.iter().filter(|c| c.kind == Kind::Tamper).collect();
    for c in tampers.iter().step_by(tampers.len() / 12) {
        let p = w.e.path("tampered.json");
        std::fs::write(&p, c.bundle.to_string()).unwrap();
        let r = verify_offline(&p, &w.vkey, &["--checkpoint", s(&w.kept)]);
        assert!(r.code == 1 || r.code == 2, "{}: exit {} {}", c.name, r.code, r.stdout);
    }
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

#[test]
fn with_files_carries_the_registered_originals_and_names_what_it_skipped() {
    let w = world();
    let out = w.e.path("files.json");
    let sel = ["--evidence", &w.evidence, "--evidence", &w.evidence2, "--with-files", s(&w.originals)];
    let r = w.e.run(&[&["--json", "bundle", "export", "--out", s(&out)][..], &sel[..]].concat()).ok();
    let j: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let carried: Vec<&str> = j["files"].as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap()).collect();
    assert_eq!(carried, ["photo.jpg", "sample-2.txt"], "{j}");
    let skipped: BTreeMap<&str, &str> = j["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["file"].as_str().unwrap(), f["why"].as_str().unwrap()))
        .collect();
    assert_eq!(skipped.keys().copied().collect::<Vec<_>>(), ["link.jpg", "notes.txt", "subdir"], "{j}");
    assert!(skipped["link.jpg"].contains("symbolic link") && skipped["notes.txt"].contains("no evidence"), "{j}");
    assert!(r.stderr.contains("skipped notes.txt"), "{}", r.stderr);
    assert_eq!(j["without_file"], json!([]));
    // The files travel as the bytes collected and verify offline.
    let b = load(&out);
    let data: Vec<Vec<u8>> = b["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, f["data"].as_str().unwrap()).unwrap()
        })
        .collect();
    assert_eq!(data, [PHOTO, SAMPLE]);
    let v = verify_offline(&out, &w.vkey, &[]).ok().json();
    assert!(errors(&v).is_empty() && v["verdict"] != "invalid", "{v}");
    let m: Vec<(&str, bool)> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["evidence_id"].as_str().unwrap(), f["matches"].as_bool().unwrap()))
        .collect();
    assert_eq!(m, [(w.evidence.as_str(), true), (w.evidence2.as_str(), true)]);
    // one changed byte of a carried file: invalid, with the file's code
    let mut t = b.clone();
    let mut photo = PHOTO.to_vec();
    photo[0] ^= 1;
    t["files"][0]["data"] = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &photo).into();
    std::fs::write(&out, t.to_string()).unwrap();
    let r = verify_offline(&out, &w.vkey, &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(errors(&r.json()), ["file_digest_mismatch"], "{}", r.stdout);
    // a file carried under another item's registration
    t["files"][0]["data"] = b["files"][1]["data"].clone();
    std::fs::write(&out, t.to_string()).unwrap();
    assert_eq!(errors(&verify_offline(&out, &w.vkey, &[]).json()), ["file_digest_mismatch"]);
    t["files"][0]["seq"] = b["files"][1]["seq"].clone();
    t["files"][1]["seq"] = b["files"][0]["seq"].clone();
    t["files"].as_array_mut().unwrap().swap(0, 1);
    t["files"][0]["evidence_id"] = w.evidence.clone().into();
    t["files"][0]["data"] = b["files"][0]["data"].clone();
    std::fs::write(&out, t.to_string()).unwrap();
    let r = verify_offline(&out, &w.vkey, &[]).json();
    assert!(errors(&r).contains(&"file_not_registered".to_string()), "{r}");
}

#[test]
fn an_altered_original_is_not_carried_and_nothing_matching_is_refused() {
    let w = world();
    let dir = w.e.path("altered");
    std::fs::create_dir_all(&dir).unwrap();
    let mut photo = PHOTO.to_vec();
    photo[3] ^= 1;
    std::fs::write(dir.join("photo.jpg"), &photo).unwrap();
    std::fs::write(dir.join("sample-2.txt"), SAMPLE).unwrap();
    let out = w.e.path("altered.json");
    let sel = ["--evidence", &w.evidence, "--evidence", &w.evidence2, "--with-files", s(&dir)];
    let r = w.e.run(&[&["--json", "bundle", "export", "--out", s(&out)][..], &sel[..]].concat()).ok();
    let j: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(j["files"].as_array().unwrap().len(), 1, "{j}");
    let why = j["skipped"][0]["why"].as_str().unwrap();
    assert!(why.contains(&w.evidence) && why.contains("not the registered digests"), "{j}");
    assert_eq!(j["without_file"][0]["evidence_id"], w.evidence.as_str(), "{j}");
    assert!(r.stderr.contains(&format!("no file for {}", w.evidence)), "{}", r.stderr);
    // only the altered photo, for the photo's item alone: refused, nothing written
    std::fs::remove_file(dir.join("sample-2.txt")).unwrap();
    let out2 = w.e.path("none.json");
    let r =
        w.e.run(&["--json", "bundle", "export", "--evidence", &w.evidence, "--with-files", s(&dir), "--out", s(&out2)]);
    assert_eq!((r.code, r.err_json()["error"]["code"].as_str()), (2, Some("invalid_argument")), "{}", r.stderr);
    assert!(!out2.exists());
    let r = w.e.run(&[
        "bundle",
        "export",
        "--evidence",
        &w.evidence,
        "--with-files",
        s(&dir.join("photo.jpg")),
        "--out",
        s(&out2),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn originals_over_the_limits_are_refused_with_their_codes() {
    let e = Env::new();
    e.init();
    let (pros, _) = e.enroll("Li Si", "prosecutor");
    e.run(&["case", "open", "--key", s(&pros), "--case", CASE, "--title", "t"]).ok();
    let dir = e.path("big");
    std::fs::create_dir_all(&dir).unwrap();
    let add = |name: &str, len: usize, fill: u8| {
        let f = dir.join(name);
        std::fs::write(&f, vec![fill; len]).unwrap();
        let args =
            ["--json", "evidence", "add", "--key", s(&pros), "--case", CASE, "--file", s(&f), "--collector", "Li Si"];
        let a =
            ack(e.run(&[&args[..], &["--method", "copy", "--collected-at", "2026-11-20T10:30:00+08:00"][..]].concat()));
        a["evidence_id"].as_str().unwrap().to_string()
    };
    let over = add("video.mp4", bundle::MAX_FILE_BYTES as usize + 1, 7);
    let out = e.path("b.json");
    let r = e.run(&["--json", "bundle", "export", "--evidence", &over, "--with-files", s(&dir), "--out", s(&out)]);
    assert_eq!((r.code, r.err_json()["error"]["code"].as_str()), (2, Some("file_too_large")), "{}", r.stderr);
    assert!(!out.exists());
    std::fs::remove_file(dir.join("video.mp4")).unwrap();
    let third = bundle::MAX_FILES_TOTAL_BYTES as usize / 3 + 1;
    let ids: Vec<String> = (0..3u8).map(|i| add(&format!("part{i}.bin"), third, i)).collect();
    let mut args = vec!["--json", "bundle", "export", "--with-files", s(&dir), "--out", s(&out)];
    for id in &ids {
        args.extend(["--evidence", id.as_str()]);
    }
    let r = e.run(&args);
    assert_eq!((r.code, r.err_json()["error"]["code"].as_str()), (2, Some("bundle_too_large")), "{}", r.stderr);
    assert!(!out.exists());
    // two of them fit
    let r = e.run(&[
        "--json",
        "bundle",
        "export",
        "--with-files",
        s(&dir),
        "--out",
        s(&out),
        "--evidence",
        &ids[0],
        "--evidence",
        &ids[1],
    ]);
    assert_eq!(r.ok().json()["files"].as_array().unwrap().len(), 2);
}

#[test]
fn post_bundles_carries_the_files_it_is_sent_and_refuses_others() {
    use http_support::{agent, post_json, Server};
    let w = world();
    let server = Server::start(&w.e, &["--public-read"], &[]);
    let a = agent();
    let b64 = |d: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, d);
    let req = json!({"evidence": [w.evidence, w.evidence2], "files": [b64(SAMPLE), b64(PHOTO)]});
    let r = post_json(&a, &server.url("/v1/bundles"), &req);
    assert_eq!(r.status, 200, "{}", r.body);
    let file = w.e.path("http.json");
    std::fs::write(&file, &r.body).unwrap();
    let v = verify_offline(&file, &w.vkey, &[]).ok().json();
    assert!(errors(&v).is_empty() && v["verdict"] != "invalid", "{v}");
    assert_eq!(v["files"].as_array().map(|f| f.len()), Some(2), "{v}");
    for (files, status, code) in [
        (json!([b64(b"not evidence")]), 400, "invalid_argument"),
        (json!([b64(PHOTO), b64(PHOTO)]), 400, "invalid_argument"),
        (json!(["not base64!"]), 400, "invalid_argument"),
        (json!([b64(&vec![0; bundle::MAX_FILE_BYTES as usize + 1])]), 413, "file_too_large"),
    ] {
        let r = post_json(&a, &server.url("/v1/bundles"), &json!({"evidence": [w.evidence], "files": files}));
        assert_eq!((r.status, r.code()), (status, code.to_string()), "{}", r.body);
    }
}

/// Registry entries the rules refuse, in logs signed by the log key as a
/// dishonest operator could: every refusal is reported at its seq, and
/// nothing else (tests/page.rs holds the page's verifier to the same).
#[test]
fn registry_entries_the_rules_refuse_are_reported_when_the_registry_is_replayed() {
    let all = bundle_support::forge::scenarios();
    assert_eq!(all.len(), 15);
    for sc in all {
        let text = serde_json::to_string(&sc.bundle).unwrap();
        let v = verify_bundle(text.as_bytes(), &bundle_support::forge::vkey(), None).unwrap();
        let mut got: Vec<(String, Option<u64>)> = v.reasons.iter().map(|r| (r.code.clone(), r.seq)).collect();
        got.sort();
        got.dedup();
        let mut want: Vec<(String, Option<u64>)> = sc.expect.iter().map(|(c, s)| (c.to_string(), *s)).collect();
        want.sort();
        assert_eq!(got, want, "{}: {:#?}", sc.name, v.reasons);
    }
}
