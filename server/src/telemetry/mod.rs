//! Tracing: human-readable lines by default, JSON with `--log-json` or
//! `OCHRE_LOG_FORMAT=json`; the filter comes from `OCHRE_LOG` (or `RUST_LOG`).
//! Every line written while serving a request carries its request span
//! ([`RequestSpanLayer`]), and every line passes through the redaction stage
//! ([`redact`]) before it reaches its sink.

pub mod redact;
mod request;

pub use request::{REQUEST_ID_HEADER, RequestId, RequestSpanLayer, record_principal};
use tracing_subscriber::{EnvFilter, fmt, fmt::MakeWriter};

use crate::config::LogFormat;

/// The filter when neither `OCHRE_LOG` nor `RUST_LOG` is set.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// Installs the global subscriber once, writing to standard error; later
/// calls are no-ops.
pub fn init(format: LogFormat) {
    let filter = std::env::var("OCHRE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| DEFAULT_FILTER.to_owned());
    init_with(format, &filter, std::io::stderr);
}

/// Installs the global subscriber once, with `filter` (an `EnvFilter`
/// directive), writing redacted lines to `sink` (the test harness gives a
/// file); later calls are no-ops.
pub fn init_with<M>(format: LogFormat, filter: &str, sink: M)
where
    M: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(redact::RedactingWriter::new(sink));
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Human => builder.try_init(),
    };
}
