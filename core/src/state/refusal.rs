//! Why a statement is refused by the rules. `code()` is the stable
//! snake_case code used on the CLI, over HTTP and in verifier reasons; every
//! code is listed in `schema/reasons.md` (a test keeps the two equal).

use super::index::BackendError;
use crate::names::NameError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("statement is not canonical wire format v1: {0}")]
    NotCanonical(String),
    #[error("signature does not verify (verify_strict) for the author's key")]
    SignatureInvalid,
    #[error("statement is for origin {got:?}, this ledger is {want:?}")]
    WrongOrigin { got: String, want: String },
    #[error("a genesis statement belongs at seq 0 only, and seq 0 must be a genesis")]
    GenesisMisplaced,
    #[error("genesis is inconsistent: {0}")]
    BadGenesis(&'static str),
    #[error("author key {0} is not enrolled")]
    AuthorNotEnrolled(String),
    #[error("author key {key} was revoked at seq {seq}")]
    AuthorRevoked { key: String, seq: u64 },
    #[error("author key {0} has expired")]
    AuthorExpired(String),
    #[error("author key {0} is not yet valid")]
    AuthorNotYetValid(String),
    #[error("author key {0} is a key-officer enrolment still awaiting a second person's endorsement")]
    AuthorPending(String),
    #[error("the log key signs checkpoints only, never entries")]
    AuthorIsLogKey,
    #[error("no role of this key ({roles}) may sign {kind}")]
    RoleNotAllowed { kind: &'static str, roles: String },
    #[error("key is not a valid Ed25519 key: {0}")]
    InvalidKey(String),
    #[error("key {0} is already enrolled")]
    KeyAlreadyEnrolled(String),
    #[error("key {0} is not enrolled")]
    UnknownKey(String),
    #[error("key {0} is already revoked")]
    AlreadyRevoked(String),
    #[error(
        "this revocation would leave no key officer without an end date active: nobody could revoke keys once the \
         others' windows end; enrol (and activate) another key officer first"
    )]
    LastKeyOfficer,
    #[error(
        "dual control is in force and this would leave fewer than two key officers active: enrol and activate \
         another key officer first, or, for a compromised key, give --compromised-since"
    )]
    DualControlRequired,
    #[error("no earlier entry has hash {0}")]
    UnknownEntry(String),
    #[error("an endorsement must come from a different key and a different holder than {0}")]
    SelfEndorsement(&'static str),
    #[error("this key already endorsed that entry")]
    AlreadyEndorsed,
    #[error("unknown endorsement capacity {0:?} (key-officer, witness, second-collector, custody-receiver, approver, finance-reviewer)")]
    UnknownCapacity(String),
    #[error("capacity {capacity} cannot endorse a {kind} entry")]
    CapacityMismatch { capacity: &'static str, kind: &'static str },
    #[error("case {0:?} is already open")]
    CaseExists(String),
    #[error("case {0:?} has not been opened")]
    UnknownCase(String),
    #[error("field {0} is missing or empty")]
    MissingField(&'static str),
    #[error("name refused: {0}")]
    InvalidName(NameError),
    #[error("invalid value: {0}")]
    InvalidValue(String),
    #[error("(author, nonce) already used at seq {seq} by different statement bytes")]
    NonceConflict { seq: u64 },
    #[error("(author, nonce) already used at seq {seq}")]
    NonceReused { seq: u64 },
    // ---- evidence (schema/evidence.md)
    #[error("no evidence item {0:?}")]
    UnknownEvidence(String),
    #[error("evidence id {0:?} is already registered")]
    EvidenceExists(String),
    #[error("evidence {evidence_id:?} belongs to case {case_id:?}; the statement names another case")]
    CaseMismatch { evidence_id: String, case_id: String },
    #[error("evidence {evidence_id:?} was disposed of at seq {seq}; nothing more is recorded on it")]
    AlreadyDisposed { evidence_id: String, seq: u64 },
    #[error("only the current holder of {0:?} may do this")]
    NotTheHolder(String),
    #[error("digest refused: {0}")]
    InvalidDigest(String),
    #[error("digest {digest} is already registered as evidence {evidence_id:?}")]
    DigestExists { digest: String, evidence_id: String },
    #[error("the registrant ({registrant}) must be the first collector (the entry names {first})")]
    RegistrantNotCollector { registrant: String, first: String },
    #[error("the endorser is not one of the other collectors named for {0:?}")]
    NotACollector(String),
    #[error("{0:?} is already sealed")]
    AlreadySealed(String),
    #[error("{0:?} is not sealed")]
    NotSealed(String),
    #[error("approval refused: {0}")]
    ApprovalInvalid(String),
    #[error("{0:?} has a handover not yet received")]
    TransferPending(String),
    #[error("no pending handover of {0:?} matches that transfer")]
    UnknownTransfer(String),
    #[error("the handover of {0:?} is addressed to another key")]
    NotTheReceiver(String),
    #[error("receiver refused: {0}")]
    InvalidReceiver(String),
    #[error("{0:?} is under a legal hold: it cannot be disposed of")]
    OnLegalHold(String),
    #[error("{0:?} is already under a legal hold")]
    AlreadyOnHold(String),
    #[error("{0:?} is not under a legal hold")]
    NotOnHold(String),
    #[error("case {case_id:?} was closed at seq {seq}")]
    CaseClosed { case_id: String, seq: u64 },
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl From<NameError> for Refusal {
    fn from(e: NameError) -> Self {
        match e {
            NameError::Empty(f) => Refusal::MissingField(f),
            other => Refusal::InvalidName(other),
        }
    }
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        use Refusal::*;
        match self {
            NotCanonical(_) => "statement_not_canonical",
            SignatureInvalid => "signature_invalid",
            WrongOrigin { .. } => "wrong_origin",
            GenesisMisplaced => "genesis_misplaced",
            BadGenesis(_) => "bad_genesis",
            AuthorNotEnrolled(_) => "author_not_enrolled",
            AuthorRevoked { .. } => "author_revoked",
            AuthorExpired(_) => "author_expired",
            AuthorNotYetValid(_) => "author_not_yet_valid",
            AuthorPending(_) => "author_pending_endorsement",
            AuthorIsLogKey => "author_is_log_key",
            RoleNotAllowed { .. } => "role_not_allowed",
            InvalidKey(_) => "invalid_key",
            KeyAlreadyEnrolled(_) => "key_already_enrolled",
            UnknownKey(_) => "unknown_key",
            AlreadyRevoked(_) => "already_revoked",
            LastKeyOfficer => "last_key_officer",
            DualControlRequired => "dual_control_required",
            UnknownEntry(_) => "unknown_entry",
            SelfEndorsement(_) => "self_endorsement",
            AlreadyEndorsed => "already_endorsed",
            UnknownCapacity(_) => "unknown_capacity",
            CapacityMismatch { .. } => "capacity_mismatch",
            CaseExists(_) => "case_exists",
            UnknownCase(_) => "unknown_case",
            MissingField(_) => "missing_field",
            InvalidName(_) => "invalid_name",
            InvalidValue(_) => "invalid_value",
            NonceConflict { .. } => "nonce_conflict",
            NonceReused { .. } => "nonce_reused",
            UnknownEvidence(_) => "unknown_evidence",
            EvidenceExists(_) => "evidence_exists",
            CaseMismatch { .. } => "case_mismatch",
            AlreadyDisposed { .. } => "already_disposed",
            NotTheHolder(_) => "not_the_holder",
            InvalidDigest(_) => "invalid_digest",
            DigestExists { .. } => "digest_exists",
            RegistrantNotCollector { .. } => "registrant_not_collector",
            NotACollector(_) => "not_a_collector",
            AlreadySealed(_) => "already_sealed",
            NotSealed(_) => "not_sealed",
            ApprovalInvalid(_) => "approval_invalid",
            TransferPending(_) => "transfer_pending",
            UnknownTransfer(_) => "unknown_transfer",
            NotTheReceiver(_) => "not_the_receiver",
            InvalidReceiver(_) => "invalid_receiver",
            OnLegalHold(_) => "on_legal_hold",
            AlreadyOnHold(_) => "already_on_hold",
            NotOnHold(_) => "not_on_hold",
            CaseClosed { .. } => "case_closed",
            Backend(_) => "storage_error",
        }
    }

    /// Every code `code()` can return, for the test that keeps
    /// `schema/reasons.md` true.
    pub const CODES: [&'static str; 51] = [
        "statement_not_canonical",
        "signature_invalid",
        "wrong_origin",
        "genesis_misplaced",
        "bad_genesis",
        "author_not_enrolled",
        "author_revoked",
        "author_expired",
        "author_not_yet_valid",
        "author_pending_endorsement",
        "author_is_log_key",
        "role_not_allowed",
        "invalid_key",
        "key_already_enrolled",
        "unknown_key",
        "already_revoked",
        "last_key_officer",
        "dual_control_required",
        "unknown_entry",
        "self_endorsement",
        "already_endorsed",
        "unknown_capacity",
        "capacity_mismatch",
        "case_exists",
        "unknown_case",
        "missing_field",
        "invalid_name",
        "invalid_value",
        "nonce_conflict",
        "nonce_reused",
        "unknown_evidence",
        "evidence_exists",
        "case_mismatch",
        "already_disposed",
        "not_the_holder",
        "invalid_digest",
        "digest_exists",
        "registrant_not_collector",
        "not_a_collector",
        "already_sealed",
        "not_sealed",
        "approval_invalid",
        "transfer_pending",
        "unknown_transfer",
        "not_the_receiver",
        "invalid_receiver",
        "on_legal_hold",
        "already_on_hold",
        "not_on_hold",
        "case_closed",
        "storage_error",
    ];
}
