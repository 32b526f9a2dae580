//! The end-to-end tests, one binary: real Postgres (the harness's shared
//! test cluster), the real server on port 0, real gRPC, gRPC-web and HTTP
//! clients, and the `ochre` binary as an operator runs it. One module per
//! topic; run one with `cargo nextest run -p ochre-tests --test e2e <filter>`
//! (`identity::`, `webhooks::`, `cli::`, ...).

#![allow(clippy::unwrap_used)]

mod audit;
mod browser_ts;
mod budgets;
mod cli;
mod config;
mod contract;
mod conversations;
mod deletion;
mod edge;
mod erasure;
mod error_mapping;
mod exports;
mod faults;
mod fuzz;
mod grpc_web_ts;
mod guard;
mod identity;
mod indexes;
mod isolation;
mod layout;
mod limits;
mod logs;
mod oauth;
mod observability;
mod paging;
mod pgbouncer;
mod purge;
mod replicas;
mod request_ids;
mod request_span;
mod role_matrix;
mod schema;
mod schema_lint;
mod schema_snapshot;
mod sdk;
mod server;
mod sharding;
mod surveys;
mod vault;
mod webhooks;
