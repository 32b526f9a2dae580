//! Refresh of an expiring OAuth access token, on read. One refresher at a
//! time per integration across every replica (a transaction-scoped Postgres
//! advisory lock); the expiry is checked again under the lock, so waiting
//! readers find the fresh token instead of refreshing twice. A circuit
//! breaker per provider keeps a failing provider from stalling callers: they
//! get the current token.

use secrecy::ExposeSecret as _;
use serde::Deserialize;

use crate::ids::{IntegrationId, OrgId};
use crate::{
    crypto::contexts::secret_context, db::store::oauth as states, error::ApiError, gate::Principal,
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
    org: OrgId,
    integration: IntegrationId,
) -> Result<(), ApiError> {
    let tx = p.tenant(&state.db).await?;
    // Waiters hold a pooled connection: wait a bounded time, then serve the
    // current token rather than pile up behind a slow provider.
    if !states::lock_refresh(&tx, integration, 3).await? {
        return Ok(());
    }
    let Some(provider) = states::due_provider(&tx, integration, REFRESH_MARGIN_SECS).await? else {
        return Ok(());
    };
    let Some(client) = state.oauth.clients.get(&provider) else {
        return Ok(());
    };
    // Held until the provider answers; dropped unreported (an early return,
    // a cancelled request) it frees a half-open probe's slot.
    let Ok(permit) = state.oauth.breakers.allow(&provider) else {
        tracing::warn!(%integration, provider, "token refresh skipped: provider circuit open");
        return Ok(());
    };
    let Some(blob) = states::refresh_material(&tx, integration, &p.audit().request_id).await?
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
    // Only provider-wide trouble (transport errors, 5xx, 429 and its
    // Retry-After) counts toward the breaker: one tenant's revoked grant (a
    // 4xx) must not pause the provider for every other tenant.
    let refreshed = match response {
        Ok(r) => {
            permit.answered(&r);
            if !r.status().is_success() {
                tracing::warn!(%integration, provider, status = %r.status(), "token refresh refused");
                return Ok(());
            }
            r.json::<Refreshed>().await.ok()
        }
        Err(e) => {
            tracing::warn!(%integration, provider, error = %e.without_url(), "token refresh failed");
            permit.failed();
            return Ok(());
        }
    };
    let Some((fields, expires_in)) = refreshed.and_then(|r| {
        super::sealing::token_set(r.access_token, r.refresh_token).map(|f| (f, r.expires_in))
    }) else {
        tracing::warn!(%integration, provider, "token refresh answered without a usable token");
        return Ok(());
    };
    for (field, value) in &fields {
        super::sealing::seal_and_store(&state.vault, &tx, org, integration, field, value).await?;
    }
    states::set_token_expiry(&tx, integration, super::sealing::token_lifetime(expires_in)).await?;
    tx.commit().await?;
    tracing::info!(%integration, provider, "access token refreshed");
    Ok(())
}
