//! The private copy behind `SledStore::open_read_only`: the store directory
//! copied under a shared lock on the original `db` file (sled's own lock is
//! an exclusive `flock` on that file), so no writer changes it mid-copy.

use std::fs::File;
use std::path::{Path, PathBuf};

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

/// The bytes of every file under `dir` (sled's `conf`, `db`, `snap.*`,
/// `blobs/`), as `copy_dir` would copy them.
fn dir_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut bytes = 0u64;
    for e in std::fs::read_dir(dir)? {
        let md = std::fs::metadata(e?.path())?;
        bytes = bytes.saturating_add(if md.is_dir() { 0 } else { md.len() });
    }
    let blobs = dir.join("blobs");
    if blobs.is_dir() {
        bytes = bytes.saturating_add(dir_bytes(&blobs)?);
    }
    Ok(bytes)
}

/// Where the private copy of a read-only open goes (`storage.md` §1.1).
///
/// `PIL_COPY_DIR`, when set, is used as given. Otherwise `/dev/shm` when it
/// is a memory file system with room for twice the store and the store is at
/// most a quarter of the memory available: sled's recovery `fsync`s the
/// copied `db` file, and on a disk that writes the whole fresh copy out
/// (0.28 s for a 258 MB store here, growing with the store), while on tmpfs
/// it costs nothing. Else the system's temporary directory (`$TMPDIR`).
pub(super) fn copy_parent(store: &Path) -> PathBuf {
    if let Some(d) = std::env::var_os("PIL_COPY_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let shm = Path::new("/dev/shm");
    match dir_bytes(store) {
        Ok(need) if fits_in_memory(shm, need) => shm.to_path_buf(),
        _ => std::env::temp_dir(),
    }
}

/// Whether a copy of `need` bytes fits in the memory file system at `dir`
/// (see [`copy_parent`]). False wherever this cannot be told.
#[cfg(target_os = "linux")]
fn fits_in_memory(dir: &Path, need: u64) -> bool {
    use std::os::unix::ffi::OsStrExt;
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a zeroed statfs
    // that the call fills in; both outlive the call.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 || st.f_type as i64 != TMPFS_MAGIC {
        return false;
    }
    let room = (st.f_bavail as u64).saturating_mul(st.f_bsize as u64);
    room / 2 >= need && mem_available().is_some_and(|m| m / 4 >= need)
}

#[cfg(not(target_os = "linux"))]
fn fits_in_memory(_dir: &Path, _need: u64) -> bool {
    false
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
#[cfg(target_os = "linux")]
fn mem_available() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
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
    const LOCK_EX: c_int = 2;
    const LOCK_NB: c_int = 4;

    /// Try to take a shared lock; `Ok(false)` when another process holds
    /// an exclusive one. Released when `f` is closed.
    pub fn try_shared(f: &File) -> std::io::Result<bool> {
        try_lock(f, LOCK_SH)
    }

    /// Try to take an exclusive lock; `Ok(false)` when another process
    /// holds any lock. Released when `f` is closed.
    pub fn try_exclusive(f: &File) -> std::io::Result<bool> {
        try_lock(f, LOCK_EX)
    }

    fn try_lock(f: &File, how: c_int) -> std::io::Result<bool> {
        // SAFETY: flock only reads its two integer arguments; `f` owns a
        // valid open descriptor for the duration of the call.
        let r = unsafe { flock(f.as_raw_fd(), how | LOCK_NB) };
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
    lock(db_file, dir, false)
}

/// The store directory's own lock, taken before sled's lock on `db` by every
/// opener and held for the store's life: exclusive by a writable store,
/// shared by a read-only open while it copies. sled's lock alone is not
/// enough: a writable store closes and reopens sled to refresh its snapshot
/// (`storage.md` §5.1), and in that moment sled's lock is free; this one is
/// not, so no other writer and no reader gets in between. Waits up to
/// [`LOCK_WAIT`], then `Busy`, as sled's own lock does.
pub(super) fn lock_dir(dir: &Path, exclusive: bool) -> Result<File, StoreError> {
    let f = File::open(dir)?;
    lock(&f, dir, exclusive)?;
    Ok(f)
}

fn lock(f: &File, dir: &Path, exclusive: bool) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            let got = if exclusive { flock::try_exclusive(f) } else { flock::try_shared(f) };
            match got {
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
        let _ = (f, dir, exclusive);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_bytes_counts_files_and_blobs_but_not_other_directories() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("db"), vec![0u8; 1000]).unwrap();
        std::fs::write(d.path().join("conf"), b"x = 1\n").unwrap();
        std::fs::create_dir(d.path().join("blobs")).unwrap();
        std::fs::write(d.path().join("blobs").join("7"), vec![1u8; 50]).unwrap();
        assert_eq!(dir_bytes(d.path()).unwrap(), 1000 + 6 + 50);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn only_a_memory_file_system_with_room_holds_the_copy() {
        // A disk directory is never taken for memory, however small the store.
        let d = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        assert!(!fits_in_memory(d.path(), 1));
        let shm = Path::new("/dev/shm");
        if shm.is_dir() {
            // Far more than any machine's memory: never.
            assert!(!fits_in_memory(shm, u64::MAX / 4));
        }
    }
}
