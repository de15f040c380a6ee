//! Wire format v1 (DESIGN §3.1, §3.3, §3.4): the signed `Statement`, the stored
//! `Entry`, the `Body` enum of entry kinds, and the one canonical codec.
//!
//! Canonical binary is bincode 2.0.1 with `config::legacy()` (fixed-width
//! little-endian integers, `u64` length prefixes, `u32` enum tags, `u8`
//! option tags, fixed arrays without prefix) and a size limit. Decoding
//! rejects trailing bytes and any input whose re-encoding differs from it, so
//! every accepted byte string has exactly one meaning.

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::authority::Role;
use crate::digest::Digest;

mod fund;
pub use fund::{AccountKind, ALL_ACCOUNT_KINDS};

/// Wire format version carried in every statement and entry.
pub const FORMAT_V1: u16 = 1;
/// Largest canonical statement accepted (bytes). Bounds every decode.
pub const MAX_STATEMENT_BYTES: usize = 64 * 1024;
/// Largest canonical entry: statement plus the fixed entry fields.
pub const MAX_ENTRY_BYTES: usize = MAX_STATEMENT_BYTES + 2 + 8 + 32 + 8 + 8 + 64;
/// Longest origin (ledger name) accepted.
pub const MAX_ORIGIN_BYTES: usize = 255;

pub type Hash32 = [u8; 32];
pub type PublicKey = [u8; 32];
pub type SignatureBytes = [u8; 64];

/// What an author signs (DESIGN §3.3).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Statement {
    pub format: u16,
    /// The ledger's name; binds the statement to one ledger.
    pub origin: String,
    pub author: PublicKey,
    pub claimed_at_ms: u64,
    pub nonce: [u8; 16],
    /// Empty for statements that belong to no case.
    pub case_id: String,
    pub body: Body,
}

/// The statement header alone: everything but the body. Used to read
/// statements whose body kind this build does not know (a newer writer).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct StatementHeader {
    pub format: u16,
    pub origin: String,
    pub author: PublicKey,
    pub claimed_at_ms: u64,
    pub nonce: [u8; 16],
    pub case_id: String,
}

/// What the log stores (DESIGN §3.4).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Entry {
    pub format: u16,
    pub seq: u64,
    /// Entry hash of `seq - 1`; 32 zero bytes at seq 0.
    pub prev: Hash32,
    /// The log's clock, unix ms; never decreases.
    pub recorded_at_ms: u64,
    /// The exact bytes the author signed.
    pub statement: Vec<u8>,
    pub signature: SignatureBytes,
}

/// The entry kinds. Wire tags are the declaration order (u32): **append new
/// variants at the end only**.
// One statement holds one body, decoded once; plain variants keep every
// rule a simple pattern match, so the size spread between kinds is accepted.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(tag = "kind", deny_unknown_fields)]
pub enum Body {
    /// Seq 0 only. Names the origin, the log's checkpoint key and the first
    /// key officer (who is the statement's author and signs it).
    Genesis {
        origin: String,
        #[serde(with = "hex::serde")]
        log_key: PublicKey,
        #[serde(with = "hex::serde")]
        officer: PublicKey,
        holder: String,
        unit: String,
    },
    /// A key officer enrols a person's key with roles and a validity window.
    KeyEnrolled {
        #[serde(with = "hex::serde")]
        key: PublicKey,
        holder: String,
        unit: String,
        roles: Vec<Role>,
        valid_from_ms: u64,
        valid_until_ms: Option<u64>,
    },
    /// A key officer revokes a key; entries it signed at or after
    /// `compromised_since_ms` are flagged by verifiers.
    KeyRevoked {
        #[serde(with = "hex::serde")]
        key: PublicKey,
        reason: String,
        compromised_since_ms: Option<u64>,
    },
    /// A second person endorses an earlier entry (dual control).
    Endorsed {
        #[serde(with = "hex::serde")]
        entry_hash: Hash32,
        capacity: String,
    },
    /// States the right value for a field of an earlier entry.
    Correction {
        #[serde(with = "hex::serde")]
        entry_hash: Hash32,
        field: String,
        value: String,
        reason: String,
    },
    /// A public-interest case is opened (case id in the statement header).
    CaseOpened {
        title: String,
        /// Public-interest area, e.g. "ecology", "food-drug-safety".
        area: String,
        /// The procuratorate unit handling the case.
        unit: String,
    },
    // ---- evidence side (schema/evidence.md); every one carries the case id
    // ---- in the statement header.
    /// A stage of the case: pre-suit notice, suit filed, mediation notice,
    /// effective judgment (with the amounts awarded), closed.
    CaseEvent {
        stage: CaseStage,
        /// When it happened (the document's date), unix ms.
        occurred_at_ms: u64,
        /// The document's number, e.g. "（2026）京04民初1号".
        reference: String,
        note: String,
        /// For a judgment: what was awarded, per head, with its designated use.
        awards: Vec<Award>,
    },
    /// An item of evidence enters the ledger: its digests (never its bytes)
    /// and how, where, when, by whom and on what basis it was collected.
    EvidenceRegistered {
        evidence_id: String,
        /// Legal category, e.g. "electronic-data", "documentary", "physical".
        category: String,
        /// Digests of the file (BLAKE3, SHA-256, SM3); for a physical item,
        /// digests of its photos, or none.
        #[serde(default)]
        digests: Vec<Digest>,
        size: u64,
        media_type: String,
        /// A physical item (涉案财物): described, not a file.
        physical: bool,
        description: String,
        /// Where it came from: source or holder before collection.
        source: String,
        /// Collection method, e.g. "on-site sampling", "screen recording".
        method: String,
        legal_basis: String,
        /// Collectors' names; the first is the registrant, the second
        /// endorses the registration (capacity `second-collector`).
        collectors: Vec<String>,
        witness: String,
        place: String,
        collected_at_ms: u64,
        /// The UTC offset where it was collected, in minutes (480 = +08:00).
        collected_tz_offset_min: i32,
        tool: String,
        tool_version: String,
        original_medium: String,
        /// Pre-ledger provenance: a notarisation, an external deposit number.
        provenance: String,
        /// Digests from an earlier forensic record (often MD5 or SHA-1);
        /// they matched the file when registered, and are weak evidence.
        #[serde(default)]
        prior_digests: Vec<Digest>,
    },
    /// A new item made from an earlier one (a copy, an extract, a transcode).
    EvidenceDerived {
        evidence_id: String,
        parent: String,
        digests: Vec<Digest>,
        size: u64,
        media_type: String,
        method: String,
    },
    /// The current holder seals the item.
    Sealed {
        evidence_id: String,
        seal_id: String,
        note: String,
    },
    /// The current holder breaks the seal, with an approver's approval (the
    /// hash of the approver's `Endorsed` of the seal entry).
    Unsealed {
        evidence_id: String,
        #[serde(with = "hex::serde")]
        approval: Hash32,
        /// The seal as found when opened.
        condition: SealState,
        note: String,
    },
    /// The current holder hands the item to another key.
    CustodyTransferred {
        evidence_id: String,
        #[serde(with = "hex::serde")]
        to: PublicKey,
        purpose: String,
        seal: SealState,
    },
    /// The receiver takes the item, with its own re-hash of it.
    CustodyReceived {
        evidence_id: String,
        /// The `CustodyTransferred` entry this receipt answers.
        #[serde(with = "hex::serde")]
        transfer: Hash32,
        /// The receiver's re-hash; a mismatch is recorded and flagged.
        digests: Vec<Digest>,
        seal: SealState,
    },
    /// Someone looked at or used the item.
    EvidenceAccessed {
        evidence_id: String,
        purpose: String,
    },
    /// A re-hash of the item; a mismatch is recorded and flagged.
    IntegrityChecked {
        evidence_id: String,
        digests: Vec<Digest>,
        note: String,
    },
    /// The item was submitted to a court.
    SubmittedToCourt {
        evidence_id: String,
        court: String,
        reference: String,
    },
    /// The item was disposed of (returned, destroyed, confiscated).
    Disposed {
        evidence_id: String,
        method: String,
        reason: String,
    },
    /// No disposal while a hold stands.
    LegalHold {
        evidence_id: String,
        reason: String,
    },
    HoldReleased {
        evidence_id: String,
        reason: String,
    },
    // ---- fund side (schema/fund.md): double-entry accounts, two-phase
    // ---- disbursements, reversals, reconciliation, disclosure. Amounts are
    // ---- integer fen (分) in u64.
    /// A finance officer opens an account. A `case` account belongs to the
    /// statement's case.
    AccountOpened {
        account_id: String,
        /// (`kind` is the JSON tag of every body, hence the longer name.)
        account_kind: AccountKind,
        name: String,
        /// Debits (posted and pending) may never exceed posted credits.
        no_overdraft: bool,
        /// Approval stages a disbursement from this account needs (0..=5);
        /// fund and case accounts only.
        stages: u8,
    },
    /// What a judgment (or settlement) orders paid into the fund for the
    /// statement's case: by which payer, how much, for what use, by when.
    Obligation {
        obligation_id: String,
        /// The payer account.
        payer: String,
        amount_fen: u64,
        /// e.g. "ecological-restoration"; requests on the case must name one
        /// of the case's designated uses as their purpose.
        designated_use: String,
        due_ms: u64,
        /// The case's judgment `CaseEvent` entry hash, where there is one.
        #[serde(with = "fund::hex_opt32", default)]
        judgment: Option<Hash32>,
    },
    /// Money received into a fund or case account from a payer (posted).
    FundReceipt {
        /// The receiving fund or case account.
        account_id: String,
        /// The payer account.
        from: String,
        amount_fen: u64,
        /// The bank's reference; unique per receiving account when not empty.
        bank_ref: String,
    },
    /// Money remitted from a fund or case account to a treasury account
    /// (posted).
    Remittance {
        from: String,
        /// The treasury account.
        to: String,
        amount_fen: u64,
        bank_ref: String,
    },
    /// A request to pay out of a fund or case account to a payee: reserves
    /// the amount (a pending transfer) until it is paid or voided.
    DisbursementRequested {
        request_id: String,
        from: String,
        /// The payee account.
        to: String,
        amount_fen: u64,
        /// The designated-use category the money is for.
        purpose: String,
        note: String,
    },
    /// One approval stage (1..=stages, in order).
    DisbursementApproved {
        request_id: String,
        stage: u8,
    },
    /// A stage says no: the request can no longer be approved or paid; a
    /// `DisbursementVoided` releases its reservation.
    DisbursementRejected {
        request_id: String,
        stage: u8,
        reason: String,
    },
    /// Posts at most the requested (approved) amount, once, and releases
    /// the rest of the reservation.
    DisbursementPaid {
        request_id: String,
        amount_fen: u64,
        bank_ref: String,
    },
    /// Releases the reservation; the request is settled without payment.
    DisbursementVoided {
        request_id: String,
        reason: String,
    },
    /// Posts the opposite of an earlier receipt, remittance or payment, never
    /// more than what of it is not yet reversed.
    Reversal {
        #[serde(with = "hex::serde")]
        original: Hash32,
        amount_fen: u64,
        reason: String,
    },
    /// A fund or case account agrees with its bank statement for a period.
    Reconciled {
        account_id: String,
        period_from_ms: u64,
        period_to_ms: u64,
        /// Digest of the bank statement document.
        statement_digest: Digest,
        /// The statement's closing balance; equals the account's posted
        /// balance when recorded.
        balance_fen: u64,
    },
    /// A public disclosure was made: of what, where, for how long.
    Published {
        /// A case id, or a scope such as "fund 2026Q1".
        case_or_scope: String,
        what: String,
        location: String,
        notice_days: u32,
        /// Digests of the published document(s), so a reader can check them.
        #[serde(default)]
        report: Vec<Digest>,
    },
    /// An auditor records a finding, naming the entries concerned.
    AuditFinding {
        /// What was audited, e.g. "fund 2026", a case id.
        scope: String,
        finding: String,
        #[serde(with = "fund::hex_vec32", default)]
        entries: Vec<Hash32>,
    },
}

/// A stage of a case (`CaseEvent`). Wire tags: declaration order, append only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseStage {
    PreSuitNotice,
    SuitFiled,
    MediationNotice,
    Judgment,
    Closed,
}

/// One head of an award in a judgment: what, how much, for what use.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Award {
    /// e.g. "ecological restoration", "punitive damages".
    pub head: String,
    pub amount_fen: u64,
    /// e.g. "ecological-restoration", "consumer-relief", "treasury".
    pub designated_use: String,
}

/// A seal as observed. Wire tags: declaration order, append only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SealState {
    /// No seal on the item.
    None,
    Intact,
    Broken,
}

impl Body {
    /// A `KeyEnrolled` valid from the epoch with no end: the usual enrolment.
    pub fn enrol(key: PublicKey, holder: impl Into<String>, unit: impl Into<String>, roles: Vec<Role>) -> Body {
        Body::KeyEnrolled {
            key,
            holder: holder.into(),
            unit: unit.into(),
            roles,
            valid_from_ms: 0,
            valid_until_ms: None,
        }
    }

    /// The ids an accepted statement with this body creates, as its
    /// acknowledgement names them (`case_id`, `evidence_id`, `account_id`,
    /// `obligation_id`, `request_id`). `case_id` is the statement's. The
    /// rules report the same ids when they accept the entry; this lets a
    /// resubmission get the original acknowledgement back, ids included.
    pub fn created_ids(&self, case_id: &str) -> Vec<(&'static str, String)> {
        match self {
            Body::CaseOpened { .. } => vec![("case_id", case_id.to_string())],
            Body::EvidenceRegistered { evidence_id, .. } | Body::EvidenceDerived { evidence_id, .. } => {
                vec![("evidence_id", evidence_id.clone())]
            }
            Body::AccountOpened { account_id, .. } => vec![("account_id", account_id.clone())],
            Body::Obligation { obligation_id, .. } => vec![("obligation_id", obligation_id.clone())],
            Body::DisbursementRequested { request_id, .. } => vec![("request_id", request_id.clone())],
            _ => Vec::new(),
        }
    }

    /// The evidence item an evidence entry is about (`None` for other kinds).
    pub fn evidence_id(&self) -> Option<&str> {
        match self {
            Body::EvidenceRegistered { evidence_id, .. }
            | Body::EvidenceDerived { evidence_id, .. }
            | Body::Sealed { evidence_id, .. }
            | Body::Unsealed { evidence_id, .. }
            | Body::CustodyTransferred { evidence_id, .. }
            | Body::CustodyReceived { evidence_id, .. }
            | Body::EvidenceAccessed { evidence_id, .. }
            | Body::IntegrityChecked { evidence_id, .. }
            | Body::SubmittedToCourt { evidence_id, .. }
            | Body::Disposed { evidence_id, .. }
            | Body::LegalHold { evidence_id, .. }
            | Body::HoldReleased { evidence_id, .. } => Some(evidence_id),
            _ => None,
        }
    }

    pub fn kind(&self) -> crate::authority::Kind {
        use crate::authority::Kind;
        match self {
            Body::Genesis { .. } => Kind::Genesis,
            Body::KeyEnrolled { .. } => Kind::KeyEnrolled,
            Body::KeyRevoked { .. } => Kind::KeyRevoked,
            Body::Endorsed { .. } => Kind::Endorsed,
            Body::Correction { .. } => Kind::Correction,
            Body::CaseOpened { .. } => Kind::CaseOpened,
            Body::CaseEvent { .. } => Kind::CaseEvent,
            Body::EvidenceRegistered { .. } => Kind::EvidenceRegistered,
            Body::EvidenceDerived { .. } => Kind::EvidenceDerived,
            Body::Sealed { .. } => Kind::Sealed,
            Body::Unsealed { .. } => Kind::Unsealed,
            Body::CustodyTransferred { .. } => Kind::CustodyTransferred,
            Body::CustodyReceived { .. } => Kind::CustodyReceived,
            Body::EvidenceAccessed { .. } => Kind::EvidenceAccessed,
            Body::IntegrityChecked { .. } => Kind::IntegrityChecked,
            Body::SubmittedToCourt { .. } => Kind::SubmittedToCourt,
            Body::Disposed { .. } => Kind::Disposed,
            Body::LegalHold { .. } => Kind::LegalHold,
            Body::HoldReleased { .. } => Kind::HoldReleased,
            Body::AccountOpened { .. } => Kind::AccountOpened,
            Body::Obligation { .. } => Kind::Obligation,
            Body::FundReceipt { .. } => Kind::FundReceipt,
            Body::Remittance { .. } => Kind::Remittance,
            Body::DisbursementRequested { .. } => Kind::DisbursementRequested,
            Body::DisbursementApproved { .. } => Kind::DisbursementApproved,
            Body::DisbursementRejected { .. } => Kind::DisbursementRejected,
            Body::DisbursementPaid { .. } => Kind::DisbursementPaid,
            Body::DisbursementVoided { .. } => Kind::DisbursementVoided,
            Body::Reversal { .. } => Kind::Reversal,
            Body::Reconciled { .. } => Kind::Reconciled,
            Body::Published { .. } => Kind::Published,
            Body::AuditFinding { .. } => Kind::AuditFinding,
        }
    }
}

/// Why bytes were not accepted as canonical wire format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("input is {len} bytes, over the limit of {limit}")]
    TooLarge { len: usize, limit: usize },
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
    #[error("not canonical: re-encoding differs from the input")]
    NotCanonical,
    #[error("unsupported format version {0}")]
    UnsupportedFormat(u16),
}

fn config() -> impl bincode::config::Config {
    bincode::config::legacy().with_limit::<{ MAX_ENTRY_BYTES }>()
}

/// Canonical encoding of any wire type.
pub fn encode<T: Encode>(value: &T) -> Vec<u8> {
    // Encoding into a Vec cannot fail for our types (no custom encoders, all
    // sizes bounded by MAX_ENTRY_BYTES for values built by this crate).
    bincode::encode_to_vec(value, bincode::config::legacy()).expect("encoding wire types into a Vec is infallible")
}

/// Decode `bytes` as exactly one canonical `T`, bounded by `limit` bytes.
pub fn decode_canonical<T: Encode + Decode<()>>(bytes: &[u8], limit: usize) -> Result<T, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge { len: bytes.len(), limit });
    }
    let (value, used): (T, usize) =
        bincode::decode_from_slice(bytes, config()).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if used != bytes.len() {
        return Err(DecodeError::TrailingBytes(bytes.len() - used));
    }
    if encode(&value) != bytes {
        return Err(DecodeError::NotCanonical);
    }
    Ok(value)
}

impl Statement {
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }
    /// Decode a canonical v1 statement.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let s: Statement = decode_canonical(bytes, MAX_STATEMENT_BYTES)?;
        if s.format != FORMAT_V1 {
            return Err(DecodeError::UnsupportedFormat(s.format));
        }
        Ok(s)
    }
}

impl StatementHeader {
    /// Decode the header of a statement and return it with the raw body
    /// bytes that follow it (body tag first). The header is checked for
    /// canonical form; the body is opaque here.
    pub fn split(bytes: &[u8]) -> Result<(StatementHeader, &[u8]), DecodeError> {
        if bytes.len() > MAX_STATEMENT_BYTES {
            return Err(DecodeError::TooLarge { len: bytes.len(), limit: MAX_STATEMENT_BYTES });
        }
        let (h, used): (StatementHeader, usize) =
            bincode::decode_from_slice(bytes, config()).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        if encode(&h) != bytes[..used] {
            return Err(DecodeError::NotCanonical);
        }
        Ok((h, &bytes[used..]))
    }
}

impl Entry {
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }
    /// Decode a canonical v1 entry (the statement inside stays bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let e: Entry = decode_canonical(bytes, MAX_ENTRY_BYTES)?;
        if e.format != FORMAT_V1 {
            return Err(DecodeError::UnsupportedFormat(e.format));
        }
        if e.statement.len() > MAX_STATEMENT_BYTES {
            return Err(DecodeError::TooLarge { len: e.statement.len(), limit: MAX_STATEMENT_BYTES });
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests;
