//! API keys of the scope's org, as metadata: the secret exists only as a hash.

use crate::ids::{ApiKeyId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, DbErr, FromQueryResult};

use super::stmt;
use crate::db::{DbError, TenantTx};

#[derive(Debug, Clone, FromQueryResult)]
pub struct ApiKeyRow {
    pub id: ApiKeyId,
    pub name: String,
    pub role: String,
    pub prefix: String,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, name, role, prefix, created_by, created_at, last_used_at, revoked_at";

pub async fn create(
    tx: &TenantTx,
    id: ApiKeyId,
    name: &str,
    role: &str,
    key_hash: &[u8; 32],
    prefix: &str,
    created_by: Option<UserId>,
) -> Result<ApiKeyRow, DbError> {
    Ok(ApiKeyRow::find_by_statement(stmt(
        &format!(
            "INSERT INTO api_keys (org_id, id, name, role, key_hash, prefix, created_by) \
             VALUES ($7, $1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
        ),
        [
            id.into(),
            name.into(),
            role.into(),
            key_hash.to_vec().into(),
            prefix.into(),
            created_by.into(),
            tx.org().into(),
        ],
    ))
    .one(tx.conn())
    .await?
    .ok_or(DbErr::RecordNotInserted)?)
}

/// One page of the org's API keys by id (time-ordered), after `after`.
pub async fn list(
    tx: &TenantTx,
    after: Option<ApiKeyId>,
    limit: u64,
) -> Result<Vec<ApiKeyRow>, DbError> {
    Ok(ApiKeyRow::find_by_statement(stmt(
        &format!(
            "SELECT {COLUMNS} FROM api_keys \
              WHERE org_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
        ),
        [
            tx.org().into(),
            after.into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    ))
    .all(tx.conn())
    .await?)
}

/// Revokes a key; false when no active key with that id is visible.
pub async fn revoke(tx: &TenantTx, id: ApiKeyId) -> Result<bool, DbError> {
    let r = tx
        .conn()
        .execute_raw(stmt(
            "UPDATE api_keys SET revoked_at = now() WHERE org_id = $2 AND id = $1 AND revoked_at IS NULL",
            [id.into(), tx.org().into()],
        ))
        .await?;
    Ok(r.rows_affected() == 1)
}
