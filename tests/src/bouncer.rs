//! PgBouncer (Debian's 1.18, `pgbouncer` on the PATH) in transaction
//! pooling mode in front of one database of the test cluster: its own
//! directory (config, userlist with the roles' passwords, log), a free
//! loopback port, run as the cluster's OS user when we are root (PgBouncer
//! refuses to run as root), killed on drop. The configuration is the one
//! the README shows.

use std::{
    os::unix::process::CommandExt as _,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use ochre_server::pg;
use secrecy::ExposeSecret as _;

use crate::{
    cluster::{TestCluster, cluster},
    process::{DbUrls, free_port},
};

/// A running PgBouncer. Dropping it kills the process.
#[derive(Debug)]
pub struct PgBouncer {
    /// Where it listens (127.0.0.1).
    pub port: u16,
    /// The database it pools.
    pub database: String,
    cluster: &'static TestCluster,
    child: Child,
    dir: tempfile::TempDir,
}

impl PgBouncer {
    /// Starts PgBouncer for `database` of the test cluster and waits until
    /// it accepts connections (10 s at most).
    pub async fn start(database: &str) -> PgBouncer {
        let cluster = cluster().await;
        let dir = tempfile::tempdir().expect("a PgBouncer directory");
        let port = free_port();
        let path = |name: &str| dir.path().join(name);
        let users: String = [pg::APP_ROLE, pg::SERVICE_ROLE]
            .iter()
            .map(|role| {
                let password = match *role {
                    pg::APP_ROLE => &cluster.creds.app,
                    _ => &cluster.creds.service,
                };
                format!("\"{role}\" \"{}\"\n", password.expose_secret())
            })
            .collect();
        std::fs::write(path("userlist.txt"), users).expect("write the userlist");
        let config = format!(
            "[databases]\n\
             {database} = host=127.0.0.1 port={pg_port} dbname={database}\n\
             \n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir =\n\
             auth_type = scram-sha-256\n\
             auth_file = {userlist}\n\
             logfile = {log}\n\
             pool_mode = transaction\n\
             server_reset_query = DEALLOCATE ALL\n\
             server_reset_query_always = 1\n\
             ignore_startup_parameters = extra_float_digits\n\
             max_client_conn = 400\n\
             default_pool_size = 10\n\
             query_wait_timeout = 5\n\
             server_login_retry = 1\n\
             log_connections = 0\n\
             log_disconnections = 0\n",
            pg_port = cluster.port,
            userlist = path("userlist.txt").display(),
            log = path("pgbouncer.log").display(),
        );
        std::fs::write(path("pgbouncer.ini"), config).expect("write pgbouncer.ini");
        let mut command = Command::new(binary());
        command
            .arg(path("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((uid, gid)) = unprivileged() {
            for entry in ["", "userlist.txt", "pgbouncer.ini"] {
                std::os::unix::fs::chown(path(entry), Some(uid), Some(gid))
                    .expect("give the PgBouncer directory to its user");
            }
            command.uid(uid).gid(gid).env("HOME", "/tmp");
        }
        let child = command
            .spawn()
            .expect("spawn pgbouncer (scripts/install-deps.sh installs it)");
        let mut bouncer = PgBouncer {
            port,
            database: database.to_owned(),
            cluster,
            child,
            dir,
        };
        bouncer.wait_listening().await;
        bouncer
    }

    async fn wait_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll pgbouncer") {
                panic!("pgbouncer exited early with {status}: {}", self.read_log());
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "pgbouncer did not listen within 10 s: {}",
                self.read_log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The URLs of a server process behind this PgBouncer: the runtime
    /// roles through it, the owner (migrations) directly to Postgres.
    pub fn urls(&self) -> DbUrls {
        let cluster = self.cluster;
        let through = |role: &str, password: &secrecy::SecretString| {
            format!(
                "postgres://{role}:{}@127.0.0.1:{}/{}",
                password.expose_secret(),
                self.port,
                self.database
            )
        };
        DbUrls {
            owner: cluster
                .url(pg::OWNER_ROLE, &self.database)
                .expose_secret()
                .to_owned(),
            app: through(pg::APP_ROLE, &cluster.creds.app),
            service: through(pg::SERVICE_ROLE, &cluster.creds.service),
        }
    }

    /// What PgBouncer logged so far.
    pub fn read_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        crate::logs::keep(&self.read_log(), &format!("pgbouncer-{}", self.port));
    }
}

/// `pgbouncer` on the PATH, else Debian's `/usr/sbin/pgbouncer` (not on
/// an unprivileged user's PATH).
fn binary() -> PathBuf {
    let debian = PathBuf::from("/usr/sbin/pgbouncer");
    let on_path = std::env::var_os("PATH").map(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("pgbouncer"))
            .find(|p| p.is_file())
    });
    on_path.flatten().unwrap_or(debian)
}

/// The uid and gid of the `postgres` OS user when we are root.
fn unprivileged() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let user = nix::unistd::User::from_name("postgres")
        .ok()
        .flatten()
        .expect("an OS user `postgres` to run PgBouncer as (we are root)");
    Some((user.uid.as_raw(), user.gid.as_raw()))
}
