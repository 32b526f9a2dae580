//! `ochre.v1.AuditService`: the org's audit events, for owners and admins.

use ochre_sdk::v1::{
    AuditEvent, GetAuditPublicKeyRequest, GetAuditPublicKeyResponse, ListAuditEventsRequest,
    ListAuditEventsResponse, VerifyAuditChainRequest, VerifyAuditChainResponse,
    audit_service_server::AuditService,
};
use tonic::{Request, Response, Status};

use super::{
    convert::{parse_id, time, ts},
    pager::{ListKind, page_size},
};
use crate::{
    db::{
        DbError, audit_chain,
        store::audit::{self as store, AuditFilter, AuditRow},
    },
    error::ApiError,
    gate::principal,
    ids::AuditId,
    rpc::state::AppState,
};

/// The handler of `AuditService`.
#[derive(Debug, Clone)]
pub struct AuditApi {
    state: AppState,
}

impl AuditApi {
    pub fn new(state: AppState) -> Self {
        AuditApi { state }
    }
}

fn event(r: AuditRow) -> AuditEvent {
    AuditEvent {
        seq: r.seq,
        id: r.id.to_string(),
        occurred_at: Some(ts(r.occurred_at)),
        actor_user_id: r.actor_user_id.map(|u| u.to_string()).unwrap_or_default(),
        actor_api_key_id: r
            .actor_api_key_id
            .map(|k| k.to_string())
            .unwrap_or_default(),
        action: r.action,
        target_type: r.target_type,
        target_id: r.target_id.unwrap_or_default(),
        client_ip: r.client_ip.unwrap_or_default(),
        request_id: r.request_id,
        details_json: r.detail,
        prev_hash: r.prev_hash,
        hash: r.hash,
    }
}

fn filter(req: &ListAuditEventsRequest) -> Result<AuditFilter, ApiError> {
    let action = match req.action.as_str() {
        "" => None,
        a if a.len() <= 100
            && a.chars()
                .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_') =>
        {
            Some(a.to_owned())
        }
        _ => {
            return Err(ApiError::invalid_field(
                "action",
                "action is not an audit action name",
            ));
        }
    };
    let filter = AuditFilter {
        action,
        actor: match req.actor_user_id.as_str() {
            "" => None,
            id => Some(parse_id("actor_user_id", id)?),
        },
        since: time("since", req.since.as_ref())?,
        until: time("until", req.until.as_ref())?,
    };
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && since >= until
    {
        return Err(ApiError::invalid_field(
            "since",
            "since must be before until",
        ));
    }
    Ok(filter)
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn list_audit_events(
        &self,
        request: Request<ListAuditEventsRequest>,
    ) -> Result<Response<ListAuditEventsResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let size = page_size(req.page_size)?;
        let filter = filter(req)?;
        let (org, _) = p.require_org()?;
        let key = format!("{filter:?}");
        let after = self.state.pager.resume::<AuditId>(
            &req.page_token,
            ListKind::AuditEvents,
            org,
            &key,
        )?;
        let tx = p.tenant(&self.state.db).await?.single_read();
        let mut rows = store::list(&tx, &filter, after, size + 1).await?;
        tx.finish_read().await?;
        let next_page_token = self.state.pager.finish(
            &mut rows,
            size,
            false,
            ListKind::AuditEvents,
            org,
            &key,
            |r| r.id,
        );
        Ok(Response::new(ListAuditEventsResponse {
            events: rows.into_iter().map(event).collect(),
            next_page_token,
        }))
    }

    async fn verify_audit_chain(
        &self,
        request: Request<VerifyAuditChainRequest>,
    ) -> Result<Response<VerifyAuditChainResponse>, Status> {
        let p = principal(&request)?;
        let (org, _) = p.require_org()?;
        let public_key = self.state.checkpoints.public_key();
        let tx = p.tenant(&self.state.db).await?;
        let verdict = audit_chain::verify_on(tx.conn(), org, &public_key)
            .await
            .map_err(DbError::from)?;
        tx.finish_read().await?;
        Ok(Response::new(match verdict {
            Ok(v) => VerifyAuditChainResponse {
                ok: true,
                last_seq: v.head.seq,
                checkpointed_seq: v.checkpointed,
                ..Default::default()
            },
            Err(broken) => VerifyAuditChainResponse {
                ok: false,
                first_bad_seq: broken.seq(),
                problem: broken.to_string(),
                ..Default::default()
            },
        }))
    }

    async fn get_audit_public_key(
        &self,
        _request: Request<GetAuditPublicKeyRequest>,
    ) -> Result<Response<GetAuditPublicKeyResponse>, Status> {
        let signer = &self.state.checkpoints;
        Ok(Response::new(GetAuditPublicKeyResponse {
            key_id: signer.key_id(),
            public_key: signer.public_key().to_vec(),
        }))
    }
}
