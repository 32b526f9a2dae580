//! Webhook delivery counters per provider and outcome (lock-free atomics),
//! rendered in the Prometheus text format at `GET /metrics`.

use std::{
    fmt::Write as _,
    sync::atomic::{AtomicU64, Ordering},
};

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

    const fn index(self) -> usize {
        self as usize
    }
}

const ROWS: usize = Provider::ALL.len() + 1;
const COLS: usize = Outcome::ALL.len();

/// The counters. Deliveries to a path naming no known provider count under
/// `provider="unknown"`.
#[derive(Debug, Default)]
pub struct Metrics {
    counts: [[AtomicU64; COLS]; ROWS],
}

fn row(provider: Option<Provider>) -> usize {
    provider
        .and_then(|p| Provider::ALL.iter().position(|q| *q == p))
        .unwrap_or(ROWS - 1)
}

fn label(row: usize) -> &'static str {
    Provider::ALL.get(row).map_or("unknown", |p| p.id())
}

impl Metrics {
    /// Counts one delivery.
    pub fn count(&self, provider: Option<Provider>, outcome: Outcome) {
        if let Some(cell) = self
            .counts
            .get(row(provider))
            .and_then(|r| r.get(outcome.index()))
        {
            cell.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The current value of one counter (tests read counters through it;
    /// the server only renders them).
    #[cfg(test)]
    fn get(&self, provider: Option<Provider>, outcome: Outcome) -> u64 {
        self.counts
            .get(row(provider))
            .and_then(|r| r.get(outcome.index()))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Every counter, zeros included, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP ochre_webhook_deliveries_total Webhook deliveries by provider and outcome.\n\
             # TYPE ochre_webhook_deliveries_total counter\n",
        );
        for (r, counts) in self.counts.iter().enumerate() {
            for (outcome, cell) in Outcome::ALL.iter().zip(counts) {
                let _ = writeln!(
                    out,
                    "ochre_webhook_deliveries_total{{provider=\"{}\",outcome=\"{}\"}} {}",
                    label(r),
                    outcome.label(),
                    cell.load(Ordering::Relaxed)
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_their_own_cell_and_render() {
        let m = Metrics::default();
        m.count(Some(Provider::GitHub), Outcome::Accepted);
        m.count(Some(Provider::GitHub), Outcome::Accepted);
        m.count(None, Outcome::NotFound);
        assert_eq!(m.get(Some(Provider::GitHub), Outcome::Accepted), 2);
        assert_eq!(m.get(Some(Provider::Stripe), Outcome::Accepted), 0);
        let text = m.render();
        assert!(text.contains(
            "ochre_webhook_deliveries_total{provider=\"github\",outcome=\"accepted\"} 2\n"
        ));
        assert!(text.contains(
            "ochre_webhook_deliveries_total{provider=\"unknown\",outcome=\"not_found\"} 1\n"
        ));
        assert_eq!(text.lines().count(), 2 + ROWS * COLS);
    }
}
