//! Where a command's ledger is: this process (`Backend::Local`, the ledger
//! under `--data`) or a running `pil-ledger serve` (`Backend::Remote`,
//! `--server URL` / `PIL_SERVER`; DESIGN §7.1 "The CLI over HTTP").
//!
//! Signing is always local (`--key`): a remote append signs the statement
//! here and submits `{"statement","signature"}` to `POST /v1/statements`;
//! the server never sees a person's key. Remote reads use the bearer token
//! of `--token` / `PIL_TOKEN`. An HTTP error `{"error":{"code","message"}}`
//! becomes a [`Failure`] with the same code and the exit code of that code's
//! class (4xx → 2, 5xx → 3; the clock refusals `clock_behind_log` and
//! `clock_jump`, which are 503 over HTTP, exit 2 as locally), so a command
//! prints and exits the same in both modes.
//!
//! The client is `ureq` (blocking, plain HTTP; no tokio on this path).

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use pil_ledger_core::state::{self, EvidenceRecord};
use pil_ledger_core::wire::{Body, Entry, Hash32, Statement};
use serde_json::Value;

use crate::ack::Ack;
use crate::cli::{refused, Failure};
use crate::evidence_read as read;
use crate::ledger::{self, Ledger};
use crate::store::StoreIndex;

/// Where the ledger is, as the command line says.
#[derive(Clone, Debug)]
pub struct Target {
    pub data: PathBuf,
    /// `--server URL`.
    pub server: Option<String>,
    /// `--token` (bearer token for remote reads).
    pub token: Option<String>,
}

impl Target {
    pub fn local(data: PathBuf) -> Target {
        Target { data, server: None, token: None }
    }

    pub fn is_remote(&self) -> bool {
        self.server.is_some()
    }

    /// The ledger: opened here (for writing when `writable`), or a client
    /// for the server.
    pub fn open(&self, writable: bool) -> Result<Backend, Failure> {
        match &self.server {
            Some(url) => Ok(Backend::Remote(HttpClient::new(url, self.token.clone())?)),
            None => Ok(Backend::Local(Box::new(Ledger::open(&self.data, writable)?))),
        }
    }

    /// Refuse `--server` for a command that only makes sense on this
    /// machine's ledger (exit 2, `invalid_argument`).
    pub fn local_only(&self, what: &str) -> Result<(), Failure> {
        match &self.server {
            None => Ok(()),
            Some(url) => Err(refused(
                "invalid_argument",
                format!(
                    "`{what}` works on a local ledger only and does not take --server ({url}); run it on the \
                     server's machine with --data (stop `serve` first if it needs the ledger), or unset PIL_SERVER"
                ),
            )),
        }
    }
}

/// What an appending command needs to know about an evidence item.
#[derive(Clone, Debug)]
pub struct ItemInfo {
    pub case_id: String,
    /// The transfer entry of a handover not yet received.
    pub pending_transfer: Option<Hash32>,
    pub digests: Vec<pil_ledger_core::digest::Digest>,
}

impl From<EvidenceRecord> for ItemInfo {
    fn from(r: EvidenceRecord) -> Self {
        ItemInfo { case_id: r.case_id, pending_transfer: r.pending_transfer.map(|(h, _)| h), digests: r.digests }
    }
}

/// The ledger a command works on: here, or behind a server.
pub enum Backend {
    Local(Box<Ledger>),
    Remote(HttpClient),
}

impl Backend {
    /// The ledger's origin (remote: the first line of its checkpoint).
    pub fn origin(&self) -> Result<String, Failure> {
        match self {
            Backend::Local(l) => Ok(l.origin().to_string()),
            Backend::Remote(c) => {
                let note = c.get_text("/v1/checkpoint")?;
                note.lines()
                    .next()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .ok_or_else(|| bad_answer("GET /v1/checkpoint", "no origin line"))
            }
        }
    }

    /// Sign `body` under `case_id` with `signer` (here) and append it.
    pub fn append(&self, signer: &SigningKey, case_id: &str, body: Body) -> Result<Ack, Failure> {
        match self {
            Backend::Local(l) => Ok(l.append_signed(signer, case_id, body)?),
            Backend::Remote(c) => {
                let (st, sig) = ledger::sign_statement(&self.origin()?, signer, case_id, body);
                c.submit(&st, &sig)
            }
        }
    }

    /// Submit signed statements; answers in the order given. Locally they
    /// go to the writer concurrently (shared group commits); remotely over
    /// a few connections at once.
    pub fn submit_all(&self, statements: Vec<(Vec<u8>, [u8; 64])>) -> Result<Vec<Result<Ack, Failure>>, Failure> {
        match self {
            Backend::Local(l) => Ok(crate::evidence_add::submit_all(l, statements)?
                .into_iter()
                .map(|r| r.map_err(Failure::from))
                .collect()),
            Backend::Remote(c) => {
                let mut out = Vec::with_capacity(statements.len());
                for chunk in statements.chunks(8) {
                    let answers: Vec<Result<Ack, Failure>> = std::thread::scope(|s| {
                        let hs: Vec<_> = chunk.iter().map(|(st, sig)| s.spawn(move || c.submit(st, sig))).collect();
                        hs.into_iter()
                            .map(|h| {
                                h.join().unwrap_or_else(|_| Err(bad_answer("POST /v1/statements", "thread panicked")))
                            })
                            .collect()
                    });
                    out.extend(answers);
                }
                Ok(out)
            }
        }
    }

    /// The canonical bytes of the entry at `seq` (`unknown_entry` if none).
    pub fn entry(&self, seq: u64) -> Result<Vec<u8>, Failure> {
        let unknown = || refused("unknown_entry", format!("no entry at seq {seq}"));
        match self {
            Backend::Local(l) => l.entry(seq)?.ok_or_else(unknown),
            Backend::Remote(c) => {
                let v = c.get_json(&format!("/v1/entries/{seq}"))?;
                let hex = v["entry"].as_str().ok_or_else(|| bad_answer("GET /v1/entries/{seq}", "no entry field"))?;
                hex::decode(hex).map_err(|e| bad_answer("GET /v1/entries/{seq}", &e.to_string()))
            }
        }
    }

    /// The entry hash at `seq`.
    pub fn entry_hash(&self, seq: u64) -> Result<Hash32, Failure> {
        Ok(pil_ledger_core::hash::entry_hash(&self.entry(seq)?))
    }

    /// The case an entry that moved money was filed under (empty if it
    /// moved none). Remotely: the case its statement names, which is what
    /// the movement records.
    pub fn movement_case(&self, seq: u64) -> Result<(Hash32, String), Failure> {
        let bytes = self.entry(seq)?;
        let original = pil_ledger_core::hash::entry_hash(&bytes);
        let case_id = match self {
            Backend::Local(l) => state::movement(&StoreIndex(l.store()), &original)
                .map_err(|e| Failure { exit: 3, code: "storage_error", message: e.to_string() })?
                .map(|m| m.case_id)
                .unwrap_or_default(),
            Backend::Remote(_) => Entry::from_bytes(&bytes)
                .ok()
                .and_then(|e| Statement::from_bytes(&e.statement).ok())
                .map(|s| s.case_id)
                .unwrap_or_default(),
        };
        Ok((original, case_id))
    }

    /// An evidence item (`unknown_evidence` if none).
    pub fn item(&self, id: &str) -> Result<ItemInfo, Failure> {
        match self {
            Backend::Local(l) => Ok(read::item(l, id)?.into()),
            Backend::Remote(c) => {
                let v = c.get_json(&format!("/v1/evidence/{}", seg(id)))?;
                let what = "GET /v1/evidence/{id}";
                let case_id = v["case_id"].as_str().ok_or_else(|| bad_answer(what, "no case_id"))?.to_string();
                let pending_transfer = match v["pending_transfer"]["transfer"].as_str() {
                    None => None,
                    Some(h) => Some(hash32(h).ok_or_else(|| bad_answer(what, "bad pending_transfer"))?),
                };
                let digests = v["digests"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d.as_str().and_then(|s| pil_ledger_core::digest::Digest::parse(s).ok()))
                    .collect();
                Ok(ItemInfo { case_id, pending_transfer, digests })
            }
        }
    }

    /// The enrolled holder name of a key (`author_not_enrolled` if none).
    pub fn key_holder(&self, key: &[u8; 32]) -> Result<String, Failure> {
        match self {
            Backend::Local(l) => Ok(read::key_holder(l, key)?),
            Backend::Remote(c) => {
                let v = c.get_json(&format!("/v1/keys/{}", hex::encode(key)))?;
                v["holder"].as_str().map(str::to_string).ok_or_else(|| bad_answer("GET /v1/keys/{key}", "no holder"))
            }
        }
    }

    /// A disbursement request, as `GET /v1/requests/{id}` shows it.
    pub fn request(&self, id: &str) -> Result<Value, Failure> {
        match self {
            Backend::Local(l) => Ok(crate::fund_cli::request_json(l, id)?),
            Backend::Remote(c) => c.get_json(&format!("/v1/requests/{}", seg(id))),
        }
    }

    /// An account with its balance, as `GET /v1/accounts/{id}` shows it.
    pub fn account(&self, id: &str) -> Result<Value, Failure> {
        match self {
            Backend::Local(l) => Ok(crate::fund_cli::account_json(l, id)?),
            Backend::Remote(c) => c.get_json(&format!("/v1/accounts/{}", seg(id))),
        }
    }

    /// The §7.1 balance object (`fund balance --json`).
    pub fn balance(&self, id: &str) -> Result<Value, Failure> {
        match self {
            Backend::Local(l) => Ok(crate::fund_cli::balance_json(l, id)?),
            Backend::Remote(c) => c.get_json(&format!("/v1/accounts/{}/balance", seg(id))),
        }
    }
}

/// A path segment, percent-encoded (ids may hold anything).
pub fn seg(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hash32(s: &str) -> Option<Hash32> {
    hex::decode(s).ok()?.try_into().ok()
}

/// The server answered something this client cannot read (exit 3).
fn bad_answer(what: &str, why: &str) -> Failure {
    Failure {
        exit: 3,
        code: "io_error",
        message: format!("the server's answer to {what} is not what the API says: {why}"),
    }
}

/// The exit code of an HTTP error answer: its class's, as locally.
fn exit_for(status: u16, code: &str) -> u8 {
    match status {
        // The clock refusals are 503 over HTTP (the operator must fix the
        // clock) but refused, exit 2, on the command line.
        503 if code == "clock_behind_log" || code == "clock_jump" => 2,
        408 | 429 => 3,
        400..=499 => 2,
        _ => 3,
    }
}

/// A plain blocking HTTP client for one server.
pub struct HttpClient {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl HttpClient {
    /// `url` is the server's base, e.g. `http://127.0.0.1:8080` (a trailing
    /// `/` or `/v1` is accepted).
    pub fn new(url: &str, token: Option<String>) -> Result<HttpClient, Failure> {
        let base = url.trim().trim_end_matches('/').trim_end_matches("/v1").trim_end_matches('/').to_string();
        if !base.starts_with("http://") {
            return Err(refused(
                "invalid_argument",
                format!("--server {url:?}: expected http://HOST:PORT (this client speaks plain HTTP only)"),
            ));
        }
        let agent = ureq::AgentBuilder::new().timeout_connect(Duration::from_secs(10)).build();
        Ok(HttpClient { base, token: token.filter(|t| !t.is_empty()), agent })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: &str, path: &str) -> ureq::Request {
        let r = self.agent.request(method, &format!("{}{path}", self.base));
        match &self.token {
            Some(t) => r.set("Authorization", &format!("Bearer {t}")),
            None => r,
        }
    }

    /// The answer, or the server's error as a [`Failure`].
    fn answer(&self, what: &str, r: Result<ureq::Response, ureq::Error>) -> Result<ureq::Response, Failure> {
        match r {
            Ok(r) => Ok(r),
            Err(ureq::Error::Status(status, r)) => {
                let body = r.into_string().unwrap_or_default();
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let code = v["error"]["code"].as_str().unwrap_or("io_error").to_string();
                let message = v["error"]["message"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{what}: HTTP {status} from {}", self.base));
                // A process answers one command: leaking the code string
                // (Failure keeps a &'static str) costs a few bytes once.
                let code: &'static str = Box::leak(code.into_boxed_str());
                Err(Failure { exit: exit_for(status, code), code, message })
            }
            Err(e) => Err(Failure {
                exit: 3,
                code: "io_error",
                message: format!("cannot reach the server at {} ({what}): {e}", self.base),
            }),
        }
    }

    pub fn get(&self, path: &str) -> Result<ureq::Response, Failure> {
        self.answer(&format!("GET {path}"), self.request("GET", path).call())
    }

    pub fn get_text(&self, path: &str) -> Result<String, Failure> {
        self.get(path)?.into_string().map_err(|e| bad_answer(path, &e.to_string()))
    }

    pub fn get_json(&self, path: &str) -> Result<Value, Failure> {
        self.get(path)?.into_json().map_err(|e| bad_answer(path, &e.to_string()))
    }

    /// `POST /v1/statements`: the ack (201 new, 200 already in the log).
    pub fn submit(&self, statement: &[u8], signature: &[u8; 64]) -> Result<Ack, Failure> {
        let body = serde_json::json!({"statement": hex::encode(statement), "signature": hex::encode(signature)});
        let r = self.answer("POST /v1/statements", self.request("POST", "/v1/statements").send_json(body))?;
        let v: Value = r.into_json().map_err(|e| bad_answer("POST /v1/statements", &e.to_string()))?;
        ack_from_json(&v).ok_or_else(|| bad_answer("POST /v1/statements", "not an ack"))
    }

    /// `POST /v1/verify/file`: the file streamed (chunked), the verdict back.
    pub fn verify_file(&self, file: impl Read) -> Result<Value, Failure> {
        let r = self.answer(
            "POST /v1/verify/file",
            self.request("POST", "/v1/verify/file").set("Content-Type", "application/octet-stream").send(file),
        )?;
        r.into_json().map_err(|e| bad_answer("POST /v1/verify/file", &e.to_string()))
    }
}

/// The [`Ack`] an ack JSON describes (`Ack::to_json` read back).
pub fn ack_from_json(v: &Value) -> Option<Ack> {
    let o = v.as_object()?;
    let mut created = Vec::new();
    for (k, val) in o {
        if !matches!(k.as_str(), "seq" | "hash" | "checkpoint" | "size" | "proof" | "duplicate") {
            created.push((k.clone(), val.as_str()?.to_string()));
        }
    }
    Some(Ack {
        seq: v["seq"].as_u64()?,
        hash: hash32(v["hash"].as_str()?)?,
        checkpoint: v["checkpoint"].as_str()?.to_string(),
        size: v["size"].as_u64()?,
        proof: v["proof"].as_array()?.iter().map(|p| p.as_str().and_then(hash32)).collect::<Option<_>>()?,
        created,
        duplicate: v.get("duplicate").and_then(Value::as_bool).unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_json_round_trips() {
        let a = Ack {
            seq: 7,
            hash: [3; 32],
            checkpoint: "o\n7\nx\n".into(),
            size: 8,
            proof: vec![[1; 32], [2; 32]],
            created: vec![("case_id".into(), "C-1".into())],
            duplicate: true,
        };
        assert_eq!(ack_from_json(&a.to_json()), Some(a));
    }

    #[test]
    fn http_errors_exit_as_their_class() {
        assert_eq!(exit_for(403, "role_not_allowed"), 2);
        assert_eq!(exit_for(422, "x"), 2);
        assert_eq!(exit_for(503, "clock_jump"), 2);
        assert_eq!(exit_for(503, "writer_stopped"), 3);
        assert_eq!(exit_for(500, "io_error"), 3);
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
    }
}
