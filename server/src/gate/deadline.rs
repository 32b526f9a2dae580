//! Every gRPC call ends within its deadline. The caller's `grpc-timeout`
//! (at most [`MAX_DEADLINE`]; that when absent) bounds the whole call, the
//! gate's identity transaction included; a little before it passes, the
//! call is abandoned and answered DEADLINE_EXCEEDED (reason
//! `DEADLINE_EXCEEDED`), so the caller hears the server's answer rather
//! than its own timer, and a call stuck behind a stalled database never
//! hangs. Abandoning a call drops its transaction, which rolls back.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use tonic::Status;
use tower::{Layer, Service};

use crate::error::ApiError;

/// The longest any call may run.
pub const MAX_DEADLINE: Duration = Duration::from_secs(60);

/// How much before the caller's deadline the server answers: a tenth of
/// it, at most 100 ms, so the answer arrives before the caller gives up.
const MAX_MARGIN: Duration = Duration::from_millis(100);

/// A `grpc-timeout` value (`1-8 digits` then `H`, `M`, `S`, `m`, `u` or
/// `n`); `None` when malformed.
fn parse_timeout(value: &str) -> Option<Duration> {
    if !value.is_ascii() {
        return None;
    }
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// How long the server works on a call with these headers.
pub fn budget(headers: &http::HeaderMap) -> Duration {
    let asked = headers
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_timeout)
        .map_or(MAX_DEADLINE, |d| d.min(MAX_DEADLINE));
    asked.saturating_sub((asked / 10).min(MAX_MARGIN))
}

/// The layer (inside gRPC-web, around the gate).
#[derive(Debug, Clone, Copy, Default)]
pub struct DeadlineLayer;

impl<S> Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeadlineService { inner }
    }
}

/// The service of [`DeadlineLayer`].
#[derive(Debug, Clone)]
pub struct DeadlineService<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, B> Service<http::Request<B>> for DeadlineService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let budget = budget(req.headers());
        let call = self.inner.call(req);
        Box::pin(async move {
            match tokio::time::timeout(budget, call).await {
                Ok(answer) => answer,
                Err(_) => {
                    tracing::info!(?budget, "call abandoned at its deadline");
                    Ok(Status::from(ApiError::DeadlineExceeded).into_http())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_values_parse_as_the_protocol_defines_them() {
        assert_eq!(parse_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_timeout("1500m"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_timeout("3M"), Some(Duration::from_secs(180)));
        assert_eq!(
            parse_timeout("99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
        for bad in ["", "S", "123456789S", "12x", "-1S", "1.5S", "१S"] {
            assert_eq!(parse_timeout(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_budget_ends_a_little_before_the_callers_deadline_and_never_after_the_servers() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(budget(&headers), MAX_DEADLINE - MAX_MARGIN);
        headers.insert("grpc-timeout", "2000m".parse().unwrap());
        assert_eq!(budget(&headers), Duration::from_millis(1900));
        headers.insert("grpc-timeout", "500m".parse().unwrap());
        assert_eq!(budget(&headers), Duration::from_millis(450));
        headers.insert("grpc-timeout", "5H".parse().unwrap());
        assert_eq!(budget(&headers), MAX_DEADLINE - MAX_MARGIN);
        headers.insert("grpc-timeout", "bogus".parse().unwrap());
        assert_eq!(budget(&headers), MAX_DEADLINE - MAX_MARGIN);
    }
}
