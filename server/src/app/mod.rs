//! Server assembly. `Application::build(config)` resolves the database
//! (embedded cluster or operator URLs), migrates when asked, binds its own
//! listener (port 0 in tests), and serves gRPC, gRPC-web, health,
//! reflection and the plain-HTTP routes on one port.

mod admin;
pub mod commands;
mod database;
mod error;
mod health;
mod supervise;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use http::{HeaderValue, Method, header::HeaderName};
use ochre_sdk::v1::{
    api_key_service_server::ApiKeyServiceServer, audit_service_server::AuditServiceServer,
    auth_service_server::AuthServiceServer, budget_service_server::BudgetServiceServer,
    conversation_service_server::ConversationServiceServer,
    customer_service_server::CustomerServiceServer, export_service_server::ExportServiceServer,
    guard_service_server::GuardServiceServer, integration_service_server::IntegrationServiceServer,
    member_service_server::MemberServiceServer, org_service_server::OrgServiceServer,
    survey_service_server::SurveyServiceServer, system_service_server::SystemServiceServer,
    webhook_service_server::WebhookServiceServer,
};
use tokio::{net::TcpListener, sync::watch};
use tonic_health::ServingStatus;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use database::EMBEDDED_DATABASE;

/// A service of the contract that accepts gzip-compressed requests and
/// compresses its answers for clients that accept gzip (the Rust SDK's
/// `.gzip(true)`); other clients are answered uncompressed.
macro_rules! gzip {
    ($server:expr) => {
        $server
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
            .send_compressed(tonic::codec::CompressionEncoding::Gzip)
    };
}
pub use error::StartupError;
use health::{checkpoint_loop, health_loop, set_all};

use crate::{
    config::Config,
    db::{self, Db},
    edge::{ClientAddrLayer, Tls, TrustedProxies, incoming::incoming, tls::SighupReload},
    gate::{DeadlineLayer, GateLayer},
    pg::Cluster,
    routes::{HttpRoutesLayer, HttpState},
    rpc::{
        ApiKeyApi, AppState, AuditApi, AuthApi, BudgetApi, ConversationApi, CustomerApi, ExportApi,
        GuardApi, IntegrationApi, MemberApi, OrgApi, SurveyApi, SystemApi, WebhookApi,
    },
    telemetry::RequestSpanLayer,
    webhooks::Metrics,
};

/// How long in-flight calls may run once a shutdown began.
const DRAIN_GRACE: Duration = Duration::from_secs(10);

/// A built server, bound and connected, not yet serving.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    db: Db,
    cluster: Option<Cluster>,
    /// The embedded cluster's directory, watched while serving.
    supervised: Option<std::path::PathBuf>,
    cors_origins: Vec<String>,
    state: AppState,
    http: Arc<HttpState>,
    admin: Option<admin::AdminListener>,
    access_log: bool,
    trusted_proxies: TrustedProxies,
    /// Native TLS and its SIGHUP reload, when a certificate is configured.
    tls: Option<Tls>,
    /// Reloads the certificate on SIGHUP (and keeps SIGHUP from stopping
    /// the server when there is none).
    reload: SighupReload,
}

impl Application {
    /// Binds the listener, resolves and migrates the database, connects.
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        crate::telemetry::redact::register_config(&config);
        let listener = TcpListener::bind(config.listen_addr)
            .await
            .map_err(|source| StartupError::Bind {
                addr: config.listen_addr,
                source,
            })?;
        let addr = listener.local_addr()?;
        let admin = admin::bind(&config.admin).await?;
        let tls = config.tls.clone().map(Tls::new).transpose()?;
        let reload = crate::edge::tls::reload_on_sighup(tls.as_ref().map(|t| t.cert.clone()))?;
        if config.trusted_proxies.has_catch_all() {
            tracing::warn!(
                "OCHRE_TRUSTED_PROXIES trusts every address: any client can choose the address \
                 allowlists, lockouts and rate limits see"
            );
        }
        let (urls, cluster) =
            database::resolve_database(&config, crate::pg::Purpose::Serve).await?;
        for url in [&urls.owner, &urls.app, &urls.service] {
            crate::telemetry::redact::register_database_url(url);
        }
        let connected = async {
            if config.migrate_on_start {
                db::migrate(&urls.owner).await?;
            }
            let db = Db::connect(
                &urls.app,
                &urls.service,
                config.db_max_connections,
                config.db_transaction_pooling,
            )
            .await?;
            // Row-level security must bind the roles it serves with.
            let unsafe_roles = db.unsafe_role_privileges().await?;
            if !unsafe_roles.is_empty() {
                return Err(StartupError::UnsafeRoles(unsafe_roles));
            }
            Ok(db)
        }
        .await;
        let db = match connected {
            Ok(db) => db,
            Err(e) => {
                if let Some(c) = &cluster {
                    let _ = c.stop().await;
                }
                return Err(e);
            }
        };
        let state = match AppState::new(db.clone(), &config) {
            Ok(s) => s,
            Err(e) => {
                if let Some(c) = &cluster {
                    let _ = c.stop().await;
                }
                return Err(e.into());
            }
        };
        let http = Arc::new(HttpState::new(
            &state,
            &config,
            Arc::new(Metrics::default()),
        ));
        let supervised = cluster.as_ref().map(|_| config.data_dir.join("postgres"));
        Ok(Application {
            listener,
            addr,
            db,
            cluster,
            supervised,
            cors_origins: config.cors_origins,
            state,
            http,
            admin,
            access_log: config.access_log,
            trusted_proxies: config.trusted_proxies,
            tls,
            reload,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin listener's bound address (`None` when it is off).
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|a| a.addr)
    }

    /// Serves until SIGTERM or SIGINT.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        self.run(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then drains: health turns
    /// NOT_SERVING, in-flight calls finish, the embedded cluster stops.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let Application {
            listener,
            addr,
            db,
            cluster,
            supervised,
            cors_origins,
            state,
            http,
            admin,
            access_log,
            trusted_proxies,
            tls,
            reload,
        } = self;
        let reporter = tonic_health::server::HealthReporter::new();
        let (stop_tx, stop_rx) = watch::channel(false);
        let health_service = tonic_health::pb::health_server::HealthServer::new(
            health::DrainingHealth::new(reporter.clone(), stop_rx.clone()),
        );
        let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // The supervisor's word that the embedded cluster died.
        let died = Arc::new(tokio::sync::Notify::new());
        let health_task = tokio::spawn(health_loop(
            reporter.clone(),
            db.clone(),
            ready.clone(),
            died.clone(),
            stop_rx.clone(),
        ));
        let admin_task = admin.map(|a| tokio::spawn(a.serve(db.clone(), ready, stop_rx.clone())));
        // The embedded cluster is started again if it dies.
        let supervisor =
            supervised.map(|root| tokio::spawn(supervise::supervise(root, died, stop_rx.clone())));
        let checkpoint_task = tokio::spawn(checkpoint_loop(
            db.clone(),
            state.checkpoints.clone(),
            stop_rx.clone(),
        ));

        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(ochre_sdk::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(ochre_sdk::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;

        let signal = {
            let reporter = reporter.clone();
            async move {
                shutdown.await;
                tracing::info!("shutdown requested: draining");
                let _ = stop_tx.send(true);
                set_all(&reporter, ServingStatus::NotServing).await;
            }
        };

        let scheme = if tls.is_some() { "TLS" } else { "plain text" };
        tracing::info!(%addr, scheme, "ochre listening (gRPC, gRPC-web, health, reflection, webhooks)");
        let tls_config = tls.map(|t| t.config);
        let server = tonic::transport::Server::builder()
            .accept_http1(true)
            .timeout(crate::gate::MAX_DEADLINE + Duration::from_secs(1))
            // The client address first (the peer, or behind a trusted proxy
            // the forwarded client), for everything inside to read.
            .layer(ClientAddrLayer::new(trusted_proxies))
            // One span and request id per request, around everything else.
            .layer(RequestSpanLayer::new(access_log))
            // Webhooks and operator routes next: they never reach the gRPC gate.
            .layer(HttpRoutesLayer::new(http))
            .layer(cors(&cors_origins))
            .layer(tonic_web::GrpcWebLayer::new())
            // Every call ends within its deadline, the gate's work included.
            .layer(DeadlineLayer)
            .layer(GateLayer::new(
                state.db.clone(),
                state.signer.clone(),
                state.limiter.clone(),
            ))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(gzip!(SystemServiceServer::new(SystemApi::new(
                state.pager.clone()
            ))))
            .add_service(gzip!(AuthServiceServer::new(AuthApi::new(state.clone()))))
            .add_service(gzip!(OrgServiceServer::new(OrgApi::new(state.clone()))))
            .add_service(gzip!(MemberServiceServer::new(MemberApi::new(
                state.clone()
            ))))
            .add_service(gzip!(ApiKeyServiceServer::new(ApiKeyApi::new(
                state.clone()
            ))))
            .add_service(gzip!(CustomerServiceServer::new(CustomerApi::new(
                state.clone()
            ))))
            .add_service(gzip!(GuardServiceServer::new(GuardApi::new(state.clone()))))
            .add_service(gzip!(ConversationServiceServer::new(ConversationApi::new(
                state.clone()
            ))))
            .add_service(gzip!(IntegrationServiceServer::new(IntegrationApi::new(
                state.clone()
            ))))
            .add_service(gzip!(SurveyServiceServer::new(SurveyApi::new(
                state.clone()
            ))))
            .add_service(gzip!(AuditServiceServer::new(AuditApi::new(state.clone()))))
            .add_service(gzip!(ExportServiceServer::new(ExportApi::new(
                state.clone()
            ))))
            .add_service(gzip!(BudgetServiceServer::new(BudgetApi::new(
                state.clone()
            ))))
            .add_service(gzip!(WebhookServiceServer::new(WebhookApi::new(
                state.clone()
            ))))
            // Plain or TLS connections, TCP_NODELAY on each: with Nagle's
            // algorithm a response written in pieces waits for the client's
            // delayed ACK (tens of milliseconds a call under load).
            .serve_with_incoming_shutdown(incoming(listener, tls_config), signal);
        // Long-lived streams (health Watch) would hold a graceful shutdown
        // open forever: after the grace period the rest is cut.
        let mut draining = stop_rx.clone();
        let grace = async move {
            let _ = draining.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(DRAIN_GRACE).await;
        };
        let result = tokio::select! {
            r = server => r,
            () = grace => {
                tracing::warn!("drain grace period over: closing the remaining calls");
                Ok(())
            }
        };
        health_task.abort();
        checkpoint_task.abort();
        if let Some(task) = supervisor {
            task.abort();
        }
        if let Some(task) = admin_task {
            task.abort();
        }
        drop(reload);
        db.close().await;
        if let Some(c) = cluster
            && let Err(e) = c.stop().await
        {
            tracing::error!(error = %e, "stopping the embedded Postgres failed");
        }
        tracing::info!("ochre stopped");
        result.map_err(Into::into)
    }
}

/// CORS for gRPC-web: only the configured origins, never a wildcard. The
/// status, its details and `retry-after` are exposed to the page's script.
fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let h = |s: &'static str| HeaderName::from_static(s);
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([
            h("content-type"),
            h("x-grpc-web"),
            h("x-user-agent"),
            h("grpc-timeout"),
            h("authorization"),
            h("x-ochre-org"),
            h("connect-protocol-version"),
            h("x-request-id"),
        ])
        .expose_headers([
            h("grpc-status"),
            h("grpc-message"),
            h("grpc-status-details-bin"),
            h("retry-after"),
            h("x-request-id"),
        ])
        .max_age(Duration::from_secs(600))
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is
/// called, not when the future is first polled, so a signal that arrives
/// while the server is still starting is not lost (nor fatal).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate()).ok();
    let int = signal(SignalKind::interrupt()).ok();
    async move {
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = wait(term) => {}
            _ = wait(int) => {}
        }
    }
}
