//! The standard gRPC health service: SERVING only while the database answers,
//! holds exactly the migrations this binary knows, gives the runtime roles
//! nothing that steps around row-level security (`crate::db::roles`), and
//! lets the request path open its tables (none held in an exclusive lock
//! for over a second).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::sync::watch;
use tokio_stream::{Stream, StreamExt as _, wrappers::WatchStream};
use tonic::{Request, Response, Status};
use tonic_health::{
    ServingStatus,
    pb::{HealthCheckRequest, HealthCheckResponse, health_check_response, health_server::Health},
    server::{HealthReporter, HealthService},
};

use crate::db::{Db, Tables, safe_text};

/// Every service the health check reports on, plus the server as a whole ("").
fn service_names() -> Vec<String> {
    let mut names: Vec<String> = ochre_sdk::access::ACCESS_RULES
        .iter()
        .filter_map(|m| {
            m.method
                .trim_start_matches('/')
                .split('/')
                .next()
                .map(str::to_owned)
        })
        .collect();
    names.push(String::new());
    names.sort();
    names.dedup();
    names
}

pub(super) async fn set_all(reporter: &HealthReporter, status: ServingStatus) {
    for name in service_names() {
        reporter.set_service_status(&name, status).await;
    }
}

/// The standard health service, except that its `Watch` streams end (with
/// a last NOT_SERVING) once the server starts draining: an open watch must
/// not hold the shutdown for the whole drain period.
pub(super) struct DrainingHealth {
    inner: HealthService,
    stop: watch::Receiver<bool>,
}

impl DrainingHealth {
    pub(super) fn new(reporter: HealthReporter, stop: watch::Receiver<bool>) -> Self {
        DrainingHealth {
            inner: HealthService::from_health_reporter(reporter),
            stop,
        }
    }
}

type BoxedWatch = std::pin::Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Health for DrainingHealth {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.inner.check(request).await
    }

    type WatchStream = BoxedWatch;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let updates = self.inner.watch(request).await?.into_inner();
        let stopping = WatchStream::new(self.stop.clone())
            .filter(|stopping| *stopping)
            .map(|_| None);
        let last = HealthCheckResponse {
            status: health_check_response::ServingStatus::NotServing as i32,
        };
        let stream = updates
            .map(Some)
            .merge(stopping)
            .take_while(Option::is_some)
            .filter_map(|update| update)
            .chain(tokio_stream::once(Ok(last)));
        Ok(Response::new(Box::pin(stream)))
    }
}

/// SERVING only while the database answers, its migrations are current,
/// the runtime roles are safe and the request path's tables open; `ready`
/// (the admin `/ready`) follows it.
pub(super) async fn health_loop(
    reporter: HealthReporter,
    db: Db,
    ready: Arc<AtomicBool>,
    died: Arc<tokio::sync::Notify>,
    mut stop: watch::Receiver<bool>,
) {
    set_all(&reporter, ServingStatus::NotServing).await;
    let mut last = None;
    let mut findings = Vec::new();
    loop {
        if *stop.borrow() {
            return;
        }
        let status =
            match tokio::time::timeout(Duration::from_secs(3), db.migrations_current()).await {
                Ok(Ok(true)) => match roles_unsafe(&db, &mut findings).await {
                    false => tables_status(&db, last).await,
                    true => ServingStatus::NotServing,
                },
                Ok(Ok(false)) => {
                    if last != Some(ServingStatus::NotServing) {
                        tracing::warn!("database migrations are not current: run `ochre migrate`");
                    }
                    ServingStatus::NotServing
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %safe_text(&e), "health check: database unavailable");
                    ServingStatus::NotServing
                }
                Err(_) => ServingStatus::NotServing,
            };
        if *stop.borrow() {
            return;
        }
        ready.store(status == ServingStatus::Serving, Ordering::Relaxed);
        if last != Some(status) {
            set_all(&reporter, status).await;
            last = Some(status);
        }
        let wait = if status == ServingStatus::Serving {
            5
        } else {
            1
        };
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(wait)) => {}
            // The embedded cluster died: NOT_SERVING until a probe passes,
            // however soon it is back.
            () = died.notified() => {
                ready.store(false, Ordering::Relaxed);
                set_all(&reporter, ServingStatus::NotServing).await;
                last = Some(ServingStatus::NotServing);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => return,
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// Whether a runtime role could step around row-level security: `ochre
/// serve` refuses to start with such a role, and a grant made while it
/// runs is caught here, at the next probe. Only a finding counts: a check
/// that cannot run in time (a busy pool) keeps the last verdict, so a
/// loaded server does not flap (the other probes judge the database).
/// Each new set of findings is logged at ERROR once.
async fn roles_unsafe(db: &Db, last: &mut Vec<String>) -> bool {
    match tokio::time::timeout(Duration::from_secs(3), db.unsafe_role_privileges()).await {
        Ok(Ok(found)) => {
            if !found.is_empty() && found != *last {
                tracing::error!(
                    findings = %found.join("; "),
                    "a runtime role could step around row-level security: not serving \
                     until it is revoked"
                );
            }
            *last = found;
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %safe_text(&e), "health check: the role check failed");
        }
        Err(_) => {}
    }
    !last.is_empty()
}

/// SERVING when the request path's tables open within the probe's wait.
async fn tables_status(db: &Db, last: Option<ServingStatus>) -> ServingStatus {
    match tokio::time::timeout(Duration::from_secs(3), db.request_tables()).await {
        Ok(Ok(Tables::Open)) => ServingStatus::Serving,
        Ok(Ok(Tables::Locked)) => {
            if last != Some(ServingStatus::NotServing) {
                tracing::warn!(
                    "health check: a table of the request path is locked \
                     (held for over a second): not serving until it clears"
                );
            }
            ServingStatus::NotServing
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %safe_text(&e), "health check: database unavailable");
            ServingStatus::NotServing
        }
        Err(_) => ServingStatus::NotServing,
    }
}

/// Checkpoints the audit chains that are due (1,000 events, or 5 minutes
/// with new events), every 30 seconds until the server stops.
pub(super) async fn checkpoint_loop(
    db: Db,
    signer: std::sync::Arc<crate::crypto::audit_checkpoint::CheckpointSigner>,
    mut stop: watch::Receiver<bool>,
) {
    use crate::db::service::audit::{CHECKPOINT_AFTER_SECS, CHECKPOINT_EVERY};
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(Duration::from_secs(30)) => {}
        }
        if *stop.borrow() {
            return;
        }
        match db
            .checkpoint_audit(&signer, CHECKPOINT_EVERY, CHECKPOINT_AFTER_SECS)
            .await
        {
            Ok(0) => {}
            Ok(recorded) => tracing::info!(recorded, "audit checkpoints recorded"),
            Err(e) => tracing::warn!(error = %e, "audit checkpoints: database unavailable"),
        }
    }
}
