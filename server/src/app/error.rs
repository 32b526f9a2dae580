//! Why the server could not start, or stopped with an error.

use std::net::SocketAddr;

use crate::{config::ConfigError, pg::ClusterError};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    #[error("embedded Postgres: {0}")]
    Cluster(#[from] ClusterError),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// A runtime role could step around row-level security.
    #[error(
        "refusing to serve: a runtime role could step around row-level security \
         (the app and service URLs must name ochre_app and ochre_service as the \
         bootstrap made them): {}",
        .0.join("; ")
    )]
    UnsafeRoles(Vec<String>),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("TLS: {0}")]
    Tls(#[from] tokio_rustls::rustls::Error),
    #[error("server: {0}")]
    Transport(#[from] tonic::transport::Error),
}
