//! Read-only opening (issue item 8): a court's check must work on a
//! read-only copy of the data directory and leave every byte under it
//! unchanged. `SledStore::open_read_only` runs sled in a private copy; these
//! tests hash every file before and after, with the originals made
//! immutable (`chattr +i`) where the file system allows it, else read-only
//! by permission bits (tests run as root, which ignores those, so there the
//! byte hashes are the check).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{s, Env};
use pil_ledger::check::verify_store;
use pil_ledger::ledger::{self, Ledger};
use pil_ledger::store::{SledStore, Store, StoreError, STORAGE_FORMAT};
use pil_ledger_core::authority::Role;
use pil_ledger_core::keys;
use pil_ledger_core::wire::Body;

/// Every file and directory under `dir`: relative path → (size, BLAKE3, mode).
fn hash_tree(dir: &Path) -> BTreeMap<String, (u64, String, u32)> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, (u64, String, u32)>) {
        use std::os::unix::fs::PermissionsExt;
        let mut names: Vec<_> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        for p in names {
            let md = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let mode = md.permissions().mode();
            if md.is_dir() {
                out.insert(rel + "/", (0, String::new(), mode));
                walk(base, &p, out);
            } else {
                let b = std::fs::read(&p).unwrap();
                out.insert(rel, (b.len() as u64, blake3::hash(&b).to_hex().to_string(), mode));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Makes every file and directory under a path unwritable for the guard's
/// lifetime: immutable (`chattr +i`, which binds root too) when possible,
/// and mode 0444 / 0555 in any case. Undone on drop (original modes
/// restored), also when a test panics.
struct Unwritable {
    dir: PathBuf,
    modes: Vec<(PathBuf, u32)>,
    immutable: bool,
}

impl Unwritable {
    fn new(dir: &Path) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let mut modes = Vec::new();
        collect_modes(dir, &mut modes);
        for (p, _) in &modes {
            let ro = if p.is_dir() { 0o555 } else { 0o444 };
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(ro)).unwrap();
        }
        let immutable = Command::new("chattr").arg("-R").arg("+i").arg(dir).output().is_ok_and(|o| o.status.success());
        if immutable {
            // the guard must really bind: a write has to fail
            assert!(std::fs::write(dir.join("probe"), b"x").is_err(), "chattr +i did not make {dir:?} unwritable");
        }
        eprintln!("originals made {}", if immutable { "immutable (chattr +i)" } else { "read-only by mode only" });
        Unwritable { dir: dir.to_path_buf(), modes, immutable }
    }
}

impl Drop for Unwritable {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.immutable {
            let _ = Command::new("chattr").arg("-R").arg("-i").arg(&self.dir).status();
        }
        for (p, mode) in self.modes.iter().rev() {
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(*mode));
        }
    }
}

fn collect_modes(p: &Path, out: &mut Vec<(PathBuf, u32)>) {
    use std::os::unix::fs::PermissionsExt;
    let md = std::fs::metadata(p).unwrap();
    out.push((p.to_path_buf(), md.permissions().mode() & 0o7777));
    if md.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(p).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for e in entries {
            collect_modes(&e, out);
        }
    }
}

/// A ledger written through the library: genesis, two enrolments, a case.
/// Closed on return.
fn small_ledger(dir: &Path) {
    let l = Ledger::init(dir, "ro.example/pil", "Officer Zhao", "Unit 1").unwrap();
    let officer = ledger::read_key_file(&l.paths().officer_key()).unwrap();
    let p = keys::generate();
    let a = keys::generate();
    l.append_signed(&officer, "", Body::enrol(p.verifying_key().to_bytes(), "Qian", "Unit 1", vec![Role::Prosecutor]))
        .unwrap();
    l.append_signed(&officer, "", Body::enrol(a.verifying_key().to_bytes(), "Sun", "Unit 1", vec![Role::Assistant]))
        .unwrap();
    l.append_signed(&p, "C-1", Body::CaseOpened { title: "river".into(), area: "a".into(), unit: "u".into() }).unwrap();
    l.close();
}

/// Read everything a court's check reads, through the `Store` trait.
fn read_everything(st: &SledStore) -> (u64, usize) {
    let cfg = st.config().unwrap().expect("config");
    assert_eq!(cfg.origin, "ro.example/pil");
    assert_eq!(st.storage_format().unwrap(), STORAGE_FORMAT);
    let head = st.head().unwrap().expect("head");
    let entries: Vec<_> = st.entries(0, head.size).map(Result::unwrap).collect();
    assert_eq!(entries.len() as u64, head.size);
    assert!((st.nodes().count() + st.unstored_nodes().len()) as u64 >= head.size);
    assert_eq!(st.checkpoints().unwrap().last().unwrap().1, head.checkpoint);
    assert!(!st.index_all().unwrap().is_empty());
    let raw = st.raw_scan().count();
    let v = verify_store(st, None, &[], &|_, _| {}).unwrap();
    assert_eq!(v.verdict.as_str(), "valid", "{:?}", v.reasons);
    (head.size, raw)
}

#[test]
fn sled_open_in_place_changes_bytes_so_read_only_open_must_copy() {
    // The premise of the copy: sled 0.34.7 writes when it opens a database
    // that was just written and closed (recovery extends the log file to
    // its segment and writes a snapshot), even with no insert at all.
    let tmp = tempfile::tempdir().unwrap();
    small_ledger(tmp.path());
    let store = tmp.path().join("ledger");
    let before = hash_tree(&store);
    drop(SledStore::open(&store).unwrap());
    assert_ne!(hash_tree(&store), before, "sled left the store unchanged: the private copy may no longer be needed");
}

#[test]
fn read_only_open_reads_everything_and_leaves_every_byte_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    small_ledger(tmp.path());
    let before = hash_tree(tmp.path());
    let guard = Unwritable::new(tmp.path());
    let during = hash_tree(tmp.path());
    for round in 0..2 {
        let st = SledStore::open_read_only(&tmp.path().join("ledger")).unwrap();
        assert!(st.is_read_only());
        let copy = st.working_dir().to_path_buf();
        assert!(!copy.starts_with(tmp.path()), "sled must run outside the original directory");
        let (size, raw) = read_everything(&st);
        assert_eq!(size, 4, "round {round}");
        assert!(raw > 4);
        drop(st);
        assert!(!copy.exists(), "the private copy is deleted when the store is dropped");
        assert_eq!(hash_tree(tmp.path()), during, "round {round}: bytes under the data directory changed");
    }
    drop(guard);
    assert_eq!(hash_tree(tmp.path()), before);
    // and the ledger still opens for writing afterwards
    let l = Ledger::open(tmp.path(), true).unwrap();
    assert_eq!(l.head().unwrap().size, 4);
}

#[test]
fn read_only_store_refuses_apply_sync_and_reindex_with_a_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    small_ledger(tmp.path());
    let before = hash_tree(tmp.path());
    let st = SledStore::open_read_only(&tmp.path().join("ledger")).unwrap();
    let head = st.head().unwrap().unwrap();
    let mut c = pil_ledger::store::Commit::default();
    c.entries.push((head.size, vec![1, 2, 3]));
    assert!(matches!(st.apply(c), Err(StoreError::ReadOnly(_))));
    assert!(matches!(st.sync(), Err(StoreError::ReadOnly(_))));
    assert!(matches!(st.commit(Default::default()), Err(StoreError::ReadOnly(_))));
    assert!(matches!(st.replace_indexes(&mut std::iter::empty()), Err(StoreError::ReadOnly(_))));
    // nothing was applied, even to the private copy
    assert!(st.entry(head.size).unwrap().is_none());
    assert!(!st.index_all().unwrap().is_empty());
    drop(st);
    assert_eq!(hash_tree(tmp.path()), before);
}

#[test]
fn read_only_copy_is_writable_by_its_owner_though_the_originals_are_read_only() {
    // As a non-root user, sled could not open a copy that kept the
    // originals' 0444 mode; the copy's files are created fresh.
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    small_ledger(tmp.path());
    let guard = Unwritable::new(tmp.path());
    let st = SledStore::open_read_only(&tmp.path().join("ledger")).unwrap();
    drop(guard);
    let mode = std::fs::metadata(st.working_dir().join("db")).unwrap().permissions().mode();
    assert_eq!(mode & 0o200, 0o200, "copy of db has mode {mode:o}");
}

#[test]
fn read_only_open_never_creates_a_store() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    std::fs::create_dir(&dir).unwrap();
    assert!(SledStore::open_read_only(&dir).is_err());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    assert!(SledStore::open_read_only(&tmp.path().join("absent")).is_err());
    assert!(!tmp.path().join("absent").exists());
}

#[test]
fn read_only_open_waits_for_a_running_writer_and_then_reports_busy_without_disturbing_it() {
    let tmp = tempfile::tempdir().unwrap();
    small_ledger(tmp.path());
    let l = Ledger::open(tmp.path(), true).unwrap();
    let t = std::time::Instant::now();
    let r = SledStore::open_read_only(&tmp.path().join("ledger"));
    assert!(matches!(r, Err(StoreError::Busy(_))), "{:?}", r.err());
    assert!(t.elapsed() >= std::time::Duration::from_secs(3));
    // the writer still works
    let officer = ledger::read_key_file(&l.paths().officer_key()).unwrap();
    let k = keys::generate();
    let ack = l
        .append_signed(&officer, "", Body::enrol(k.verifying_key().to_bytes(), "Li", "Unit 1", vec![Role::Auditor]))
        .unwrap();
    assert_eq!(ack.seq, 4);
    l.close();
    // once it has closed, the read-only open succeeds and sees the append
    let st = SledStore::open_read_only(&tmp.path().join("ledger")).unwrap();
    assert_eq!(st.head().unwrap().unwrap().size, 5);
}

#[test]
fn a_writer_can_start_while_a_read_only_store_is_open() {
    // The shared lock is held only while copying: a read-only store that
    // stays open (a long verify) does not keep the writer out.
    let tmp = tempfile::tempdir().unwrap();
    small_ledger(tmp.path());
    let st = SledStore::open_read_only(&tmp.path().join("ledger")).unwrap();
    let l = Ledger::open(tmp.path(), true).unwrap();
    assert_eq!(l.head().unwrap().size, 4);
    assert_eq!(st.head().unwrap().unwrap().size, 4);
}

#[test]
fn unknown_storage_format_is_refused_and_a_configured_store_without_the_record_reads_as_format_1() {
    let tmp = tempfile::tempdir().unwrap();
    small_ledger(tmp.path());
    let dir = tmp.path().join("ledger");
    {
        let st = SledStore::open(&dir).unwrap();
        // the first commit recorded the format beside the configuration
        assert_eq!(st.raw().get(b"V").unwrap().unwrap().as_ref(), &STORAGE_FORMAT.to_le_bytes());
        // a ledger written before the record existed has none
        st.raw().remove(b"V").unwrap();
        st.raw().flush().unwrap();
    }
    // Format 1 is read, but a writable open asks for `migrate`.
    match SledStore::open(&dir).err() {
        Some(StoreError::MigrationNeeded { found: 1, supported: STORAGE_FORMAT }) => {}
        other => panic!("expected MigrationNeeded, got {other:?}"),
    }
    assert_eq!(SledStore::open_read_only(&dir).unwrap().storage_format().unwrap(), 1);
    {
        let st = SledStore::open_for_migration(&dir).unwrap();
        assert_eq!(st.storage_format().unwrap(), 1);
        st.raw().insert(b"V", &7u32.to_le_bytes()).unwrap();
        st.raw().flush().unwrap();
    }
    for r in [SledStore::open(&dir).err(), SledStore::open_read_only(&dir).err()] {
        match r {
            Some(e @ StoreError::UnsupportedFormat { found: 7, supported: STORAGE_FORMAT }) => {
                assert!(e.to_string().contains("storage format 7"), "{e}");
            }
            other => panic!("expected UnsupportedFormat, got {other:?}"),
        }
    }
}

#[test]
fn cli_reads_on_an_unwritable_data_directory_leave_every_byte_unchanged() {
    let e = Env::new();
    e.init();
    e.enroll("p.key", "prosecutor");
    let (p, _) = e.enroll("p2.key", "prosecutor");
    e.run(&["case", "open", "--key", s(&p), "--case", "C-1", "--title", "river"]).ok();
    let kept = e.path("kept.note");
    std::fs::write(&kept, e.run(&["checkpoint"]).ok().stdout).unwrap();
    let vkey = e.run(&["vkey"]).ok().stdout.trim().to_string();
    let before = hash_tree(&e.data());
    let guard = Unwritable::new(&e.data());
    let during = hash_tree(&e.data());
    let runs: Vec<Vec<&str>> = vec![
        vec!["--json", "verify"],
        vec!["--json", "verify", "--vkey", &vkey, "--checkpoint", s(&kept)],
        vec!["entries"],
        vec!["checkpoint"],
        vec!["vkey"],
        vec!["prove", "inclusion", "1"],
        vec!["prove", "consistency", "1"],
        vec!["show", "2"],
    ];
    for args in &runs {
        let r = e.run(args);
        assert_eq!(r.code, 0, "{args:?}: {} {}", r.stdout, r.stderr);
        if args.contains(&"verify") {
            assert_eq!(r.json()["verdict"], "valid", "{args:?}");
        }
        assert_eq!(hash_tree(&e.data()), during, "{args:?} changed bytes under the data directory");
    }
    assert_eq!(e.run(&["checkpoint"]).ok().stdout, std::fs::read_to_string(&kept).unwrap());
    drop(guard);
    assert_eq!(hash_tree(&e.data()), before);
}
