//! The rate limits every replica shares (`rate_limit_take()`, migration
//! 0011): one round trip takes a cell of each key, in the database's clock.

use std::time::Duration;

use sea_orm::FromQueryResult;

use crate::db::{Db, DbError, stmt};

/// One key to charge: the key, the emission interval and the burst.
#[derive(Debug, Clone)]
pub struct SharedTake {
    pub key: String,
    pub interval: Duration,
    pub burst: u32,
}

#[derive(Debug, FromQueryResult)]
struct Wait {
    wait_us: i64,
}

#[derive(Debug, FromQueryResult)]
struct Count {
    n: i32,
}

impl Db {
    /// Takes one cell of each key in order, in one statement: `None` when
    /// all admitted, otherwise the wait of the first key that refused (the
    /// keys after it are not charged).
    pub async fn rate_limit_take(&self, takes: &[SharedTake]) -> Result<Option<Duration>, DbError> {
        if takes.is_empty() {
            return Ok(None);
        }
        // Keys are charged in order and the first refusal stops the rest
        // (a CASE evaluates its branches lazily; a CTE calling a volatile
        // function runs it once).
        let mut ctes = Vec::with_capacity(takes.len());
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(takes.len() * 3);
        for (i, take) in takes.iter().enumerate() {
            let n = i * 3;
            let call = format!("rate_limit_take(${}, ${}, ${})", n + 1, n + 2, n + 3);
            ctes.push(if i == 0 {
                format!("t0 AS (SELECT {call} AS w)")
            } else {
                format!(
                    "t{i} AS (SELECT CASE WHEN p.w > 0 THEN p.w ELSE {call} END AS w FROM t{} p)",
                    i - 1
                )
            });
            let interval_us = i64::try_from(take.interval.as_micros())
                .unwrap_or(i64::MAX)
                .max(1);
            values.push(take.key.clone().into());
            values.push(interval_us.into());
            values.push(i32::try_from(take.burst).unwrap_or(i32::MAX).into());
        }
        let sql = format!(
            "WITH {} SELECT w AS wait_us FROM t{}",
            ctes.join(", "),
            takes.len() - 1
        );
        let wait = Wait::find_by_statement(stmt(&sql, values))
            .one(&self.service)
            .await?
            .map_or(0, |w| w.wait_us);
        Ok((wait > 0).then(|| Duration::from_micros(wait.unsigned_abs())))
    }

    /// Forgets the shared keys whose limit has fully recovered; how many.
    pub async fn sweep_rate_buckets(&self) -> Result<i32, DbError> {
        Ok(
            Count::find_by_statement(stmt("SELECT sweep_rate_buckets() AS n", []))
                .one(&self.service)
                .await?
                .map_or(0, |c| c.n),
        )
    }
}
