//! The private copy behind `SledStore::open_read_only`: the store directory
//! copied under a shared lock on the original `db` file (sled's own lock is
//! an exclusive `flock` on that file), so no writer changes it mid-copy.

use std::fs::File;
use std::path::Path;

use super::sled_store::LOCK_WAIT;
use super::StoreError;

/// Copy the store directory `src` (sled's `conf`, `db`, `snap.*`, `blobs/`)
/// into `dst`, reading the originals only. The copies are new files owned by
/// us with default permissions, so sled can open them for writing even when
/// the originals are read-only. Returns the bytes copied.
pub(super) fn copy_dir(src: &Path, dst: &Path) -> Result<u64, StoreError> {
    let mut bytes = 0;
    for e in std::fs::read_dir(src)? {
        let e = e?;
        let (from, to) = (e.path(), dst.join(e.file_name()));
        let ty = std::fs::metadata(&from)?.file_type();
        if ty.is_dir() {
            std::fs::create_dir(&to)?;
            bytes += copy_dir(&from, &to)?;
        } else if ty.is_file() {
            let mut r = File::open(&from)?;
            let mut w = File::create_new(&to)?;
            bytes += std::io::copy(&mut r, &mut w)?;
        }
    }
    Ok(bytes)
}

/// `flock(2)`, the lock sled takes (through `fs2`) on its `db` file. std's
/// `File::try_lock_shared` would do, but needs Rust 1.89 and the workspace
/// promises 1.85.
#[cfg(unix)]
mod flock {
    use std::fs::File;
    use std::os::fd::AsRawFd;
    use std::os::raw::c_int;

    extern "C" {
        fn flock(fd: c_int, operation: c_int) -> c_int;
    }
    // The same values on Linux, the BSDs and macOS.
    const LOCK_SH: c_int = 1;
    const LOCK_NB: c_int = 4;

    /// Try to take a shared lock; `Ok(false)` when another process holds
    /// an exclusive one. Released when `f` is closed.
    pub fn try_shared(f: &File) -> std::io::Result<bool> {
        // SAFETY: flock only reads its two integer arguments; `f` owns a
        // valid open descriptor for the duration of the call.
        let r = unsafe { flock(f.as_raw_fd(), LOCK_SH | LOCK_NB) };
        if r == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::WouldBlock {
            Ok(false)
        } else {
            Err(e)
        }
    }
}

/// Take a shared lock on the original `db` file while it is copied, so no
/// writer changes it under the copy. sled's writer holds an exclusive lock
/// on the same file (flock), so while one runs this waits up to
/// [`LOCK_WAIT`] and then reports `Busy`, exactly as opening for writing
/// does; it never disturbs a running writer. A file system without locks
/// (some network mounts) is copied unlocked.
pub(super) fn lock_shared(db_file: &File, dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match flock::try_shared(db_file) {
                Ok(true) => return Ok(()),
                Ok(false) => {
                    if std::time::Instant::now() > deadline {
                        return Err(StoreError::Busy(dir.to_path_buf()));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Unsupported || e.raw_os_error() == Some(37) => {
                    // EOPNOTSUPP, or ENOLCK (37 on Linux): no locks here.
                    tracing::warn!("{}: file locks unavailable ({e}); copying without a lock", dir.display());
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (db_file, dir);
        Ok(())
    }
}
