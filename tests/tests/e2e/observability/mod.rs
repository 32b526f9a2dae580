//! Observability end to end: the metric families on the admin listener
//! after a mixed workload (and the public port's 404 for `/metrics`),
//! `/live` and `/ready`, the admin token; the pool gauges and acquire
//! histograms while each pool is saturated; the access log of the real binary
//! (one JSON line per call, through the log canary scan, and none when it is
//! off); OTLP trace export to a collector inside the test, continuing the
//! caller's W3C `traceparent`.

mod access_log;
mod admin;
mod metrics;
mod pools;
mod traces;
