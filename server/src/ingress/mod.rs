//! The plain-HTTP routes served on the gRPC port: provider webhooks
//! (`POST /webhooks/{provider}/{integration_id}`) and the operator routes
//! (`POST /cron/{job}`, `GET /metrics`, bearer `OCHRE_CRON_SECRET`).
//!
//! [`HttpRoutesLayer`] sits outermost in the server's stack: requests under
//! those prefixes go to an axum router and never reach CORS, gRPC-web or the
//! gRPC access gate (they carry no gRPC credentials); everything else goes
//! on to gRPC untouched.

mod event;
pub mod metrics;
mod operator;
mod webhook;

use std::{
    convert::Infallible,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use axum::{
    Json, Router,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use bytes::Bytes;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use tower::{Layer, Service, ServiceExt as _};

use crate::{db::Db, vault::Vault};
pub use metrics::{Metrics, Outcome};

/// Largest webhook body accepted (1 MiB); larger is 413.
pub const MAX_BODY: usize = 1024 * 1024;

/// What the HTTP routes share.
pub struct Ingress {
    db: Db,
    vault: Arc<Vault>,
    /// `OCHRE_PUBLIC_URL` without its trailing slash: HubSpot signs the
    /// public URL it called.
    public_base: String,
    /// SHA-256 of `OCHRE_CRON_SECRET` (compared in constant time).
    cron_digest: [u8; 32],
    metrics: Arc<Metrics>,
    /// Deliveries whose body is being read or held (at most
    /// [`MAX_INFLIGHT`] MiB of bodies in memory).
    inflight: tokio::sync::Semaphore,
    /// Deliveries using the ingress's database pool (its size): past that
    /// a delivery waits briefly, then gets 503, instead of queueing on the
    /// pool for its 5 s acquire timeout.
    db_slots: tokio::sync::Semaphore,
}

/// Deliveries read and processed at once; more wait briefly, then get 503.
pub const MAX_INFLIGHT: usize = 64;

impl std::fmt::Debug for Ingress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingress")
            .field("public_base", &self.public_base)
            .finish_non_exhaustive()
    }
}

impl Ingress {
    pub fn new(
        db: Db,
        vault: Arc<Vault>,
        public_url: &url::Url,
        cron_secret: &SecretString,
        metrics: Arc<Metrics>,
        db_max_connections: u32,
    ) -> Self {
        let db_slots = usize::try_from(db_max_connections).unwrap_or(1).max(1);
        Ingress {
            db,
            vault,
            public_base: public_url.as_str().trim_end_matches('/').to_owned(),
            cron_digest: Sha256::digest(cron_secret.expose_secret().as_bytes()).into(),
            metrics,
            inflight: tokio::sync::Semaphore::new(MAX_INFLIGHT),
            db_slots: tokio::sync::Semaphore::new(db_slots),
        }
    }
}

/// The axum router of the HTTP routes.
pub fn router(ingress: Arc<Ingress>) -> Router {
    Router::new()
        .route(
            "/webhooks/{provider}/{integration_id}",
            post(webhook::receive),
        )
        .route("/cron/{job}", post(operator::cron))
        .route("/metrics", get(operator::metrics))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route") })
        .method_not_allowed_fallback(|| async {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        .with_state(ingress)
}

/// Whether `path` belongs to the HTTP routes rather than to gRPC.
pub fn is_http_route(path: &str) -> bool {
    path.starts_with("/webhooks/")
        || path.starts_with("/cron/")
        || path == "/metrics"
        || path == "/webhooks"
        || path == "/cron"
}

/// A JSON answer with the headers every HTTP route sends.
pub(crate) fn json(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `{"error": message}`: messages are fixed texts, never input or secrets.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    json(status, serde_json::json!({ "error": message }))
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
    pub fn new(ingress: Arc<Ingress>) -> Self {
        HttpRoutesLayer {
            router: router(ingress),
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
