//! Fund-side index records and look-ups (`schema/fund.md`): one record per
//! account, per request, per obligation and per case, one per money-moving
//! entry, plus bank references and reversed amounts. Re-exported by
//! [`super::index`].

use bincode::{Decode, Encode};

use super::index::{be_u64, unrec, BackendError, IndexRead, Ns};
use crate::wire::{AccountKind, Hash32, PublicKey};

/// The four balances of an account, after TigerBeetle, in fen. A transfer
/// debits one account and credits another by the same amount, first as
/// *pending* (a reservation) or straight away as *posted*.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, serde::Serialize)]
pub struct AccountBalance {
    pub debits_posted: u64,
    pub credits_posted: u64,
    pub debits_pending: u64,
    pub credits_pending: u64,
}

impl AccountBalance {
    /// What may still be paid out: credits posted − debits posted − debits
    /// pending. Negative only for an account without `no_overdraft`.
    pub fn available(&self) -> i128 {
        i128::from(self.credits_posted) - i128::from(self.debits_posted) - i128::from(self.debits_pending)
    }

    /// Credits posted − debits posted: what a bank statement shows.
    pub fn posted(&self) -> i128 {
        i128::from(self.credits_posted) - i128::from(self.debits_posted)
    }
}

/// A reconciliation with a bank statement.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Reconciliation {
    pub seq: u64,
    pub period_from_ms: u64,
    pub period_to_ms: u64,
    pub balance_fen: u64,
}

/// One fund account as the rules see it now.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct AccountRecord {
    pub account_id: String,
    pub kind: AccountKind,
    pub name: String,
    /// The case a `case` account belongs to; empty for other kinds.
    pub case_id: String,
    pub no_overdraft: bool,
    /// Approval stages a disbursement from this account needs.
    pub stages: u8,
    pub opened_seq: u64,
    pub opened_hash: Hash32,
    pub balance: AccountBalance,
    /// Money-moving entries that touched this account.
    pub movements: u64,
    /// The last reconciliation, if any.
    pub reconciled: Option<Reconciliation>,
}

/// Where a disbursement request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestStatus {
    /// Waiting for stage `approvals.len() + 1`.
    Pending,
    /// Every stage approved; may be paid or voided.
    Approved,
    /// A stage rejected it; only a void (which releases it) remains.
    Rejected,
    /// Settled by a payment.
    Paid,
    /// Settled by a void.
    Voided,
}

impl RequestStatus {
    pub fn is_settled(self) -> bool {
        matches!(self, RequestStatus::Paid | RequestStatus::Voided)
    }
}

/// One stage's decision (an approval, or the rejection).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Approval {
    pub stage: u8,
    pub key: PublicKey,
    /// The signer's enrolled holder name.
    pub holder: String,
    pub seq: u64,
}

/// One disbursement request: a pending transfer `from` → `to` and its
/// approvals and settlement.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct RequestRecord {
    pub request_id: String,
    pub case_id: String,
    pub from: String,
    pub to: String,
    /// Requested (and reserved) amount.
    pub amount_fen: u64,
    pub purpose: String,
    pub requester: PublicKey,
    pub requester_holder: String,
    pub requested_seq: u64,
    pub requested_hash: Hash32,
    /// Stages needed (the `from` account's, when requested).
    pub stages: u8,
    /// Approvals so far, stage 1 first.
    pub approvals: Vec<Approval>,
    pub rejection: Option<Approval>,
    pub status: RequestStatus,
    /// The amount approved: `amount_fen` once every stage approved, else 0.
    pub approved_fen: u64,
    pub paid_fen: u64,
    /// The payment or void, and who signed it.
    pub settled_seq: Option<u64>,
    pub settled_hash: Option<Hash32>,
    pub settled_by: Option<PublicKey>,
    pub settled_by_holder: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ObligationRecord {
    pub obligation_id: String,
    pub case_id: String,
    pub payer: String,
    pub amount_fen: u64,
    pub designated_use: String,
    pub due_ms: u64,
    pub judgment: Option<Hash32>,
    pub seq: u64,
    pub entry_hash: Hash32,
}

/// A designated use ordered on a case, and the seq of the first obligation
/// that named it (from then on requests on the case must match a use).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct DesignatedUse {
    pub designated_use: String,
    pub since_seq: u64,
}

/// A case's fund side: its obligations and their designated uses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct FundCaseRecord {
    pub obligations: Vec<String>,
    pub uses: Vec<DesignatedUse>,
    /// Total ordered, in fen.
    pub ordered_fen: u64,
}

/// What a money-moving entry did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MovementKind {
    /// `FundReceipt`: posted, payer → fund/case.
    Receipt,
    /// `Remittance`: posted, fund/case → treasury.
    Remittance,
    /// `DisbursementRequested`: pending, fund/case → payee.
    Reserve,
    /// `DisbursementPaid`: posts the paid amount, releases the reservation.
    Post,
    /// `DisbursementVoided`: releases the reservation.
    Release,
    /// `Reversal`: posted, the opposite of the original.
    Reversal,
}

/// One money-moving entry, as double entry: `debit` is debited and
/// `credit` credited by `posted_fen` (posted) and by `reserved_fen −
/// released_fen` (pending).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Movement {
    pub seq: u64,
    pub entry_hash: Hash32,
    pub kind: MovementKind,
    pub case_id: String,
    pub debit: String,
    pub credit: String,
    pub posted_fen: u64,
    pub reserved_fen: u64,
    pub released_fen: u64,
    /// The request, for `Reserve`, `Post` and `Release`; else empty.
    pub request_id: String,
    /// The reversed entry, for `Reversal`.
    pub original: Option<Hash32>,
    pub bank_ref: String,
}

/// `id ‖ 0xFF ‖ suffix`: keys under one account (0xFF never occurs in UTF-8,
/// so one account's prefix never runs into another's).
pub fn account_key(account_id: &str, suffix: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(account_id.len() + 1 + suffix.len());
    k.extend_from_slice(account_id.as_bytes());
    k.push(0xFF);
    k.extend_from_slice(suffix);
    k
}

pub fn account_record(
    view: &(impl IndexRead + ?Sized),
    account_id: &str,
) -> Result<Option<AccountRecord>, BackendError> {
    view.get(Ns::Account, account_id.as_bytes())?.map(|b| unrec(Ns::Account, &b)).transpose()
}

pub fn request_record(
    view: &(impl IndexRead + ?Sized),
    request_id: &str,
) -> Result<Option<RequestRecord>, BackendError> {
    view.get(Ns::Request, request_id.as_bytes())?.map(|b| unrec(Ns::Request, &b)).transpose()
}

pub fn obligation_record(
    view: &(impl IndexRead + ?Sized),
    obligation_id: &str,
) -> Result<Option<ObligationRecord>, BackendError> {
    view.get(Ns::Obligation, obligation_id.as_bytes())?.map(|b| unrec(Ns::Obligation, &b)).transpose()
}

pub fn fund_case_record(
    view: &(impl IndexRead + ?Sized),
    case_id: &str,
) -> Result<Option<FundCaseRecord>, BackendError> {
    view.get(Ns::FundCase, case_id.as_bytes())?.map(|b| unrec(Ns::FundCase, &b)).transpose()
}

/// The movement a money-moving entry made, by its entry hash.
pub fn movement(view: &(impl IndexRead + ?Sized), entry_hash: &Hash32) -> Result<Option<Movement>, BackendError> {
    view.get(Ns::Movement, entry_hash)?.map(|b| unrec(Ns::Movement, &b)).transpose()
}

/// Fen of the movement at `entry_hash` reversed so far.
pub fn reversed_fen(view: &(impl IndexRead + ?Sized), entry_hash: &Hash32) -> Result<u64, BackendError> {
    match view.get(Ns::Reversed, entry_hash)? {
        None => Ok(0),
        Some(b) => be_u64(&b).ok_or_else(|| BackendError("corrupt reversed index record".into())),
    }
}

/// The seq that used `bank_ref` on `account_id`, if any.
pub fn bank_ref_seq(
    view: &(impl IndexRead + ?Sized),
    account_id: &str,
    bank_ref: &str,
) -> Result<Option<u64>, BackendError> {
    match view.get(Ns::BankRef, &account_key(account_id, bank_ref.as_bytes()))? {
        None => Ok(None),
        Some(b) => be_u64(&b).map(Some).ok_or_else(|| BackendError("corrupt bank_ref index record".into())),
    }
}

/// The seq a fund index record derives from, where the record says.
pub(super) fn record_seq(ns: Ns, key: &[u8], value: &[u8]) -> Option<u64> {
    match ns {
        Ns::Account => unrec::<AccountRecord>(ns, value).ok().map(|r| r.opened_seq),
        Ns::Request => unrec::<RequestRecord>(ns, value).ok().map(|r| r.requested_seq),
        Ns::Obligation => unrec::<ObligationRecord>(ns, value).ok().map(|r| r.seq),
        Ns::Movement => unrec::<Movement>(ns, value).ok().map(|r| r.seq),
        Ns::AccountMovement => key.len().checked_sub(8).and_then(|i| be_u64(&key[i..])),
        Ns::BankRef => be_u64(value),
        _ => None,
    }
}

/// Decode a stored fund record (for readers outside the rules: the CLI's
/// statements and the auditor).
pub fn decode_fund_record<T: Encode + Decode<()>>(ns: Ns, bytes: &[u8]) -> Result<T, BackendError> {
    unrec(ns, bytes)
}
