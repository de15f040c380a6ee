//! Record look-ups for the CLI's `--server` mode (`src/client.rs`): an
//! account and its balance (`fund balance`, `fund reconcile`), a
//! disbursement request (`fund approve|reject|pay|void` find its case and
//! next stage), a key's enrolment (`evidence add` names you as the first
//! collector). Durable head only: a record made in a group still being
//! synced is not shown yet.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use pil_ledger_core::state;
use serde_json::{json, Value};

use super::errors::ApiError;
use super::routes::{blocking, path};
use super::AppState;
use crate::error::ErrorClass;
use crate::evidence_read::ReadError;
use crate::fund_cli;
use crate::ledger::Ledger;
use crate::store::StoreIndex;

/// The record, unless it was made at or beyond the durable head.
fn durable(l: &Ledger, v: Value, seq_field: &str, unknown: ReadError) -> Result<Value, ApiError> {
    let size = l.head()?.size;
    match v[seq_field].as_u64() {
        Some(s) if s < size => Ok(v),
        _ => Err(unknown.into()),
    }
}

fn not_found(code: &'static str, message: String) -> ReadError {
    ReadError { class: ErrorClass::NotFound, code, message }
}

/// `GET /v1/accounts/{id}`: the account and its balance.
pub async fn account(
    State(st): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path(id)?;
    blocking(&st, move |l| durable_account(l, &id).map(Json)).await
}

/// The account `id` as `account_json` gives it, if opened in a durable entry.
fn durable_account(l: &Ledger, id: &str) -> Result<Value, ApiError> {
    let v = fund_cli::account_json(l, id)?;
    durable(l, v, "opened_seq", not_found("unknown_account", format!("no account {id:?}")))
}

/// `GET /v1/accounts/{id}/balance`: as `fund balance --json`.
pub async fn balance(
    State(st): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path(id)?;
    blocking(&st, move |l| {
        durable_account(l, &id)?;
        Ok(Json(fund_cli::balance_json(l, &id)?))
    })
    .await
}

/// `GET /v1/requests/{id}`: a disbursement request and its approvals.
pub async fn request(
    State(st): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path(id)?;
    blocking(&st, move |l| {
        let v = fund_cli::request_json(l, &id)?;
        durable(l, v, "requested_seq", not_found("unknown_request", format!("no disbursement request {id:?}")))
            .map(Json)
    })
    .await
}

/// `GET /v1/keys/{key}` (hex): a key's enrolment.
pub async fn key(
    State(st): State<AppState>,
    key: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let key = path(key)?;
    let pk: [u8; 32] = hex::decode(&key)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| ApiError::invalid(format!("key {key:?}: expected 64 hex digits")))?;
    blocking(&st, move |l| {
        let unknown = || ReadError {
            class: ErrorClass::Forbidden,
            code: "author_not_enrolled",
            message: format!("key {} is not enrolled", hex::encode(pk)),
        };
        let r = state::key_record(&StoreIndex(l.store()), &pk)
            .map_err(|e| ApiError::internal(e.to_string()))?
            .ok_or_else(unknown)?;
        let v = json!({
            "key": hex::encode(r.key), "holder": r.holder, "unit": r.unit,
            "roles": r.roles.iter().map(|x| x.as_str()).collect::<Vec<_>>(),
            "valid_from_ms": r.valid_from_ms, "valid_until_ms": r.valid_until_ms,
            "enrolled_seq": r.enrolled_seq, "enrolled_hash": hex::encode(r.enrolled_hash),
            "pending": r.pending, "vetted": r.vetted, "revoked_seq": r.revoked_seq,
            "compromised_since_ms": r.compromised_since_ms,
        });
        durable(l, v, "enrolled_seq", unknown()).map(Json)
    })
    .await
}
