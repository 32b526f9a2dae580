//! When and how long [`OchreClient`](super::OchreClient) waits before
//! trying a call again: UNAVAILABLE only (AIP-194), idempotent RPCs only,
//! jittered exponential backoff.

use std::time::Duration;

use tonic::Code;

/// How an RPC may be retried; decided for every RPC from the contract at
/// build time (see [`RPCS`](super::RPCS)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Not idempotent: never retried.
    Never,
    /// A read (rate class READ, or a public `Get*`/`List*`): retried.
    Read,
    /// A create carrying `request_id` (AIP-155): retried with the same id.
    WithRequestId,
}

impl Retry {
    /// Whether a call of this policy may be sent again.
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Retry::Never)
    }
}

/// A request message with a `string request_id` field: a retry with the
/// same id returns the first result and creates nothing. Implemented (by
/// `build.rs`) for every request message of the contract that has one.
pub trait IdempotentRequest {
    /// The `request_id` field.
    fn request_id_mut(&mut self) -> &mut String;

    /// Fills an empty `request_id` with a fresh UUID v4 (a non-empty one is
    /// kept), so that every attempt of one call carries the same id.
    fn ensure_request_id(&mut self) -> &str {
        let id = self.request_id_mut();
        if id.is_empty() {
            *id = uuid::Uuid::new_v4().to_string();
        }
        id
    }
}

/// The backoff schedule: attempt `n` (from 0) waits a random time between
/// half and all of `min(initial * 2^n, max)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait's upper bound.
    pub initial: Duration,
    /// No wait is longer than this.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// The wait before retry number `attempt` (0 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .initial
            .saturating_mul(2u32.saturating_pow(attempt.min(20)))
            .min(self.max);
        let half = ceiling / 2;
        let jitter = rand::random_range(0..=u64::try_from(half.as_micros()).unwrap_or(u64::MAX));
        half + Duration::from_micros(jitter)
    }
}

/// The longest `RetryInfo` delay the client waits for on its own; a longer
/// one is returned to the caller.
pub(crate) const MAX_SERVER_DELAY: Duration = Duration::from_secs(30);

/// Whether `status` is worth another attempt of an idempotent call.
pub(crate) fn retryable(status: &tonic::Status) -> bool {
    status.code() == Code::Unavailable
}

/// A status the transport made up (it has a transport error as its
/// source, which a status from the server never has) in gRPC's terms: a
/// timeout is DEADLINE_EXCEEDED, a connection that failed or closed before
/// an answer (tonic says CANCELLED or UNKNOWN) is UNAVAILABLE.
pub(crate) fn from_transport(status: tonic::Status) -> tonic::Status {
    use std::error::Error as _;
    let mut cause = status.source();
    let timed_out = std::iter::from_fn(|| {
        let current = cause?;
        cause = current.source();
        Some(current)
    })
    .any(|e| e.is::<tonic::TimeoutExpired>());
    if timed_out {
        return tonic::Status::deadline_exceeded(format!(
            "no answer within the timeout: {}",
            status.message()
        ));
    }
    match (status.code(), status.source().is_some()) {
        (Code::Cancelled | Code::Unknown, true) => tonic::Status::unavailable(format!(
            "the connection to the server failed: {}",
            status.message()
        )),
        _ => status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Create {
        request_id: String,
    }

    impl IdempotentRequest for Create {
        fn request_id_mut(&mut self) -> &mut String {
            &mut self.request_id
        }
    }

    #[test]
    fn an_empty_request_id_gets_a_uuid_once_and_a_given_one_is_kept() {
        let mut create = Create {
            request_id: String::new(),
        };
        let first = create.ensure_request_id().to_owned();
        assert!(uuid::Uuid::parse_str(&first).is_ok(), "{first}");
        assert_eq!(create.ensure_request_id(), first, "the same id on a retry");
        let mut given = Create {
            request_id: "FAKE-partner-id-1".to_owned(),
        };
        assert_eq!(given.ensure_request_id(), "FAKE-partner-id-1");
    }

    #[test]
    fn backoff_grows_with_jitter_and_stays_under_its_cap() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        for attempt in 0..10 {
            let ceiling = (Duration::from_millis(100) * 2u32.pow(attempt)).min(backoff.max);
            let d = backoff.delay(attempt);
            assert!(d >= ceiling / 2 && d <= ceiling, "{attempt}: {d:?}");
        }
        let waits: std::collections::HashSet<Duration> =
            (0..20).map(|_| backoff.delay(5)).collect();
        assert!(waits.len() > 1, "jittered: {waits:?}");
    }

    #[test]
    fn only_unavailable_is_retryable() {
        assert!(retryable(&tonic::Status::unavailable("down")));
        assert!(!retryable(&tonic::Status::unknown(
            "a server's own UNKNOWN"
        )));
        assert!(!retryable(&tonic::Status::resource_exhausted("slow down")));
        assert!(!retryable(&tonic::Status::internal("bug")));
        assert!(!retryable(&tonic::Status::deadline_exceeded("late")));
    }

    #[test]
    fn transport_failures_read_as_unavailable_and_timeouts_as_deadline_exceeded() {
        let broken = tonic::Status::from_error(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        )));
        assert_eq!(from_transport(broken).code(), Code::Unavailable);
        let late = tonic::Status::from_error(Box::new(tonic::TimeoutExpired(())));
        assert_eq!(from_transport(late).code(), Code::DeadlineExceeded);
        let answered = tonic::Status::cancelled("the server's own CANCELLED");
        assert_eq!(from_transport(answered).code(), Code::Cancelled);
        let unknown = tonic::Status::unknown("the server's own UNKNOWN");
        assert_eq!(from_transport(unknown).code(), Code::Unknown);
    }
}
