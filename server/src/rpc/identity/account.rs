//! Containing a stolen credential: changing the password (which ends every
//! other session), and listing and revoking the account's sessions.

use ochre_sdk::v1::{
    ChangePasswordRequest, ChangePasswordResponse, ListSessionsRequest, ListSessionsResponse,
    SignInSession,
};
use secrecy::SecretString;

use super::reauth::{open, reauthenticate};
use crate::{
    crypto::password::check_strength,
    db::store::{sessions as session_store, users},
    error::{ApiError, Reason},
    gate::Principal,
    ids::SessionId,
    rpc::{
        convert::{ts, ts_opt},
        pager::{ListKind, page_size},
        state::AppState,
    },
};

pub async fn change_password(
    state: &AppState,
    p: Principal,
    req: ChangePasswordRequest,
) -> Result<ChangePasswordResponse, ApiError> {
    if req.current_password.is_empty() {
        return Err(ApiError::required("current_password"));
    }
    if req.new_password.is_empty() {
        return Err(ApiError::required("new_password"));
    }
    let current = p.session_id().ok_or_else(ApiError::denied)?;
    let (tx, me) = open(state, p).await?;
    check_strength(&req.new_password, &[&me.email, &me.display_name]).map_err(|weak| {
        ApiError::invalid_field(
            "new_password",
            format!("password refused: {}", weak.reason()),
        )
    })?;
    if let Some(step) = reauthenticate(state, &me, req.current_password, &req.totp_code).await? {
        users::set_totp_last_step(&tx, step).await?;
    }
    let phc = state
        .hasher
        .hash(SecretString::from(req.new_password))
        .await?;
    users::set_password_hash(&tx, &phc).await?;
    let revoked = session_store::revoke_others(&tx, current, "password changed").await?;
    tx.commit().await?;
    tracing::info!(user_id = %me.id, revoked, "password changed");
    Ok(ChangePasswordResponse {
        revoked_sessions: i32::try_from(revoked).unwrap_or(i32::MAX),
    })
}

pub async fn list_sessions(
    state: &AppState,
    p: Principal,
    req: &ListSessionsRequest,
) -> Result<ListSessionsResponse, ApiError> {
    let size = page_size(req.page_size)?;
    let current = p.session_id().ok_or_else(ApiError::denied)?;
    let user = p.require_user()?;
    let (kind, pager) = (ListKind::Sessions, &state.pager);
    let before = pager.resume(&req.page_token, kind, user, "")?;
    let tx = p.tenant(&state.db).await?.single_read();
    let mut rows = session_store::list(&tx, before, size + 1).await?;
    tx.finish_read().await?;
    let next_page_token = pager.finish(&mut rows, size, false, kind, user, "", |s| s.id);
    Ok(ListSessionsResponse {
        next_page_token,
        sessions: rows
            .into_iter()
            .map(|s| SignInSession {
                id: s.id.to_string(),
                created_at: Some(ts(s.created_at)),
                expires_at: Some(ts(s.expires_at)),
                revoked_at: ts_opt(s.revoked_at),
                client_ip: s.client_ip.unwrap_or_default(),
                user_agent: s.user_agent.unwrap_or_default(),
                current: s.id == current,
            })
            .collect(),
    })
}

pub async fn revoke_session(
    state: &AppState,
    p: Principal,
    session: SessionId,
) -> Result<(), ApiError> {
    p.require_user()?;
    let tx = p.tenant(&state.db).await?;
    if !session_store::revoke(&tx, session, "revoked by the user").await? {
        return Err(ApiError::NotFound(
            Reason::NotFound,
            "no such active session".into(),
        ));
    }
    tx.commit().await?;
    Ok(())
}
