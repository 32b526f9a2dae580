//! Members and invitations of the scope's org. Membership writes go through
//! the gated SQL functions, which check the caller's role again.

use crate::ids::{InvitationId, OrgId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, DbErr, FromQueryResult};

use super::stmt;
use crate::db::{DbError, TenantTx};

#[derive(Debug, Clone, FromQueryResult)]
pub struct MemberRow {
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Clone, FromQueryResult)]
pub struct InvitationRow {
    pub id: InvitationId,
    pub email: String,
    pub role: String,
    pub invited_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The org and role an accepted invitation grants.
#[derive(Debug, Clone, FromQueryResult)]
struct Accepted {
    org_id: OrgId,
    role: String,
}

/// One page of the org's members by user id, after `after`.
pub async fn list(
    tx: &TenantTx,
    after: Option<UserId>,
    limit: u64,
) -> Result<Vec<MemberRow>, DbError> {
    Ok(MemberRow::find_by_statement(stmt(
        "SELECT user_id, email, display_name, role, joined_at FROM org_members() \
          WHERE ($1::uuid IS NULL OR user_id > $1) ORDER BY user_id LIMIT $2",
        [
            after.into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    ))
    .all(tx.conn())
    .await?)
}

pub async fn get(tx: &TenantTx, user_id: UserId) -> Result<Option<MemberRow>, DbError> {
    Ok(MemberRow::find_by_statement(stmt(
        "SELECT user_id, email, display_name, role, joined_at FROM org_members() WHERE user_id = $1",
        [user_id.into()],
    ))
    .one(tx.conn())
    .await?)
}

pub async fn set_role(tx: &TenantTx, user_id: UserId, role: &str) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt(
            "SELECT set_member_role($1, $2)",
            [user_id.into(), role.into()],
        ))
        .await?;
    Ok(())
}

pub async fn remove(tx: &TenantTx, user_id: UserId) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt("SELECT remove_member($1)", [user_id.into()]))
        .await?;
    Ok(())
}

pub async fn transfer_ownership(tx: &TenantTx, user_id: UserId) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt("SELECT transfer_ownership($1)", [user_id.into()]))
        .await?;
    Ok(())
}

const INVITATION_COLUMNS: &str =
    "id, email, role, invited_by, created_at, expires_at, accepted_at, revoked_at";

pub async fn invite(
    tx: &TenantTx,
    id: InvitationId,
    email: &str,
    role: &str,
    token_hash: &[u8; 32],
    invited_by: Option<UserId>,
    days: i32,
) -> Result<InvitationRow, DbError> {
    Ok(InvitationRow::find_by_statement(stmt(
        &format!(
            "INSERT INTO invitations (org_id, id, email, role, token_hash, invited_by, expires_at) \
             VALUES ($7, $1, $2, $3, $4, $5, now() + make_interval(days => $6)) \
             RETURNING {INVITATION_COLUMNS}"
        ),
        [
            id.into(),
            email.into(),
            role.into(),
            token_hash.to_vec().into(),
            invited_by.into(),
            days.into(),
            tx.org().into(),
        ],
    ))
    .one(tx.conn())
    .await?
    .ok_or(DbErr::RecordNotInserted)?)
}

/// One page of the org's invitations by id (time-ordered), after `after`.
pub async fn invitations(
    tx: &TenantTx,
    after: Option<InvitationId>,
    limit: u64,
) -> Result<Vec<InvitationRow>, DbError> {
    Ok(InvitationRow::find_by_statement(stmt(
        &format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations \
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

/// Revokes a pending invitation; false when none is visible.
pub async fn revoke_invitation(tx: &TenantTx, id: InvitationId) -> Result<bool, DbError> {
    let r = tx
        .conn()
        .execute_raw(stmt(
            "UPDATE invitations SET revoked_at = now() \
              WHERE org_id = $2 AND id = $1 AND revoked_at IS NULL AND accepted_at IS NULL",
            [id.into(), tx.org().into()],
        ))
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Accepts an invitation into `org` (the org its token names) for the
/// signed-in caller: (org, role).
pub async fn accept(
    tx: &TenantTx,
    org: OrgId,
    token_hash: &[u8; 32],
    ctx: &super::audit::AuditContext,
) -> Result<(OrgId, String), DbError> {
    let row = Accepted::find_by_statement(stmt(
        "SELECT org_id, role FROM accept_invitation($1, $2, $3, $4)",
        [
            org.into(),
            token_hash.to_vec().into(),
            super::ip_text(ctx.client_ip),
            ctx.request_id.clone().into(),
        ],
    ))
    .one(tx.conn())
    .await?
    .ok_or(DbErr::RecordNotFound("invitation".to_owned()))?;
    Ok((row.org_id, row.role))
}
