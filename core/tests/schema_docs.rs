//! The human-readable specs in schema/ must stay true: the worked example in
//! wire-format.md decodes and hashes as stated, and the role table in
//! roles.md is the one in code.

use std::path::Path;

use pil_ledger_core::authority::{ALL_KINDS, ALL_ROLES};
use pil_ledger_core::hash;
use pil_ledger_core::wire::{Entry, StatementHeader};

fn doc(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema").join(name)).unwrap()
}

fn field(text: &str, name: &str) -> String {
    let prefix = format!("{name}: ");
    let hits: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix(&prefix)).collect();
    assert_eq!(hits.len(), 1, "exactly one `{prefix}` line");
    hits[0].trim().to_string()
}

#[test]
fn wire_format_worked_example_is_true() {
    let d = doc("wire-format.md");
    let bytes = hex::decode(field(&d, "entry_hex")).unwrap();
    let entry = Entry::from_bytes(&bytes).unwrap();
    assert_eq!(entry.to_bytes(), bytes);
    assert_eq!(hex::encode(hash::entry_hash(&bytes)), field(&d, "entry_hash"));
    assert_eq!(hex::encode(hash::statement_digest(&entry.statement)), field(&d, "statement_digest"));
    let (h, body) = StatementHeader::split(&entry.statement).unwrap();
    assert_eq!(h.origin, "example.org/pil-ledger");
    assert_eq!(&body[..4], &7u32.to_le_bytes());
}

#[test]
fn roles_table_matches_code() {
    let d = doc("roles.md");
    let mut rows = std::collections::BTreeMap::new();
    for line in d.lines() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() != 2 || cells[0] == "Kind" || cells[0].starts_with("---") {
            continue;
        }
        let mut roles: Vec<String> = cells[1].split(',').map(|r| r.trim().to_string()).collect();
        roles.sort();
        rows.insert(cells[0].to_string(), roles);
    }
    assert_eq!(rows.len(), ALL_KINDS.len(), "one row per kind: {rows:?}");
    for k in ALL_KINDS {
        let mut want: Vec<String> = k.allowed_roles().iter().map(|r| r.as_str().to_string()).collect();
        want.sort();
        assert_eq!(rows.get(k.as_str()), Some(&want), "{}", k.as_str());
    }
    for r in ALL_ROLES {
        assert!(d.contains(r.as_str()), "roles.md names {}", r.as_str());
    }
}
