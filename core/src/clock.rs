//! The log's clock and how far it may be trusted (DESIGN §4, hardening).
//!
//! `recorded_at_ms` decides whether a key was within its validity window,
//! so one write under a wrong clock must not move the log's time for good.
//! The writer bounds its own clock three ways before it assigns
//! `recorded_at_ms` (refusing, never ratcheting), and the verifier flags
//! entries in the log that break the same bounds (warnings: entries written
//! by older builds stay readable).
//!
//! | rule | bound | refusal |
//! |---|---|---|
//! | writer clock vs the signer's `claimed_at_ms` | ± [`MAX_SKEW_MS`] | `clock_skew` |
//! | writer clock vs the head's `recorded_at_ms` (going back) | − [`MAX_SKEW_MS`] | `clock_behind_log` |
//! | writer clock vs the head's `recorded_at_ms` (jumping ahead) | + [`MAX_JUMP_MS`] | `clock_jump` |
//!
//! Within the backward tolerance the log time is `max(now, head)`, so it
//! never decreases.

/// Largest difference allowed between the writer's clock and the signer's
/// claimed time, and how far the writer's clock may lag the head: 5 minutes.
pub const MAX_SKEW_MS: u64 = 5 * 60 * 1000;

/// Largest forward step of the log's clock from one entry to the next, by
/// default: 90 days. It catches a signer and a writer that share one wrong
/// clock (the CLI signs and writes on one machine). A ledger idle for longer
/// needs the operator to raise it (the writer's configuration).
pub const MAX_JUMP_MS: u64 = 90 * 24 * 60 * 60 * 1000;

/// Why the writer refused to time-stamp a statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error("the ledger's clock ({now_ms} ms) and the signer's claimed time ({claimed_ms} ms) differ by more than {} s; check both clocks", MAX_SKEW_MS / 1000)]
    Skew { now_ms: u64, claimed_ms: u64 },
    #[error("the ledger's clock ({now_ms} ms) is behind the log's last entry ({head_ms} ms) by more than {} s; fix the clock", MAX_SKEW_MS / 1000)]
    BehindLog { now_ms: u64, head_ms: u64 },
    #[error("the ledger's clock ({now_ms} ms) is more than {} days ahead of the log's last entry ({head_ms} ms); a wrong clock would move the log's time for good", .max_jump_ms / 86_400_000)]
    Jump { now_ms: u64, head_ms: u64, max_jump_ms: u64 },
}

impl ClockError {
    pub fn code(&self) -> &'static str {
        match self {
            ClockError::Skew { .. } => "clock_skew",
            ClockError::BehindLog { .. } => "clock_behind_log",
            ClockError::Jump { .. } => "clock_jump",
        }
    }
}

/// The `recorded_at_ms` to give a statement signed at `claimed_ms`, when the
/// writer's clock reads `now_ms` and the log's last entry was recorded at
/// `head_ms` (`None` for the genesis). `max_jump_ms` is normally
/// [`MAX_JUMP_MS`].
pub fn record_time(now_ms: u64, claimed_ms: u64, head_ms: Option<u64>, max_jump_ms: u64) -> Result<u64, ClockError> {
    if now_ms.abs_diff(claimed_ms) > MAX_SKEW_MS {
        return Err(ClockError::Skew { now_ms, claimed_ms });
    }
    let Some(head_ms) = head_ms else { return Ok(now_ms) };
    if now_ms.saturating_add(MAX_SKEW_MS) < head_ms {
        return Err(ClockError::BehindLog { now_ms, head_ms });
    }
    if now_ms > head_ms.saturating_add(max_jump_ms) {
        return Err(ClockError::Jump { now_ms, head_ms, max_jump_ms });
    }
    Ok(now_ms.max(head_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_800_000_000_000;
    const YEAR_2099: u64 = 4_070_908_800_000;

    #[test]
    fn a_clock_set_to_2099_is_refused_not_ratcheted() {
        // Signer and writer share the wrong clock: only the jump rule sees it.
        assert_eq!(record_time(YEAR_2099, YEAR_2099, Some(T), MAX_JUMP_MS).unwrap_err().code(), "clock_jump");
        // Only the writer's clock is wrong: the skew rule sees it.
        assert_eq!(record_time(YEAR_2099, T, Some(T), MAX_JUMP_MS).unwrap_err().code(), "clock_skew");
    }

    #[test]
    fn small_lag_keeps_the_log_monotone_and_large_lag_is_refused() {
        assert_eq!(record_time(T - 1000, T - 1000, Some(T), MAX_JUMP_MS), Ok(T));
        assert_eq!(
            record_time(T - MAX_SKEW_MS - 1, T - MAX_SKEW_MS - 1, Some(T), MAX_JUMP_MS).unwrap_err().code(),
            "clock_behind_log"
        );
    }

    #[test]
    fn bounds_are_inclusive_and_genesis_has_no_head() {
        assert_eq!(record_time(T + MAX_SKEW_MS, T, None, MAX_JUMP_MS), Ok(T + MAX_SKEW_MS));
        assert_eq!(record_time(T + MAX_JUMP_MS, T + MAX_JUMP_MS, Some(T), MAX_JUMP_MS), Ok(T + MAX_JUMP_MS));
        assert!(record_time(u64::MAX, u64::MAX, Some(0), MAX_JUMP_MS).is_err());
    }
}
