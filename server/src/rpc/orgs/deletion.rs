//! Workspace deletion: an owner schedules it (password, and a code when
//! enrolled) and may restore the workspace until its purge begins. The
//! database does both (`schedule_org_deletion()`, `restore_org()`), checks
//! the caller is an owner, and appends the audit events; from the moment
//! deletion is scheduled the identity calls refuse the org (see
//! `crate::gate`), except for the calls the contract opens to its owners.

use ochre_sdk::v1::{
    RestoreWorkspaceRequest, RestoreWorkspaceResponse, ScheduleWorkspaceDeletionRequest,
    ScheduleWorkspaceDeletionResponse,
};
use tonic::Request;

use crate::{
    db::store::{orgs, users},
    error::ApiError,
    gate::principal,
    rpc::{
        convert::org_message,
        identity::reauth::{open, reauthenticate},
        state::AppState,
    },
};

pub async fn schedule(
    state: &AppState,
    request: Request<ScheduleWorkspaceDeletionRequest>,
) -> Result<ScheduleWorkspaceDeletionResponse, ApiError> {
    let p = principal(&request)?;
    let req = request.into_inner();
    p.require_org()?;
    let audit = p.audit();
    let (tx, me) = open(state, p).await?;
    if let Some(step) = reauthenticate(state, &me, req.password, &req.totp_code).await? {
        users::set_totp_last_step(&tx, step).await?;
    }
    let scheduled = orgs::schedule_deletion(&tx, state.deletion_grace, &audit).await?;
    let org = orgs::current(&tx).await?.ok_or(ApiError::not_found())?;
    tx.commit().await?;
    tracing::info!(org_id = %org.id, purge_after = %scheduled.purge_after,
        "workspace deletion scheduled");
    Ok(ScheduleWorkspaceDeletionResponse {
        org: Some(org_message(&org)),
    })
}

pub async fn restore(
    state: &AppState,
    request: Request<RestoreWorkspaceRequest>,
) -> Result<RestoreWorkspaceResponse, ApiError> {
    let p = principal(&request)?;
    p.require_user()?;
    p.require_org()?;
    let tx = p.tenant(&state.db).await?;
    orgs::restore(&tx, &p.audit()).await?;
    let org = orgs::current(&tx).await?.ok_or(ApiError::not_found())?;
    tx.commit().await?;
    tracing::info!(org_id = %org.id, "workspace restored");
    Ok(RestoreWorkspaceResponse {
        org: Some(org_message(&org)),
    })
}
