//! Orgs: creation through the gated `create_org()`, reads and the IP
//! allowlist under row-level security.

use crate::ids::OrgId;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, DbErr, FromQueryResult};

use super::stmt;
use crate::db::{DbError, TenantTx};

#[derive(Debug, Clone, FromQueryResult)]
pub struct OrgRow {
    pub id: OrgId,
    pub name: String,
    pub created_at: DateTime<Utc>,
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

/// The org of the transaction's scope.
pub async fn current(tx: &TenantTx) -> Result<Option<OrgRow>, DbError> {
    Ok(OrgRow::find_by_statement(stmt(
        "SELECT id, name, created_at FROM orgs WHERE id = $1 AND deleted_at IS NULL",
        [tx.org().into()],
    ))
    .one(tx.conn())
    .await?)
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
