//! `ochre.v1.OrgService`: create and read orgs, the org IP allowlist, and
//! (in [`deletion`]) scheduling and cancelling a workspace's deletion.

mod deletion;

use std::net::IpAddr;

use ochre_sdk::v1::{
    CreateOrgRequest, CreateOrgResponse, GetIpAllowlistRequest, GetIpAllowlistResponse,
    GetOrgRequest, GetOrgResponse, ListMyOrgsRequest, ListMyOrgsResponse, Org,
    RestoreWorkspaceRequest, RestoreWorkspaceResponse, ScheduleWorkspaceDeletionRequest,
    ScheduleWorkspaceDeletionResponse, SetIpAllowlistRequest, SetIpAllowlistResponse,
    org_service_server::OrgService,
};
use serde_json::json;
use tonic::{Request, Response, Status};

use super::convert::{membership, org_message, ts};
use crate::{
    db::store::{
        audit::{self, AuditTarget},
        orgs,
        request_ids::About,
        users,
    },
    error::{ApiError, Reason},
    gate::principal,
    rpc::{
        pager::{ListKind, page_size},
        request_ids::{self, fresh_or_replay},
        state::AppState,
    },
};

/// At most this many CIDR ranges per org.
pub const MAX_ALLOWLIST: usize = 100;

/// The handler of `OrgService`.
#[derive(Debug, Clone)]
pub struct OrgApi {
    state: AppState,
}

impl OrgApi {
    pub fn new(state: AppState) -> Self {
        OrgApi { state }
    }
}

fn org_name(raw: &str) -> Result<String, ApiError> {
    let name = super::validate::name(raw)?;
    if name.is_empty() {
        return Err(ApiError::required("name"));
    }
    Ok(name)
}

/// Parses and normalises CIDR ranges (a bare address is a single host).
pub fn parse_cidrs(raw: &[String]) -> Result<Vec<ipnet::IpNet>, ApiError> {
    if raw.len() > MAX_ALLOWLIST {
        return Err(ApiError::invalid_field(
            "cidrs",
            format!("at most {MAX_ALLOWLIST} ranges"),
        ));
    }
    let mut out: Vec<ipnet::IpNet> = Vec::with_capacity(raw.len());
    for (i, text) in raw.iter().enumerate() {
        let text = text.trim();
        let net = text
            .parse::<ipnet::IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| {
                ApiError::invalid_field(
                    format!("cidrs[{i}]"),
                    format!("cidrs[{i}] is not a CIDR range or address"),
                )
            })?;
        let net = net.trunc();
        if !out.contains(&net) {
            out.push(net);
        }
    }
    Ok(out)
}

#[tonic::async_trait]
impl OrgService for OrgApi {
    async fn create_org(
        &self,
        request: Request<CreateOrgRequest>,
    ) -> Result<Response<CreateOrgResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let name = org_name(&req.name)?;
        let user = p.require_user()?;
        let id = request_ids::org_to_create(user, &req.request_id);
        let tx = p.tenant(&self.state.db).await?;
        let ticket = fresh_or_replay!(request_ids::start(&self.state, &tx, &p, req, id).await?, tx);
        let now = orgs::create(&tx, id, &name).await?;
        let answer = CreateOrgResponse {
            org: Some(Org {
                id: id.to_string(),
                name,
                created_at: Some(ts(now)),
                ..Org::default()
            }),
        };
        ticket
            .keep(&self.state, &tx, &answer, About::default())
            .await?;
        tx.commit().await?;
        tracing::info!(org_id = %id, "org created");
        Ok(Response::new(answer))
    }

    async fn list_my_orgs(
        &self,
        request: Request<ListMyOrgsRequest>,
    ) -> Result<Response<ListMyOrgsResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let size = page_size(req.page_size)?;
        let user = p.require_user()?;
        let (kind, pager) = (ListKind::MyOrgs, &self.state.pager);
        let after = pager.resume(&req.page_token, kind, user, "")?;
        let tx = p.tenant(&self.state.db).await?.single_read();
        let mut rows = users::memberships(&tx, after, size + 1).await?;
        tx.finish_read().await?;
        let next_page_token = pager.finish(&mut rows, size, false, kind, user, "", |r| r.org_id);
        Ok(Response::new(ListMyOrgsResponse {
            memberships: rows.iter().map(membership).collect(),
            next_page_token,
        }))
    }

    async fn get_org(
        &self,
        request: Request<GetOrgRequest>,
    ) -> Result<Response<GetOrgResponse>, Status> {
        let p = principal(&request)?;
        let (_, role) = p.require_org()?;
        let tx = p.tenant(&self.state.db).await?.single_read();
        let org = orgs::current(&tx).await?.ok_or(ApiError::not_found())?;
        tx.finish_read().await?;
        Ok(Response::new(GetOrgResponse {
            org: Some(org_message(&org)),
            role: role as i32,
        }))
    }

    async fn get_ip_allowlist(
        &self,
        request: Request<GetIpAllowlistRequest>,
    ) -> Result<Response<GetIpAllowlistResponse>, Status> {
        let p = principal(&request)?;
        p.require_org()?;
        let tx = p.tenant(&self.state.db).await?.single_read();
        let cidrs = orgs::allowlist(&tx).await?;
        tx.finish_read().await?;
        Ok(Response::new(GetIpAllowlistResponse { cidrs }))
    }

    async fn set_ip_allowlist(
        &self,
        request: Request<SetIpAllowlistRequest>,
    ) -> Result<Response<SetIpAllowlistResponse>, Status> {
        let p = principal(&request)?;
        let nets = parse_cidrs(&request.get_ref().cidrs)?;
        p.require_org()?;
        if !nets.is_empty()
            && !p
                .client_ip()
                .is_some_and(|ip| nets.iter().any(|n| n.contains(&ip)))
        {
            return Err(ApiError::FailedPrecondition(
                Reason::AllowlistExcludesCaller,
                "the allowlist would exclude your own address: include it".into(),
            )
            .into());
        }
        let cidrs: Vec<String> = nets.iter().map(ToString::to_string).collect();
        let tx = p.tenant(&self.state.db).await?;
        if !orgs::set_allowlist(&tx, &cidrs).await? {
            return Err(ApiError::PermissionDenied(
                Reason::RoleNotAllowed,
                "only an owner can set the IP allowlist".into(),
            )
            .into());
        }
        let stored = orgs::allowlist(&tx).await?;
        let detail = json!({ "cidrs": stored });
        audit::record(
            &tx,
            "org.ip_allowlist_changed",
            AuditTarget::org(),
            detail,
            &p.audit(),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(org_id = ?p.org().map(|o| o.0), ranges = stored.len(), "IP allowlist replaced");
        Ok(Response::new(SetIpAllowlistResponse { cidrs: stored }))
    }

    async fn schedule_workspace_deletion(
        &self,
        request: Request<ScheduleWorkspaceDeletionRequest>,
    ) -> Result<Response<ScheduleWorkspaceDeletionResponse>, Status> {
        Ok(Response::new(
            deletion::schedule(&self.state, request).await?,
        ))
    }

    async fn restore_workspace(
        &self,
        request: Request<RestoreWorkspaceRequest>,
    ) -> Result<Response<RestoreWorkspaceResponse>, Status> {
        Ok(Response::new(
            deletion::restore(&self.state, request).await?,
        ))
    }
}
