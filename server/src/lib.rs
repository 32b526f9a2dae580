//! The Ochre security core as a library: configuration, the embedded
//! Postgres, the database layer, the access gate and the gRPC handlers.
//! `main.rs` is a thin CLI over [`startup::Application`].

pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod identity;
pub mod ingress;
pub mod integrations;
pub mod keys;
pub mod oauth;
pub mod pg;
pub mod secrets;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod vault;
pub mod webhooks;

pub use config::Config;
pub use startup::{Application, StartupError};
