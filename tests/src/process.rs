//! The `ochre` binary as a real server process against a fresh database of
//! the test cluster, its log (stderr) captured to a file and read back once
//! it has stopped.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use ochre_server::pg;
use secrecy::ExposeSecret as _;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::{binary::ochre_bin, cluster::cluster};

/// The health check's answer on `channel` now (`None`: no answer).
pub async fn health(channel: &Channel) -> Option<ServingStatus> {
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest::default())
        .await
        .ok()
        .map(|r| r.into_inner().status())
}

/// Polls the health check on `channel` until it says `want` or `within`
/// passes.
pub async fn health_becomes(channel: &Channel, want: ServingStatus, within: Duration) -> bool {
    let started = std::time::Instant::now();
    while started.elapsed() < within {
        if health(channel).await == Some(want) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// A loopback port nobody listens on (now).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Waits until the `ochre` process `child` listening on `port` reports
/// SERVING (60 s at most) and returns a channel to it; if it exits first,
/// fails with what `log` reads of its output.
pub async fn wait_serving(
    port: u16,
    child: &mut Child,
    log: impl FnOnce(&mut Child) -> String,
) -> Channel {
    let endpoint = Endpoint::from_shared(format!("http://127.0.0.1:{port}")).expect("endpoint");
    wait_serving_at(endpoint, child, log).await
}

/// [`wait_serving`] through `endpoint` (for example `https://` with the
/// test's CA).
pub async fn wait_serving_at(
    endpoint: Endpoint,
    child: &mut Child,
    log: impl FnOnce(&mut Child) -> String,
) -> Channel {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            panic!("ochre exited early with {status}: {}", log(child));
        }
        if let Ok(channel) = endpoint.connect().await {
            let health = HealthClient::new(channel.clone())
                .check(HealthCheckRequest::default())
                .await;
            if health.is_ok_and(|r| r.into_inner().status() == ServingStatus::Serving) {
                return channel;
            }
        }
        assert!(
            Instant::now() < deadline,
            "ochre did not become SERVING within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The three URLs a server process connects with.
#[derive(Debug, Clone)]
pub struct DbUrls {
    /// `DATABASE_URL` (the owner role).
    pub owner: String,
    /// `OCHRE_APP_DATABASE_URL`.
    pub app: String,
    /// `OCHRE_SERVICE_DATABASE_URL`.
    pub service: String,
}

/// A running `ochre serve` process. Dropping it kills the process.
#[derive(Debug)]
pub struct ServerProcess {
    pub port: u16,
    /// The admin listener's port (`OCHRE_ADMIN_ADDR`, unless `extra` set it).
    pub admin_port: u16,
    /// The server's database (a fresh clone of the migrated template).
    pub database: String,
    pub channel: Channel,
    child: Child,
    log: tempfile::NamedTempFile,
}

impl ServerProcess {
    /// Starts `ochre serve` on a fresh migrated database of the test
    /// cluster with generated secrets, `extra` environment on top, and waits
    /// until it reports SERVING.
    pub async fn start(extra: &[(&str, &str)]) -> ServerProcess {
        let database = cluster().await.fresh_database(true).await;
        Self::start_on(database, extra).await
    }

    /// Starts `ochre serve` like [`Self::start`] on an existing database
    /// (another replica of a running server: same database, own secrets
    /// unless `extra` sets them).
    pub async fn start_on(database: String, extra: &[(&str, &str)]) -> ServerProcess {
        Self::start_on_port(database, free_port(), extra).await
    }

    /// Starts `ochre serve` like [`Self::start_on`], listening on `port`
    /// (for example to restart a killed server where its clients expect
    /// it; give `extra` the first one's secrets so its tokens stay valid).
    pub async fn start_on_port(
        database: String,
        port: u16,
        extra: &[(&str, &str)],
    ) -> ServerProcess {
        Self::spawn(database, port, extra, None).await
    }

    /// Starts `ochre serve` like [`Self::start`] with `extra` configuring
    /// TLS (`OCHRE_TLS_CERT`, `OCHRE_TLS_KEY`); `tls` is how clients reach
    /// it (the CA and the name in the certificate). `channel` is over TLS.
    pub async fn start_tls(extra: &[(&str, &str)], tls: ClientTlsConfig) -> ServerProcess {
        let database = cluster().await.fresh_database(true).await;
        Self::spawn(database, free_port(), extra, Some(tls)).await
    }

    async fn spawn(
        database: String,
        port: u16,
        extra: &[(&str, &str)],
        tls: Option<ClientTlsConfig>,
    ) -> ServerProcess {
        let cluster = cluster().await;
        let url = |role| cluster.url(role, &database).expose_secret().to_owned();
        let urls = DbUrls {
            owner: url(pg::OWNER_ROLE),
            app: url(pg::APP_ROLE),
            service: url(pg::SERVICE_ROLE),
        };
        Self::spawn_with(urls, database, port, extra, tls).await
    }

    /// Starts `ochre serve` like [`Self::start_on_port`] against the
    /// database `urls` name (another cluster than the shared one: a fault
    /// test's own).
    pub async fn start_with(
        urls: DbUrls,
        database: String,
        port: u16,
        extra: &[(&str, &str)],
    ) -> ServerProcess {
        Self::spawn_with(urls, database, port, extra, None).await
    }

    async fn spawn_with(
        urls: DbUrls,
        database: String,
        port: u16,
        extra: &[(&str, &str)],
        tls: Option<ClientTlsConfig>,
    ) -> ServerProcess {
        let DbUrls {
            owner,
            app,
            service,
        } = urls;
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let admin_port = free_port();
        let mut command = Command::new(ochre_bin());
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("OCHRE_LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", owner)
            .env("OCHRE_APP_DATABASE_URL", app)
            .env("OCHRE_SERVICE_DATABASE_URL", service)
            .env("OCHRE_MIGRATE_ON_START", "false")
            .env("OCHRE_DB_MAX_CONNECTIONS", "4")
            // One runtime thread, as the read-path benchmark runs it: the
            // server must not depend on a second worker to make progress.
            .env("OCHRE_WORKER_THREADS", "1")
            .env("OCHRE_PUBLIC_URL", "https://app.ochre.test")
            .env("OCHRE_BYOK_ENC_KEY", crate::random_key())
            .env("OCHRE_SURVEY_TOKEN_SECRET", crate::random_secret(32))
            .env("OCHRE_SESSION_SECRET", crate::random_secret(32))
            .env("OCHRE_OAUTH_STATE_SECRET", crate::random_secret(32))
            .env("OCHRE_CRON_SECRET", crate::random_secret(32))
            .env("OCHRE_AUDIT_SIGNING_KEY", crate::random_key())
            // Off unless `extra` sets them (tests call from one address).
            .env("OCHRE_RATE_LIMITS", "off")
            .env("OCHRE_ADMIN_ADDR", format!("127.0.0.1:{admin_port}"))
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("reopen the log file"));
        let child = command.spawn().expect("spawn ochre serve");
        let mut server = ServerProcess {
            port,
            admin_port,
            database,
            channel: Channel::from_static("http://127.0.0.1:1").connect_lazy(),
            child,
            log,
        };
        let log_path = server.log.path().to_path_buf();
        let endpoint = match tls {
            None => Endpoint::from_shared(format!("http://127.0.0.1:{port}")),
            Some(tls) => Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
                .and_then(|e| e.tls_config(tls)),
        }
        .expect("endpoint");
        server.channel = wait_serving_at(endpoint, &mut server.child, |_| {
            std::fs::read_to_string(&log_path).unwrap_or_default()
        })
        .await;
        server
    }

    /// Signs up a new account on this server, signs it in and creates an
    /// org: its access token and the org id.
    pub async fn owner_with_org(&self, name: &str) -> (String, String) {
        use ochre_sdk::v1::{CreateOrgRequest, LoginRequest, SignUpRequest};

        use crate::{
            clients::{AuthClient, GrpcClient as _, OrgClient},
            identity::{strong_password, unique_email, with_auth},
        };
        let (email, password) = (unique_email(), strong_password());
        let mut auth = AuthClient::on(self.channel.clone());
        auth.sign_up(SignUpRequest {
            email: email.clone(),
            password: password.clone(),
            display_name: String::new(),
        })
        .await
        .expect("sign up");
        let token = auth
            .login(LoginRequest { email, password })
            .await
            .expect("log in")
            .into_inner()
            .tokens
            .expect("tokens")
            .access_token;
        let request = with_auth(
            CreateOrgRequest {
                name: name.to_owned(),
                ..Default::default()
            },
            &token,
            None,
        );
        let org = OrgClient::on(self.channel.clone())
            .create_org(request)
            .await
            .expect("create org")
            .into_inner()
            .org
            .expect("the org")
            .id;
        (token, org)
    }

    /// Kills the process (SIGKILL: no draining, connections cut) and
    /// waits for it.
    pub fn kill(self) {
        drop(self);
    }

    /// Sends `signal` to the process (SIGHUP reloads the TLS certificate).
    pub fn send_signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(0));
        nix::sys::signal::kill(pid, signal).expect("signal the server");
    }

    /// What the process logged so far.
    pub fn read_log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Keeps the log with the run's captured logs (see [`crate::logs`]).
    fn keep_log(&self) {
        crate::logs::keep(&self.read_log(), &format!("server-{}", self.port));
    }

    /// Stops the process with SIGTERM, waits for it, and returns its log.
    pub fn stop(mut self) -> String {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(0));
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().ok().flatten().is_none() {
            assert!(
                Instant::now() < deadline,
                "ochre did not stop within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        self.read_log()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.keep_log();
    }
}
