//! `fund publish --case ID`: the public disclosure of a case's damages
//! money — what was received, what was paid, for what and to whom (by
//! purpose category), each line with its seq and entry hash so a reader can
//! check it against the ledger. JSON (default) or CSV. With `--key`, a
//! `Published` entry records where it was published, with the report's
//! BLAKE3 digest.

use std::path::{Path, PathBuf};

use pil_ledger_core::digest::{Digest, DigestAlg};
use pil_ledger_core::state::{self, Movement, MovementKind, Ns};
use pil_ledger_core::wire::Body;
use serde_json::{json, Value};

use crate::cli::{print_ack, Failure};
use crate::fund_cli::yuan;
use crate::ledger::{self, Ledger, LedgerError};
use crate::store::{Store, StoreIndex};

pub struct Publish {
    pub case_id: String,
    pub csv: bool,
    pub key: Option<PathBuf>,
    pub location: String,
    pub notice_days: u32,
}

fn line(m: &Movement, purpose: &str) -> Value {
    json!({
        "seq": m.seq, "entry_hash": hex::encode(m.entry_hash),
        "kind": serde_json::to_value(m.kind).expect("kind"),
        "from": m.debit, "to": m.credit, "amount_fen": m.posted_fen, "purpose": purpose,
        "request_id": m.request_id,
    })
}

/// The report for a case, from the stored movements and requests.
pub fn report(l: &Ledger, case_id: &str) -> Result<Value, Failure> {
    let all = l.store().index_scan(Ns::Movement, &[]).map_err(|e| Failure::from(LedgerError::from(e)))?;
    let view = StoreIndex(l.store());
    let mut moves: Vec<Movement> = all
        .iter()
        .filter_map(|(_, v)| state::decode_fund_record::<Movement>(Ns::Movement, v).ok())
        .filter(|m| m.case_id == case_id && m.posted_fen > 0)
        .collect();
    moves.sort_by_key(|m| m.seq);
    let (mut received, mut paid, mut lines) = (0u64, 0u64, Vec::new());
    let mut by_purpose: std::collections::BTreeMap<String, u64> = Default::default();
    for m in &moves {
        let purpose = match m.kind {
            MovementKind::Post => {
                state::request_record(&view, &m.request_id).ok().flatten().map(|r| r.purpose).unwrap_or_default()
            }
            _ => String::new(),
        };
        match m.kind {
            MovementKind::Receipt => received = received.saturating_add(m.posted_fen),
            MovementKind::Post => {
                paid = paid.saturating_add(m.posted_fen);
                let e = by_purpose.entry(purpose.clone()).or_default();
                *e = e.saturating_add(m.posted_fen);
            }
            _ => {}
        }
        lines.push(line(m, &purpose));
    }
    let head = l.head()?;
    Ok(json!({
        "case_id": case_id, "received_fen": received, "paid_fen": paid,
        "paid_by_purpose_fen": by_purpose, "movements": lines,
        "checkpoint": head.checkpoint, "size": head.size,
    }))
}

fn csv(v: &Value) -> String {
    let mut out = String::from("seq,entry_hash,kind,from,to,amount_fen,purpose,request_id\n");
    for m in v["movements"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            m["seq"],
            m["entry_hash"].as_str().unwrap_or(""),
            m["kind"].as_str().unwrap_or(""),
            m["from"].as_str().unwrap_or(""),
            m["to"].as_str().unwrap_or(""),
            m["amount_fen"],
            m["purpose"].as_str().unwrap_or(""),
            m["request_id"].as_str().unwrap_or("")
        ));
    }
    out
}

pub fn publish(data: &Path, json_out: bool, p: &Publish) -> Result<u8, Failure> {
    let l = Ledger::open(data, p.key.is_some())?;
    state::case_record(&StoreIndex(l.store()), &p.case_id)
        .map_err(|e| Failure { exit: 3, code: "storage_error", message: e.to_string() })?
        .ok_or_else(|| crate::cli::refused("unknown_case", format!("case {:?} has not been opened", p.case_id)))?;
    let v = report(&l, &p.case_id)?;
    let text = if p.csv { csv(&v) } else { format!("{v}\n") };
    if p.csv || json_out || p.key.is_none() {
        print!("{text}");
    } else {
        println!(
            "case {}: received {}, paid {}",
            p.case_id,
            yuan(v["received_fen"].as_u64().unwrap_or(0).into()),
            yuan(v["paid_fen"].as_u64().unwrap_or(0).into())
        );
    }
    if let Some(key) = &p.key {
        let signer = ledger::read_key_file(key)?;
        let digest = Digest { alg: DigestAlg::Blake3, value: blake3::hash(text.as_bytes()).as_bytes().to_vec() };
        let body = Body::Published {
            case_or_scope: p.case_id.clone(),
            what: "damages fund disclosure".into(),
            location: p.location.clone(),
            notice_days: p.notice_days,
            report: vec![digest],
        };
        let ack = l.append_signed(&signer, &p.case_id, body)?;
        if json_out {
            eprintln!("{}", ack.to_json());
        } else {
            print_ack(false, &ack);
        }
    }
    Ok(0)
}
