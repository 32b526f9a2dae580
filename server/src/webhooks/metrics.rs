//! Webhook delivery counters per provider and outcome
//! (`ochre_webhook_deliveries_total{provider,outcome}`), recorded through
//! the metrics exporter and rendered on the admin listener's `GET /metrics`.

use super::verify::Provider;

/// How one delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Verified and stored.
    Accepted,
    /// Verified; its delivery id was stored already.
    Duplicate,
    /// No signature matched a configured secret (or none is configured).
    BadSignature,
    /// The signed timestamp is too old or too far in the future.
    Stale,
    /// A required header is missing or malformed, or the body is unusable.
    Malformed,
    /// Unknown provider or integration.
    NotFound,
    /// The integration's workspace is pending deletion (410).
    Gone,
    /// Body over the limit.
    TooLarge,
    /// The server could not finish (database unavailable, ...).
    Error,
}

impl Outcome {
    pub const ALL: [Outcome; 9] = [
        Outcome::Accepted,
        Outcome::Duplicate,
        Outcome::BadSignature,
        Outcome::Stale,
        Outcome::Malformed,
        Outcome::NotFound,
        Outcome::Gone,
        Outcome::TooLarge,
        Outcome::Error,
    ];

    pub const fn label(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Duplicate => "duplicate",
            Outcome::BadSignature => "bad_signature",
            Outcome::Stale => "stale",
            Outcome::Malformed => "malformed",
            Outcome::NotFound => "not_found",
            Outcome::Gone => "gone",
            Outcome::TooLarge => "too_large",
            Outcome::Error => "error",
        }
    }
}

/// The counters. Deliveries to a path naming no known provider count under
/// `provider="unknown"`. Made with [`Metrics::default`], which registers
/// every series at zero.
#[derive(Debug)]
pub struct Metrics(());

fn label(provider: Option<Provider>) -> &'static str {
    provider.map_or("unknown", |p| p.id())
}

impl Default for Metrics {
    fn default() -> Self {
        for provider in Provider::ALL.iter().copied().map(Some).chain([None]) {
            for outcome in Outcome::ALL {
                crate::telemetry::metrics::webhook(label(provider), outcome.label(), 0);
            }
        }
        Metrics(())
    }
}

impl Metrics {
    /// Counts one delivery.
    pub fn count(&self, provider: Option<Provider>, outcome: Outcome) {
        crate::telemetry::metrics::webhook(label(provider), outcome.label(), 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_their_own_series_and_every_series_is_registered() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let m = Metrics::default();
            m.count(Some(Provider::GitHub), Outcome::Accepted);
            m.count(Some(Provider::GitHub), Outcome::Accepted);
            m.count(None, Outcome::NotFound);
        });
        let text = handle.render();
        assert!(text.contains(
            "ochre_webhook_deliveries_total{provider=\"github\",outcome=\"accepted\"} 2\n"
        ));
        assert!(text.contains(
            "ochre_webhook_deliveries_total{provider=\"unknown\",outcome=\"not_found\"} 1\n"
        ));
        assert!(text.contains(
            "ochre_webhook_deliveries_total{provider=\"stripe\",outcome=\"accepted\"} 0\n"
        ));
        let series = text
            .lines()
            .filter(|l| l.starts_with("ochre_webhook_deliveries_total{"))
            .count();
        assert_eq!(series, (Provider::ALL.len() + 1) * Outcome::ALL.len());
    }
}
