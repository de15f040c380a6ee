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

use crate::files::{exists_at, read_input_file, MAX_NOTE_FILE_BYTES};
use crate::ledger::LedgerError;

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

/// Write `bytes` as the whole file: a temporary file, synced, renamed.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("acked.tmp");
    let mut f = File::create(&tmp)?;
    std::io::Write::write_all(&mut f, bytes)?;
    // The data must be on disk before the rename can be: otherwise a power
    // cut can leave the new name on an empty file (found by
    // tests/powerloss.rs on LazyFS).
    f.sync_data()?;
    std::fs::rename(&tmp, path)?;
    // The new name must last too: later slot writes sync only the file.
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
