//! Write and verify handlers: `POST /v1/statements/prepare` (canonical bytes
//! for a thin client, which signs them itself: the server never holds a
//! person's key), `POST /v1/statements` (signed statements to the one
//! writer), `POST /v1/verify/file` (a file streamed into the hashers).
//!
//! A streamed file must keep coming: no more than `PIL_HTTP_BODY_IDLE_MS`
//! between two chunks, and once `PIL_HTTP_TIMEOUT_MS` (default 30 s) has
//! passed, at least [`MIN_UPLOAD_RATE`] (64 KiB/s) on average since the
//! start; otherwise 408 `request_timeout`, so a client that dribbles bytes
//! cannot hold a connection and a `PIL_HTTP_CONCURRENCY` slot for ever.

use std::io::Read;
use std::time::Duration;

use axum::body::{Body as ReqBody, Bytes, HttpBody};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http_body_util::BodyExt;
use pil_ledger_core::state::Refusal;
use pil_ledger_core::wire::{Body, Statement, FORMAT_V1, MAX_STATEMENT_BYTES};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::errors::{ApiError, BODY_TOO_LARGE, INVALID_JSON, REQUEST_TIMEOUT};
use super::AppState;
use crate::error::{ErrorClass, LedgerError};
use crate::evidence_read;

/// How much of an over-limit body is still read (and dropped), as a
/// multiple of the limit, before answering 413: a client that sent a body a
/// little too large then reads the answer, instead of a connection reset
/// (closing a socket with unread data resets it). A body announced larger
/// than the limit is refused at once (413 without waiting for it); if it is
/// announced within this multiple, it is still read and dropped in the
/// background (for at most `PIL_HTTP_TIMEOUT_MS`) so that a fast client
/// gets the answer rather than a reset.
const DRAIN_FACTOR: usize = 4;

/// The least average rate of a `POST /v1/verify/file` upload, in bytes per
/// second, enforced once the first `PIL_HTTP_TIMEOUT_MS` have passed.
pub const MIN_UPLOAD_RATE: u64 = 64 * 1024;

/// A JSON request body of the expected shape, at most `PIL_HTTP_MAX_BODY`
/// bytes (413 `body_too_large` beyond). Any content type is accepted, so
/// `curl -d` works without a header.
async fn json_body<T: DeserializeOwned>(st: &AppState, mut body: ReqBody) -> Result<T, ApiError> {
    let limit = st.0.limits.max_json_body;
    let cap = limit.saturating_mul(DRAIN_FACTOR);
    let too_large = || {
        ApiError::new(
            ErrorClass::TooLarge,
            BODY_TOO_LARGE,
            format!("the request body is over the limit of {limit} bytes"),
        )
    };
    let announced = body.size_hint().lower();
    if announced > limit as u64 {
        if announced <= cap as u64 {
            // Answer now; read the rest (bounded by the announced length and
            // the whole-request timeout) without holding the request slot.
            let within = st.0.limits.timeout;
            tokio::spawn(async move {
                let _ =
                    tokio::time::timeout(within, async move { while let Some(Ok(_)) = body.frame().await {} }).await;
            });
        }
        return Err(too_large());
    }
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::invalid(format!("reading the request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            seen = seen.saturating_add(data.len());
            if seen > cap {
                break;
            }
            if seen <= limit {
                buf.extend_from_slice(&data);
            }
        }
    }
    if seen > limit {
        return Err(too_large());
    }
    serde_json::from_slice(&buf).map_err(|e| ApiError::new(ErrorClass::Invalid, INVALID_JSON, e.to_string()))
}

fn hex_field<const N: usize>(name: &str, s: &str) -> Result<[u8; N], ApiError> {
    let v = hex::decode(s).map_err(|e| ApiError::invalid(format!("{name}: not hex ({e})")))?;
    v.try_into().map_err(|v: Vec<u8>| ApiError::invalid(format!("{name}: {} bytes, expected {N}", v.len())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrepareRequest {
    /// The author's public key, hex.
    author: String,
    /// 16 bytes, hex; random when absent.
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    case_id: String,
    /// The body, in the JSON shape `GET /v1/entries/{seq}` shows.
    body: Body,
}

/// `POST /v1/statements/prepare`: `{"statement","digest"}` (hex), plus the
/// `claimed_at_ms` (the server's clock now) and `nonce` that went into it.
pub async fn prepare(State(st): State<AppState>, body: ReqBody) -> Result<Json<Value>, ApiError> {
    let req: PrepareRequest = json_body(&st, body).await?;
    let author = pil_ledger_core::keys::parse_public_hex(&req.author)
        .map_err(|e| LedgerError::from(Refusal::InvalidKey(format!("author: {e}"))))?;
    let nonce = match &req.nonce {
        Some(n) => hex_field::<16>("nonce", n)?,
        None => {
            let mut n = [0u8; 16];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut n);
            n
        }
    };
    let statement = Statement {
        format: FORMAT_V1,
        origin: st.0.ledger.origin().to_string(),
        author,
        claimed_at_ms: crate::ledger::now_ms(),
        nonce,
        case_id: req.case_id,
        body: req.body,
    };
    let bytes = statement.to_bytes();
    if bytes.len() > MAX_STATEMENT_BYTES {
        return Err(LedgerError::from(Refusal::NotCanonical(format!(
            "the statement is {} bytes, over the limit of {MAX_STATEMENT_BYTES}",
            bytes.len()
        )))
        .into());
    }
    Ok(Json(json!({
        "statement": hex::encode(&bytes),
        "digest": hex::encode(pil_ledger_core::hash::statement_digest(&bytes)),
        "claimed_at_ms": statement.claimed_at_ms,
        "nonce": hex::encode(nonce),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    statement: String,
    signature: String,
}

/// `POST /v1/statements`: 201 with the ack; 200 with the original ack when
/// the same statement was already in the log. The signature is checked on
/// the blocking pool (`WriterHandle::append`); the answer comes when the
/// entry is durable, with its inclusion proof.
pub async fn submit(State(st): State<AppState>, body: ReqBody) -> Result<Response, ApiError> {
    let req: SubmitRequest = json_body(&st, body).await?;
    let statement = hex::decode(&req.statement).map_err(|e| ApiError::invalid(format!("statement: not hex ({e})")))?;
    let signature = hex_field::<64>("signature", &req.signature)?;
    let ack = st.0.ledger.writer()?.append(statement, signature).await?;
    let status = if ack.duplicate { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(ack.to_json())).into_response())
}

/// The blocking side of a streamed body: chunks arrive over a bounded
/// channel (so the reader never runs more than a few chunks ahead).
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

/// `POST /v1/verify/file`: the raw bytes of a file, streamed (any size; no
/// body limit, but each chunk must arrive within the idle timeout, and after
/// the first `PIL_HTTP_TIMEOUT_MS` the average rate must stay at least
/// [`MIN_UPLOAD_RATE`], else 408) into `hash_reader`; then the verdict JSON
/// of `verify-file --json`.
pub async fn verify_file(State(st): State<AppState>, body: ReqBody) -> Result<Json<Value>, ApiError> {
    let idle = st.0.limits.body_idle;
    let grace = st.0.limits.timeout;
    let start = tokio::time::Instant::now();
    let mut received: u64 = 0;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
    let hashing = tokio::task::spawn_blocking(move || {
        pil_ledger_core::digest::hash_reader(ChannelReader { rx, cur: Bytes::new() }, &|_| {})
    });
    let mut body = body;
    let mut failure = None;
    loop {
        // The average rate falls below the minimum at `start + received /
        // MIN_UPLOAD_RATE`, but never before the grace time.
        let slow_at = start + grace.max(Duration::from_secs_f64(received as f64 / MIN_UPLOAD_RATE as f64));
        let now = tokio::time::Instant::now();
        let too_slow = || {
            ApiError::transport(
                StatusCode::REQUEST_TIMEOUT,
                REQUEST_TIMEOUT,
                format!(
                    "the file arrived at under {MIN_UPLOAD_RATE} bytes/s on average ({received} bytes in {} ms)",
                    now.max(slow_at).duration_since(start).as_millis()
                ),
            )
        };
        if now >= slow_at {
            failure = Some(too_slow());
            break;
        }
        let wait = idle.min(slow_at - now);
        match tokio::time::timeout(wait, body.frame()).await {
            Err(_) if wait < idle => {
                failure = Some(too_slow());
                break;
            }
            Err(_) => {
                failure = Some(ApiError::transport(
                    StatusCode::REQUEST_TIMEOUT,
                    REQUEST_TIMEOUT,
                    format!("no part of the file arrived for {} ms", idle.as_millis()),
                ));
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                failure = Some(ApiError::invalid(format!("reading the request body: {e}")));
                break;
            }
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    received = received.saturating_add(data.len() as u64);
                    if tx.send(Ok(data)).await.is_err() {
                        break; // the hasher stopped: its error is reported below
                    }
                }
            }
        }
    }
    if failure.is_some() {
        let _ = tx.send(Err(std::io::Error::other("upload aborted"))).await;
    }
    drop(tx);
    let digests = hashing.await.map_err(|e| ApiError::internal(format!("hashing task failed: {e}")))?;
    if let Some(f) = failure {
        return Err(f);
    }
    let fd = digests.map_err(|e| ApiError::internal(format!("hashing: {e}")))?;
    super::routes::blocking(&st, move |l| {
        let (verdict, extra) = evidence_read::file_verdict(l, &fd)?;
        Ok(Json(evidence_read::file_verdict_json(&verdict, &extra)))
    })
    .await
}
