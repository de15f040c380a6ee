//! The ledger's error type and its one classification. A leaf module: it
//! depends on the core and the store's error type only, so the writer, the
//! CLI and (later) the HTTP server all share it without importing `ledger`.
//!
//! Every error has a stable snake_case [`LedgerError::code`] (listed in
//! `schema/reasons.md`) and one [`ErrorClass`]; the CLI exit code and the
//! HTTP status are both derived from the class, here and nowhere else.

use std::path::PathBuf;

use pil_ledger_core::clock::ClockError;
use pil_ledger_core::merkle::ProofError;
use pil_ledger_core::state::Refusal;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    #[error("{}", store_message(.0))]
    Store(#[from] StoreError),
    #[error("no ledger at {0} (run `pil-ledger init --origin NAME` first)")]
    NotALedger(PathBuf),
    #[error("{why}: {path}")]
    LedgerExists { path: PathBuf, why: String },
    #[error("ledger failed its start-up self-check: {0}")]
    SelfCheck(String),
    #[error("key file {path}: {message}")]
    KeyFile { path: PathBuf, message: String },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("proof: {0}")]
    Proof(#[from] ProofError),
    /// The writer's clock disagrees with the signer's claimed time
    /// (`clock_skew`) or with the log's last recorded time
    /// (`clock_behind_log`, `clock_jump`); see `pil_ledger_core::clock`.
    #[error("{}", clock_message(.0))]
    Clock(#[from] ClockError),
    #[error("the writer has stopped: {0}")]
    WriterStopped(String),
    #[error("{path}: {source}")]
    IoAt { path: PathBuf, source: std::io::Error },
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

fn store_message(e: &StoreError) -> String {
    match e {
        StoreError::Busy(path) => format!(
            "the ledger at {} is held by another process (one process at a time; a running `pil-ledger serve` \
             holds it for as long as it runs): send the command to that server with --server URL (or PIL_SERVER), \
             or stop the other process first",
            path.display()
        ),
        _ => e.to_string(),
    }
}

fn clock_message(e: &ClockError) -> String {
    match e {
        ClockError::Jump { .. } => {
            format!("{e} (if the ledger really was idle that long, set PIL_MAX_CLOCK_JUMP_DAYS for this append)")
        }
        _ => e.to_string(),
    }
}

/// What kind of failure an error is. The CLI exit code and the HTTP status
/// both come from here (see [`ErrorClass::exit_code`] and
/// [`ErrorClass::http_status`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Malformed input: bad bytes, bad argument, unreadable input file.
    Invalid,
    /// No or wrong credentials for the HTTP API (bearer token). No
    /// `LedgerError` has this class; the HTTP layer uses it.
    Unauthenticated,
    /// Not authorised: bad signature, key not enrolled, revoked, expired,
    /// role not allowed, self-endorsement.
    Forbidden,
    /// The thing asked for does not exist (no ledger here).
    NotFound,
    /// It exists already, or a conflicting record does (nonce conflict,
    /// ledger exists, case exists, key already enrolled).
    Conflict,
    /// Input over a size limit. No `LedgerError` has this class today
    /// (oversize statements are `statement_not_canonical`); the HTTP layer
    /// uses it for request bodies.
    TooLarge,
    /// Well-formed but breaks a domain rule.
    Rejected,
    /// Refused because the writer's clock disagrees with the log: nothing
    /// was appended and the caller did nothing wrong, the operator must fix
    /// the clock.
    ClockRefused,
    /// The service cannot take writes now (writer stopped, store busy).
    Unavailable,
    /// I/O, storage or internal failure.
    Internal,
}

impl ErrorClass {
    /// CLI exit code (DESIGN §7.1): 2 refused (nothing appended), 3 I/O or
    /// internal error.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorClass::Invalid
            | ErrorClass::Unauthenticated
            | ErrorClass::Forbidden
            | ErrorClass::NotFound
            | ErrorClass::Conflict
            | ErrorClass::TooLarge
            | ErrorClass::Rejected
            | ErrorClass::ClockRefused => 2,
            ErrorClass::Unavailable | ErrorClass::Internal => 3,
        }
    }

    /// HTTP status for the API.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorClass::Invalid => 400,
            ErrorClass::Unauthenticated => 401,
            ErrorClass::Forbidden => 403,
            ErrorClass::NotFound => 404,
            ErrorClass::Conflict => 409,
            ErrorClass::TooLarge => 413,
            ErrorClass::Rejected => 422,
            ErrorClass::Internal => 500,
            ErrorClass::ClockRefused | ErrorClass::Unavailable => 503,
        }
    }
}

/// The class of a core refusal, by its stable code (so that refusal kinds
/// the core adds later fall into `Rejected` until placed here).
fn refusal_class(r: &Refusal) -> ErrorClass {
    match r.code() {
        "storage_error" => ErrorClass::Internal,
        "statement_not_canonical"
        | "invalid_key"
        | "missing_field"
        | "invalid_value"
        | "invalid_name"
        | "invalid_digest" => ErrorClass::Invalid,
        "signature_invalid"
        | "author_not_enrolled"
        | "author_revoked"
        | "author_expired"
        | "author_not_yet_valid"
        | "author_pending_endorsement"
        | "author_is_log_key"
        | "role_not_allowed"
        | "self_endorsement"
        | "self_approval"
        | "approver_repeated"
        | "approver_cannot_pay"
        | "not_the_holder"
        | "not_the_receiver"
        | "registrant_not_collector"
        | "not_a_collector" => ErrorClass::Forbidden,
        "nonce_conflict"
        | "nonce_reused"
        | "key_already_enrolled"
        | "already_revoked"
        | "already_endorsed"
        | "case_exists"
        | "evidence_exists"
        | "digest_exists"
        | "account_exists"
        | "request_exists"
        | "obligation_exists"
        | "duplicate_bank_ref"
        | "request_settled"
        | "already_sealed"
        | "already_on_hold" => ErrorClass::Conflict,
        _ => ErrorClass::Rejected,
    }
}

impl LedgerError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            LedgerError::Refused(r) => r.code(),
            LedgerError::Store(StoreError::Busy(_)) => "ledger_busy",
            LedgerError::Store(StoreError::UnsupportedFormat { .. }) => "unsupported_storage_format",
            LedgerError::Store(StoreError::MigrationNeeded { .. }) => "migration_needed",
            LedgerError::Store(_) => "storage_error",
            LedgerError::NotALedger(_) => "no_ledger",
            LedgerError::LedgerExists { .. } => "ledger_exists",
            LedgerError::SelfCheck(_) => "self_check_failed",
            LedgerError::KeyFile { .. } => "bad_key_file",
            LedgerError::InvalidArgument(_) => "invalid_argument",
            LedgerError::Proof(ProofError::Storage(_) | ProofError::MissingNode { .. }) => "storage_error",
            LedgerError::Proof(_) => "invalid_argument",
            LedgerError::Clock(c) => c.code(),
            LedgerError::WriterStopped(_) => "writer_stopped",
            LedgerError::IoAt { .. } | LedgerError::Io(_) => "io_error",
        }
    }

    /// The one classification the exit code and HTTP status come from.
    pub fn class(&self) -> ErrorClass {
        match self {
            LedgerError::Refused(r) => refusal_class(r),
            LedgerError::Store(StoreError::Busy(_)) => ErrorClass::Unavailable,
            LedgerError::Store(_) => ErrorClass::Internal,
            LedgerError::NotALedger(_) => ErrorClass::NotFound,
            LedgerError::LedgerExists { .. } => ErrorClass::Conflict,
            LedgerError::SelfCheck(_) => ErrorClass::Internal,
            LedgerError::KeyFile { .. } | LedgerError::InvalidArgument(_) => ErrorClass::Invalid,
            LedgerError::Proof(ProofError::Storage(_) | ProofError::MissingNode { .. }) => ErrorClass::Internal,
            LedgerError::Proof(_) => ErrorClass::Invalid,
            LedgerError::Clock(ClockError::Skew { .. }) => ErrorClass::Rejected,
            LedgerError::Clock(ClockError::BehindLog { .. } | ClockError::Jump { .. }) => ErrorClass::ClockRefused,
            LedgerError::WriterStopped(_) => ErrorClass::Unavailable,
            LedgerError::IoAt { .. } | LedgerError::Io(_) => ErrorClass::Internal,
        }
    }

    /// CLI exit code: 2 refused, 3 I/O or internal.
    pub fn exit_code(&self) -> u8 {
        self.class().exit_code()
    }

    /// HTTP status for the API.
    pub fn http_status(&self) -> u16 {
        self.class().http_status()
    }

    /// True when the caller's input was refused (exit 2), false for I/O
    /// or internal failures (exit 3).
    pub fn is_refusal(&self) -> bool {
        self.exit_code() == 2
    }
}
