//! `evidence add`: hash every file once (three digests, one pass), check
//! any prior digest, then submit one signed statement per file
//! concurrently so they share group commits.

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use pil_ledger_core::digest::{self, Digest, FileDigests};
use pil_ledger_core::wire::Body;
use serde_json::json;

use crate::cli::Failure;
use crate::client::Target;
use crate::evidence_cli::{print_ack, refused, AddArgs};
use crate::evidence_read::Zone;
use crate::ledger::{self, Ack, Ledger, LedgerError};

/// Hash a file in one pass (BLAKE3, SHA-256, SM3), with a bar on large files.
pub fn hash_path(path: &Path) -> Result<FileDigests, Failure> {
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let bar = (len > 64 << 20).then(|| {
        let pb = indicatif::ProgressBar::with_draw_target(Some(len), indicatif::ProgressDrawTarget::stderr());
        pb.set_style(
            indicatif::ProgressStyle::with_template("hashing {msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec})")
                .expect("template")
                .progress_chars("=> "),
        );
        pb.set_message(path.display().to_string());
        pb
    });
    let out = digest::hash_file(path, &|done| {
        if let Some(pb) = &bar {
            pb.set_position(done)
        }
    });
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    out.map_err(|e| {
        let exit = if e.kind() == std::io::ErrorKind::InvalidInput { 2 } else { 3 };
        Failure {
            exit,
            code: if exit == 2 { "invalid_argument" } else { "io_error" },
            message: format!("{}: {e}", path.display()),
        }
    })
}

/// `EV-` and 8 Crockford base32 characters of the BLAKE3 digest: short,
/// unambiguous read aloud (no I, L, O, U).
pub fn readable_id(blake3: &[u8]) -> String {
    const A: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let v = u64::from_be_bytes(blake3[..8].try_into().expect("8 bytes"));
    let c: String = (0..8).map(|i| A[((v >> (59 - 5 * i)) & 31) as usize] as char).collect();
    format!("EV-{}-{}", &c[..4], &c[4..])
}

/// The files an `evidence add` names: each --file, or every regular file of
/// a --file directory, in name order; and how many directory members were
/// skipped. A --file the user named is followed if it is a symbolic link;
/// inside a directory, symbolic links (which may point out of it),
/// subdirectories (not recursive) and anything else that is not a regular
/// file are skipped, one line each on stderr.
pub(crate) fn expand(files: &[PathBuf]) -> Result<(Vec<PathBuf>, usize), Failure> {
    let io_at =
        |path: &Path, e: std::io::Error| Failure::from(LedgerError::IoAt { path: path.to_path_buf(), source: e });
    let mut out = Vec::new();
    let mut skipped = 0;
    for f in files {
        let meta = std::fs::metadata(f).map_err(|e| io_at(f, e))?;
        if !meta.is_dir() {
            out.push(f.clone());
            continue;
        }
        let mut inside = Vec::new();
        for entry in std::fs::read_dir(f).map_err(|e| io_at(f, e))? {
            let path = entry.map_err(|e| io_at(f, e))?.path();
            let kind = std::fs::symlink_metadata(&path).map_err(|e| io_at(&path, e))?.file_type();
            if kind.is_file() {
                inside.push(path);
                continue;
            }
            let why = crate::files::not_a_file_reason(kind);
            eprintln!("skipped {}: {why}", path.display());
            skipped += 1;
        }
        inside.sort();
        out.extend(inside);
    }
    Ok((out, skipped))
}

/// `evidence add`: hash every file first (a file that cannot be read refuses
/// the whole command before anything is appended), then submit one
/// statement per file concurrently, so they share group commits.
pub fn add(t: &Target, json: bool, a: AddArgs) -> Result<u8, Failure> {
    let signer: SigningKey = ledger::read_key_file(&a.key)?;
    let (files, skipped) = expand(&a.files)?;
    if files.is_empty() && !a.physical {
        return Err(refused("missing_field", "give --file (a file or a directory), or --physical with --description"));
    }
    if a.id.is_some() && files.len() > 1 && !a.physical {
        return Err(refused("invalid_argument", "--id names one item; leave it out for several files"));
    }
    let priors: Vec<Digest> = a
        .prior
        .iter()
        .map(|p| Digest::parse(p).map_err(|e| refused("invalid_digest", format!("--prior-digest {p}: {e}"))))
        .collect::<Result<_, _>>()?;
    if !priors.is_empty() && files.len() != 1 {
        return Err(refused("invalid_argument", "--prior-digest goes with exactly one --file"));
    }
    let (collected_at_ms, tz) = match &a.collected_at {
        Some(t) => pil_ledger_core::json::parse_rfc3339(t).map_err(|e| refused("invalid_argument", e))?,
        None => (ledger::now_ms(), Zone::from_env()?.offset_min),
    };
    let mut hashed = Vec::with_capacity(files.len());
    for f in &files {
        let fd = hash_path(f)?;
        for p in &priors {
            let ok = match fd.matches(p) {
                Some(m) => m,
                None => digest::check_prior(std::fs::File::open(f)?, p)?,
            };
            if !ok {
                return Err(refused(
                    "prior_digest_mismatch",
                    format!("{}: the file does not match --prior-digest {p}", f.display()),
                ));
            }
        }
        hashed.push((f.clone(), fd));
    }
    let b = t.open(true)?;
    let origin = b.origin()?;
    let me = b.key_holder(&signer.verifying_key().to_bytes())?;
    let collectors = if a.collectors.is_empty() { vec![me] } else { a.collectors.clone() };
    let body = |id: String, digests: Vec<Digest>, size: u64, media_type: String, description: String| {
        Body::EvidenceRegistered {
            evidence_id: id,
            category: a.category.clone(),
            digests,
            size,
            media_type,
            physical: a.physical,
            description,
            source: a.source.clone(),
            method: a.method.clone(),
            legal_basis: a.legal_basis.clone(),
            collectors: collectors.clone(),
            witness: a.witness.clone(),
            place: a.place.clone(),
            collected_at_ms,
            collected_tz_offset_min: tz,
            tool: a.tool.clone(),
            tool_version: a.tool_version.clone(),
            original_medium: a.medium.clone(),
            provenance: a.provenance.clone(),
            prior_digests: priors.clone(),
        }
    };
    let mut statements = Vec::new();
    if a.physical {
        // One item: its photos' digests, if any.
        let mut digests: Vec<Digest> = Vec::new();
        for (_, fd) in &hashed {
            digests.extend(fd.digests().into_iter().filter(|d| d.alg == digest::DigestAlg::Blake3));
        }
        let mut seed = a.case_id.as_bytes().to_vec();
        seed.extend_from_slice(a.description.as_bytes());
        seed.extend_from_slice(&ledger::now_ms().to_be_bytes());
        let id = a.id.clone().unwrap_or_else(|| readable_id(blake3::hash(&seed).as_bytes()));
        statements.push(ledger::sign_statement(
            &origin,
            &signer,
            &a.case_id,
            body(id, digests, 0, a.media_type.clone(), a.description.clone()),
        ));
    } else {
        for (f, fd) in &hashed {
            let id = a.id.clone().unwrap_or_else(|| readable_id(&fd.blake3));
            let description = if a.description.is_empty() { file_name(f) } else { a.description.clone() };
            statements.push(ledger::sign_statement(
                &origin,
                &signer,
                &a.case_id,
                body(id, fd.digests(), fd.size, a.media_type.clone(), description),
            ));
        }
    }
    let acks = b.submit_all(statements)?;
    let mut refused_n = 0;
    for (i, r) in acks.iter().enumerate() {
        match r {
            Ok(ack) => {
                if json {
                    let mut v = ack.to_json();
                    if let Some((f, fd)) = hashed.get(i).filter(|_| !a.physical) {
                        v["file"] = json!(f.display().to_string());
                        v["digests"] = json!(fd.digests().iter().map(|d| d.to_string()).collect::<Vec<_>>());
                    }
                    println!("{v}");
                } else {
                    print_ack(false, ack);
                }
            }
            Err(e) => {
                refused_n += 1;
                let name = hashed.get(i).map(|(f, _)| f.display().to_string()).unwrap_or_default();
                if json {
                    eprintln!("{}", json!({"file": name, "error": {"code": e.code, "message": e.message}}));
                } else {
                    eprintln!("refused {name}: [{}] {}", e.code, e.message);
                }
            }
        }
    }
    let ok = acks.len() - refused_n;
    if !json {
        let skipped = if skipped > 0 { format!(", {skipped} skipped") } else { String::new() };
        eprintln!("evidence add: {ok} registered, {refused_n} refused{skipped}, case {}", a.case_id);
    }
    match acks.into_iter().find_map(Result::err) {
        Some(e) if ok == 0 => Err(e),
        Some(_) => Ok(2),
        None => Ok(0),
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Submit signed statements concurrently through the one writer, so they
/// share group commits; answers in the order given.
pub fn submit_all(l: &Ledger, statements: Vec<(Vec<u8>, [u8; 64])>) -> Result<Vec<Result<Ack, LedgerError>>, Failure> {
    if statements.len() == 1 {
        let (st, sig) = statements.into_iter().next().expect("one");
        return Ok(vec![l.writer()?.append_blocking(st, sig)]);
    }
    let writer = l.writer()?.clone();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    Ok(rt.block_on(async move {
        let tasks: Vec<_> = statements
            .into_iter()
            .map(|(st, sig)| {
                let w = writer.clone();
                tokio::spawn(async move { w.append(st, sig).await })
            })
            .collect();
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(t.await.unwrap_or_else(|e| Err(LedgerError::WriterStopped(format!("task failed: {e}")))));
        }
        out
    }))
}
