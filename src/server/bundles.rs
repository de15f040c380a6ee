//! Court bundles over HTTP (DESIGN §3.8, `schema/bundle.md`):
//! `POST /v1/bundles` exports one from this ledger (token), and
//! `POST /v1/verify/bundle` checks one offline-style (public): the verdict
//! is the same as `bundle verify FILE --vkey VKEY`, decided from the bundle's
//! bytes alone against the verifier key the caller names (`?vkey=`), or this
//! log's own key when none is named.

use axum::body::{Body as ReqBody, HttpBody};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use http_body_util::BodyExt;
use pil_ledger_core::bundle::{verify_bundle, BundleError, MAX_BUNDLE_BYTES};
use pil_ledger_core::note::NoteVerifier;
use serde::Deserialize;
use serde_json::Value;

use super::errors::{ApiError, BODY_TOO_LARGE, INVALID_JSON};
use super::routes::{blocking, query};
use super::AppState;
use crate::bundle_cli::{export_bundle, Selection};
use crate::error::ErrorClass;

/// Read a whole body of at most `limit` bytes (413 beyond).
async fn read_limited(mut body: ReqBody, limit: u64) -> Result<Vec<u8>, ApiError> {
    let too_large =
        || ApiError::new(ErrorClass::TooLarge, BODY_TOO_LARGE, format!("the request body is over {limit} bytes"));
    if body.size_hint().lower() > limit {
        return Err(too_large());
    }
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::invalid(format!("reading the request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() as u64 + data.len() as u64 > limit {
                return Err(too_large());
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf)
}

/// What to put in a bundle: entries by seq, whole cases, evidence items.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    #[serde(default)]
    pub seq: Vec<u64>,
    #[serde(default)]
    pub case: Vec<String>,
    #[serde(default)]
    pub evidence: Vec<String>,
}

pub async fn export(State(st): State<AppState>, body: ReqBody) -> Result<Json<Value>, ApiError> {
    let bytes = read_limited(body, 64 * 1024).await?;
    let req: ExportRequest =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::new(ErrorClass::Invalid, INVALID_JSON, e.to_string()))?;
    if req.seq.is_empty() && req.case.is_empty() && req.evidence.is_empty() {
        return Err(ApiError::invalid("name at least one seq, case or evidence item"));
    }
    let sel = Selection { seqs: req.seq, cases: req.case, evidence: req.evidence, since: None };
    let bundle = blocking(&st, move |l| Ok(export_bundle(l, &sel)?)).await?;
    Ok(Json(serde_json::to_value(bundle).map_err(|e| ApiError::internal(e.to_string()))?))
}

#[derive(Debug, Deserialize)]
pub struct VerifyQuery {
    /// The verifier key the caller trusts (default: this log's).
    pub vkey: Option<String>,
}

fn bundle_error(e: BundleError) -> ApiError {
    let class = match e {
        BundleError::TooLarge(_) => ErrorClass::TooLarge,
        _ => ErrorClass::Invalid,
    };
    ApiError::new(class, e.code(), e.to_string())
}

pub async fn verify(
    State(st): State<AppState>,
    q: Result<Query<VerifyQuery>, QueryRejection>,
    body: ReqBody,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let trusted = match q.vkey {
        Some(v) => Some(
            NoteVerifier::parse(&v).map_err(|e| ApiError::new(ErrorClass::Invalid, "invalid_vkey", e.to_string()))?,
        ),
        None => None,
    };
    let bytes = read_limited(body, MAX_BUNDLE_BYTES).await?;
    let verdict = blocking(&st, move |l| {
        let vkey = trusted.unwrap_or_else(|| l.vkey().clone());
        verify_bundle(&bytes, &vkey, None).map_err(bundle_error)
    })
    .await?;
    Ok(Json(serde_json::to_value(verdict).map_err(|e| ApiError::internal(e.to_string()))?))
}
