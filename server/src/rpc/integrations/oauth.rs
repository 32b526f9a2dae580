//! OAuth connect: start (authorize URL with a signed, single-use state and
//! PKCE S256) and complete (state checks, code exchange at the provider's
//! token endpoint, tokens stored encrypted).

use ochre_sdk::v1::{
    CompleteOAuthConnectRequest, CompleteOAuthConnectResponse, StartOAuthConnectRequest,
    StartOAuthConnectResponse,
};
use serde::Deserialize;
use serde_json::json;
use tonic::Request;

use crate::ids::{IntegrationId, OAuthStateId};
use crate::{
    clock::unix_now,
    crypto::contexts::verifier_context,
    db::store::{integrations as store, oauth as states},
    error::{ApiError, Reason},
    gate::principal,
    integrations::catalog,
    integrations::{
        oauth_state::{StateClaims, StateError, pkce_challenge_s256, pkce_verifier},
        return_to::validate_return_to,
    },
    rpc::convert::{integration_message, ts},
    rpc::state::AppState,
};

/// A state is valid this long.
pub const STATE_TTL_SECS: u64 = 600;

pub async fn start(
    state: &AppState,
    request: Request<StartOAuthConnectRequest>,
) -> Result<StartOAuthConnectResponse, ApiError> {
    let p = principal(&request)?;
    let req = request.get_ref();
    let spec = catalog::provider(&req.provider)
        .filter(|s| s.oauth)
        .ok_or_else(|| {
            ApiError::invalid_field(
                "provider",
                "provider is not an OAuth provider of the catalog",
            )
        })?;
    let return_to = validate_return_to(&state.oauth.public_url, &req.return_to)
        .map_err(|e| ApiError::invalid_field("return_to", format!("return_to is refused: {e}")))?;
    let client = state.oauth.clients.get(spec.id).ok_or_else(|| {
        ApiError::FailedPrecondition(
            Reason::ProviderNotConfigured,
            format!(
                "{} is not configured on this server (OCHRE_OAUTH_CLIENTS)",
                spec.id
            )
            .into(),
        )
    })?;
    let (org, _) = p.require_org()?;
    let user = p.require_user()?;
    let now = unix_now();
    let claims = StateClaims::new(user, org, spec.id, return_to.as_str(), now, STATE_TTL_SECS);
    let verifier = pkce_verifier();
    let row = OAuthStateId::generate();
    let blob = state
        .vault
        .encrypt(&verifier_context(org, row), verifier.as_bytes())?;
    let tx = p.tenant(&state.db).await?;
    states::insert(
        &tx,
        row,
        &claims.nonce,
        user,
        spec.id,
        blob,
        STATE_TTL_SECS as i64,
    )
    .await?;
    tx.commit().await?;
    let token = state.oauth.signer.sign(&claims);
    let mut url = client.authorize_url.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client.client_id)
        .append_pair("redirect_uri", client.redirect_uri.as_str())
        .append_pair("scope", &spec.scope_names().join(" "))
        .append_pair("state", &token)
        .append_pair("code_challenge", &pkce_challenge_s256(&verifier))
        .append_pair("code_challenge_method", "S256");
    let expires = chrono::DateTime::from_timestamp(claims.expires_at as i64, 0).unwrap_or_default();
    Ok(StartOAuthConnectResponse {
        authorize_url: url.to_string(),
        state: token,
        expires_at: Some(ts(expires)),
    })
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
}

pub async fn complete(
    state: &AppState,
    request: Request<CompleteOAuthConnectRequest>,
) -> Result<CompleteOAuthConnectResponse, ApiError> {
    let p = principal(&request)?;
    let req = request.get_ref();
    if req.code.is_empty() || req.code.len() > 2048 {
        return Err(ApiError::required("code"));
    }
    let claims = state
        .oauth
        .signer
        .verify(&req.state, unix_now())
        .map_err(|e| match e {
            StateError::Expired => {
                ApiError::invalid_field("state", "the OAuth state has expired: start again")
            }
            _ => ApiError::invalid_field("state", "the OAuth state is not valid"),
        })?;
    let (org, _) = p.require_org()?;
    let user = p.require_user()?;
    if claims.user_id != user || claims.org_id != org {
        return Err(ApiError::PermissionDenied(
            Reason::OauthStateMismatch,
            "this OAuth state was issued to another user or org".into(),
        ));
    }
    let client = state.oauth.clients.get(&claims.provider).ok_or_else(|| {
        ApiError::FailedPrecondition(
            Reason::ProviderNotConfigured,
            format!("{} is not configured", claims.provider).into(),
        )
    })?;
    let spec = catalog::provider(&claims.provider)
        .ok_or_else(|| ApiError::invalid_field("state", "unknown provider"))?;
    // The provider's circuit breaker is asked before the state is consumed:
    // while it is open the state and the code stay usable for a retry.
    let permit = state.oauth.breakers.allow(spec.id).map_err(|refused| {
        tracing::warn!(
            provider = spec.id,
            "OAuth code exchange refused: provider circuit open"
        );
        ApiError::UnavailableFor {
            reason: Reason::ProviderBreakerOpen,
            message: "the provider is unavailable for now: try again later".into(),
            retry_after: refused.retry_after,
        }
    })?;
    // Single use: the state is consumed before the exchange, whatever follows.
    let tx = p.tenant(&state.db).await?;
    let (row, blob) = states::consume(&tx, &claims.nonce, spec.id)
        .await?
        .ok_or_else(|| {
            ApiError::FailedPrecondition(
                Reason::OauthStateUsed,
                "this OAuth state was already used or has expired".into(),
            )
        })?;
    tx.commit().await?;
    let verifier = state.vault.decrypt(&verifier_context(org, row), &blob)?;
    let verifier = String::from_utf8(verifier.to_vec())
        .map_err(|_| ApiError::Corrupt("PKCE verifier is not UTF-8"))?;

    use secrecy::ExposeSecret as _;
    let response = state
        .oauth
        .http
        .post(client.token_url.clone())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", req.code.as_str()),
            ("redirect_uri", client.redirect_uri.as_str()),
            ("client_id", client.client_id.as_str()),
            ("client_secret", client.client_secret.expose_secret()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await;
    // Only provider-wide trouble (transport errors, 5xx, 429) counts toward
    // the breaker; a refused code is this user's.
    let response = match response {
        Ok(r) => {
            permit.answered(&r);
            r
        }
        Err(e) => {
            tracing::warn!(provider = spec.id, error = %e.without_url(), "OAuth token endpoint unreachable");
            permit.failed();
            return Err(ApiError::Unavailable(
                Reason::ProviderUnavailable,
                "the provider could not be reached: try again".into(),
            ));
        }
    };
    if !response.status().is_success() {
        tracing::warn!(provider = spec.id, status = %response.status(), "OAuth code exchange refused");
        return Err(ApiError::FailedPrecondition(
            Reason::ProviderRefused,
            "the provider refused the authorization code".into(),
        ));
    }
    let tokens: TokenResponse = response.json().await.map_err(|_| {
        ApiError::FailedPrecondition(
            Reason::ProviderRefused,
            "the provider's token response is not valid".into(),
        )
    })?;
    let fields = super::sealing::token_set(tokens.access_token, tokens.refresh_token).ok_or(
        ApiError::FailedPrecondition(
            Reason::ProviderRefused,
            "the provider returned no usable access token".into(),
        ),
    )?;

    let tx = p.tenant(&state.db).await?;
    let id = store::upsert(
        &tx,
        IntegrationId::generate(),
        spec.id,
        "",
        spec.scope_names(),
        Some(user),
    )
    .await?;
    // A reconnect replaces the grant's token set: no refresh token of an
    // earlier grant survives it (pasted secrets such as the webhook signing
    // secret are not part of the grant and stay).
    store::clear_secrets(&tx, id, &["access_token", "refresh_token"]).await?;
    for (field, value) in &fields {
        super::sealing::seal_and_store(&state.vault, &tx, org, id, field, value).await?;
    }
    states::set_token_expiry(&tx, id, super::sealing::token_lifetime(tokens.expires_in)).await?;
    let names: Vec<&str> = fields.iter().map(|(f, _)| *f).collect();
    store::audit(
        &tx,
        "integration.oauth_connected",
        id,
        json!({ "provider": spec.id, "fields": names }),
        &p.audit(),
    )
    .await?;
    let row = store::get(&tx, id).await?;
    tx.commit().await?;
    tracing::info!(org_id = %org, integration_id = %id, provider = spec.id, "integration connected through OAuth");
    Ok(CompleteOAuthConnectResponse {
        integration: row.as_ref().map(integration_message),
        return_to: claims.return_to,
    })
}
