//! Appending to the org's hash-chained audit log (`record_audit()` and
//! `record_account_audit()`, definer functions: the app role has no INSERT
//! on `audit_log`). Each runs in the transaction of the action it records,
//! so an event that cannot be written fails its action.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, FromQueryResult, Value};
use serde_json::Value as Json;

use super::{ip_text, stmt};
use crate::db::{DbError, TenantTx};
use crate::ids::{ApiKeyId, AuditId, UserId};

/// Who did it from where, in which request (the actor and the org are the
/// verified caller's, taken by the database).
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    pub client_ip: Option<IpAddr>,
    pub request_id: String,
}

/// What an event is about: a kind and its id (`None`: the org itself).
#[derive(Debug, Clone)]
pub struct AuditTarget {
    pub kind: &'static str,
    pub id: Option<Value>,
}

impl AuditTarget {
    pub fn of(kind: &'static str, id: impl Into<Value>) -> Self {
        AuditTarget {
            kind,
            id: Some(id.into()),
        }
    }

    /// The org of the transaction.
    pub fn org() -> Self {
        AuditTarget {
            kind: "org",
            id: None,
        }
    }
}

/// Appends `action` on `target` to the org's chain.
pub async fn record(
    tx: &TenantTx,
    action: &str,
    target: AuditTarget,
    detail: Json,
    ctx: &AuditContext,
) -> Result<(), DbError> {
    let id = target.id.unwrap_or(Value::Uuid(None));
    tx.conn()
        .execute_raw(stmt(
            "SELECT record_audit($1, $2, $3::uuid, $4, $5, $6)",
            [
                action.into(),
                target.kind.into(),
                id,
                detail.into(),
                ip_text(ctx.client_ip),
                ctx.request_id.clone().into(),
            ],
        ))
        .await?;
    Ok(())
}

/// Appends an account event of the signed-in user (second factor enrolled
/// or removed) to the chain of every org the user belongs to.
pub async fn record_account(
    tx: &TenantTx,
    action: &str,
    ctx: &AuditContext,
) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt(
            "SELECT record_account_audit($1, $2, $3)",
            [
                action.into(),
                ip_text(ctx.client_ip),
                ctx.request_id.clone().into(),
            ],
        ))
        .await?;
    Ok(())
}

/// One event as the org's owners and admins read it.
#[derive(Debug, Clone, FromQueryResult)]
pub struct AuditRow {
    pub seq: i64,
    pub id: AuditId,
    pub occurred_at: DateTime<Utc>,
    pub actor_user_id: Option<UserId>,
    pub actor_api_key_id: Option<ApiKeyId>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub client_ip: Option<String>,
    pub request_id: String,
    pub detail: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// Which events to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor: Option<UserId>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// The org's events newest first, after the event `after` (exclusive).
pub async fn list(
    tx: &TenantTx,
    filter: &AuditFilter,
    after: Option<AuditId>,
    limit: u64,
) -> Result<Vec<AuditRow>, DbError> {
    Ok(AuditRow::find_by_statement(stmt(
        "SELECT seq, id, occurred_at, actor_user_id, actor_api_key_id, action, target_type, \
                target_id::text AS target_id, host(client_ip) AS client_ip, request_id, \
                detail::text AS detail, prev_hash, hash \
           FROM audit_log \
          WHERE org_id = $7 \
            AND ($1::text IS NULL OR action = $1) \
            AND ($2::uuid IS NULL OR actor_user_id = $2) \
            AND ($3::timestamptz IS NULL OR occurred_at >= $3) \
            AND ($4::timestamptz IS NULL OR occurred_at < $4) \
            AND ($5::uuid IS NULL OR seq < (SELECT a.seq FROM audit_log a \
                                             WHERE a.org_id = $7 AND a.id = $5)) \
          ORDER BY seq DESC LIMIT $6",
        [
            filter.action.clone().into(),
            filter.actor.into(),
            filter.since.into(),
            filter.until.into(),
            after.into(),
            (limit as i64).into(),
            tx.org().into(),
        ],
    ))
    .all(tx.conn())
    .await?)
}
