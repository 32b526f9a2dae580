//! Appending to the org's hash-chained audit log (`record_audit()` and
//! `record_account_audit()`, definer functions: the app role has no INSERT
//! on `audit_log`). Each runs in the transaction of the action it records,
//! so an event that cannot be written fails its action.

use std::net::IpAddr;

use sea_orm::{ConnectionTrait as _, Value};
use serde_json::Value as Json;

use super::{ip_text, stmt};
use crate::db::{DbError, TenantTx};

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
