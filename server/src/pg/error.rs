//! Why the embedded cluster could not be used.

use std::path::PathBuf;

/// Why the embedded cluster could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or under \
         /usr/lib/postgresql/*/bin: install them (Debian: apt-get install postgresql-15) \
         or set DATABASE_URL"
    )]
    NoBinaries,
    #[error(
        "running as root, the cluster needs the unprivileged OS user `postgres`, which does not \
         exist (install the postgresql package or run ochre as a normal user)"
    )]
    NoUnprivilegedUser,
    #[error(
        "the directory {0} is not reachable by the cluster's OS user `{1}`: choose an \
         OCHRE_DATA_DIR that user can traverse (for example under /var/lib or /tmp)"
    )]
    Unreachable(PathBuf, String),
    #[error("the path {0} cannot hold the cluster: {1}")]
    BadPath(PathBuf, &'static str),
    #[error(
        "the data directory {data} was initialised by PostgreSQL {data_version}, but the \
         binaries in {bin} are PostgreSQL {bin_version}: install PostgreSQL {data_version} and \
         point OCHRE_PG_BIN_DIR at its bin directory, or upgrade the data directory with \
         pg_upgrade"
    )]
    VersionMismatch {
        data: PathBuf,
        data_version: String,
        bin: PathBuf,
        bin_version: String,
    },
    #[error(
        "the data directory {dir} is held by another ochre process ({holder}): stop it first, \
         or give this one another OCHRE_DATA_DIR"
    )]
    InUse { dir: PathBuf, holder: String },
    #[error(
        "the embedded Postgres in {0} is held by another ochre process ({1}) but did not come \
         up within 60 s"
    )]
    NotUp(PathBuf, String),
    #[error("{step} failed: {detail}")]
    Command { step: &'static str, detail: String },
    #[error("I/O error at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}
