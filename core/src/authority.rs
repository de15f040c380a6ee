//! Roles, entry kinds and the one table of which role may sign which kind
//! (DESIGN §4; human version in `schema/roles.md`, kept equal by a test).

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

/// A role a key may hold. Wire tags are the declaration order: append only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    KeyOfficer,
    Prosecutor,
    Assistant,
    Custodian,
    Approver,
    CourtLiaison,
    Finance,
    FinanceReviewer,
    Auditor,
    Publisher,
}

pub const ALL_ROLES: [Role; 10] = [
    Role::KeyOfficer,
    Role::Prosecutor,
    Role::Assistant,
    Role::Custodian,
    Role::Approver,
    Role::CourtLiaison,
    Role::Finance,
    Role::FinanceReviewer,
    Role::Auditor,
    Role::Publisher,
];

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::KeyOfficer => "key-officer",
            Role::Prosecutor => "prosecutor",
            Role::Assistant => "assistant",
            Role::Custodian => "custodian",
            Role::Approver => "approver",
            Role::CourtLiaison => "court-liaison",
            Role::Finance => "finance",
            Role::FinanceReviewer => "finance-reviewer",
            Role::Auditor => "auditor",
            Role::Publisher => "publisher",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ALL_ROLES.iter().copied().find(|r| r.as_str() == s.trim()).ok_or_else(|| {
            let names: Vec<_> = ALL_ROLES.iter().map(|r| r.as_str()).collect();
            format!("unknown role {s:?}; roles are {}", names.join(", "))
        })
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of an entry (the `Body` variant without its fields). The
/// declaration order is the wire tag of the matching `Body` variant; it is
/// pinned by [`KINDS`] and by a test against `schema/wire-format.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub enum Kind {
    Genesis,
    KeyEnrolled,
    KeyRevoked,
    Endorsed,
    Correction,
    CaseOpened,
    CaseEvent,
    EvidenceRegistered,
    EvidenceDerived,
    Sealed,
    Unsealed,
    CustodyTransferred,
    CustodyReceived,
    EvidenceAccessed,
    IntegrityChecked,
    SubmittedToCourt,
    Disposed,
    LegalHold,
    HoldReleased,
    AccountOpened,
    Obligation,
    FundReceipt,
    Remittance,
    DisbursementRequested,
    DisbursementApproved,
    DisbursementRejected,
    DisbursementPaid,
    DisbursementVoided,
    Reversal,
    Reconciled,
    Published,
    AuditFinding,
}

/// One row of the kind table: each kind is declared here once, with its
/// wire tag, its name and the roles that may sign it.
#[derive(Clone, Copy, Debug)]
pub struct KindInfo {
    pub kind: Kind,
    /// The u32 enum tag of the `Body` variant on the wire.
    pub tag: u32,
    pub name: &'static str,
    /// Which roles may sign this kind (`schema/roles.md`).
    pub roles: &'static [Role],
}

use Role::*;

/// The table: which role may sign which kind. `Genesis` is signed by the
/// first key officer, whose authority is the genesis itself. Anyone
/// enrolled may endorse or correct; *whose* endorsement counts (a different
/// key and holder) and who may correct what are rules in `state`.
pub const KINDS: [KindInfo; 32] = [
    KindInfo { kind: Kind::Genesis, tag: 0, name: "Genesis", roles: &[KeyOfficer] },
    KindInfo { kind: Kind::KeyEnrolled, tag: 1, name: "KeyEnrolled", roles: &[KeyOfficer] },
    KindInfo { kind: Kind::KeyRevoked, tag: 2, name: "KeyRevoked", roles: &[KeyOfficer] },
    KindInfo { kind: Kind::Endorsed, tag: 3, name: "Endorsed", roles: &ALL_ROLES },
    KindInfo { kind: Kind::Correction, tag: 4, name: "Correction", roles: &ALL_ROLES },
    KindInfo { kind: Kind::CaseOpened, tag: 5, name: "CaseOpened", roles: &[Prosecutor] },
    // Evidence side (schema/evidence.md).
    KindInfo { kind: Kind::CaseEvent, tag: 6, name: "CaseEvent", roles: &[Prosecutor, Assistant, CourtLiaison] },
    KindInfo {
        kind: Kind::EvidenceRegistered,
        tag: 7,
        name: "EvidenceRegistered",
        roles: &[Prosecutor, Assistant, Custodian],
    },
    KindInfo {
        kind: Kind::EvidenceDerived,
        tag: 8,
        name: "EvidenceDerived",
        roles: &[Prosecutor, Assistant, Custodian],
    },
    KindInfo { kind: Kind::Sealed, tag: 9, name: "Sealed", roles: &[Custodian, Prosecutor, Assistant] },
    KindInfo { kind: Kind::Unsealed, tag: 10, name: "Unsealed", roles: &[Custodian, Prosecutor] },
    KindInfo {
        kind: Kind::CustodyTransferred,
        tag: 11,
        name: "CustodyTransferred",
        roles: &[Custodian, Prosecutor, Assistant, CourtLiaison],
    },
    KindInfo {
        kind: Kind::CustodyReceived,
        tag: 12,
        name: "CustodyReceived",
        roles: &[Custodian, Prosecutor, Assistant, CourtLiaison],
    },
    KindInfo {
        kind: Kind::EvidenceAccessed,
        tag: 13,
        name: "EvidenceAccessed",
        roles: &[Prosecutor, Assistant, Custodian, CourtLiaison, Auditor],
    },
    KindInfo {
        kind: Kind::IntegrityChecked,
        tag: 14,
        name: "IntegrityChecked",
        roles: &[Custodian, Auditor, Prosecutor, Assistant],
    },
    KindInfo { kind: Kind::SubmittedToCourt, tag: 15, name: "SubmittedToCourt", roles: &[CourtLiaison, Prosecutor] },
    KindInfo { kind: Kind::Disposed, tag: 16, name: "Disposed", roles: &[Custodian] },
    KindInfo { kind: Kind::LegalHold, tag: 17, name: "LegalHold", roles: &[Prosecutor, Approver] },
    KindInfo { kind: Kind::HoldReleased, tag: 18, name: "HoldReleased", roles: &[Prosecutor, Approver] },
    // Fund side (schema/fund.md).
    KindInfo { kind: Kind::AccountOpened, tag: 19, name: "AccountOpened", roles: &[Finance] },
    KindInfo { kind: Kind::Obligation, tag: 20, name: "Obligation", roles: &[Prosecutor, CourtLiaison, Finance] },
    KindInfo { kind: Kind::FundReceipt, tag: 21, name: "FundReceipt", roles: &[Finance] },
    KindInfo { kind: Kind::Remittance, tag: 22, name: "Remittance", roles: &[Finance] },
    KindInfo {
        kind: Kind::DisbursementRequested,
        tag: 23,
        name: "DisbursementRequested",
        roles: &[Prosecutor, Finance],
    },
    KindInfo {
        kind: Kind::DisbursementApproved,
        tag: 24,
        name: "DisbursementApproved",
        roles: &[Approver, FinanceReviewer],
    },
    KindInfo {
        kind: Kind::DisbursementRejected,
        tag: 25,
        name: "DisbursementRejected",
        roles: &[Approver, FinanceReviewer],
    },
    KindInfo { kind: Kind::DisbursementPaid, tag: 26, name: "DisbursementPaid", roles: &[Finance] },
    KindInfo { kind: Kind::DisbursementVoided, tag: 27, name: "DisbursementVoided", roles: &[Finance, Approver] },
    KindInfo { kind: Kind::Reversal, tag: 28, name: "Reversal", roles: &[Finance] },
    KindInfo { kind: Kind::Reconciled, tag: 29, name: "Reconciled", roles: &[Finance, FinanceReviewer] },
    KindInfo { kind: Kind::Published, tag: 30, name: "Published", roles: &[Publisher] },
    KindInfo { kind: Kind::AuditFinding, tag: 31, name: "AuditFinding", roles: &[Auditor] },
];

impl Kind {
    /// Every kind, in wire-tag order.
    pub fn all() -> impl Iterator<Item = Kind> {
        KINDS.iter().map(|k| k.kind)
    }

    /// This kind's row of [`KINDS`].
    pub fn info(self) -> &'static KindInfo {
        &KINDS[self as usize]
    }

    pub fn as_str(self) -> &'static str {
        self.info().name
    }

    /// The roles that may sign this kind.
    pub fn allowed_roles(self) -> &'static [Role] {
        self.info().roles
    }

    pub fn allows(self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.allowed_roles().contains(r))
    }
}

/// The capacity in which a second person endorses an entry (`Endorsed`).
/// On the wire it is the kebab-case string; the rules parse it into this
/// enum and give each capacity to the domain that gives it an effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Capacity {
    /// A second key officer co-signs an enrolment (activates a pending
    /// key-officer enrolment; vets any other enrolment).
    KeyOfficer,
    /// A witness to the endorsed act; a recorded fact.
    Witness,
    /// The second collector of a piece of evidence (evidence rules).
    SecondCollector,
    /// The receiver of a custody handover (evidence rules).
    CustodyReceiver,
    /// An approver's approval of an earlier request.
    Approver,
    /// The second person on a finance record (fund rules).
    FinanceReviewer,
}

pub const ALL_CAPACITIES: [Capacity; 6] = [
    Capacity::KeyOfficer,
    Capacity::Witness,
    Capacity::SecondCollector,
    Capacity::CustodyReceiver,
    Capacity::Approver,
    Capacity::FinanceReviewer,
];

impl Capacity {
    pub fn as_str(self) -> &'static str {
        match self {
            Capacity::KeyOfficer => "key-officer",
            Capacity::Witness => "witness",
            Capacity::SecondCollector => "second-collector",
            Capacity::CustodyReceiver => "custody-receiver",
            Capacity::Approver => "approver",
            Capacity::FinanceReviewer => "finance-reviewer",
        }
    }

    /// The exact wire string, nothing else (no trimming, no case folding:
    /// the signed bytes are what a court reads).
    pub fn parse(s: &str) -> Option<Capacity> {
        ALL_CAPACITIES.iter().copied().find(|c| c.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_table_rows_are_in_tag_order() {
        for (i, row) in KINDS.iter().enumerate() {
            assert_eq!(row.kind as usize, i, "{}", row.name);
            assert_eq!(row.tag as usize, i, "{}", row.name);
            assert_eq!(format!("{:?}", row.kind), row.name);
        }
    }

    #[test]
    fn capacities_round_trip_and_reject_variants() {
        for c in ALL_CAPACITIES {
            assert_eq!(Capacity::parse(c.as_str()), Some(c));
        }
        assert_eq!(Capacity::parse("Key-Officer"), None);
        assert_eq!(Capacity::parse(" witness"), None);
        assert_eq!(Capacity::parse(""), None);
    }
}
