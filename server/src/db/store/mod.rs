//! Storage functions. Each takes a [`TenantTx`](crate::db::TenantTx), so it
//! runs as `ochre_app` under row-level security for the verified caller.

pub mod api_keys;
pub mod conversations;
pub mod customers;
pub mod integrations;
pub mod members;
pub mod oauth;
pub mod orgs;
pub mod sessions;
pub mod users;
pub mod webhooks;

use super::stmt;

/// A client address as our SQL functions take it: its text, or '' when the
/// server saw none (they read it with `NULLIF($n, '')::inet`).
pub(super) fn ip_text(ip: Option<std::net::IpAddr>) -> sea_orm::Value {
    ip.map(|ip| ip.to_string()).unwrap_or_default().into()
}
