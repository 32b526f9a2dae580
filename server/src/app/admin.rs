//! The admin listener (`OCHRE_ADMIN_ADDR`, loopback by default, never the
//! public port): `GET /metrics` (Prometheus text), `GET /live` (200 while
//! the process runs) and `GET /ready` (200 while the database answers with
//! its migrations current and the server is not draining, 503 otherwise).
//! With `OCHRE_ADMIN_TOKEN` set, every request must carry it as its bearer
//! token (compared in constant time, as SHA-256 digests); off loopback the
//! configuration requires it.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse as _, Response},
    routing::get,
};
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::ExposeSecret as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use tokio::{net::TcpListener, sync::watch};

use super::error::StartupError;
use crate::{config::AdminConfig, db::Db};

/// A bound admin listener, not yet serving.
#[derive(Debug)]
pub(super) struct AdminListener {
    listener: TcpListener,
    pub(super) addr: SocketAddr,
    token: Option<[u8; 32]>,
    handle: PrometheusHandle,
}

#[derive(Debug, Clone)]
struct AdminState {
    token: Option<[u8; 32]>,
    handle: PrometheusHandle,
    db: Db,
    ready: Arc<AtomicBool>,
    stop: watch::Receiver<bool>,
}

/// Binds the admin address (`None` when it is `off`).
pub(super) async fn bind(config: &AdminConfig) -> Result<Option<AdminListener>, StartupError> {
    let Some(addr) = config.addr else {
        return Ok(None);
    };
    // Nothing is recorded while nobody can scrape.
    let handle = crate::telemetry::metrics::install();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartupError::Bind { addr, source })?;
    let addr = listener.local_addr()?;
    let token = config
        .token
        .as_ref()
        .map(|t| Sha256::digest(t.expose_secret().as_bytes()).into());
    Ok(Some(AdminListener {
        listener,
        addr,
        token,
        handle,
    }))
}

impl AdminListener {
    /// Serves until `stop` turns true.
    pub(super) async fn serve(self, db: Db, ready: Arc<AtomicBool>, stop: watch::Receiver<bool>) {
        let state = AdminState {
            token: self.token,
            handle: self.handle,
            db,
            ready,
            stop: stop.clone(),
        };
        let app = Router::new()
            .route("/metrics", get(metrics))
            .route("/live", get(|| async { "live\n" }))
            .route("/ready", get(ready_route))
            .fallback(|| async { (StatusCode::NOT_FOUND, "no such route\n") })
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                authorize,
            ))
            .with_state(state);
        tracing::info!(addr = %self.addr, "admin listener (metrics, live, ready)");
        let mut stop = stop;
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "the admin listener stopped");
        }
    }
}

async fn authorize(State(state): State<AdminState>, req: Request, next: Next) -> Response {
    let Some(expected) = state.token else {
        return next.run(req).await;
    };
    let mut values = req.headers().get_all(header::AUTHORIZATION).iter();
    let token = match (values.next(), values.next()) {
        (Some(v), None) => v
            .as_bytes()
            .strip_prefix(b"Bearer ")
            .or_else(|| v.as_bytes().strip_prefix(b"bearer ")),
        _ => None,
    };
    let ok = token.is_some_and(|t| {
        let digest: [u8; 32] = Sha256::digest(t).into();
        bool::from(digest.ct_eq(&expected))
    });
    if ok {
        return next.run(req).await;
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        "a valid bearer token (OCHRE_ADMIN_TOKEN) is required\n",
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

async fn metrics(State(state): State<AdminState>) -> Response {
    for p in state.db.pool_stats() {
        crate::telemetry::metrics::pool(p.name, p.size, p.idle, p.waiting);
    }
    state.handle.run_upkeep();
    let mut response = state.handle.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn ready_route(State(state): State<AdminState>) -> Response {
    if state.ready.load(Ordering::Relaxed) && !*state.stop.borrow() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}
