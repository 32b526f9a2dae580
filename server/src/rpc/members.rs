//! `ochre.v1.MemberService`: members and invitations.

use ochre_sdk::v1::{
    AcceptInvitationRequest, AcceptInvitationResponse, CreateInvitationRequest,
    CreateInvitationResponse, Invitation, ListInvitationsRequest, ListInvitationsResponse,
    ListMembersRequest, ListMembersResponse, Member, RemoveMemberRequest, RemoveMemberResponse,
    RevokeInvitationRequest, RevokeInvitationResponse, Role, TransferOwnershipRequest,
    TransferOwnershipResponse, UpdateMemberRoleRequest, UpdateMemberRoleResponse,
    member_service_server::MemberService,
};
use serde_json::json;
use tonic::{Request, Response, Status};

use super::convert::{membership, parse_id, parse_role, role_i32, ts, ts_opt};
use crate::ids::InvitationId;
use crate::{
    crypto::tokens::{TokenKind, hash_opaque, new_invitation_token, org_named},
    db::store::{
        audit::{self, AuditTarget},
        members::{self, InvitationRow, MemberRow},
        request_ids::About,
        users,
    },
    error::{ApiError, Reason},
    gate::{principal, role_to_db},
    rpc::{
        pager::{ListKind, page_size},
        request_ids::{self, fresh_or_replay},
        state::AppState,
        validate::normalize_email,
    },
};

/// Invitations expire after this many days.
pub const INVITATION_DAYS: i32 = 7;

/// The handler of `MemberService`.
#[derive(Debug, Clone)]
pub struct MemberApi {
    state: AppState,
}

impl MemberApi {
    pub fn new(state: AppState) -> Self {
        MemberApi { state }
    }
}

fn member(m: &MemberRow) -> Member {
    Member {
        user_id: m.user_id.to_string(),
        email: m.email.clone(),
        display_name: m.display_name.clone(),
        role: role_i32(&m.role),
        joined_at: Some(ts(m.joined_at)),
    }
}

fn invitation(i: &InvitationRow) -> Invitation {
    Invitation {
        id: i.id.to_string(),
        email: i.email.clone(),
        role: role_i32(&i.role),
        invited_by_user_id: i.invited_by.map(|u| u.to_string()).unwrap_or_default(),
        created_at: Some(ts(i.created_at)),
        expires_at: Some(ts(i.expires_at)),
        accepted_at: ts_opt(i.accepted_at),
        revoked_at: ts_opt(i.revoked_at),
    }
}

fn db_role(role: Role) -> Result<&'static str, ApiError> {
    role_to_db(role).ok_or_else(|| ApiError::required("role"))
}

#[tonic::async_trait]
impl MemberService for MemberApi {
    async fn list_members(
        &self,
        request: Request<ListMembersRequest>,
    ) -> Result<Response<ListMembersResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let size = page_size(req.page_size)?;
        let (org, _) = p.require_org()?;
        let (kind, pager) = (ListKind::Members, &self.state.pager);
        let after = pager.resume(&req.page_token, kind, org, "")?;
        let tx = p.tenant(&self.state.db).await?.single_read();
        let mut rows = members::list(&tx, after, size + 1).await?;
        tx.finish_read().await?;
        let next_page_token = pager.finish(&mut rows, size, false, kind, org, "", |r| r.user_id);
        Ok(Response::new(ListMembersResponse {
            members: rows.iter().map(member).collect(),
            next_page_token,
        }))
    }

    async fn update_member_role(
        &self,
        request: Request<UpdateMemberRoleRequest>,
    ) -> Result<Response<UpdateMemberRoleResponse>, Status> {
        let p = principal(&request)?;
        let user = parse_id("user_id", &request.get_ref().user_id)?;
        let role = db_role(parse_role("role", request.get_ref().role)?)?;
        p.require_org()?;
        // Membership is managed by people, not by API keys.
        p.require_user()?;
        let tx = p.tenant(&self.state.db).await?;
        members::set_role(&tx, user, role).await?;
        let updated = members::get(&tx, user)
            .await?
            .ok_or(ApiError::not_found())?;
        let target = AuditTarget::of("user", user);
        audit::record(
            &tx,
            "member.role_changed",
            target,
            json!({ "role": role }),
            &p.audit(),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(org_id = ?p.org().map(|o| o.0), member = %user, role, "member role changed");
        Ok(Response::new(UpdateMemberRoleResponse {
            member: Some(member(&updated)),
        }))
    }

    async fn remove_member(
        &self,
        request: Request<RemoveMemberRequest>,
    ) -> Result<Response<RemoveMemberResponse>, Status> {
        let p = principal(&request)?;
        let user = parse_id("user_id", &request.get_ref().user_id)?;
        p.require_org()?;
        // Membership is managed by people, not by API keys.
        p.require_user()?;
        let tx = p.tenant(&self.state.db).await?;
        members::remove(&tx, user).await?;
        let target = AuditTarget::of("user", user);
        audit::record(&tx, "member.removed", target, json!({}), &p.audit()).await?;
        tx.commit().await?;
        tracing::info!(org_id = ?p.org().map(|o| o.0), member = %user, "member removed");
        Ok(Response::new(RemoveMemberResponse {}))
    }

    async fn transfer_ownership(
        &self,
        request: Request<TransferOwnershipRequest>,
    ) -> Result<Response<TransferOwnershipResponse>, Status> {
        let p = principal(&request)?;
        let user = parse_id("user_id", &request.get_ref().user_id)?;
        p.require_user()?;
        let tx = p.tenant(&self.state.db).await?;
        members::transfer_ownership(&tx, user).await?;
        let target = AuditTarget::of("user", user);
        audit::record(&tx, "ownership.transferred", target, json!({}), &p.audit()).await?;
        tx.commit().await?;
        tracing::info!(org_id = ?p.org().map(|o| o.0), new_owner = %user, "ownership transferred");
        Ok(Response::new(TransferOwnershipResponse {}))
    }

    async fn create_invitation(
        &self,
        request: Request<CreateInvitationRequest>,
    ) -> Result<Response<CreateInvitationResponse>, Status> {
        let p = principal(&request)?;
        let email = normalize_email(&request.get_ref().email)
            .ok_or_else(|| ApiError::invalid_field("email", "email is not a valid address"))?;
        let role = parse_role("role", request.get_ref().role)?;
        let (_, caller_role) = p.require_org()?;
        // Membership is managed by people, not by API keys.
        p.require_user()?;
        if role == Role::Owner && caller_role != Role::Owner {
            return Err(ApiError::PermissionDenied(
                Reason::RoleTooHigh,
                "only an owner can invite an owner".into(),
            )
            .into());
        }
        let (org, _) = p.require_org()?;
        let (token, hash) = new_invitation_token(org);
        let tx = p.tenant(&self.state.db).await?;
        let ticket = fresh_or_replay!(
            request_ids::start(&self.state, &tx, &p, request.get_ref(), org).await?,
            tx
        );
        let id = InvitationId::generate();
        let row = members::invite(
            &tx,
            id,
            &email,
            db_role(role)?,
            &hash,
            p.user_id(),
            INVITATION_DAYS,
        )
        .await?;
        // Ids and the role only: never the invitee's email address.
        let detail = json!({ "role": db_role(role)? });
        let target = AuditTarget::of("invitation", id);
        audit::record(&tx, "member.invited", target, detail, &p.audit()).await?;
        let answer = CreateInvitationResponse {
            invitation: Some(invitation(&row)),
            token,
        };
        ticket
            .keep(&self.state, &tx, &answer, About::default())
            .await?;
        tx.commit().await?;
        Ok(Response::new(answer))
    }

    async fn list_invitations(
        &self,
        request: Request<ListInvitationsRequest>,
    ) -> Result<Response<ListInvitationsResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let size = page_size(req.page_size)?;
        let (org, _) = p.require_org()?;
        let (kind, pager) = (ListKind::Invitations, &self.state.pager);
        let after = pager.resume(&req.page_token, kind, org, "")?;
        let tx = p.tenant(&self.state.db).await?.single_read();
        let mut rows = members::invitations(&tx, after, size + 1).await?;
        tx.finish_read().await?;
        let next_page_token = pager.finish(&mut rows, size, false, kind, org, "", |r| r.id);
        Ok(Response::new(ListInvitationsResponse {
            invitations: rows.iter().map(invitation).collect(),
            next_page_token,
        }))
    }

    async fn revoke_invitation(
        &self,
        request: Request<RevokeInvitationRequest>,
    ) -> Result<Response<RevokeInvitationResponse>, Status> {
        let p = principal(&request)?;
        let id = parse_id("invitation_id", &request.get_ref().invitation_id)?;
        p.require_org()?;
        let tx = p.tenant(&self.state.db).await?;
        if !members::revoke_invitation(&tx, id).await? {
            return Err(ApiError::not_found().into());
        }
        let target = AuditTarget::of("invitation", id);
        audit::record(&tx, "invitation.revoked", target, json!({}), &p.audit()).await?;
        tx.commit().await?;
        Ok(Response::new(RevokeInvitationResponse {}))
    }

    async fn accept_invitation(
        &self,
        request: Request<AcceptInvitationRequest>,
    ) -> Result<Response<AcceptInvitationResponse>, Status> {
        let p = principal(&request)?;
        let token = request.get_ref().token.trim();
        if token.is_empty() {
            return Err(ApiError::required("token").into());
        }
        p.require_user()?;
        // The token names its org; the database finds it under that org only.
        let Some(named) = org_named(TokenKind::Invitation, token) else {
            return Err(ApiError::NotFound(
                Reason::NotFound,
                "invitation not found or no longer valid".into(),
            )
            .into());
        };
        let tx = p.tenant(&self.state.db).await?;
        let ctx = p.audit();
        let (org_id, _) = members::accept(&tx, named, &hash_opaque(token), &ctx).await?;
        let joined = users::memberships(&tx, None, u64::MAX)
            .await?
            .into_iter()
            .find(|m| m.org_id == org_id)
            .ok_or(ApiError::not_found())?;
        tx.commit().await?;
        tracing::info!(%org_id, user_id = ?p.user_id(), "invitation accepted");
        Ok(Response::new(AcceptInvitationResponse {
            membership: Some(membership(&joined)),
        }))
    }
}
