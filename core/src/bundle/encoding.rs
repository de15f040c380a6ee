//! How bytes are spelled in a bundle (DESIGN §3.7, `schema/bundle.md` §3):
//! hashes and entries in lowercase hex only (upper case is refused, so one
//! byte string has one spelling), carried files in standard, padded,
//! canonical base64.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::de::Error;
use serde::{Deserialize, Deserializer};

fn decode<'de, D: Deserializer<'de>>(s: &str) -> Result<Vec<u8>, D::Error> {
    if !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(D::Error::custom("not lowercase hex"));
    }
    hex::decode(s).map_err(D::Error::custom)
}

fn hash32<'de, D: Deserializer<'de>>(s: &str) -> Result<[u8; 32], D::Error> {
    decode::<D>(s)?.try_into().map_err(|_| D::Error::custom("a hash is 32 bytes"))
}

/// Lowercase hex of any length.
pub mod bytes {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: super::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        super::decode::<D>(&<String as super::Deserialize>::deserialize(d)?)
    }
}

/// Lowercase hex of exactly 32 bytes.
pub mod hash {
    pub fn serialize<S: serde::Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: super::Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        super::hash32::<D>(&<String as super::Deserialize>::deserialize(d)?)
    }
}

/// A list of 32-byte hashes in lowercase hex.
pub mod hashes {
    use serde::ser::SerializeSeq;
    pub fn serialize<S: serde::Serializer>(v: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for h in v {
            seq.serialize_element(&hex::encode(h))?;
        }
        seq.end()
    }
    pub fn deserialize<'de, D: super::Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        let v = <Vec<String> as super::Deserialize>::deserialize(d)?;
        v.iter().map(|s| super::hash32::<D>(s)).collect()
    }
}

/// Standard base64 with padding, canonical: decoding and encoding again
/// gives the same text (no stray bits, no missing or extra padding, no
/// white space).
pub mod base64_std {
    use super::{Engine, B64};
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(v))
    }
    pub fn deserialize<'de, D: super::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        use serde::de::Error;
        let s = <String as super::Deserialize>::deserialize(d)?;
        let v = B64.decode(&s).map_err(|e| D::Error::custom(format!("not standard base64: {e}")))?;
        if B64.encode(&v) != s {
            return Err(D::Error::custom("not canonical base64"));
        }
        Ok(v)
    }
}
