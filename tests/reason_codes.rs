//! `schema/reasons.md` stays true in both directions: every code the code
//! can emit is documented there, every documented code is emitted somewhere,
//! and every code is produced (asserted) by at least one test.
//!
//! The oracle is the source text: codes are the string literals in `code()`
//! match arms, in `Reason::error` / `Reason::warning` / `out.warn` calls,
//! and in `Failure` / `refused` constructions.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn is_code(s: &str) -> bool {
    s.len() > 2 && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') && s.contains('_')
}

/// The first string literal at or after `at`, if it comes before `limit` chars.
fn next_literal(text: &str, at: usize, limit: usize) -> Option<&str> {
    let rest = &text[at..text.len().min(at + limit)];
    let start = rest.find('"')? + 1;
    let len = rest[start..].find('"')?;
    Some(&rest[start..start + len])
}

/// Codes a source file can emit.
fn emitted(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let markers = [
        "::error(",
        "::warning(",
        ".error(",
        ".warning(",
        ".warn(",
        "refused(",
        "code: \"",
        "=> \"",
        "{ \"",
        "else { \"",
        ": &str = \"",
    ];
    for m in markers {
        let mut from = 0;
        while let Some(i) = text[from..].find(m) {
            let at = from + i + m.len() - usize::from(m.ends_with('"'));
            if let Some(lit) = next_literal(text, at, 60) {
                if is_code(lit) {
                    out.insert(lit.to_string());
                }
            }
            from = from + i + m.len();
        }
    }
    out
}

/// The text of a file outside `#[cfg(test)]` modules (tests are not emitters).
fn non_test(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

fn documented() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(root().join("schema/reasons.md")).unwrap();
    let mut out = BTreeSet::new();
    for line in doc.lines().filter(|l| l.starts_with("| `")) {
        let first = line.trim_start_matches('|').split('|').next().unwrap();
        for part in first.split('`').skip(1).step_by(2) {
            if is_code(part) {
                out.insert(part.to_string());
            }
        }
    }
    out
}

/// Codes the build emits: `Refusal::CODES` plus the literals in the sources.
fn emitted_codes() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    rust_files(&root().join("core/src"), &mut files);
    let mut out: BTreeSet<String> = pil_ledger::core::state::Refusal::CODES.iter().map(|s| s.to_string()).collect();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        out.extend(emitted(non_test(&text)));
    }
    // Names that look like codes but are not emitted as codes.
    for not_a_code in ["case_id", "evidence_id", "request_id", "valid_from", "valid_until"] {
        out.remove(not_a_code);
    }
    out
}

#[test]
fn every_emitted_code_is_documented_in_reasons_md() {
    let doc = documented();
    let missing: Vec<_> = emitted_codes().into_iter().filter(|c| !doc.contains(c)).collect();
    assert!(missing.is_empty(), "codes emitted but not in schema/reasons.md: {missing:?}");
}

#[test]
fn every_documented_code_is_emitted_somewhere() {
    let emitted = emitted_codes();
    let extra: Vec<_> = documented().into_iter().filter(|c| !emitted.contains(c)).collect();
    assert!(extra.is_empty(), "codes in schema/reasons.md that nothing emits: {extra:?}");
}

#[test]
fn every_documented_code_is_asserted_by_a_test() {
    let mut files = Vec::new();
    rust_files(&root().join("tests"), &mut files);
    rust_files(&root().join("core/tests"), &mut files);
    rust_files(&root().join("core/src"), &mut files);
    rust_files(&root().join("src"), &mut files);
    let mut tested = String::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let is_test_file = f.components().any(|c| c.as_os_str() == "tests") || name.starts_with("tests");
        let body = if is_test_file { &text[..] } else { text.find("#[cfg(test)]").map_or("", |i| &text[i..]) };
        if f.ends_with("reason_codes.rs") {
            continue;
        }
        tested.push_str(body);
    }
    let untested: Vec<_> = documented().into_iter().filter(|c| !tested.contains(&format!("\"{c}\""))).collect();
    assert!(untested.is_empty(), "codes no test asserts: {untested:?}");
}
