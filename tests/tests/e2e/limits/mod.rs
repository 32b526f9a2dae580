//! Rate limits end to end: a burst over each limit is refused with
//! RESOURCE_EXHAUSTED, a `google.rpc.RetryInfo` detail and `retry-after`
//! metadata (429 and `Retry-After` on the HTTP routes), other callers, orgs
//! and classes go on; two server processes on one database share the
//! sign-in and survey-answer limits.

mod classes;
mod http;
mod shared;

use ochre_server::limits::config::LIMITS;
use ochre_tests::prelude::*;
use tonic::Status;

/// An `OCHRE_RATE_LIMITS` value with every limit off but `on`.
pub fn only(on: &[(&str, &str)]) -> String {
    LIMITS
        .iter()
        .map(|(name, _, _)| {
            let value = on.iter().find(|(n, _)| n == name).map_or("off", |(_, v)| v);
            format!("{name}={value}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// An app with only these limits on.
pub async fn app_with(on: &[(&str, &str)]) -> TestApp {
    spawn_app_with(AppOptions {
        vars: vec![("OCHRE_RATE_LIMITS", only(on))],
        ..AppOptions::default()
    })
    .await
}

/// Checks that `result` is a rate-limit refusal and returns its delay in
/// seconds (from `retry-after`, which must agree with the RetryInfo).
pub fn throttled<T: std::fmt::Debug>(what: &str, result: Result<T, Status>) -> u64 {
    use tonic_types::StatusExt as _;
    let status = result.expect_err(what);
    assert_eq!(status.code(), Code::ResourceExhausted, "{what}: {status:?}");
    assert!(
        status.message().starts_with("too many "),
        "{what}: a plain message: {status:?}"
    );
    assert_eq!(
        ochre_tests::errors::reason(&status).as_deref(),
        Some("RATE_LIMITED"),
        "{what}: the reason: {status:?}"
    );
    let info = status
        .get_details_retry_info()
        .unwrap_or_else(|| panic!("{what}: a RetryInfo detail: {status:?}"));
    let delay = info.retry_delay.expect("a retry delay");
    assert!(delay > std::time::Duration::ZERO, "{what}: {delay:?}");
    let header: u64 = status
        .metadata()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{what}: retry-after metadata: {status:?}"));
    assert_eq!(header, delay.as_secs_f64().ceil() as u64, "{what}");
    assert!(header >= 1, "{what}");
    header
}

#[test]
fn the_readme_lists_every_limit_with_its_default() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let rows: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("| `") && l.contains('.') && l.matches('`').count() == 4)
        .filter(|l| {
            LIMITS
                .iter()
                .any(|(n, _, _)| l.starts_with(&format!("| `{n}`")))
        })
        .collect();
    assert_eq!(rows.len(), LIMITS.len(), "one row per limit: {rows:#?}");
    for (name, default, counts) in LIMITS {
        let row = format!("| `{name}` | `{default}` | {counts} |");
        assert!(rows.contains(&row.as_str()), "README row {row}");
    }
}
