//! Tracing: human-readable lines by default, JSON with `--log-json` or
//! `OCHRE_LOG_FORMAT=json`; the filter comes from `OCHRE_LOG` (or `RUST_LOG`).
//! Every line written while serving a request carries its request span
//! ([`RequestSpanLayer`]), and every line passes through the redaction stage
//! ([`redact`]) before it reaches its sink.

mod access;
mod background;
mod line;
pub mod metrics;
mod otlp;
pub mod redact;
mod request;

pub use access::client_addr;
pub use background::{LogGuard, flush};
pub use otlp::shutdown;
pub use request::{REQUEST_ID_HEADER, RequestId, RequestSpanLayer, record_principal};
use tracing_subscriber::{
    EnvFilter, Layer as _, filter::FilterExt as _, filter::LevelFilter, filter::Targets,
    filter::filter_fn, fmt, fmt::MakeWriter, layer::SubscriberExt as _,
    util::SubscriberInitExt as _,
};

use crate::config::{LogFormat, OtlpConfig};

/// The filter when neither `OCHRE_LOG` nor `RUST_LOG` is set.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// Installs the global subscriber once, writing to standard error from a
/// background thread that redacts each line (`telemetry/background.rs`) and, with
/// `otlp`, exporting spans; later calls are no-ops. Hold the guard until
/// the process ends: dropping it writes out what is queued.
pub fn init(format: LogFormat, filter: &str, otlp: Option<&OtlpConfig>) -> LogGuard {
    let (sink, guard) = background::stderr();
    install(format, filter, sink, otlp);
    guard
}

/// Installs the global subscriber once, with `filter` (an `EnvFilter`
/// directive), writing redacted lines to `sink` (the test harness gives a
/// file); later calls are no-ops.
pub fn init_with<M>(format: LogFormat, filter: &str, sink: M)
where
    M: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    install(format, filter, redact::RedactingWriter::new(sink), None);
}

/// The target (and its modules) no filter can turn on.
const QUIET: &str = "tokio_postgres";

/// `writer` redacts each line before its sink.
fn install<M>(format: LogFormat, filter: &str, writer: M, otlp: Option<&OtlpConfig>)
where
    M: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    // tokio-postgres logs each statement's bound values (a session proof,
    // an API key) at DEBUG: silent whatever the filter asks. (The app pool
    // now speaks the protocol itself and logs nothing; the crate is still
    // linked for its URL parser, and stays silenced.)
    // (A `Targets` filter decides per callsite, once: the interest cache
    // keeps working.)
    let quiet = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target(QUIET, LevelFilter::OFF);
    let filter = EnvFilter::try_new(filter)
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .and(quiet);
    // The exported spans: the server's own spans only (`request` at INFO,
    // `gate` and `db.transaction` at TRACE so that no log line carries
    // them), whatever the log filter says; never an event (log lines reach
    // only the redacted sinks).
    let spans = otlp.and_then(otlp::layer).map(|l| {
        l.with_filter(filter_fn(|meta| {
            meta.is_span() && meta.target().starts_with("ochre_server")
        }))
    });
    let registry = tracing_subscriber::registry().with(spans);
    let _ = match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_ansi(false)
                    .with_writer(writer)
                    .with_filter(filter),
            )
            .try_init(),
        LogFormat::Human => registry
            .with(
                fmt::layer()
                    .with_ansi(false)
                    .fmt_fields(line::LineFields)
                    .event_format(line::LineFormat)
                    .with_writer(writer)
                    .with_filter(filter),
            )
            .try_init(),
    };
}
