//! A provider's `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an
//! HTTP-date, capped; anything else is ignored.

use std::time::{Duration, SystemTime};

/// How long `value` asks the caller to wait, measured from the wall clock
/// `now`, capped at `cap`. `None` for garbage, a negative number, or an
/// instant that is not in the future.
pub fn parse_retry_after(value: &str, now: SystemTime, cap: Duration) -> Option<Duration> {
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Any run of digits is a number of seconds; one too long for a u64
        // is simply "a long time".
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX).min(cap.as_secs()))
    } else {
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        let at = SystemTime::UNIX_EPOCH
            .checked_add(Duration::from_secs(u64::try_from(at.timestamp()).ok()?))?;
        at.duration_since(now).ok()?
    };
    (!wait.is_zero()).then(|| wait.min(cap))
}
