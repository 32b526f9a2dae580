//! Members and invitations of the scope's org. Membership writes go through
//! the gated SQL functions, which check the caller's role again.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, DbErr, QueryResult};
use uuid::Uuid;

use super::stmt;
use crate::db::{DbError, TenantTx};

#[derive(Debug, Clone)]
pub struct MemberRow {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct InvitationRow {
    pub id: Uuid,
    pub email: String,
    pub role: String,
    pub invited_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn member(r: &QueryResult) -> Result<MemberRow, DbError> {
    Ok(MemberRow {
        user_id: r.try_get("", "user_id")?,
        email: r.try_get("", "email")?,
        display_name: r.try_get("", "display_name")?,
        role: r.try_get("", "role")?,
        joined_at: r.try_get("", "joined_at")?,
    })
}

fn invitation(r: &QueryResult) -> Result<InvitationRow, DbError> {
    Ok(InvitationRow {
        id: r.try_get("", "id")?,
        email: r.try_get("", "email")?,
        role: r.try_get("", "role")?,
        invited_by: r.try_get("", "invited_by")?,
        created_at: r.try_get("", "created_at")?,
        expires_at: r.try_get("", "expires_at")?,
        accepted_at: r.try_get("", "accepted_at")?,
        revoked_at: r.try_get("", "revoked_at")?,
    })
}

pub async fn list(tx: &TenantTx) -> Result<Vec<MemberRow>, DbError> {
    let rows = tx
        .conn()
        .query_all_raw(stmt(
            "SELECT user_id, email, display_name, role, joined_at FROM org_members()",
            [],
        ))
        .await?;
    rows.iter().map(member).collect()
}

pub async fn get(tx: &TenantTx, user_id: Uuid) -> Result<Option<MemberRow>, DbError> {
    let r = tx
        .conn()
        .query_one_raw(stmt(
            "SELECT user_id, email, display_name, role, joined_at FROM org_members() WHERE user_id = $1",
            [user_id.into()],
        ))
        .await?;
    r.as_ref().map(member).transpose()
}

pub async fn set_role(tx: &TenantTx, user_id: Uuid, role: &str) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt(
            "SELECT set_member_role($1, $2)",
            [user_id.into(), role.into()],
        ))
        .await?;
    Ok(())
}

pub async fn remove(tx: &TenantTx, user_id: Uuid) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt("SELECT remove_member($1)", [user_id.into()]))
        .await?;
    Ok(())
}

pub async fn transfer_ownership(tx: &TenantTx, user_id: Uuid) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt("SELECT transfer_ownership($1)", [user_id.into()]))
        .await?;
    Ok(())
}

const INVITATION_COLUMNS: &str =
    "id, email, role, invited_by, created_at, expires_at, accepted_at, revoked_at";

pub async fn invite(
    tx: &TenantTx,
    id: Uuid,
    email: &str,
    role: &str,
    token_hash: &[u8; 32],
    invited_by: Option<Uuid>,
    days: i32,
) -> Result<InvitationRow, DbError> {
    let row = tx
        .conn()
        .query_one_raw(stmt(
            &format!(
                "INSERT INTO invitations (org_id, id, email, role, token_hash, invited_by, expires_at) \
                 VALUES (app_org(), $1, $2, $3, $4, $5, now() + make_interval(days => $6)) \
                 RETURNING {INVITATION_COLUMNS}"
            ),
            [id.into(), email.into(), role.into(), token_hash.to_vec().into(), invited_by.into(), days.into()],
        ))
        .await?
        .ok_or(DbErr::RecordNotInserted)?;
    invitation(&row)
}

pub async fn invitations(tx: &TenantTx) -> Result<Vec<InvitationRow>, DbError> {
    let rows = tx
        .conn()
        .query_all_raw(stmt(
            &format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE org_id = app_org() ORDER BY created_at, id"),
            [],
        ))
        .await?;
    rows.iter().map(invitation).collect()
}

/// Revokes a pending invitation; false when none is visible.
pub async fn revoke_invitation(tx: &TenantTx, id: Uuid) -> Result<bool, DbError> {
    let r = tx
        .conn()
        .execute_raw(stmt(
            "UPDATE invitations SET revoked_at = now() \
              WHERE org_id = app_org() AND id = $1 AND revoked_at IS NULL AND accepted_at IS NULL",
            [id.into()],
        ))
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Accepts an invitation for the signed-in caller: (org, role).
pub async fn accept(tx: &TenantTx, token_hash: &[u8; 32]) -> Result<(Uuid, String), DbError> {
    let row = tx
        .conn()
        .query_one_raw(stmt(
            "SELECT org_id, role FROM accept_invitation($1)",
            [token_hash.to_vec().into()],
        ))
        .await?
        .ok_or(DbErr::RecordNotFound("invitation".to_owned()))?;
    Ok((row.try_get("", "org_id")?, row.try_get("", "role")?))
}
