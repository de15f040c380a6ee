//! `DATA/checkpoint.acked`: the newest acknowledged checkpoint, kept beside
//! the store (`schema/storage.md` §3).
//!
//! The file has two fixed slots of [`SLOT`] bytes, each a checkpoint note
//! padded with NUL bytes. The syncer writes them in turn, in place (one
//! `pwrite` and one `fdatasync`: the file's size never changes, so no
//! metadata is synced and nothing is renamed), after the store's own sync
//! and before any caller is answered. A power cut can tear only the slot
//! being written; the other still holds the previous acknowledged note. So a
//! reader takes every slot whose note verifies under the log key and uses the
//! largest. The file is created (and re-created when it is not in this
//! layout) by writing both slots to a temporary file, syncing it and renaming
//! it into place. A file in the older layout (one plain note) is read as one
//! note.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use pil_ledger_core::note::{Checkpoint, NoteVerifier};

use crate::files::{exists_at, read_input_file, read_key_file, MAX_NOTE_FILE_BYTES};
use crate::ledger::{LedgerError, Paths};

/// Bytes per slot.
pub const SLOT: usize = 2048;

/// The syncer's writer of the file.
pub struct Witness {
    path: PathBuf,
    /// Open for writing once the file is in the two-slot layout.
    file: Option<File>,
    /// Writes so far; the next goes to slot `next % 2`.
    next: u64,
}

impl Witness {
    pub fn new(path: PathBuf) -> Self {
        Witness { path, file: None, next: 0 }
    }

    /// Record `note` as the newest acknowledged checkpoint, durably.
    pub fn record(&mut self, note: &str) -> std::io::Result<()> {
        let bytes = note.as_bytes();
        if bytes.is_empty() || bytes.len() >= SLOT || bytes.contains(&0) {
            self.file = None;
            return replace(&self.path, bytes);
        }
        let Some(f) = &self.file else {
            // First write of this process: both slots, in a new file.
            let mut all = vec![0u8; 2 * SLOT];
            all[..bytes.len()].copy_from_slice(bytes);
            all[SLOT..SLOT + bytes.len()].copy_from_slice(bytes);
            replace(&self.path, &all)?;
            self.file = Some(std::fs::OpenOptions::new().write(true).open(&self.path)?);
            self.next = 0;
            return Ok(());
        };
        let mut slot = vec![0u8; SLOT];
        slot[..bytes.len()].copy_from_slice(bytes);
        let at = (self.next % 2) * SLOT as u64;
        f.write_all_at(&slot, at)?;
        f.sync_data()?;
        self.next += 1;
        Ok(())
    }
}

/// Write `bytes` as the whole file: a temporary file (the name plus
/// `.tmp`), synced, renamed, and the directory synced.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let mut f = File::create(&tmp)?;
    std::io::Write::write_all(&mut f, bytes)?;
    // The data must be on disk before the rename can be: otherwise a power
    // cut can leave the new name on an empty file (found by
    // tests/powerloss.rs on LazyFS).
    f.sync_data()?;
    std::fs::rename(&tmp, path)?;
    // The new name must last too (later slot writes sync only the file).
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

/// The notes in the file: both slots' (padding removed, empty slots left
/// out), or the whole file (the older layout). `None`: no file.
pub fn read_notes(path: &Path) -> Result<Option<Vec<Vec<u8>>>, LedgerError> {
    if !exists_at(path)? {
        return Ok(None);
    }
    let b = read_input_file(path, MAX_NOTE_FILE_BYTES).map_err(LedgerError::SelfCheck)?;
    if b.len() != 2 * SLOT {
        return Ok(Some(vec![b]));
    }
    let notes: Vec<Vec<u8>> = b
        .chunks(SLOT)
        .map(|s| s[..s.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1)].to_vec())
        .filter(|n| !n.is_empty())
        .collect();
    // Both slots empty was never written (the file is created with both
    // filled): damage, reported as one note that does not verify.
    Ok(Some(if notes.is_empty() { vec![b] } else { notes }))
}

/// What the file says under `vkey`: `None` without a file; else the notes
/// that verify, largest size last, or, when none does, `Err` with every
/// note (for `verify` to report).
pub fn checked(path: &Path, vkey: &NoteVerifier) -> Result<Option<Notes>, LedgerError> {
    let Some(notes) = read_notes(path)? else { return Ok(None) };
    let mut good: Vec<Checked> =
        notes.iter().filter_map(|n| Checkpoint::open(n, vkey).ok().map(|cp| (cp, n.clone()))).collect();
    if good.is_empty() {
        return Ok(Some(Err(notes)));
    }
    good.sort_by_key(|(cp, _)| cp.size);
    Ok(Some(Ok(good)))
}

/// A note that verified, with its bytes.
pub type Checked = (Checkpoint, Vec<u8>);

/// The notes that verify (largest size last), or every note when none does.
pub type Notes = Result<Vec<Checked>, Vec<Vec<u8>>>;

// ---- the files beside the store, as the ledger reads them

/// Write `DATA/log.vkey` unless it already says `vkey` (temporary file,
/// synced, renamed, directory synced; a file that says anything else is
/// replaced).
pub(crate) fn keep_vkey_file(paths: &Paths, vkey: &NoteVerifier) -> Result<(), LedgerError> {
    let want = format!("{}\n", vkey.to_vkey_string());
    let path = paths.vkey_file();
    if std::fs::read(&path).is_ok_and(|b| b == want.as_bytes()) {
        return Ok(());
    }
    replace(&path, want.as_bytes()).map_err(|source| LedgerError::IoAt { path, source })
}

/// The acknowledged notes as checkpoints `verify` must find the log
/// extending: those that verify (a slot torn by a power cut is left out), or,
/// when none does, every one, so that `verify` reports them.
pub fn acked_as_kept(paths: &Paths, vkey: &NoteVerifier) -> Vec<Vec<u8>> {
    match checked(&paths.acked_checkpoint(), vkey) {
        Ok(Some(Ok(good))) => good.into_iter().map(|(_, n)| n).collect(),
        Ok(Some(Err(all))) => all,
        Ok(None) | Err(_) => Vec::new(),
    }
}

/// The newest acknowledged checkpoint, read without opening the store:
/// `DATA/checkpoint.acked` checked against `DATA/log.vkey`. O(1). `None`
/// when either file is missing (a ledger not yet opened for writing by this
/// version) or does not check out: the caller then opens the store.
pub fn acked_checkpoint_fast(dir: &Path) -> Option<(String, NoteVerifier)> {
    let paths = Paths::new(dir);
    if !std::fs::metadata(paths.store().join("db")).is_ok_and(|m| m.is_file()) {
        return None;
    }
    let v = read_input_file(&paths.vkey_file(), MAX_NOTE_FILE_BYTES).ok()?;
    let vkey = NoteVerifier::parse(std::str::from_utf8(&v).ok()?.trim_end()).ok()?;
    // Bind the key to this ledger without opening the store: it must be the
    // public half of the log key beside it. (A copy without `keys/`, a
    // court's, opens the store instead.)
    if read_key_file(&paths.log_key()).ok()?.verifying_key() != vkey.key {
        return None;
    }
    let good = checked(&paths.acked_checkpoint(), &vkey).ok()??.ok()?;
    let (_, note) = good.into_iter().next_back()?;
    Some((String::from_utf8(note).ok()?, vkey))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_alternate_in_place_and_a_torn_slot_leaves_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.acked");
        let mut w = Witness::new(path.clone());
        w.record("note one\n").unwrap();
        assert_eq!(read_notes(&path).unwrap().unwrap(), [b"note one\n".to_vec(), b"note one\n".to_vec()]);
        w.record("note two\n").unwrap();
        w.record("note three\n").unwrap();
        let notes = read_notes(&path).unwrap().unwrap();
        assert_eq!(notes, [b"note two\n".to_vec(), b"note three\n".to_vec()]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 2 * SLOT as u64);
        // A torn write of slot 1: new bytes over part of the newest note;
        // slot 0 still holds the one before.
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(b"XXXX", SLOT as u64).unwrap();
        let notes = read_notes(&path).unwrap().unwrap();
        assert_eq!(notes[0], b"note two\n");
        assert_ne!(notes[1], b"note three\n");
        // The older layout (one plain note) reads as one note.
        std::fs::write(&path, b"plain\n").unwrap();
        assert_eq!(read_notes(&path).unwrap().unwrap(), [b"plain\n".to_vec()]);
        assert!(read_notes(&dir.path().join("none")).unwrap().is_none());
    }
}
