//! The human-readable specs in schema/ must stay true: the worked example in
//! wire-format.md decodes and hashes as stated, and the role table in
//! roles.md is the one in code.

use std::path::Path;

use pil_ledger_core::authority::{Kind, Role, ALL_ROLES};
use pil_ledger_core::digest::{Digest, DigestAlg};
use pil_ledger_core::hash;
use pil_ledger_core::wire::{self, AccountKind, Award, Body, CaseStage, SealState};
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
    assert_eq!(rows.len(), Kind::all().count(), "one row per kind: {rows:?}");
    for k in Kind::all() {
        let mut want: Vec<String> = k.allowed_roles().iter().map(|r| r.as_str().to_string()).collect();
        want.sort();
        assert_eq!(rows.get(k.as_str()), Some(&want), "{}", k.as_str());
    }
    for r in ALL_ROLES {
        assert!(d.contains(r.as_str()), "roles.md names {}", r.as_str());
    }
}

/// One body of each kind. The match is exhaustive, so a new kind cannot be
/// added without a sample here (and so without its tag being pinned).
fn sample(kind: Kind) -> Body {
    match kind {
        Kind::Genesis => Body::Genesis {
            origin: "o".into(),
            log_key: [1; 32],
            officer: [2; 32],
            holder: "h".into(),
            unit: "u".into(),
        },
        Kind::KeyEnrolled => Body::enrol([3; 32], "h", "u", vec![Role::Prosecutor]),
        Kind::KeyRevoked => Body::KeyRevoked { key: [4; 32], reason: "r".into(), compromised_since_ms: None },
        Kind::Endorsed => Body::Endorsed { entry_hash: [5; 32], capacity: "witness".into() },
        Kind::Correction => {
            Body::Correction { entry_hash: [6; 32], field: "f".into(), value: "v".into(), reason: "r".into() }
        }
        Kind::CaseOpened => Body::CaseOpened { title: "t".into(), area: "a".into(), unit: "u".into() },
        Kind::CaseEvent => Body::CaseEvent {
            stage: CaseStage::Judgment,
            occurred_at_ms: 1,
            reference: "r".into(),
            note: "n".into(),
            awards: vec![Award { head: "h".into(), amount_fen: 100, designated_use: "u".into() }],
        },
        Kind::EvidenceRegistered => Body::EvidenceRegistered {
            evidence_id: "E-1".into(),
            category: "electronic-data".into(),
            digests: vec![Digest { alg: DigestAlg::Blake3, value: vec![7; 32] }],
            size: 3,
            media_type: "image/jpeg".into(),
            physical: false,
            description: "d".into(),
            source: "s".into(),
            method: "m".into(),
            legal_basis: "b".into(),
            collectors: vec!["A".into(), "B".into()],
            witness: "w".into(),
            place: "p".into(),
            collected_at_ms: 1,
            collected_tz_offset_min: 480,
            tool: "t".into(),
            tool_version: "1".into(),
            original_medium: "o".into(),
            provenance: "v".into(),
            prior_digests: vec![],
        },
        Kind::EvidenceDerived => Body::EvidenceDerived {
            evidence_id: "E-2".into(),
            parent: "E-1".into(),
            digests: vec![],
            size: 1,
            media_type: "m".into(),
            method: "copy".into(),
        },
        Kind::Sealed => Body::Sealed { evidence_id: "E-1".into(), seal_id: "S".into(), note: "n".into() },
        Kind::Unsealed => Body::Unsealed {
            evidence_id: "E-1".into(),
            approval: [1; 32],
            condition: SealState::Intact,
            note: "n".into(),
        },
        Kind::CustodyTransferred => Body::CustodyTransferred {
            evidence_id: "E-1".into(),
            to: [2; 32],
            purpose: "p".into(),
            seal: SealState::Intact,
        },
        Kind::CustodyReceived => Body::CustodyReceived {
            evidence_id: "E-1".into(),
            transfer: [3; 32],
            digests: vec![],
            seal: SealState::Intact,
        },
        Kind::EvidenceAccessed => Body::EvidenceAccessed { evidence_id: "E-1".into(), purpose: "p".into() },
        Kind::IntegrityChecked => {
            Body::IntegrityChecked { evidence_id: "E-1".into(), digests: vec![], note: "n".into() }
        }
        Kind::SubmittedToCourt => {
            Body::SubmittedToCourt { evidence_id: "E-1".into(), court: "c".into(), reference: "r".into() }
        }
        Kind::Disposed => Body::Disposed { evidence_id: "E-1".into(), method: "m".into(), reason: "r".into() },
        Kind::LegalHold => Body::LegalHold { evidence_id: "E-1".into(), reason: "r".into() },
        Kind::HoldReleased => Body::HoldReleased { evidence_id: "E-1".into(), reason: "r".into() },
        Kind::AccountOpened => Body::AccountOpened {
            account_id: "F-1".into(),
            account_kind: AccountKind::Fund,
            name: "n".into(),
            no_overdraft: true,
            stages: 2,
        },
        Kind::Obligation => Body::Obligation {
            obligation_id: "O-1".into(),
            payer: "P-1".into(),
            amount_fen: 100,
            designated_use: "u".into(),
            due_ms: 1,
            judgment: Some([8; 32]),
        },
        Kind::FundReceipt => {
            Body::FundReceipt { account_id: "F-1".into(), from: "P-1".into(), amount_fen: 100, bank_ref: "b".into() }
        }
        Kind::Remittance => {
            Body::Remittance { from: "F-1".into(), to: "T-1".into(), amount_fen: 100, bank_ref: "b".into() }
        }
        Kind::DisbursementRequested => Body::DisbursementRequested {
            request_id: "R-1".into(),
            from: "F-1".into(),
            to: "Y-1".into(),
            amount_fen: 100,
            purpose: "u".into(),
            note: "n".into(),
        },
        Kind::DisbursementApproved => Body::DisbursementApproved { request_id: "R-1".into(), stage: 1 },
        Kind::DisbursementRejected => {
            Body::DisbursementRejected { request_id: "R-1".into(), stage: 1, reason: "r".into() }
        }
        Kind::DisbursementPaid => {
            Body::DisbursementPaid { request_id: "R-1".into(), amount_fen: 100, bank_ref: "b".into() }
        }
        Kind::DisbursementVoided => Body::DisbursementVoided { request_id: "R-1".into(), reason: "r".into() },
        Kind::Reversal => Body::Reversal { original: [9; 32], amount_fen: 100, reason: "r".into() },
        Kind::Reconciled => Body::Reconciled {
            account_id: "F-1".into(),
            period_from_ms: 1,
            period_to_ms: 2,
            statement_digest: Digest { alg: DigestAlg::Sha256, value: vec![1; 32] },
            balance_fen: 100,
        },
        Kind::Published => Body::Published {
            case_or_scope: "C-1".into(),
            what: "w".into(),
            location: "l".into(),
            notice_days: 30,
            report: vec![Digest { alg: DigestAlg::Blake3, value: vec![2; 32] }],
        },
        Kind::AuditFinding => Body::AuditFinding { scope: "s".into(), finding: "f".into(), entries: vec![[3; 32]] },
    }
}

/// `| N | `Name` | ... |` rows of a markdown table whose header's second
/// cell is `header`.
fn index_rows(text: &str, header: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() >= 2 && cells[0] == "index" {
            inside = cells[1] == header;
            continue;
        }
        if !inside || cells.len() < 2 || cells[0].starts_with("---") {
            continue;
        }
        match cells[0].parse::<u32>() {
            Ok(n) => out.push((n, cells[1].trim_matches('`').to_string())),
            Err(_) => inside = false,
        }
    }
    out
}

/// Inserting a kind in the middle of `Body` (or a role in the middle of
/// `Role`) would change wire tags silently; this pins every tag to the
/// table in schema/wire-format.md, by encoding a real value of each.
#[test]
fn wire_tags_of_every_kind_and_role_match_wire_format_md() {
    let d = doc("wire-format.md");
    let kinds = index_rows(&d, "kind");
    assert_eq!(kinds.len(), Kind::all().count(), "one row per kind in wire-format.md §4: {kinds:?}");
    for (tag, name) in &kinds {
        let kind = Kind::all().find(|k| k.as_str() == name).unwrap_or_else(|| panic!("no kind {name}"));
        let bytes = wire::encode(&sample(kind));
        assert_eq!(u32::from_le_bytes(bytes[..4].try_into().unwrap()), *tag, "{name}");
        assert_eq!(sample(kind).kind(), kind);
        assert_eq!(kind.info().tag, *tag, "{name}");
    }
    let roles = index_rows(&d, "role");
    assert_eq!(roles.len(), ALL_ROLES.len(), "one row per role: {roles:?}");
    for (tag, name) in &roles {
        let role: Role = name.parse().unwrap();
        assert_eq!(wire::encode(&role), tag.to_le_bytes().to_vec(), "{name}");
    }
}
