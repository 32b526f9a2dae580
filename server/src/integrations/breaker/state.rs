//! The state machine of one provider's breaker, driven by explicit instants:
//! Closed (a sliding time window of outcomes) → Open (until an instant) →
//! HalfOpen (one probe at a time) → Closed or Open again.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

/// The breaker's constants (resilience4j's defaults where it has them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// The sliding window: outcomes of the calls of the last `window`
    /// (counted in whole seconds since the breaker was created).
    pub window: Duration,
    /// Open when failures are at least this percentage of the window's
    /// calls …
    pub failure_rate_percent: u32,
    /// … and the window holds at least this many calls.
    pub minimum_calls: u32,
    /// Open on this many consecutive failures, whatever the rate.
    pub consecutive_failures: u32,
    /// How long an open breaker refuses calls (longer if the provider's
    /// `Retry-After` says so).
    pub open_for: Duration,
    /// A provider's `Retry-After` is capped at this.
    pub max_retry_after: Duration,
    /// A half-open probe that has reported nothing after this long (a
    /// leaked permit) no longer holds the probe slot.
    pub probe_timeout: Duration,
    /// The retry hint given to callers refused while a probe is in flight.
    pub probe_wait: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            window: Duration::from_secs(60),
            failure_rate_percent: 50,
            minimum_calls: 10,
            consecutive_failures: 5,
            open_for: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(3600),
            probe_timeout: Duration::from_secs(30),
            probe_wait: Duration::from_secs(1),
        }
    }
}

/// What a call reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The provider answered (a 2xx, or a 4xx about one tenant's grant).
    Success,
    /// Provider-wide trouble: a transport error, a 5xx, a 429 without a
    /// usable `Retry-After`.
    Failure,
    /// A 429 whose `Retry-After` (already parsed and capped) asks for this
    /// long: open at once for at least that long.
    Throttled(Duration),
    /// The caller dropped the call without reporting (its future was
    /// cancelled): nothing is known about the provider.
    Abandoned,
}

/// A change of phase, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Closed or half-open → open (the duration it stays open).
    Opened(Duration),
    /// Open → half-open: a probe is let through.
    HalfOpened,
    /// Half-open → closed: the probe succeeded.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    Open {
        until: Instant,
    },
    /// `probe`: when the probe in flight was admitted, if one is.
    HalfOpen {
        probe: Option<Instant>,
    },
}

/// Calls and failures of one whole second.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    second: u64,
    calls: u32,
    failures: u32,
}

/// One provider's breaker.
#[derive(Debug, Clone)]
pub struct Circuit {
    phase: Phase,
    origin: Instant,
    /// At most one bucket per second of the window.
    buckets: VecDeque<Bucket>,
    consecutive: u32,
    /// Bumped on every transition: a report from a call admitted in an
    /// earlier phase is stale and ignored (except a `Retry-After`, which
    /// can only lengthen an open phase).
    epoch: u64,
}

/// The answer to "may I call now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Yes; report the outcome with this epoch. `probe`: this call is the
    /// half-open probe.
    Admitted { epoch: u64, probe: bool },
    /// No; the caller may try again after this long.
    Refused(Duration),
}

impl Circuit {
    pub fn new(now: Instant) -> Self {
        Circuit {
            phase: Phase::Closed,
            origin: now,
            buckets: VecDeque::new(),
            consecutive: 0,
            epoch: 0,
        }
    }

    /// Whether a call may be made at `now`; a transition to half-open is
    /// returned for the log.
    pub fn admit(
        &mut self,
        policy: &BreakerPolicy,
        now: Instant,
    ) -> (Admission, Option<Transition>) {
        match self.phase {
            Phase::Closed => (self.admitted(false), None),
            Phase::Open { until } if now < until => (Admission::Refused(until - now), None),
            Phase::Open { .. } => {
                self.enter(Phase::HalfOpen { probe: Some(now) });
                (self.admitted(true), Some(Transition::HalfOpened))
            }
            Phase::HalfOpen { probe: Some(since) }
                if now.saturating_duration_since(since) < policy.probe_timeout =>
            {
                (Admission::Refused(policy.probe_wait), None)
            }
            Phase::HalfOpen { probe } => {
                if probe.is_some() {
                    // The probe in flight timed out: a new epoch, so its
                    // late report is ignored.
                    self.epoch += 1;
                }
                self.phase = Phase::HalfOpen { probe: Some(now) };
                (self.admitted(true), None)
            }
        }
    }

    /// Records the outcome of a call admitted with `epoch`.
    pub fn report(
        &mut self,
        policy: &BreakerPolicy,
        now: Instant,
        epoch: u64,
        outcome: Outcome,
    ) -> Option<Transition> {
        if epoch != self.epoch {
            return match (outcome, self.phase) {
                (Outcome::Throttled(wait), Phase::Open { until }) if now + wait > until => {
                    self.phase = Phase::Open { until: now + wait };
                    Some(Transition::Opened(wait))
                }
                _ => None,
            };
        }
        match self.phase {
            Phase::Closed => self.record(policy, now, outcome),
            Phase::HalfOpen { .. } => match outcome {
                Outcome::Success => {
                    self.enter(Phase::Closed);
                    Some(Transition::Closed)
                }
                Outcome::Failure => Some(self.open(now, policy.open_for)),
                Outcome::Throttled(wait) => Some(self.open(now, wait.max(policy.open_for))),
                Outcome::Abandoned => {
                    self.phase = Phase::HalfOpen { probe: None };
                    None
                }
            },
            // Reports of the current epoch come from closed or half-open
            // calls; an open phase always has a newer epoch.
            Phase::Open { .. } => None,
        }
    }

    fn record(
        &mut self,
        policy: &BreakerPolicy,
        now: Instant,
        outcome: Outcome,
    ) -> Option<Transition> {
        let failed = match outcome {
            Outcome::Success => false,
            Outcome::Failure | Outcome::Throttled(_) => true,
            Outcome::Abandoned => return None,
        };
        let second = now.saturating_duration_since(self.origin).as_secs();
        let span = policy.window.as_secs().max(1);
        while self
            .buckets
            .front()
            .is_some_and(|b| b.second + span <= second)
        {
            self.buckets.pop_front();
        }
        match self.buckets.back_mut() {
            Some(b) if b.second >= second => {
                b.calls += 1;
                b.failures += u32::from(failed);
            }
            _ => self.buckets.push_back(Bucket {
                second,
                calls: 1,
                failures: u32::from(failed),
            }),
        }
        self.consecutive = if failed { self.consecutive + 1 } else { 0 };
        let (calls, failures) = self.buckets.iter().fold((0u64, 0u64), |(c, f), b| {
            (c + u64::from(b.calls), f + u64::from(b.failures))
        });
        let by_rate = calls >= u64::from(policy.minimum_calls)
            && failures * 100 >= calls * u64::from(policy.failure_rate_percent);
        let tripped = by_rate || self.consecutive >= policy.consecutive_failures;
        match outcome {
            // The provider said when: open at once, whatever the rate.
            Outcome::Throttled(wait) => Some(self.open(now, wait.max(policy.open_for))),
            _ if tripped => Some(self.open(now, policy.open_for)),
            _ => None,
        }
    }

    fn open(&mut self, now: Instant, open_for: Duration) -> Transition {
        self.enter(Phase::Open {
            until: now + open_for,
        });
        Transition::Opened(open_for)
    }

    /// A new phase: a new epoch, and an empty window.
    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.epoch += 1;
        self.buckets.clear();
        self.consecutive = 0;
    }

    fn admitted(&self, probe: bool) -> Admission {
        Admission::Admitted {
            epoch: self.epoch,
            probe,
        }
    }

    /// Whether the breaker refuses calls now (open and not yet due).
    pub fn is_open_at(&self, now: Instant) -> bool {
        matches!(self.phase, Phase::Open { until } if now < until)
    }
}
