//! Tracing: human-readable lines by default, JSON with `--log-json` or
//! `OCHRE_LOG_FORMAT=json`; the filter comes from `OCHRE_LOG` (or `RUST_LOG`).
//! Every line written while serving a request carries its request span
//! ([`RequestSpanLayer`]).

mod request;

pub use request::{REQUEST_ID_HEADER, RequestId, RequestSpanLayer, record_principal};
use tracing_subscriber::{EnvFilter, fmt};

use crate::config::LogFormat;

/// Installs the global subscriber once; later calls are no-ops.
pub fn init(format: LogFormat) {
    let filter = std::env::var("OCHRE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn".to_owned());
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Human => builder.try_init(),
    };
}
