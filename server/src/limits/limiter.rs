//! The limiter the gate and the HTTP routes charge: one GCRA per named
//! limit in this process's memory, or a key in Postgres for the limits
//! every replica must agree on ([`SHARED`]). A refusal is
//! [`ApiError::Throttled`]: RESOURCE_EXHAUSTED with `RetryInfo` and
//! `retry-after` (429 with `Retry-After` on the HTTP routes).

use std::{collections::BTreeMap, time::Instant};

use super::{config::RateLimits, gcra::Gcra};
use crate::{
    db::{Db, service::rate::SharedTake},
    error::ApiError,
};

/// The limits kept in Postgres: replicas behind one database share them.
pub const SHARED: &[&str] = &[
    "sign_in.address",
    "survey_submit.address",
    "budget.principal",
    "budget.org",
];

/// Keys one in-memory limit tracks at most (see [`Gcra`]).
const MAX_KEYS: usize = 100_000;

/// One charge: a named limit and the key it counts (`ip:…`, `user:…`,
/// `key:…`, `org:…`).
#[derive(Debug, Clone)]
pub struct Charge {
    pub limit: &'static str,
    pub key: String,
}

impl Charge {
    pub fn new(limit: &'static str, key: impl Into<String>) -> Self {
        Charge {
            limit,
            key: key.into(),
        }
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    local: BTreeMap<&'static str, Gcra>,
    db: Db,
}

impl RateLimiter {
    pub fn new(limits: RateLimits, db: Db) -> Self {
        let local = super::config::LIMITS
            .iter()
            .filter(|(name, _, _)| !SHARED.contains(name))
            .filter_map(|(name, _, _)| Some((*name, Gcra::new(limits.get(name)?, MAX_KEYS))))
            .collect();
        RateLimiter { limits, local, db }
    }

    /// Charges each in-memory limit of `charges` (shared ones are skipped:
    /// see [`Self::charge_shared`]).
    pub fn charge_local(&self, charges: &[Charge]) -> Result<(), ApiError> {
        let now = Instant::now();
        for c in charges {
            if let Some(gcra) = self.local.get(c.limit) {
                gcra.take(&c.key, now)
                    .map_err(|wait| throttled(c.limit, wait))?;
            }
        }
        Ok(())
    }

    /// Charges the shared limits of `charges` in one database round trip.
    /// If the database cannot answer, the call is refused (UNAVAILABLE):
    /// a limit that cannot be checked admits nothing.
    pub async fn charge_shared(&self, charges: &[Charge]) -> Result<(), ApiError> {
        let takes: Vec<SharedTake> = charges
            .iter()
            .filter(|c| SHARED.contains(&c.limit))
            .filter_map(|c| {
                let limit = self.limits.get(c.limit)?;
                Some(SharedTake {
                    key: format!("{}|{}", c.limit, c.key),
                    interval: limit.interval(),
                    burst: limit.burst,
                })
            })
            .collect();
        match self.db.rate_limit_take(&takes).await? {
            None => Ok(()),
            Some(wait) => Err(throttled(
                charges.first().map_or("shared", |c| c.limit),
                wait,
            )),
        }
    }

    /// Charges every limit of `charges`, in memory first.
    pub async fn charge(&self, charges: &[Charge]) -> Result<(), ApiError> {
        self.charge_local(charges)?;
        self.charge_shared(charges).await
    }
}

/// The refusal of a limit: which class refused and when to retry (whole
/// seconds, at least one).
fn throttled(limit: &'static str, wait: std::time::Duration) -> ApiError {
    let class = limit.split('.').next().unwrap_or("request");
    crate::telemetry::metrics::rate_limited(class);
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::Throttled {
        reason: crate::error::Reason::RateLimited,
        message: format!("too many {class} requests: retry in {} s", secs.max(1)).into(),
        retry_after: wait,
    }
}
