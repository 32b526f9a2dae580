//! A circuit breaker per provider on every outbound call, so a failing
//! provider does not stall every caller. Per replica, in memory (a breaker
//! is this process's view of the provider).
//!
//! The policy ([`BreakerPolicy::default`], after resilience4j's defaults):
//! - **Closed**: outcomes are kept in a sliding window of the last 60 s
//!   (per-second buckets). The breaker opens when at least 50 % of the
//!   window's calls failed and the window holds at least 10 calls, or on 5
//!   consecutive failures.
//! - **Open** for 60 s, or until the provider's 429 `Retry-After` if that is
//!   later (seconds or HTTP-date, capped at 1 hour, garbage ignored). A 429
//!   with a `Retry-After` opens the breaker at once, whatever the rate.
//! - **Half-open** once the open time is over: exactly one probe call at a
//!   time is let through, others are refused. Its success closes the breaker
//!   (window cleared); its failure opens it again for a full 60 s. A probe
//!   whose caller drops it without reporting (a cancelled future) frees the
//!   slot through its permit's `Drop`; a leaked permit frees it after 30 s.
//!
//! Only provider-wide trouble counts as a failure: transport errors, 5xx and
//! 429. A 4xx about one tenant's grant means the provider answered.
//!
//! Every method takes the current [`Instant`] explicitly (`*_at`) so tests
//! drive a fake clock; the plain methods use [`Instant::now`]. Providers are
//! keyed by id; the ids come from the server's configuration.

mod retry_after;
mod state;

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant, SystemTime},
};

pub use retry_after::parse_retry_after;
use state::{Admission, Circuit, Transition};
pub use state::{BreakerPolicy, Outcome};

/// Breakers by provider id.
#[derive(Debug, Default)]
pub struct Breakers {
    policy: BreakerPolicy,
    inner: Mutex<HashMap<String, Circuit>>,
}

/// The breaker refused the call: the provider is left alone for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// When a call may be let through again (at the earliest).
    pub retry_after: Duration,
}

/// Leave to make one call to a provider. Report its outcome with one of the
/// consuming methods; a permit dropped unreported counts as abandoned (a
/// half-open probe's slot is freed, nothing else is recorded).
#[derive(Debug)]
#[must_use = "report the call's outcome on the permit"]
pub struct Permit<'a> {
    breakers: &'a Breakers,
    provider: String,
    epoch: u64,
    probe: bool,
    reported: bool,
}

impl Breakers {
    pub fn new(policy: BreakerPolicy) -> Self {
        Breakers {
            policy,
            inner: Mutex::default(),
        }
    }

    pub fn policy(&self) -> &BreakerPolicy {
        &self.policy
    }

    /// Whether a call to `provider` may be made at `now`.
    pub fn allow_at(&self, provider: &str, now: Instant) -> Result<Permit<'_>, Refused> {
        let (admission, transition) = {
            let mut map = self.lock();
            let circuit = map
                .entry(provider.to_owned())
                .or_insert_with(|| Circuit::new(now));
            circuit.admit(&self.policy, now)
        };
        log(provider, transition);
        match admission {
            Admission::Admitted { epoch, probe } => Ok(Permit {
                breakers: self,
                provider: provider.to_owned(),
                epoch,
                probe,
                reported: false,
            }),
            Admission::Refused(retry_after) => Err(Refused { retry_after }),
        }
    }

    /// [`Breakers::allow_at`] now.
    pub fn allow(&self, provider: &str) -> Result<Permit<'_>, Refused> {
        self.allow_at(provider, Instant::now())
    }

    /// Whether `provider`'s breaker refuses calls at `now` (open, not yet
    /// due for a probe).
    pub fn is_open_at(&self, provider: &str, now: Instant) -> bool {
        self.lock().get(provider).is_some_and(|c| c.is_open_at(now))
    }

    fn report(&self, provider: &str, now: Instant, epoch: u64, outcome: Outcome) {
        let transition = self
            .lock()
            .get_mut(provider)
            .and_then(|c| c.report(&self.policy, now, epoch, outcome));
        log(provider, transition);
    }

    /// The map; a panic elsewhere while it was held cannot leave a circuit
    /// half-updated (updates do not panic), so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Circuit>> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Permit<'_> {
    /// Whether this call is the half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// Reports the call's outcome at `now`.
    pub fn report_at(mut self, now: Instant, outcome: Outcome) {
        self.reported = true;
        self.breakers
            .report(&self.provider, now, self.epoch, outcome);
    }

    /// The provider answered (a 2xx, or a 4xx about one tenant's grant).
    pub fn succeeded(self) {
        self.report_at(Instant::now(), Outcome::Success);
    }

    /// The call failed for a provider-wide reason (transport error).
    pub fn failed(self) {
        self.report_at(Instant::now(), Outcome::Failure);
    }

    /// Reports an HTTP answer: 429 (with its `Retry-After`, read against the
    /// wall clock `wall`) and 5xx are provider-wide trouble, anything else
    /// means the provider answered.
    pub fn answered_at(
        self,
        now: Instant,
        wall: SystemTime,
        status: u16,
        retry_after: Option<&str>,
    ) {
        let cap = self.breakers.policy.max_retry_after;
        let outcome = match status {
            429 => retry_after
                .and_then(|v| parse_retry_after(v, wall, cap))
                .map_or(Outcome::Failure, Outcome::Throttled),
            500..=599 => Outcome::Failure,
            _ => Outcome::Success,
        };
        self.report_at(now, outcome);
    }

    /// [`Permit::answered_at`] now, for a provider's HTTP response.
    pub fn answered(self, response: &reqwest::Response) {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok());
        let status = response.status().as_u16();
        self.answered_at(Instant::now(), SystemTime::now(), status, retry_after);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.reported {
            self.breakers.report(
                &self.provider,
                Instant::now(),
                self.epoch,
                Outcome::Abandoned,
            );
        }
    }
}

/// Logs a transition with the provider id only (no URL, no token).
fn log(provider: &str, transition: Option<Transition>) {
    match transition {
        Some(Transition::Opened(open_for)) => tracing::warn!(
            provider,
            open_secs = open_for.as_secs(),
            "circuit breaker open: provider calls paused"
        ),
        Some(Transition::HalfOpened) => {
            tracing::info!(
                provider,
                "circuit breaker half-open: one probe call let through"
            )
        }
        Some(Transition::Closed) => {
            tracing::info!(provider, "circuit breaker closed: provider calls resume")
        }
        None => {}
    }
}

#[cfg(test)]
mod tests;
