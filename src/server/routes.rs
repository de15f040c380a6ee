//! Read handlers: checkpoint, verifier key, entries, proofs, case and
//! evidence look-ups, the OpenAPI document and the page. Each answers what
//! the matching CLI command prints (`checkpoint`, `vkey`, `show`, `entries`,
//! `prove`, `case show --json`, `evidence show --json`), from the durable
//! head only.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use pil_ledger_core::digest::Digest;
use pil_ledger_core::wire::Entry;
use serde::Deserialize;
use serde_json::{json, Value};

use super::errors::ApiError;
use super::AppState;
use crate::error::ErrorClass;
use crate::evidence_read;
use crate::ledger::Ledger;
use crate::store::Store;

/// Most entries one `GET /v1/entries` answers; the rest is asked for with
/// `from` = the `X-Next-From` header.
pub const MAX_PAGE: u64 = 1000;

/// The OpenAPI document (`schema/openapi.json`), built in.
pub const OPENAPI: &str = include_str!("../../schema/openapi.json");
/// The verification page, one self-contained file: the markup, then the
/// vendored noble build and the bundle verifier (`page/verify-*.js`, in
/// order: each part adds to `Pil`), then the page's own script.
pub const PAGE: &str = concat!(
    include_str!("page/page.html"),
    "<script>\n/* Vendored, unmodified, bundled with esbuild 0.28.2 (--bundle --format=iife --global-name=noble --minify):\n",
    "   @noble/hashes 1.8.0 (blake3, sha2) and @noble/curves 1.9.7 (ed25519), both MIT License,\n",
    "   Copyright (c) 2022 Paul Miller (paulmillr.com). Licence texts and the build recipe:\n",
    "   src/server/vendor/ in the pil-ledger source. */\n",
    include_str!("vendor/noble.min.js"),
    "</script>\n<script>\n",
    include_str!("page/verify-core.js"),
    include_str!("page/names-data.js"),
    include_str!("page/verify-names.js"),
    include_str!("page/verify-registry.js"),
    include_str!("page/verify-bundle.js"),
    "</script>\n<script>\n",
    include_str!("page/ui.js"),
    "</script>\n</body>\n</html>\n",
);

/// A path parameter, or 400.
pub fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(v)| v).map_err(|e| ApiError::invalid(format!("path: {}", e.body_text())))
}

/// A query string, or 400.
pub fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v).map_err(|e| ApiError::invalid(format!("query: {}", e.body_text())))
}

/// Run store reads on the blocking pool (sled may touch the disk), never on
/// a runtime worker.
pub async fn blocking<T: Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&Ledger) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let st = st.clone();
    tokio::task::spawn_blocking(move || f(&st.0.ledger))
        .await
        .map_err(|e| ApiError::internal(format!("read task failed: {e}")))?
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"))], body).into_response()
}

pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], OPENAPI).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeQuery {
    size: Option<u64>,
}

/// `GET /v1/checkpoint[?size=N]`: the note, exactly as `checkpoint` prints
/// it. A size beyond the durable head is not shown (its checkpoint could
/// still be lost in a crash).
pub async fn checkpoint(
    State(st): State<AppState>,
    q: Result<Query<SizeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let note = blocking(&st, move |l| {
        let head = l.head()?;
        match q.size {
            None => Ok(head.checkpoint),
            Some(n) => {
                let stored = if n <= head.size {
                    l.store().checkpoint(n).map_err(crate::ledger::LedgerError::from)?
                } else {
                    None
                };
                stored.ok_or_else(|| {
                    ApiError::new(
                        ErrorClass::NotFound,
                        "no_checkpoint",
                        format!("no checkpoint was signed at size {n}"),
                    )
                })
            }
        }
    })
    .await?;
    Ok(text(note))
}

/// `GET /v1/vkey`: the verifier key line (with a newline, as `vkey` prints).
pub async fn vkey(State(st): State<AppState>) -> Response {
    text(format!("{}\n", st.0.ledger.vkey().to_vkey_string()))
}

/// One entry as `show` prints it: the decoded entry and statement, plus
/// `entry`, the canonical bytes in hex.
fn entry_view(seq: u64, bytes: &[u8]) -> Result<Value, ApiError> {
    let e = Entry::from_bytes(bytes)
        .map_err(|e| ApiError::new(ErrorClass::Internal, "entry_not_canonical", format!("stored entry {seq}: {e}")))?;
    let mut v = pil_ledger_core::json::entry_json(&e, &pil_ledger_core::hash::entry_hash(bytes));
    v["entry"] = json!(hex::encode(bytes));
    Ok(v)
}

fn unknown_entry(seq: u64) -> ApiError {
    ApiError::new(ErrorClass::NotFound, "unknown_entry", format!("no entry at seq {seq}"))
}

/// `GET /v1/entries/{seq}`.
pub async fn entry(State(st): State<AppState>, seq: Result<Path<u64>, PathRejection>) -> Result<Json<Value>, ApiError> {
    let seq = path(seq)?;
    blocking(&st, move |l| {
        let bytes = l.entry(seq)?.ok_or_else(|| unknown_entry(seq))?;
        entry_view(seq, &bytes).map(Json)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    from: Option<u64>,
    to: Option<u64>,
}

/// `GET /v1/entries?from=S&to=T` (both inclusive, both optional): a JSON
/// array of entries as `GET /v1/entries/{seq}` shows them, at most
/// [`MAX_PAGE`]; when more were asked for, `X-Next-From` names where the
/// next page starts.
pub async fn entries(
    State(st): State<AppState>,
    q: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let (list, next) = blocking(&st, move |l| {
        let size = l.head()?.size;
        let from = q.from.unwrap_or(0);
        let want_end = q.to.map_or(size, |t| t.saturating_add(1)).min(size);
        let end = want_end.min(from.saturating_add(MAX_PAGE));
        let mut out = Vec::new();
        for r in l.store().entries(from, end.max(from)) {
            let (seq, bytes) = r.map_err(crate::ledger::LedgerError::from)?;
            out.push(entry_view(seq, &bytes)?);
        }
        Ok((out, (end < want_end).then_some(end)))
    })
    .await?;
    let mut res = Json(Value::Array(list)).into_response();
    if let Some(n) = next {
        res.headers_mut().insert("x-next-from", HeaderValue::from(n));
    }
    Ok(res)
}

/// `GET /v1/proofs/inclusion/{seq}?size=N`: `{"seq","size","leaf","proof"}`
/// as `prove inclusion` prints it.
pub async fn inclusion(
    State(st): State<AppState>,
    seq: Result<Path<u64>, PathRejection>,
    q: Result<Query<SizeQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let (seq, q) = (path(seq)?, query(q)?);
    // About log2(n) node reads of 32 bytes, from sled's cache in practice:
    // cheaper than a hop to the blocking pool.
    let (size, leaf, proof) = st.0.ledger.prove_inclusion(seq, q.size)?;
    Ok(Json(json!({"seq": seq, "size": size, "leaf": hex::encode(leaf), "proof": hexes(&proof)})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    old: u64,
    size: Option<u64>,
}

/// `GET /v1/proofs/consistency?old=N&size=M`: `{"old","size","proof"}`.
pub async fn consistency(
    State(st): State<AppState>,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    blocking(&st, move |l| {
        let (size, proof) = l.prove_consistency(q.old, q.size)?;
        Ok(Json(json!({"old": q.old, "size": size, "proof": hexes(&proof)})))
    })
    .await
}

fn hexes(v: &[pil_ledger_core::wire::Hash32]) -> Vec<String> {
    v.iter().map(hex::encode).collect()
}

/// `GET /v1/cases/{id}`: the timeline, as `case show --json`.
pub async fn case(
    State(st): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path(id)?;
    blocking(&st, move |l| Ok(Json(evidence_read::case_json(l, &id)?))).await
}

/// `GET /v1/evidence/{id}`: the item and its custody chain, as
/// `evidence show --json`.
pub async fn evidence(
    State(st): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path(id)?;
    blocking(&st, move |l| Ok(Json(evidence_read::item_json(l, &id)?))).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestQuery {
    digest: Option<String>,
}

/// `GET /v1/evidence?digest=alg:hex`: the item registered with that digest.
pub async fn evidence_by_digest(
    State(st): State<AppState>,
    q: Result<Query<DigestQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let Some(d) = q.digest else { return Err(ApiError::invalid("give ?digest=ALG:HEX, e.g. blake3:<64 hex>")) };
    let digest = Digest::parse(&d).map_err(|e| ApiError::invalid(format!("digest {d:?}: {e}")))?;
    blocking(&st, move |l| {
        let id = evidence_read::evidence_by_digest(l, &digest)?.ok_or_else(|| {
            ApiError::new(ErrorClass::NotFound, "unknown_evidence", format!("no evidence item has digest {digest}"))
        })?;
        Ok(Json(evidence_read::item_json(l, &id)?))
    })
    .await
}
