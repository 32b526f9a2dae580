//! Orgs: creation through the gated `create_org()`, reads and the IP
//! allowlist under row-level security.

use crate::ids::OrgId;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, DbErr, FromQueryResult};

use super::{audit::AuditContext, ip_text, stmt};
use crate::db::{DbError, TenantTx};

#[derive(Debug, Clone, FromQueryResult)]
pub struct OrgRow {
    pub id: OrgId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Set while the org is pending deletion.
    pub deletion_scheduled_at: Option<DateTime<Utc>>,
    pub purge_after: Option<DateTime<Utc>>,
}

/// When a scheduled deletion was made and when the purge may begin.
#[derive(Debug, Clone, FromQueryResult)]
pub struct Scheduled {
    pub deletion_scheduled_at: DateTime<Utc>,
    pub purge_after: DateTime<Utc>,
}

/// When the org was created.
#[derive(Debug, Clone, FromQueryResult)]
struct Created {
    created_at: DateTime<Utc>,
}

/// The org's IP allowlist.
#[derive(Debug, Clone, FromQueryResult)]
struct Allowlist {
    cidrs: Vec<String>,
}

/// Creates an org with the caller as owner; returns its `created_at` (the
/// transaction's timestamp).
pub async fn create(tx: &TenantTx, id: OrgId, name: &str) -> Result<DateTime<Utc>, DbError> {
    let r = Created::find_by_statement(stmt(
        "SELECT now() AS created_at FROM (SELECT create_org($1, $2)) AS created",
        [id.into(), name.into()],
    ))
    .one(tx.conn())
    .await?
    .ok_or(DbErr::RecordNotInserted)?;
    Ok(r.created_at)
}

/// The org of the transaction's scope (pending deletion or not: the
/// identity call admits an org pending deletion only to its owners, for the
/// calls the contract opens to them then).
pub async fn current(tx: &TenantTx) -> Result<Option<OrgRow>, DbError> {
    Ok(OrgRow::find_by_statement(stmt(
        "SELECT id, name, created_at, deleted_at AS deletion_scheduled_at, purge_after \
           FROM orgs WHERE id = $1",
        [tx.org().into()],
    ))
    .one(tx.conn())
    .await?)
}

/// Schedules the org's deletion, `grace` from now (`schedule_org_deletion()`
/// checks the caller is an owner and appends the audit event).
pub async fn schedule_deletion(
    tx: &TenantTx,
    grace: chrono::Duration,
    audit: &AuditContext,
) -> Result<Scheduled, DbError> {
    Ok(Scheduled::find_by_statement(stmt(
        "SELECT deletion_scheduled_at, purge_after \
           FROM schedule_org_deletion(make_interval(secs => $1), $2, $3)",
        [
            (grace.num_seconds() as f64).into(),
            ip_text(audit.client_ip),
            audit.request_id.clone().into(),
        ],
    ))
    .one(tx.conn())
    .await?
    .ok_or(DbErr::RecordNotUpdated)?)
}

/// Cancels the org's scheduled deletion (`restore_org()` refuses when it is
/// not pending or its purge has begun, and appends the audit event).
pub async fn restore(tx: &TenantTx, audit: &AuditContext) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt(
            "SELECT restore_org($1, $2)",
            [ip_text(audit.client_ip), audit.request_id.clone().into()],
        ))
        .await?;
    Ok(())
}

pub async fn allowlist(tx: &TenantTx) -> Result<Vec<String>, DbError> {
    let row = Allowlist::find_by_statement(stmt(
        "SELECT ip_allowlist::text[] AS cidrs FROM orgs WHERE id = $1",
        [tx.org().into()],
    ))
    .one(tx.conn())
    .await?;
    Ok(row.map(|r| r.cidrs).unwrap_or_default())
}

/// Replaces the allowlist; returns false when no row was visible to update.
pub async fn set_allowlist(tx: &TenantTx, cidrs: &[String]) -> Result<bool, DbError> {
    let result = tx
        .conn()
        .execute_raw(stmt(
            "UPDATE orgs SET ip_allowlist = $1::text[]::cidr[] WHERE id = $2",
            [cidrs.to_vec().into(), tx.org().into()],
        ))
        .await?;
    Ok(result.rows_affected() == 1)
}
