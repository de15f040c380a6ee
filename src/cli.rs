//! The `pil-ledger` command line (DESIGN §7.1). Exit codes: 0 done / valid,
//! 1 verification says invalid, 2 refused (nothing appended), 3 I/O or
//! internal error. Errors go to stderr as one line (JSON with `--json`).

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use pil_ledger_core::authority::Role;
use pil_ledger_core::json as pjson;
use pil_ledger_core::keys;
use pil_ledger_core::note::{Checkpoint, NoteVerifier};
use pil_ledger_core::verify::VerdictKind;
use pil_ledger_core::wire::{Body, Entry};
use serde_json::json;

use crate::client::{Backend, Target};
use crate::evidence_cli::{self, CaseCmd, CustodyCmd, EvidenceCmd, ItemArgs};
use crate::ledger::{self, acked_checkpoint_fast, Ledger, LedgerError};
use crate::store::Store;

mod entry;
mod maintain;
mod output;
pub use entry::main;
use output::{hexes, pubkey_arg};
pub(crate) use output::{print_ack, print_verdict, progress_bar};

#[derive(Parser, Debug)]
#[command(
    name = "pil-ledger",
    version,
    about = "Tamper-evident ledger for public-interest litigation: evidence and damages funds"
)]
pub struct Cli {
    /// Data directory (ledger, keys).
    #[arg(long, global = true, env = "PIL_DATA", default_value = "./pil-data")]
    pub data: PathBuf,
    /// Machine-readable output: one JSON object (one per line for lists).
    #[arg(long, global = true)]
    pub json: bool,
    /// Send the command to a running `pil-ledger serve` (http://HOST:PORT)
    /// instead of opening --data: statements are still signed here with
    /// --key; output and exit codes are the same as locally.
    #[arg(long, global = true, env = "PIL_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Bearer token for the server's reads (`pil-ledger token add`).
    #[arg(long, global = true, env = "PIL_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Build a small real ledger under --data (init if needed, enrol a
    /// prosecutor and an assistant, open a case, register a lab report
    /// collected by both), then verify the ledger and the file.
    Demo {
        /// Then serve it (read access without a token, for the demo) and
        /// print the page's URL.
        #[arg(long)]
        serve: bool,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Create a ledger: log key, first key officer, genesis at seq 0.
    Init {
        #[arg(long)]
        origin: String,
        /// Name of the first key officer.
        #[arg(long, default_value = "Key Officer")]
        holder: String,
        #[arg(long, default_value = "Procuratorate")]
        unit: String,
    },
    /// Make a new person key (PKCS#8 PEM, mode 0600).
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Enrol a person's key with roles (signed by a key officer).
    Enroll {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        pubkey: String,
        #[arg(long)]
        holder: String,
        #[arg(long)]
        unit: String,
        /// Comma-separated: key-officer, prosecutor, assistant, custodian,
        /// approver, court-liaison, finance, finance-reviewer, auditor, publisher.
        #[arg(long, value_delimiter = ',', required = true)]
        roles: Vec<Role>,
        /// Start of validity, unix ms (default: now).
        #[arg(long)]
        valid_from: Option<u64>,
        /// End of validity, unix ms (default: none).
        #[arg(long)]
        valid_until: Option<u64>,
    },
    /// Revoke a key (signed by a key officer).
    Revoke {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        pubkey: String,
        #[arg(long)]
        reason: String,
        /// Unix ms since when the key is believed compromised: entries it
        /// signed from then on are flagged by verifiers.
        #[arg(long)]
        compromised_since: Option<u64>,
    },
    /// Endorse an earlier entry as a second person (dual control).
    Endorse {
        #[arg(long)]
        key: PathBuf,
        /// The entry to endorse, by seq.
        #[arg(long)]
        seq: u64,
        /// Capacity: key-officer, second-collector, custody-receiver, finance-reviewer, witness, ...
        #[arg(long)]
        capacity: String,
    },
    /// Record a correction of an earlier entry (nothing is edited).
    Correct {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        seq: u64,
        #[arg(long)]
        field: String,
        #[arg(long)]
        value: String,
        #[arg(long)]
        reason: String,
    },
    /// Print the log's verifier key line.
    Vkey,
    /// Print the latest checkpoint note (or the one at --size), exactly.
    Checkpoint {
        #[arg(long)]
        size: Option<u64>,
    },
    /// JSON lines {"seq","hash","entry"}; --from and --to are inclusive.
    Entries {
        #[arg(long)]
        from: Option<u64>,
        #[arg(long)]
        to: Option<u64>,
    },
    /// One entry, decoded.
    Show { seq: u64 },
    /// Inclusion and consistency proofs.
    Prove {
        #[command(subcommand)]
        what: ProveCmd,
    },
    /// Re-check the whole ledger; exit 1 if invalid.
    Verify {
        /// The verifier key you trust (default: the one the ledger names).
        #[arg(long)]
        vkey: Option<String>,
        /// A checkpoint note you kept earlier; the log must still extend it.
        /// Repeatable.
        #[arg(long = "checkpoint")]
        checkpoints: Vec<PathBuf>,
    },
    /// Drop and rebuild every derived index from the log.
    Reindex,
    /// Convert the store to this build's storage format, in place and
    /// crash-safe (the old or the new store, complete, at any instant);
    /// verified before it replaces the old one.
    Migrate,
    /// Drive real signed statements through the real write path. Creates
    /// its own ledger when --data is absent or empty; writes into a ledger
    /// it did not create only with --allow-existing.
    Stress {
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 64)]
        clients: u64,
        /// Sign every statement before the clock starts.
        #[arg(long)]
        presign: bool,
        /// Write test enrolments and cases into a ledger stress did not create.
        #[arg(long)]
        allow_existing: bool,
    },
    /// Cases: open, record a stage, show the timeline.
    Case {
        #[command(subcommand)]
        what: CaseCmd,
    },
    /// Evidence items: add, derive, show, list, access, check, submit, dispose.
    Evidence {
        #[command(subcommand)]
        what: Box<EvidenceCmd>,
    },
    /// Seal an item (its current holder).
    Seal {
        #[command(flatten)]
        item: ItemArgs,
        #[arg(long)]
        seal_id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Break an item's seal with an approver's approval: --approval is the
    /// seq of the approver's `endorse --capacity approver` of the seal entry.
    Unseal {
        #[command(flatten)]
        item: ItemArgs,
        #[arg(long)]
        approval: u64,
        /// The seal as found: intact or broken.
        #[arg(long, value_parser = crate::evidence_cli::parse_seal, default_value = "intact")]
        condition: pil_ledger_core::wire::SealState,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Custody handovers: transfer, receive (with a re-hash).
    Custody {
        #[command(subcommand)]
        what: CustodyCmd,
    },
    /// Put an item under a legal hold (no disposal while it stands).
    Hold {
        #[command(flatten)]
        item: ItemArgs,
        #[arg(long)]
        reason: String,
    },
    /// Release a legal hold.
    Release {
        #[command(flatten)]
        item: ItemArgs,
        #[arg(long)]
        reason: String,
    },
    /// Is this file the evidence the ledger says it is? Exit 1 if invalid.
    VerifyFile { path: PathBuf },
    /// Court bundles (DESIGN §3.8): export from this ledger; verify offline.
    Bundle {
        #[command(subcommand)]
        what: crate::bundle_cli::BundleCmd,
    },
    /// Serve the HTTP API (src/server/, schema/openapi.json) until SIGTERM.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Entry contents, cases and evidence without a bearer token.
        #[arg(long)]
        public_read: bool,
    },
    /// Bearer tokens for the HTTP API: add, list, revoke.
    Token {
        #[command(subcommand)]
        what: crate::server::auth::TokenCmd,
    },
    /// The damages fund: accounts, receipts, staged disbursements, audit.
    Fund {
        #[command(subcommand)]
        what: Box<crate::fund_cli::FundCmd>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProveCmd {
    /// {"seq","size","leaf","proof"}
    Inclusion {
        seq: u64,
        #[arg(long)]
        size: Option<u64>,
    },
    /// {"old","size","proof"}
    Consistency {
        old: u64,
        #[arg(long)]
        size: Option<u64>,
    },
}

/// A failure with its exit code.
pub struct Failure {
    pub exit: u8,
    pub code: &'static str,
    pub message: String,
}

impl From<LedgerError> for Failure {
    fn from(e: LedgerError) -> Self {
        Failure { exit: e.exit_code(), code: e.code(), message: e.to_string() }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure { exit: 3, code: "io_error", message: e.to_string() }
    }
}

pub(crate) fn refused(code: &'static str, message: impl Into<String>) -> Failure {
    Failure { exit: 2, code, message: message.into() }
}

fn run(cli: Cli) -> Result<u8, Failure> {
    let data = cli.data.clone();
    let json = cli.json;
    let t =
        Target { data: data.clone(), server: cli.server.clone().filter(|s| !s.is_empty()), token: cli.token.clone() };
    match &cli.cmd {
        Cmd::Demo { .. } => t.local_only("demo")?,
        Cmd::Init { .. } => t.local_only("init")?,
        Cmd::Verify { .. } => t.local_only("verify")?,
        Cmd::Reindex => t.local_only("reindex")?,
        Cmd::Migrate => t.local_only("migrate")?,
        Cmd::Stress { .. } => t.local_only("stress")?,
        Cmd::Serve { .. } => t.local_only("serve")?,
        Cmd::Token { .. } => t.local_only("token")?,
        Cmd::Bundle { what: crate::bundle_cli::BundleCmd::Export { .. } } => t.local_only("bundle export")?,
        _ => {}
    }
    match cli.cmd {
        Cmd::Init { origin, holder, unit } => {
            let l = Ledger::init(&data, &origin, &holder, &unit)?;
            let v = l.vkey().to_vkey_string();
            if json {
                println!(
                    "{}",
                    json!({"vkey": v, "origin": origin, "data": data.display().to_string(), "log_key_file": l.paths().log_key().display().to_string(), "officer_key_file": l.paths().officer_key().display().to_string()})
                );
            } else {
                println!("{v}");
            }
            l.close();
            Ok(0)
        }
        Cmd::Demo { serve, listen } => match crate::demo::demo(&data, json)? {
            0 if serve => crate::server::run_serve(&data, json, &listen, true),
            code => Ok(code),
        },
        Cmd::Keygen { out } => {
            let k = keys::generate();
            if std::fs::symlink_metadata(&out).is_ok() {
                return Err(refused("file_exists", format!("{} already exists; not overwriting a key", out.display())));
            }
            ledger::write_key_file(&out, &k)?;
            let pk = hex::encode(k.verifying_key().as_bytes());
            if json {
                println!("{}", json!({"public_key": pk, "file": out.display().to_string()}));
            } else {
                println!("{pk}");
            }
            Ok(0)
        }
        Cmd::Enroll { key, pubkey, holder, unit, roles, valid_from, valid_until } => {
            let signer = ledger::read_key_file(&key)?;
            let pk = pubkey_arg(&pubkey)?;
            let b = t.open(true)?;
            let body = Body::KeyEnrolled {
                key: pk,
                holder,
                unit,
                roles,
                valid_from_ms: valid_from.unwrap_or_else(ledger::now_ms),
                valid_until_ms: valid_until,
            };
            let ack = b.append(&signer, "", body)?;
            print_ack(json, &ack);
            Ok(0)
        }
        Cmd::Revoke { key, pubkey, reason, compromised_since } => {
            let signer = ledger::read_key_file(&key)?;
            let pk = pubkey_arg(&pubkey)?;
            let b = t.open(true)?;
            let ack =
                b.append(&signer, "", Body::KeyRevoked { key: pk, reason, compromised_since_ms: compromised_since })?;
            print_ack(json, &ack);
            Ok(0)
        }
        Cmd::Endorse { key, seq, capacity } => {
            let signer = ledger::read_key_file(&key)?;
            let b = t.open(true)?;
            let entry_hash = b.entry_hash(seq)?;
            let ack = b.append(&signer, "", Body::Endorsed { entry_hash, capacity })?;
            print_ack(json, &ack);
            Ok(0)
        }
        Cmd::Correct { key, seq, field, value, reason } => {
            let signer = ledger::read_key_file(&key)?;
            let b = t.open(true)?;
            let entry_hash = b.entry_hash(seq)?;
            let ack = b.append(&signer, "", Body::Correction { entry_hash, field, value, reason })?;
            print_ack(json, &ack);
            Ok(0)
        }
        Cmd::Vkey => {
            let v = match t.open(false)? {
                Backend::Local(l) => l.vkey().to_vkey_string(),
                Backend::Remote(c) => c.get_text("/v1/vkey")?.trim_end().to_string(),
            };
            if json {
                println!("{}", json!({"vkey": v}));
            } else {
                println!("{v}");
            }
            Ok(0)
        }
        Cmd::Checkpoint { size } => {
            // The newest acknowledged checkpoint is kept beside the store:
            // no store to open (O(1), also while `serve` holds the ledger).
            let fast = if size.is_none() && t.server.is_none() { acked_checkpoint_fast(&data) } else { None };
            let (note, vkey) = match fast {
                Some(nv) => nv,
                None => match t.open(false)? {
                    Backend::Local(l) => {
                        let note = match size {
                            None => l.head()?.checkpoint,
                            Some(n) => {
                                l.store().checkpoint(n).map_err(|e| Failure::from(LedgerError::from(e)))?.ok_or_else(
                                    || refused("no_checkpoint", format!("no checkpoint was signed at size {n}")),
                                )?
                            }
                        };
                        (note, l.vkey().clone())
                    }
                    Backend::Remote(c) => {
                        let path = size.map_or("/v1/checkpoint".to_string(), |n| format!("/v1/checkpoint?size={n}"));
                        let note = c.get_text(&path)?;
                        let v = c.get_text("/v1/vkey")?;
                        let vkey = NoteVerifier::parse(v.trim_end()).map_err(|e| Failure {
                            exit: 3,
                            code: "io_error",
                            message: format!("the server's verifier key: {e}"),
                        })?;
                        (note, vkey)
                    }
                },
            };
            if json {
                let cp = Checkpoint::open(note.as_bytes(), &vkey).map_err(|e| Failure {
                    exit: 3,
                    code: "checkpoint_signature_invalid",
                    message: e.to_string(),
                })?;
                println!(
                    "{}",
                    json!({"checkpoint": note, "origin": cp.origin, "size": cp.size, "root": hex::encode(cp.root)})
                );
            } else {
                print!("{note}");
            }
            Ok(0)
        }
        Cmd::Entries { from, to } => {
            let out = std::io::stdout();
            let mut out = std::io::BufWriter::new(out.lock());
            let mut line = |seq: u64, bytes: &[u8]| -> std::io::Result<()> {
                let h = pil_ledger_core::hash::entry_hash(bytes);
                writeln!(out, "{}", json!({"seq": seq, "hash": hex::encode(h), "entry": hex::encode(bytes)}))
            };
            match t.open(false)? {
                Backend::Local(l) => {
                    let size = l.head()?.size;
                    let from = from.unwrap_or(0);
                    let end = to.map_or(size, |t| t.saturating_add(1).min(size));
                    for r in l.store().entries(from, end) {
                        let (seq, bytes) = r.map_err(|e| Failure::from(LedgerError::from(e)))?;
                        line(seq, &bytes)?;
                    }
                }
                Backend::Remote(c) => {
                    // Pages of at most 1000; X-Next-From says where the next starts.
                    let mut next = Some(from.unwrap_or(0));
                    while let Some(f) = next {
                        let mut path = format!("/v1/entries?from={f}");
                        if let Some(t) = to {
                            path.push_str(&format!("&to={t}"));
                        }
                        let r = c.get(&path)?;
                        next = r.header("x-next-from").and_then(|n| n.parse::<u64>().ok()).filter(|n| *n > f);
                        let page: serde_json::Value = r.into_json()?;
                        for e in page.as_array().into_iter().flatten() {
                            let (Some(seq), Some(bytes)) =
                                (e["seq"].as_u64(), e["entry"].as_str().and_then(|h| hex::decode(h).ok()))
                            else {
                                return Err(Failure {
                                    exit: 3,
                                    code: "io_error",
                                    message: "the server's GET /v1/entries answer is not a list of entries".into(),
                                });
                            };
                            line(seq, &bytes)?;
                        }
                    }
                }
            }
            out.flush()?;
            Ok(0)
        }
        Cmd::Show { seq } => {
            let b = t.open(false)?;
            let bytes = b.entry(seq)?;
            let e = Entry::from_bytes(&bytes).map_err(|e| Failure {
                exit: 3,
                code: "entry_not_canonical",
                message: e.to_string(),
            })?;
            let mut v = pjson::entry_json(&e, &pil_ledger_core::hash::entry_hash(&bytes));
            v["entry"] = json!(hex::encode(&bytes));
            println!("{}", if json { v.to_string() } else { serde_json::to_string_pretty(&v).expect("json") });
            Ok(0)
        }
        Cmd::Prove { what } => {
            match t.open(false)? {
                Backend::Local(l) => match what {
                    ProveCmd::Inclusion { seq, size } => {
                        let (size, leaf, proof) = l.prove_inclusion(seq, size)?;
                        println!(
                            "{}",
                            json!({"seq": seq, "size": size, "leaf": hex::encode(leaf), "proof": hexes(&proof)})
                        );
                    }
                    ProveCmd::Consistency { old, size } => {
                        let (size, proof) = l.prove_consistency(old, size)?;
                        println!("{}", json!({"old": old, "size": size, "proof": hexes(&proof)}));
                    }
                },
                Backend::Remote(c) => {
                    let size_q = |s: Option<u64>| s.map_or(String::new(), |n| format!("size={n}"));
                    let path = match what {
                        ProveCmd::Inclusion { seq, size } => format!("/v1/proofs/inclusion/{seq}?{}", size_q(size)),
                        ProveCmd::Consistency { old, size } => {
                            let s = size_q(size);
                            format!("/v1/proofs/consistency?old={old}{}{s}", if s.is_empty() { "" } else { "&" })
                        }
                    };
                    println!("{}", c.get_json(path.trim_end_matches('?'))?);
                }
            }
            Ok(0)
        }
        Cmd::Verify { vkey, checkpoints } => {
            let trusted = match vkey {
                Some(s) => Some(NoteVerifier::parse(&s).map_err(|e| refused("invalid_vkey", e.to_string()))?),
                None => None,
            };
            let l = Ledger::open_for_verify(&data)?;
            let trusted = trusted.unwrap_or_else(|| l.vkey().clone());
            // Kept checkpoints are input: each must be a checkpoint signed
            // by the trusted key, else the request is refused (exit 2) before
            // anything is verified; only a good one the log no longer
            // extends makes the verdict `log_rewritten`.
            let mut kept = Vec::new();
            for p in &checkpoints {
                kept.push(ledger::read_kept_checkpoint(p, &trusted)?.0);
            }
            let size = l.store().head().ok().flatten().map_or(0, |h| h.size);
            let pb = progress_bar(size, "verify");
            let verdict = l.verify_against(&trusted, &kept, &|done, _| pb.set_position(done))?;
            pb.finish_and_clear();
            print_verdict(json, &verdict);
            Ok(if verdict.verdict == VerdictKind::Invalid { 1 } else { 0 })
        }
        Cmd::Reindex => maintain::reindex(&data, json),
        Cmd::Migrate => maintain::migrate(&data, json),
        Cmd::Stress { count, clients, presign, allow_existing } => {
            let opts = crate::stress::StressOptions { count, clients, presign, allow_existing };
            let report = crate::stress::run(&data, &opts)?;
            if let Some(vkey) = &report.created {
                eprintln!("stress: created a new ledger at {}, {vkey}", data.display());
            }
            if json {
                eprintln!("{}", report.to_json());
            } else {
                eprintln!("{}", report.summary());
            }
            Ok(0)
        }
        Cmd::Case { what } => evidence_cli::run_case(&t, json, what),
        Cmd::Evidence { what } => evidence_cli::run_evidence(&t, json, *what),
        Cmd::Seal { item, seal_id, note } => evidence_cli::run_seal(&t, json, item, seal_id, note),
        Cmd::Unseal { item, approval, condition, note } => {
            evidence_cli::run_unseal(&t, json, item, approval, condition, note)
        }
        Cmd::Custody { what } => evidence_cli::run_custody(&t, json, what),
        Cmd::Hold { item, reason } => evidence_cli::run_hold(&t, json, item, reason, false),
        Cmd::Release { item, reason } => evidence_cli::run_hold(&t, json, item, reason, true),
        Cmd::VerifyFile { path } => evidence_cli::verify_file(&t, json, &path),
        Cmd::Bundle { what } => crate::bundle_cli::run(&data, json, what),
        Cmd::Serve { listen, public_read } => crate::server::run_serve(&data, json, &listen, public_read),
        Cmd::Token { what } => crate::server::auth::run_token(&data, json, what),
        Cmd::Fund { what } => crate::fund_cli::run(&t, json, *what),
    }
}
