//! Court bundles (DESIGN §3.8; `schema/bundle.md`): `bundle export` builds
//! one from a ledger opened read-only, at its head checkpoint; `bundle
//! verify` checks one offline with the core's verifier, reading no data
//! directory. [`export_bundle`] and `pil_ledger_core::bundle::verify_bundle`
//! are the entry points the HTTP layer shares; [`files`] carries original
//! evidence files (`--with-files DIR`).

pub mod files;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use pil_ledger_core::bundle::{
    self, is_registry, Bundle, BundleEntry, BundleVerdict, Consistency, RegistryChain, RegistryNote, MAX_BUNDLE_BYTES,
};
use pil_ledger_core::hash;
use pil_ledger_core::note::{Checkpoint, NoteVerifier};
use pil_ledger_core::state::{self, KeyRecord, Ns, Refusal};
use pil_ledger_core::verify::VerdictKind;
use pil_ledger_core::wire::{self, Entry, Hash32, Statement};
use serde_json::json;

use crate::cli::{refused, Failure};
use crate::ledger::{self, Ledger, LedgerError};
use crate::store::{Store, StoreIndex};
use crate::writer::scan_registry;

#[derive(Subcommand, Debug)]
pub enum BundleCmd {
    /// Export a court bundle at the head checkpoint (the ledger is opened
    /// read-only): the entries chosen, the complete key registry, proofs.
    Export {
        /// An entry, by seq (repeatable).
        #[arg(long = "seq")]
        seqs: Vec<u64>,
        /// Every entry filed under a case (repeatable).
        #[arg(long = "case")]
        cases: Vec<String>,
        /// An evidence item: registration, custody chain, endorsements (repeatable).
        #[arg(long = "evidence")]
        evidence: Vec<String>,
        /// A checkpoint note the court kept: adds a consistency proof from it.
        #[arg(long)]
        since_checkpoint: Option<PathBuf>,
        /// Carry the original evidence files found directly in DIR: each one
        /// that is the registered file (size and digests) of an item among
        /// the entries; the others are skipped and named on stderr.
        #[arg(long, value_name = "DIR")]
        with_files: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a court bundle offline; reads no data directory. Exit 1 if invalid.
    Verify {
        file: PathBuf,
        /// The log's verifier key you trust (the string, or a file holding it).
        #[arg(long)]
        vkey: String,
        /// A checkpoint note you kept earlier; the bundle's log must extend it.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
}

/// What to put in a bundle.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub seqs: Vec<u64>,
    pub cases: Vec<String>,
    pub evidence: Vec<String>,
    /// A checkpoint note the court kept (bytes): add a consistency proof.
    pub since: Option<Vec<u8>>,
}

fn storage(e: state::BackendError) -> LedgerError {
    LedgerError::Refused(Refusal::from(e))
}

/// Seqs of every entry filed under a case, in order.
fn case_seqs(store: &dyn Store, case_id: &str) -> Result<Vec<u64>, LedgerError> {
    let mut prefix = case_id.as_bytes().to_vec();
    prefix.push(0xFF);
    Ok(store
        .index_scan(Ns::CaseEntries, &prefix)?
        .into_iter()
        .filter_map(|(k, _)| k.len().checked_sub(8).map(|i| u64::from_be_bytes(k[i..].try_into().expect("8"))))
        .collect())
}

/// Seqs of the endorsements of the entry with hash `h`.
fn endorsements(store: &dyn Store, h: &Hash32) -> Result<Vec<u64>, LedgerError> {
    Ok(store
        .index_scan(Ns::Endorsement, h)?
        .into_iter()
        .filter_map(|(_, v)| <[u8; 8]>::try_from(v.as_slice()).ok().map(u64::from_be_bytes))
        .collect())
}

fn decoded(l: &Ledger, seq: u64) -> Result<(Vec<u8>, Statement), LedgerError> {
    let bytes = l.entry(seq)?.ok_or_else(|| LedgerError::SelfCheck(format!("entry {seq} missing")))?;
    let corrupt = |e: String| LedgerError::SelfCheck(format!("entry {seq}: {e}; run verify"));
    let entry = Entry::from_bytes(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let st = Statement::from_bytes(&entry.statement).map_err(|e| corrupt(e.to_string()))?;
    Ok((bytes, st))
}

/// The seqs a selection names, all below `size`.
fn selected(l: &Ledger, sel: &Selection, size: u64) -> Result<BTreeSet<u64>, LedgerError> {
    let store: &dyn Store = l.store();
    let view = StoreIndex(store);
    let mut out = BTreeSet::new();
    for &s in &sel.seqs {
        if s >= size {
            return Err(LedgerError::InvalidArgument(format!("seq {s} is not among the log's {size} entries")));
        }
        out.insert(s);
    }
    for c in &sel.cases {
        if state::case_record(&view, c).map_err(storage)?.is_none() {
            return Err(Refusal::UnknownCase(c.clone()).into());
        }
        out.extend(case_seqs(store, c)?.into_iter().filter(|s| *s < size));
    }
    for id in &sel.evidence {
        let r = state::evidence_record(&view, id)
            .map_err(storage)?
            .ok_or_else(|| LedgerError::Refused(Refusal::UnknownEvidence(id.clone())))?;
        for s in case_seqs(store, &r.case_id)?.into_iter().filter(|s| (r.registered_seq..size).contains(s)) {
            let (bytes, st) = decoded(l, s)?;
            if st.body.evidence_id() == Some(id.as_str()) {
                out.insert(s);
                out.extend(endorsements(store, &hash::entry_hash(&bytes))?.into_iter().filter(|e| *e < size));
            }
        }
    }
    if out.is_empty() {
        return Err(LedgerError::InvalidArgument("nothing selected: give --seq, --case or --evidence".into()));
    }
    Ok(out)
}

/// Every key-registry entry below `size`, from the derived indexes (each
/// key's enrolment and revocation, the key-officer endorsements of each
/// enrolment, the genesis): `(seq, entry bytes)`.
fn registry_from_indexes(l: &Ledger, size: u64) -> Result<Vec<(u64, Vec<u8>)>, LedgerError> {
    let store: &dyn Store = l.store();
    let mut seqs = BTreeSet::from([0u64]);
    for (_, v) in store.index_scan(Ns::Key, b"")? {
        let Ok(r) = wire::decode_canonical::<KeyRecord>(&v, wire::MAX_ENTRY_BYTES) else { continue };
        seqs.insert(r.enrolled_seq);
        seqs.extend(r.revoked_seq);
        seqs.extend(endorsements(store, &r.enrolled_hash)?);
    }
    let mut out = Vec::new();
    for seq in seqs.into_iter().filter(|s| *s < size) {
        let Some(bytes) = l.entry(seq)? else { continue };
        let Ok(entry) = Entry::from_bytes(&bytes) else { continue };
        if Statement::from_bytes(&entry.statement).is_ok_and(|st| is_registry(&st.body)) {
            out.push((seq, bytes));
        }
    }
    Ok(out)
}

/// The registry list that reproduces the signed chain: from the indexes,
/// else from the whole log.
fn registry_list(l: &Ledger, size: u64, signed: &RegistryChain) -> Result<Vec<(u64, Vec<u8>)>, LedgerError> {
    let chain = |list: &[(u64, Vec<u8>)]| {
        let hashes: Vec<Hash32> = list.iter().map(|(_, b)| hash::entry_hash(b)).collect();
        RegistryChain::over(&hashes)
    };
    let list = registry_from_indexes(l, size)?;
    if chain(&list) == *signed {
        return Ok(list);
    }
    tracing::warn!("the indexes do not reproduce the signed registry; reading the whole log");
    let list: Vec<(u64, Vec<u8>)> = scan_registry(l.store(), size)?.into_iter().map(|(s, b, _)| (s, b)).collect();
    if chain(&list) == *signed {
        return Ok(list);
    }
    Err(LedgerError::SelfCheck(format!(
        "the registry note at size {size} does not match the log's key-registry entries; run verify"
    )))
}

/// Build a court bundle at the ledger's head checkpoint.
pub fn export_bundle(l: &Ledger, sel: &Selection) -> Result<Bundle, LedgerError> {
    let head = l.head()?;
    let size = head.size;
    let registry_note = l.store().registry_note(size)?.ok_or_else(|| {
        LedgerError::InvalidArgument(format!(
            "the head checkpoint (size {size}) has no registry note: the ledger was written before registry notes \
             existed; the next entry appended gets one"
        ))
    })?;
    let note = RegistryNote::open(registry_note.as_bytes(), l.vkey())
        .map_err(|e| LedgerError::SelfCheck(format!("registry note at size {size}: {e}; run verify")))?;
    if note.size != size || note.root != head.root {
        return Err(LedgerError::SelfCheck(format!(
            "the registry note at size {size} is for another tree; run verify"
        )));
    }
    let seqs = selected(l, sel, size)?;
    let with_proof = |seq: u64, entry: Vec<u8>| -> Result<BundleEntry, LedgerError> {
        let (_, _, proof) = l.prove_inclusion(seq, Some(size))?;
        Ok(BundleEntry { seq, entry, proof })
    };
    let mut entries = Vec::with_capacity(seqs.len());
    for s in seqs {
        let bytes = l.entry(s)?.ok_or_else(|| LedgerError::SelfCheck(format!("entry {s} missing")))?;
        entries.push(with_proof(s, bytes)?);
    }
    let registry = registry_list(l, size, &note.chain)?
        .into_iter()
        .map(|(s, b)| with_proof(s, b))
        .collect::<Result<Vec<_>, _>>()?;
    let consistency = match &sel.since {
        None => None,
        Some(kept) => {
            let cp = Checkpoint::open(kept, l.vkey()).map_err(|e| {
                LedgerError::InvalidArgument(format!("--since-checkpoint: not a checkpoint of this log ({e})"))
            })?;
            if cp.size == 0 || cp.size > size {
                return Err(LedgerError::InvalidArgument(format!(
                    "--since-checkpoint: size {} is not within the head's 1..={size}",
                    cp.size
                )));
            }
            let (_, proof) = l.prove_consistency(cp.size, Some(size))?;
            Some(Consistency { old_size: cp.size, old_root: l.root_at(cp.size)?, proof })
        }
    };
    Ok(Bundle {
        format: bundle::FORMAT.into(),
        vkey: l.vkey().to_vkey_string(),
        checkpoint: head.checkpoint,
        registry_note,
        entries,
        registry,
        consistency,
        files: Vec::new(),
    })
}

/// Write `bytes` to `out` atomically: a synced temporary file beside it,
/// renamed over it, the directory synced.
fn write_atomic(out: &Path, bytes: &[u8]) -> Result<(), LedgerError> {
    let dir = out.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let io = |source| LedgerError::IoAt { path: out.to_path_buf(), source };
    let mut tmp = tempfile::Builder::new().prefix(".pil-bundle-").suffix(".tmp").tempfile_in(dir).map_err(io)?;
    tmp.write_all(bytes).and_then(|()| tmp.as_file().sync_all()).map_err(io)?;
    tmp.persist(out).map_err(|e| io(e.error))?;
    ledger::sync_dir(dir)
}

/// `--vkey`: the verifier key string, or a small file holding it.
fn parse_vkey(s: &str) -> Result<NoteVerifier, Failure> {
    let e = match NoteVerifier::parse(s) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let p = Path::new(s);
    if !p.is_file() {
        return Err(refused("invalid_vkey", format!("--vkey: {e}")));
    }
    let bytes =
        ledger::read_input_file(p, 64 * 1024).map_err(|m| refused("invalid_vkey", format!("--vkey {s}: {m}")))?;
    let text = String::from_utf8(bytes).map_err(|_| refused("invalid_vkey", format!("--vkey {s}: not UTF-8 text")))?;
    NoteVerifier::parse(text.trim()).map_err(|e| refused("invalid_vkey", format!("--vkey {s}: {e}")))
}

/// Read a bundle file: over [`MAX_BUNDLE_BYTES`] or not a regular file is
/// refused before reading; a file that cannot be read is an I/O error.
fn read_bundle(path: &Path) -> Result<Vec<u8>, Failure> {
    let io = |e: std::io::Error| Failure { exit: 3, code: "io_error", message: format!("{}: {e}", path.display()) };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() || meta.len() > MAX_BUNDLE_BYTES {
        let why = if meta.is_file() { "is over the 64 MiB limit" } else { "is not a regular file" };
        return Err(refused("invalid_bundle", format!("{} {why}", path.display())));
    }
    ledger::read_input_file(path, MAX_BUNDLE_BYTES).map_err(|m| Failure {
        exit: 3,
        code: "io_error",
        message: format!("{}: {m}", path.display()),
    })
}

fn print_verdict(json: bool, v: &BundleVerdict) {
    if json {
        println!("{}", serde_json::to_string(v).expect("verdict serialises"));
        return;
    }
    println!(
        "{}: {} entries at checkpoint size {} of {} (registry of {} entries)",
        v.verdict.as_str(),
        v.entries.len(),
        v.size,
        v.origin,
        v.registry_count
    );
    for e in &v.entries {
        let who =
            e.holder.as_deref().map_or_else(|| hex::encode(e.author), |h| format!("{h} ({})", e.roles.join(", ")));
        let at = pil_ledger_core::json::rfc3339_ms(e.recorded_at_ms);
        println!("  seq {} {} by {who} at {at}", e.seq, e.kind);
    }
    for f in &v.files {
        let is = if f.matches { "is" } else { "is NOT" };
        println!("  file of {} (seq {}), {} bytes: {is} the registered file", f.evidence_id, f.seq, f.size);
    }
    for r in &v.reasons {
        let seq = r.seq.map_or(String::new(), |s| format!(" seq {s}"));
        println!("  {:?} {}{seq}: {}", r.severity, r.code, r.message);
    }
    if v.more_reasons > 0 {
        println!("  ... and {} more", v.more_reasons);
    }
}

fn files_failure(e: files::FilesError) -> Failure {
    Failure { exit: e.class().exit_code(), code: e.code(), message: e.to_string() }
}

/// What `bundle export` wrote; skipped files and items without a file are
/// named on stderr.
fn report_export(json: bool, out: &Path, b: &Bundle, c: &files::Carried, vkey: &NoteVerifier) {
    for (name, why) in &c.skipped {
        eprintln!("skipped {name}: {why}");
    }
    for (seq, id) in &c.without_file {
        eprintln!("no file for {id} (seq {seq}): none given is its registered file");
    }
    let size = Checkpoint::open(b.checkpoint.as_bytes(), vkey).map_or(0, |c| c.size);
    if json {
        let files: Vec<_> = c.files.iter().map(|(f, s, id)| json!({"file": f, "seq": s, "evidence_id": id})).collect();
        let skipped: Vec<_> = c.skipped.iter().map(|(f, why)| json!({"file": f, "why": why})).collect();
        let without: Vec<_> = c.without_file.iter().map(|(s, id)| json!({"seq": s, "evidence_id": id})).collect();
        println!(
            "{}",
            json!({"out": out.display().to_string(), "size": size, "entries": b.entries.len(),
                   "registry": b.registry.len(), "files": files, "skipped": skipped, "without_file": without})
        );
    } else {
        let files = if c.files.is_empty() { String::new() } else { format!(", {} original files", c.files.len()) };
        println!(
            "wrote {}: {} entries and {} key-registry entries at checkpoint size {size}{files}",
            out.display(),
            b.entries.len(),
            b.registry.len()
        );
    }
}

/// `bundle export` / `bundle verify`.
pub fn run(data: &Path, json: bool, cmd: BundleCmd) -> Result<u8, Failure> {
    match cmd {
        BundleCmd::Export { seqs, cases, evidence, since_checkpoint, with_files, out } => {
            let since = match since_checkpoint {
                None => None,
                Some(p) => Some(
                    ledger::read_input_file(&p, ledger::MAX_NOTE_FILE_BYTES)
                        .map_err(|m| refused("invalid_argument", format!("--since-checkpoint {}: {m}", p.display())))?,
                ),
            };
            if let Some(dir) = &with_files {
                if !dir.is_dir() {
                    return Err(refused(
                        "invalid_argument",
                        format!("--with-files {}: not a directory", dir.display()),
                    ));
                }
            }
            let l = Ledger::open(data, false)?;
            let mut b = export_bundle(&l, &Selection { seqs, cases, evidence, since })?;
            let carried = match &with_files {
                None => files::Carried::default(),
                Some(dir) => files::attach_dir(&mut b, dir).map_err(files_failure)?,
            };
            let text = files::to_text(&b).map_err(files_failure)?;
            write_atomic(&out, text.as_bytes())?;
            report_export(json, &out, &b, &carried, l.vkey());
            Ok(0)
        }
        BundleCmd::Verify { file, vkey, checkpoint } => {
            let vk = parse_vkey(&vkey)?;
            let kept = match checkpoint {
                None => None,
                Some(p) => Some(
                    ledger::read_input_file(&p, ledger::MAX_NOTE_FILE_BYTES)
                        .map_err(|m| refused("invalid_argument", format!("--checkpoint {}: {m}", p.display())))?,
                ),
            };
            let bytes = read_bundle(&file)?;
            let v = bundle::verify_bundle(&bytes, &vk, kept.as_deref()).map_err(|e| Failure {
                exit: 2,
                code: e.code(),
                message: e.to_string(),
            })?;
            print_verdict(json, &v);
            Ok(if v.verdict == VerdictKind::Invalid { 1 } else { 0 })
        }
    }
}
