//! Driving the page in headless Chromium for tests/page.rs: `--dump-dom` of
//! a URL, and one load of the served page with a script that runs many
//! bundles (and a few primitives) through its JavaScript and writes the
//! outcomes into the DOM.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use pil_ledger::core::digest::{hash_bytes, DigestAlg};
use pil_ledger::core::hash;
use pil_ledger::core::merkle::{self, Blake3Tree, MemTree};
use pil_ledger::core::names;
use pil_ledger::core::note::NoteVerifier;
use serde_json::{json, Value};

use crate::bundle_support::{judge, Case, Outcome};

pub fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
}

pub const FLAGS: &[&str] = &[
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
pub fn dump_dom(bin: &str, profile: &Path, url: &str) -> String {
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
pub fn verdict(dom: &str) -> String {
    let i = dom.find("id=\"bverdict\"").unwrap_or_else(|| panic!("no verdict element:\n{dom}"));
    let tag = &dom[dom[..i].rfind('<').unwrap()..];
    let tag = &tag[..tag.find('>').unwrap()];
    let v = tag.split("data-verdict=\"").nth(1).unwrap_or_else(|| panic!("no data-verdict: {tag}"));
    v[..v.find('"').unwrap()].to_string()
}

/// The rendered bundle verdict: the `<div id="bundle">` element (the DOM
/// also holds the page's scripts, which name every code and phrase).
pub fn shown(dom: &str) -> &str {
    let start = dom.find("<div id=\"bundle\"").unwrap_or_else(|| panic!("no bundle element:\n{dom}"));
    let end = start + dom[start..].find("<details id=\"raw\"").expect("the raw answer follows the bundle");
    &dom[start..end]
}

/// One bundle for the page, with the Rust verifier's outcome on it.
pub struct JsCase {
    pub name: String,
    /// `{"text"}`, or `{"base", "change"}`: a change the page makes to the
    /// base bundle itself, as the Rust matrix made it.
    input: Value,
    pub rust: Outcome,
    /// `(code, seq)` of every reason, errors and warnings, when compared.
    rust_reasons: Option<Vec<(String, Option<u64>)>>,
}

fn reasons_of(v: &Value) -> Vec<(String, Option<u64>)> {
    let mut r: Vec<(String, Option<u64>)> = v["reasons"]
        .as_array()
        .map(|a| a.iter().map(|x| (x["code"].as_str().unwrap().to_string(), x["seq"].as_u64())).collect())
        .unwrap_or_default();
    r.sort();
    r.dedup();
    r
}

impl JsCase {
    pub fn new(name: &str, bundle: &Value, vkey: &str, kept: Option<&str>, vk: &NoteVerifier) -> JsCase {
        let rust = judge(bundle, vk, kept.map(str::as_bytes));
        let input = json!({"text": bundle.to_string(), "vkey": vkey, "kept": kept});
        JsCase { name: name.into(), input, rust, rust_reasons: None }
    }

    /// A case of the matrix: the page applies `c`'s change to base bundle 0.
    pub fn mutation(c: &Case, vkey: &str, kept: Option<&str>, vk: &NoteVerifier) -> JsCase {
        let rust = judge(&c.bundle, vk, kept.map(str::as_bytes));
        let input = json!({"base": 0, "change": c.op.to_json(&c.path), "vkey": vkey, "kept": kept});
        JsCase { name: c.name.clone(), input, rust, rust_reasons: None }
    }

    /// Compare every reason's code and seq too (warnings included).
    pub fn with_reasons(mut self) -> JsCase {
        let text = self.input["text"].as_str().unwrap().to_string();
        let vk = NoteVerifier::parse(self.input["vkey"].as_str().unwrap()).unwrap();
        let v = pil_ledger::core::bundle::verify_bundle(text.as_bytes(), &vk, None).unwrap();
        self.rust_reasons = Some(reasons_of(&serde_json::to_value(v).unwrap()));
        self
    }

    /// Where the page's answer `js` differs from Rust's, if it does.
    pub fn differs(&self, js: &Value) -> Option<String> {
        let got = Outcome::from_json(js);
        if got != self.rust {
            return Some(format!("{}:\n  rust {:?}\n  page {:?} {}", self.name, self.rust, got, js["error"]));
        }
        match &self.rust_reasons {
            Some(want) if *want != reasons_of(js) => {
                Some(format!("{}:\n  rust {want:?}\n  page {:?}", self.name, reasons_of(js)))
            }
            _ => None,
        }
    }
}

/// Primitives checked beside the bundles: SM3, names, consistency and
/// inclusion proofs, each against the Rust implementation.
pub struct Extras {
    payload: Value,
    sm3: Vec<String>,
    names: Vec<(String, String)>,
    consistency: Vec<bool>,
    inclusion: Vec<bool>,
}

/// Holder names: ordinary, look-alike, invisible, mixed-script, long.
pub const NAMES: &[&str] = &[
    "Wang Wu",
    "wang  wu",
    "Ｗａｎｇ Ｗｕ",
    "W\u{430}ng Wu",
    "Cox",
    "Сох",
    "王五",
    "王五 Wang Wu",
    "Иван Петров",
    "阿卜杜·热合曼",
    "O'Brien-Smith",
    "Wang\u{200b}Wu",
    "\u{202e}uW gnaW",
    "  ",
    "Ἀθηνᾶ",
    "ﬁnn",
    "İstanbul",
    "ΟΔΥΣΣΕΥΣ",
    "Straße",
    "Zoë",
    "Nguyễn Văn A",
    "김민준",
    "山田 太郎",
    "やまだ",
    "ヤマダ Taro",
    "Ab\u{301}c",
    "ᏣᎳᎩ",
    "𝐀lice",
    "A\u{217c}ice",
    "Ali\u{ad}ce",
    "Raj\u{200d}esh",
    "Ｌｉ\u{3000}Ｓｉ",
    "Li\u{a0}Si",
    "Ⓐnna",
    "Li\tSi",
    "Müller",
    "Ø. Hansen",
    "Zhao\u{fe0f}",
    "ⅯⅠⅬⅬ",
    "Dž",
    "Ꭰavid",
    "Jоhn",
    "Ѕam",
    "Li Si\u{e0041}",
];

impl Extras {
    pub fn new() -> Extras {
        // SM3: the two examples of GB/T 32905-2016 (checked here too), edge lengths, 1 MiB
        let mut inputs: Vec<Vec<u8>> = vec![b"abc".to_vec(), b"abcd".repeat(16), Vec::new()];
        for n in [1, 55, 56, 63, 64, 65, 119, 120, 128, 1000] {
            inputs.push((0..n).map(|i| (i * 7 + 3) as u8).collect());
        }
        inputs.push((0..1u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect());
        let sm3: Vec<String> = inputs.iter().map(|b| hex::encode(hash_bytes(DigestAlg::Sm3, b))).collect();
        assert_eq!(sm3[0], "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
        assert_eq!(sm3[1], "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
        let names: Vec<(String, String)> = NAMES
            .iter()
            .map(|n| {
                let check = match names::check_name("holder", n) {
                    Ok(()) => "ok",
                    Err(names::NameError::Empty(_)) => "missing_field",
                    Err(_) => "invalid_name",
                };
                (names::identity(n), check.to_string())
            })
            .collect();
        let long = "x".repeat(201);
        let mut all_names: Vec<&str> = NAMES.to_vec();
        all_names.push(&long);
        let mut names = names;
        names.push((names::identity(&long), "invalid_name".into()));
        // Merkle proofs over trees of 1..=20 leaves, honest and changed; the
        // expected answer is the Rust verifier's (and the honest ones hold).
        let mut tree = MemTree::new(Blake3Tree);
        let (mut cons, mut cons_want, mut incl, mut incl_want) = (vec![], vec![], vec![], vec![]);
        let hexes = |p: &[[u8; 32]]| p.iter().map(hex::encode).collect::<Vec<_>>();
        for n in 1..=20u64 {
            tree.push(hash::entry_hash(&n.to_le_bytes()));
            let rn = tree.root_at(n).unwrap();
            for m in 1..=n {
                let proof = tree.consistency_proof(m, n).unwrap();
                let rm = tree.root_at(m).unwrap();
                let mut bad = proof.clone();
                if let Some(h) = bad.first_mut() {
                    h[31] ^= 1;
                }
                let short = proof[..proof.len().saturating_sub(1)].to_vec();
                let mut longer = proof.clone();
                longer.push(rm);
                let mut variants = vec![(m, rm, proof.clone()), (m, rm, bad), (m, rm, short), (m, rm, longer)];
                variants.extend([
                    (m + 1, rm, proof.clone()),
                    (m, rn, proof.clone()),
                    (m.saturating_sub(1), rm, proof.clone()),
                ]);
                for (k, (mm, r, p)) in variants.into_iter().enumerate() {
                    let ok = merkle::verify_consistency(&Blake3Tree, mm, n, &r, &rn, &p).is_ok();
                    assert!(k > 0 || ok, "honest consistency proof {m} -> {n}");
                    cons.push(
                        json!({"m": mm, "n": n, "rm": hex::encode(r), "rn": hex::encode(rn), "proof": hexes(&p)}),
                    );
                    cons_want.push(ok);
                }
                let i = m - 1;
                let leaf = hash::entry_hash(&(i + 1).to_le_bytes());
                let p = tree.inclusion_proof(i, n).unwrap();
                for (k, ii) in [i, (i + 1) % n, i + n].into_iter().enumerate() {
                    let ok = merkle::verify_inclusion(&Blake3Tree, ii, n, &leaf, &p, &rn).is_ok();
                    assert!(k > 0 || ok, "honest inclusion proof {i} in {n}");
                    incl.push(json!({"i": ii, "n": n, "leaf": hex::encode(leaf), "root": hex::encode(rn), "proof": hexes(&p)}));
                    incl_want.push(ok);
                }
            }
        }
        let inputs_hex: Vec<String> = inputs.iter().map(hex::encode).collect();
        let payload = json!({"sm3": inputs_hex, "names": all_names, "consistency": cons, "inclusion": incl});
        Extras { payload, sm3, names, consistency: cons_want, inclusion: incl_want }
    }

    pub fn check(&self, out: &Value) {
        let sm3: Vec<&str> = out["sm3"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
        assert_eq!(sm3, self.sm3, "SM3 in the page");
        let names = out["names"].as_array().unwrap();
        let mut differ = Vec::new();
        for (i, (id, check)) in self.names.iter().enumerate() {
            let (jid, jcheck) = (names[i]["identity"].as_str().unwrap(), names[i]["check"].as_str().unwrap());
            if jid != id || jcheck != check {
                let name = self.payload["names"][i].as_str().unwrap();
                differ.push(format!("{name:?}: rust ({id:?}, {check}) page ({jid:?}, {jcheck})"));
            }
        }
        assert!(differ.is_empty(), "names: {differ:#?}");
        let b = |k: &str| out[k].as_array().unwrap().iter().map(|x| x.as_bool().unwrap()).collect::<Vec<_>>();
        assert_eq!(b("consistency"), self.consistency, "consistency proofs in the page");
        assert_eq!(b("inclusion"), self.inclusion, "inclusion proofs in the page");
        eprintln!(
            "page primitives: {} SM3, {} names, {} consistency and {} inclusion proofs agree",
            self.sm3.len(),
            self.names.len(),
            self.consistency.len(),
            self.inclusion.len()
        );
    }
}

/// The runner: every case through `window.pilVerifyBundle`, the extras
/// through the verifier's own functions; the outcomes as JSON in
/// `<pre id="matrix-out">`.
const RUNNER: &str = r#"
(function () {
  const P = JSON.parse(document.getElementById("matrix-in").textContent);
  const L = PilBundle.Pil, hex = L.toHex, unhex = L.fromHex;
  function change(text, c) {
    const holder = { root: JSON.parse(text) };
    let parent = holder, key = "root";
    for (const s of c.path) { parent = parent[key]; key = s; }
    const node = parent[key];
    if (c.op === "set") parent[key] = c.value;
    else if (c.op === "remove") { if (Array.isArray(node)) node.splice(c.at, 1); else delete node[c.at]; }
    else if (c.op === "insert") node.splice(c.at, 0, c.value);
    else if (c.op === "swap") { const t = node[c.at]; node[c.at] = node[c.with]; node[c.with] = t; }
    else if (c.op === "clear") node.length = 0;
    else throw new Error("unknown change " + c.op);
    return JSON.stringify(holder.root);
  }
  const shape = (v) => v.verdict === "refused" ? { verdict: "refused", error: v.error } : {
    verdict: v.verdict, reasons: v.reasons.map((r) => ({ code: r.code, seq: r.seq, severity: r.severity })),
    entries: v.entries.map((e) => ({ seq: e.seq })), files: v.files.map((f) => ({ seq: f.seq })) };
  const out = { cases: [], sm3: [], names: [], consistency: [], inclusion: [] };
  for (const c of P.cases) {
    try {
      const text = c.text !== undefined ? c.text : change(P.bases[c.base], c.change);
      out.cases.push(shape(window.pilVerifyBundle(text, c.vkey, c.kept)));
    } catch (e) { out.cases.push({ verdict: "crash", error: { code: "crash", message: String((e && e.stack) || e) } }); }
  }
  for (const x of P.extras.sm3) out.sm3.push(hex(L.sm3(unhex(x))));
  for (const n of P.extras.names) {
    let check = "ok";
    try { L.checkName("holder", n); } catch (e) { check = e.code || String(e); }
    out.names.push({ identity: L.identity(n), check });
  }
  for (const c of P.extras.consistency) out.consistency.push(L.verifyConsistency(c.m, c.n, unhex(c.rm), unhex(c.rn), c.proof.map(unhex)));
  for (const c of P.extras.inclusion) out.inclusion.push(L.verifyInclusion(c.i, c.n, unhex(c.leaf), c.proof.map(unhex), unhex(c.root)));
  const pre = document.createElement("pre");
  pre.id = "matrix-out";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
"#;

/// Load `page` (the served page's HTML) once, from a file, with the cases
/// and the runner added before `</body>`; the runner's output.
pub fn run_in_page(bin: &str, profile: &Path, page: &str, base: &Value, cases: &[JsCase], extras: &Extras) -> Value {
    let payload = json!({
        "bases": [base.to_string()],
        "cases": cases.iter().map(|c| c.input.clone()).collect::<Vec<_>>(),
        "extras": extras.payload,
    });
    // Inside a script element "<" may not start "</script": JSON allows \u003c.
    let data = payload.to_string().replace('<', "\\u003c");
    let at = page.rfind("</body>").expect("the page has a body");
    let html = format!(
        "{}<script type=\"application/json\" id=\"matrix-in\">{data}</script>\n<script>{RUNNER}</script>\n{}",
        &page[..at],
        &page[at..]
    );
    std::fs::create_dir_all(profile).unwrap();
    let file = profile.join("matrix.html");
    std::fs::write(&file, html).unwrap();
    let dom = dump_dom(bin, profile, &format!("file://{}", file.display()));
    let start = dom
        .find("<pre id=\"matrix-out\">")
        .unwrap_or_else(|| panic!("the runner wrote nothing: {}", &dom[dom.len().saturating_sub(3000)..]))
        + "<pre id=\"matrix-out\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    let text = dom[start..end].replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&");
    serde_json::from_str(&text).unwrap()
}
