//! OAuth connect states: single-use rows holding the PKCE verifier (vault
//! ciphertext).

use sea_orm::ConnectionTrait as _;
use uuid::Uuid;

use super::stmt;
use crate::db::{DbError, TenantTx};

pub async fn insert(
    tx: &TenantTx,
    id: Uuid,
    nonce: &str,
    user: Uuid,
    provider: &str,
    verifier: Vec<u8>,
    ttl_secs: i64,
) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt(
            "INSERT INTO oauth_states (org_id, id, nonce, user_id, provider, pkce_verifier, expires_at) \
             VALUES (app_org(), $1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
            [id.into(), nonce.into(), user.into(), provider.into(), verifier.into(), (ttl_secs as f64).into()],
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
) -> Result<Option<(Uuid, Vec<u8>)>, DbError> {
    let r = tx
        .conn()
        .query_one_raw(stmt(
            "UPDATE oauth_states SET used_at = now() \
              WHERE org_id = app_org() AND nonce = $1 AND provider = $2 AND user_id = app_user() \
                AND used_at IS NULL AND expires_at > now() \
             RETURNING id, pkce_verifier",
            [nonce.into(), provider.into()],
        ))
        .await?;
    r.map(|r| Ok((r.try_get("", "id")?, r.try_get("", "pkce_verifier")?)))
        .transpose()
}

/// Records when the stored access token expires.
pub async fn set_token_expiry(
    tx: &TenantTx,
    integration: Uuid,
    expires_in: Option<i64>,
) -> Result<(), DbError> {
    tx.conn()
        .execute_raw(stmt(
            "UPDATE integrations SET token_expires_at = CASE WHEN $2::bigint IS NULL THEN NULL \
               ELSE now() + make_interval(secs => $2::bigint::double precision) END \
              WHERE org_id = app_org() AND id = $1",
            [integration.into(), expires_in.into()],
        ))
        .await?;
    Ok(())
}
