//! The Ochre security core as a library: configuration, the embedded
//! Postgres, the database layer, the access gate and the gRPC handlers.
//! `main.rs` is a thin CLI over [`startup::Application`].

pub mod api;
pub mod config;
pub mod db;
pub mod error;
pub mod gate;
pub mod pg;
pub mod secrets;
pub mod startup;
pub mod telemetry;

pub use config::Config;
pub use startup::{Application, StartupError};
