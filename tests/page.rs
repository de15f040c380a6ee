//! The verification page's in-browser bundle check, driven in headless
//! Chromium (Debian's `chromium`). A ledger is built with the CLI, a bundle
//! with its original evidence files exported, `serve` started, and the page
//! loaded: with the bundle in the URL fragment (`#bundle=<base64url>`, never
//! sent to the server), `--dump-dom` gives the final DOM, whose
//! `data-verdict` is the page's verdict; and, for the tamper matrix, the
//! served page once, with a script that runs every case through its
//! `window.pilVerifyBundle` and writes the outcomes into the DOM, each
//! compared with the Rust verifier's. Skipped, with a note on stderr, when
//! `chromium` is not installed.

mod bundle_support;
mod common;
mod http_support;
mod page_support;

use std::path::Path;
use std::process::Command;

use base64::Engine;
use bundle_support::*;
use common::s;
use http_support::Server;
use page_support::*;
use pil_ledger::core::note::NoteVerifier;
use serde_json::Value;

fn url(server: &Server, bundle: &Value, kept: Option<&str>) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let mut frag = format!("/#bundle={}", b64(&serde_json::to_vec(bundle).unwrap()));
    if let Some(k) = kept {
        frag.push_str(&format!("&kept={}", b64(k.as_bytes())));
    }
    server.url(&frag)
}

#[test]
fn the_page_checks_bundles_in_the_browser() {
    let Some(bin) = chromium() else {
        eprintln!("SKIPPED tests/page.rs: `chromium` is not installed (apt-get install -y chromium; .ci/run does it)");
        return;
    };
    let w = world();
    let good = load(&full_bundle(&w));
    let kept = std::fs::read_to_string(&w.kept).unwrap();
    // The Rust verifier's verdict on the same file, for comparison.
    let r = verify_offline(&full_bundle(&w), &w.vkey, &["--checkpoint", s(&w.kept)]).ok().json();
    assert_eq!((r["verdict"].as_str(), errors(&r).len()), (Some("valid-with-warnings"), 0), "{r}");

    // (exported before serve holds the ledger)
    let old = load(&export(&w, "old.json", &["--seq", &w.by_revoked.to_string()]));
    let server = Server::start(&w.e, &[], &[]);
    let profile = w.e.path("chromium-profile");
    std::fs::create_dir_all(&profile).unwrap();

    let dom = dump_dom(bin, &profile, &url(&server, &good, Some(&kept)));
    assert_eq!(verdict(&dom), "valid-with-warnings", "{dom}");
    let html = shown(&dom);
    for want in ["EvidenceRegistered", "CustodyReceived", "Li Si", "Qian Qi", &w.evidence, &w.evidence2] {
        assert!(html.contains(want), "{want} not on the page: {html}");
    }
    assert_eq!(html.matches("is the registered file").count(), 2, "{html}");
    assert!(!html.contains("is NOT the registered file") && !html.contains("错误 / error"), "{html}");
    assert!(html.contains("<code>solo_officer_appointment</code>"), "the one warning: {html}");

    // One changed byte in an entry (a byte of its statement).
    let mut bad = good.clone();
    let hex = bad["entries"][0]["entry"].as_str().unwrap().to_string();
    let mut bytes = hex.into_bytes();
    let i = 2 * 70;
    bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
    bad["entries"][0]["entry"] = String::from_utf8(bytes).unwrap().into();
    let dom = dump_dom(bin, &profile, &url(&server, &bad, None));
    assert_eq!(verdict(&dom), "invalid", "{dom}");
    let html = shown(&dom);
    assert!(
        html.contains("<code>signature_invalid</code>") && html.contains("<code>inclusion_proof_invalid</code>"),
        "{html}"
    );

    // One changed byte of a carried file.
    let mut bad = good.clone();
    let mut photo = PHOTO.to_vec();
    photo[4] ^= 1;
    bad["files"][0]["data"] = base64::engine::general_purpose::STANDARD.encode(&photo).into();
    let dom = dump_dom(bin, &profile, &url(&server, &bad, None));
    assert_eq!(verdict(&dom), "invalid", "{dom}");
    let html = shown(&dom);
    assert!(
        html.contains("<code>file_digest_mismatch</code>") && html.contains("is NOT the registered file"),
        "{html}"
    );

    // The revocation left out of the registry list of a bundle of an entry by the revoked key.
    let mut dropped = old;
    let reg = dropped["registry"].as_array_mut().unwrap();
    let before = reg.len();
    reg.retain(|e| e["seq"] != w.revocation);
    assert_eq!(reg.len(), before - 1, "the bundle's registry holds the revocation");
    let dom = dump_dom(bin, &profile, &url(&server, &dropped, None));
    assert_eq!(verdict(&dom), "invalid", "{dom}");
    assert!(shown(&dom).contains("<code>registry_incomplete</code>"), "{}", shown(&dom));

    // A kept checkpoint of another log is refused as input, not judged.
    let other = common::Env::new();
    other.init();
    let foreign = other.run(&["checkpoint"]).ok().stdout;
    let dom = dump_dom(bin, &profile, &url(&server, &good, Some(&foreign)));
    assert_eq!(verdict(&dom), "refused", "{dom}");
    assert!(shown(&dom).contains("invalid_argument"), "{}", shown(&dom));

    // A screenshot of the valid verdict, kept as an artefact; its failure fails nothing.
    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/page-valid.png");
    let r = Command::new(bin)
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args([
            "--window-size=1000,1800",
            &format!("--screenshot={}", shot.display()),
            &url(&server, &good, Some(&kept)),
        ])
        .output();
    match r {
        Ok(o) if o.status.success() && shot.exists() => eprintln!("screenshot: {}", shot.display()),
        _ => eprintln!("screenshot not taken (not a failure)"),
    }
}

/// The tamper matrix of tests/bundle.rs, the forged registries, kept
/// checkpoints, names, SM3 and consistency proofs, all through the page's
/// own JavaScript in one page load, each outcome equal to the Rust one.
#[test]
fn the_pages_verifier_agrees_with_the_rust_verifier_on_every_tampered_bundle() {
    let Some(bin) = chromium() else {
        eprintln!("SKIPPED tests/page.rs: `chromium` is not installed (apt-get install -y chromium; .ci/run does it)");
        return;
    };
    let w = world();
    let good = load(&full_bundle(&w));
    let vk = NoteVerifier::parse(&w.vkey).unwrap();
    let kept = std::fs::read_to_string(&w.kept).unwrap();
    let mut cases: Vec<JsCase> = Vec::new();
    cases.push(JsCase::new("honest", &good, &w.vkey, Some(&kept), &vk));
    let matrix = mutations(&good);
    for c in &matrix {
        cases.push(JsCase::mutation(c, &w.vkey, Some(&kept), &vk));
    }
    // kept checkpoints: none, the bundle's own, another log's, one newer than the bundle
    let own = good["checkpoint"].as_str().unwrap().to_string();
    let other = common::Env::new();
    other.init();
    let foreign = other.run(&["checkpoint"]).ok().stdout;
    w.e.enroll("Wu Shi", "auditor");
    let newer = w.e.run(&["checkpoint"]).ok().stdout;
    for (name, k) in [
        ("no kept checkpoint", None),
        ("kept = its own", Some(&own)),
        ("kept of another log", Some(&foreign)),
        ("kept newer", Some(&newer)),
    ] {
        cases.push(JsCase::new(name, &good, &w.vkey, k.map(|x| x.as_str()), &vk));
    }
    let mut no_proof = good.clone();
    no_proof.as_object_mut().unwrap().remove("consistency");
    cases.push(JsCase::new("no consistency proof for the kept", &no_proof, &w.vkey, Some(&kept), &vk));
    // registries the rules refuse
    let fvk = bundle_support::forge::vkey();
    for sc in bundle_support::forge::scenarios() {
        let b = serde_json::to_value(&sc.bundle).unwrap();
        cases.push(JsCase::new(sc.name, &b, &fvk.to_vkey_string(), None, &fvk).with_reasons());
    }
    let refused = cases.iter().filter(|c| c.rust.verdict == "refused").count();
    let extras = Extras::new();

    let server = Server::start(&w.e, &[], &[]);
    let page = http_support::get(&http_support::agent(), &server.url("/"), None);
    assert_eq!(page.status, 200);
    let started = std::time::Instant::now();
    let out = run_in_page(bin, &w.e.path("chromium-matrix"), &page.body, &good, &cases, &extras);
    eprintln!(
        "page matrix: {} bundles ({} tampered, {} refused as input) in {:.1?}",
        cases.len(),
        matrix.len(),
        refused,
        started.elapsed()
    );
    let answers = out["cases"].as_array().unwrap();
    assert_eq!(answers.len(), cases.len());
    let differ: Vec<String> = cases.iter().zip(answers).filter_map(|(c, js)| c.differs(js)).collect();
    assert!(differ.is_empty(), "{} of {} differ:\n{}", differ.len(), cases.len(), differ.join("\n"));
    // and so every tamper is detected in the browser, as the Rust matrix asserts for Rust
    for (c, m) in cases[1..].iter().zip(&matrix) {
        if m.kind == Kind::Tamper {
            assert!(c.rust.verdict == "invalid" || c.rust.verdict == "refused", "{}", c.name);
        }
    }
    extras.check(&out);
}
