//! The `ochre` binary as a separate server process (the load generator
//! never hosts the server in this scenario), configured like
//! [`crate::server::BenchServer::start`] and stopped with SIGTERM.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use ochre_server::pg;
use ochre_tests::{
    cluster::TestCluster,
    process::{free_port, wait_serving},
};
use secrecy::ExposeSecret as _;
use tonic::transport::Channel;

use crate::server::Secrets;

/// The rate limits stay on (the gate charges every call as in production),
/// set far above what the load reaches: the benchmark measures the request
/// path, not a refusal (with the defaults, one agent is held to 50 reads a
/// second).
const BENCH_LIMITS: &str = "read.principal=1000000/s,read.org=1000000/s,\
                            write.principal=1000000/s,write.org=1000000/s";

/// Builds the `ochre` binary of this profile (a no-op when it is current)
/// and returns its path: next to this executable, in the same target dir.
pub fn ochre_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("this executable's path")?;
    let dir = exe.parent().context("this executable's directory")?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.args(["build", "--quiet", "-p", "ochre-server", "--bin", "ochre"]);
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = command
        .current_dir(&workspace)
        .status()
        .context("run cargo build for the ochre binary")?;
    if !status.success() {
        bail!("cargo build of the ochre binary failed: {status}");
    }
    let bin = dir.join("ochre");
    if !bin.is_file() {
        bail!("no ochre binary at {}", bin.display());
    }
    Ok(bin)
}

/// Settings for the server child from the bench's own environment:
/// `BENCH_SERVER_OCHRE_X=v` runs the server with `OCHRE_X=v` (over the
/// defaults above), to compare configurations, e.g.
/// `BENCH_SERVER_OCHRE_ACCESS_LOG=false` or
/// `BENCH_SERVER_OCHRE_DB_MAX_CONNECTIONS=16` (and `TOKIO_WORKER_THREADS`).
fn server_overrides() -> Vec<(String, String)> {
    std::env::vars()
        .filter_map(|(k, v)| Some((k.strip_prefix("BENCH_SERVER_")?.to_owned(), v)))
        .filter(|(k, _)| k.starts_with("OCHRE_") || k == "TOKIO_WORKER_THREADS")
        .collect()
}

/// A running `ochre serve` process on one database of the test cluster.
#[derive(Debug)]
pub struct ServerChild {
    pub port: u16,
    child: Child,
    log: PathBuf,
}

impl ServerChild {
    /// Starts `bin serve` against `database` with the environment
    /// `BenchServer::start` builds (the same secrets as the seeding server,
    /// so its tokens stay valid) and waits until it reports SERVING.
    pub async fn start(
        bin: &Path,
        cluster: &TestCluster,
        tcp: bool,
        database: &str,
        secrets: &Secrets,
    ) -> anyhow::Result<ServerChild> {
        // As pgbench connects: over the cluster's Unix socket, or over TCP.
        let url = |role| match tcp {
            true => cluster.url(role, database),
            false => cluster.socket_url(role, database),
        };
        let url = |role| url(role).expose_secret().to_owned();
        let port = free_port();
        let log = std::env::temp_dir().join(format!("ochre-read-path-{port}.log"));
        let file = std::fs::File::create(&log).context("the server's log file")?;
        let mut command = Command::new(bin);
        command.env_clear();
        // The server's default runtime (a thread per CPU), unless
        // OCHRE_BENCH_SERVER_THREADS asks for a number: with one thread the
        // open loop's tail was 16–46 ms where two held it under 10.
        if let Ok(threads) = std::env::var("OCHRE_BENCH_SERVER_THREADS") {
            command.env("OCHRE_WORKER_THREADS", threads);
        }
        let child = command
            .arg("serve")
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("OCHRE_LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("OCHRE_ADMIN_ADDR", "127.0.0.1:0")
            .env("DATABASE_URL", url(pg::OWNER_ROLE))
            .env("OCHRE_APP_DATABASE_URL", url(pg::APP_ROLE))
            .env("OCHRE_SERVICE_DATABASE_URL", url(pg::SERVICE_ROLE))
            .env("OCHRE_MIGRATE_ON_START", "false")
            .env("OCHRE_RATE_LIMITS", BENCH_LIMITS)
            // As many connections as pgbench has clients: the two keep the
            // same number of backends busy on the same cores.
            .env(
                "OCHRE_DB_MAX_CONNECTIONS",
                super::pgbench::CLIENTS.to_string(),
            )
            .env("OCHRE_CORS_ORIGINS", "https://app.ochre.test")
            .env("OCHRE_PUBLIC_URL", "https://app.ochre.test")
            .env("OCHRE_BYOK_ENC_KEY", &secrets.byok)
            .env("OCHRE_SURVEY_TOKEN_SECRET", ochre_tests::random_secret(32))
            .env("OCHRE_SESSION_SECRET", &secrets.session)
            .env("OCHRE_OAUTH_STATE_SECRET", ochre_tests::random_secret(32))
            .env("OCHRE_CRON_SECRET", &secrets.cron)
            .env("OCHRE_AUDIT_SIGNING_KEY", ochre_tests::random_key())
            .envs(server_overrides())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .with_context(|| format!("spawn {} serve", bin.display()))?;
        let mut server = ServerChild { port, child, log };
        let log = server.log.clone();
        wait_serving(port, &mut server.child, |_| {
            std::fs::read_to_string(&log).unwrap_or_default()
        })
        .await;
        Ok(server)
    }

    /// `n` separate HTTP/2 connections to the server.
    pub async fn channels(&self, n: usize) -> anyhow::Result<Vec<Channel>> {
        let mut channels = Vec::with_capacity(n);
        for _ in 0..n {
            let endpoint = Channel::from_shared(format!("http://127.0.0.1:{}", self.port))?;
            channels.push(endpoint.connect().await.context("connect to ochre")?);
        }
        Ok(channels)
    }

    /// SIGTERM, then waits (30 s at most, then SIGKILL) for it to exit.
    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stop(mut self) -> anyhow::Result<()> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", &pid])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().context("poll ochre")? {
                let _ = std::fs::remove_file(&self.log);
                if !status.success() {
                    bail!("ochre exited with {status} after SIGTERM");
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("ochre did not stop within 30 s of SIGTERM (killed)");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
