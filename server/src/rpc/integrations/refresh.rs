//! Refresh of an expiring OAuth access token, on read. One refresher at a
//! time per integration across every replica (a transaction-scoped Postgres
//! advisory lock); the expiry is checked again under the lock, so waiting
//! readers find the fresh token instead of refreshing twice. A circuit
//! breaker per provider keeps a failing provider from stalling callers: they
//! get the current token.

use sea_orm::ConnectionTrait as _;
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    crypto::contexts::secret_context,
    db::stmt,
    db::store::{integrations as store, oauth as states},
    error::ApiError,
    gate::Principal,
    rpc::state::AppState,
};

/// Refresh when the access token expires within this many seconds.
pub const REFRESH_MARGIN_SECS: i64 = 300;

#[derive(Debug, Deserialize)]
struct Refreshed {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
}

/// Refreshes `integration`'s access token if it expires soon. Failures are
/// logged and leave the current token in place.
pub async fn refresh_if_expiring(
    state: &AppState,
    p: &Principal,
    org: Uuid,
    integration: Uuid,
) -> Result<(), ApiError> {
    let tx = state.db.scoped(p.scope()).await?;
    // Waiters hold a pooled connection: wait a bounded time, then serve the
    // current token rather than pile up behind a slow provider.
    tx.conn()
        .execute_unprepared("SET LOCAL lock_timeout = '3s'")
        .await?;
    let locked = tx
        .conn()
        .execute_raw(stmt(
            "SELECT pg_advisory_xact_lock(hashtextextended('ochre.integration.refresh:' || $1::text, 0))",
            [integration.into()],
        ))
        .await;
    if let Err(e) = locked {
        tracing::warn!(%integration, error = %e, "token refresh: lock not acquired in time");
        return Ok(());
    }
    let due = tx
        .conn()
        .query_one_raw(stmt(
            "SELECT provider FROM integrations WHERE org_id = app_org() AND id = $1 \
               AND token_expires_at < now() + make_interval(secs => $2)",
            [integration.into(), (REFRESH_MARGIN_SECS as f64).into()],
        ))
        .await?;
    let Some(provider) = due
        .map(|r| r.try_get::<String>("", "provider"))
        .transpose()?
    else {
        return Ok(());
    };
    let Some(client) = state.oauth.clients.get(&provider) else {
        return Ok(());
    };
    if !state.oauth.breakers.allow(&provider) {
        tracing::warn!(%integration, provider, "token refresh skipped: provider circuit open");
        return Ok(());
    }
    let material = tx
        .conn()
        .query_one_raw(stmt(
            "SELECT refresh_ciphertext FROM integration_refresh_material($1, $2)",
            [integration.into(), Uuid::now_v7().into()],
        ))
        .await?;
    let Some(blob) = material
        .map(|r| r.try_get::<Vec<u8>>("", "refresh_ciphertext"))
        .transpose()?
    else {
        return Ok(());
    };
    let refresh_token = state
        .vault
        .decrypt(&secret_context(org, integration, "refresh_token"), &blob)?;
    let refresh_token = String::from_utf8(refresh_token.to_vec())
        .map_err(|_| ApiError::Corrupt("refresh token is not UTF-8"))?;
    let response = state
        .oauth
        .http
        .post(client.token_url.clone())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
            ("client_id", client.client_id.as_str()),
            ("client_secret", client.client_secret.expose_secret()),
        ])
        .send()
        .await;
    // Only provider-wide trouble (transport errors, 5xx, 429) counts toward
    // the breaker: one tenant's revoked grant (a 4xx) must not pause the
    // provider for every other tenant.
    let refreshed = match response {
        Ok(r) if r.status().is_success() => r.json::<Refreshed>().await.ok(),
        Ok(r) => {
            tracing::warn!(%integration, provider, status = %r.status(), "token refresh refused");
            let status = r.status();
            if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                state.oauth.breakers.failure(&provider);
            }
            return Ok(());
        }
        Err(e) => {
            tracing::warn!(%integration, provider, error = %e.without_url(), "token refresh failed");
            state.oauth.breakers.failure(&provider);
            return Ok(());
        }
    };
    let Some(refreshed) =
        refreshed.filter(|r| !r.access_token.is_empty() && r.access_token.len() <= 8192)
    else {
        tracing::warn!(%integration, provider, "token refresh answered without a usable token");
        return Ok(());
    };
    state.oauth.breakers.success(&provider);
    let mut fields = vec![("access_token", refreshed.access_token)];
    if let Some(r) = refreshed
        .refresh_token
        .filter(|r| !r.is_empty() && r.len() <= 8192)
    {
        fields.push(("refresh_token", r));
    }
    for (field, value) in &fields {
        let blob = state
            .vault
            .encrypt(&secret_context(org, integration, field), value.as_bytes())?;
        store::replace_secret(&tx, integration, field, blob).await?;
    }
    states::set_token_expiry(&tx, integration, refreshed.expires_in).await?;
    tx.commit().await?;
    tracing::info!(%integration, provider, "access token refreshed");
    Ok(())
}
