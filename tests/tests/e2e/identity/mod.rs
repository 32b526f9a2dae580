//! Accounts, sessions, orgs, members, API keys and TOTP.

mod auth;
mod authority;
mod database;
mod orgs;
mod races;
