//! Received webhook events, read by the org's owners, admins and agents
//! (row-level security decides; stored only by the ingress gate).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, QueryResult};
use uuid::Uuid;

use super::stmt;
use crate::db::{DbError, TenantTx};

#[derive(Debug, Clone)]
pub struct WebhookEventRow {
    pub id: Uuid,
    pub integration_id: Uuid,
    pub provider: String,
    pub delivery_id: String,
    pub event_type: String,
    pub signed_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub content_type: String,
    pub payload: Vec<u8>,
}

fn event(r: &QueryResult) -> Result<WebhookEventRow, DbError> {
    Ok(WebhookEventRow {
        id: r.try_get("", "id")?,
        integration_id: r.try_get("", "integration_id")?,
        provider: r.try_get("", "provider")?,
        delivery_id: r.try_get("", "delivery_id")?,
        event_type: r.try_get("", "event_type")?,
        signed_at: r.try_get("", "signed_at")?,
        received_at: r.try_get("", "received_at")?,
        content_type: r.try_get("", "content_type")?,
        payload: r.try_get("", "payload")?,
    })
}

/// The org's events, newest first, after `after` (exclusive): at most
/// `limit` rows and, past the first row, at most `max_bytes` of payload.
/// Also returns how many rows matched before the payload cut, so the
/// caller knows whether more follow.
pub async fn list(
    tx: &TenantTx,
    provider: Option<&str>,
    integration: Option<Uuid>,
    after: Option<Uuid>,
    limit: u64,
    max_bytes: i64,
) -> Result<(Vec<WebhookEventRow>, u64), DbError> {
    // The running payload total is computed in SQL so that a page of large
    // payloads is cut before it leaves the database.
    let rows = tx
        .conn()
        .query_all_raw(stmt(
            "SELECT id, integration_id, provider, delivery_id, event_type, signed_at, received_at, \
                    content_type, payload, fetched \
               FROM (SELECT e.*, sum(octet_length(e.payload)) OVER (ORDER BY e.id DESC) AS running, \
                            count(*) OVER () AS fetched \
                       FROM (SELECT * FROM webhook_events \
                              WHERE org_id = app_org() \
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
            ],
        ))
        .await?;
    let fetched: i64 = match rows.first() {
        Some(r) => r.try_get("", "fetched")?,
        None => 0,
    };
    let events = rows.iter().map(event).collect::<Result<Vec<_>, _>>()?;
    Ok((events, u64::try_from(fetched).unwrap_or(0)))
}
