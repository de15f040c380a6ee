//! Shared by tests/bundle.rs (the Rust verifier) and tests/page.rs (the
//! page's JavaScript verifier): a ledger built through the real binary with
//! an evidence bundle carrying its original files, and the tamper matrix,
//! generated from the bundle's JSON: every string field with characters
//! changed, every number changed, every array element dropped, repeated and
//! swapped, every object field dropped and an unknown one added.
#![allow(dead_code)]

pub mod forge;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use pil_ledger::core::bundle::verify_bundle;
use pil_ledger::core::note::NoteVerifier;
use serde_json::{json, Value};

use crate::common::{s, Env, Run, BIN};

pub const CASE: &str = "（2026）京04民初9号";
/// The two evidence files, as collected.
pub const PHOTO: &[u8] = b"outfall 3 at dawn";
pub const SAMPLE: &[u8] = b"water sample 2, lab report: COD 412 mg/L";

pub struct World {
    pub e: Env,
    pub vkey: String,
    /// A checkpoint note kept before the evidence was added.
    pub kept: PathBuf,
    pub evidence: String,
    pub evidence2: String,
    /// Seq of the case opened by the key revoked later, and of the revocation.
    pub by_revoked: u64,
    pub revocation: u64,
    pub transfer: u64,
    /// A folder of originals: both evidence files, a file that is no
    /// evidence, a symbolic link and a subdirectory.
    pub originals: PathBuf,
}

pub fn ack(r: Run) -> Value {
    let line = r.ok().stdout;
    serde_json::from_str(line.lines().last().unwrap()).unwrap()
}

fn add_evidence(e: &Env, key: &Path, file: &Path, collectors: &[&str]) -> (String, u64) {
    let mut args = vec!["--json", "evidence", "add", "--key", s(key), "--case", CASE, "--file", s(file)];
    for c in collectors {
        args.extend(["--collector", c]);
    }
    args.extend(["--method", "photograph", "--place", "outfall 3", "--collected-at", "2026-11-20T10:30:00+08:00"]);
    let a = ack(e.run(&args));
    (a["evidence_id"].as_str().unwrap().to_string(), a["seq"].as_u64().unwrap())
}

pub fn world() -> World {
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
    let originals = e.path("originals");
    std::fs::create_dir_all(originals.join("subdir")).unwrap();
    let (photo, sample) = (originals.join("photo.jpg"), originals.join("sample-2.txt"));
    std::fs::write(&photo, PHOTO).unwrap();
    std::fs::write(&sample, SAMPLE).unwrap();
    std::fs::write(originals.join("notes.txt"), b"not evidence").unwrap();
    std::os::unix::fs::symlink(&photo, originals.join("link.jpg")).unwrap();
    let (evidence, reg) = add_evidence(&e, &pros, &photo, &["Li Si", "Zhao Liu"]);
    e.run(&["endorse", "--key", s(&asst), "--seq", &reg.to_string(), "--capacity", "second-collector"]).ok();
    let t = ["custody", "transfer", "--key", s(&pros), "--evidence", &evidence, "--to", &cust_pk];
    let r = e.run(&[&["--json"][..], &t[..], &["--purpose", "storage"][..]].concat());
    let transfer = ack(r)["seq"].as_u64().unwrap();
    e.run(&["custody", "receive", "--key", s(&cust), "--evidence", &evidence, "--file", s(&photo)]).ok();
    let (evidence2, _) = add_evidence(&e, &pros, &sample, &["Li Si"]);
    World { e, vkey, kept, evidence, evidence2, by_revoked, revocation, transfer, originals }
}

/// `bundle export --out NAME SEL...` (must succeed); the file's path.
pub fn export(w: &World, name: &str, sel: &[&str]) -> PathBuf {
    let out = w.e.path(name);
    let mut args = vec!["--json", "bundle", "export", "--out", s(&out)];
    args.extend_from_slice(sel);
    w.e.run(&args).ok();
    out
}

/// The bundle of both evidence items with their files and a consistency
/// proof from the kept checkpoint: the one the tamper matrix changes.
pub fn full_bundle(w: &World) -> PathBuf {
    let sel = ["--evidence", &w.evidence, "--evidence", &w.evidence2, "--since-checkpoint", s(&w.kept)];
    export(w, "full.json", &[&sel[..], &["--with-files", s(&w.originals)][..]].concat())
}

/// `bundle verify` run from an empty directory with `--data` pointing
/// nowhere: the bundle alone decides.
pub fn verify_offline(file: &Path, vkey: &str, extra: &[&str]) -> Run {
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

pub fn codes(v: &Value) -> Vec<String> {
    v["reasons"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap().to_string()).collect()
}

pub fn errors(v: &Value) -> Vec<String> {
    let e = v["reasons"].as_array().unwrap().iter().filter(|r| r["severity"] == "error");
    e.map(|r| r["code"].as_str().unwrap().to_string()).collect()
}

pub fn load(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// What a mutation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A change to what the bundle proves: must be judged invalid or
    /// refused as input.
    Tamper,
    /// Entries in question or carried files left out: a smaller selection,
    /// which a bundle cannot tell from an honest one (`bundle.md` §6). The
    /// verdict must then list exactly what is left.
    Selection,
}

pub struct Case {
    pub name: String,
    /// Where the change is made, and what it is (the page applies the same).
    pub path: Vec<Step>,
    pub op: Op,
    pub bundle: Value,
    pub kind: Kind,
}

/// One change, made to the value at a path.
#[derive(Clone, Debug)]
pub enum Op {
    /// Replace the value.
    Set(Value),
    /// Remove an object field or an array element.
    Remove(Step),
    /// Insert into an array at an index.
    Insert(usize, Value),
    /// Swap two array elements.
    Swap(usize, usize),
    /// Empty an array.
    Clear,
}

impl Op {
    pub fn apply(&self, v: &mut Value) {
        match self {
            Op::Set(x) => *v = x.clone(),
            Op::Remove(Step::Key(k)) => {
                v.as_object_mut().unwrap().remove(k);
            }
            Op::Remove(Step::Index(i)) => {
                v.as_array_mut().unwrap().remove(*i);
            }
            Op::Insert(i, x) => v.as_array_mut().unwrap().insert(*i, x.clone()),
            Op::Swap(i, j) => v.as_array_mut().unwrap().swap(*i, *j),
            Op::Clear => v.as_array_mut().unwrap().clear(),
        }
    }

    /// The change as the page's test runner reads it.
    pub fn to_json(&self, path: &[Step]) -> Value {
        let p: Vec<Value> = path.iter().map(Step::to_json).collect();
        match self {
            Op::Set(x) => json!({"path": p, "op": "set", "value": x}),
            Op::Remove(s) => json!({"path": p, "op": "remove", "at": s.to_json()}),
            Op::Insert(i, x) => json!({"path": p, "op": "insert", "at": i, "value": x}),
            Op::Swap(i, j) => json!({"path": p, "op": "swap", "at": i, "with": j}),
            Op::Clear => json!({"path": p, "op": "clear"}),
        }
    }
}

/// A verdict reduced to what both verifiers must agree on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// `valid`, `valid-with-warnings`, `invalid`, or `refused` (bad input).
    pub verdict: String,
    /// Error codes, sorted, without repeats; for `refused`, the input
    /// error's code.
    pub errors: Vec<String>,
    /// Seqs of the entries listed, and `seq` of each file listed.
    pub entries: Vec<u64>,
    pub files: Vec<u64>,
}

impl Outcome {
    /// From a verdict's JSON (Rust's `BundleVerdict` or the page's), or
    /// `{"verdict": "refused", "error": {"code"}}`.
    pub fn from_json(v: &Value) -> Outcome {
        if v["verdict"] == "refused" {
            let code = v["error"]["code"].as_str().unwrap_or("?").to_string();
            return Outcome { verdict: "refused".into(), errors: vec![code], entries: vec![], files: vec![] };
        }
        let mut errs = errors(v);
        errs.sort();
        errs.dedup();
        let seqs =
            |k: &str| v[k].as_array().map_or_else(Vec::new, |a| a.iter().map(|x| x["seq"].as_u64().unwrap()).collect());
        Outcome {
            verdict: v["verdict"].as_str().unwrap().to_string(),
            errors: errs,
            entries: seqs("entries"),
            files: seqs("files"),
        }
    }
}

/// The Rust verifier's outcome on a bundle's JSON.
pub fn judge(v: &Value, vkey: &NoteVerifier, kept: Option<&[u8]>) -> Outcome {
    match verify_bundle(v.to_string().as_bytes(), vkey, kept) {
        Err(e) => Outcome::from_json(&json!({"verdict": "refused", "error": {"code": e.code()}})),
        Ok(x) => Outcome::from_json(&serde_json::to_value(x).unwrap()),
    }
}

/// Where a value sits in the bundle: object keys and array indexes.
#[derive(Clone, Debug)]
pub enum Step {
    Key(String),
    Index(usize),
}

impl Step {
    fn to_json(&self) -> Value {
        match self {
            Step::Key(k) => k.clone().into(),
            Step::Index(i) => (*i).into(),
        }
    }
}

fn at<'a>(v: &'a mut Value, path: &[Step]) -> &'a mut Value {
    path.iter().fold(v, |v, s| match s {
        Step::Key(k) => &mut v[k.as_str()],
        Step::Index(i) => &mut v[*i],
    })
}

fn path_name(path: &[Step]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => out.push_str(&format!(".{k}")),
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Fields spelled in lowercase hex: a changed character stays lowercase hex,
/// so the change reaches the checks instead of the parser.
fn is_hex(path: &[Step]) -> bool {
    let key = path.iter().rev().find_map(|s| if let Step::Key(k) = s { Some(k.as_str()) } else { None });
    matches!(key, Some("entry" | "proof" | "old_root"))
}

/// Which characters of a string of length `n` to change: every one for
/// short strings and notes; for entries, every seventh byte (its first
/// character) and the last, which reaches every field of the entry.
fn positions(path: &[Step], n: usize) -> Vec<usize> {
    let key = path.iter().rev().find_map(|s| if let Step::Key(k) = s { Some(k.as_str()) } else { None });
    match key {
        Some("entry") => (0..n).filter(|i| i % 14 == 0 || *i + 1 == n).collect(),
        Some("proof" | "old_root") => vec![0, n - 1],
        _ => (0..n).collect(),
    }
}

fn changed_char(c: char, hex: bool) -> char {
    match (c, hex) {
        ('0', _) => '1',
        (_, true) => '0',
        ('A', false) => 'B',
        ('\n', false) => ' ',
        _ => 'A',
    }
}

/// A selection of entries or files left out: `entries[k]` or `files[k]`
/// dropped, `files` dropped, either list emptied.
fn selection(path: &[Step], what: &str) -> bool {
    match (path, what) {
        ([Step::Key(k), Step::Index(_)], "drop") | ([Step::Key(k)], "empty") => k == "entries" || k == "files",
        ([Step::Key(k)], "drop") => k == "files",
        _ => false,
    }
}

fn walk(good: &Value, path: &mut Vec<Step>, out: &mut Vec<Case>) {
    let mut here = good.clone();
    let node = at(&mut here, path).clone();
    let mut add = |name: String, kind: Kind, op: Op| {
        let mut v = good.clone();
        op.apply(at(&mut v, path));
        assert!(v != *good, "{name} changed nothing");
        out.push(Case { name, path: path.clone(), op, bundle: v, kind });
    };
    let name = path_name(path);
    let with = |step: Step| {
        let mut p = path.clone();
        p.push(step);
        p
    };
    match &node {
        Value::Object(m) => {
            for k in m.keys() {
                let kind = if selection(&with(Step::Key(k.clone())), "drop") { Kind::Selection } else { Kind::Tamper };
                let field = if name.is_empty() { k.clone() } else { format!("{name}.{k}") };
                add(format!("{field} dropped"), kind, Op::Remove(Step::Key(k.clone())));
            }
            let mut extra = node.clone();
            extra.as_object_mut().unwrap().insert("note".into(), "trust me".into());
            add(format!("{name} + unknown field"), Kind::Tamper, Op::Set(extra));
        }
        Value::Array(a) => {
            let n = a.len();
            for k in 0..n {
                let kind = if selection(&with(Step::Index(k)), "drop") { Kind::Selection } else { Kind::Tamper };
                add(format!("{name}[{k}] dropped"), kind, Op::Remove(Step::Index(k)));
                add(format!("{name}[{k}] repeated"), Kind::Tamper, Op::Insert(k + 1, a[k].clone()));
                if k + 1 < n && a[k] != a[k + 1] {
                    add(format!("{name}[{k}] swapped with the next"), Kind::Tamper, Op::Swap(k, k + 1));
                }
            }
            if n > 1 {
                let kind = if selection(path, "empty") { Kind::Selection } else { Kind::Tamper };
                add(format!("{name} emptied"), kind, Op::Clear);
            }
        }
        Value::String(text) => {
            let hex = is_hex(path);
            let chars: Vec<char> = text.chars().collect();
            for i in positions(path, chars.len()) {
                let mut c2 = chars.clone();
                c2[i] = changed_char(chars[i], hex);
                add(format!("{name}[char {i}]"), Kind::Tamper, Op::Set(c2.into_iter().collect::<String>().into()));
            }
            if path.last().is_some_and(|s| matches!(s, Step::Key(k) if k == "data")) {
                // every byte of the carried file, changed in the decoded bytes
                let bytes = B64.decode(text).unwrap();
                for i in 0..bytes.len() {
                    let mut b = bytes.clone();
                    b[i] ^= 0x20;
                    add(format!("{name}[byte {i}]"), Kind::Tamper, Op::Set(B64.encode(&b).into()));
                }
            }
        }
        Value::Number(n) => {
            let x = n.as_u64().unwrap();
            for y in [x + 1, x.wrapping_sub(1), x + 1000] {
                if y != u64::MAX {
                    add(format!("{name}={y}"), Kind::Tamper, Op::Set(y.into()));
                }
            }
        }
        _ => {}
    }
    match &node {
        Value::Object(m) => {
            for k in m.keys() {
                path.push(Step::Key(k.clone()));
                walk(good, path, out);
                path.pop();
            }
        }
        Value::Array(a) => {
            for i in 0..a.len() {
                path.push(Step::Index(i));
                walk(good, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Every mutation of `good`, one change each.
pub fn mutations(good: &Value) -> Vec<Case> {
    let mut out = Vec::new();
    walk(good, &mut Vec::new(), &mut out);
    out
}

/// The seqs a Selection case leaves: entries and files still listed.
pub fn listed(v: &Value) -> (Vec<u64>, Vec<u64>) {
    let seqs =
        |k: &str| v[k].as_array().map_or_else(Vec::new, |a| a.iter().map(|x| x["seq"].as_u64().unwrap()).collect());
    (seqs("entries"), seqs("files"))
}
