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
    // ---- fund (schema/fund.md)
    #[error("no fund account {0:?}")]
    UnknownAccount(String),
    #[error("fund account {0:?} is already open")]
    AccountExists(String),
    #[error("no disbursement request {0:?}")]
    UnknownRequest(String),
    #[error("request id {0:?} is already used")]
    RequestExists(String),
    #[error("obligation id {0:?} is already used")]
    ObligationExists(String),
    #[error("account {account_id:?} is a {is} account; {want}")]
    WrongAccountKind { account_id: String, is: &'static str, want: &'static str },
    #[error("an amount is a positive number of fen; 0 is refused")]
    ZeroAmount,
    #[error("amount overflow: {0} would exceed the largest u64 number of fen")]
    AmountOverflow(&'static str),
    #[error(
        "account {account_id:?} is no-overdraft: this would take it {short_fen} fen below zero, counting reservations"
    )]
    InsufficientFunds { account_id: String, short_fen: u128 },
    #[error("request {request_id:?} awaits stage {next} of {stages}; stage {got} is out of order")]
    StageOutOfOrder { request_id: String, next: u32, stages: u8, got: u8 },
    #[error(
        "stage {stage} of {request_id:?} was already decided by this key or this person; each stage needs another"
    )]
    ApproverRepeated { request_id: String, stage: u8 },
    #[error("the requester of {0:?} (key or person) cannot approve or reject it")]
    SelfApproval(String),
    #[error("an approver of {0:?} (key or person) cannot pay it")]
    ApproverCannotPay(String),
    #[error("request {request_id:?} has {approved} of its {stages} approval stages; it cannot be paid yet")]
    NotApproved { request_id: String, approved: usize, stages: u8 },
    #[error("request {request_id:?} was rejected at stage {stage}; only a void remains")]
    RequestRejected { request_id: String, stage: u8 },
    #[error("request {request_id:?} was already settled at seq {seq}; a request settles once")]
    RequestSettled { request_id: String, seq: u64 },
    #[error("paying {amount_fen} fen is more than the {approved_fen} fen approved for {request_id:?}")]
    AmountExceedsApproved { request_id: String, amount_fen: u64, approved_fen: u64 },
    #[error("purpose {purpose:?} is not a designated use of case {case_id:?} (its uses: {uses})")]
    PurposeMismatch { purpose: String, case_id: String, uses: String },
    #[error("bank reference {bank_ref:?} was already recorded on account {account_id:?} at seq {seq}")]
    DuplicateBankRef { account_id: String, bank_ref: String, seq: u64 },
    #[error("reversing {amount_fen} fen is more than the {remaining_fen} fen of the original not yet reversed")]
    ReversalExceedsOriginal { amount_fen: u64, remaining_fen: u64 },
    #[error("a reversal names a receipt, remittance or payment; {0} cannot be reversed")]
    NotReversible(String),
    #[error("{what} belongs to case {case_id:?}; the statement must name that case")]
    FundCaseMismatch { what: String, case_id: String },
    #[error("judgment refused: {0}")]
    NotAJudgment(String),
    #[error("the statement balance {stated_fen} fen differs from the account's posted balance {posted_fen} fen")]
    BalanceMismatch { stated_fen: u64, posted_fen: i128 },
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
            UnknownAccount(_) => "unknown_account",
            AccountExists(_) => "account_exists",
            UnknownRequest(_) => "unknown_request",
            RequestExists(_) => "request_exists",
            ObligationExists(_) => "obligation_exists",
            WrongAccountKind { .. } => "wrong_account_kind",
            ZeroAmount => "zero_amount",
            AmountOverflow(_) => "amount_overflow",
            InsufficientFunds { .. } => "insufficient_funds",
            StageOutOfOrder { .. } => "stage_out_of_order",
            ApproverRepeated { .. } => "approver_repeated",
            SelfApproval(_) => "self_approval",
            ApproverCannotPay(_) => "approver_cannot_pay",
            NotApproved { .. } => "not_approved",
            RequestRejected { .. } => "request_rejected",
            RequestSettled { .. } => "request_settled",
            AmountExceedsApproved { .. } => "amount_exceeds_approved",
            PurposeMismatch { .. } => "purpose_mismatch",
            DuplicateBankRef { .. } => "duplicate_bank_ref",
            ReversalExceedsOriginal { .. } => "reversal_exceeds_original",
            NotReversible(_) => "not_reversible",
            FundCaseMismatch { .. } => "fund_case_mismatch",
            NotAJudgment(_) => "not_a_judgment",
            BalanceMismatch { .. } => "balance_mismatch",
            Backend(_) => "storage_error",
        }
    }

    /// Every code `code()` can return, for the test that keeps
    /// `schema/reasons.md` true.
    pub const CODES: [&'static str; 75] = [
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
        "unknown_account",
        "account_exists",
        "unknown_request",
        "request_exists",
        "obligation_exists",
        "wrong_account_kind",
        "zero_amount",
        "amount_overflow",
        "insufficient_funds",
        "stage_out_of_order",
        "approver_repeated",
        "self_approval",
        "approver_cannot_pay",
        "not_approved",
        "request_rejected",
        "request_settled",
        "amount_exceeds_approved",
        "purpose_mismatch",
        "duplicate_bank_ref",
        "reversal_exceeds_original",
        "not_reversible",
        "fund_case_mismatch",
        "not_a_judgment",
        "balance_mismatch",
        "storage_error",
    ];
}
