//! The caller's own account, sessions and memberships.

use crate::ids::{OrgId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, FromQueryResult};

use super::stmt;
use crate::db::{DbError, TenantTx};

/// A user row as its owner may read it.
#[derive(Debug, Clone, FromQueryResult)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub totp_enabled: bool,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_pending_secret: Option<Vec<u8>>,
    pub totp_last_step: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// One membership of the caller.
#[derive(Debug, Clone, FromQueryResult)]
pub struct MembershipRow {
    pub org_id: OrgId,
    pub org_name: String,
    pub org_created_at: DateTime<Utc>,
    pub role: String,
    /// Set while the org is pending deletion.
    pub deletion_scheduled_at: Option<DateTime<Utc>>,
    pub purge_after: Option<DateTime<Utc>>,
}

/// An org the caller solely owns.
#[derive(Debug, Clone, FromQueryResult)]
struct SoleOwned {
    org_id: OrgId,
}

/// The caller's own row (RLS shows no other).
pub async fn me(tx: &TenantTx) -> Result<Option<UserRow>, DbError> {
    Ok(UserRow::find_by_statement(stmt(
        "SELECT id, email, display_name, password_hash, totp_enabled, totp_secret, \
                totp_pending_secret, totp_last_step, created_at \
           FROM users WHERE id = app_user() FOR UPDATE",
        [],
    ))
    .one(tx.conn())
    .await?)
}

pub async fn set_totp_pending(tx: &TenantTx, blob: Option<Vec<u8>>) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt(
            "UPDATE users SET totp_pending_secret = $1 WHERE id = app_user()",
            [blob.into()],
        ))
        .await?;
    Ok(())
}

pub async fn enable_totp(tx: &TenantTx, secret: Vec<u8>, step: i64) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt(
            "UPDATE users SET totp_secret = $1, totp_pending_secret = NULL, totp_enabled = true, \
                    totp_last_step = $2 WHERE id = app_user()",
            [secret.into(), step.into()],
        ))
        .await?;
    Ok(())
}

pub async fn disable_totp(tx: &TenantTx, step: i64) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt(
            "UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL, totp_enabled = false, \
                    totp_last_step = $1 WHERE id = app_user()",
            [step.into()],
        ))
        .await?;
    Ok(())
}

pub async fn set_totp_last_step(tx: &TenantTx, step: i64) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt(
            "UPDATE users SET totp_last_step = $1 WHERE id = app_user()",
            [step.into()],
        ))
        .await?;
    Ok(())
}

/// Replaces the caller's password hash.
pub async fn set_password_hash(tx: &TenantTx, phc: &str) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt(
            "UPDATE users SET password_hash = $1 WHERE id = app_user()",
            [phc.into()],
        ))
        .await?;
    Ok(())
}

/// One page of the caller's memberships by org id, after `after`.
pub async fn memberships(
    tx: &TenantTx,
    after: Option<OrgId>,
    limit: u64,
) -> Result<Vec<MembershipRow>, DbError> {
    Ok(MembershipRow::find_by_statement(stmt(
        "SELECT org_id, org_name, org_created_at, role, deletion_scheduled_at, purge_after \
           FROM my_memberships() WHERE ($1::uuid IS NULL OR org_id > $1) ORDER BY org_id LIMIT $2",
        [
            after.into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    ))
    .all(tx.conn())
    .await?)
}

/// Orgs where the caller is the only owner.
pub async fn sole_owner_orgs(tx: &TenantTx) -> Result<Vec<OrgId>, DbError> {
    let rows = SoleOwned::find_by_statement(stmt("SELECT sole_owner_orgs() AS org_id", []))
        .all(tx.conn())
        .await?;
    Ok(rows.into_iter().map(|r| r.org_id).collect())
}

/// Deletes the caller's account through `delete_my_account()`, which revokes
/// its API keys and pending invitations in every org first.
pub async fn delete_me(tx: &TenantTx) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt("SELECT delete_my_account()", []))
        .await?;
    Ok(())
}
