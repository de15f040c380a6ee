//! Original evidence files carried in a bundle (`schema/bundle.md` §3, §5):
//! `bundle export --with-files DIR` and the `files` of `POST /v1/bundles`.
//!
//! A file is carried only when it is the registered file of an evidence
//! item among the bundle's entries in question: its length is the
//! registration's `size` and every digest the registration lists equals
//! the file's ([`pil_ledger_core::bundle::file_matches`], the verifier's
//! own check). From a directory, anything else is skipped and named, so a
//! prosecutor can point at a case folder; over HTTP the caller names each
//! file, so a file that matches nothing is refused.

use std::path::Path;

use pil_ledger_core::bundle::{
    file_matches, registered_file, Bundle, BundleFile, MAX_BUNDLE_BYTES, MAX_FILES_TOTAL_BYTES, MAX_FILE_BYTES,
};
use pil_ledger_core::digest::{self, Digest, DigestAlg};
use pil_ledger_core::wire::{Entry, Statement};

use crate::error::ErrorClass;
use crate::files::read_input_file;

/// Why files could not be carried (nothing is written).
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error(
        "{what} is {size} bytes, over the limit of {MAX_FILE_BYTES} for a file carried in a bundle: give the \
         court the file itself (verify-file checks it)"
    )]
    FileTooLarge { what: String, size: u64 },
    #[error(
        "the files to carry come to {total} bytes or more together, over the limit of {MAX_FILES_TOTAL_BYTES}: \
         export fewer items per bundle"
    )]
    TotalTooLarge { total: u64 },
    #[error("the bundle would be {bytes} bytes, over the limit of {MAX_BUNDLE_BYTES}: export fewer entries or files")]
    BundleTooLarge { bytes: u64 },
    #[error("{0}")]
    NoMatch(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

impl FilesError {
    pub fn code(&self) -> &'static str {
        match self {
            FilesError::FileTooLarge { .. } => "file_too_large",
            FilesError::TotalTooLarge { .. } | FilesError::BundleTooLarge { .. } => "bundle_too_large",
            FilesError::NoMatch(_) => "invalid_argument",
            FilesError::Io { .. } => "io_error",
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            FilesError::FileTooLarge { .. } | FilesError::TotalTooLarge { .. } | FilesError::BundleTooLarge { .. } => {
                ErrorClass::TooLarge
            }
            FilesError::NoMatch(_) => ErrorClass::Invalid,
            FilesError::Io { .. } => ErrorClass::Internal,
        }
    }
}

/// A registration among the bundle's entries that names a file.
struct Registered {
    seq: u64,
    evidence_id: String,
    size: u64,
    digests: Vec<Digest>,
    carried: Option<String>,
}

/// What carrying files did.
#[derive(Debug, Default)]
pub struct Carried {
    /// `(name, seq, evidence id)` of each file carried.
    pub files: Vec<(String, u64, String)>,
    /// `(name, why)` of each file not carried.
    pub skipped: Vec<(String, String)>,
    /// `(seq, evidence id)` of each bundled registration of a file that no
    /// given file matched.
    pub without_file: Vec<(u64, String)>,
}

fn registrations(b: &Bundle) -> Vec<Registered> {
    let mut out = Vec::new();
    for e in &b.entries {
        let Ok(entry) = Entry::from_bytes(&e.entry) else { continue };
        let Ok(st) = Statement::from_bytes(&entry.statement) else { continue };
        if let Some((id, size, digests)) = registered_file(&st.body) {
            if !digests.is_empty() {
                let digests = digests.to_vec();
                out.push(Registered { seq: e.seq, evidence_id: id.to_string(), size, digests, carried: None });
            }
        }
    }
    out
}

/// Every listed digest equals the streamed file's (for files too large to
/// read into memory).
fn digests_match(path: &Path, digests: &[Digest]) -> Result<bool, FilesError> {
    let io = |e: std::io::Error| FilesError::Io { path: path.display().to_string(), message: e.to_string() };
    if digests.iter().any(|d| !DigestAlg::COMPUTED.contains(&d.alg)) {
        return Ok(false);
    }
    let mine = digest::hash_file(path, &|_| {}).map_err(io)?;
    Ok(digests.iter().all(|d| mine.matches(d) == Some(true)))
}

/// Put the carried files into the bundle, ascending by seq, within the limits.
fn finish(
    b: &mut Bundle,
    regs: Vec<Registered>,
    mut files: Vec<BundleFile>,
    out: &mut Carried,
) -> Result<(), FilesError> {
    let total: u64 = files.iter().map(|f| f.data.len() as u64).sum();
    if total > MAX_FILES_TOTAL_BYTES {
        return Err(FilesError::TotalTooLarge { total });
    }
    files.sort_by_key(|f| f.seq);
    out.without_file = regs.into_iter().filter(|r| r.carried.is_none()).map(|r| (r.seq, r.evidence_id)).collect();
    b.files = files;
    Ok(())
}

/// `--with-files DIR`: every regular file directly in `dir` (symbolic links
/// and subdirectories are skipped) that is the registered file of an item
/// among the bundle's entries is carried; the others are skipped, each with
/// its reason. Refused when no file matches, a matching file is over
/// [`MAX_FILE_BYTES`], or the carried files are over [`MAX_FILES_TOTAL_BYTES`].
pub fn attach_dir(b: &mut Bundle, dir: &Path) -> Result<Carried, FilesError> {
    let io = |p: &Path, e: std::io::Error| FilesError::Io { path: p.display().to_string(), message: e.to_string() };
    let mut regs = registrations(b);
    let mut out = Carried::default();
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let path = entry.map_err(|e| io(dir, e))?.path();
        let kind = std::fs::symlink_metadata(&path).map_err(|e| io(&path, e))?.file_type();
        let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        if kind.is_file() {
            paths.push((name, path));
            continue;
        }
        let why = crate::files::not_a_file_reason(kind);
        out.skipped.push((name, why.into()));
    }
    paths.sort();
    let mut files = Vec::new();
    let mut total = 0u64;
    for (name, path) in paths {
        let size = std::fs::metadata(&path).map_err(|e| io(&path, e))?.len();
        let same_size: Vec<usize> = (0..regs.len()).filter(|&i| regs[i].size == size).collect();
        if same_size.is_empty() {
            out.skipped.push((name, format!("no evidence in this bundle is registered with {size} bytes")));
            continue;
        }
        let (found, data) = if size > MAX_FILE_BYTES {
            let mut found = None;
            for &i in &same_size {
                if digests_match(&path, &regs[i].digests)? {
                    found = Some(i);
                    break;
                }
            }
            if let Some(i) = found {
                let what = format!("{name}, the registered file of {} (seq {}),", regs[i].evidence_id, regs[i].seq);
                return Err(FilesError::FileTooLarge { what, size });
            }
            (None, Vec::new())
        } else {
            let data = read_input_file(&path, MAX_FILE_BYTES)
                .map_err(|m| FilesError::Io { path: path.display().to_string(), message: m })?;
            let found =
                same_size.iter().copied().find(|&i| file_matches(&data, regs[i].size, &regs[i].digests).is_ok());
            (found, data)
        };
        let Some(i) = found else {
            let names: Vec<String> =
                same_size.iter().map(|&i| format!("{} (seq {})", regs[i].evidence_id, regs[i].seq)).collect();
            let why = format!("it has the size of {} but not the registered digests: not that file", names.join(", "));
            out.skipped.push((name, why));
            continue;
        };
        let r = &mut regs[i];
        if let Some(first) = &r.carried {
            out.skipped.push((name, format!("the same content as {first}, carried once for {}", r.evidence_id)));
            continue;
        }
        r.carried = Some(name.clone());
        out.files.push((name, r.seq, r.evidence_id.clone()));
        total += data.len() as u64;
        if total > MAX_FILES_TOTAL_BYTES {
            // refused as soon as it is over, before reading more files
            return Err(FilesError::TotalTooLarge { total });
        }
        files.push(BundleFile { seq: r.seq, evidence_id: r.evidence_id.clone(), data });
    }
    if files.is_empty() {
        let items: Vec<String> = regs.iter().map(|r| format!("{} (seq {})", r.evidence_id, r.seq)).collect();
        let items =
            if items.is_empty() { "none of its entries registers a file".to_string() } else { items.join(", ") };
        return Err(FilesError::NoMatch(format!(
            "--with-files {}: no file there is the registered file of an evidence item in this bundle ({items}); \
             nothing written",
            dir.display()
        )));
    }
    finish(b, regs, files, &mut out)?;
    Ok(out)
}

/// The files of `POST /v1/bundles`: each must be the registered file of an
/// item among the bundle's entries, once.
pub fn attach_given(b: &mut Bundle, given: Vec<Vec<u8>>) -> Result<Carried, FilesError> {
    let mut regs = registrations(b);
    let mut out = Carried::default();
    let mut files = Vec::new();
    for (k, data) in given.into_iter().enumerate() {
        let name = format!("files[{k}]");
        if data.len() as u64 > MAX_FILE_BYTES {
            return Err(FilesError::FileTooLarge { what: name, size: data.len() as u64 });
        }
        let Some(i) = (0..regs.len()).find(|&i| file_matches(&data, regs[i].size, &regs[i].digests).is_ok()) else {
            return Err(FilesError::NoMatch(format!(
                "{name} ({} bytes) is not the registered file of any evidence item among the bundle's entries",
                data.len()
            )));
        };
        let r = &mut regs[i];
        if let Some(first) = &r.carried {
            return Err(FilesError::NoMatch(format!("{name} is the same file as {first} ({})", r.evidence_id)));
        }
        r.carried = Some(name.clone());
        out.files.push((name, r.seq, r.evidence_id.clone()));
        files.push(BundleFile { seq: r.seq, evidence_id: r.evidence_id.clone(), data });
    }
    finish(b, regs, files, &mut out)?;
    Ok(out)
}

/// The bundle as written: pretty JSON and a final newline, refused over
/// [`MAX_BUNDLE_BYTES`] (no verifier would read it).
pub fn to_text(b: &Bundle) -> Result<String, FilesError> {
    let mut text = serde_json::to_string_pretty(b).expect("bundle serialises");
    text.push('\n');
    if text.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(FilesError::BundleTooLarge { bytes: text.len() as u64 });
    }
    Ok(text)
}
