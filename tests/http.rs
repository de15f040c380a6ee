//! The HTTP API end to end through the real binary (`pil-ledger serve`):
//! statements built byte by byte from `schema/wire-format.md`, signed here,
//! submitted, read back and checked with the core's verifiers; the
//! prepare → sign → submit flow; resubmission; every error status; tokens;
//! file verification; the OpenAPI document against the router's table.
//! Load, shutdown and limits are in `tests/http_load.rs`.

mod common;
mod http_support;

use std::collections::BTreeSet;

use common::Env;
use ed25519_dalek::Signer;
use http_support::*;
use pil_ledger::core::merkle::{verify_consistency, verify_inclusion, Blake3Tree};
use pil_ledger::core::note::{Checkpoint, NoteVerifier};
use serde_json::{json, Value};

fn h32(v: &Value) -> [u8; 32] {
    hex::decode(v.as_str().unwrap()).unwrap().try_into().unwrap()
}

fn hashes(v: &Value) -> Vec<[u8; 32]> {
    v.as_array().unwrap().iter().map(h32).collect()
}

/// The log's verifier key and its latest checkpoint, from the public routes.
fn checkpoint(a: &ureq::Agent, s: &Server) -> (NoteVerifier, String, Checkpoint) {
    let vkey = NoteVerifier::parse(get(a, &s.url("/v1/vkey"), None).body.trim()).unwrap();
    let note = get(a, &s.url("/v1/checkpoint"), None).body;
    let cp = Checkpoint::open(note.as_bytes(), &vkey).unwrap();
    (vkey, note, cp)
}

#[test]
fn hand_built_statements_are_appended_proven_and_read_back() {
    let e = Env::new();
    e.init();
    let officer = read_key(&e.officer());
    let s = Server::start(&e, &[], &[]);
    let a = agent();
    let (vkey, _, cp0) = checkpoint(&a, &s);
    assert_eq!(cp0.size, 1);

    // The officer enrols a prosecutor: KeyEnrolled, byte by byte.
    let pros = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let body = key_enrolled(pros.verifying_key().as_bytes(), "Li Si", "Unit 1", &[1]);
    let st = statement(ORIGIN, officer.verifying_key().as_bytes(), random_nonce(), "", &body);
    let r = post_json(&a, &s.url("/v1/statements"), &submission(&st, &sign(&officer, &st)));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["seq"], 1);

    // The prosecutor opens a case.
    let case = "（2026）京04民初9号";
    let st = statement(
        ORIGIN,
        pros.verifying_key().as_bytes(),
        random_nonce(),
        case,
        &case_opened("Outfall", "ecology", "Unit 1"),
    );
    let sig = sign(&pros, &st);
    let r = post_json(&a, &s.url("/v1/statements"), &submission(&st, &sig));
    assert_eq!(r.status, 201, "{}", r.body);
    let ack = r.json();
    let seq = ack["seq"].as_u64().unwrap();
    assert_eq!(seq, 2);

    // The ack's proof leads to the root of the checkpoint it carries.
    let cp = Checkpoint::open(ack["checkpoint"].as_str().unwrap().as_bytes(), &vkey).unwrap();
    assert_eq!(cp.size, ack["size"].as_u64().unwrap());
    verify_inclusion(&Blake3Tree, seq, cp.size, &h32(&ack["hash"]), &hashes(&ack["proof"]), &cp.root).unwrap();

    // Read the entry back (token needed) and take its bytes apart by hand.
    let token = add_token(&e, "court clerk");
    let r = get(&a, &s.url(&format!("/v1/entries/{seq}")), Some(&token));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let entry = hex::decode(v["entry"].as_str().unwrap()).unwrap();
    assert_eq!(&entry[0..2], &[1, 0]);
    assert_eq!(u64::from_le_bytes(entry[2..10].try_into().unwrap()), seq);
    let len = u64::from_le_bytes(entry[50..58].try_into().unwrap()) as usize;
    assert_eq!(&entry[58..58 + len], &st[..], "the stored statement is the exact bytes signed");
    assert_eq!(&entry[58 + len..], &sig[..]);
    assert_eq!(entry.len(), 122 + st.len());
    let leaf = derive("pil-ledger v1 entry", &entry);
    assert_eq!(hex::encode(leaf), v["hash"].as_str().unwrap());
    assert_eq!(leaf, h32(&ack["hash"]));
    assert_eq!(v["statement"]["case_id"], case);
    assert_eq!(
        v["statement"]["body"],
        json!({"kind": "CaseOpened", "title": "Outfall", "area": "ecology", "unit": "Unit 1"})
    );

    // Inclusion proof against the latest checkpoint, from the public routes.
    let (_, _, head) = checkpoint(&a, &s);
    let r = get(&a, &s.url(&format!("/v1/proofs/inclusion/{seq}?size={}", head.size)), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let p = r.json();
    assert_eq!(h32(&p["leaf"]), leaf);
    verify_inclusion(&Blake3Tree, seq, head.size, &leaf, &hashes(&p["proof"]), &head.root).unwrap();
    // The first checkpoint is extended by the latest one.
    let r = get(&a, &s.url(&format!("/v1/proofs/consistency?old={}&size={}", cp0.size, head.size)), None);
    let c = r.json();
    assert_eq!((c["old"].as_u64(), c["size"].as_u64()), (Some(cp0.size), Some(head.size)));
    verify_consistency(&Blake3Tree, cp0.size, head.size, &cp0.root, &head.root, &hashes(&c["proof"])).unwrap();
    // Earlier checkpoints are kept and served exactly.
    let r = get(&a, &s.url("/v1/checkpoint?size=1"), None);
    assert_eq!(Checkpoint::open(r.body.as_bytes(), &vkey).unwrap().root, cp0.root);

    // The same bytes again: the original ack, 200.
    let r = post_json(&a, &s.url("/v1/statements"), &submission(&st, &sig));
    assert_eq!(r.status, 200, "{}", r.body);
    let again = r.json();
    assert_eq!(again["duplicate"], true);
    for k in ["seq", "hash", "checkpoint", "size", "proof"] {
        assert_eq!(again[k], ack[k], "{k}");
    }
    // The ids the entry created come back too: the original ack, exactly.
    let mut original = ack.clone();
    original["duplicate"] = json!(true);
    assert_eq!(again, original);

    // The page of entries shows the same objects.
    let r = get(&a, &s.url("/v1/entries?from=1&to=2"), Some(&token));
    let list = r.json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[1], v);
}

#[test]
fn prepare_sign_submit_and_the_body_round_trips() {
    let (e, pros) = ledger_with_prosecutor();
    let s = Server::start(&e, &["--public-read"], &[]);
    let a = agent();
    let body = json!({"kind": "CaseOpened", "title": "Landfill", "area": "ecology", "unit": "Unit 2"});
    let nonce = [9u8; 16];
    let req = json!({"author": hex::encode(pros.verifying_key().as_bytes()), "nonce": hex::encode(nonce), "case_id": "C-1", "body": body});
    let r = post_json(&a, &s.url("/v1/statements/prepare"), &req);
    assert_eq!(r.status, 200, "{}", r.body);
    let p = r.json();
    let st = hex::decode(p["statement"].as_str().unwrap()).unwrap();
    assert_eq!(hex::encode(derive("pil-ledger v1 statement", &st)), p["digest"].as_str().unwrap());
    // The canonical bytes, read by hand (wire-format.md §2).
    let o = ORIGIN.len();
    assert_eq!(&st[0..2], &[1, 0]);
    assert_eq!(u64::from_le_bytes(st[2..10].try_into().unwrap()) as usize, o);
    assert_eq!(&st[10..10 + o], ORIGIN.as_bytes());
    assert_eq!(&st[10 + o..42 + o], pros.verifying_key().as_bytes());
    let claimed = u64::from_le_bytes(st[42 + o..50 + o].try_into().unwrap());
    assert!(claimed.abs_diff(now_ms()) < 60_000);
    assert_eq!(&st[50 + o..66 + o], &nonce);
    assert_eq!(&st[66 + o..74 + o], &3u64.to_le_bytes());
    assert_eq!(&st[74 + o..77 + o], b"C-1");
    assert_eq!(&st[77 + o..81 + o], &5u32.to_le_bytes(), "CaseOpened is body index 5");

    let digest: [u8; 32] = h32(&p["digest"]);
    let sig = pros.sign(&digest).to_bytes();
    let r = post_json(&a, &s.url("/v1/statements"), &submission(&st, &sig));
    assert_eq!(r.status, 201, "{}", r.body);
    let seq = r.json()["seq"].as_u64().unwrap();
    // The body reads back in the very shape it was prepared from.
    let v = get(&a, &s.url(&format!("/v1/entries/{seq}")), None).json();
    assert_eq!(v["statement"]["body"], body);
    assert_eq!(v["statement"]["nonce"], hex::encode(nonce));

    // The same author and nonce with other bytes: 409 nonce_conflict.
    let mut req2 = req.clone();
    req2["body"]["title"] = json!("Landfill (amended)");
    let p2 = post_json(&a, &s.url("/v1/statements/prepare"), &req2).json();
    let st2 = hex::decode(p2["statement"].as_str().unwrap()).unwrap();
    let r = post_json(&a, &s.url("/v1/statements"), &submission(&st2, &sign(&pros, &st2)));
    assert_eq!((r.status, r.code().as_str()), (409, "nonce_conflict"), "{}", r.body);

    // Without a nonce the server makes one up; the case now exists: 409.
    let mut req3 = req.clone();
    req3.as_object_mut().unwrap().remove("nonce");
    let p3 = post_json(&a, &s.url("/v1/statements/prepare"), &req3).json();
    assert_ne!(p3["nonce"], json!(hex::encode(nonce)));
    let st3 = hex::decode(p3["statement"].as_str().unwrap()).unwrap();
    let r = post_json(&a, &s.url("/v1/statements"), &submission(&st3, &sign(&pros, &st3)));
    assert_eq!((r.status, r.code().as_str()), (409, "case_exists"), "{}", r.body);
}

#[test]
fn every_error_status_has_its_json_code() {
    let (e, pros) = ledger_with_prosecutor();
    let s = Server::start(&e, &[], &[]);
    let a = agent();
    let pk = pros.verifying_key().to_bytes();
    let url = s.url("/v1/statements");
    let good = statement(ORIGIN, &pk, random_nonce(), "C-2", &case_opened("t", "ecology", "u"));

    // 400: not JSON, wrong shape, bad hex, non-canonical bytes.
    let r = call(&a, "POST", &url, None, Some(b"{not json"));
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_json"));
    let r = post_json(&a, &url, &json!({"statement": "00"}));
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_json"));
    let r = post_json(&a, &url, &json!({"statement": "zz", "signature": "00"}));
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_argument"));
    let r = post_json(&a, &url, &json!({"statement": hex::encode(&good), "signature": "0011"}));
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_argument"));
    let mut trailing = good.clone();
    trailing.push(0);
    let r = post_json(&a, &url, &submission(&trailing, &sign(&pros, &trailing)));
    assert_eq!((r.status, r.code().as_str()), (400, "statement_not_canonical"));
    let r = post_json(&a, &s.url("/v1/statements/prepare"), &json!({"author": "00", "body": {"kind": "CaseOpened"}}));
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_json"));
    let bad_body = json!({"author": hex::encode(pk), "body": {"kind": "NoSuchKind"}});
    let r = post_json(&a, &s.url("/v1/statements/prepare"), &bad_body);
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_json"));
    let bad_key =
        json!({"author": "00".repeat(32), "body": {"kind": "CaseOpened", "title": "t", "area": "a", "unit": "u"}});
    let r = post_json(&a, &s.url("/v1/statements/prepare"), &bad_key);
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_key"));
    let r = get(&a, &s.url("/v1/proofs/inclusion/99"), None);
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_argument"));
    let r = get(&a, &s.url("/v1/proofs/inclusion/x"), None);
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_argument"));
    let r = get(&a, &s.url("/v1/proofs/consistency"), None);
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_argument"));

    // 403: a signature that does not verify.
    let mut sig = sign(&pros, &good);
    sig[5] ^= 1;
    let r = post_json(&a, &url, &submission(&good, &sig));
    assert_eq!((r.status, r.code().as_str()), (403, "signature_invalid"));
    // 422: well-formed, signed, refused by a rule (another ledger's origin).
    let other = statement("other.example/pil", &pk, random_nonce(), "C-3", &case_opened("t", "ecology", "u"));
    let r = post_json(&a, &url, &submission(&other, &sign(&pros, &other)));
    assert_eq!((r.status, r.code().as_str()), (422, "wrong_origin"));

    // 413: a JSON body over the limit (256 KiB by default).
    let big = json!({"statement": "00".repeat(200 * 1024), "signature": "00"});
    let r = post_json(&a, &url, &big);
    assert_eq!((r.status, r.code().as_str()), (413, "body_too_large"));

    // 404s, with a token.
    let t = add_token(&e, "reader");
    let r = get(&a, &s.url("/v1/entries/999"), Some(&t));
    assert_eq!((r.status, r.code().as_str()), (404, "unknown_entry"));
    let r = get(&a, &s.url("/v1/cases/NO-SUCH-CASE"), Some(&t));
    assert_eq!((r.status, r.code().as_str()), (404, "unknown_case"));
    let r = get(&a, &s.url("/v1/evidence/EV-0000-0000"), Some(&t));
    assert_eq!((r.status, r.code().as_str()), (404, "unknown_evidence"));
    let r = get(&a, &s.url(&format!("/v1/evidence?digest=blake3:{}", "ab".repeat(32))), Some(&t));
    assert_eq!((r.status, r.code().as_str()), (404, "unknown_evidence"));
    let r = get(&a, &s.url("/v1/evidence?digest=blake3:xyz"), Some(&t));
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_argument"));
    let r = get(&a, &s.url("/v1/checkpoint?size=999"), None);
    assert_eq!((r.status, r.code().as_str()), (404, "no_checkpoint"));
    let r = get(&a, &s.url("/v1/nothing/here"), None);
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
    let r = call(&a, "DELETE", &s.url("/v1/checkpoint"), None, None);
    assert_eq!((r.status, r.code().as_str()), (405, "method_not_allowed"));

    // Nothing refused was appended: the tree still holds genesis + enrolment.
    let (_, _, cp) = checkpoint(&a, &s);
    assert_eq!(cp.size, 2);
}

#[test]
fn tokens_missing_wrong_revoked_and_public_read() {
    let e = Env::new();
    e.init();
    let mut s = Server::start(&e, &[], &[]);
    let a = agent();
    let url = s.url("/v1/entries/0");
    let r = get(&a, &url, None);
    assert_eq!((r.status, r.code().as_str()), (401, "unauthenticated"));
    let r = call(&a, "GET", &url, None, None);
    assert_eq!(r.status, 401);
    let r = get(&a, &url, Some("pilt-00"));
    assert_eq!((r.status, r.code().as_str()), (403, "forbidden_token"));
    // Public routes need nothing.
    for p in ["/v1/checkpoint", "/v1/vkey", "/v1/proofs/inclusion/0", "/v1/openapi.json", "/"] {
        assert_eq!(get(&a, &s.url(p), None).status, 200, "{p}");
    }

    // Tokens are managed while the server holds the ledger.
    let t = add_token(&e, "auditor");
    assert_eq!(get(&a, &url, Some(&t)).status, 200);
    let stored = std::fs::read_to_string(e.data().join("tokens.json")).unwrap();
    assert!(!stored.contains(&t[5..]), "only the token's hash is stored");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(e.data().join("tokens.json")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let r = e.run(&["--json", "token", "add", "--name", "auditor"]);
    assert_eq!((r.code, r.err_json()["error"]["code"].as_str()), (2, Some("token_exists")));
    e.run(&["token", "revoke", "--name", "auditor"]).ok();
    let r = get(&a, &url, Some(&t));
    assert_eq!((r.status, r.code().as_str()), (403, "token_revoked"));
    let r = e.run(&["--json", "token", "revoke", "--name", "auditor"]);
    assert_eq!((r.code, r.err_json()["error"]["code"].as_str()), (2, Some("unknown_token")));
    let list = e.run(&["--json", "token", "list"]).ok();
    let v: Value = serde_json::from_str(list.stdout.trim()).unwrap();
    assert_eq!(v["name"], "auditor");
    assert!(v["revoked_ms"].is_u64());
    let t2 = add_token(&e, "auditor");
    assert_eq!(get(&a, &url, Some(&t2)).status, 200, "a name is free again once revoked");

    // While serve holds the ledger, a local command says so and names --server;
    // `checkpoint` alone still answers, from the acknowledged note kept beside
    // the store (no store to open).
    let cp = e.run(&["--json", "checkpoint"]).ok().json();
    assert!(cp["size"].as_u64().unwrap() >= 1, "{cp}");
    let r = e.run(&["--json", "entries"]);
    assert_eq!(r.code, 3);
    let err = r.err_json();
    assert_eq!(err["error"]["code"], "ledger_busy");
    assert!(err["error"]["message"].as_str().unwrap().contains("--server"), "{err}");

    assert_eq!(s.terminate(), 0);
    let s = Server::start(&e, &["--public-read"], &[]);
    let r = get(&a, &s.url("/v1/entries/0"), None);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn verify_file_streams_and_lookups_match_the_cli() {
    let e = Env::new();
    e.init();
    let (pros, _) = e.enroll("Li Si", "prosecutor");
    let case = "（2026）京04民初11号";
    let p = common::s(&pros);
    e.run(&["case", "open", "--key", p, "--case", case, "--title", "River discharge"]).ok();
    let f = e.path("photo.jpg");
    std::fs::write(&f, b"a photograph of outfall 3".repeat(1000)).unwrap();
    let add = e.run(&["--json", "evidence", "add", "--key", p, "--case", case, "--file", common::s(&f)]).ok().json();
    let id = add["evidence_id"].as_str().unwrap().to_string();
    let cli_verdict: Value = serde_json::from_str(&e.run(&["--json", "verify-file", common::s(&f)]).stdout).unwrap();
    let cli_item = e.run(&["--json", "evidence", "show", &id]).ok().json();
    let cli_case = e.run(&["--json", "case", "show", case]).ok().json();

    let s = Server::start(&e, &[], &[]);
    let a = agent();
    let bytes = std::fs::read(&f).unwrap();
    let r = call(&a, "POST", &s.url("/v1/verify/file"), None, Some(&bytes));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v, cli_verdict, "the HTTP verdict is the CLI's");
    assert_ne!(v["verdict"], "invalid");
    assert_eq!(v["evidence_id"], json!(id));

    // Unknown bytes, larger than any JSON limit, streamed: invalid.
    let unknown: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let r = call(&a, "POST", &s.url("/v1/verify/file"), None, Some(&unknown));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["verdict"], "invalid");
    assert_eq!(v["reasons"][0]["code"], "digest_unknown");

    // Look-ups answer what the CLI prints.
    let t = add_token(&e, "clerk");
    let item = get(&a, &s.url(&format!("/v1/evidence/{id}")), Some(&t)).json();
    assert_eq!(item, cli_item);
    let digest = format!("blake3:{}", blake3::hash(&bytes).to_hex());
    assert_eq!(get(&a, &s.url(&format!("/v1/evidence?digest={digest}")), Some(&t)).json(), cli_item);
    let enc: String = case.bytes().map(|b| format!("%{b:02X}")).collect();
    assert_eq!(get(&a, &s.url(&format!("/v1/cases/{enc}")), Some(&t)).json(), cli_case);
    let r = get(&a, &s.url(&format!("/v1/cases/{enc}")), None);
    assert_eq!(r.status, 401);
}

#[test]
fn openapi_lists_every_route_and_every_path_is_routed() {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema/openapi.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.1")), Some(true));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> =
        pil_ledger::server::ROUTES.iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
    assert_eq!(routed.len(), pil_ledger::server::ROUTES.len(), "a route is listed twice");
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(undocumented.is_empty(), "routes missing from schema/openapi.json: {undocumented:?}");
    assert!(unrouted.is_empty(), "paths in schema/openapi.json that no route serves: {unrouted:?}");
    // Token routes say so in the document.
    for r in pil_ledger::server::ROUTES {
        let op = &doc["paths"][r.path][r.method.to_lowercase()];
        let needs = op["security"].as_array().is_some_and(|s| !s.is_empty());
        assert_eq!(needs, r.access == pil_ledger::server::Access::Token, "{} {}", r.method, r.path);
    }

    // The server serves that very document, and the page.
    let e = Env::new();
    e.init();
    let s = Server::start(&e, &[], &[]);
    let a = agent();
    let served: Value = get(&a, &s.url("/v1/openapi.json"), None).json();
    assert_eq!(served, doc);
    let page = get(&a, &s.url("/"), None);
    assert!(page.content_type.unwrap().starts_with("text/html"));
    assert!(page.body.contains("/v1/verify/file") && page.body.contains("电子证据核验"));
    assert!(!page.body.contains("http://") && !page.body.contains("https://"), "the page loads nothing from outside");
}

#[test]
fn a_bundle_exported_over_http_verifies_over_http_and_one_changed_byte_does_not() {
    let e = Env::new();
    e.init();
    let (pros, _) = e.enroll("Li Si", "prosecutor");
    let p = common::s(&pros);
    let case = "（2026）京04民初12号";
    e.run(&["case", "open", "--key", p, "--case", case, "--title", "River discharge"]).ok();
    let vkey = e.run(&["vkey"]).ok().stdout.trim().to_string();
    let s = Server::start(&e, &["--public-read"], &[]);
    let a = agent();
    let bundle = post_json(&a, &s.url("/v1/bundles"), &json!({"case": [case]}));
    assert_eq!(bundle.status, 200, "{}", bundle.body);
    let bytes = bundle.body.as_bytes().to_vec();
    // The same bundle verifies offline with the CLI.
    let file = e.path("case.bundle.json");
    std::fs::write(&file, &bytes).unwrap();
    let offline = e.run(&["--json", "bundle", "verify", common::s(&file), "--vkey", &vkey]);
    assert_eq!(offline.code, 0, "{}", offline.stderr);
    let url = s.url(&format!("/v1/verify/bundle?vkey={}", vkey.replace('+', "%2B")));
    let ok = call(&a, "POST", &url, None, Some(&bytes));
    assert_eq!((ok.status, ok.json()["verdict"].as_str().unwrap()), (200, "valid"), "{}", ok.body);
    // One changed byte in the checkpoint's root.
    let mut v: Value = serde_json::from_slice(&bytes).unwrap();
    let cp = v["checkpoint"].as_str().unwrap().to_string();
    let lines: Vec<&str> = cp.lines().collect();
    let mut root = lines[2].to_string();
    root.replace_range(0..1, if root.starts_with('A') { "B" } else { "A" });
    v["checkpoint"] = json!(cp.replacen(lines[2], &root, 1));
    let bad = call(&a, "POST", &url, None, Some(v.to_string().as_bytes()));
    assert_eq!((bad.status, bad.json()["verdict"].as_str().unwrap()), (200, "invalid"), "{}", bad.body);
    // Not a bundle at all.
    let junk = call(&a, "POST", &url, None, Some(b"{\"format\":\"nope\"}"));
    assert_eq!((junk.status, junk.code()), (400, "invalid_bundle".to_string()));
}
