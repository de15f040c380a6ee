//! Reading evidence back for people and courts: case timelines, items with
//! their custody chain, the `verify-file` verdict. Plain output names people
//! (holder, unit, role) and shows times in the reader's zone with the
//! offset; `--json` keeps hex and unix ms.
//!
//! The JSON views ([`case_json`], [`item_json`], [`file_verdict`] with
//! [`file_verdict_json`], [`evidence_by_digest`]) return values, so the CLI
//! (`--json`) and the HTTP server (`src/server/`) print the same thing. Their
//! errors are [`ReadError`]s, which carry an [`ErrorClass`]: the CLI's exit
//! code and the server's HTTP status both come from it.

use pil_ledger_core::digest::FileDigests;
use pil_ledger_core::file_check::{self, FileEvidence, FileVerdict};
use pil_ledger_core::json::{local_time, parse_offset, statement_json};
use pil_ledger_core::state::{self, EvidenceRecord, KeyRecord, Ns};
use pil_ledger_core::wire::{Body, Entry, PublicKey, Statement};
use serde_json::{json, Value};

use crate::cli::Failure;
use crate::error::ErrorClass;
use crate::ledger::{Ledger, LedgerError};
use crate::store::{Store, StoreIndex};

/// A read that failed: a stable code, a sentence, and the class the exit
/// code and HTTP status come from (`ErrorClass`, in `src/error.rs`).
#[derive(Debug)]
pub struct ReadError {
    pub class: ErrorClass,
    pub code: &'static str,
    pub message: String,
}

impl ReadError {
    fn not_found(code: &'static str, message: String) -> Self {
        ReadError { class: ErrorClass::NotFound, code, message }
    }
    fn storage(message: String) -> Self {
        ReadError { class: ErrorClass::Internal, code: "storage_error", message }
    }
}

impl From<LedgerError> for ReadError {
    fn from(e: LedgerError) -> Self {
        ReadError { class: e.class(), code: e.code(), message: e.to_string() }
    }
}

impl From<ReadError> for Failure {
    fn from(e: ReadError) -> Self {
        Failure { exit: e.class.exit_code(), code: e.code, message: e.message }
    }
}

/// The reader's time zone: `PIL_TZ` (`+08:00`, `UTC`, `Asia/Shanghai`),
/// Asia/Shanghai unless set.
#[derive(Clone, Copy, Debug)]
pub struct Zone {
    pub offset_min: i32,
}

impl Zone {
    pub fn from_env() -> Result<Zone, Failure> {
        let s = std::env::var("PIL_TZ").unwrap_or_else(|_| "Asia/Shanghai".into());
        parse_offset(&s).map(|offset_min| Zone { offset_min }).map_err(|e| Failure {
            exit: 2,
            code: "invalid_argument",
            message: format!("PIL_TZ: {e}"),
        })
    }
    pub fn show(self, ms: u64) -> String {
        local_time(ms, self.offset_min)
    }
}

fn backend(e: state::BackendError) -> ReadError {
    ReadError::storage(e.to_string())
}

/// An item's record, or a refusal naming the id (`unknown_evidence`, class
/// `NotFound`). An item registered in a group that is not yet durable (a
/// server's writer may be syncing it) is not shown yet.
pub fn item(l: &Ledger, id: &str) -> Result<EvidenceRecord, ReadError> {
    let view = StoreIndex(l.store());
    let unknown = || ReadError::not_found("unknown_evidence", format!("no evidence item {id:?}"));
    let r = state::evidence_record(&view, id).map_err(backend)?.ok_or_else(unknown)?;
    if r.registered_seq >= l.head()?.size {
        return Err(unknown());
    }
    Ok(r)
}

fn key_record(l: &Ledger, key: &PublicKey) -> Result<Option<KeyRecord>, ReadError> {
    state::key_record(&StoreIndex(l.store()), key).map_err(backend)
}

/// The enrolled holder name of a key (for "you are the first collector").
pub fn key_holder(l: &Ledger, key: &PublicKey) -> Result<String, ReadError> {
    key_record(l, key)?.map(|r| r.holder).ok_or_else(|| ReadError {
        class: ErrorClass::Forbidden,
        code: "author_not_enrolled",
        message: format!("key {} is not enrolled", hex::encode(key)),
    })
}

/// "Li Si (Beijing No.4 Branch; prosecutor)" for a key, or its hex.
fn person(l: &Ledger, key: &PublicKey) -> String {
    match key_record(l, key) {
        Ok(Some(r)) => {
            let roles: Vec<&str> = r.roles.iter().map(|x| x.as_str()).collect();
            format!("{} ({}; {})", r.holder, r.unit, roles.join(", "))
        }
        _ => format!("key {}", hex::encode(key)),
    }
}

/// Seqs of every entry filed under a case, in order, up to the durable
/// head (a server's writer may have applied a later group it is still
/// syncing: those entries are not shown yet).
fn case_seqs(l: &Ledger, case_id: &str) -> Result<Vec<u64>, ReadError> {
    let mut prefix = case_id.as_bytes().to_vec();
    prefix.push(0xFF);
    let rows = l.store().index_scan(Ns::CaseEntries, &prefix).map_err(LedgerError::from)?;
    let size = l.head()?.size;
    Ok(rows
        .into_iter()
        .filter_map(|(k, _)| k.len().checked_sub(8).map(|i| u64::from_be_bytes(k[i..].try_into().expect("8"))))
        .filter(|seq| *seq < size)
        .collect())
}

fn decoded(l: &Ledger, seq: u64) -> Result<(Entry, Statement), ReadError> {
    let bytes = l.entry(seq)?.ok_or_else(|| ReadError::storage(format!("entry {seq} missing")))?;
    let corrupt = |e: String| ReadError::storage(format!("entry {seq}: {e}"));
    let entry = Entry::from_bytes(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let st = Statement::from_bytes(&entry.statement).map_err(|e| corrupt(e.to_string()))?;
    Ok((entry, st))
}

/// One line a person reads about an entry.
fn summary(body: &Body) -> String {
    match body {
        Body::CaseOpened { title, .. } => format!("case opened: {title}"),
        Body::CaseEvent { stage, reference, awards, .. } => {
            let total: u64 = awards.iter().map(|a| a.amount_fen).fold(0u64, |s, x| s.saturating_add(x));
            let money = if awards.is_empty() { String::new() } else { format!(", awards {} fen", total) };
            format!("{stage:?} {reference}{money}")
        }
        Body::EvidenceRegistered { evidence_id, description, collectors, .. } => {
            format!("registered {evidence_id} ({description}), collected by {}", collectors.join(" and "))
        }
        Body::EvidenceDerived { evidence_id, parent, method, .. } => {
            format!("derived {evidence_id} from {parent} ({method})")
        }
        Body::Sealed { evidence_id, seal_id, .. } => format!("sealed {evidence_id} with seal {seal_id}"),
        Body::Unsealed { evidence_id, condition, .. } => format!("unsealed {evidence_id}; seal found {condition:?}"),
        Body::CustodyTransferred { evidence_id, purpose, .. } => format!("handed over {evidence_id} for {purpose}"),
        Body::CustodyReceived { evidence_id, .. } => format!("received {evidence_id} (re-hashed)"),
        Body::EvidenceAccessed { evidence_id, purpose } => format!("accessed {evidence_id}: {purpose}"),
        Body::IntegrityChecked { evidence_id, .. } => format!("integrity check of {evidence_id}"),
        Body::SubmittedToCourt { evidence_id, court, .. } => format!("submitted {evidence_id} to {court}"),
        Body::Disposed { evidence_id, method, .. } => format!("disposed of {evidence_id} ({method})"),
        Body::LegalHold { evidence_id, reason } => format!("legal hold on {evidence_id}: {reason}"),
        Body::HoldReleased { evidence_id, .. } => format!("hold released on {evidence_id}"),
        Body::Endorsed { capacity, .. } => format!("endorsed as {capacity}"),
        Body::Correction { field, value, .. } => format!("correction: {field} = {value}"),
        other => format!("{:?}", other.kind()),
    }
}

/// The entries at `seqs` (only those about item `only`, if given): in JSON,
/// or printed for a person when `zone` is given (then the list is empty).
fn timeline(l: &Ledger, seqs: &[u64], only: Option<&str>, zone: Option<Zone>) -> Result<Vec<Value>, ReadError> {
    let mut out = Vec::new();
    for &seq in seqs {
        let (entry, st) = decoded(l, seq)?;
        if only.is_some_and(|id| st.body.evidence_id() != Some(id)) {
            continue;
        }
        match zone {
            None => {
                out.push(json!({"seq": seq, "recorded_at_ms": entry.recorded_at_ms, "statement": statement_json(&st)}))
            }
            Some(zone) => println!(
                "  {}  #{seq}  {}  — {}",
                zone.show(entry.recorded_at_ms),
                summary(&st.body),
                person(l, &st.author)
            ),
        }
    }
    Ok(out)
}

fn case_record(l: &Ledger, case_id: &str) -> Result<state::CaseRecord, ReadError> {
    let case = state::case_record(&StoreIndex(l.store()), case_id).map_err(backend)?;
    case.filter(|c| c.opened_seq < l.head().map_or(0, |h| h.size))
        .ok_or_else(|| ReadError::not_found("unknown_case", format!("case {case_id:?} has not been opened")))
}

/// A case's timeline: `{"case_id","title","opened_seq","closed_seq",
/// "entries":[{"seq","recorded_at_ms","statement"}]}` (`case show --json`,
/// `GET /v1/cases/{id}`).
pub fn case_json(l: &Ledger, case_id: &str) -> Result<Value, ReadError> {
    let case = case_record(l, case_id)?;
    let entries = timeline(l, &case_seqs(l, case_id)?, None, None)?;
    Ok(
        json!({"case_id": case_id, "title": case.title, "opened_seq": case.opened_seq, "closed_seq": case.closed_seq, "entries": entries}),
    )
}

pub fn show_case(l: &Ledger, case_id: &str, json: bool, zone: Zone) -> Result<(), Failure> {
    if json {
        println!("{}", case_json(l, case_id)?);
        return Ok(());
    }
    let case = case_record(l, case_id)?;
    let seqs = case_seqs(l, case_id)?;
    let state = if case.closed_seq.is_some() { "closed" } else { "open" };
    println!("case {case_id}: {} ({state}, {} entries)", case.title, seqs.len());
    timeline(l, &seqs, None, Some(zone))?;
    Ok(())
}

fn record_json(r: &EvidenceRecord) -> Value {
    json!({
        "evidence_id": r.evidence_id, "case_id": r.case_id, "registered_seq": r.registered_seq,
        "registered_hash": hex::encode(r.registered_hash), "registrant": hex::encode(r.registrant),
        "collectors": r.collectors, "physical": r.physical,
        "digests": r.digests.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        "parent": r.parent, "holder": hex::encode(r.holder),
        "pending_transfer": r.pending_transfer.map(|(h, to)| json!({"transfer": hex::encode(h), "to": hex::encode(to)})),
        "transfers": r.transfers, "sealed": r.seal.is_some(), "seal_broken_seq": r.seal_broken_seq,
        "second_collector_seq": r.second_collector_seq, "rehash_mismatch_seq": r.rehash_mismatch_seq,
        "hold": r.hold, "disposed_seq": r.disposed_seq, "submitted_seq": r.submitted_seq,
    })
}

fn item_seqs(l: &Ledger, r: &EvidenceRecord) -> Result<Vec<u64>, ReadError> {
    Ok(case_seqs(l, &r.case_id)?.into_iter().filter(|s| *s >= r.registered_seq).collect())
}

/// An item: its record and custody chain (`evidence show --json`,
/// `GET /v1/evidence/{id}`).
pub fn item_json(l: &Ledger, id: &str) -> Result<Value, ReadError> {
    let r = item(l, id)?;
    let chain = timeline(l, &item_seqs(l, &r)?, Some(id), None)?;
    let mut v = record_json(&r);
    v["chain"] = json!(chain);
    Ok(v)
}

/// The id of the item registered with this digest, if any (durable).
pub fn evidence_by_digest(l: &Ledger, d: &pil_ledger_core::digest::Digest) -> Result<Option<String>, ReadError> {
    let Some(id) = state::evidence_by_digest(&StoreIndex(l.store()), d).map_err(backend)? else { return Ok(None) };
    match item(l, &id) {
        Ok(_) => Ok(Some(id)),
        Err(e) if e.code == "unknown_evidence" => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn show_item(l: &Ledger, id: &str, json: bool, zone: Zone) -> Result<(), Failure> {
    if json {
        println!("{}", item_json(l, id)?);
        return Ok(());
    }
    let r = item(l, id)?;
    let seqs = item_seqs(l, &r)?;
    println!("evidence {} (case {})", r.evidence_id, r.case_id);
    for d in &r.digests {
        println!("  digest {d}");
    }
    println!("  collectors: {}", r.collectors.join(", "));
    println!("  held by {}", person(l, &r.holder));
    if let Some((_, to)) = r.pending_transfer {
        println!("  handover to {} not yet received", person(l, &to));
    }
    println!("  custody chain:");
    timeline(l, &seqs, Some(id), Some(zone))?;
    Ok(())
}

pub fn list_items(l: &Ledger, case_id: &str, json: bool) -> Result<(), Failure> {
    for seq in case_seqs(l, case_id)? {
        let (_, st) = decoded(l, seq)?;
        if let Body::EvidenceRegistered { evidence_id, .. } | Body::EvidenceDerived { evidence_id, .. } = &st.body {
            let r = item(l, evidence_id)?;
            if json {
                println!("{}", record_json(&r));
            } else {
                let first = r.digests.first().map(|d| d.to_string()).unwrap_or_else(|| "physical item".into());
                println!("{}  {}  held by {}", r.evidence_id, first, person(l, &r.holder));
            }
        }
    }
    Ok(())
}

/// Digests an earlier forensic record gave (`--prior-digest`), each marked
/// weak or not. They matched the file when it was registered; they are
/// shown, never used to find the file, so never the basis of `valid`.
fn prior_digests(entry: &[u8]) -> Vec<Value> {
    let body = Entry::from_bytes(entry).ok().and_then(|e| Statement::from_bytes(&e.statement).ok()).map(|st| st.body);
    match body {
        Some(Body::EvidenceRegistered { prior_digests, .. }) => {
            prior_digests.iter().map(|d| json!({"digest": d.to_string(), "weak": d.alg.is_weak()})).collect()
        }
        _ => Vec::new(),
    }
}

/// Find the item by any of the file's digests and decide the file.
pub fn file_verdict(l: &Ledger, fd: &FileDigests) -> Result<(FileVerdict, Value), ReadError> {
    let digests = fd.digests();
    let mut found = None;
    for d in &digests {
        if let Some(id) = evidence_by_digest(l, d)? {
            found = Some(id);
            break;
        }
    }
    let Some(id) = found else { return Ok((file_check::unknown_file(&digests), json!({}))) };
    let r = item(l, &id)?;
    let head = l.head()?;
    let entry = l.entry(r.registered_seq)?.unwrap_or_default();
    let (_, _, proof) = l.prove_inclusion(r.registered_seq, Some(head.size))?;
    let author = key_record(l, &r.registrant)?;
    let verdict = file_check::check_file(&FileEvidence {
        file: &digests,
        record: &r,
        entry: &entry,
        author: author.as_ref(),
        checkpoint: &head.checkpoint,
        proof: &proof,
        vkey: l.vkey(),
    });
    let extra = json!({
        "entry_hash": hex::encode(r.registered_hash),
        "entry": hex::encode(&entry),
        "checkpoint": head.checkpoint,
        "size": head.size,
        "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
        "file_digests": digests.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        "signer": author.as_ref().map(|a| json!({"holder": a.holder, "unit": a.unit})),
        "prior_digests": prior_digests(&entry),
    });
    Ok((verdict, extra))
}

/// The verdict with what it was decided on: `verify-file --json`,
/// `POST /v1/verify/file`.
pub fn file_verdict_json(v: &FileVerdict, extra: &Value) -> Value {
    let mut out = serde_json::to_value(v).expect("verdict serialises");
    if let (Some(o), Some(e)) = (out.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    out
}

pub fn print_file_verdict(json: bool, v: &FileVerdict, extra: &Value, _zone: Zone) {
    if json {
        println!("{}", file_verdict_json(v, extra));
        return;
    }
    match (&v.evidence_id, v.seq) {
        (Some(id), Some(seq)) => println!("{}: evidence {id}, registered at seq {seq}", v.verdict.as_str()),
        _ => println!("{}", v.verdict.as_str()),
    }
    if let Some(s) = extra.get("signer").and_then(|s| s.get("holder")) {
        println!("  signed by {}", s.as_str().unwrap_or(""));
    }
    for p in extra.get("prior_digests").and_then(Value::as_array).into_iter().flatten() {
        let weak = if p["weak"] == true { "weak; " } else { "" };
        println!(
            "  earlier forensic record: {} ({weak}shown, not used to find the file)",
            p["digest"].as_str().unwrap_or("")
        );
    }
    for r in &v.reasons {
        let seq = r.seq.map_or(String::new(), |s| format!(" (seq {s})"));
        println!("  {:?} {}{seq}: {}", r.severity, r.code, r.message);
    }
}
