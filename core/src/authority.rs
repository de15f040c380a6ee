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

/// The kind of an entry (the `Body` variant without its fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Genesis,
    KeyEnrolled,
    KeyRevoked,
    Endorsed,
    Correction,
    CaseOpened,
}

pub const ALL_KINDS: [Kind; 6] =
    [Kind::Genesis, Kind::KeyEnrolled, Kind::KeyRevoked, Kind::Endorsed, Kind::Correction, Kind::CaseOpened];

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Genesis => "Genesis",
            Kind::KeyEnrolled => "KeyEnrolled",
            Kind::KeyRevoked => "KeyRevoked",
            Kind::Endorsed => "Endorsed",
            Kind::Correction => "Correction",
            Kind::CaseOpened => "CaseOpened",
        }
    }

    /// The role table: which roles may sign this kind. `Genesis` is signed by
    /// the first key officer, whose authority is the genesis itself.
    pub fn allowed_roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Kind::Genesis | Kind::KeyEnrolled | Kind::KeyRevoked => &[KeyOfficer],
            // Anyone enrolled may endorse or correct; the rules for *whose*
            // endorsement counts (different key and holder) and who may
            // correct what are in `state`.
            Kind::Endorsed | Kind::Correction => &ALL_ROLES,
            Kind::CaseOpened => &[Prosecutor],
        }
    }

    pub fn allows(self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.allowed_roles().contains(r))
    }
}
