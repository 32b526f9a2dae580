//! `spawn_app()`: the real server on port 0, in this process, against a
//! fresh database, connecting as `ochre_app`.

use std::net::SocketAddr;

use ochre_server::{Application, Config, config::Layers, pg};
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret as _;
use tokio::sync::oneshot;
use tonic::transport::Channel;

use crate::cluster::{TestCluster, cluster};

/// Knobs for [`spawn_app_with`].
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Clone the migrated template (true) or start from an empty database.
    pub migrated: bool,
    /// `OCHRE_CORS_ORIGINS`.
    pub cors_origins: String,
    /// `OCHRE_DB_MAX_CONNECTIONS` (small by default: many tests run at once).
    pub db_max_connections: u32,
    /// The content of the `OCHRE_OAUTH_CLIENTS` file (TOML), if any.
    pub oauth_clients: Option<String>,
    /// More configuration variables (name, value), set last.
    pub vars: Vec<(&'static str, String)>,
    /// The runtime pools connect through a PgBouncer of the test's own in
    /// transaction pooling mode (`OCHRE_DB_TRANSACTION_POOLING=true`).
    /// Default: whether `OCHRE_TEST_PGBOUNCER` is `1`, so that any part of
    /// the suite can be run through PgBouncer.
    pub through_pgbouncer: bool,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            migrated: true,
            cors_origins: "https://app.ochre.test".to_owned(),
            db_max_connections: 4,
            oauth_clients: None,
            vars: Vec::new(),
            through_pgbouncer: std::env::var("OCHRE_TEST_PGBOUNCER").is_ok_and(|v| v == "1"),
        }
    }
}

/// A running server and what a test needs around it. Dropping it stops the
/// server.
#[derive(Debug)]
pub struct TestApp {
    pub addr: SocketAddr,
    /// The admin listener (`/metrics`, `/live`, `/ready`; on port 0 unless
    /// a test sets `OCHRE_ADMIN_ADDR`), `None` when it is off.
    pub admin_addr: Option<SocketAddr>,
    pub database: String,
    pub cluster: &'static TestCluster,
    pub channel: Channel,
    /// The server's `OCHRE_SESSION_SECRET`, so tests can mint tokens the
    /// server would (for example an expired one).
    pub session_secret: String,
    /// The server's `OCHRE_BYOK_ENC_KEY` (base64), for key-rotation tests.
    pub byok_key: String,
    /// The server's `OCHRE_OAUTH_STATE_SECRET`, to mint expired states.
    pub oauth_state_secret: String,
    /// The server's `OCHRE_CRON_SECRET` (bearer of `/cron/{job}`).
    pub cron_secret: String,
    /// The server's `OCHRE_SURVEY_TOKEN_SECRET`, to mint survey tokens.
    pub survey_secret: String,
    /// The server's `OCHRE_AUDIT_SIGNING_KEY` (base64).
    pub audit_key: String,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<Result<(), ochre_server::StartupError>>>,
    /// The PgBouncer between the server and Postgres, if any.
    _bouncer: Option<crate::bouncer::PgBouncer>,
}

/// Spawns the server against a fresh migrated database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

/// Spawns the server with options.
pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    crate::logs::capture();
    let cluster = cluster().await;
    let database = cluster.fresh_database(options.migrated).await;
    let session_secret = crate::random_secret(32);
    let byok_key = crate::random_key();
    let oauth_state_secret = crate::random_secret(32);
    let cron_secret = crate::random_secret(32);
    let survey_secret = crate::random_secret(32);
    let audit_key = crate::random_key();
    let mut layers = Layers::default();
    layers
        .set("OCHRE_LISTEN_ADDR", "127.0.0.1:0")
        .set(
            "DATABASE_URL",
            cluster.url(pg::OWNER_ROLE, &database).expose_secret(),
        )
        .set(
            "OCHRE_APP_DATABASE_URL",
            cluster.url(pg::APP_ROLE, &database).expose_secret(),
        )
        .set(
            "OCHRE_SERVICE_DATABASE_URL",
            cluster.url(pg::SERVICE_ROLE, &database).expose_secret(),
        )
        .set("OCHRE_MIGRATE_ON_START", "false")
        .set(
            "OCHRE_DB_MAX_CONNECTIONS",
            options.db_max_connections.to_string(),
        )
        .set("OCHRE_CORS_ORIGINS", options.cors_origins.clone())
        .set("OCHRE_PUBLIC_URL", "https://app.ochre.test")
        .set("OCHRE_BYOK_ENC_KEY", byok_key.clone())
        .set("OCHRE_SURVEY_TOKEN_SECRET", survey_secret.clone())
        .set("OCHRE_SESSION_SECRET", session_secret.clone())
        .set("OCHRE_OAUTH_STATE_SECRET", oauth_state_secret.clone())
        .set("OCHRE_CRON_SECRET", cron_secret.clone())
        .set("OCHRE_AUDIT_SIGNING_KEY", audit_key.clone())
        // Tests hammer the server from one address: rate limits are off
        // unless a test sets `OCHRE_RATE_LIMITS` in `vars`.
        .set("OCHRE_RATE_LIMITS", "off")
        .set("OCHRE_ADMIN_ADDR", "127.0.0.1:0");
    let mut oauth_file = None;
    if let Some(clients) = &options.oauth_clients {
        let path = std::env::temp_dir().join(format!(
            "ochre-oauth-{}.toml",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&path, clients).expect("write the OAuth clients file");
        layers.set("OCHRE_OAUTH_CLIENTS", path.display().to_string());
        oauth_file = Some(path);
    }
    let bouncer = if options.through_pgbouncer {
        let bouncer = crate::bouncer::PgBouncer::start(&database).await;
        let urls = bouncer.urls();
        layers
            .set("OCHRE_APP_DATABASE_URL", urls.app)
            .set("OCHRE_SERVICE_DATABASE_URL", urls.service)
            .set("OCHRE_DB_TRANSACTION_POOLING", "true");
        Some(bouncer)
    } else {
        None
    };
    for (var, value) in &options.vars {
        layers.set(var, value.clone());
    }
    let config = Config::from_layers(&layers).expect("test configuration is valid");
    let app = Application::build(config).await.expect("build application");
    // Read at start-up: the file (client secrets, if made-up ones) goes.
    if let Some(path) = oauth_file {
        let _ = std::fs::remove_file(path);
    }
    let addr = app.local_addr();
    let admin_addr = app.admin_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));
    let tls_cert = options
        .vars
        .iter()
        .find(|(var, _)| *var == "OCHRE_TLS_CERT")
        .map(|(_, path)| path.clone());
    let endpoint = match tls_cert {
        None => Channel::from_shared(format!("http://{addr}")).expect("endpoint"),
        Some(path) => Channel::from_shared(format!("https://{addr}"))
            .expect("endpoint")
            .tls_config(tls_client_of(&path))
            .expect("a TLS endpoint"),
    };
    let channel = endpoint
        .connect()
        .await
        .expect("connect to the test server");
    TestApp {
        addr,
        admin_addr,
        database,
        cluster,
        channel,
        session_secret,
        byok_key,
        oauth_state_secret,
        cron_secret,
        survey_secret,
        audit_key,
        stop: Some(stop),
        handle: Some(handle),
        _bouncer: bouncer,
    }
}

/// How the harness reaches a TLS test server: it trusts the last
/// certificate of the chain in `OCHRE_TLS_CERT` (the test's CA) and expects
/// the name `localhost`.
fn tls_client_of(cert_path: &str) -> tonic::transport::ClientTlsConfig {
    let chain = std::fs::read_to_string(cert_path).expect("read OCHRE_TLS_CERT");
    let marker = "-----BEGIN CERTIFICATE-----";
    let last = chain.rfind(marker).expect("a PEM certificate");
    tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(&chain[last..]))
        .domain_name("localhost")
}

impl TestApp {
    /// The access token `token` (of this server) re-signed as if issued
    /// `age_secs` ago (15 minutes or more: expired), same session and proof.
    pub fn access_token_issued_ago(&self, token: &str, age_secs: u64) -> String {
        use base64::Engine as _;
        use ochre_server::crypto::tokens::{AccessTokenSigner, Claims};
        let payload = token
            .strip_prefix("ochre_at_v1.")
            .and_then(|rest| rest.split('.').next())
            .expect("an access token");
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url claims");
        let claims: Claims = serde_json::from_slice(&json).expect("claims");
        let signer =
            AccessTokenSigner::new(&secrecy::SecretString::from(self.session_secret.clone()))
                .expect("the test secret is long enough");
        let issued = crate::clock::unix_now().saturating_sub(age_secs);
        signer.sign(&Claims::new(claims.sub, claims.sid, claims.prf, issued))
    }

    /// A connection to this test's database as `ochre_app` (RLS applies).
    pub async fn app_db(&self) -> DatabaseConnection {
        self.cluster.connect(pg::APP_ROLE, &self.database).await
    }

    /// A connection to this test's database as `ochre_service` (named
    /// functions only).
    pub async fn service_db(&self) -> DatabaseConnection {
        self.cluster.connect(pg::SERVICE_ROLE, &self.database).await
    }

    /// A connection as the cluster superuser (bypasses RLS: setup only).
    pub async fn superuser_db(&self) -> DatabaseConnection {
        self.cluster.connect_superuser(&self.database).await
    }

    /// Stops the server and waits for it to finish draining.
    pub async fn shutdown(mut self) -> Result<(), ochre_server::StartupError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.handle.take() {
            Some(h) => h.await.expect("server task"),
            None => Ok(()),
        }
    }

    /// Begins a graceful shutdown without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
