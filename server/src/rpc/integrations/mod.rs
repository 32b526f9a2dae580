//! `ochre.v1.IntegrationService`: the catalog, connections, and the one
//! privileged token read.

use ochre_sdk::v1::{
    CompleteOAuthConnectRequest, CompleteOAuthConnectResponse, ConnectIntegrationRequest,
    ConnectIntegrationResponse, DisconnectIntegrationRequest, DisconnectIntegrationResponse,
    GetIntegrationTokenRequest, GetIntegrationTokenResponse, ListIntegrationsRequest,
    ListIntegrationsResponse, ListProvidersRequest, ListProvidersResponse,
    StartOAuthConnectRequest, StartOAuthConnectResponse,
    integration_service_server::IntegrationService,
};
use serde_json::json;
use tonic::{Request, Response, Status};

mod oauth;
mod refresh;
mod sealing;

use super::convert::{integration_message, parse_id, ts};
use crate::ids::IntegrationId;
use crate::{
    crypto::contexts::secret_context,
    db::store::{integrations as store, request_ids::About},
    error::ApiError,
    gate::principal,
    integrations::catalog::{self, MAX_SECRET_BYTES, PREVIOUS_SUFFIX, PROVIDERS, SIGNING_FIELDS},
    rpc::{
        pager::{ListKind, page_size, page_size_of},
        request_ids::{self, fresh_or_replay},
        state::AppState,
    },
};

/// The handler of `IntegrationService`.
#[derive(Debug, Clone)]
pub struct IntegrationApi {
    state: AppState,
}

impl IntegrationApi {
    pub fn new(state: AppState) -> Self {
        IntegrationApi { state }
    }
}

#[tonic::async_trait]
impl IntegrationService for IntegrationApi {
    async fn list_providers(
        &self,
        request: Request<ListProvidersRequest>,
    ) -> Result<Response<ListProvidersResponse>, Status> {
        principal(&request)?.require_org()?;
        let req = request.get_ref();
        let kind = ListKind::Providers;
        let size = page_size_of(req.page_size, kind.default_page())?;
        let (page, next_page_token) =
            self.state
                .pager
                .page_of(PROVIDERS, &req.page_token, kind, size)?;
        Ok(Response::new(ListProvidersResponse {
            providers: page.iter().map(|p| p.message()).collect(),
            next_page_token,
        }))
    }

    async fn list_integrations(
        &self,
        request: Request<ListIntegrationsRequest>,
    ) -> Result<Response<ListIntegrationsResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let size = page_size(req.page_size)?;
        let (org, _) = p.require_org()?;
        let kind = ListKind::Integrations;
        let pager = &self.state.pager;
        let after = pager.resume(&req.page_token, kind, org, "")?;
        // Two queries (the integrations, then which secret fields are set).
        let tx = p.tenant(&self.state.db).await?;
        let mut rows = store::list(&tx, after, size + 1).await?;
        tx.finish_read().await?;
        let next_page_token = pager.finish(&mut rows, size, false, kind, org, "", |r| r.id);
        Ok(Response::new(ListIntegrationsResponse {
            integrations: rows.iter().map(integration_message).collect(),
            next_page_token,
        }))
    }

    async fn connect_integration(
        &self,
        request: Request<ConnectIntegrationRequest>,
    ) -> Result<Response<ConnectIntegrationResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let spec = catalog::provider(&req.provider)
            .ok_or_else(|| ApiError::invalid_field("provider", "provider is not in the catalog"))?;
        let account = req.external_account.trim();
        if account.chars().count() > 200 || account.chars().any(char::is_control) {
            return Err(ApiError::invalid_field(
                "external_account",
                "external_account must be at most 200 printable characters",
            )
            .into());
        }
        if req.secrets.is_empty() {
            return Err(
                ApiError::invalid_field("secrets", "secrets must name at least one field").into(),
            );
        }
        for (field, value) in &req.secrets {
            if !spec.secret_fields.contains(&field.as_str()) {
                // The key is the caller's text, of any length: not echoed.
                return Err(ApiError::invalid_field(
                    "secrets",
                    format!(
                        "secrets names a field that is not a secret field of {}",
                        spec.id
                    ),
                )
                .into());
            }
            if !sealing::usable(value) {
                return Err(ApiError::invalid_field(
                    format!("secrets[{field}]"),
                    format!("{field} must be 1 to {MAX_SECRET_BYTES} bytes"),
                )
                .into());
            }
        }
        let (org, _) = p.require_org()?;
        let tx = p.tenant(&self.state.db).await?;
        let ticket = fresh_or_replay!(
            request_ids::start(&self.state, &tx, &p, req, org).await?,
            tx
        );
        let id = store::upsert(
            &tx,
            IntegrationId::generate(),
            spec.id,
            account,
            spec.scope_names(),
            p.user_id(),
        )
        .await?;
        let mut fields: Vec<&String> = req.secrets.keys().collect();
        fields.sort();
        for field in &fields {
            let value = &req.secrets[*field];
            if SIGNING_FIELDS.contains(&field.as_str()) {
                if req.revoke_previous_signing_secret {
                    // A leaked secret: nothing signed with an old one verifies
                    // (the current one is replaced just below).
                    let previous = format!("{field}{PREVIOUS_SUFFIX}");
                    store::clear_secrets(&tx, id, &[previous.as_str()]).await?;
                } else {
                    // Deliveries signed with the old secret still verify for a while.
                    store::retire_signing_secret(&tx, id, field).await?;
                }
            }
            sealing::seal_and_store(&self.state.vault, &tx, org, id, field, value).await?;
        }
        store::audit(
            &tx,
            "integration.connected",
            id,
            json!({ "provider": spec.id, "fields": fields }),
            &p.audit(),
        )
        .await?;
        let row = store::get(&tx, id).await?;
        let answer = ConnectIntegrationResponse {
            integration: row.as_ref().map(integration_message),
        };
        ticket
            .keep(&self.state, &tx, &answer, About::default())
            .await?;
        tx.commit().await?;
        tracing::info!(org_id = %org, integration_id = %id, provider = spec.id, "integration connected");
        Ok(Response::new(answer))
    }

    async fn disconnect_integration(
        &self,
        request: Request<DisconnectIntegrationRequest>,
    ) -> Result<Response<DisconnectIntegrationResponse>, Status> {
        let p = principal(&request)?;
        let id = parse_id("integration_id", &request.get_ref().integration_id)?;
        p.require_org()?;
        let tx = p.tenant(&self.state.db).await?;
        let provider = store::delete(&tx, id).await?.ok_or(ApiError::not_found())?;
        store::audit(
            &tx,
            "integration.disconnected",
            id,
            json!({ "provider": provider }),
            &p.audit(),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(integration_id = %id, provider, "integration disconnected");
        Ok(Response::new(DisconnectIntegrationResponse {}))
    }

    async fn start_o_auth_connect(
        &self,
        request: Request<StartOAuthConnectRequest>,
    ) -> Result<Response<StartOAuthConnectResponse>, Status> {
        Ok(Response::new(oauth::start(&self.state, request).await?))
    }

    async fn complete_o_auth_connect(
        &self,
        request: Request<CompleteOAuthConnectRequest>,
    ) -> Result<Response<CompleteOAuthConnectResponse>, Status> {
        Ok(Response::new(oauth::complete(&self.state, request).await?))
    }

    async fn get_integration_token(
        &self,
        request: Request<GetIntegrationTokenRequest>,
    ) -> Result<Response<GetIntegrationTokenResponse>, Status> {
        let p = principal(&request)?;
        let id = parse_id("integration_id", &request.get_ref().integration_id)?;
        let field = request.get_ref().field.as_str();
        if field.is_empty() || field.len() > 64 {
            return Err(ApiError::required("field").into());
        }
        let (org, _) = p.require_org()?;
        let mut tx = p.tenant(&self.state.db).await?;
        // The common case costs one query in this transaction; only a token
        // that is due takes the refresh path (its own transaction and lock).
        let margin = refresh::REFRESH_MARGIN_SECS;
        if field == "access_token" && store::token_due(&tx, id, margin).await? {
            drop(tx);
            refresh::refresh_if_expiring(&self.state, &p, org, id).await?;
            tx = p.tenant(&self.state.db).await?;
        }
        let (blob, updated_at) = store::read_secret(&tx, id, field, &p.audit())
            .await
            .map_err(|e| match ApiError::from(e) {
                ApiError::NotFound(..) => ApiError::not_found(),
                other => other,
            })?;
        // A failure below drops the transaction: no audit row without a read.
        let clear = self
            .state
            .vault
            .decrypt(&secret_context(org, id, field), &blob)?;
        let value = String::from_utf8(clear.to_vec())
            .map_err(|_| ApiError::Corrupt("integration secret is not UTF-8"))?;
        tx.commit().await?;
        tracing::info!(org_id = %org, integration_id = %id, field, "integration token read");
        Ok(Response::new(GetIntegrationTokenResponse {
            value,
            updated_at: Some(ts(updated_at)),
        }))
    }
}
