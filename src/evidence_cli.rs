//! The evidence and case commands (`schema/evidence.md`): `case open|event|
//! show`, `evidence add|derive|show|list|access|check|submit|dispose`,
//! `seal`, `unseal`, `custody transfer|receive`, `hold`, `release`,
//! `verify-file`. Signing stays local; the rules are the core's.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use pil_ledger_core::wire::{Award, Body, CaseStage, SealState};

use crate::cli::Failure;
use crate::client::{seg, Backend, HttpClient, Target};
use crate::evidence_add::{hash_path, readable_id};
use crate::evidence_read::{self as read, Zone};
use crate::ledger::{self, Ack, Ledger};

#[derive(Subcommand, Debug)]
pub enum CaseCmd {
    /// Open a public-interest case (prosecutor).
    Open {
        #[arg(long)]
        key: PathBuf,
        #[arg(long = "case")]
        case_id: String,
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "ecology")]
        area: String,
        #[arg(long, default_value = "")]
        unit: String,
    },
    /// Record a stage: pre-suit-notice, suit-filed, mediation-notice, judgment, closed.
    Event {
        #[arg(long)]
        key: PathBuf,
        #[arg(long = "case")]
        case_id: String,
        #[arg(long, value_parser = parse_stage)]
        stage: CaseStage,
        /// The document's number.
        #[arg(long, default_value = "")]
        reference: String,
        /// When it happened, RFC 3339 with offset (default: now).
        #[arg(long)]
        date: Option<String>,
        #[arg(long, default_value = "")]
        note: String,
        /// For a judgment: HEAD:FEN:USE, repeatable (amount in integer fen).
        #[arg(long = "award", value_parser = parse_award)]
        awards: Vec<Award>,
    },
    /// The whole timeline of a case.
    Show {
        #[arg(value_name = "CASE")]
        case_id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum EvidenceCmd {
    /// Register files (or a physical item): digests computed in one pass.
    Add(Box<AddArgs>),
    /// Register an item made from an earlier one.
    Derive {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        parent: String,
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        method: String,
        #[arg(long)]
        id: Option<String>,
        #[arg(long, default_value = "application/octet-stream")]
        media_type: String,
    },
    /// An item: digests, collection, custody chain.
    Show { id: String },
    /// The items of a case.
    List {
        #[arg(long = "case")]
        case_id: String,
    },
    /// Record that someone looked at or used an item.
    Access {
        #[arg(long)]
        key: PathBuf,
        #[arg(long = "evidence")]
        id: String,
        #[arg(long)]
        purpose: String,
    },
    /// Re-hash the file of an item and record the result.
    Check {
        #[arg(long)]
        key: PathBuf,
        #[arg(long = "evidence")]
        id: String,
        #[arg(long)]
        file: PathBuf,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Record submission to a court.
    Submit {
        #[arg(long)]
        key: PathBuf,
        #[arg(long = "evidence")]
        id: String,
        #[arg(long)]
        court: String,
        #[arg(long)]
        reference: String,
    },
    /// Record disposal (refused under a legal hold).
    Dispose {
        #[arg(long)]
        key: PathBuf,
        #[arg(long = "evidence")]
        id: String,
        #[arg(long)]
        method: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Args, Debug)]
pub struct AddArgs {
    #[arg(long)]
    pub key: PathBuf,
    #[arg(long = "case")]
    pub case_id: String,
    /// A file to register; repeatable. A directory registers every regular
    /// file in it (not recursive).
    #[arg(long = "file")]
    pub files: Vec<PathBuf>,
    /// The evidence id (one file only; default: EV- and 8 characters of
    /// the file's BLAKE3, easy to read aloud).
    #[arg(long)]
    pub id: Option<String>,
    /// Collectors in order; the first is you (default: your enrolled name).
    #[arg(long = "collector")]
    pub collectors: Vec<String>,
    #[arg(long, default_value = "electronic-data")]
    pub category: String,
    #[arg(long, default_value = "")]
    pub method: String,
    #[arg(long, default_value = "")]
    pub legal_basis: String,
    #[arg(long, default_value = "")]
    pub place: String,
    /// When it was collected, RFC 3339 with its UTC offset (default: now,
    /// in the reader's zone).
    #[arg(long)]
    pub collected_at: Option<String>,
    #[arg(long, default_value = "")]
    pub source: String,
    #[arg(long, default_value = "")]
    pub witness: String,
    #[arg(long, default_value = "")]
    pub tool: String,
    #[arg(long, default_value = "")]
    pub tool_version: String,
    #[arg(long, default_value = "")]
    pub medium: String,
    /// Pre-ledger provenance: a notarisation, an external deposit number.
    #[arg(long, default_value = "")]
    pub provenance: String,
    /// ALG:HEX from an earlier forensic record; checked against the file.
    #[arg(long = "prior-digest")]
    pub prior: Vec<String>,
    #[arg(long, default_value = "application/octet-stream")]
    pub media_type: String,
    /// A physical item: no file, a description (and --file photos).
    #[arg(long)]
    pub physical: bool,
    #[arg(long, default_value = "")]
    pub description: String,
}

#[derive(Args, Debug)]
pub struct ItemArgs {
    #[arg(long)]
    pub key: PathBuf,
    #[arg(long = "evidence")]
    pub id: String,
}

#[derive(Subcommand, Debug)]
pub enum CustodyCmd {
    /// Hand an item to another enrolled key.
    Transfer {
        #[command(flatten)]
        item: ItemArgs,
        /// The receiver's public key, hex.
        #[arg(long)]
        to: String,
        #[arg(long)]
        purpose: String,
        #[arg(long, value_parser = parse_seal, default_value = "none")]
        seal: SealState,
    },
    /// Take an item handed to you, re-hashing its file.
    Receive {
        #[command(flatten)]
        item: ItemArgs,
        /// The item's file, re-hashed now (not needed for physical items).
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long, value_parser = parse_seal, default_value = "none")]
        seal: SealState,
    },
}

pub fn parse_stage(s: &str) -> Result<CaseStage, String> {
    Ok(match s {
        "pre-suit-notice" => CaseStage::PreSuitNotice,
        "suit-filed" => CaseStage::SuitFiled,
        "mediation-notice" => CaseStage::MediationNotice,
        "judgment" => CaseStage::Judgment,
        "closed" => CaseStage::Closed,
        _ => return Err("one of pre-suit-notice, suit-filed, mediation-notice, judgment, closed".into()),
    })
}

pub fn parse_seal(s: &str) -> Result<SealState, String> {
    Ok(match s {
        "none" => SealState::None,
        "intact" => SealState::Intact,
        "broken" => SealState::Broken,
        _ => return Err("one of none, intact, broken".into()),
    })
}

/// Integer fen only: `12.5`, `-5`, `0`, `1e3` and overflow are refused.
pub fn parse_fen(s: &str) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{s:?}: an amount is a whole number of fen (分), digits only"));
    }
    match s.parse::<u64>() {
        Ok(0) => Err("an amount must be more than 0 fen".into()),
        Ok(v) => Ok(v),
        Err(_) => Err(format!("{s:?} is more fen than the ledger can hold")),
    }
}

fn parse_award(s: &str) -> Result<Award, String> {
    let mut parts = s.splitn(3, ':');
    let (head, fen, usage) = (parts.next(), parts.next(), parts.next());
    match (head, fen, usage) {
        (Some(h), Some(f), Some(u)) => {
            Ok(Award { head: h.into(), amount_fen: parse_fen(f)?, designated_use: u.into() })
        }
        _ => Err("an award is HEAD:FEN:USE, e.g. restoration:1500000:ecological-restoration".into()),
    }
}

pub(crate) fn refused(code: &'static str, message: impl Into<String>) -> Failure {
    Failure { exit: 2, code, message: message.into() }
}

pub(crate) fn print_ack(json: bool, ack: &Ack) {
    if json {
        println!("{}", ack.to_json());
    } else {
        let ids: String = ack.created.iter().map(|(k, v)| format!(" {k}={v}")).collect();
        let dup = if ack.duplicate { " (already in the log)" } else { "" };
        println!("appended seq {} hash {}{ids}{dup}; checkpoint size {}", ack.seq, hex::encode(ack.hash), ack.size);
    }
}

pub fn run_case(t: &Target, json: bool, cmd: CaseCmd) -> Result<u8, Failure> {
    match cmd {
        CaseCmd::Open { key, case_id, title, area, unit } => {
            let signer = ledger::read_key_file(&key)?;
            let b = t.open(true)?;
            print_ack(json, &b.append(&signer, &case_id, Body::CaseOpened { title, area, unit })?);
        }
        CaseCmd::Event { key, case_id, stage, reference, date, note, awards } => {
            let signer = ledger::read_key_file(&key)?;
            let occurred_at_ms = match date {
                Some(d) => pil_ledger_core::json::parse_rfc3339(&d).map_err(|e| refused("invalid_argument", e))?.0,
                None => ledger::now_ms(),
            };
            let b = t.open(true)?;
            let body = Body::CaseEvent { stage, occurred_at_ms, reference, note, awards };
            print_ack(json, &b.append(&signer, &case_id, body)?);
        }
        CaseCmd::Show { case_id } => {
            let zone = Zone::from_env()?;
            match t.open(false)? {
                Backend::Local(l) => read::show_case(&l, &case_id, json, zone)?,
                Backend::Remote(c) => {
                    let v = c.get_json(&format!("/v1/cases/{}", seg(&case_id)))?;
                    if json {
                        println!("{v}");
                    } else {
                        let n = v["entries"].as_array().map_or(0, Vec::len);
                        let state = if v["closed_seq"].is_null() { "open" } else { "closed" };
                        println!("case {case_id}: {} ({state}, {n} entries)", v["title"].as_str().unwrap_or(""));
                        print_remote_timeline(&v["entries"], zone);
                    }
                }
            }
        }
    }
    Ok(0)
}

/// A timeline from the server's JSON (`case show`, `evidence show` over
/// HTTP without `--json`): seq, local time, kind and signer key. The local
/// form also names each signer; the server does not send the registry.
fn print_remote_timeline(entries: &serde_json::Value, zone: Zone) {
    for e in entries.as_array().into_iter().flatten() {
        let st = &e["statement"];
        let kind = st["body"]["kind"].as_str().or_else(|| st["kind"].as_str()).unwrap_or("entry");
        let at = e["recorded_at_ms"].as_u64().map(|ms| zone.show(ms)).unwrap_or_default();
        println!("  #{:<6} {at}  {kind}  by key {}", e["seq"], st["author"].as_str().unwrap_or("?"));
    }
}

pub fn run_evidence(t: &Target, json: bool, cmd: EvidenceCmd) -> Result<u8, Failure> {
    match cmd {
        EvidenceCmd::Add(a) => return crate::evidence_add::add(t, json, *a),
        EvidenceCmd::Derive { key, parent, file, method, id, media_type } => {
            let signer = ledger::read_key_file(&key)?;
            let fd = hash_path(&file)?;
            let b = t.open(true)?;
            let case_id = b.item(&parent)?.case_id;
            let evidence_id = id.unwrap_or_else(|| readable_id(&fd.blake3));
            let body =
                Body::EvidenceDerived { evidence_id, parent, digests: fd.digests(), size: fd.size, media_type, method };
            print_ack(json, &b.append(&signer, &case_id, body)?);
        }
        EvidenceCmd::Show { id } => {
            let zone = Zone::from_env()?;
            match t.open(false)? {
                Backend::Local(l) => read::show_item(&l, &id, json, zone)?,
                Backend::Remote(c) => {
                    let v = c.get_json(&format!("/v1/evidence/{}", seg(&id)))?;
                    if json {
                        println!("{v}");
                    } else {
                        println!("evidence {} (case {})", id, v["case_id"].as_str().unwrap_or(""));
                        for d in v["digests"].as_array().into_iter().flatten() {
                            println!("  digest {}", d.as_str().unwrap_or(""));
                        }
                        let collectors: Vec<&str> =
                            v["collectors"].as_array().into_iter().flatten().filter_map(|c| c.as_str()).collect();
                        println!("  collectors: {}", collectors.join(", "));
                        println!("  held by key {}", v["holder"].as_str().unwrap_or(""));
                        if let Some(to) = v["pending_transfer"]["to"].as_str() {
                            println!("  handover to key {to} not yet received");
                        }
                        println!("  custody chain:");
                        print_remote_timeline(&v["chain"], zone);
                    }
                }
            }
        }
        EvidenceCmd::List { case_id } => {
            t.local_only("evidence list")?;
            read::list_items(&Ledger::open(&t.data, false)?, &case_id, json)?
        }
        EvidenceCmd::Access { key, id, purpose } => {
            item_entry(t, json, &key, &id, |id| Body::EvidenceAccessed { evidence_id: id, purpose })?
        }
        EvidenceCmd::Check { key, id, file, note } => {
            let fd = hash_path(&file)?;
            item_entry(t, json, &key, &id, |id| Body::IntegrityChecked {
                evidence_id: id,
                digests: fd.digests(),
                note,
            })?
        }
        EvidenceCmd::Submit { key, id, court, reference } => {
            item_entry(t, json, &key, &id, |id| Body::SubmittedToCourt { evidence_id: id, court, reference })?
        }
        EvidenceCmd::Dispose { key, id, method, reason } => {
            item_entry(t, json, &key, &id, |id| Body::Disposed { evidence_id: id, method, reason })?
        }
    }
    Ok(0)
}

/// Append an entry about an existing item, under the item's own case.
pub fn item_entry(
    t: &Target,
    json: bool,
    key: &Path,
    id: &str,
    body: impl FnOnce(String) -> Body,
) -> Result<(), Failure> {
    let signer = ledger::read_key_file(key)?;
    let b = t.open(true)?;
    let case_id = b.item(id)?.case_id;
    print_ack(json, &b.append(&signer, &case_id, body(id.to_string()))?);
    Ok(())
}

pub fn run_custody(t: &Target, json: bool, cmd: CustodyCmd) -> Result<u8, Failure> {
    match cmd {
        CustodyCmd::Transfer { item, to, purpose, seal } => {
            let to = pil_ledger_core::keys::parse_public_hex(&to)
                .map_err(|e| refused("invalid_key", format!("--to: {e}")))?;
            item_entry(t, json, &item.key, &item.id, |id| Body::CustodyTransferred {
                evidence_id: id,
                to,
                purpose,
                seal,
            })?;
        }
        CustodyCmd::Receive { item, file, seal } => {
            let digests = match &file {
                Some(f) => hash_path(f)?.digests(),
                None => Vec::new(),
            };
            let signer = ledger::read_key_file(&item.key)?;
            let b = t.open(true)?;
            let rec = b.item(&item.id)?;
            let Some(transfer) = rec.pending_transfer else {
                return Err(refused("unknown_transfer", format!("{} has no handover waiting to be received", item.id)));
            };
            let body = Body::CustodyReceived { evidence_id: item.id.clone(), transfer, digests: digests.clone(), seal };
            let ack = b.append(&signer, &rec.case_id, body)?;
            print_ack(json, &ack);
            if !digests.is_empty() && !digests.iter().any(|d| rec.digests.contains(d)) {
                eprintln!("warning: the file you received does not match the registered digests; this is recorded and flagged");
            }
        }
    }
    Ok(0)
}

/// `seal`, `unseal`, `hold`, `release`.
pub fn run_seal(t: &Target, json: bool, item: ItemArgs, seal_id: String, note: String) -> Result<u8, Failure> {
    item_entry(t, json, &item.key, &item.id, |id| Body::Sealed { evidence_id: id, seal_id, note })?;
    Ok(0)
}

pub fn run_unseal(
    t: &Target,
    json: bool,
    item: ItemArgs,
    approval_seq: u64,
    condition: SealState,
    note: String,
) -> Result<u8, Failure> {
    let approval = t.open(false)?.entry_hash(approval_seq)?;
    item_entry(t, json, &item.key, &item.id, |id| Body::Unsealed { evidence_id: id, approval, condition, note })?;
    Ok(0)
}

pub fn run_hold(t: &Target, json: bool, item: ItemArgs, reason: String, release: bool) -> Result<u8, Failure> {
    item_entry(t, json, &item.key, &item.id, |id| {
        if release {
            Body::HoldReleased { evidence_id: id, reason }
        } else {
            Body::LegalHold { evidence_id: id, reason }
        }
    })?;
    Ok(0)
}

/// `verify-file PATH`: exit 0 unless the verdict is invalid (1). Over
/// HTTP the file is streamed to `POST /v1/verify/file` and the server's
/// verdict printed as the local one is.
pub fn verify_file(t: &Target, json: bool, path: &Path) -> Result<u8, Failure> {
    if let Some(url) = &t.server {
        return verify_file_remote(&HttpClient::new(url, t.token.clone())?, json, path);
    }
    let fd = hash_path(path)?;
    let l = Ledger::open(&t.data, false)?;
    let (verdict, extra) = read::file_verdict(&l, &fd)?;
    read::print_file_verdict(json, &verdict, &extra, Zone::from_env()?);
    Ok(if verdict.verdict == pil_ledger_core::verify::VerdictKind::Invalid { 1 } else { 0 })
}

fn verify_file_remote(c: &HttpClient, json: bool, path: &Path) -> Result<u8, Failure> {
    let unreadable = |e: std::io::Error, exit: u8| Failure {
        exit,
        code: if exit == 2 { "invalid_argument" } else { "io_error" },
        message: format!("{}: {e}", path.display()),
    };
    let meta = std::fs::metadata(path).map_err(|e| unreadable(e, 3))?;
    if !meta.is_file() {
        return Err(unreadable(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"), 2));
    }
    let file = std::fs::File::open(path).map_err(|e| unreadable(e, 3))?;
    let v = c.verify_file(std::io::BufReader::with_capacity(1 << 20, file))?;
    let verdict = v["verdict"].as_str().unwrap_or("");
    if json {
        println!("{v}");
    } else {
        match (v["evidence_id"].as_str(), v["seq"].as_u64()) {
            (Some(id), Some(seq)) => println!("{verdict}: evidence {id}, registered at seq {seq}"),
            _ => println!("{verdict}"),
        }
        if let Some(s) = v["signer"]["holder"].as_str() {
            println!("  signed by {s}");
        }
        for r in v["reasons"].as_array().into_iter().flatten() {
            let seq = r["seq"].as_u64().map_or(String::new(), |s| format!(" (seq {s})"));
            let sev = r["severity"].as_str().unwrap_or("");
            let sev = sev.get(..1).map_or(String::new(), |f| f.to_uppercase() + &sev[1..]);
            println!("  {sev} {}{seq}: {}", r["code"].as_str().unwrap_or(""), r["message"].as_str().unwrap_or(""));
        }
    }
    Ok(if verdict == "invalid" { 1 } else { 0 })
}
