//! Orgs: creation through the gated `create_org()`, reads and the IP
//! allowlist under row-level security.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, DbErr};
use uuid::Uuid;

use super::stmt;
use crate::db::{DbError, TenantTx};

#[derive(Debug, Clone)]
pub struct OrgRow {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// Creates an org with the caller as owner; returns its `created_at` (the
/// transaction's timestamp).
pub async fn create(tx: &TenantTx, id: Uuid, name: &str) -> Result<DateTime<Utc>, DbError> {
    let r = tx
        .conn()
        .query_one_raw(stmt(
            "SELECT now() AS created_at FROM (SELECT create_org($1, $2)) AS created",
            [id.into(), name.into()],
        ))
        .await?
        .ok_or(DbErr::RecordNotInserted)?;
    Ok(r.try_get("", "created_at")?)
}

/// The org of the transaction's scope.
pub async fn current(tx: &TenantTx) -> Result<Option<OrgRow>, DbError> {
    let row = tx
        .conn()
        .query_one_raw(stmt(
            "SELECT id, name, created_at FROM orgs WHERE id = app_org() AND deleted_at IS NULL",
            [],
        ))
        .await?;
    row.map(|r| {
        Ok(OrgRow {
            id: r.try_get("", "id")?,
            name: r.try_get("", "name")?,
            created_at: r.try_get("", "created_at")?,
        })
    })
    .transpose()
}

pub async fn allowlist(tx: &TenantTx) -> Result<Vec<String>, DbError> {
    let row = tx
        .conn()
        .query_one_raw(stmt(
            "SELECT ip_allowlist::text[] AS cidrs FROM orgs WHERE id = app_org()",
            [],
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get("", "cidrs"))
        .transpose()?
        .unwrap_or_default())
}

/// Replaces the allowlist; returns false when no row was visible to update.
pub async fn set_allowlist(tx: &TenantTx, cidrs: &[String]) -> Result<bool, DbError> {
    let result = tx
        .conn()
        .execute_raw(stmt(
            "UPDATE orgs SET ip_allowlist = $1::text[]::cidr[] WHERE id = app_org()",
            [cidrs.to_vec().into()],
        ))
        .await?;
    Ok(result.rows_affected() == 1)
}
