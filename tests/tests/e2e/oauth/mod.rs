//! OAuth connect and token refresh, against a small OAuth provider on
//! loopback (`provider`).

mod connect;
mod provider;
mod token_refresh;
