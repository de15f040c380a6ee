//! Files the ledger reads and writes besides its store: key files (PKCS#8
//! PEM, written 0600 and never overwritten), kept checkpoint notes, and
//! directory syncs. Every input file is read bounded, and only if it is a
//! regular file (a FIFO or `/dev/zero` is refused from its metadata).

use std::io::Read;
use std::path::Path;

use ed25519_dalek::SigningKey;
use pil_ledger_core::keys;
use pil_ledger_core::note::{Checkpoint, NoteVerifier};

use crate::error::LedgerError;

/// Largest key file read (`--key`, `keys/*.key`): a PKCS#8 PEM Ed25519 key
/// is about 120 bytes.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;
/// Largest checkpoint note file read (`verify --checkpoint`): the note
/// format's own limit.
pub const MAX_NOTE_FILE_BYTES: u64 = 1024 * 1024;

/// Make a directory's entries durable (after creating or renaming files in
/// it).
pub fn sync_dir(dir: &Path) -> Result<(), LedgerError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| LedgerError::IoAt { path: dir.to_path_buf(), source })
}

/// Create `dir` and its missing parents, syncing the parent of each
/// directory created, so the new directories survive a power loss.
pub fn create_dir_durable(dir: &Path) -> Result<(), LedgerError> {
    if exists_at(dir)? {
        return Ok(());
    }
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    create_dir_durable(parent)?;
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            Err(LedgerError::IoAt { path: dir.to_path_buf(), source: e })
        }
        _ => sync_dir(parent),
    }
}

/// Write a PKCS#8 PEM key file with mode 0600; never overwrites. The key
/// is written to a temporary file in the same directory (mode 0600), synced,
/// then linked into place only if `path` does not exist, and the directory
/// is synced: a crash leaves either no key file or a complete one.
pub fn write_key_file(path: &Path, key: &SigningKey) -> Result<(), LedgerError> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    create_dir_durable(dir)?;
    let io = |source| LedgerError::IoAt { path: path.to_path_buf(), source };
    if exists_at(path)? {
        return Err(LedgerError::KeyFile {
            path: path.to_path_buf(),
            message: "already exists; not overwritten".into(),
        });
    }
    // tempfile creates the file with mode 0600
    let mut tmp = tempfile::Builder::new().prefix(".pil-key-").suffix(".tmp").tempfile_in(dir).map_err(io)?;
    tmp.write_all(keys::to_pem(key).as_bytes()).and_then(|()| tmp.as_file().sync_all()).map_err(io)?;
    tmp.persist_noclobber(path).map_err(|e| LedgerError::KeyFile {
        path: path.to_path_buf(),
        message: format!("cannot create: {}", e.error),
    })?;
    sync_dir(dir)
}

/// Read a whole input file of at most `limit` bytes. Anything but a regular
/// file (a FIFO, a device such as `/dev/zero`, a directory) is refused from
/// its metadata, before it is opened, so it can neither hang nor grow
/// without bound; a regular file is read through `take(limit + 1)`, so a
/// file that grows while being read is refused too. The error is a sentence
/// for the caller to wrap in its own code.
pub fn read_input_file(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file (a FIFO, device or directory is not read)".into());
    }
    if meta.len() > limit {
        return Err(format!("larger than the limit of {limit} bytes"));
    }
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    // The path may have been replaced between the two looks: check what
    // was actually opened.
    if !f.metadata().map_err(|e| format!("cannot read: {e}"))?.is_file() {
        return Err("not a regular file".into());
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    f.take(limit + 1).read_to_end(&mut buf).map_err(|e| format!("cannot read: {e}"))?;
    if buf.len() as u64 > limit {
        return Err(format!("larger than the limit of {limit} bytes"));
    }
    Ok(buf)
}

/// Read a PKCS#8 PEM Ed25519 key (bounded: [`MAX_KEY_FILE_BYTES`], regular
/// files only). Every failure is `bad_key_file`.
pub fn read_key_file(path: &Path) -> Result<SigningKey, LedgerError> {
    let bad = |message: String| LedgerError::KeyFile { path: path.to_path_buf(), message };
    let bytes = read_input_file(path, MAX_KEY_FILE_BYTES).map_err(bad)?;
    let pem = String::from_utf8(bytes).map_err(|_| bad("not a PEM file (not UTF-8 text)".into()))?;
    keys::from_pem(&pem).map_err(|e| bad(e.to_string()))
}

/// Read a checkpoint note kept earlier (bounded: [`MAX_NOTE_FILE_BYTES`],
/// regular files only) and check it up front: it must be a checkpoint signed
/// by `trusted` (this log's key and origin). Anything else is bad input
/// (`invalid_argument`), not a verdict on the ledger.
pub fn read_kept_checkpoint(path: &Path, trusted: &NoteVerifier) -> Result<(Vec<u8>, Checkpoint), LedgerError> {
    let bad = |m: String| LedgerError::InvalidArgument(format!("kept checkpoint {}: {m}", path.display()));
    let bytes = read_input_file(path, MAX_NOTE_FILE_BYTES).map_err(bad)?;
    let cp = Checkpoint::open(&bytes, trusted).map_err(|e| {
        bad(format!(
            "not a checkpoint of this log signed by {} ({e}); a kept checkpoint must be the exact note the log \
             signed (LF line ends)",
            trusted.to_vkey_string()
        ))
    })?;
    Ok((bytes, cp))
}

/// Does anything (even a dangling link) exist at `p`? Errors other than
/// "not found" are I/O errors, never a "no".
pub(crate) fn exists_at(p: &Path) -> Result<bool, LedgerError> {
    match std::fs::symlink_metadata(p) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(LedgerError::IoAt { path: p.to_path_buf(), source }),
    }
}

/// Why a directory entry that is not a regular file is skipped when a
/// command reads "every file in DIR" (never followed, never recursed).
pub(crate) fn not_a_file_reason(kind: std::fs::FileType) -> &'static str {
    if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_dir() {
        "a directory (not recursive)"
    } else {
        "not a regular file"
    }
}
