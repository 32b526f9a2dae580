//! Storage functions. Each takes a [`TenantTx`](crate::db::TenantTx), so it
//! runs as `ochre_app` under row-level security for the verified caller.

pub mod api_keys;
pub mod conversations;
pub mod customers;
pub mod integrations;
pub mod members;
pub mod oauth;
pub mod orgs;
pub mod users;

use sea_orm::{DbBackend, Statement, Value};

pub(crate) fn stmt(sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}
