//! The caller's own sessions (sign-ins): listed, and revoked one by one or
//! all but the current one. Revocation is one-way (the policy refuses an
//! un-revoke).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, FromQueryResult};

use super::stmt;
use crate::{
    db::{DbError, TenantTx},
    ids::SessionId,
};

/// One session of the caller.
#[derive(Debug, Clone, FromQueryResult)]
pub struct SessionRow {
    pub id: SessionId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// One page of the caller's sessions, newest first, older than `before`.
pub async fn list(
    tx: &TenantTx,
    before: Option<SessionId>,
    limit: u64,
) -> Result<Vec<SessionRow>, DbError> {
    Ok(SessionRow::find_by_statement(stmt(
        "SELECT id, created_at, expires_at, revoked_at, host(client_ip) AS client_ip, user_agent \
           FROM sessions WHERE user_id = app_user() AND ($2::uuid IS NULL OR id < $2) \
          ORDER BY id DESC LIMIT $1",
        [
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
            before.into(),
        ],
    ))
    .all(tx.conn())
    .await?)
}

/// Revokes one of the caller's active sessions; false when there is no such
/// active session of the caller.
pub async fn revoke(tx: &TenantTx, id: SessionId, reason: &str) -> Result<bool, DbError> {
    let done = tx
        .conn()
        .execute_raw(stmt(
            "UPDATE sessions SET revoked_at = now(), revoked_reason = $2 \
              WHERE user_id = app_user() AND id = $1 AND revoked_at IS NULL",
            [id.into(), reason.into()],
        ))
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every active session of the caller but `keep`; how many.
pub async fn revoke_others(tx: &TenantTx, keep: SessionId, reason: &str) -> Result<u64, DbError> {
    let done = tx
        .conn()
        .execute_raw(stmt(
            "UPDATE sessions SET revoked_at = now(), revoked_reason = $2 \
              WHERE user_id = app_user() AND id <> $1 AND revoked_at IS NULL",
            [keep.into(), reason.into()],
        ))
        .await?;
    Ok(done.rows_affected())
}
