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

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's
/// days_from_civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A time as a person reads it, in the zone at `offset_min` minutes east of
/// UTC: `2026-11-27 11:41:38 +08:00`.
pub fn local_time(ms: u64, offset_min: i32) -> String {
    let shifted = ms as i64 + offset_min as i64 * 60_000;
    let s = rfc3339_ms(shifted.max(0) as u64);
    let sign = if offset_min < 0 { '-' } else { '+' };
    let off = offset_min.unsigned_abs();
    format!("{} {} {sign}{:02}:{:02}", &s[..10], &s[11..19], off / 60, off % 60)
}

/// Parse `+08:00`, `-05:30`, `Z`/`UTC`, or `Asia/Shanghai` (the one named
/// zone we know without a time-zone database: China has one offset and no
/// daylight saving) into minutes east of UTC.
pub fn parse_offset(s: &str) -> Result<i32, String> {
    let s = s.trim();
    match s {
        "Z" | "UTC" | "utc" | "Etc/UTC" => return Ok(0),
        "Asia/Shanghai" | "Asia/Chongqing" | "PRC" => return Ok(480),
        _ => {}
    }
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(format!("time zone {s:?}: use +HH:MM, -HH:MM, UTC or Asia/Shanghai")),
    };
    let (h, m) = rest.split_once(':').ok_or_else(|| format!("time zone {s:?}: use +HH:MM"))?;
    let (h, m): (i32, i32) = (
        h.parse().map_err(|_| format!("bad hours in {s:?}"))?,
        m.parse().map_err(|_| format!("bad minutes in {s:?}"))?,
    );
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return Err(format!("time zone {s:?} is out of range"));
    }
    Ok(sign * (h * 60 + m))
}

/// Parse an RFC 3339 time with its offset, `2026-11-20T10:30:00+08:00`
/// (seconds and a fraction optional, `Z` for UTC), into unix ms and the
/// offset in minutes. No leap seconds; years 1970–9999.
pub fn parse_rfc3339(s: &str) -> Result<(u64, i32), String> {
    let bad = || format!("{s:?} is not an RFC 3339 time like 2026-11-20T10:30:00+08:00");
    let s = s.trim();
    let split = s.rfind(['Z', 'z', '+']).or_else(|| s.rfind('-').filter(|&i| i > 10)).ok_or_else(bad)?;
    let (dt, off) = s.split_at(split);
    let offset = if off.eq_ignore_ascii_case("z") { 0 } else { parse_offset(off).map_err(|_| bad())? };
    let (date, time) = dt.split_once(['T', 't', ' ']).ok_or_else(bad)?;
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    if d.len() != 3 || !(2..=3).contains(&t.len()) {
        return Err(bad());
    }
    let num = |x: &str, lo: i64, hi: i64| x.parse::<i64>().ok().filter(|v| (lo..=hi).contains(v)).ok_or_else(bad);
    let (y, mo, day) = (num(d[0], 1970, 9999)?, num(d[1], 1, 12)?, num(d[2], 1, 31)?);
    let (h, mi) = (num(t[0], 0, 23)?, num(t[1], 0, 59)?);
    let (sec, frac_ms) = match t.get(2) {
        None => (0, 0),
        Some(x) => {
            let (w, f) = x.split_once('.').unwrap_or((x, ""));
            let frac = if f.is_empty() { 0 } else { num(&format!("{:0<3}", &f[..f.len().min(3)]), 0, 999)? };
            (num(w, 0, 59)?, frac)
        }
    };
    let days = days_from_civil(y, mo, day);
    if rfc3339_ms((days * 86_400_000) as u64)[8..10] != format!("{day:02}") {
        return Err(bad()); // 2026-02-30 and the like
    }
    let local_ms = days * 86_400_000 + (h * 3600 + mi * 60 + sec) * 1000 + frac_ms;
    let utc = local_ms - offset as i64 * 60_000;
    u64::try_from(utc).map(|ms| (ms, offset)).map_err(|_| bad())
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn rfc3339_with_offsets_round_trips_through_local_time() {
        let (ms, off) = parse_rfc3339("2026-11-20T10:30:00+08:00").unwrap();
        assert_eq!(off, 480);
        assert_eq!(rfc3339_ms(ms), "2026-11-20T02:30:00.000Z");
        assert_eq!(local_time(ms, off), "2026-11-20 10:30:00 +08:00");
        assert_eq!(parse_rfc3339("2026-11-20T02:30:00Z").unwrap(), (ms, 0));
        assert_eq!(parse_rfc3339("2026-11-19T21:30:00.5-05:00").unwrap().0, ms + 500);
        assert!(parse_rfc3339("2000-02-29T00:00").is_err(), "an offset is required");
        assert!(parse_rfc3339("2000-02-29T00:00+08:00").is_ok());
        for bad in ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "yesterday", "2026-11-20", "2026-11-20T25:00:00Z"] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_offset("Asia/Shanghai"), Ok(480));
        assert_eq!(parse_offset("-03:30"), Ok(-210));
        assert!(parse_offset("+25:00").is_err());
    }
}
