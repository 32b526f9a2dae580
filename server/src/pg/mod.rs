//! The embedded default Postgres: a private cluster under the data directory,
//! started from the system's PostgreSQL binaries when no `DATABASE_URL` is
//! given, and the bootstrap of Ochre's database roles in it.

mod binaries;
mod bootstrap;
mod cluster;
mod error;
mod os;
mod owner;
mod paths;

pub use binaries::{find_bin_dir, has_binaries};
pub use bootstrap::{
    APP_ROLE, DbCredentials, OWNER_ROLE, PINNED_CALLER_PARAMETER, SERVICE_ROLE, bootstrap,
    secure_database,
};
pub use cluster::{Cluster, socket_url};
pub use error::ClusterError;
pub use owner::Purpose;
pub use paths::path_problem;
