//! The driver of the `ochre_app` pool: the Postgres wire protocol spoken
//! directly (`postgres-protocol` encodes and decodes the messages), so that
//! the statements of a transaction that leave together end in one `Sync`
//! and are answered in one flush. Every tenant transaction starts with
//! `BEGIN` and its identity call in one write (one round trip instead of
//! two), with the credential proof a bound value as always; a read ends
//! with a ROLLBACK the request does not wait for, or with its COMMIT in
//! the same write. The connection's I/O is done by the request that holds
//! it, so no answer wakes another task.
//!
//! Storage reaches it through sea-orm's `ConnectionTrait` (raw statements,
//! rows read with `FromQueryResult`): values are bound with the types sqlx
//! declares for them (`values`), errors classified as sqlx's are
//! (`errors`). The `service` and `webhook` pools, migrations and the
//! operator commands stay on sqlx.

mod conn;
mod errors;
mod exchange;
mod pool;
mod stream;
mod tx;
mod values;

pub(crate) use errors::{fields, raised_by_us};
pub(crate) use pool::WirePool;
pub(crate) use tx::WireTx;
