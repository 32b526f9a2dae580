//! The metric families, in one place ([`FAMILIES`]), recorded through the
//! `metrics` facade into one Prometheus recorder per process and rendered
//! by the admin listener at `GET /metrics` (never on the public port).
//!
//! Every label value is a `&'static str` chosen by the server (a declared
//! gRPC method, a route template, a code name, a reason), so recording is a
//! lookup and an atomic update, and no caller-chosen string becomes a
//! series.

use std::{sync::OnceLock, time::Duration};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Calls by method and code.
pub const RPC_REQUESTS: &str = "ochre_rpc_requests_total";
/// Call latency (seconds) by method and code, a histogram.
pub const RPC_DURATION: &str = "ochre_rpc_duration_seconds";
/// Calls the access gate refused, by reason.
pub const GATE_REFUSALS: &str = "ochre_gate_refusals_total";
/// Password sign-ins by outcome.
pub const LOGINS: &str = "ochre_logins_total";
/// Sign-in locks set off (a pair, an account or an address crossed its
/// threshold).
pub const LOCKOUTS: &str = "ochre_lockouts_total";
/// Calls a rate limit refused, by class.
pub const RATE_LIMITED: &str = "ochre_rate_limited_total";
/// Database pool connections by pool and state (size, in_use, idle).
pub const DB_POOL_CONNECTIONS: &str = "ochre_db_pool_connections";
/// Callers waiting for a connection, by pool.
pub const DB_POOL_WAITING: &str = "ochre_db_pool_waiting";
/// Time to get a connection from a pool (for a transaction, with its
/// BEGIN), seconds.
pub const DB_POOL_ACQUIRE: &str = "ochre_db_pool_acquire_seconds";
/// Webhook deliveries by provider and outcome.
pub const WEBHOOK_DELIVERIES: &str = "ochre_webhook_deliveries_total";
/// Purge runs (`ochre purge`, `POST /cron/purge-expired`) by outcome.
pub const PURGE_RUNS: &str = "ochre_purge_runs_total";
/// 1, labelled with the server's version.
pub const BUILD_INFO: &str = "ochre_build_info";

/// Every family: name, labels, help (the README's "Metrics" table lists the
/// same).
pub const FAMILIES: &[(&str, &[&str], &str)] = &[
    (
        RPC_REQUESTS,
        &["method", "code"],
        "Calls by method and code.",
    ),
    (
        RPC_DURATION,
        &["method", "code"],
        "Call latency by method and code.",
    ),
    (
        GATE_REFUSALS,
        &["reason"],
        "Calls the access gate refused, by reason.",
    ),
    (LOGINS, &["outcome"], "Password sign-ins by outcome."),
    (LOCKOUTS, &[], "Sign-in locks set off."),
    (
        RATE_LIMITED,
        &["class"],
        "Calls a rate limit refused, by class.",
    ),
    (
        DB_POOL_CONNECTIONS,
        &["pool", "state"],
        "Database pool connections by pool and state.",
    ),
    (
        DB_POOL_WAITING,
        &["pool"],
        "Callers waiting for a connection, by pool.",
    ),
    (
        DB_POOL_ACQUIRE,
        &["pool"],
        "Time to get a connection from a pool.",
    ),
    (
        WEBHOOK_DELIVERIES,
        &["provider", "outcome"],
        "Webhook deliveries by provider and outcome.",
    ),
    (PURGE_RUNS, &["outcome"], "Purge runs by outcome."),
    (BUILD_INFO, &["version"], "1, labelled with the version."),
];

/// Histogram buckets (seconds) of every `_seconds` family.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Installs the process's recorder (once; later calls return the same
/// handle). When another recorder is installed already (a test's), the
/// handle renders an empty page.
pub fn install() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new();
            let builder = match builder.set_buckets(BUCKETS) {
                Ok(b) => b,
                Err(_) => PrometheusBuilder::new(),
            };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was installed already");
            }
            for (name, _, help) in FAMILIES {
                if name.ends_with("_seconds") {
                    metrics::describe_histogram!(*name, metrics::Unit::Seconds, *help);
                } else if [DB_POOL_CONNECTIONS, DB_POOL_WAITING, BUILD_INFO].contains(name) {
                    metrics::describe_gauge!(*name, *help);
                } else {
                    metrics::describe_counter!(*name, *help);
                }
            }
            metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            metrics::counter!(LOCKOUTS).increment(0);
            handle
        })
        .clone()
}

/// One finished call.
pub fn rpc(method: &'static str, code: &'static str, elapsed: Duration) {
    metrics::counter!(RPC_REQUESTS, "method" => method, "code" => code).increment(1);
    metrics::histogram!(RPC_DURATION, "method" => method, "code" => code)
        .record(elapsed.as_secs_f64());
}

/// A call the gate refused.
pub fn gate_refusal(reason: &'static str) {
    metrics::counter!(GATE_REFUSALS, "reason" => reason).increment(1);
}

/// A password sign-in's outcome (`success`, `second_factor_required`,
/// `bad_credentials`, `locked`, `invalid`, `error`).
pub fn login(outcome: &'static str) {
    metrics::counter!(LOGINS, "outcome" => outcome).increment(1);
}

/// A sign-in lock set off.
pub fn lockout() {
    metrics::counter!(LOCKOUTS).increment(1);
}

/// A rate-limit refusal of `class` (the limit's name up to its first dot).
pub fn rate_limited(class: &'static str) {
    metrics::counter!(RATE_LIMITED, "class" => class).increment(1);
}

/// A webhook delivery's outcome (`add` 0 registers the series).
pub fn webhook(provider: &'static str, outcome: &'static str, add: u64) {
    metrics::counter!(WEBHOOK_DELIVERIES, "provider" => provider, "outcome" => outcome)
        .increment(add);
}

/// A purge run's outcome (`ok` or `error`).
pub fn purge_run(outcome: &'static str) {
    metrics::counter!(PURGE_RUNS, "outcome" => outcome).increment(1);
}

/// A pool's connections (`size`, `idle`) and callers `waiting` for one now.
pub fn pool(pool: &'static str, size: u32, idle: usize, waiting: usize) {
    let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
    let set = |state: &'static str, n: u32| {
        metrics::gauge!(DB_POOL_CONNECTIONS, "pool" => pool, "state" => state).set(f64::from(n));
    };
    set("size", size);
    set("in_use", size - idle);
    set("idle", idle);
    let waiting = u32::try_from(waiting).unwrap_or(u32::MAX);
    metrics::gauge!(DB_POOL_WAITING, "pool" => pool).set(f64::from(waiting));
}

/// The acquire-latency histogram of `pool` (`app`, `service`, `webhook`),
/// a handle the pool records into (seconds): taken when the pools connect,
/// after the recorder is installed.
pub fn acquire_histogram(pool: &'static str) -> metrics::Histogram {
    metrics::histogram!(DB_POOL_ACQUIRE, "pool" => pool)
}

/// The gRPC name of a `grpc-status` value.
pub fn grpc_code_name(code: i32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("UNKNOWN")
}

/// An HTTP status as a static label (`"404"`).
pub fn http_code_name(status: http::StatusCode) -> &'static str {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        (100u16..600)
            .map(|n| &*Box::leak(n.to_string().into_boxed_str()))
            .collect()
    });
    names
        .get(usize::from(status.as_u16().saturating_sub(100)))
        .copied()
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_their_names() {
        assert_eq!(grpc_code_name(0), "OK");
        assert_eq!(grpc_code_name(5), "NOT_FOUND");
        assert_eq!(grpc_code_name(16), "UNAUTHENTICATED");
        assert_eq!(grpc_code_name(99), "UNKNOWN");
        assert_eq!(http_code_name(http::StatusCode::NOT_FOUND), "404");
        assert_eq!(http_code_name(http::StatusCode::OK), "200");
    }

    #[test]
    fn every_family_is_named_once() {
        let mut names: Vec<&str> = FAMILIES.iter().map(|(n, _, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FAMILIES.len());
        assert!(names.iter().all(|n| n.starts_with("ochre_")));
    }
}
