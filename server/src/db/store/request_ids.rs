//! Idempotent creates: claiming a request id for the verified caller and
//! keeping the sealed answer of the first call (`claim_request_id()`,
//! `record_request_id()`, SECURITY DEFINER; the app role has no grant on
//! the `request_ids` table itself).

use sea_orm::{ConnectionTrait as _, DbErr, FromQueryResult};

use super::stmt;
use crate::db::{DbError, TenantTx};
use crate::ids::{ConversationId, CustomerId, OrgId};

/// What a claim found.
#[derive(Debug, Clone, FromQueryResult)]
pub struct Claim {
    /// The create may go ahead: nobody used this id before.
    pub claimed: bool,
    /// The first call's sealed answer (when not `claimed`).
    pub response: Option<Vec<u8>>,
}

/// Claims `request_id` of `method` for the caller acting in `org`, or
/// finds what the first call with it answered (waiting for that call's
/// transaction if it is still open).
pub async fn claim(
    tx: &TenantTx,
    method: &str,
    request_id: &str,
    org: OrgId,
) -> Result<Claim, DbError> {
    Ok(Claim::find_by_statement(stmt(
        "SELECT claimed, response FROM claim_request_id($1, $2, $3)",
        [method.into(), request_id.into(), org.into()],
    ))
    .one(tx.conn())
    .await?
    .ok_or(DbErr::RecordNotFound("claim_request_id".to_owned()))?)
}

/// What a kept answer is about: erasing the customer or deleting the
/// conversation deletes the answer too.
#[derive(Debug, Clone, Copy, Default)]
pub struct About {
    pub customer: Option<CustomerId>,
    pub conversation: Option<ConversationId>,
}

/// Keeps the sealed answer of the create this transaction claimed in `org`.
pub async fn record(
    tx: &TenantTx,
    org: OrgId,
    method: &str,
    request_id: &str,
    sealed: Vec<u8>,
    about: About,
) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt(
            "SELECT record_request_id($1, $2, $3, $4, $5, $6)",
            [
                org.into(),
                method.into(),
                request_id.into(),
                sealed.into(),
                about.customer.into(),
                about.conversation.into(),
            ],
        ))
        .await?;
    Ok(())
}
