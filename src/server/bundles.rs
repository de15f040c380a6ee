//! Court bundles over HTTP (DESIGN §3.8, `schema/bundle.md`):
//! `POST /v1/bundles` exports one from this ledger (token), with the
//! original evidence files the caller sends (`files`, base64), and
//! `POST /v1/verify/bundle` checks one offline-style (public): the verdict
//! is the same as `bundle verify FILE --vkey VKEY`, decided from the bundle's
//! bytes alone against the verifier key the caller names (`?vkey=`), or this
//! log's own key when none is named.

use axum::body::{Body as ReqBody, HttpBody};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use http_body_util::BodyExt;
use pil_ledger_core::bundle::{verify_bundle, BundleError, MAX_BUNDLE_BYTES};
use pil_ledger_core::note::NoteVerifier;
use serde::Deserialize;
use serde_json::Value;

use super::errors::{ApiError, BODY_TOO_LARGE, INVALID_JSON};
use super::routes::{blocking, query};
use super::AppState;
use crate::bundle_cli::files::{attach_given, FilesError};
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

/// What to put in a bundle: entries by seq, whole cases, evidence items,
/// and original evidence files (standard base64), each of which must be the
/// registered file of an item among the entries.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    #[serde(default)]
    pub seq: Vec<u64>,
    #[serde(default)]
    pub case: Vec<String>,
    #[serde(default)]
    pub evidence: Vec<String>,
    #[serde(default)]
    pub files: Vec<String>,
}

fn files_error(e: FilesError) -> ApiError {
    ApiError::new(e.class(), e.code(), e.to_string())
}

pub async fn export(State(st): State<AppState>, body: ReqBody) -> Result<Response, ApiError> {
    let bytes = read_limited(body, MAX_BUNDLE_BYTES).await?;
    let req: ExportRequest =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::new(ErrorClass::Invalid, INVALID_JSON, e.to_string()))?;
    drop(bytes);
    if req.seq.is_empty() && req.case.is_empty() && req.evidence.is_empty() {
        return Err(ApiError::invalid("name at least one seq, case or evidence item"));
    }
    let mut given = Vec::with_capacity(req.files.len());
    for (k, f) in req.files.iter().enumerate() {
        let data = B64.decode(f).map_err(|e| ApiError::invalid(format!("files[{k}] is not standard base64: {e}")))?;
        given.push(data);
    }
    let sel = Selection { seqs: req.seq, cases: req.case, evidence: req.evidence, since: None };
    let text = blocking(&st, move |l| {
        let mut bundle = export_bundle(l, &sel)?;
        if !given.is_empty() {
            attach_given(&mut bundle, given).map_err(files_error)?;
        }
        let text = serde_json::to_vec(&bundle).map_err(|e| ApiError::internal(e.to_string()))?;
        if text.len() as u64 > MAX_BUNDLE_BYTES {
            return Err(files_error(FilesError::BundleTooLarge { bytes: text.len() as u64 }));
        }
        Ok(text)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], text).into_response())
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
