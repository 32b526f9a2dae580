//! A private Postgres cluster: `initdb` once, then `pg_ctl start/stop`.
//!
//! Layout under `root`: `data/` (PGDATA), `run/` (the Unix socket, reachable
//! without a password by the cluster's OS user only), `postgres.log`, and
//! `port`. Postgres refuses to run as root, so when the server runs as root
//! the cluster runs as the unprivileged `postgres` user. TCP listens on
//! loopback only, with SCRAM passwords.

use std::{
    net::{Ipv4Addr, TcpListener},
    os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use rand::{Rng as _, distr::Alphanumeric};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::process::Command;

use super::{binaries::find_bin_dir, error::ClusterError};

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ClusterError + '_ {
    move |source| ClusterError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The OS identity the cluster runs as.
#[derive(Debug, Clone)]
struct OsUser {
    name: String,
    uid: u32,
    gid: u32,
    /// Whether commands must switch to this user (we are root).
    switch: bool,
}

/// A running private cluster.
#[derive(Debug)]
pub struct Cluster {
    root: PathBuf,
    bin: PathBuf,
    user: OsUser,
    port: u16,
    superuser_password: SecretString,
}

impl Cluster {
    /// Initialises the cluster under `root` when it does not exist yet, then
    /// starts it. A server left running by a crashed `ochre` is stopped first;
    /// a stale `postmaster.pid` is removed.
    pub async fn start(root: &Path) -> Result<Cluster, ClusterError> {
        let bin = find_bin_dir()?;
        let user = os_user()?;
        let root = std::path::absolute(root).map_err(io(root))?;
        // pg_ctl runs a shell: allow only characters no shell interprets.
        let safe = |c: char| c.is_ascii_alphanumeric() || "/._-".contains(c);
        if root.to_str().is_none_or(|s| !s.chars().all(safe)) {
            return Err(ClusterError::BadPath(
                root,
                "it may only contain letters, digits and / . _ -",
            ));
        }
        if root.join("run/.s.PGSQL.65535").as_os_str().len() > 100 {
            return Err(ClusterError::BadPath(
                root,
                "it is too long for a Unix socket path",
            ));
        }
        std::fs::create_dir_all(&root).map_err(io(&root))?;
        check_reachable(&root, &user)?;
        let data = root.join("data");
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
        };
        cluster.clear_previous_run().await?;
        cluster.port = choose_port(&root.join("port"))?;
        std::fs::write(root.join("port"), cluster.port.to_string()).map_err(io(&root))?;
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories='{}' \
             -c unix_socket_permissions=0700",
            cluster.port,
            run.display()
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
    /// harness shares one cluster between test processes).
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
        }))
    }

    /// Stops the cluster (fast shutdown: open sessions are closed).
    pub async fn stop(&self) -> Result<(), ClusterError> {
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

/// The pid in `postmaster.pid` when it names a live postgres process.
fn live_postmaster(data: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    let pid: u32 = text.lines().next()?.trim().parse().ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    matches!(comm.trim(), "postgres" | "postmaster").then_some(pid)
}

fn os_user() -> Result<OsUser, ClusterError> {
    let euid = nix::unistd::geteuid();
    if euid.is_root() {
        let user = nix::unistd::User::from_name("postgres")
            .ok()
            .flatten()
            .ok_or(ClusterError::NoUnprivilegedUser)?;
        Ok(OsUser {
            name: user.name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            switch: true,
        })
    } else {
        let user = nix::unistd::User::from_uid(euid).ok().flatten();
        let name = user
            .map(|u| u.name)
            .unwrap_or_else(|| format!("uid{}", euid.as_raw()));
        Ok(OsUser {
            name,
            uid: euid.as_raw(),
            gid: nix::unistd::getegid().as_raw(),
            switch: false,
        })
    }
}

/// Every ancestor of `root` must be traversable by the cluster's user.
fn check_reachable(root: &Path, user: &OsUser) -> Result<(), ClusterError> {
    if !user.switch {
        return Ok(());
    }
    for dir in root.ancestors().skip(1) {
        let meta = std::fs::metadata(dir).map_err(io(dir))?;
        use std::os::unix::fs::MetadataExt as _;
        let mode = meta.mode();
        let ok = if meta.uid() == user.uid {
            mode & 0o100 != 0
        } else if meta.gid() == user.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !ok {
            return Err(ClusterError::Unreachable(
                dir.to_path_buf(),
                user.name.clone(),
            ));
        }
    }
    Ok(())
}

fn chown(path: &Path, user: &OsUser) -> Result<(), ClusterError> {
    if user.switch {
        std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid)).map_err(io(path))?;
    }
    Ok(())
}

fn write_private(path: &Path, text: &str, user: &OsUser) -> Result<(), ClusterError> {
    use std::io::Write as _;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    f.write_all(text.as_bytes()).map_err(io(path))?;
    chown(path, user)
}

/// The port of the last run when it is still free, otherwise a free one.
fn choose_port(port_file: &Path) -> Result<u16, ClusterError> {
    let free = |p: u16| TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok();
    let previous = std::fs::read_to_string(port_file)
        .ok()
        .and_then(|s| s.trim().parse::<u16>().ok());
    if let Some(p) = previous.filter(|p| free(*p)) {
        return Ok(p);
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io(port_file))?;
    let port = listener.local_addr().map_err(io(port_file))?.port();
    Ok(port)
}

async fn run_as(user: &OsUser, cmd: &mut Command, step: &'static str) -> Result<(), ClusterError> {
    if user.switch {
        cmd.uid(user.uid).gid(user.gid);
        cmd.env("HOME", "/tmp")
            .env("USER", &user.name)
            .env("LOGNAME", &user.name);
    }
    // Detach from our process group so a terminal's Ctrl-C reaches only us;
    // we stop the cluster ourselves.
    cmd.process_group(0).current_dir("/").stdin(Stdio::null());
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().map_err(|e| ClusterError::Command {
        step,
        detail: e.to_string(),
    })?;
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .map_err(|_| ClusterError::Command {
            step,
            detail: "timed out".to_owned(),
        })?
        .map_err(|e| ClusterError::Command {
            step,
            detail: e.to_string(),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let detail = format!("{} {}", stderr.trim(), stdout.trim());
        Err(ClusterError::Command {
            step,
            detail: detail.trim().chars().take(800).collect(),
        })
    }
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
