//! Integrations and their secrets. Ciphertext is written here but never
//! selected: reads go through `read_integration_secret()`.

use crate::ids::{IntegrationId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, DbErr, FromQueryResult};
use serde_json::Value as Json;

use super::audit::{AuditContext, AuditTarget};
use super::stmt;
use crate::db::{DbError, TenantTx};

#[derive(Debug, Clone)]
pub struct IntegrationRow {
    pub id: IntegrationId,
    pub provider: String,
    pub external_account: String,
    pub scopes: Vec<String>,
    pub connected_by: Option<UserId>,
    pub connected_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub token_expires_at: Option<DateTime<Utc>>,
    /// (field, updated_at) of every secret set.
    pub secret_fields: Vec<(String, DateTime<Utc>)>,
}

/// The columns of an integration (its secret fields are read separately).
#[derive(Debug, Clone, FromQueryResult)]
struct IntegrationColumns {
    id: IntegrationId,
    provider: String,
    external_account: String,
    scopes: Vec<String>,
    connected_by: Option<UserId>,
    connected_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    token_expires_at: Option<DateTime<Utc>>,
}

impl From<IntegrationColumns> for IntegrationRow {
    fn from(c: IntegrationColumns) -> Self {
        IntegrationRow {
            id: c.id,
            provider: c.provider,
            external_account: c.external_account,
            scopes: c.scopes,
            connected_by: c.connected_by,
            connected_at: c.connected_at,
            updated_at: c.updated_at,
            token_expires_at: c.token_expires_at,
            secret_fields: Vec::new(),
        }
    }
}

/// One secret field that is set, and when.
#[derive(Debug, Clone, FromQueryResult)]
struct SecretField {
    integration_id: IntegrationId,
    field: String,
    updated_at: DateTime<Utc>,
}

/// An integration's id.
#[derive(Debug, Clone, FromQueryResult)]
struct Id {
    id: IntegrationId,
}

/// An integration's provider.
#[derive(Debug, Clone, FromQueryResult)]
struct Provider {
    provider: String,
}

/// A secret's ciphertext and when it was set.
#[derive(Debug, Clone, FromQueryResult)]
struct Sealed {
    ciphertext: Vec<u8>,
    updated_at: DateTime<Utc>,
}

/// Creates the org's integration for `provider`, or refreshes its metadata.
pub async fn upsert(
    tx: &TenantTx,
    id: IntegrationId,
    provider: &str,
    external_account: &str,
    scopes: Vec<String>,
    connected_by: Option<UserId>,
) -> Result<IntegrationId, DbError> {
    let r = Id::find_by_statement(stmt(
        "INSERT INTO integrations (org_id, id, provider, external_account, scopes, connected_by) \
         VALUES ($6, $1, $2, $3, $4, $5) \
         ON CONFLICT (org_id, provider) DO UPDATE SET external_account = EXCLUDED.external_account, \
           scopes = EXCLUDED.scopes, updated_at = now() \
         RETURNING id",
        [id.into(), provider.into(), external_account.into(), scopes.into(), connected_by.into(), tx.org().into()],
    ))
    .one(tx.conn())
    .await?
    .ok_or(DbErr::RecordNotInserted)?;
    Ok(r.id)
}

/// Replaces one secret (the old row is deleted, not blanked).
pub async fn replace_secret(
    tx: &TenantTx,
    integration: IntegrationId,
    field: &str,
    ciphertext: Vec<u8>,
) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt(
            "DELETE FROM integration_secrets WHERE org_id = $3 AND integration_id = $1 AND field = $2",
            [integration.into(), field.into(), tx.org().into()],
        ))
        .await?;
    tx.conn()
        .execute_raw(stmt(
            "INSERT INTO integration_secrets (org_id, integration_id, field, ciphertext) VALUES ($4, $1, $2, $3)",
            [integration.into(), field.into(), ciphertext.into(), tx.org().into()],
        ))
        .await?;
    Ok(())
}

/// Keeps the current value of signing-secret `field` as `<field>.previous`
/// (replacing an older previous one); nothing when the field is unset.
pub async fn retire_signing_secret(
    tx: &TenantTx,
    integration: IntegrationId,
    field: &str,
) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt(
            "SELECT retire_signing_secret($1, $2)",
            [integration.into(), field.into()],
        ))
        .await?;
    Ok(())
}

/// Deletes the named secrets of an integration.
pub async fn clear_secrets(
    tx: &TenantTx,
    integration: IntegrationId,
    fields: &[&str],
) -> Result<(), DbError> {
    let fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
    tx.conn()
        .execute_raw(stmt(
            "DELETE FROM integration_secrets \
              WHERE org_id = $3 AND integration_id = $1 AND field = ANY($2)",
            [integration.into(), fields.into(), tx.org().into()],
        ))
        .await?;
    Ok(())
}

/// Every integration of the org, with which secret fields are set.
/// One page of the org's integrations by id (time-ordered), after `after`.
pub async fn list(
    tx: &TenantTx,
    after: Option<IntegrationId>,
    limit: u64,
) -> Result<Vec<IntegrationRow>, DbError> {
    select(tx, None, after, limit).await
}

/// One integration of the org.
pub async fn get(tx: &TenantTx, id: IntegrationId) -> Result<Option<IntegrationRow>, DbError> {
    Ok(select(tx, Some(id), None, 1).await?.pop())
}

async fn select(
    tx: &TenantTx,
    only: Option<IntegrationId>,
    after: Option<IntegrationId>,
    limit: u64,
) -> Result<Vec<IntegrationRow>, DbError> {
    let mut out: Vec<IntegrationRow> = IntegrationColumns::find_by_statement(stmt(
        "SELECT id, provider, external_account, scopes, connected_by, connected_at, updated_at, \
                token_expires_at \
           FROM integrations WHERE org_id = $2 AND ($1::uuid IS NULL OR id = $1) \
            AND ($3::uuid IS NULL OR id > $3) \
          ORDER BY id LIMIT $4",
        [
            only.into(),
            tx.org().into(),
            after.into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    ))
    .all(tx.conn())
    .await?
    .into_iter()
    .map(IntegrationRow::from)
    .collect();
    let secrets = SecretField::find_by_statement(stmt(
        "SELECT integration_id, field, updated_at FROM integration_secrets \
          WHERE org_id = $2 AND ($1::uuid IS NULL OR integration_id = $1) \
            AND ($3::uuid IS NULL OR integration_id > $3) ORDER BY field",
        [only.into(), tx.org().into(), after.into()],
    ))
    .all(tx.conn())
    .await?;
    for s in secrets {
        if let Some(i) = out.iter_mut().find(|i| i.id == s.integration_id) {
            i.secret_fields.push((s.field, s.updated_at));
        }
    }
    Ok(out)
}

/// Whether the stored access token expires within `margin_secs`.
pub async fn token_due(
    tx: &TenantTx,
    id: IntegrationId,
    margin_secs: i64,
) -> Result<bool, DbError> {
    let r = tx
        .conn()
        .query_one_raw(stmt(
            "SELECT 1 AS due FROM integrations WHERE org_id = $3 AND id = $1 \
               AND token_expires_at < now() + make_interval(secs => $2)",
            [id.into(), (margin_secs as f64).into(), tx.org().into()],
        ))
        .await?;
    Ok(r.is_some())
}

/// Deletes an integration and (by cascade) its secrets; false when not visible.
pub async fn delete(tx: &TenantTx, id: IntegrationId) -> Result<Option<String>, DbError> {
    let r = Provider::find_by_statement(stmt(
        "DELETE FROM integrations WHERE org_id = $2 AND id = $1 RETURNING provider",
        [id.into(), tx.org().into()],
    ))
    .one(tx.conn())
    .await?;
    Ok(r.map(|r| r.provider))
}

/// The privileged read: ciphertext and its time, with the audit row written
/// by the database function in this transaction.
pub async fn read_secret(
    tx: &TenantTx,
    integration: IntegrationId,
    field: &str,
    ctx: &AuditContext,
) -> Result<(Vec<u8>, DateTime<Utc>), DbError> {
    let r = Sealed::find_by_statement(stmt(
        "SELECT ciphertext, updated_at FROM read_integration_secret($1, $2, $3, $4)",
        [
            integration.into(),
            field.into(),
            super::ip_text(ctx.client_ip),
            ctx.request_id.clone().into(),
        ],
    ))
    .one(tx.conn())
    .await?
    .ok_or(DbErr::RecordNotFound("integration secret".to_owned()))?;
    Ok((r.ciphertext, r.updated_at))
}

/// Appends an integration event of the caller to the org's audit chain.
pub async fn audit(
    tx: &TenantTx,
    action: &str,
    target: IntegrationId,
    detail: Json,
    ctx: &AuditContext,
) -> Result<(), DbError> {
    super::audit::record(
        tx,
        action,
        AuditTarget::of("integration", target),
        detail,
        ctx,
    )
    .await
}
