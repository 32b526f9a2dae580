//! OAuth connect states: single-use rows holding the PKCE verifier (vault
//! ciphertext).

use crate::ids::{IntegrationId, OAuthStateId, UserId};
use sea_orm::{ConnectionTrait as _, FromQueryResult};

use super::stmt;
use crate::db::{DbError, TenantTx};

/// A consumed state: its row id and verifier ciphertext.
#[derive(Debug, Clone, FromQueryResult)]
struct Consumed {
    id: OAuthStateId,
    pkce_verifier: Vec<u8>,
}

/// An integration's provider.
#[derive(Debug, Clone, FromQueryResult)]
struct Provider {
    provider: String,
}

/// A sealed refresh token.
#[derive(Debug, Clone, FromQueryResult)]
struct RefreshMaterial {
    refresh_ciphertext: Vec<u8>,
}

pub async fn insert(
    tx: &TenantTx,
    id: OAuthStateId,
    nonce: &str,
    user: UserId,
    provider: &str,
    verifier: Vec<u8>,
    ttl_secs: i64,
) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt(
            "INSERT INTO oauth_states (org_id, id, nonce, user_id, provider, pkce_verifier, expires_at) \
             VALUES ($7, $1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
            [id.into(), nonce.into(), user.into(), provider.into(), verifier.into(), (ttl_secs as f64).into(), tx.org().into()],
        ))
        .await?;
    Ok(())
}

/// Marks the state used; returns its row id and verifier ciphertext, or
/// None when it is unknown, already used, expired or someone else's.
pub async fn consume(
    tx: &TenantTx,
    nonce: &str,
    provider: &str,
) -> Result<Option<(OAuthStateId, Vec<u8>)>, DbError> {
    let r = Consumed::find_by_statement(stmt(
        "UPDATE oauth_states SET used_at = now() \
          WHERE org_id = $3 AND nonce = $1 AND provider = $2 AND user_id = app_user() \
            AND used_at IS NULL AND expires_at > now() \
         RETURNING id, pkce_verifier",
        [nonce.into(), provider.into(), tx.org().into()],
    ))
    .one(tx.conn())
    .await?;
    Ok(r.map(|r| (r.id, r.pkce_verifier)))
}

/// Records when the stored access token expires.
pub async fn set_token_expiry(
    tx: &TenantTx,
    integration: IntegrationId,
    expires_in: Option<i64>,
) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt(
            "UPDATE integrations SET token_expires_at = CASE WHEN $2::bigint IS NULL THEN NULL \
               ELSE now() + make_interval(secs => $2::bigint::double precision) END \
              WHERE org_id = $3 AND id = $1",
            [integration.into(), expires_in.into(), tx.org().into()],
        ))
        .await?;
    Ok(())
}

/// Takes the integration's refresh lock (transaction-scoped, shared by every
/// replica), waiting at most `wait_secs`; false when it was not acquired in
/// time (another refresher holds it).
pub async fn lock_refresh(
    tx: &TenantTx,
    integration: IntegrationId,
    wait_secs: u32,
) -> Result<bool, DbError> {
    tx.conn()
        .execute_unprepared(&format!("SET LOCAL lock_timeout = '{wait_secs}s'"))
        .await?;
    let locked = tx
        .conn()
        .execute_raw(stmt(
            "SELECT pg_advisory_xact_lock(hashtextextended('ochre.integration.refresh:' || $1::text, 0))",
            [integration.into()],
        ))
        .await;
    if let Err(e) = &locked {
        tracing::warn!(%integration, error = %crate::db::safe_text(e), "token refresh: lock not acquired in time");
    }
    Ok(locked.is_ok())
}

/// The provider of `integration` when its access token expires within
/// `margin_secs` (checked under the refresh lock).
pub async fn due_provider(
    tx: &TenantTx,
    integration: IntegrationId,
    margin_secs: i64,
) -> Result<Option<String>, DbError> {
    let row = Provider::find_by_statement(stmt(
        "SELECT provider FROM integrations WHERE org_id = $3 AND id = $1 \
           AND token_expires_at < now() + make_interval(secs => $2)",
        [
            integration.into(),
            (margin_secs as f64).into(),
            tx.org().into(),
        ],
    ))
    .one(tx.conn())
    .await?;
    Ok(row.map(|r| r.provider))
}

/// The sealed refresh token of `integration` (through the privileged
/// reader, which writes its audit row in this transaction).
pub async fn refresh_material(
    tx: &TenantTx,
    integration: IntegrationId,
    request_id: &str,
) -> Result<Option<Vec<u8>>, DbError> {
    let row = RefreshMaterial::find_by_statement(stmt(
        "SELECT refresh_ciphertext FROM integration_refresh_material($1, $2)",
        [integration.into(), request_id.into()],
    ))
    .one(tx.conn())
    .await?;
    Ok(row.map(|r| r.refresh_ciphertext))
}
