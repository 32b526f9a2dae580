//! Request limits kept in the server's memory: the throttle key of a client
//! address, and a fixed-window counter per key (used where a refusal must
//! come before any database work, as for public survey submissions).

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::error::ApiError;

/// The throttle key of a client address: an IPv6 client controls its whole
/// /64, so the /64 is throttled.
pub fn address_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        v4 => format!("ip:{v4}"),
    }
}

/// At most `limit` hits per key in each `window`. The table holds at most
/// `max_keys` keys: when a new key finds it full, keys whose window ended
/// are dropped (at most once a second); if it is still full, every count is
/// forgotten. A flood of fresh keys can neither grow memory nor lock
/// anyone out; it can only make the limit forget.
#[derive(Debug)]
pub struct WindowLimiter {
    limit: u32,
    window: Duration,
    max_keys: usize,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    counts: HashMap<String, (Instant, u32)>,
    swept: Option<Instant>,
}

impl WindowLimiter {
    pub fn new(limit: u32, window: Duration, max_keys: usize) -> Self {
        WindowLimiter {
            limit,
            window,
            max_keys,
            table: Mutex::new(Table::default()),
        }
    }

    /// Counts a hit for `key`; RESOURCE_EXHAUSTED with the time until the
    /// key's window ends when it is over the limit.
    pub fn hit(&self, key: &str, what: &'static str) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut table = self
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Table { counts, swept } = &mut *table;
        if counts.len() >= self.max_keys && !counts.contains_key(key) {
            if swept.is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1)) {
                counts.retain(|_, (start, _)| now.duration_since(*start) < self.window);
                *swept = Some(now);
            }
            if counts.len() >= self.max_keys {
                counts.clear();
            }
        }
        let entry = counts.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            return Err(throttled(
                what,
                self.window.saturating_sub(now.duration_since(entry.0)),
            ));
        }
        entry.1 += 1;
        Ok(())
    }
}

fn throttled(what: &'static str, retry_after: Duration) -> ApiError {
    ApiError::Throttled {
        reason: crate::error::Reason::RateLimited,
        message: what.into(),
        retry_after: retry_after.max(Duration::from_secs(1)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_throttled_per_slash_64_and_ipv4_per_address() {
        let a = address_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = address_key("2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap());
        let other = address_key("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_eq!(a, "ip:2001:db8:1:2::/64");
        assert_ne!(a, other);
        let mapped = address_key("::ffff:203.0.113.7".parse().unwrap());
        assert_eq!(
            mapped, "ip:203.0.113.7",
            "an IPv4-mapped address is its IPv4 address"
        );
    }

    #[test]
    fn a_key_is_refused_past_its_limit_and_other_keys_are_not() {
        let limiter = WindowLimiter::new(2, Duration::from_secs(60), 10);
        assert!(limiter.hit("a", "x").is_ok());
        assert!(limiter.hit("a", "x").is_ok());
        let refused = limiter.hit("a", "x").unwrap_err();
        assert!(
            matches!(refused, ApiError::Throttled { retry_after, .. } if retry_after >= Duration::from_secs(1))
        );
        assert!(limiter.hit("b", "x").is_ok());
    }

    #[test]
    fn a_full_table_never_refuses_a_new_key_and_stays_bounded() {
        let limiter = WindowLimiter::new(1, Duration::from_secs(60), 3);
        for key in ["a", "b", "c"] {
            assert!(limiter.hit(key, "x").is_ok());
        }
        assert!(
            limiter.hit("a", "x").is_err(),
            "a counts while the table holds"
        );
        // A fourth key finds the table full of live windows: counts are
        // forgotten rather than the newcomer refused.
        for i in 0..100 {
            assert!(limiter.hit(&format!("new{i}"), "x").is_ok());
            let len = limiter.table.lock().unwrap().counts.len();
            assert!(len <= 3, "{len} keys");
        }
    }
}
