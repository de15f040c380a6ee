//! Wire types of the fund kinds (`schema/fund.md`): the account kind, and
//! the JSON forms of optional and listed hashes.

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use super::Hash32;

/// The kind of a fund account (`AccountOpened`). Wire tags: declaration
/// order, append only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountKind {
    /// The centrally managed damages fund.
    Fund,
    /// A case's sub-account.
    Case,
    /// An external payer (a defendant ordered to pay).
    Payer,
    /// An external payee (a restoration contractor, a victim).
    Payee,
    /// The state treasury (remittances).
    Treasury,
}

pub const ALL_ACCOUNT_KINDS: [AccountKind; 5] =
    [AccountKind::Fund, AccountKind::Case, AccountKind::Payer, AccountKind::Payee, AccountKind::Treasury];

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Fund => "fund",
            AccountKind::Case => "case",
            AccountKind::Payer => "payer",
            AccountKind::Payee => "payee",
            AccountKind::Treasury => "treasury",
        }
    }

    /// The procuratorate's own managed accounts: money is received into
    /// them and disbursed from them.
    pub fn is_managed(self) -> bool {
        matches!(self, AccountKind::Fund | AccountKind::Case)
    }
}

impl std::str::FromStr for AccountKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ALL_ACCOUNT_KINDS
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown account kind {s:?}; kinds are fund, case, payer, payee, treasury"))
    }
}

/// `Option<[u8; 32]>` as a lowercase hex string or null.
pub(super) mod hex_opt32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(h) => s.serialize_some(&hex::encode(h)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 32]>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(t) => super::hex32(&t).map(Some).map_err(serde::de::Error::custom),
        }
    }
}

/// `Vec<[u8; 32]>` as a list of lowercase hex strings.
pub(super) mod hex_vec32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(hex::encode))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        Vec::<String>::deserialize(d)?.iter().map(|t| super::hex32(t).map_err(serde::de::Error::custom)).collect()
    }
}

fn hex32(t: &str) -> Result<Hash32, String> {
    let mut h = [0u8; 32];
    hex::decode_to_slice(t, &mut h).map_err(|e| format!("expected 64 hex digits: {e}"))?;
    Ok(h)
}
