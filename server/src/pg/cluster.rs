//! A private Postgres cluster: `initdb` once, then `pg_ctl start/stop`.
//!
//! Layout under `root`: `data/` (PGDATA), `run/` (the Unix socket, reachable
//! without a password by the cluster's OS user only), `postgres.log`, and
//! `port`. Postgres refuses to run as root, so when the server runs as root
//! the cluster runs as the unprivileged `postgres` user. TCP listens on
//! loopback only, with SCRAM passwords.

use std::{
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
};

use rand::{Rng as _, distr::Alphanumeric};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::process::Command;

use super::{
    binaries::{bin_dir_for, find_bin_dir},
    error::ClusterError,
    os::{
        OsUser, OwnerLock, check_reachable, choose_port, chown, io, live_postmaster, os_user,
        run_as, write_private,
    },
    paths::path_problem,
};

/// A running private cluster.
#[derive(Debug)]
pub struct Cluster {
    root: PathBuf,
    bin: PathBuf,
    user: OsUser,
    port: u16,
    superuser_password: SecretString,
    /// Whether this process started it (and so stops it).
    started: bool,
    /// The owner lock this process holds while it runs the cluster.
    pub(super) owner: Option<OwnerLock>,
}

impl Cluster {
    /// Initialises the cluster under `root` when it does not exist yet, then
    /// starts it with the binaries found on `PATH` (or `OCHRE_PG_BIN_DIR`).
    /// A server left running by a crashed `ochre` is stopped first; a stale
    /// `postmaster.pid` is removed.
    pub async fn start(root: &Path) -> Result<Cluster, ClusterError> {
        Self::start_with(root, None).await
    }

    /// Like [`Cluster::start`], with the binaries of `bin` when given. A
    /// data directory of another PostgreSQL major version is refused.
    pub async fn start_with(root: &Path, bin: Option<&Path>) -> Result<Cluster, ClusterError> {
        let root = std::path::absolute(root).map_err(io(root))?;
        if let Some(problem) = path_problem(&root) {
            return Err(ClusterError::BadPath(root, problem));
        }
        let data = root.join("data");
        let data_version = std::fs::read_to_string(data.join("PG_VERSION"))
            .ok()
            .map(|v| v.trim().to_owned());
        let bin = match bin {
            Some(dir) => dir.to_path_buf(),
            None => bin_dir_for(data_version.as_deref())?,
        };
        if let Some(data_version) = &data_version {
            let binaries = super::binaries::major_version(&bin).await?;
            if &binaries != data_version {
                return Err(ClusterError::VersionMismatch {
                    data: data.clone(),
                    data_version: data_version.clone(),
                    bin,
                    bin_version: binaries,
                });
            }
        }
        let user = os_user()?;
        std::fs::create_dir_all(&root).map_err(io(&root))?;
        check_reachable(&root, &user)?;
        let run = root.join("run");
        for dir in [&root, &run] {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io(dir))?;
            chown(dir, &user)?;
        }
        let password_file = root.join("superuser.password");
        if !data.join("PG_VERSION").exists() {
            let password: String = rand::rng()
                .sample_iter(&Alphanumeric)
                .take(40)
                .map(char::from)
                .collect();
            write_private(&password_file, &password, &user)?;
            let pwfile = root.join("initdb.pw");
            write_private(&pwfile, &password, &user)?;
            let result = run_as(
                &user,
                Command::new(bin.join("initdb"))
                    .arg("-D")
                    .arg(&data)
                    .arg("-U")
                    .arg(&user.name)
                    .arg("--auth-local=peer")
                    .arg("--auth-host=scram-sha-256")
                    .arg(format!("--pwfile={}", pwfile.display()))
                    .arg("-E")
                    .arg("UTF8")
                    .arg("--no-locale")
                    .arg("--no-instructions"),
                "initdb",
            )
            .await;
            let _ = std::fs::remove_file(&pwfile);
            if let Err(e) = result {
                let _ = std::fs::remove_dir_all(&data);
                return Err(e);
            }
        }
        let password = std::fs::read_to_string(&password_file).map_err(io(&password_file))?;
        let mut cluster = Cluster {
            root: root.clone(),
            bin,
            user,
            port: 0,
            superuser_password: SecretString::from(password.trim().to_owned()),
            started: true,
            owner: None,
        };
        cluster.clear_previous_run().await?;
        cluster.port = choose_port(&root.join("port"))?;
        std::fs::write(root.join("port"), cluster.port.to_string()).map_err(io(&root))?;
        let hba = root.join("pg_hba.conf");
        write_private(&hba, &hba_rules(&cluster.user.name), &cluster.user)?;
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories='{}' \
             -c unix_socket_permissions=0700 -c hba_file='{}'",
            cluster.port,
            run.display(),
            hba.display()
        );
        let log = root.join("postgres.log");
        let mut cmd = Command::new(cluster.bin.join("pg_ctl"));
        cmd.arg("start")
            .arg("-w")
            .arg("-t")
            .arg("60")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .arg("-o")
            .arg(opts);
        run_as(&cluster.user, &mut cmd, "pg_ctl start")
            .await
            .map_err(|e| match e {
                ClusterError::Command { step, detail } => ClusterError::Command {
                    step,
                    detail: format!("{detail} (see {})", log.display()),
                },
                other => other,
            })?;
        tracing::info!(port = cluster.port, dir = %root.display(), "embedded Postgres started");
        Ok(cluster)
    }

    /// Attaches to the cluster under `root` when it is running (the test
    /// harness shares one cluster between test processes; a command uses
    /// the cluster of a running `ochre serve`). [`Cluster::stop`] leaves an
    /// attached cluster running.
    pub fn attach(root: &Path) -> Result<Option<Cluster>, ClusterError> {
        let root = std::path::absolute(root).map_err(io(root))?;
        if !Cluster::is_running(&root) {
            return Ok(None);
        }
        let port_file = root.join("port");
        let port: u16 = std::fs::read_to_string(&port_file)
            .map_err(io(&port_file))?
            .trim()
            .parse()
            .map_err(|_| ClusterError::BadPath(port_file.clone(), "the port file is corrupt"))?;
        let password_file = root.join("superuser.password");
        let password = std::fs::read_to_string(&password_file).map_err(io(&password_file))?;
        Ok(Some(Cluster {
            root,
            bin: find_bin_dir()?,
            user: os_user()?,
            port,
            superuser_password: SecretString::from(password.trim().to_owned()),
            started: false,
            owner: None,
        }))
    }

    /// Stops the cluster (fast shutdown: open sessions are closed) when
    /// this process started it; a cluster it attached to (another `ochre`
    /// runs it) is left running.
    pub async fn stop(&self) -> Result<(), ClusterError> {
        if !self.started {
            tracing::info!("leaving the embedded Postgres running: another ochre process runs it");
            return Ok(());
        }
        let mut cmd = Command::new(self.bin.join("pg_ctl"));
        cmd.arg("stop")
            .arg("-w")
            .arg("-m")
            .arg("fast")
            .arg("-D")
            .arg(self.root.join("data"));
        run_as(&self.user, &mut cmd, "pg_ctl stop").await?;
        tracing::info!("embedded Postgres stopped");
        Ok(())
    }

    /// Whether the cluster under `root` has a live postmaster.
    pub fn is_running(root: &Path) -> bool {
        live_postmaster(&root.join("data")).is_some()
    }

    /// The loopback TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for the superuser over loopback TCP.
    pub fn superuser_url(&self, database: &str) -> SecretString {
        self.url(
            &self.user.name,
            self.superuser_password.expose_secret(),
            database,
        )
    }

    /// A URL for `role` with `password` over loopback TCP.
    pub fn url(&self, role: &str, password: &str, database: &str) -> SecretString {
        SecretString::from(format!(
            "postgres://{role}:{password}@127.0.0.1:{}/{database}",
            self.port
        ))
    }

    /// The directory of the cluster's Unix socket (private to the cluster's
    /// OS user, and so to this process or root).
    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    /// A URL for `role` with `password` over the cluster's Unix socket: the
    /// same password check as over TCP, without the TCP/IP stack on every
    /// message (a loopback round trip costs both ends far more CPU).
    pub fn socket_url(&self, role: &str, password: &str, database: &str) -> SecretString {
        socket_url(&self.socket_dir(), self.port, role, password, database)
    }

    async fn clear_previous_run(&self) -> Result<(), ClusterError> {
        let data = self.root.join("data");
        let pid_file = data.join("postmaster.pid");
        if !pid_file.exists() {
            return Ok(());
        }
        if live_postmaster(&data).is_some() {
            tracing::warn!("a Postgres from a previous run is still up; stopping it");
            let mut cmd = Command::new(self.bin.join("pg_ctl"));
            cmd.arg("stop")
                .arg("-w")
                .arg("-m")
                .arg("fast")
                .arg("-D")
                .arg(&data);
            run_as(&self.user, &mut cmd, "pg_ctl stop (previous run)").await?;
        } else {
            tracing::warn!("removing a stale postmaster.pid left by a crash");
            std::fs::remove_file(&pid_file).map_err(io(&pid_file))?;
        }
        Ok(())
    }
}

/// The cluster's client authentication, written at every start (an
/// existing cluster gets it too): the cluster's OS user by peer over the
/// socket (the bootstrap and operator commands), every other role by
/// password, over the socket or loopback TCP alike.
fn hba_rules(os_user: &str) -> String {
    format!(
        "# Written by ochre at every start; edits are overwritten.\n\
         local all {os_user} peer\n\
         local all all scram-sha-256\n\
         host all all 127.0.0.1/32 scram-sha-256\n"
    )
}

/// A URL for `role` with `password` on `database` over the Unix socket in
/// `dir` (of the cluster on `port`): the directory percent-encoded as the
/// host, which sqlx and tokio-postgres both read as a socket path (a
/// cluster root holds no `%`: see `path_problem`).
pub fn socket_url(
    dir: &Path,
    port: u16,
    role: &str,
    password: &str,
    database: &str,
) -> SecretString {
    let host = dir.display().to_string().replace('/', "%2F");
    SecretString::from(format!(
        "postgres://{role}:{password}@{host}:{port}/{database}"
    ))
}

#[cfg(test)]
mod tests {
    use super::{Cluster, ClusterError};

    #[tokio::test]
    async fn a_data_directory_with_shell_characters_is_refused_before_anything_runs() {
        for bad in [
            "/tmp/ochre-$(id)",
            "/tmp/ochre-`id`",
            "/tmp/och re",
            "/tmp/ochre;id",
            "/tmp/ochre\\x",
        ] {
            let err = Cluster::start(std::path::Path::new(bad)).await.err();
            assert!(
                matches!(err, Some(ClusterError::BadPath(..))),
                "{bad}: {err:?}"
            );
            assert!(!std::path::Path::new(bad).exists(), "{bad} was created");
        }
    }
}
