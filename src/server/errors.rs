//! JSON errors of the HTTP API: `{"error":{"code","message"}}`.
//!
//! The status of every error that comes from the ledger is its
//! [`ErrorClass`]'s (`LedgerError::http_status`, `src/error.rs`): this module
//! adds no second mapping. The codes defined here are the HTTP layer's own
//! (listed in `schema/reasons.md` §2): bearer tokens, malformed request
//! bodies, size and time limits, overload, unknown routes.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::{ErrorClass, LedgerError};
use crate::evidence_read::ReadError;

/// No `Authorization: Bearer` header on a route that needs a token (401).
pub const UNAUTHENTICATED: &str = "unauthenticated";
/// A bearer token that is not one of the server's tokens (403).
pub const FORBIDDEN_TOKEN: &str = "forbidden_token";
/// A bearer token that was revoked (`token revoke`) (403).
pub const TOKEN_REVOKED: &str = "token_revoked";
/// A request body that is not JSON of the expected shape (400).
pub const INVALID_JSON: &str = "invalid_json";
/// A request body over the configured limit (413).
pub const BODY_TOO_LARGE: &str = "body_too_large";
/// The request (or a streamed body going idle) took longer than allowed (408).
pub const REQUEST_TIMEOUT: &str = "request_timeout";
/// Too many requests in flight; retry after `Retry-After` seconds (503).
pub const OVERLOADED: &str = "overloaded";
/// No such route (404).
pub const NOT_FOUND: &str = "not_found";
/// The route exists, not with this method (405).
pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";

/// One error response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error of a class: its status is the class's (the one mapping).
    pub fn new(class: ErrorClass, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status: status_of(class.http_status()), code, message: message.into(), retry_after: None }
    }

    /// An error of the transport itself (timeouts, methods), which no
    /// ledger class describes.
    pub fn transport(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(ErrorClass::Invalid, "invalid_argument", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(ErrorClass::Internal, "io_error", message)
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

fn status_of(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        ApiError { status: status_of(e.http_status()), code: e.code(), message: e.to_string(), retry_after: None }
    }
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> Self {
        ApiError::new(e.class, e.code, e.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(code = self.code, "{}", self.message);
        }
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

/// Responses made by middleware without a body of ours (tower-http's
/// timeout answers 408 with an empty body) get the JSON error shape.
pub async fn json_error_bodies(res: Response) -> Response {
    if res.status() == StatusCode::REQUEST_TIMEOUT && !res.headers().contains_key(header::CONTENT_TYPE) {
        return ApiError::transport(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT, "the request took too long")
            .into_response();
    }
    res
}

/// Unknown route.
pub async fn not_found() -> ApiError {
    ApiError::new(ErrorClass::NotFound, NOT_FOUND, "no such route (see GET /v1/openapi.json)")
}

/// Known route, wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::transport(StatusCode::METHOD_NOT_ALLOWED, METHOD_NOT_ALLOWED, "this route does not take that method")
}

/// The load-shedding layer refused the request: every slot is taken.
pub async fn overloaded(err: tower::BoxError) -> ApiError {
    if err.is::<tower::load_shed::error::Overloaded>() {
        ApiError::new(ErrorClass::Unavailable, OVERLOADED, "the server is at its concurrency limit; retry shortly")
            .with_retry_after(1)
    } else {
        ApiError::internal(format!("middleware: {err}"))
    }
}
