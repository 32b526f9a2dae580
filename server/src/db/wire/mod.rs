//! The driver of the `ochre_app` pool: tokio-postgres, whose requests can
//! be pipelined. Every tenant transaction starts with `BEGIN` and its
//! identity call in one write (one round trip instead of two), with the
//! credential proof a bound value as always; a read ends with a ROLLBACK
//! the request does not wait for. The connection's I/O is driven by the
//! request that holds it, as sqlx does, so no answer wakes another task.
//!
//! Storage reaches it through sea-orm's `ConnectionTrait` (raw statements,
//! rows read with `FromQueryResult`): values are bound with the types sqlx
//! declares for them (`values`), errors classified as sqlx's are
//! (`errors`). The `service` and `webhook` pools, migrations and the
//! operator commands stay on sqlx.

mod conn;
mod errors;
mod pool;
mod tx;
mod values;

pub(crate) use errors::{fields, raised_by_us};
pub(crate) use pool::WirePool;
pub(crate) use tx::WireTx;
