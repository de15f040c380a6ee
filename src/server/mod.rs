//! `pil-ledger serve`: the HTTP API (DESIGN §7, §7.1) on axum and tokio.
//!
//! One [`Ledger`] (one writer) is shared by every request; this process holds
//! sled's lock for as long as it serves. Every route is listed once, in
//! [`ROUTES`]: the router is built from it, and a test checks it against
//! `schema/openapi.json` both ways. To add a route (the court bundles'
//! `POST /v1/bundles` and `POST /v1/verify/bundle`, the fund side's
//! `GET /v1/accounts/{id}/balance`), add one [`Route`] row with its handler
//! and its access, and its path to `schema/openapi.json`.
//!
//! Limits, read once at start from the environment:
//! `PIL_HTTP_MAX_BODY` (bytes of a JSON request body, default 256 KiB; over
//! it → 413 `body_too_large`; `POST /v1/verify/file` streams and has none),
//! `PIL_HTTP_TIMEOUT_MS` (whole request, default 30 000 → 408
//! `request_timeout`; not for `verify/file`), `PIL_HTTP_BODY_IDLE_MS` (most
//! time between two chunks of a streamed file, default 30 000 → 408),
//! `PIL_HTTP_CONCURRENCY` (requests in flight, default 512; beyond it → 503
//! `overloaded` with `Retry-After: 1`). Request logs: `PIL_LOG=info`.
//!
//! Shutdown: on SIGTERM or SIGINT the server stops accepting, answers every
//! request in flight, then closes the ledger, whose writer answers everything
//! queued before it stops. An ack is only ever sent for a durable entry.

pub mod auth;
pub mod bundles;
pub mod errors;
pub mod lookup;
pub mod routes;
pub mod submit;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::http::StatusCode;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};

use crate::cli::Failure;
use crate::ledger::{Ledger, LedgerError};

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: checkpoints, keys, proofs, verification, the page; and
    /// submissions, whose authority is the statement's own signature.
    Public,
    /// A bearer token (`pil-ledger token add`), unless `serve --public-read`:
    /// entry contents, cases, evidence.
    Token,
}

/// What a route's request body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    None,
    /// JSON, up to `PIL_HTTP_MAX_BODY` (read by `submit::json_body`),
    /// within `PIL_HTTP_TIMEOUT_MS`.
    Json,
    /// Raw bytes of any length, streamed; no whole-request timeout, only
    /// `PIL_HTTP_BODY_IDLE_MS` between chunks.
    Stream,
}

/// One route of the API.
pub struct Route {
    pub method: &'static str,
    /// In axum's syntax, which is OpenAPI's: `/v1/entries/{seq}`.
    pub path: &'static str,
    pub access: Access,
    pub body: BodyKind,
    handler: fn() -> MethodRouter<AppState>,
}

/// Every route the server has. The router is built from this table, and
/// `tests/http.rs` checks it against `schema/openapi.json`.
pub static ROUTES: &[Route] = &[
    Route { method: "GET", path: "/", access: Access::Public, body: BodyKind::None, handler: || get(routes::page) },
    Route {
        method: "GET",
        path: "/v1/openapi.json",
        access: Access::Public,
        body: BodyKind::None,
        handler: || get(routes::openapi),
    },
    Route {
        method: "GET",
        path: "/v1/checkpoint",
        access: Access::Public,
        body: BodyKind::None,
        handler: || get(routes::checkpoint),
    },
    Route {
        method: "GET",
        path: "/v1/vkey",
        access: Access::Public,
        body: BodyKind::None,
        handler: || get(routes::vkey),
    },
    Route {
        method: "GET",
        path: "/v1/entries",
        access: Access::Token,
        body: BodyKind::None,
        handler: || get(routes::entries),
    },
    Route {
        method: "GET",
        path: "/v1/entries/{seq}",
        access: Access::Token,
        body: BodyKind::None,
        handler: || get(routes::entry),
    },
    Route {
        method: "GET",
        path: "/v1/proofs/inclusion/{seq}",
        access: Access::Public,
        body: BodyKind::None,
        handler: || get(routes::inclusion),
    },
    Route {
        method: "GET",
        path: "/v1/proofs/consistency",
        access: Access::Public,
        body: BodyKind::None,
        handler: || get(routes::consistency),
    },
    Route {
        method: "POST",
        path: "/v1/statements/prepare",
        access: Access::Public,
        body: BodyKind::Json,
        handler: || post(submit::prepare),
    },
    Route {
        method: "POST",
        path: "/v1/statements",
        access: Access::Public,
        body: BodyKind::Json,
        handler: || post(submit::submit),
    },
    Route {
        method: "POST",
        path: "/v1/verify/file",
        access: Access::Public,
        body: BodyKind::Stream,
        handler: || post(submit::verify_file),
    },
    Route {
        method: "GET",
        path: "/v1/cases/{id}",
        access: Access::Token,
        body: BodyKind::None,
        handler: || get(routes::case),
    },
    Route {
        method: "GET",
        path: "/v1/evidence",
        access: Access::Token,
        body: BodyKind::None,
        handler: || get(routes::evidence_by_digest),
    },
    Route {
        method: "GET",
        path: "/v1/evidence/{id}",
        access: Access::Token,
        body: BodyKind::None,
        handler: || get(routes::evidence),
    },
    // Court bundles (schema/bundle.md): export (token), verify (public).
    Route {
        method: "POST",
        path: "/v1/bundles",
        access: Access::Token,
        body: BodyKind::Json,
        handler: || post(bundles::export),
    },
    Route {
        method: "POST",
        path: "/v1/verify/bundle",
        access: Access::Public,
        body: BodyKind::Stream,
        handler: || post(bundles::verify),
    },
    // Record look-ups for the CLI's --server mode (src/server/lookup.rs).
    Route {
        method: "GET",
        path: "/v1/accounts/{id}",
        access: Access::Token,
        body: BodyKind::None,
        handler: || get(lookup::account),
    },
    Route {
        method: "GET",
        path: "/v1/accounts/{id}/balance",
        access: Access::Token,
        body: BodyKind::None,
        handler: || get(lookup::balance),
    },
    Route {
        method: "GET",
        path: "/v1/requests/{id}",
        access: Access::Token,
        body: BodyKind::None,
        handler: || get(lookup::request),
    },
    Route {
        method: "GET",
        path: "/v1/keys/{key}",
        access: Access::Token,
        body: BodyKind::None,
        handler: || get(lookup::key),
    },
];

/// The server's limits (see the module docs for the variables).
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_json_body: usize,
    pub timeout: Duration,
    pub body_idle: Duration,
    pub concurrency: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_json_body: 256 * 1024,
            timeout: Duration::from_secs(30),
            body_idle: Duration::from_secs(30),
            concurrency: 512,
        }
    }
}

fn env_number(name: &str, default: u64, min: u64) -> Result<u64, LedgerError> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= min)
            .ok_or_else(|| LedgerError::InvalidArgument(format!("{name} must be a whole number, at least {min}"))),
    }
}

impl Limits {
    pub fn from_env() -> Result<Limits, LedgerError> {
        let d = Limits::default();
        Ok(Limits {
            max_json_body: env_number("PIL_HTTP_MAX_BODY", d.max_json_body as u64, 1024)? as usize,
            timeout: Duration::from_millis(env_number("PIL_HTTP_TIMEOUT_MS", d.timeout.as_millis() as u64, 1)?),
            body_idle: Duration::from_millis(env_number("PIL_HTTP_BODY_IDLE_MS", d.body_idle.as_millis() as u64, 1)?),
            concurrency: env_number("PIL_HTTP_CONCURRENCY", d.concurrency as u64, 1)? as usize,
        })
    }
}

/// What every request shares.
pub struct Shared {
    pub ledger: Ledger,
    pub tokens: auth::Tokens,
    pub public_read: bool,
    pub limits: Limits,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

/// The whole application: the routes of [`ROUTES`], token checks, limits,
/// request logs.
pub fn router(state: AppState) -> Router {
    let limits = state.0.limits.clone();
    let mut app = Router::new();
    for r in ROUTES {
        let mut mr = (r.handler)();
        if r.access == Access::Token && !state.0.public_read {
            mr = mr.route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
        }
        if r.body != BodyKind::Stream {
            mr = mr.layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, limits.timeout));
        }
        app = app.route(r.path, mr);
    }
    app.fallback(errors::not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .layer(axum::middleware::map_response(errors::json_error_bodies))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(errors::overloaded))
                .load_shed()
                .layer(GlobalConcurrencyLimitLayer::new(limits.concurrency)),
        )
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .with_state(state)
}

fn parse_listen(listen: &str) -> Result<SocketAddr, LedgerError> {
    use std::net::ToSocketAddrs;
    listen
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| LedgerError::InvalidArgument(format!("--listen {listen:?}: expected HOST:PORT")))
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await
            }
        }
    };
    tokio::select! {
        _ = term => {},
        _ = tokio::signal::ctrl_c() => {},
    }
    eprintln!("pil-ledger serve: shutting down; answering the requests in flight");
}

/// `pil-ledger serve`: open the ledger for writing, serve until SIGTERM or
/// SIGINT, then close it. Prints `listening on http://ADDR/` (JSON with
/// `--json`) on stdout once the socket is bound.
pub fn run_serve(data: &Path, json: bool, listen: &str, public_read: bool) -> Result<u8, Failure> {
    let limits = Limits::from_env()?;
    let addr = parse_listen(listen)?;
    let tokens = auth::Tokens::new(data)?;
    let ledger = Ledger::open(data, true)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let shared = Arc::new(Shared { ledger, tokens, public_read, limits });
    let served = rt.block_on(serve_on(AppState(shared.clone()), addr, json));
    // Every request has been answered; close the ledger so the writer
    // answers whatever is still queued, then stops.
    rt.shutdown_timeout(Duration::from_secs(10));
    match Arc::try_unwrap(shared) {
        Ok(s) => s.ledger.close(),
        Err(_) => tracing::warn!("a request task outlived the server; the ledger closes when it ends"),
    }
    served?;
    if !json {
        eprintln!("pil-ledger serve: stopped");
    }
    Ok(0)
}

async fn serve_on(state: AppState, addr: SocketAddr, json: bool) -> Result<(), Failure> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| LedgerError::IoAt { path: format!("listen {addr}").into(), source: e })?;
    let local = listener.local_addr()?;
    let url = format!("http://{local}/");
    if json {
        println!("{}", serde_json::json!({"listening": url, "public_read": state.0.public_read}));
    } else {
        println!("listening on {url}");
    }
    {
        use std::io::Write;
        std::io::stdout().flush()?;
    }
    let app = router(state);
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    Ok(())
}
