//! Tamper drills: change one byte of a stored entry, an index, a Merkle node
//! or a checkpoint, and `verify` (the real binary) must answer invalid, name
//! the seq, and exit 1. Also: edit an exported copy and verify it offline.

mod common;

use common::{raw2, s, with_raw, Env};
use pil_ledger::store::SledStore;
use pil_ledger_core::verify::LedgerVerifier;
use serde_json::Value;

/// A small ledger: genesis, prosecutor + assistant enrolments, 4 cases, an endorsement.
fn build() -> Env {
    let e = Env::new();
    e.init();
    let (p, _) = e.enroll("p.key", "prosecutor");
    let (a, _) = e.enroll("a.key", "assistant");
    for i in 0..4 {
        e.run(&["case", "open", "--key", s(&p), "--case", &format!("C-{i}"), "--title", "river"]).ok();
    }
    e.run(&["endorse", "--key", s(&a), "--seq", "3", "--capacity", "witness"]).ok();
    assert_eq!(e.run(&["--json", "verify"]).ok().json()["verdict"], "valid");
    e
}

/// Several complete lowest hash tiles (64 leaves each), which are stored;
/// the unfinished one is held in memory only (`storage.md` §2).
fn build_big() -> Env {
    let e = build();
    e.run(&["stress", "--allow-existing", "--count", "300", "--clients", "4"]).ok();
    assert_eq!(e.run(&["--json", "verify"]).ok().json()["verdict"], "valid");
    e
}

fn verify_invalid(e: &Env) -> Value {
    let r = e.run(&["--json", "verify"]);
    assert_eq!(r.code, 1, "verify should say invalid: {} {}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["verdict"], "invalid");
    v
}

fn has(v: &Value, code: &str, seq: Option<u64>) -> bool {
    v["reasons"].as_array().unwrap().iter().any(|r| r["code"] == code && seq.is_none_or(|s| r["seq"] == s))
}

#[test]
fn flipped_byte_in_a_signed_statement_is_caught_at_its_seq() {
    let e = build();
    with_raw(&e, |db| {
        let mut v = raw2::get_entry(db, 4);
        let n = v.len();
        v[n - 70] ^= 0x01; // inside the statement body, before the signature
        raw2::put_entry(db, 4, v);
    });
    let v = verify_invalid(&e);
    assert_eq!(v["first_bad_seq"], 4, "{v}");
    assert!(has(&v, "signature_invalid", Some(4)) || has(&v, "statement_not_canonical", Some(4)), "{v}");
    // the chain breaks at the next entry
    assert!(has(&v, "chain_broken", Some(5)), "{v}");
}

#[test]
fn flipped_signature_byte_is_caught() {
    let e = build();
    with_raw(&e, |db| {
        let mut v = raw2::get_entry(db, 2);
        let n = v.len();
        v[n - 1] ^= 0x80;
        raw2::put_entry(db, 2, v);
    });
    let v = verify_invalid(&e);
    assert_eq!(v["first_bad_seq"], 2);
    assert!(has(&v, "signature_invalid", Some(2)), "{v}");
}

#[test]
fn trailing_byte_on_an_entry_is_not_canonical() {
    let e = build();
    with_raw(&e, |db| {
        let mut v = raw2::get_entry(db, 5);
        v.push(0);
        raw2::put_entry(db, 5, v);
    });
    let v = verify_invalid(&e);
    assert!(has(&v, "entry_not_canonical", Some(5)), "{v}");
}

#[test]
fn tampered_last_entry_is_reported_not_a_crash() {
    let e = build();
    with_raw(&e, |db| {
        let last = raw2::last_seq(db);
        let mut v = raw2::get_entry(db, last);
        v[20] ^= 1; // inside prev
        raw2::put_entry(db, last, v);
    });
    let v = verify_invalid(&e);
    assert!(has(&v, "chain_broken", Some(7)), "{v}");
    // a normal open refuses the damaged ledger with a self-check error
    let r = e.run(&["--json", "entries"]);
    assert_eq!(r.code, 3);
    assert_eq!(r.err_json()["error"]["code"], "self_check_failed");
}

#[test]
fn index_record_tamper_is_caught_and_reindex_repairs_it() {
    let e = build();
    with_raw(&e, |db| {
        // the case record for C-2 (opened at seq 5)
        let mut k = vec![b'I', 4];
        k.extend_from_slice(b"C-2");
        let mut v = db.get(&k).unwrap().unwrap().to_vec();
        let n = v.len();
        v[n - 1] ^= 0x20;
        db.insert(k, v).unwrap();
    });
    let v = verify_invalid(&e);
    assert!(has(&v, "index_mismatch", Some(5)), "{v}");
    e.run(&["reindex"]).ok();
    assert_eq!(e.run(&["--json", "verify"]).ok().json()["verdict"], "valid");
}

#[test]
fn extra_index_record_is_caught() {
    let e = build();
    with_raw(&e, |db| {
        db.insert(b"I\x04forged-case", b"x".to_vec()).unwrap();
    });
    let v = verify_invalid(&e);
    assert!(has(&v, "index_mismatch", None), "{v}");
}

#[test]
fn merkle_node_tamper_is_caught() {
    let e = build_big();
    with_raw(&e, |db| {
        raw2::flip_node(db, 1, 1); // covers leaves 2..4
    });
    let v = verify_invalid(&e);
    assert!(has(&v, "merkle_node_mismatch", Some(2)), "{v}");
}

/// The unfinished lowest tile is only ever held in memory. A copy of it
/// stored as a tile must not count twice and hide as many nodes missing
/// elsewhere (here: the first tile cut to half its width).
#[test]
fn a_stored_copy_of_the_unfinished_tile_cannot_hide_missing_nodes() {
    use pil_ledger::store::Store;
    // 352 entries: the unfinished tile holds 32 leaves, exactly as many
    // nodes per level as cutting tile 0 to 32 removes.
    let e = build();
    e.run(&["stress", "--allow-existing", "--count", "340", "--clients", "4"]).ok();
    let st = SledStore::open(&e.data().join("ledger")).unwrap();
    assert_eq!(st.head().unwrap().unwrap().size, 352);
    let unstored = st.unstored_nodes();
    assert_eq!(unstored.iter().filter(|n| n.0 == 0).count(), 32);
    let tile = unstored[0].1 / 64;
    raw2::truncate_tile(&st.raw(), 0, 0, 32);
    raw2::store_lowest_tile(&st.raw(), tile, &unstored);
    st.raw().flush().unwrap();
    drop(st);
    let v = verify_invalid(&e);
    assert!(has(&v, "store_record_malformed", Some(tile * 64)), "{v}");
    assert!(has(&v, "merkle_node_mismatch", Some(32)), "the nodes cut from tile 0 are missing: {v}");
}

#[test]
fn checkpoint_tamper_is_caught() {
    let e = build();
    with_raw(&e, |db| {
        let mut k = vec![b'C'];
        k.extend_from_slice(&4u64.to_be_bytes());
        let note = String::from_utf8(db.get(&k).unwrap().unwrap().to_vec()).unwrap();
        let forged = note.replacen("\n4\n", "\n5\n", 1);
        db.insert(k, forged.into_bytes()).unwrap();
    });
    let v = verify_invalid(&e);
    assert!(has(&v, "checkpoint_signature_invalid", None), "{v}");
}

#[test]
fn rewritten_history_is_log_rewritten() {
    // Two ledgers with the same keys cannot be made; instead, splice: keep
    // every signature valid but replace a stored historic checkpoint with
    // one the log key signed for a different tree of the same size.
    let e = build();
    let log_key = pil_ledger::ledger::read_key_file(&e.data().join("keys/log.key")).unwrap();
    with_raw(&e, |db| {
        let cp = pil_ledger_core::note::Checkpoint {
            origin: "test.example/pil".into(),
            size: 3,
            root: [9; 32],
            extensions: vec![],
        };
        let mut k = vec![b'C'];
        k.extend_from_slice(&3u64.to_be_bytes());
        db.insert(k, cp.sign(&log_key).unwrap().into_bytes()).unwrap();
    });
    let v = verify_invalid(&e);
    assert!(has(&v, "log_rewritten", Some(2)), "{v}");
}

#[test]
fn edited_export_is_caught_offline() {
    let e = build();
    let export = e.run(&["entries"]).ok().stdout;
    let check = |text: &str| {
        let mut v = LedgerVerifier::new();
        for line in text.lines() {
            let l: Value = serde_json::from_str(line).unwrap();
            v.push(l["seq"].as_u64().unwrap(), &hex::decode(l["entry"].as_str().unwrap()).unwrap());
        }
        let note = e.run(&["checkpoint"]).ok().stdout;
        v.finish(&[(note.into_bytes(), true)], None)
    };
    assert_eq!(check(&export).verdict.as_str(), "valid");
    // flip one hex digit inside entry 6's statement
    let mut lines: Vec<String> = export.lines().map(str::to_string).collect();
    let mut l: Value = serde_json::from_str(&lines[6]).unwrap();
    let mut bytes = hex::decode(l["entry"].as_str().unwrap()).unwrap();
    bytes[100] ^= 0x04;
    l["entry"] = Value::String(hex::encode(bytes));
    lines[6] = l.to_string();
    let verdict = check(&lines.join("\n"));
    assert_eq!(verdict.verdict.as_str(), "invalid");
    assert_eq!(verdict.first_bad_seq, Some(6));
    assert!(verdict.reasons.iter().any(|r| r.code == "checkpoint_root_mismatch"));
}

#[test]
fn verify_against_a_trusted_vkey_and_kept_checkpoints() {
    let e = build();
    let vkey = e.run(&["vkey"]).ok().stdout.trim().to_string();
    // a checkpoint the court kept earlier: still extended by the log
    let kept = e.path("kept.note");
    std::fs::write(&kept, e.run(&["checkpoint", "--size", "4"]).ok().stdout).unwrap();
    let v = e.run(&["--json", "verify", "--vkey", &vkey, "--checkpoint", s(&kept)]).ok().json();
    assert_eq!(v["verdict"], "valid");
    // the server's key is not the one the court trusts
    let other = Env::new();
    let other_vkey = other.init();
    let r = e.run(&["--json", "verify", "--vkey", &other_vkey]);
    assert_eq!(r.code, 1);
    let v = r.json();
    assert!(has(&v, "log_key_mismatch", Some(0)), "{v}");
    assert!(has(&v, "checkpoint_signature_invalid", None), "{v}");
    // a kept checkpoint the log no longer extends (a different tree at size
    // 4, and a bigger tree than the log holds), both signed by the log key
    let log_key = pil_ledger::ledger::read_key_file(&e.data().join("keys/log.key")).unwrap();
    for (size, name) in [(4u64, "forked.note"), (50, "longer.note")] {
        let cp = pil_ledger_core::note::Checkpoint {
            origin: "test.example/pil".into(),
            size,
            root: [7; 32],
            extensions: vec![],
        };
        let p = e.path(name);
        std::fs::write(&p, cp.sign(&log_key).unwrap()).unwrap();
        let r = e.run(&["--json", "verify", "--checkpoint", s(&p)]);
        assert_eq!(r.code, 1, "{name}");
        assert!(has(&r.json(), "log_rewritten", None), "{name}: {}", r.stdout);
    }
    // a malformed vkey is refused, nothing checked
    let r = e.run(&["--json", "verify", "--vkey", "nonsense"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.err_json()["error"]["code"], "invalid_vkey");
}

// ---- malformed stored data: a verdict with reasons, never exit 3 or a panic

fn key(prefix: u8, rest: &[u8]) -> Vec<u8> {
    let mut k = vec![prefix];
    k.extend_from_slice(rest);
    k
}

#[test]
fn entry_key_one_byte_too_long_is_store_key_malformed() {
    let e = build();
    with_raw(&e, |db| {
        let (_, v) = raw2::bundle_record(db, 3);
        db.insert(key(b'B', &[0, 0, 0, 0, 0, 0, 0, 3, 0]), v).unwrap(); // 'B' + 9 bytes
    });
    let v = verify_invalid(&e);
    assert!(has(&v, "store_key_malformed", None), "{v}");
    // the well-formed entries are still all checked
    assert_eq!(v["entries"], 8, "{v}");
}

#[test]
fn node_key_of_two_bytes_is_store_key_malformed() {
    let e = build();
    with_raw(&e, |db| {
        db.insert(key(b'T', &[0, 1]), vec![0u8; 34]).unwrap(); // 'T' + 2 bytes
    });
    let v = verify_invalid(&e);
    assert!(has(&v, "store_key_malformed", None), "{v}");
}

#[test]
fn short_index_key_and_unknown_namespace_are_store_key_malformed() {
    for k in [vec![b'I'], vec![b'I', 0], vec![b'I', 200, b'x'], vec![b'I', 0xff, 1, 2]] {
        let e = build();
        with_raw(&e, |db| {
            db.insert(k.clone(), b"x".to_vec()).unwrap();
        });
        let v = verify_invalid(&e);
        assert!(has(&v, "store_key_malformed", None), "{k:?}: {v}");
    }
}

#[test]
fn tile_key_with_index_u64_max_or_stratum_255_is_reported_not_a_panic() {
    // A well-formed tile of width 1 (one node) at places no tree reaches.
    let mut one = vec![1u8, 0];
    one.extend_from_slice(&[1u8; 32]);
    for (stratum, tile) in [(0u8, u64::MAX), (0, u64::MAX >> 8), (3, 1), (7, 1), (8, 0), (255, u64::MAX)] {
        let e = build();
        with_raw(&e, |db| {
            db.insert(raw2::tile_key(stratum, tile), one.clone()).unwrap();
        });
        let v = verify_invalid(&e);
        assert!(has(&v, "merkle_node_mismatch", None), "({stratum}, {tile}): {v}");
    }
}

#[test]
fn hash_tile_of_the_wrong_length_is_store_record_malformed() {
    let e = build_big();
    with_raw(&e, |db| {
        let k = raw2::tile_key(0, 0);
        let mut v = db.get(&k).unwrap().unwrap().to_vec();
        v.pop();
        db.insert(k, v).unwrap();
    });
    let v = verify_invalid(&e);
    assert!(has(&v, "store_record_malformed", Some(0)), "{v}");
}

#[test]
fn entry_bundle_that_does_not_decode_is_store_record_malformed_at_its_first_seq() {
    let e = build();
    with_raw(&e, |db| {
        let (k, mut v) = raw2::bundle_record(db, 7);
        v.push(0xAA); // a trailing byte
        db.insert(k.clone(), v).unwrap();
    });
    let v = verify_invalid(&e);
    let first = v["reasons"].as_array().unwrap().iter().find(|r| r["code"] == "store_record_malformed").unwrap();
    assert!(first["seq"].as_u64().unwrap() <= 7, "{v}");
}

#[test]
fn head_record_that_does_not_decode_is_store_record_malformed() {
    let e = build();
    with_raw(&e, |db| {
        db.insert(b"H", b"not a head".to_vec()).unwrap();
    });
    let v = verify_invalid(&e);
    assert!(has(&v, "store_record_malformed", None), "{v}");
    // every entry is still replayed and the stored checkpoints still checked
    assert_eq!(v["entries"], 8, "{v}");
    assert!(!has(&v, "entry_beyond_head", None), "{v}");
}

#[test]
fn checkpoint_that_is_not_utf8_is_a_bad_checkpoint_not_an_io_error() {
    let e = build();
    with_raw(&e, |db| {
        let mut k = vec![b'C'];
        k.extend_from_slice(&3u64.to_be_bytes());
        db.insert(k, vec![0xff, 0xfe, 0x00]).unwrap();
    });
    let v = verify_invalid(&e);
    assert!(has(&v, "checkpoint_signature_invalid", None), "{v}");
}

#[test]
fn keys_with_unknown_prefixes_are_store_key_unknown() {
    for k in [b"Zebra".to_vec(), b"A".to_vec(), vec![0u8], b"h".to_vec(), b"Q\x00\x01".to_vec()] {
        let e = build();
        with_raw(&e, |db| {
            db.insert(k.clone(), b"x".to_vec()).unwrap();
        });
        let v = verify_invalid(&e);
        assert!(has(&v, "store_key_unknown", None), "{k:?}: {v}");
    }
}

#[test]
fn malformed_head_checkpoint_and_format_keys_are_store_key_malformed() {
    for k in [b"Hx".to_vec(), b"G\x00".to_vec(), key(b'C', &[1, 2]), b"Vv".to_vec()] {
        let e = build();
        with_raw(&e, |db| {
            db.insert(k.clone(), b"x".to_vec()).unwrap();
        });
        let v = verify_invalid(&e);
        assert!(has(&v, "store_key_malformed", None), "{k:?}: {v}");
    }
}

#[test]
fn more_than_a_hundred_malformed_keys_are_listed_up_to_the_cap_and_counted() {
    let e = build();
    with_raw(&e, |db| {
        for i in 0..150u16 {
            db.insert(key(b'Z', &i.to_be_bytes()), b"x".to_vec()).unwrap();
        }
    });
    let v = verify_invalid(&e);
    let listed = v["reasons"].as_array().unwrap().iter().filter(|r| r["code"] == "store_key_unknown").count();
    assert_eq!(listed, 100, "{v}");
    assert_eq!(v["more_reasons"], 50, "{v}");
}

#[test]
fn storage_format_record_of_the_wrong_length_is_store_record_malformed() {
    // Not a version any build writes (that would be a u32): damage, which a
    // read-only open lets verify report. A writable open refuses it.
    let e = build();
    with_raw(&e, |db| {
        db.insert(b"V", b"gar".to_vec()).unwrap();
    });
    let v = verify_invalid(&e);
    assert!(has(&v, "store_record_malformed", None), "{v}");
    assert!(SledStore::open(&e.data().join("ledger")).is_err());
}

#[test]
fn unknown_storage_format_is_refused_with_a_clear_error_not_judged() {
    let e = build();
    with_raw(&e, |db| {
        db.insert(b"V", &3u32.to_le_bytes()).unwrap();
    });
    let r = e.run(&["--json", "verify"]);
    assert_eq!(r.code, 3, "{} {}", r.stdout, r.stderr);
    let msg = r.err_json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("storage format 3"), "{msg}");
}

#[test]
fn an_entry_recorded_before_its_predecessor_is_clock_regressed() {
    let e = build();
    with_raw(&e, |db| {
        let mut bytes = raw2::get_entry(db, 3);
        bytes[42..50].copy_from_slice(&1u64.to_le_bytes());
        raw2::put_entry(db, 3, bytes);
    });
    let v = verify_invalid(&e);
    assert!(has(&v, "clock_regressed", Some(3)), "{v}");
}

#[test]
fn a_removed_head_is_head_missing_and_every_entry_is_still_checked() {
    let e = build();
    with_raw(&e, |db| {
        db.remove(b"H").unwrap();
    });
    let v = verify_invalid(&e);
    assert!(has(&v, "head_missing", None), "{v}");
    assert_eq!(v["entries"], 8, "{v}");
}

/// Rewrite the stored head record with `edit` applied, then `verify`.
fn verify_with_head(edit: impl FnOnce(&mut pil_ledger::store::Head)) -> Value {
    let e = build();
    with_raw(&e, |db| {
        let raw = db.get(b"H").unwrap().unwrap();
        let mut head: pil_ledger::store::Head =
            pil_ledger::core::wire::decode_canonical(&raw, pil_ledger::core::wire::MAX_ENTRY_BYTES).unwrap();
        edit(&mut head);
        db.insert(b"H", pil_ledger::core::wire::encode(&head)).unwrap();
    });
    verify_invalid(&e)
}

#[test]
fn a_head_naming_another_last_entry_is_head_mismatch() {
    let v = verify_with_head(|head| head.last_hash[0] ^= 1);
    assert!(has(&v, "head_mismatch", None), "{v}");
}

/// `verify` sizes its rebuild from the head's claim; a forged head claiming
/// u64::MAX entries must get a verdict, not an allocation failure.
#[test]
fn a_head_claiming_u64_max_entries_is_head_mismatch_not_an_abort() {
    let v = verify_with_head(|head| head.size = u64::MAX);
    assert!(has(&v, "head_mismatch", None), "{v}");
}

#[test]
fn a_store_with_every_entry_removed_is_empty_ledger() {
    let e = build();
    with_raw(&e, |db| {
        raw2::remove_all_entries(db);
    });
    let v = verify_invalid(&e);
    assert!(has(&v, "empty_ledger", None), "{v}");
}

/// What a damaged sled log can do on recovery: come back shorter, without
/// an error. Simulated by putting back an older copy of the store under a
/// ledger that has since acknowledged more entries.
#[test]
fn a_store_that_lost_acknowledged_entries_is_refused_and_verify_says_so() {
    let e = build();
    let old = e.path("older-store");
    common::copy_tree(&e.data().join("ledger"), &old);
    let (p, _) = e.enroll("late.key", "prosecutor");
    e.run(&["case", "open", "--key", s(&p), "--case", "C-late", "--title", "t"]).ok();
    std::fs::remove_dir_all(e.data().join("ledger")).unwrap();
    common::copy_tree(&old, &e.data().join("ledger"));
    let v = verify_invalid(&e);
    assert!(has(&v, "log_rewritten", None), "{v}");
    // Nothing may be appended over the lost entries, and the refusal says why.
    let r = e.run(&["--json", "case", "open", "--key", s(&p), "--case", "C-fork", "--title", "t"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(r.err_json()["error"]["code"], "self_check_failed");
    assert!(r.stderr.contains("acknowledged"), "{}", r.stderr);
}
