//! Helpers for tests that drive the real `pil-ledger` binary.
#![allow(dead_code)]

pub mod raw2;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_pil-ledger");

pub struct Env {
    pub tmp: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", self.stdout))
    }
    pub fn err_json(&self) -> Value {
        let line = self.stderr.lines().last().unwrap_or("");
        serde_json::from_str(line).unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {}", self.stderr))
    }
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "stdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }
}

fn to_run(o: Output) -> Run {
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

impl Env {
    pub fn new() -> Self {
        Env { tmp: tempfile::tempdir().unwrap() }
    }
    pub fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
    pub fn officer(&self) -> PathBuf {
        self.data().join("keys/officer.key")
    }
    /// Run with `--data DIR` (and the given args).
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }
    /// The same, with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.run_os(args.iter().map(OsStr::new), env)
    }
    /// The same, with arguments that need not be UTF-8.
    pub fn run_os<'a>(&self, args: impl IntoIterator<Item = &'a OsStr>, env: &[(&str, &str)]) -> Run {
        let mut c = Command::new(BIN);
        c.arg("--data").arg(self.data()).args(args).env_remove("PIL_DATA");
        for v in ["PIL_CLOCK_OFFSET_MS", "PIL_MAX_CLOCK_JUMP_DAYS"] {
            c.env_remove(v);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        to_run(c.output().unwrap())
    }
    pub fn init(&self) -> String {
        self.run(&["init", "--origin", "test.example/pil"]).ok().stdout.trim().to_string()
    }
    /// New key file; returns its public key hex.
    pub fn keygen(&self, name: &str) -> (PathBuf, String) {
        let p = self.path(name);
        let pk = self.run(&["keygen", "--out", p.to_str().unwrap()]).ok().stdout.trim().to_string();
        (p, pk)
    }
    pub fn enroll(&self, name: &str, roles: &str) -> (PathBuf, String) {
        let (p, pk) = self.keygen(name);
        let o = self.officer();
        self.run(&[
            "--json",
            "enroll",
            "--key",
            o.to_str().unwrap(),
            "--pubkey",
            &pk,
            "--holder",
            name,
            "--unit",
            "Unit 1",
            "--roles",
            roles,
        ])
        .ok();
        (p, pk)
    }
    /// A ledger with a prosecutor (`p.key`), three cases (`C-0`..`C-2`) and
    /// `count` stress entries on top: enough records to spill and batch.
    pub fn with_stress(count: u32) -> Env {
        let e = Env::new();
        e.init();
        let (p, _) = e.enroll("p.key", "prosecutor");
        for i in 0..3 {
            e.run(&["case", "open", "--key", s(&p), "--case", &format!("C-{i}"), "--title", "river"]).ok();
        }
        e.run(&["stress", "--allow-existing", "--count", &count.to_string(), "--clients", "4"]).ok();
        e
    }
    /// The ledger's observable state: every entry line and the checkpoint.
    pub fn snapshot(&self) -> (String, String) {
        (self.run(&["entries"]).ok().stdout, self.run(&["checkpoint"]).ok().stdout)
    }
}

/// Edit the store of `e`'s ledger through sled directly (tamper drills),
/// then flush.
pub fn with_raw(e: &Env, f: impl FnOnce(&sled::Db)) {
    let st = pil_ledger::store::SledStore::open(&e.data().join("ledger")).unwrap();
    f(&st.raw());
    st.raw().flush().unwrap();
}

/// Every file under `dir` (path relative to `dir`, its bytes hashed), and
/// every directory (hash of nothing): byte-for-byte identity of a tree.
pub fn tree_hashes(dir: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(root: &Path, p: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        for e in rd {
            let e = e.unwrap();
            let path = e.path();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                out.insert(rel, "dir".into());
                walk(root, &path, out);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(rel, blake3::hash(&bytes).to_hex().to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Every key and value of the store, and the other files' hashes.
pub type StoreDump = (Vec<(Vec<u8>, Vec<u8>)>, BTreeMap<PathBuf, String>);

/// Everything a ledger holds, logically: every key and value in the store
/// (entries, nodes, indexes, checkpoints, head, config), read through a
/// read-only open, plus the bytes of every file outside the store (keys,
/// markers). sled rewrites its own files whenever a process opens the store
/// for writing, even when nothing is committed, so a refused append is
/// checked with this; commands that never open the store for writing are
/// checked with [`tree_hashes`].
pub fn store_dump(data: &Path) -> StoreDump {
    let st = pil_ledger::store::SledStore::open_read_only(&data.join("ledger")).unwrap();
    let kv = st.raw().iter().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect();
    let files = tree_hashes(data).into_iter().filter(|(p, _)| !p.starts_with("ledger")).collect();
    (kv, files)
}

/// Run with `--json`; assert exit 2, the error code on stderr and nothing on
/// stdout; return the run.
pub fn expect_refused(e: &Env, args: &[&str], env: &[(&str, &str)], code: &str) -> Run {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let r = e.run_env(&a, env);
    assert_eq!(r.code, 2, "{args:?}: stdout {} stderr {}", r.stdout, r.stderr);
    assert_eq!(r.err_json()["error"]["code"], code, "{args:?}: {}", r.stderr);
    assert!(r.stdout.is_empty(), "{args:?}: stdout {}", r.stdout);
    r
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Copy a directory tree (files and directories only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}
