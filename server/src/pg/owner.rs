//! Who runs the embedded cluster. The process that starts it holds an
//! exclusive lock on `<root>/ochre.lock` (with its pid and command written
//! in it) until it stops it; the lock goes with the process, even on
//! SIGKILL. A second `ochre serve` on the same directory is refused; an
//! operator command (`migrate`, `purge`, `keys rotate`, ...) uses the
//! running cluster and stops nothing it did not start. Without the lock
//! held, a live postmaster is one a crashed `ochre` left behind.

use std::{
    fs::TryLockError,
    io::Write as _,
    path::Path,
    time::{Duration, Instant},
};

use super::{
    cluster::Cluster,
    error::ClusterError,
    os::{OwnerLock, io},
    paths::path_problem,
};

/// What a process wants the cluster for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `ochre serve`: runs the cluster; refused when another process does.
    Serve,
    /// An operator command (its name): uses a running cluster, or starts
    /// and stops one of its own.
    Command(&'static str),
}

impl Cluster {
    /// The cluster under `root` for `purpose`: started (and owned) by this
    /// process when no other `ochre` runs it; otherwise, for a command, the
    /// running one (left running by [`Cluster::stop`]); for `serve`, an
    /// [`ClusterError::InUse`] error.
    pub async fn open(
        root: &Path,
        bin: Option<&Path>,
        purpose: Purpose,
    ) -> Result<Cluster, ClusterError> {
        let root = std::path::absolute(root).map_err(io(root))?;
        if let Some(problem) = path_problem(&root) {
            return Err(ClusterError::BadPath(root, problem));
        }
        std::fs::create_dir_all(&root).map_err(io(&root))?;
        let lock_path = root.join("ochre.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        match file.try_lock() {
            Ok(()) => {
                let what = match purpose {
                    Purpose::Serve => "serve",
                    Purpose::Command(name) => name,
                };
                file.set_len(0).map_err(io(&lock_path))?;
                (&file)
                    .write_all(format!("pid {}: ochre {what}\n", std::process::id()).as_bytes())
                    .map_err(io(&lock_path))?;
                let mut cluster = Cluster::start_with(&root, bin).await?;
                cluster.owner = Some(OwnerLock::new(file));
                Ok(cluster)
            }
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&lock_path)
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                if purpose == Purpose::Serve {
                    return Err(ClusterError::InUse { dir: root, holder });
                }
                // The holder may still be starting it.
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    if let Some(cluster) = Cluster::attach(&root)? {
                        tracing::info!(%holder, "using the embedded Postgres another ochre process runs");
                        return Ok(cluster);
                    }
                    if Instant::now() > deadline {
                        return Err(ClusterError::NotUp(root, holder));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            Err(TryLockError::Error(e)) => Err(io(&lock_path)(e)),
        }
    }
}
