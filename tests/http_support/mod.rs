//! Helpers for the HTTP tests: start the real `pil-ledger serve` on a free
//! loopback port, call it with a plain HTTP client, and build statements
//! byte by byte from `schema/wire-format.md` (not through library helpers).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::Value;

use crate::common::{Env, BIN};

pub const ORIGIN: &str = "test.example/pil";

/// A running `pil-ledger serve`; killed (SIGKILL) when dropped unless it
/// was stopped.
pub struct Server {
    pub child: Child,
    pub base: String,
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    /// `serve --listen 127.0.0.1:0 ARGS` with extra environment; waits for
    /// the `listening on http://ADDR/` line (the port the kernel picked).
    pub fn start(e: &Env, args: &[&str], env: &[(&str, &str)]) -> Server {
        let log = std::fs::File::create(e.path("serve.log")).unwrap();
        let mut c = Command::new(BIN);
        c.arg("--data").arg(e.data()).args(["serve", "--listen", "127.0.0.1:0"]).args(args);
        c.env_remove("PIL_DATA").env("PIL_LOG", "info").stdout(Stdio::piped()).stderr(log);
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                let log = std::fs::read_to_string(e.path("serve.log")).unwrap_or_default();
                panic!("serve did not start: {line:?}\n{log}")
            })
            .trim_end_matches('/')
            .to_string();
        Server { child, base, _stdout: out }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then wait for the process to end; its exit code.
    pub fn terminate(&mut self) -> i32 {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        for _ in 0..600 {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("serve did not stop within 30 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: String,
    pub retry_after: Option<String>,
    pub next_from: Option<String>,
    pub content_type: Option<String>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
    /// The error code of a JSON error answer.
    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_else(|| panic!("no error code: {}", self.body)).to_string()
    }
}

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build()
}

fn resp(r: Result<ureq::Response, ureq::Error>) -> Resp {
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = r.status();
    let retry_after = r.header("retry-after").map(str::to_string);
    let next_from = r.header("x-next-from").map(str::to_string);
    let content_type = r.header("content-type").map(str::to_string);
    Resp { status, body: r.into_string().unwrap(), retry_after, next_from, content_type }
}

/// A request; `Err` (the transport error, as text) only for transport
/// failures (connection refused...).
pub fn try_call(
    a: &ureq::Agent,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Result<Resp, String> {
    let mut req = a.request(method, url);
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let r = match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    };
    match r {
        Ok(r) => Ok(resp(Ok(r))),
        Err(ureq::Error::Status(c, r)) => Ok(resp(Err(ureq::Error::Status(c, r)))),
        Err(e) => Err(e.to_string()),
    }
}

pub fn call(a: &ureq::Agent, method: &str, url: &str, token: Option<&str>, body: Option<&[u8]>) -> Resp {
    try_call(a, method, url, token, body).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

pub fn get(a: &ureq::Agent, url: &str, token: Option<&str>) -> Resp {
    call(a, "GET", url, token, None)
}

pub fn post_json(a: &ureq::Agent, url: &str, v: &Value) -> Resp {
    call(a, "POST", url, None, Some(v.to_string().as_bytes()))
}

// ------------------------------------------------- wire format, by hand --

/// Little-endian canonical encoding (`schema/wire-format.md` §1).
#[derive(Default)]
pub struct W(pub Vec<u8>);

impl W {
    pub fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Fixed array: the bytes, no prefix.
    pub fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    /// String: u64 LE length, then UTF-8.
    pub fn str(self, s: &str) -> Self {
        self.u64(s.len() as u64).raw(s.as_bytes())
    }
    pub fn opt_u64(self, v: Option<u64>) -> Self {
        match v {
            None => self.raw(&[0]),
            Some(x) => self.raw(&[1]).u64(x),
        }
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// Statement (§2): format, origin, author, claimed_at_ms, nonce, case_id,
/// then the body (index and fields).
pub fn statement(origin: &str, author: &[u8; 32], nonce: [u8; 16], case_id: &str, body: &[u8]) -> Vec<u8> {
    W::default().u16(1).str(origin).raw(author).u64(now_ms()).raw(&nonce).str(case_id).raw(body).0
}

/// Body 5, `CaseOpened { title, area, unit }`.
pub fn case_opened(title: &str, area: &str, unit: &str) -> Vec<u8> {
    W::default().u32(5).str(title).str(area).str(unit).0
}

/// Body 1, `KeyEnrolled { key, holder, unit, roles, valid_from_ms,
/// valid_until_ms }`; roles by wire index (1 = prosecutor).
pub fn key_enrolled(key: &[u8; 32], holder: &str, unit: &str, roles: &[u32]) -> Vec<u8> {
    let mut w = W::default().u32(1).raw(key).str(holder).str(unit).u64(roles.len() as u64);
    for r in roles {
        w = w.u32(*r);
    }
    w.u64(now_ms() - 60_000).opt_u64(None).0
}

pub fn derive(ctx: &str, bytes: &[u8]) -> [u8; 32] {
    *blake3::Hasher::new_derive_key(ctx).update(bytes).finalize().as_bytes()
}

/// The author's signature over `H("pil-ledger v1 statement", bytes)`.
pub fn sign(key: &SigningKey, st: &[u8]) -> [u8; 64] {
    key.sign(&derive("pil-ledger v1 statement", st)).to_bytes()
}

pub fn read_key(path: &std::path::Path) -> SigningKey {
    SigningKey::from_pkcs8_pem(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn random_nonce() -> [u8; 16] {
    let mut n = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut n);
    n
}

pub fn submission(st: &[u8], sig: &[u8; 64]) -> Value {
    serde_json::json!({"statement": hex::encode(st), "signature": hex::encode(sig)})
}

/// A ledger with an enrolled prosecutor (through the CLI, before serving).
pub fn ledger_with_prosecutor() -> (Env, SigningKey) {
    let e = Env::new();
    e.init();
    let (p, _) = e.enroll("Li Si", "prosecutor");
    let k = read_key(&p);
    (e, k)
}

/// A fresh API token, made with the CLI (works while `serve` runs).
pub fn add_token(e: &Env, name: &str) -> String {
    let r = e.run(&["--json", "token", "add", "--name", name]).ok();
    r.json()["token"].as_str().unwrap().to_string()
}
