//! Storage functions. Each takes a [`TenantTx`](crate::db::TenantTx), so it
//! runs as `ochre_app` under row-level security for the verified caller.

pub mod api_keys;
pub mod audit;
pub mod budgets;
pub mod conversations;
pub mod customers;
pub mod erasures;
pub mod guard;
pub mod integrations;
pub mod members;
pub mod oauth;
pub mod orgs;
pub mod request_ids;
pub mod sessions;
pub mod surveys;
pub mod users;
pub mod webhooks;

use super::pool::{ip_text, stmt};
