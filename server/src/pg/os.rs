//! The cluster's OS side: the user it runs as, private files, the
//! commands (`initdb`, `pg_ctl`) run as that user, and the live-postmaster
//! check.

use std::{
    net::{Ipv4Addr, TcpListener},
    os::unix::fs::OpenOptionsExt as _,
    path::Path,
    process::Stdio,
    time::Duration,
};

use tokio::process::Command;

use super::error::ClusterError;

pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ClusterError + '_ {
    move |source| ClusterError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The held owner lock of a cluster (`owner.rs`; released when dropped or
/// when the process ends).
#[derive(Debug)]
pub(super) struct OwnerLock {
    _file: std::fs::File,
}

impl OwnerLock {
    pub(super) fn new(file: std::fs::File) -> Self {
        OwnerLock { _file: file }
    }
}

/// The OS identity the cluster runs as.
#[derive(Debug, Clone)]
pub(super) struct OsUser {
    pub(super) name: String,
    pub(super) uid: u32,
    pub(super) gid: u32,
    /// Whether commands must switch to this user (we are root).
    pub(super) switch: bool,
}

/// The pid in `postmaster.pid` when it names a live postgres process.
pub(super) fn live_postmaster(data: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    let pid: u32 = text.lines().next()?.trim().parse().ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    matches!(comm.trim(), "postgres" | "postmaster").then_some(pid)
}

pub(super) fn os_user() -> Result<OsUser, ClusterError> {
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
pub(super) fn check_reachable(root: &Path, user: &OsUser) -> Result<(), ClusterError> {
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

pub(super) fn chown(path: &Path, user: &OsUser) -> Result<(), ClusterError> {
    if user.switch {
        std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid)).map_err(io(path))?;
    }
    Ok(())
}

pub(super) fn write_private(path: &Path, text: &str, user: &OsUser) -> Result<(), ClusterError> {
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
pub(super) fn choose_port(port_file: &Path) -> Result<u16, ClusterError> {
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

pub(super) async fn run_as(
    user: &OsUser,
    cmd: &mut Command,
    step: &'static str,
) -> Result<(), ClusterError> {
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
