//! The embedded default Postgres: a private cluster under the data directory,
//! started from the system's PostgreSQL binaries when no `DATABASE_URL` is
//! given, and the bootstrap of Ochre's database roles in it.

mod binaries;
mod bootstrap;
mod cluster;
mod error;

pub use binaries::find_bin_dir;
pub use bootstrap::{
    APP_ROLE, DbCredentials, OWNER_ROLE, SERVICE_ROLE, bootstrap, secure_database,
};
pub use cluster::Cluster;
pub use error::ClusterError;
