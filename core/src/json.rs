//! JSON views (DESIGN §3.7): hashes, keys and bytes as lowercase hex, times
//! as unix ms plus an RFC 3339 string where a person reads them.

use serde_json::{json, Value};

use crate::wire::{Entry, Hash32, Statement};

/// `2026-11-27T03:21:38.123Z` for unix milliseconds (UTC, proleptic
/// Gregorian; no leap seconds, as unix time).
pub fn rfc3339_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, (rem % 3600) / 60, rem % 60, ms % 1000)
}

pub fn statement_json(st: &Statement) -> Value {
    json!({
        "format": st.format,
        "origin": st.origin,
        "author": hex::encode(st.author),
        "claimed_at_ms": st.claimed_at_ms,
        "claimed_at": rfc3339_ms(st.claimed_at_ms),
        "nonce": hex::encode(st.nonce),
        "case_id": st.case_id,
        "body": serde_json::to_value(&st.body).expect("body serialises"),
    })
}

/// The decoded entry with its statement (if the statement decodes).
pub fn entry_json(entry: &Entry, hash: &Hash32) -> Value {
    let statement = match Statement::from_bytes(&entry.statement) {
        Ok(st) => statement_json(&st),
        Err(e) => json!({ "undecodable": e.to_string() }),
    };
    json!({
        "seq": entry.seq,
        "hash": hex::encode(hash),
        "prev": hex::encode(entry.prev),
        "recorded_at_ms": entry.recorded_at_ms,
        "recorded_at": rfc3339_ms(entry.recorded_at_ms),
        "statement": statement,
        "statement_hex": hex::encode(&entry.statement),
        "signature": hex::encode(entry.signature),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339() {
        assert_eq!(super::rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::rfc3339_ms(1_795_750_898_123), "2026-11-27T03:41:38.123Z");
        assert_eq!(super::rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
