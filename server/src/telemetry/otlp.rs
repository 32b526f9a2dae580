//! Optional trace export: OpenTelemetry over OTLP/HTTP (protobuf) to
//! `OCHRE_OTLP_ENDPOINT` (the collector's base URL; `/v1/traces` is added
//! unless given), sampling `OCHRE_OTLP_SAMPLE_RATIO` of the traces that
//! start here (a caller's W3C `traceparent` decides for its own). The spans
//! are the server's own: `request` (INFO), `gate` and `db.transaction`
//! (TRACE, so that no log line carries them); no log event is exported.
//! Off when the endpoint is unset.

use std::{sync::OnceLock, time::Duration};

use crate::config::OtlpConfig;
use opentelemetry::{
    propagation::{Extractor, TextMapPropagator as _},
    trace::TracerProvider as _,
};
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::{
    Resource,
    propagation::TraceContextPropagator,
    trace::{BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider},
};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::registry::LookupSpan;

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The tracing layer that exports spans, or `None` (and a warning on
/// standard error) when the exporter cannot be built.
pub(super) fn layer<S>(config: &OtlpConfig) -> Option<impl tracing_subscriber::Layer<S>>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(config.endpoint.as_str())
        .with_timeout(Duration::from_secs(5))
        .build();
    let exporter = match exporter {
        Ok(e) => e,
        Err(e) => {
            report(&format!("trace export is off: {e}"));
            return None;
        }
    };
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_scheduled_delay(Duration::from_secs(2))
                .build(),
        )
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            config.sample_ratio,
        ))))
        .with_resource(
            Resource::builder()
                .with_service_name("ochre")
                .with_attribute(opentelemetry::KeyValue::new(
                    "service.version",
                    env!("CARGO_PKG_VERSION"),
                ))
                .build(),
        )
        .build();
    let tracer = provider.tracer("ochre");
    let _ = PROVIDER.set(provider);
    Some(tracing_opentelemetry::layer().with_tracer(tracer))
}

#[allow(clippy::print_stderr)]
fn report(line: &str) {
    eprintln!("ochre: {line}");
}

/// Sends the spans still buffered (at exit).
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get() {
        let _ = provider.shutdown();
    }
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Makes the caller's W3C `traceparent` (when there is one and traces are
/// exported) the parent of `span`.
pub(super) fn set_parent(span: &tracing::Span, headers: &http::HeaderMap) {
    if PROVIDER.get().is_none() || !headers.contains_key("traceparent") {
        return;
    }
    let context = TraceContextPropagator::new().extract(&Headers(headers));
    let _ = span.set_parent(context);
}
