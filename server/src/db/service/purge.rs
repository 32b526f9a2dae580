//! The purge job (`POST /cron/purge-expired`, `ochre purge`): what has
//! expired for good (`purge_expired()`), then every workspace whose
//! deletion grace has passed, one bounded step per transaction
//! (`purge_org_step()`): resumable after an interruption, harmless to run
//! twice, and a no-op for a workspace restored meanwhile. Each purged
//! workspace leaves a receipt (`org_purge_receipts()`). It also returns
//! the holds of expired budget reservations (`sweep_budget_reservations()`)
//! forgets the shared rate-limit keys that have recovered
//! (`sweep_rate_buckets()`) and the answers of idempotent creates kept
//! longer than 24 hours (`sweep_request_ids()`).

use chrono::{DateTime, Utc};
use sea_orm::FromQueryResult;
use serde_json::{Value, json};

use crate::{
    db::{Db, DbError, stmt},
    ids::OrgId,
};

/// Rows deleted per purge step (one transaction).
pub const DEFAULT_PURGE_BATCH: i32 = 500;

/// How one run of the job goes.
#[derive(Debug, Clone, Copy)]
pub struct PurgeRun {
    /// The time the grace periods are judged against (normally now).
    pub now: DateTime<Utc>,
    /// Rows per step.
    pub batch: i32,
    /// Stop after this many steps (the rest is left for the next run).
    pub max_steps: Option<u64>,
}

impl PurgeRun {
    /// A run at the current time, unbounded, with the default batch.
    pub fn now() -> Self {
        PurgeRun {
            now: Utc::now(),
            batch: DEFAULT_PURGE_BATCH,
            max_steps: None,
        }
    }
}

/// What `purge_expired()` deleted, per kind.
#[derive(Debug, Clone, FromQueryResult)]
struct Purged {
    counts: Value,
}

#[derive(Debug, Clone, FromQueryResult)]
struct Swept {
    n: i32,
}

#[derive(Debug, Clone, FromQueryResult)]
struct Due {
    org_id: OrgId,
}

#[derive(Debug, Clone, FromQueryResult)]
struct Step {
    outcome: String,
}

/// The receipt of one workspace's purge (no personal data).
#[derive(Debug, Clone, FromQueryResult, serde::Serialize)]
pub struct PurgeReceipt {
    pub purged_org_id: OrgId,
    pub deletion_scheduled_at: DateTime<Utc>,
    pub purge_after: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    /// None while the purge is unfinished.
    pub completed_at: Option<DateTime<Utc>>,
    /// Rows deleted per table.
    pub deleted: Value,
    /// The tables found in the catalog and checked empty of the org.
    pub tables_verified: Vec<String>,
}

impl Db {
    /// Runs the whole job once; what it did, as JSON (counts and org ids).
    pub async fn purge_expired(&self, run: PurgeRun) -> Result<Value, DbError> {
        let result = self.purge_expired_once(run).await;
        crate::telemetry::metrics::purge_run(if result.is_ok() { "ok" } else { "error" });
        result
    }

    async fn purge_expired_once(&self, run: PurgeRun) -> Result<Value, DbError> {
        let mut counts = Purged::find_by_statement(stmt("SELECT purge_expired() AS counts", []))
            .one(&self.service)
            .await?
            .ok_or(sea_orm::DbErr::RecordNotFound("purge_expired".to_owned()))?
            .counts;
        let swept = Swept::find_by_statement(stmt("SELECT sweep_budget_reservations() AS n", []))
            .one(&self.service)
            .await?
            .map_or(0, |s| s.n);
        let buckets = self.sweep_rate_buckets().await?;
        let request_ids = Swept::find_by_statement(stmt("SELECT sweep_request_ids() AS n", []))
            .one(&self.service)
            .await?
            .map_or(0, |s| s.n);
        let workspaces = self.purge_workspaces(run).await?;
        if let Some(map) = counts.as_object_mut() {
            map.insert("expired_budget_reservations".to_owned(), swept.into());
            map.insert("rate_limit_keys_forgotten".to_owned(), buckets.into());
            map.insert("request_ids".to_owned(), request_ids.into());
            map.insert("workspaces".to_owned(), workspaces);
        }
        Ok(counts)
    }

    /// Purges the workspaces past their grace at `run.now`, step by step.
    async fn purge_workspaces(&self, run: PurgeRun) -> Result<Value, DbError> {
        let due = Due::find_by_statement(stmt(
            "SELECT org_id FROM orgs_due_for_purge($1) AS org_id",
            [run.now.into()],
        ))
        .all(&self.service)
        .await?;
        let (mut purged, mut unfinished) = (Vec::new(), Vec::new());
        let mut steps = 0u64;
        'orgs: for Due { org_id } in due {
            loop {
                if run.max_steps.is_some_and(|max| steps >= max) {
                    unfinished.push(org_id);
                    break 'orgs;
                }
                steps += 1;
                let outcome = Step::find_by_statement(stmt(
                    "SELECT purge_org_step($1, $2, $3) AS outcome",
                    [org_id.into(), run.now.into(), run.batch.into()],
                ))
                .one(&self.service)
                .await?
                .map(|s| s.outcome)
                .unwrap_or_default();
                match outcome.as_str() {
                    "in_progress" => continue,
                    "done" => {
                        tracing::info!(%org_id, "workspace purged");
                        purged.push(org_id);
                    }
                    // Restored or already purged meanwhile: nothing to do.
                    _ => {}
                }
                break;
            }
        }
        Ok(json!({ "purged": purged, "unfinished": unfinished, "steps": steps }))
    }

    /// Every purge receipt, newest first.
    pub async fn purge_receipts(&self) -> Result<Vec<PurgeReceipt>, DbError> {
        Ok(PurgeReceipt::find_by_statement(stmt(
            "SELECT purged_org_id, deletion_scheduled_at, purge_after, started_at, completed_at, \
                    deleted, tables_verified FROM org_purge_receipts()",
            [],
        ))
        .all(&self.service)
        .await?)
    }
}
