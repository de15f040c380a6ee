//! The damages-fund commands (`schema/fund.md`; DESIGN §7.1 `fund …`).
//! Amounts are integer fen on the command line and in JSON; people read
//! yuan (`1,250.50 元`). The rules are the core's (`state/fund*`); this
//! module builds bodies, finds the case an entry belongs to, and reads
//! balances, statements, audits and disclosures back.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use pil_ledger_core::fund_audit::{audit_records, FundRecords};
use pil_ledger_core::state::{self, index::account_key, Movement, Ns};
use pil_ledger_core::wire::{AccountKind, Body};
use serde_json::{json, Value};

use crate::cli::{print_ack, refused, Failure};
use crate::client::Target;
use crate::error::ErrorClass;
use crate::evidence_cli::parse_fen;
use crate::evidence_read::ReadError;
use crate::ledger::{self, Ledger, LedgerError};
use crate::store::{Store, StoreIndex};

#[derive(Subcommand, Debug)]
pub enum FundCmd {
    /// Open an account: fund, case, payer, payee or treasury.
    OpenAccount {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        account: String,
        #[arg(long, value_parser = parse_kind)]
        kind: AccountKind,
        #[arg(long, default_value = "")]
        name: String,
        /// The balance may not go below zero, counting reservations.
        #[arg(long)]
        no_overdraft: bool,
        /// Approval stages a disbursement from this account needs (0 to 5;
        /// default 1 for fund and case accounts, 0 for the others).
        #[arg(long)]
        stages: Option<u8>,
        /// The case a `case` account belongs to.
        #[arg(long = "case", default_value = "")]
        case_id: String,
    },
    /// What a judgment orders paid: by whom, how much, for what use, by when.
    Obligation {
        #[arg(long)]
        key: PathBuf,
        #[arg(long = "case")]
        case_id: String,
        #[arg(long)]
        payer: String,
        #[arg(long, value_parser = parse_fen)]
        amount: u64,
        /// The designated use, e.g. ecological-restoration.
        #[arg(long = "use")]
        designated_use: String,
        /// Due date, RFC 3339 with offset.
        #[arg(long)]
        due: Option<String>,
        /// The seq of the case's judgment `CaseEvent`.
        #[arg(long)]
        judgment_seq: Option<u64>,
        #[arg(long)]
        id: Option<String>,
    },
    /// Money received from a payer into a fund or case account.
    Receive {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        account: String,
        #[arg(long)]
        from: String,
        #[arg(long, value_parser = parse_fen)]
        amount: u64,
        #[arg(long = "case", default_value = "")]
        case_id: String,
        /// The bank's reference; the same receipt twice is refused.
        #[arg(long = "ref", default_value = "")]
        bank_ref: String,
    },
    /// Money remitted to the treasury.
    Remit {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long, value_parser = parse_fen)]
        amount: u64,
        #[arg(long = "case", default_value = "")]
        case_id: String,
        #[arg(long = "ref", default_value = "")]
        bank_ref: String,
    },
    /// Request a disbursement: the amount is reserved until paid or voided.
    Request {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long, value_parser = parse_fen)]
        amount: u64,
        #[arg(long)]
        purpose: String,
        #[arg(long = "case", default_value = "")]
        case_id: String,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long)]
        id: Option<String>,
    },
    /// Approve the next stage of a request.
    Approve {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        request: String,
    },
    /// Reject a request at its next stage.
    Reject {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        request: String,
        #[arg(long, default_value = "rejected")]
        reason: String,
    },
    /// Pay an approved request (default: the approved amount), once.
    Pay {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        request: String,
        #[arg(long, value_parser = parse_fen)]
        amount: Option<u64>,
        #[arg(long = "ref", default_value = "")]
        bank_ref: String,
    },
    /// Void a request: release its reservation, once.
    Void {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        request: String,
        #[arg(long, default_value = "voided")]
        reason: String,
    },
    /// Reverse a receipt, remittance or payment (never more than it moved).
    Reverse {
        #[arg(long)]
        key: PathBuf,
        /// The seq of the entry to reverse.
        #[arg(long)]
        seq: u64,
        #[arg(long, value_parser = parse_fen)]
        amount: u64,
        #[arg(long)]
        reason: String,
    },
    /// Record a reconciliation with a bank statement.
    Reconcile {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        account: String,
        /// Period start and end, RFC 3339 with offset.
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// The bank statement file (its digest is recorded).
        #[arg(long)]
        statement: PathBuf,
        #[arg(long, value_parser = parse_balance)]
        balance: u64,
    },
    /// `{"account","debits_posted","credits_posted","debits_pending","credits_pending","available"}`.
    Balance {
        #[arg(long)]
        account: String,
    },
    /// Every movement of an account with its running balance.
    Statement {
        #[arg(long)]
        account: String,
        #[arg(long)]
        from: Option<u64>,
        #[arg(long)]
        to: Option<u64>,
        #[arg(long)]
        csv: bool,
    },
    /// Check every fund invariant over the whole ledger; exit 1 if any breaks.
    Audit,
    /// A disclosure report for a case; with --key, record that it was published.
    Publish {
        #[arg(long = "case")]
        case_id: String,
        #[arg(long)]
        csv: bool,
        #[arg(long)]
        key: Option<PathBuf>,
        /// Where it was published (with --key).
        #[arg(long = "where", default_value = "")]
        location: String,
        #[arg(long, default_value_t = 30)]
        notice_days: u32,
    },
}

fn parse_kind(s: &str) -> Result<AccountKind, String> {
    s.parse().map_err(|_| "one of fund, case, payer, payee, treasury".to_string())
}

/// A reconciled balance may be zero.
fn parse_balance(s: &str) -> Result<u64, String> {
    if s == "0" {
        Ok(0)
    } else {
        parse_fen(s)
    }
}

/// `1250050` fen → `12,500.50 元`.
pub fn yuan(fen: i128) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let f = fen.unsigned_abs();
    let whole = (f / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02} 元", f % 100)
}

fn backend(e: state::BackendError) -> Failure {
    Failure { exit: 3, code: "storage_error", message: e.to_string() }
}

fn read_backend(e: state::BackendError) -> ReadError {
    ReadError { class: ErrorClass::Internal, code: "storage_error", message: e.to_string() }
}

fn fresh_id(prefix: &str) -> String {
    let mut b = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    format!("{prefix}-{}", crate::evidence_add::readable_id(&b).trim_start_matches("EV-"))
}

fn request(l: &Ledger, id: &str) -> Result<state::RequestRecord, ReadError> {
    state::request_record(&StoreIndex(l.store()), id).map_err(read_backend)?.ok_or_else(|| ReadError {
        class: ErrorClass::NotFound,
        code: "unknown_request",
        message: format!("no disbursement request {id:?}"),
    })
}

fn account(l: &Ledger, id: &str) -> Result<state::AccountRecord, ReadError> {
    state::account_record(&StoreIndex(l.store()), id).map_err(read_backend)?.ok_or_else(|| ReadError {
        class: ErrorClass::NotFound,
        code: "unknown_account",
        message: format!("no account {id:?}"),
    })
}

/// A disbursement request (`GET /v1/requests/{id}`; what `fund approve`,
/// `reject`, `pay` and `void` read to build their statement).
pub fn request_json(l: &Ledger, id: &str) -> Result<Value, ReadError> {
    let r = request(l, id)?;
    let approval =
        |a: &state::Approval| json!({"stage": a.stage, "key": hex::encode(a.key), "holder": a.holder, "seq": a.seq});
    Ok(json!({
        "request_id": r.request_id, "case_id": r.case_id, "from": r.from, "to": r.to,
        "amount_fen": r.amount_fen, "purpose": r.purpose, "requester": hex::encode(r.requester),
        "requester_holder": r.requester_holder, "requested_seq": r.requested_seq,
        "requested_hash": hex::encode(r.requested_hash), "stages": r.stages,
        "approvals": r.approvals.iter().map(approval).collect::<Vec<_>>(),
        "rejection": r.rejection.as_ref().map(approval),
        "status": serde_json::to_value(r.status).expect("status"),
        "approved_fen": r.approved_fen, "paid_fen": r.paid_fen, "settled_seq": r.settled_seq,
    }))
}

/// An account with its balance (`GET /v1/accounts/{id}`).
pub fn account_json(l: &Ledger, id: &str) -> Result<Value, ReadError> {
    let a = account(l, id)?;
    Ok(json!({
        "account_id": a.account_id, "kind": a.kind.as_str(), "name": a.name, "case_id": a.case_id,
        "no_overdraft": a.no_overdraft, "stages": a.stages, "opened_seq": a.opened_seq,
        "opened_hash": hex::encode(a.opened_hash), "movements": a.movements,
        "balance": balance_value(id, &a),
    }))
}

fn u64_field(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or(0)
}

fn str_field(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or("").to_string()
}

/// Sign and append `body` under `case_id`.
fn append(t: &Target, json: bool, key: &Path, case_id: &str, body: Body) -> Result<u8, Failure> {
    let signer = ledger::read_key_file(key)?;
    let b = t.open(true)?;
    print_ack(json, &b.append(&signer, case_id, body)?);
    Ok(0)
}

/// Append something about an existing request, under the request's case;
/// `body` gets the request as `request_json` shows it.
fn on_request(t: &Target, json: bool, key: &Path, id: &str, body: impl FnOnce(&Value) -> Body) -> Result<u8, Failure> {
    let signer = ledger::read_key_file(key)?;
    let b = t.open(true)?;
    let r = b.request(id)?;
    print_ack(json, &b.append(&signer, &str_field(&r, "case_id"), body(&r))?);
    Ok(0)
}

/// The next approval stage of a request.
fn next_stage(r: &Value) -> u8 {
    r["approvals"].as_array().map_or(0, Vec::len) as u8 + 1
}

fn time(s: &str) -> Result<u64, Failure> {
    pil_ledger_core::json::parse_rfc3339(s).map(|t| t.0).map_err(|e| refused("invalid_argument", e))
}

pub fn run(t: &Target, json: bool, cmd: FundCmd) -> Result<u8, Failure> {
    use FundCmd::*;
    let data = t.data.as_path();
    match cmd {
        OpenAccount { key, account, kind, name, no_overdraft, stages, case_id } => {
            let name = if name.is_empty() { account.clone() } else { name };
            let stages = stages.unwrap_or(if kind.is_managed() { 1 } else { 0 });
            let body = Body::AccountOpened { account_id: account, account_kind: kind, name, no_overdraft, stages };
            append(t, json, &key, &case_id, body)
        }
        Obligation { key, case_id, payer, amount, designated_use, due, judgment_seq, id } => {
            let due_ms = due.as_deref().map(time).transpose()?.unwrap_or(0);
            let judgment = match judgment_seq {
                Some(seq) => Some(t.open(false)?.entry_hash(seq)?),
                None => None,
            };
            let obligation_id = id.unwrap_or_else(|| fresh_id("OB"));
            let body = Body::Obligation { obligation_id, payer, amount_fen: amount, designated_use, due_ms, judgment };
            append(t, json, &key, &case_id, body)
        }
        Receive { key, account, from, amount, case_id, bank_ref } => append(
            t,
            json,
            &key,
            &case_id,
            Body::FundReceipt { account_id: account, from, amount_fen: amount, bank_ref },
        ),
        Remit { key, from, to, amount, case_id, bank_ref } => {
            append(t, json, &key, &case_id, Body::Remittance { from, to, amount_fen: amount, bank_ref })
        }
        Request { key, from, to, amount, purpose, case_id, note, id } => {
            let request_id = id.unwrap_or_else(|| fresh_id("RQ"));
            let body = Body::DisbursementRequested { request_id, from, to, amount_fen: amount, purpose, note };
            append(t, json, &key, &case_id, body)
        }
        Approve { key, request } => on_request(t, json, &key, &request.clone(), |r| Body::DisbursementApproved {
            request_id: request,
            stage: next_stage(r),
        }),
        Reject { key, request, reason } => on_request(t, json, &key, &request.clone(), |r| {
            Body::DisbursementRejected { request_id: request, stage: next_stage(r), reason }
        }),
        Pay { key, request, amount, bank_ref } => on_request(t, json, &key, &request.clone(), |r| {
            let (approved, requested) = (u64_field(r, "approved_fen"), u64_field(r, "amount_fen"));
            Body::DisbursementPaid {
                request_id: request,
                amount_fen: amount.unwrap_or(if approved > 0 { approved } else { requested }),
                bank_ref,
            }
        }),
        Void { key, request, reason } => {
            on_request(t, json, &key, &request.clone(), |_| Body::DisbursementVoided { request_id: request, reason })
        }
        Reverse { key, seq, amount, reason } => {
            let signer = ledger::read_key_file(&key)?;
            let b = t.open(true)?;
            let (original, case_id) = b.movement_case(seq)?;
            print_ack(json, &b.append(&signer, &case_id, Body::Reversal { original, amount_fen: amount, reason })?);
            Ok(0)
        }
        Reconcile { key, account: id, from, to, statement, balance } => {
            let (period_from_ms, period_to_ms) = (time(&from)?, time(&to)?);
            let fd = crate::evidence_add::hash_path(&statement)?;
            let statement_digest = fd.digests().into_iter().next().expect("blake3 first");
            let signer = ledger::read_key_file(&key)?;
            let b = t.open(true)?;
            let case_id = str_field(&b.account(&id)?, "case_id");
            let body = Body::Reconciled {
                account_id: id,
                period_from_ms,
                period_to_ms,
                statement_digest,
                balance_fen: balance,
            };
            print_ack(json, &b.append(&signer, &case_id, body)?);
            Ok(0)
        }
        Balance { account: id } => {
            let b = t.open(false)?;
            if json {
                println!("{}", b.balance(&id)?);
            } else {
                let a = b.account(&id)?;
                let bal = &a["balance"];
                let fen = |k: &str| i128::from(u64_field(bal, k));
                println!("account {id} ({}, {})", str_field(&a, "name"), str_field(&a, "kind"));
                println!("  available        {}", yuan(bal["available"].as_i64().unwrap_or(0).into()));
                println!("  credits posted   {}", yuan(fen("credits_posted")));
                println!("  debits posted    {}", yuan(fen("debits_posted")));
                println!("  reserved (out)   {}", yuan(fen("debits_pending")));
                println!("  pending (in)     {}", yuan(fen("credits_pending")));
            }
            Ok(0)
        }
        Statement { account: id, from, to, csv } => {
            t.local_only("fund statement")?;
            statement(data, json, &id, from, to, csv)
        }
        Audit => {
            t.local_only("fund audit")?;
            audit(data, json)
        }
        Publish { case_id, csv, key, location, notice_days } => {
            t.local_only("fund publish")?;
            crate::fund_report::publish(
                data,
                json,
                &crate::fund_report::Publish { case_id, csv, key, location, notice_days },
            )
        }
    }
}

fn balance_value(id: &str, a: &state::AccountRecord) -> Value {
    let b = &a.balance;
    json!({
        "account": id, "debits_posted": b.debits_posted, "credits_posted": b.credits_posted,
        "debits_pending": b.debits_pending, "credits_pending": b.credits_pending,
        "available": b.available() as i64,
    })
}

/// The §7.1 balance object, for the CLI and the server
/// (`GET /v1/accounts/{id}/balance`).
pub fn balance_json(l: &Ledger, id: &str) -> Result<Value, ReadError> {
    Ok(balance_value(id, &account(l, id)?))
}

/// An account's movements in seq order.
pub fn movements(l: &Ledger, id: &str) -> Result<Vec<Movement>, Failure> {
    let rows = l
        .store()
        .index_scan(Ns::AccountMovement, &account_key(id, &[]))
        .map_err(|e| Failure::from(LedgerError::from(e)))?;
    rows.iter().map(|(_, v)| state::decode_fund_record::<Movement>(Ns::AccountMovement, v).map_err(backend)).collect()
}

fn statement(data: &Path, json: bool, id: &str, from: Option<u64>, to: Option<u64>, csv: bool) -> Result<u8, Failure> {
    let l = Ledger::open(data, false)?;
    account(&l, id)?;
    let mut running: i128 = 0;
    if csv {
        println!(
            "seq,entry_hash,kind,debit,credit,posted_fen,reserved_fen,released_fen,balance_fen,request_id,bank_ref"
        );
    }
    for m in movements(&l, id)? {
        let sign: i128 = if m.credit == id { 1 } else { -1 };
        running += sign * i128::from(m.posted_fen);
        if from.is_some_and(|f| m.seq < f) || to.is_some_and(|t| m.seq > t) {
            continue;
        }
        let kind = serde_json::to_value(m.kind).expect("kind").as_str().unwrap_or("").to_string();
        if csv {
            println!(
                "{},{},{kind},{},{},{},{},{},{running},{},{}",
                m.seq,
                hex::encode(m.entry_hash),
                m.debit,
                m.credit,
                m.posted_fen,
                m.reserved_fen,
                m.released_fen,
                m.request_id,
                m.bank_ref
            );
        } else if json {
            println!(
                "{}",
                json!({"seq": m.seq, "entry_hash": hex::encode(m.entry_hash), "kind": kind, "debit": m.debit, "credit": m.credit,
                    "posted_fen": m.posted_fen, "reserved_fen": m.reserved_fen, "released_fen": m.released_fen,
                    "balance_fen": running as i64, "request_id": m.request_id, "bank_ref": m.bank_ref})
            );
        } else {
            let amount = if m.posted_fen > 0 {
                yuan(sign * i128::from(m.posted_fen))
            } else {
                format!("reserved {}", yuan(i128::from(m.reserved_fen) - i128::from(m.released_fen)))
            };
            println!("#{:<6} {kind:<10} {amount:>22}  balance {:>20}  {}", m.seq, yuan(running), m.request_id);
        }
    }
    Ok(0)
}

/// `fund audit`: the invariants over the stored fund records (so an index
/// edited offline is caught too); exit 1 if any breaks.
fn audit(data: &Path, json: bool) -> Result<u8, Failure> {
    let l = Ledger::open(data, false)?;
    let all = l.store().index_all().map_err(|e| Failure::from(LedgerError::from(e)))?;
    let report = audit_records(&FundRecords::from_raw(all.iter().map(|(ns, k, v)| (*ns, k.as_slice(), v.as_slice()))));
    let verdict = if report.passed() { "valid" } else { "invalid" };
    let reasons: Vec<Value> = report
        .violations
        .iter()
        .map(|v| json!({"code": v.code, "seq": v.seq, "severity": "error", "message": v.message}))
        .collect();
    if json {
        println!(
            "{}",
            json!({"verdict": verdict, "reasons": reasons, "accounts": report.accounts, "requests": report.requests, "movements": report.movements})
        );
    } else {
        println!(
            "{verdict}: {} accounts, {} requests, {} movements",
            report.accounts, report.requests, report.movements
        );
        for v in &report.violations {
            let seq = v.seq.map_or(String::new(), |s| format!(" seq {s}"));
            println!("  Error {}{seq}: {}", v.code, v.message);
        }
    }
    Ok(if report.passed() { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    #[test]
    fn yuan_groups_thousands_and_keeps_fen() {
        assert_eq!(super::yuan(125_050), "1,250.50 元");
        assert_eq!(super::yuan(5), "0.05 元");
        assert_eq!(super::yuan(-123_456_789), "-1,234,567.89 元");
        assert_eq!(super::yuan(100_000_000), "1,000,000.00 元");
    }
}
