//! The plain-HTTP routes served on the gRPC port: provider webhooks
//! (`POST /webhooks/{provider}/{org_id}/{integration_id}`) and the operator
//! routes (`POST /cron/{job}`, bearer `OCHRE_CRON_SECRET`), each limited per
//! client address (`throttle.rs`). `/metrics` is answered 404 here: the
//! metrics are served on the admin listener only.
//!
//! [`HttpRoutesLayer`] sits outermost in the server's stack: requests under
//! those prefixes go to an axum router and never reach CORS, gRPC-web or the
//! gRPC access gate (they carry no gRPC credentials); everything else goes
//! on to gRPC untouched.

mod operator;
pub mod reply;
pub mod state;
mod throttle;

use std::{
    convert::Infallible,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use axum::{Router, http::StatusCode, routing::post};
use bytes::Bytes;
use tower::{Layer, Service, ServiceExt as _};

use reply::error;
pub use state::{HttpState, MAX_BODY, MAX_INFLIGHT};

/// The axum router of the HTTP routes.
pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route(
            "/webhooks/{provider}/{org_id}/{integration_id}",
            post(crate::webhooks::ingress::receive),
        )
        .route("/cron/{job}", post(operator::cron))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            throttle::per_address,
        ))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route") })
        .method_not_allowed_fallback(|| async {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        .with_state(state)
}

/// Whether `path` belongs to the HTTP routes rather than to gRPC.
pub fn is_http_route(path: &str) -> bool {
    path.starts_with("/webhooks/")
        || path.starts_with("/cron/")
        || path == "/metrics"
        || path == "/webhooks"
        || path == "/cron"
}

/// Routes the HTTP paths to [`router`], the rest to the gRPC stack.
#[derive(Clone)]
pub struct HttpRoutesLayer {
    router: Router,
}

impl std::fmt::Debug for HttpRoutesLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpRoutesLayer")
    }
}

impl HttpRoutesLayer {
    pub fn new(state: Arc<HttpState>) -> Self {
        HttpRoutesLayer {
            router: router(state),
        }
    }
}

impl<S> Layer<S> for HttpRoutesLayer {
    type Service = HttpRoutes<S>;
    fn layer(&self, inner: S) -> Self::Service {
        HttpRoutes {
            inner,
            router: self.router.clone(),
        }
    }
}

/// See [`HttpRoutesLayer`].
#[derive(Clone)]
pub struct HttpRoutes<S> {
    inner: S,
    router: Router,
}

impl<S> std::fmt::Debug for HttpRoutes<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpRoutes")
    }
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B, R> Service<http::Request<B>> for HttpRoutes<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    R: http_body::Body<Data = Bytes> + Send + 'static,
    R::Error: Into<BoxError>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if is_http_route(req.uri().path()) {
            let router = self.router.clone();
            Box::pin(async move {
                let response = router
                    .oneshot(req.map(axum::body::Body::new))
                    .await
                    .unwrap_or_else(|never: Infallible| match never {});
                Ok(response.map(tonic::body::Body::new))
            })
        } else {
            let clone = self.inner.clone();
            let mut inner = std::mem::replace(&mut self.inner, clone);
            Box::pin(async move {
                let response = inner.call(req).await?;
                Ok(response.map(tonic::body::Body::new))
            })
        }
    }
}
