//! One span per request. The outermost layer of the server opens a
//! `request` span with the method (the declared gRPC path or the HTTP route
//! template), a
//! request id and, once the gate has verified the caller, the org id and the
//! principal kind and id, and the client address (resolved by the edge
//! layer outside it: behind a trusted proxy, the forwarded client's); every
//! log line written while serving the request carries them. The request id is the caller's `x-request-id` when it is a
//! short token of safe characters, a fresh UUIDv7 otherwise, and it is
//! returned in the `x-request-id` response header (gRPC initial metadata).
//! The request itself is never changed (a provider may sign its own
//! `x-request-id`, as Mercado Pago does).

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use http::HeaderValue;
use tower::{Layer, Service};
use tracing::{Instrument as _, field::Empty};

use super::access::{AccessBody, CURRENT, Completion, Who, client_addr};
use crate::ids::OrgId;

/// The request and response header that carries the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest caller-chosen request id kept.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The caller's request id when it is safe to log and echo.
fn given_id(headers: &http::HeaderMap) -> Option<HeaderValue> {
    let value = headers.get(REQUEST_ID_HEADER)?;
    let text = value.to_str().ok()?;
    let safe = !text.is_empty()
        && text.len() <= MAX_REQUEST_ID_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    safe.then(|| value.clone())
}

/// What the span records as the method: the gRPC path when the contract
/// (or health and reflection) declares it, the route template of a plain-HTTP
/// route, `unknown` otherwise, so no caller-chosen path reaches a log line
/// or a metric label.
pub(super) fn method_of(path: &str) -> &'static str {
    const FIXED: &[&str] = &[
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ];
    if let Some(access) = ochre_sdk::access::access_for(path) {
        access.method
    } else if let Some(fixed) = FIXED.iter().find(|m| **m == path) {
        fixed
    } else if path.starts_with("/webhooks/") {
        "/webhooks/{provider}/{org_id}/{integration_id}"
    } else if path.starts_with("/cron/") {
        "/cron/{job}"
    } else {
        "unknown"
    }
}

/// The request id of a request (the caller's `x-request-id` when safe,
/// otherwise a new UUIDv7), as a request extension: audit events record it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Installs the request span service (with the access log on or off).
#[derive(Debug, Clone, Copy)]
pub struct RequestSpanLayer {
    access_log: bool,
}

impl RequestSpanLayer {
    /// `access_log`: write one `ochre::access` line per request.
    pub fn new(access_log: bool) -> Self {
        RequestSpanLayer { access_log }
    }
}

impl Default for RequestSpanLayer {
    fn default() -> Self {
        RequestSpanLayer::new(true)
    }
}

impl<S> Layer<S> for RequestSpanLayer {
    type Service = RequestSpan<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequestSpan {
            inner,
            access_log: self.access_log,
        }
    }
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct RequestSpan<S> {
    inner: S,
    access_log: bool,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, B, R> Service<http::Request<B>> for RequestSpan<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<AccessBody<R>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let id = given_id(req.headers()).unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
                .unwrap_or(HeaderValue::from_static("unknown"))
        });
        req.extensions_mut()
            .insert(RequestId(id.to_str().unwrap_or_default().to_owned()));
        let method = method_of(req.uri().path());
        let span = tracing::info_span!(
            "request",
            method,
            request_id = id.to_str().unwrap_or_default(),
            org_id = Empty,
            principal = Empty,
            principal_id = Empty,
            client_addr = Empty,
        );
        if let Some(client) = crate::edge::ClientAddr::of(&req) {
            span.record("client_addr", tracing::field::display(client));
        }
        super::otlp::set_parent(&span, req.headers());
        let who = Arc::new(Who::default());
        let completion = Completion {
            method,
            start: Instant::now(),
            request_id: id.to_str().unwrap_or_default().to_owned(),
            client: client_addr(&req),
            who: who.clone(),
            access_log: self.access_log,
        };
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(
            CURRENT.scope(
                who,
                async move {
                    let mut response = inner.call(req).await?;
                    response.headers_mut().insert(REQUEST_ID_HEADER, id);
                    Ok(AccessBody::wrap(response, completion))
                }
                .instrument(span),
            ),
        )
    }
}

/// Records the verified caller on the current request span (called by the
/// gate once it has made the principal).
pub fn record_principal(kind: &'static str, id: &dyn std::fmt::Display, org: Option<OrgId>) {
    let span = tracing::Span::current();
    span.record("principal", kind);
    span.record("principal_id", tracing::field::display(id));
    if let Some(org) = org {
        span.record("org_id", tracing::field::display(org));
    }
    let _ = CURRENT.try_with(|who| who.set(kind, id.to_string(), org.map(|o| o.to_string())));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    fn headers(value: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        let value = HeaderValue::from_str(value).expect("a valid header value");
        h.insert(REQUEST_ID_HEADER, value);
        h
    }

    #[test]
    fn only_declared_methods_and_route_templates_are_recorded() {
        assert_eq!(
            method_of("/ochre.v1.AuthService/Login"),
            "/ochre.v1.AuthService/Login"
        );
        assert_eq!(
            method_of("/webhooks/github/not-an-org/not-an-id%0a"),
            "/webhooks/{provider}/{org_id}/{integration_id}"
        );
        assert_eq!(method_of("/cron/purge-expired"), "/cron/{job}");
        assert_eq!(method_of("/ochre.v1.AuthService/Nope"), "unknown");
        assert_eq!(method_of("/etc/passwd"), "unknown");
    }

    #[test]
    fn a_safe_caller_request_id_is_kept() {
        assert_eq!(
            given_id(&headers("req-7f3a_1.2:3"))
                .as_ref()
                .map(|v| v.as_bytes()),
            Some(&b"req-7f3a_1.2:3"[..])
        );
    }

    #[test]
    fn unsafe_or_oversized_request_ids_are_replaced() {
        assert!(given_id(&headers("a b")).is_none());
        assert!(given_id(&headers("a/b")).is_none());
        assert!(given_id(&headers("tab\there")).is_none());
        assert!(given_id(&headers(&"a".repeat(129))).is_none());
        assert!(given_id(&http::HeaderMap::new()).is_none());
    }
}
