//! The input guard's writes: a flagged ScreenText appends `guard.flagged`
//! (`guard_record_screening()`, a definer function); a flagged inbound
//! message records its flag through the `messages_guard_flag` trigger,
//! which reads the client address and request id set here.

use sea_orm::ConnectionTrait as _;

use super::audit::AuditContext;
use super::{ip_text, stmt};
use crate::db::{DbError, TenantTx};
use crate::guard::Screening;

/// Names the request for the audit events a trigger appends in this
/// transaction (`ochre.client_ip`, `ochre.request_id`, transaction-local).
pub async fn set_request_context(tx: &TenantTx, ctx: &AuditContext) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt(
            "SELECT set_config('ochre.client_ip', coalesce($1, ''), true), \
                    set_config('ochre.request_id', $2, true)",
            [ip_text(ctx.client_ip), ctx.request_id.clone().into()],
        ))
        .await?;
    Ok(())
}

/// Appends `guard.flagged` for a flagged screening of `source`.
pub async fn record_screening(
    tx: &TenantTx,
    source: &str,
    s: &Screening,
    ctx: &AuditContext,
) -> Result<(), DbError> {
    let categories: Vec<String> = s.categories.iter().map(|c| c.as_str().to_owned()).collect();
    tx.conn()
        .execute_raw(stmt(
            "SELECT guard_record_screening($1, $2, $3::text[], $4, $5, $6)",
            [
                source.into(),
                s.verdict.as_str().into(),
                categories.into(),
                s.rules_version.clone().into(),
                ip_text(ctx.client_ip),
                ctx.request_id.clone().into(),
            ],
        ))
        .await?;
    Ok(())
}
