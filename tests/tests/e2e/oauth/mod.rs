//! OAuth connect and token refresh, against a small OAuth provider on
//! loopback (`provider`).

mod connect;
pub(crate) mod provider;
mod token_refresh;
