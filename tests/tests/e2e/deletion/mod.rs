//! Workspace deletion end to end: an owner schedules it (password, and a
//! code when enrolled), the workspace answers every call with its purge
//! date (except the ones the contract opens to owners), restoring brings
//! everything back as it was, and after the grace the purge job deletes
//! every row of the org (found from the catalog), resumably, leaving a
//! receipt.

mod lifecycle;
mod purge;
mod sql;

use ochre_sdk::v1::{
    RestoreWorkspaceRequest, RestoreWorkspaceResponse, ScheduleWorkspaceDeletionRequest,
    ScheduleWorkspaceDeletionResponse,
};
use ochre_tests::prelude::*;
use tonic::Status;

/// `ScheduleWorkspaceDeletion` as `who` in `org`.
pub async fn schedule(
    app: &TestApp,
    who: &str,
    org: &str,
    password: &str,
    totp_code: &str,
) -> Result<ScheduleWorkspaceDeletionResponse, Status> {
    let request = ScheduleWorkspaceDeletionRequest {
        password: password.to_owned(),
        totp_code: totp_code.to_owned(),
    };
    app.client::<OrgClient>()
        .schedule_workspace_deletion(with_auth(request, who, Some(org)))
        .await
        .map(tonic::Response::into_inner)
}

/// `RestoreWorkspace` as `who` in `org`.
pub async fn restore(
    app: &TestApp,
    who: &str,
    org: &str,
) -> Result<RestoreWorkspaceResponse, Status> {
    app.client::<OrgClient>()
        .restore_workspace(with_auth(RestoreWorkspaceRequest {}, who, Some(org)))
        .await
        .map(tonic::Response::into_inner)
}

/// A timestamp as the refusals name it (RFC 3339, whole seconds, `Z`).
pub fn rfc3339(t: &prost_types::Timestamp) -> String {
    chrono::DateTime::from_timestamp(t.seconds, 0)
        .expect("a valid timestamp")
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
