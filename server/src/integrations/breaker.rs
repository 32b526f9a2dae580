//! A circuit breaker per provider: after a run of failures the provider is
//! not called for a cool-down, so a failing provider does not stall every
//! caller. Per replica, in memory (a breaker is about this process's view).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Consecutive failures that open the breaker.
pub const FAILURE_THRESHOLD: u32 = 3;
/// How long an open breaker refuses calls.
pub const COOL_DOWN: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct Health {
    failures: u32,
    open_until: Option<Instant>,
}

/// Breakers by provider id.
#[derive(Debug, Default)]
pub struct Breakers {
    inner: Mutex<HashMap<String, Health>>,
}

impl Breakers {
    /// Whether a call to `provider` may be made now (half-open after the
    /// cool-down: one call is let through to probe).
    pub fn allow(&self, provider: &str) -> bool {
        let Ok(mut map) = self.inner.lock() else {
            return true;
        };
        let h = map.entry(provider.to_owned()).or_default();
        match h.open_until {
            Some(until) if Instant::now() < until => false,
            Some(_) => {
                h.open_until = None;
                true
            }
            None => true,
        }
    }

    pub fn success(&self, provider: &str) {
        if let Ok(mut map) = self.inner.lock() {
            map.insert(provider.to_owned(), Health::default());
        }
    }

    pub fn failure(&self, provider: &str) {
        if let Ok(mut map) = self.inner.lock() {
            let h = map.entry(provider.to_owned()).or_default();
            h.failures += 1;
            if h.failures >= FAILURE_THRESHOLD {
                h.open_until = Some(Instant::now() + COOL_DOWN);
                h.failures = 0;
                tracing::warn!(provider, "circuit breaker open: provider calls paused");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_after_consecutive_failures_and_a_success_resets_it() {
        let b = Breakers::default();
        assert!(b.allow("stripe"));
        b.failure("stripe");
        b.failure("stripe");
        b.success("stripe");
        b.failure("stripe");
        b.failure("stripe");
        assert!(
            b.allow("stripe"),
            "two failures after a success do not open it"
        );
        b.failure("stripe");
        assert!(!b.allow("stripe"), "the third consecutive failure opens it");
        assert!(b.allow("hubspot"), "breakers are per provider");
    }
}
