//! Isolation between orgs, at the SQL level and at the RPC level.

mod definers;
mod forged;
mod generated;
mod impersonation;
mod pinned;
mod portals;
mod rpc;
mod sql;
mod temporary;
mod unsafe_roles;
