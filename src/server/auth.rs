//! Bearer tokens for the HTTP API (`pil-ledger token add|list|revoke`).
//!
//! A token is `pilt-` and 64 hex digits (32 random bytes from the OS). It is
//! printed once, by `token add`, and never stored: `DATA/tokens.json` keeps
//! only `H("pil-ledger v1 api token", token)` (BLAKE3 derive-key, hex), the
//! name, and when it was created and revoked. The file is replaced
//! atomically (a 0600 temporary file in the data directory, synced, renamed
//! over it, the directory synced), so a reader sees the old or the new file,
//! never a torn one. The token commands do not open the store, so they work
//! while `serve` holds it; the server re-reads the file whenever it changes
//! (size, mtime or inode), so a revocation takes effect on the next request.
//! Two token commands run at the same moment may lose one's change (the
//! last rename wins): they are an operator's tool, run one at a time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use clap::Subcommand;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::errors::{ApiError, FORBIDDEN_TOKEN, TOKEN_REVOKED, UNAUTHENTICATED};
use super::AppState;
use crate::cli::Failure;
use crate::error::{ErrorClass, LedgerError};
use crate::ledger::{sync_dir, Paths};

/// `token add` with a name that has an active token.
pub const TOKEN_EXISTS: &str = "token_exists";
/// `token revoke` with a name that has no active token.
pub const UNKNOWN_TOKEN: &str = "unknown_token";

const TOKENS_FORMAT: &str = "pil-ledger-tokens/v1";
const TOKEN_CONTEXT: &str = "pil-ledger v1 api token";
const TOKEN_PREFIX: &str = "pilt-";

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Make a new API token for NAME; it is printed once, only its hash is kept.
    Add {
        #[arg(long)]
        name: String,
    },
    /// The tokens: name, created, revoked.
    List,
    /// Revoke every active token named NAME.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

/// One stored token (never the token itself).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenRecord {
    pub name: String,
    /// `H("pil-ledger v1 api token", token)`, hex.
    pub hash: String,
    pub created_ms: u64,
    pub revoked_ms: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct TokenFile {
    format: String,
    tokens: Vec<TokenRecord>,
}

pub fn tokens_path(data: &Path) -> PathBuf {
    data.join("tokens.json")
}

fn token_hash(token: &str) -> String {
    hex::encode(pil_ledger_core::hash::h(TOKEN_CONTEXT, token.as_bytes()))
}

fn load(path: &Path) -> Result<Vec<TokenRecord>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let f: TokenFile = serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    if f.format != TOKENS_FORMAT {
        return Err(format!("{}: format {:?}, expected {TOKENS_FORMAT:?}", path.display(), f.format));
    }
    Ok(f.tokens)
}

fn save(data: &Path, tokens: Vec<TokenRecord>) -> Result<(), Failure> {
    use std::io::Write;
    let path = tokens_path(data);
    let io = |e: std::io::Error| Failure::from(LedgerError::IoAt { path: path.clone(), source: e });
    let body = serde_json::to_vec_pretty(&TokenFile { format: TOKENS_FORMAT.into(), tokens }).expect("json");
    // tempfile creates the file with mode 0600
    let mut tmp = tempfile::Builder::new().prefix(".tokens-").suffix(".tmp").tempfile_in(data).map_err(io)?;
    tmp.write_all(&body).and_then(|()| tmp.as_file().sync_all()).map_err(io)?;
    tmp.persist(&path).map_err(|e| io(e.error))?;
    Ok(sync_dir(data)?)
}

fn check_name(name: &str) -> Result<(), Failure> {
    if name.trim().is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(crate::cli::refused(
            "invalid_argument",
            "a token name is 1 to 100 characters, no control characters",
        ));
    }
    Ok(())
}

/// `pil-ledger token add|list|revoke`. Needs a ledger in `data`, but does
/// not open it (so it works while `serve` runs).
pub fn run_token(data: &Path, json: bool, cmd: TokenCmd) -> Result<u8, Failure> {
    if !Paths::new(data).store().join("db").is_file() {
        return Err(LedgerError::NotALedger(data.to_path_buf()).into());
    }
    let path = tokens_path(data);
    let mut tokens = load(&path).map_err(|m| Failure { exit: 3, code: "io_error", message: m })?;
    let show = |ms: u64| pil_ledger_core::json::rfc3339_ms(ms);
    match cmd {
        TokenCmd::Add { name } => {
            check_name(&name)?;
            if tokens.iter().any(|t| t.name == name && t.revoked_ms.is_none()) {
                return Err(Failure {
                    exit: ErrorClass::Conflict.exit_code(),
                    code: TOKEN_EXISTS,
                    message: format!("a token named {name:?} is active; revoke it first or choose another name"),
                });
            }
            let mut raw = [0u8; 32];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut raw);
            let token = format!("{TOKEN_PREFIX}{}", hex::encode(raw));
            let created_ms = crate::ledger::now_ms();
            tokens.push(TokenRecord { name: name.clone(), hash: token_hash(&token), created_ms, revoked_ms: None });
            save(data, tokens)?;
            if json {
                println!("{}", json!({"name": name, "token": token, "created_ms": created_ms}));
            } else {
                println!("{token}");
                eprintln!("token {name:?} made; keep it now, it is not shown again (only its hash is stored)");
            }
        }
        TokenCmd::List => {
            for t in &tokens {
                if json {
                    println!(
                        "{}",
                        json!({"name": t.name, "created_ms": t.created_ms, "created": show(t.created_ms), "revoked_ms": t.revoked_ms})
                    );
                } else {
                    let state = t.revoked_ms.map_or("active".to_string(), |r| format!("revoked {}", show(r)));
                    println!("{}  created {}  {state}", t.name, show(t.created_ms));
                }
            }
        }
        TokenCmd::Revoke { name } => {
            let now = crate::ledger::now_ms();
            let mut n = 0;
            for t in tokens.iter_mut().filter(|t| t.name == name && t.revoked_ms.is_none()) {
                t.revoked_ms = Some(now);
                n += 1;
            }
            if n == 0 {
                return Err(Failure {
                    exit: ErrorClass::NotFound.exit_code(),
                    code: UNKNOWN_TOKEN,
                    message: format!("no active token named {name:?}"),
                });
            }
            save(data, tokens)?;
            if json {
                println!("{}", json!({"name": name, "revoked": n}));
            } else {
                println!("revoked {n} token(s) named {name:?}");
            }
        }
    }
    Ok(0)
}

/// What identifies a version of the tokens file.
type Stamp = Option<(u64, std::time::SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.len(), m.modified().unwrap_or(std::time::UNIX_EPOCH), m.ino()))
}

/// The server's view of the tokens file, re-read when it changes.
pub struct Tokens {
    path: PathBuf,
    cache: Mutex<(Stamp, HashMap<String, TokenRecord>)>,
}

impl Tokens {
    pub fn new(data: &Path) -> Result<Tokens, LedgerError> {
        let t = Tokens { path: tokens_path(data), cache: Mutex::new((None, HashMap::new())) };
        t.refresh().map_err(LedgerError::InvalidArgument)?;
        Ok(t)
    }

    fn refresh(&self) -> Result<(), String> {
        let now = stamp(&self.path);
        let mut c = self.cache.lock().expect("poisoned");
        if c.0.is_some() && c.0 == now {
            return Ok(());
        }
        let list = load(&self.path)?;
        *c = (now, list.into_iter().map(|t| (t.hash.clone(), t)).collect());
        Ok(())
    }

    /// Check the request's bearer token.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::new(
                ErrorClass::Unauthenticated,
                UNAUTHENTICATED,
                "this route needs `Authorization: Bearer <token>` (pil-ledger token add)",
            ));
        };
        let token = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(ApiError::new(
                ErrorClass::Unauthenticated,
                UNAUTHENTICATED,
                "the Authorization header must be `Bearer <token>`",
            ));
        };
        if let Err(e) = self.refresh() {
            // Keep the last good view; a broken file must not open the doors.
            tracing::warn!("tokens file: {e}");
        }
        let c = self.cache.lock().expect("poisoned");
        match c.1.get(&token_hash(token)) {
            None => Err(ApiError::new(ErrorClass::Forbidden, FORBIDDEN_TOKEN, "this token is not valid here")),
            Some(t) if t.revoked_ms.is_some() => {
                Err(ApiError::new(ErrorClass::Forbidden, TOKEN_REVOKED, format!("token {:?} was revoked", t.name)))
            }
            Some(_) => Ok(()),
        }
    }
}

/// Middleware on the routes that need a token (unless `--public-read`).
pub async fn require_token(State(st): State<AppState>, req: Request, next: Next) -> Response {
    match st.0.tokens.check(req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}
