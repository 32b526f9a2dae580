//! Database access: the runtime pools, the one way handlers reach tenant
//! tables (a [`TenantTx`], opened only after the database verified the
//! caller's credential), the named functions of the service role
//! ([`service`]), per-table storage ([`store`]) and the vault key rotation
//! ([`key_rotation`]).

mod admission;
pub mod audit_chain;
pub mod key_rotation;
mod pool;
mod probe;
mod roles;
pub mod service;
pub mod store;
mod tenant;
mod wire;

pub use pool::{Db, DbError, PoolStats, applied_migrations, migrate, safe_text};
pub(crate) use pool::{ip_text, stmt};
pub use probe::Tables;
pub use tenant::{Proof, TenantTx, Verdict};
pub(crate) use wire::raised_by_us;
