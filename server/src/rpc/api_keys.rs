//! `ochre.v1.ApiKeyService`: org API keys for partner backends.

use ochre_sdk::v1::{
    ApiKey, CreateApiKeyRequest, CreateApiKeyResponse, ListApiKeysRequest, ListApiKeysResponse,
    RevokeApiKeyRequest, RevokeApiKeyResponse, Role, api_key_service_server::ApiKeyService,
};
use serde_json::json;
use tonic::{Request, Response, Status};

use super::convert::{parse_id, parse_role, role_i32, ts, ts_opt};
use crate::ids::ApiKeyId;
use crate::{
    crypto::tokens::new_api_key,
    db::store::{
        api_keys::{self, ApiKeyRow},
        audit::{self, AuditTarget},
        request_ids::About,
    },
    error::{ApiError, Reason},
    gate::{principal, role_to_db},
    rpc::{
        pager::{ListKind, page_size},
        request_ids::{self, fresh_or_replay},
        state::AppState,
    },
};

/// The handler of `ApiKeyService`.
#[derive(Debug, Clone)]
pub struct ApiKeyApi {
    state: AppState,
}

impl ApiKeyApi {
    pub fn new(state: AppState) -> Self {
        ApiKeyApi { state }
    }
}

fn message(k: &ApiKeyRow) -> ApiKey {
    ApiKey {
        id: k.id.to_string(),
        name: k.name.clone(),
        role: role_i32(&k.role),
        prefix: k.prefix.clone(),
        created_by_user_id: k.created_by.map(|u| u.to_string()).unwrap_or_default(),
        created_at: Some(ts(k.created_at)),
        last_used_at: ts_opt(k.last_used_at),
        revoked_at: ts_opt(k.revoked_at),
    }
}

/// owner > admin > agent > light agent.
fn rank(role: Role) -> u8 {
    match role {
        Role::Owner => 4,
        Role::Admin => 3,
        Role::Agent => 2,
        Role::LightAgent => 1,
        Role::Unspecified => 0,
    }
}

#[tonic::async_trait]
impl ApiKeyService for ApiKeyApi {
    async fn create_api_key(
        &self,
        request: Request<CreateApiKeyRequest>,
    ) -> Result<Response<CreateApiKeyResponse>, Status> {
        let p = principal(&request)?;
        let name = super::validate::label("name", &request.get_ref().name, 100)?;
        if name.is_empty() {
            return Err(ApiError::required("name").into());
        }
        let role = parse_role("role", request.get_ref().role)?;
        let (_, caller) = p.require_org()?;
        // Keys are made by people: a key cannot mint keys that outlive it.
        p.require_user()?;
        if role == Role::Owner {
            return Err(ApiError::PermissionDenied(
                Reason::RoleTooHigh,
                "an API key cannot be an owner".into(),
            )
            .into());
        }
        if rank(role) > rank(caller) {
            return Err(ApiError::PermissionDenied(
                Reason::RoleTooHigh,
                "an API key cannot have a role above yours".into(),
            )
            .into());
        }
        let db_role = role_to_db(role).ok_or_else(|| ApiError::required("role"))?;
        let org = p.require_org()?.0;
        let (secret, hash) = new_api_key(org);
        let prefix: String = secret.chars().take(16).collect();
        let tx = p.tenant(&self.state.db).await?;
        let req = request.get_ref();
        let ticket = fresh_or_replay!(
            request_ids::start(&self.state, &tx, &p, req, org).await?,
            tx
        );
        let id = ApiKeyId::generate();
        let row = api_keys::create(&tx, id, &name, db_role, &hash, &prefix, p.user_id()).await?;
        let detail = json!({ "role": db_role });
        audit::record(
            &tx,
            "api_key.created",
            AuditTarget::of("api_key", id),
            detail,
            &p.audit(),
        )
        .await?;
        let answer = CreateApiKeyResponse {
            api_key: Some(message(&row)),
            secret,
        };
        ticket
            .keep(&self.state, &tx, &answer, About::default())
            .await?;
        tx.commit().await?;
        tracing::info!(org_id = ?p.org().map(|o| o.0), api_key_id = %row.id, role = db_role, "API key created");
        Ok(Response::new(answer))
    }

    async fn list_api_keys(
        &self,
        request: Request<ListApiKeysRequest>,
    ) -> Result<Response<ListApiKeysResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let size = page_size(req.page_size)?;
        let (org, _) = p.require_org()?;
        let (kind, pager) = (ListKind::ApiKeys, &self.state.pager);
        let after = pager.resume(&req.page_token, kind, org, "")?;
        let tx = p.tenant(&self.state.db).await?.single_read();
        let mut rows = api_keys::list(&tx, after, size + 1).await?;
        tx.finish_read().await?;
        let next_page_token = pager.finish(&mut rows, size, false, kind, org, "", |r| r.id);
        Ok(Response::new(ListApiKeysResponse {
            api_keys: rows.iter().map(message).collect(),
            next_page_token,
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<RevokeApiKeyRequest>,
    ) -> Result<Response<RevokeApiKeyResponse>, Status> {
        let p = principal(&request)?;
        let id = parse_id("api_key_id", &request.get_ref().api_key_id)?;
        p.require_org()?;
        let tx = p.tenant(&self.state.db).await?;
        if !api_keys::revoke(&tx, id).await? {
            return Err(ApiError::not_found().into());
        }
        let target = AuditTarget::of("api_key", id);
        audit::record(&tx, "api_key.revoked", target, json!({}), &p.audit()).await?;
        tx.commit().await?;
        tracing::info!(org_id = ?p.org().map(|o| o.0), api_key_id = %id, "API key revoked");
        Ok(Response::new(RevokeApiKeyResponse {}))
    }
}
