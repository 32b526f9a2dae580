//! Why the configuration was refused.

use std::path::PathBuf;

/// Why the configuration was refused. Messages name variables, never values.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is required{hint}")]
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
    #[error("{a} and {b} must be different secrets")]
    Duplicate { a: &'static str, b: &'static str },
    #[error("configuration file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("development secrets in {path}: {reason}")]
    DevSecrets { path: PathBuf, reason: String },
    #[error("development secrets in {path}: {source}")]
    DevSecretsIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
