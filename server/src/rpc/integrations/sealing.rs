//! The one path by which integration secrets reach storage: each value is
//! checked against the size limit, sealed under its vault context (org,
//! integration, field) and written in the caller's tenant transaction. Paste
//! connect, OAuth completion and token refresh all take it.

use crate::ids::{IntegrationId, OrgId};
use crate::{
    crypto::{contexts::secret_context, vault::Vault},
    db::{TenantTx, store::integrations as store},
    error::ApiError,
    integrations::catalog::MAX_SECRET_BYTES,
};

/// Whether a secret is storable: non-empty and at most [`MAX_SECRET_BYTES`].
pub(super) fn usable(secret: &str) -> bool {
    !secret.is_empty() && secret.len() <= MAX_SECRET_BYTES
}

/// The fields of an OAuth token set as a provider returned it: the access
/// token (None when it is unusable) and the refresh token when it is usable.
pub(super) fn token_set(
    access_token: String,
    refresh_token: Option<String>,
) -> Option<Vec<(&'static str, String)>> {
    if !usable(&access_token) {
        return None;
    }
    let mut fields = vec![("access_token", access_token)];
    fields.extend(
        refresh_token
            .filter(|r| usable(r))
            .map(|r| ("refresh_token", r)),
    );
    Some(fields)
}

/// The longest token lifetime believed from a provider (a year): an absurd
/// `expires_in` (`i64::MAX`) is clamped, never an error for the caller.
pub(super) const MAX_TOKEN_LIFETIME_SECS: i64 = 365 * 24 * 3600;

/// A provider's `expires_in`, clamped to `0..=MAX_TOKEN_LIFETIME_SECS`.
pub(super) fn token_lifetime(expires_in: Option<i64>) -> Option<i64> {
    expires_in.map(|s| s.clamp(0, MAX_TOKEN_LIFETIME_SECS))
}

/// Seals `value` for `field` of `integration` and replaces the stored one.
pub(super) async fn seal_and_store(
    vault: &Vault,
    tx: &TenantTx,
    org: OrgId,
    integration: IntegrationId,
    field: &str,
    value: &str,
) -> Result<(), ApiError> {
    let blob = vault.encrypt(&secret_context(org, integration, field), value.as_bytes())?;
    store::replace_secret(tx, integration, field, blob).await?;
    Ok(())
}
