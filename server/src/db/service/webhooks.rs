//! The webhook ingress's gates, on its own `ochre_service` pool: the
//! signing secrets of one integration (found by its org and id, both named
//! by the webhook URL) and storing one verified delivery, each one statement
//! (one round trip, committed on return); and the purge job (on the main
//! service pool).

use crate::ids::{IntegrationId, OrgId, WebhookEventId};
use chrono::{DateTime, Utc};
use sea_orm::FromQueryResult;

use crate::db::{Db, DbError, stmt};

/// The candidate signing secrets of an integration.
#[derive(Debug)]
pub enum SigningSecrets {
    /// No such integration in that org for that provider.
    Unknown,
    /// The integration's org is pending deletion: deliveries are refused.
    PendingDeletion,
    /// The integration's secrets (current first, then the previous one
    /// during a rotation), as vault ciphertext with the stored field name.
    /// Empty: no signing secret configured.
    Found { secrets: Vec<(String, Vec<u8>)> },
}

/// What storing a verified delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A new event, committed.
    Stored,
    /// The org already holds this provider's delivery id.
    Duplicate,
    /// The integration (or its org) went away meanwhile.
    Gone,
    /// Its org was scheduled for deletion meanwhile: nothing was stored.
    PendingDeletion,
}

/// One verified delivery to store.
#[derive(Debug)]
pub struct NewEvent<'a> {
    pub id: WebhookEventId,
    pub org_id: OrgId,
    pub integration_id: IntegrationId,
    pub provider: &'a str,
    pub delivery_id: &'a str,
    pub event_type: &'a str,
    pub signed_at: Option<DateTime<Utc>>,
    pub content_type: &'a str,
    pub payload: &'a [u8],
}

/// One row of `webhook_signing_secrets()`: a secret (both NULL when none
/// is configured), and whether the org is pending deletion.
#[derive(Debug, Clone, FromQueryResult)]
struct SigningSecretRow {
    field: Option<String>,
    ciphertext: Option<Vec<u8>>,
    pending: bool,
}

/// What `record_webhook_event()` did.
#[derive(Debug, Clone, FromQueryResult)]
struct Outcome {
    outcome: String,
}

impl Db {
    /// The signing secrets (`field` and its `.previous`) of integration
    /// `integration` of `org` if it belongs to `provider`.
    pub async fn webhook_signing_secrets(
        &self,
        org: OrgId,
        integration: IntegrationId,
        provider: &str,
        field: &str,
    ) -> Result<SigningSecrets, DbError> {
        let rows = SigningSecretRow::find_by_statement(stmt(
            "SELECT field, ciphertext, pending FROM webhook_signing_secrets($1, $2, $3, $4)",
            [
                org.into(),
                integration.into(),
                provider.into(),
                field.into(),
            ],
        ))
        .all(&self.ingress)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(SigningSecrets::Unknown);
        };
        if first.pending {
            return Ok(SigningSecrets::PendingDeletion);
        }
        let secrets = rows
            .into_iter()
            .filter_map(|r| r.field.zip(r.ciphertext))
            .collect();
        Ok(SigningSecrets::Found { secrets })
    }

    /// Stores a verified delivery unless its delivery id is known already.
    pub async fn record_webhook_event(&self, event: &NewEvent<'_>) -> Result<Recorded, DbError> {
        let row = Outcome::find_by_statement(stmt(
            "SELECT record_webhook_event($1, $2, $3, $4, $5, $6, $7, $8, $9) AS outcome",
            [
                event.org_id.into(),
                event.integration_id.into(),
                event.provider.into(),
                event.id.into(),
                event.delivery_id.into(),
                event.event_type.into(),
                event.signed_at.into(),
                event.content_type.into(),
                event.payload.to_vec().into(),
            ],
        ))
        .one(&self.ingress)
        .await?
        .ok_or(sea_orm::DbErr::RecordNotFound(
            "record_webhook_event".to_owned(),
        ))?;
        Ok(match row.outcome.as_str() {
            "stored" => Recorded::Stored,
            "duplicate" => Recorded::Duplicate,
            "pending_deletion" => Recorded::PendingDeletion,
            _ => Recorded::Gone,
        })
    }
}
