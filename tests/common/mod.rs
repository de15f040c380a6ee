//! Helpers for tests that drive the real `pil-ledger` binary.
#![allow(dead_code)]

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
        let o = Command::new(BIN).arg("--data").arg(self.data()).args(args).env_remove("PIL_DATA").output().unwrap();
        to_run(o)
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
    /// The ledger's observable state: every entry line and the checkpoint.
    pub fn snapshot(&self) -> (String, String) {
        (self.run(&["entries"]).ok().stdout, self.run(&["checkpoint"]).ok().stdout)
    }
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
