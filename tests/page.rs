//! The verification page's in-browser bundle check, driven in headless
//! Chromium (Debian's `chromium`). A ledger is built with the CLI, a bundle
//! exported, `serve` started, and the page loaded with the bundle in the URL
//! fragment (`#bundle=<base64url>`, never sent to the server); `--dump-dom`
//! gives the final DOM, whose `data-verdict` is the page's verdict. Skipped,
//! with a note on stderr, when `chromium` is not installed.

mod common;
mod http_support;

use std::path::Path;
use std::process::Command;

use base64::Engine;
use common::{s, Env};
use http_support::Server;
use serde_json::Value;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
}

const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--virtual-time-budget=15000",
];

/// The page at `url`'s DOM after it settled.
fn dump_dom(bin: &str, profile: &Path, url: &str) -> String {
    let out = Command::new(bin)
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", url])
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(dom.contains("</html>"), "chromium gave no DOM: {}", String::from_utf8_lossy(&out.stderr));
    dom
}

/// The value of `data-verdict` on the bundle verdict element.
fn verdict(dom: &str) -> String {
    let i = dom.find("id=\"bverdict\"").unwrap_or_else(|| panic!("no verdict element:\n{dom}"));
    let tag = &dom[dom[..i].rfind('<').unwrap()..];
    let tag = &tag[..tag.find('>').unwrap()];
    let v = tag.split("data-verdict=\"").nth(1).unwrap_or_else(|| panic!("no data-verdict: {tag}"));
    v[..v.find('"').unwrap()].to_string()
}

fn url(server: &Server, bundle: &Value) -> String {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(bundle).unwrap());
    server.url(&format!("/#bundle={b}"))
}

#[test]
fn the_page_checks_bundles_in_the_browser() {
    let Some(bin) = chromium() else {
        eprintln!("SKIPPED tests/page.rs: `chromium` is not installed (apt-get install -y chromium; .ci/run does it)");
        return;
    };
    let e = Env::new();
    let vkey = e.init();
    let (pros, _) = e.enroll("Li Si", "prosecutor");
    let (gone, gone_pk) = e.enroll("Sun Ba", "prosecutor");
    e.run(&["case", "open", "--key", s(&gone), "--case", "OLD-1", "--title", "earlier matter"]).ok();
    let o = e.officer();
    e.run(&["revoke", "--key", s(&o), "--pubkey", &gone_pk, "--reason", "left the unit"]).ok();
    e.run(&["case", "open", "--key", s(&pros), "--case", "（2026）京04民初9号", "--title", "Chaobai River discharge"])
        .ok();
    let out = e.path("case.json");
    e.run(&["bundle", "export", "--case", "（2026）京04民初9号", "--out", s(&out)]).ok();
    let good: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();

    // The Rust verifier's verdict on the same file, for comparison.
    let r = e.run(&["--json", "bundle", "verify", s(&out), "--vkey", &vkey]).ok().json();
    assert_eq!(r["verdict"], "valid", "{r}");

    let server = Server::start(&e, &[], &[]);
    let profile = e.path("chromium-profile");
    std::fs::create_dir_all(&profile).unwrap();

    let dom = dump_dom(bin, &profile, &url(&server, &good));
    assert_eq!(verdict(&dom), "valid", "{dom}");
    assert!(dom.contains("CaseOpened") && dom.contains("Li Si"), "entries table: {dom}");

    // One changed byte in an entry (a byte of its statement).
    let mut bad = good.clone();
    let hex = bad["entries"][0]["entry"].as_str().unwrap().to_string();
    let mut bytes = hex.into_bytes();
    let i = 2 * 70;
    bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
    bad["entries"][0]["entry"] = String::from_utf8(bytes).unwrap().into();
    let dom = dump_dom(bin, &profile, &url(&server, &bad));
    assert_eq!(verdict(&dom), "invalid", "{dom}");
    assert!(dom.contains("signature_invalid") || dom.contains("inclusion_proof_invalid"), "{dom}");

    // The revocation left out of the registry list.
    let mut dropped = good.clone();
    let reg = dropped["registry"].as_array_mut().unwrap();
    let before = reg.len();
    reg.retain(|x| {
        let b = hex::decode(x["entry"].as_str().unwrap()).unwrap();
        // KeyRevoked: body index 2 right after the statement header (wire-format.md §2).
        let st = &b[58..b.len() - 64];
        let o = u64::from_le_bytes(st[2..10].try_into().unwrap()) as usize;
        let c = u64::from_le_bytes(st[66 + o..74 + o].try_into().unwrap()) as usize;
        st[74 + o + c..78 + o + c] != [2, 0, 0, 0]
    });
    assert_eq!(reg.len(), before - 1, "the bundle's registry holds one revocation");
    let dom = dump_dom(bin, &profile, &url(&server, &dropped));
    assert_eq!(verdict(&dom), "invalid", "{dom}");
    assert!(dom.contains("registry_incomplete"), "{dom}");

    // A screenshot of the valid verdict, kept as an artefact; its failure fails nothing.
    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/page-valid.png");
    let r = Command::new(bin)
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--window-size=1000,1400", &format!("--screenshot={}", shot.display()), &url(&server, &good)])
        .output();
    match r {
        Ok(o) if o.status.success() && shot.exists() => eprintln!("screenshot: {}", shot.display()),
        _ => eprintln!("screenshot not taken (not a failure)"),
    }
}
