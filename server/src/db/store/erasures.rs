//! End-user erasure: `erase_customer()` (a definer function) removes one
//! customer of the caller's org, redacts their email and phone in the org's
//! remaining text, stores the receipt and appends `customer.erased`, all in
//! the caller's transaction.

use chrono::{DateTime, Utc};
use sea_orm::FromQueryResult;
use serde_json::Value as Json;

use super::audit::AuditContext;
use super::{ip_text, stmt};
use crate::db::{DbError, TenantTx};
use crate::ids::{CustomerErasureId, CustomerId};

/// A stored erasure receipt: ids and counts, no personal data.
#[derive(Debug, Clone, FromQueryResult)]
pub struct ErasureRow {
    pub id: CustomerErasureId,
    pub customer_id: CustomerId,
    pub erased_at: DateTime<Utc>,
    pub counts: Json,
}

/// Erases the customer; `None` when the org has no such customer.
pub async fn erase_customer(
    tx: &TenantTx,
    customer: CustomerId,
    ctx: &AuditContext,
) -> Result<Option<ErasureRow>, DbError> {
    Ok(ErasureRow::find_by_statement(stmt(
        "SELECT id, customer_id, erased_at, counts FROM erase_customer($1, $2, $3)",
        [
            customer.into(),
            ip_text(ctx.client_ip),
            ctx.request_id.clone().into(),
        ],
    ))
    .one(tx.conn())
    .await?)
}
