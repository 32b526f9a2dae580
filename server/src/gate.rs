//! The access gate: a tower layer in front of every gRPC service that looks
//! up the rule generated from the contract's `ochre.v1.access` options and
//! refuses a call before any handler runs.
//!
//! Health and reflection stay reachable without credentials. A path that is
//! not an RPC of the contract gets UNIMPLEMENTED. Public RPCs pass. Every
//! other rule needs a credential; until the identity layer lands no
//! credential is accepted, so those calls get UNAUTHENTICATED.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use http_body::Body as HttpBody;
use http_body_util::BodyExt as _;
use ochre_sdk::access::{Rule, rule_for};
use tonic::Status;
use tower::{Layer, Service};

/// How much of a refused request's body is read before answering, so that
/// HTTP/1.1 gRPC-web clients do not see a broken pipe.
const DRAIN_LIMIT: usize = 64 * 1024;

/// Installs [`AccessGate`].
#[derive(Debug, Clone, Default)]
pub struct AccessGateLayer;

impl<S> Layer<S> for AccessGateLayer {
    type Service = AccessGate<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AccessGate { inner }
    }
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct AccessGate<S> {
    inner: S,
}

/// What the gate decided for a path.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Pass,
    Refuse(tonic::Code, &'static str),
}

/// The decision for a request path, from the generated access table.
pub fn decide(path: &str) -> Decision {
    if path.starts_with("/grpc.health.v1.") || path.starts_with("/grpc.reflection.") {
        return Decision::Pass;
    }
    match rule_for(path) {
        None => Decision::Refuse(tonic::Code::Unimplemented, "unknown method"),
        Some(Rule::Public) => Decision::Pass,
        Some(Rule::Authenticated | Rule::Roles(_)) => {
            Decision::Refuse(tonic::Code::Unauthenticated, "credentials required")
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, B> Service<http::Request<B>> for AccessGate<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: HttpBody + Send + Unpin + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        match decide(req.uri().path()) {
            Decision::Pass => {
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                Box::pin(async move { inner.call(req).await })
            }
            Decision::Refuse(code, message) => Box::pin(async move {
                drain(req.into_body()).await;
                Ok(Status::new(code, message).into_http())
            }),
        }
    }
}

async fn drain<B: HttpBody + Unpin>(mut body: B) {
    let mut read = 0usize;
    while read <= DRAIN_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    read += bytes_len(data);
                }
            }
            _ => break,
        }
    }
}

fn bytes_len<D: bytes::Buf>(data: &D) -> usize {
    data.remaining()
}
