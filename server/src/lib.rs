//! The Ochre security core as a library. `main.rs` is a thin CLI over
//! [`app::Application`].
//!
//! | module | what it holds |
//! |---|---|
//! | [`app`] | server assembly, health, the CLI command bodies |
//! | [`config`] | layered configuration and the development secrets file |
//! | [`ids`] | typed ids (`OrgId`, `UserId`, …) crossing every module boundary |
//! | [`edge`] | the client address behind trusted proxies, native TLS and the accepted connections |
//! | [`gate`] | the access gate in front of every RPC and the [`gate::Principal`] it makes |
//! | [`rpc`] | one handler room per proto service |
//! | [`exports`] | workspace export: the column registry, the snapshot read, the archive |
//! | [`db`] | pools, the tenant transaction, gated service functions, per-table storage |
//! | [`crypto`] | the crypto wall: vault, signed envelopes, token hashing, passwords, TOTP |
//! | [`integrations`] | provider catalog, circuit breakers, OAuth state and `return_to` |
//! | [`limits`] | rate limits: GCRA per caller, org and client address; the configured limits |
//! | [`webhooks`] | provider signature schemes and the webhook ingress |
//! | [`routes`] | the plain-HTTP routes on the gRPC port (webhooks, operator routes) |
//! | [`pg`] | the embedded Postgres cluster |
//! | [`telemetry`] | log setup and the per-request span |
//! | [`error`], [`clock`] | `ApiError`, the refusal reasons and the one conversion to `tonic::Status` with `google.rpc` details; the one clock |

#![deny(rustdoc::broken_intra_doc_links)]

pub mod app;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod edge;
pub mod error;
pub mod exports;
pub mod gate;
pub mod guard;
pub mod ids;
pub mod integrations;
pub mod limits;
pub mod pg;
pub mod routes;
pub mod rpc;
pub mod telemetry;
pub mod webhooks;

pub use app::{Application, StartupError};
pub use config::Config;
