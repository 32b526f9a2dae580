//! Received webhook events, read by the org's owners, admins and agents
//! (row-level security decides; stored only by the ingress gate).

use crate::ids::{IntegrationId, WebhookEventId};
use chrono::{DateTime, Utc};
use sea_orm::FromQueryResult;

use super::stmt;
use crate::db::{DbError, TenantTx};

#[derive(Debug, Clone, FromQueryResult)]
pub struct WebhookEventRow {
    pub id: WebhookEventId,
    pub integration_id: IntegrationId,
    pub provider: String,
    pub delivery_id: String,
    pub event_type: String,
    pub signed_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub content_type: String,
    pub payload: Vec<u8>,
}

/// An event of a page, with how many rows matched before the payload cut
/// (the same on every row).
#[derive(Debug, Clone, FromQueryResult)]
struct PageRow {
    #[sea_orm(nested)]
    event: WebhookEventRow,
    fetched: i64,
}

/// The org's events, newest first, after `after` (exclusive): at most
/// `limit` rows and, past the first row, at most `max_bytes` of payload.
/// Also returns how many rows matched before the payload cut, so the
/// caller knows whether more follow.
pub async fn list(
    tx: &TenantTx,
    provider: Option<&str>,
    integration: Option<IntegrationId>,
    after: Option<WebhookEventId>,
    limit: u64,
    max_bytes: i64,
) -> Result<(Vec<WebhookEventRow>, u64), DbError> {
    // The running payload total is computed in SQL so that a page of large
    // payloads is cut before it leaves the database.
    let rows = PageRow::find_by_statement(stmt(
        "SELECT id, integration_id, provider, delivery_id, event_type, signed_at, received_at, \
                content_type, payload, fetched \
           FROM (SELECT e.*, sum(octet_length(e.payload)) OVER (ORDER BY e.id DESC) AS running, \
                        count(*) OVER () AS fetched \
                   FROM (SELECT * FROM webhook_events \
                          WHERE org_id = $6 \
                            AND ($1::text IS NULL OR provider = $1) \
                            AND ($2::uuid IS NULL OR integration_id = $2) \
                            AND ($3::uuid IS NULL OR id < $3) \
                          ORDER BY id DESC LIMIT $4) e) page \
          WHERE running - octet_length(payload) < $5 \
          ORDER BY id DESC",
        [
            provider.map(str::to_owned).into(),
            integration.into(),
            after.into(),
            (limit as i64).into(),
            max_bytes.into(),
            tx.org().into(),
        ],
    ))
    .all(tx.conn())
    .await?;
    let fetched = rows.first().map_or(0, |r| r.fetched);
    let events = rows.into_iter().map(|r| r.event).collect();
    Ok((events, u64::try_from(fetched).unwrap_or(0)))
}
