//! Re-authentication of a signed-in user for sensitive changes (disabling
//! TOTP, changing the password, deleting the account): the password and,
//! when enrolled, a current TOTP code; failures are counted toward a lock
//! and answered with one message (no oracle for either).

use secrecy::SecretString;

use crate::{
    clock::unix_now,
    crypto::{
        contexts::{TotpField, totp_context},
        totp,
    },
    db::{
        TenantTx,
        store::users::{self, UserRow},
    },
    error::{ApiError, Reason},
    gate::Principal,
    ids::UserId,
    rpc::state::AppState,
};

pub(crate) fn code_required() -> ApiError {
    ApiError::Unauthenticated(
        Reason::TotpRequired,
        "a current two-step verification code is required".into(),
    )
}

pub(crate) async fn open(
    state: &AppState,
    request_principal: Principal,
) -> Result<(TenantTx, UserRow), ApiError> {
    request_principal.require_user()?;
    let tx = request_principal.tenant(&state.db).await?;
    let me = users::me(&tx).await?.ok_or(ApiError::unauthenticated())?;
    Ok((tx, me))
}

/// Checks a code against the enabled secret; returns the step to record.
pub(crate) fn check_code(state: &AppState, me: &UserRow, code: &str) -> Result<i64, ApiError> {
    let blob = me.totp_secret.as_deref().ok_or_else(code_required)?;
    let secret = state
        .vault
        .decrypt(&totp_context(me.id, TotpField::Secret), blob)?;
    let last = me.totp_last_step.and_then(|s| u64::try_from(s).ok());
    let step = totp::verify(&secret, code.trim(), unix_now(), last).ok_or_else(code_required)?;
    i64::try_from(step).map_err(|_| code_required())
}

/// Failed re-authentications (password or code) per user before a lock.
pub const REAUTH_LOCK_THRESHOLD: i32 = 5;

fn reauth_key(user: UserId) -> String {
    format!("reauth:{user}")
}

/// Refuses at once while the user's re-authentication is locked.
pub(crate) async fn reauth_open(state: &AppState, user: UserId) -> Result<(), ApiError> {
    let retry_after = state.db.throttle_locked(&[reauth_key(user)]).await?;
    if !retry_after.is_zero() {
        return Err(ApiError::Throttled {
            reason: Reason::ReauthLocked,
            message: "too many failed attempts: try again later".into(),
            retry_after,
        });
    }
    Ok(())
}

/// Counts a failed re-authentication and answers with ONE message for a
/// wrong password and a wrong code (no oracle for either).
pub(crate) async fn reauth_failed(state: &AppState, user: UserId) -> ApiError {
    if let Err(e) = state
        .db
        .throttle_fail(&reauth_key(user), REAUTH_LOCK_THRESHOLD, false)
        .await
    {
        return ApiError::from(e);
    }
    ApiError::Unauthenticated(
        Reason::ReauthFailed,
        "the password or the two-step verification code is not valid".into(),
    )
}

/// Checks the password and, when the account is enrolled, a current code:
/// one answer for either failing, counted toward the re-authentication
/// lock. The accepted code's step (None when not enrolled).
pub(crate) async fn reauthenticate(
    state: &AppState,
    me: &UserRow,
    password: String,
    code: &str,
) -> Result<Option<i64>, ApiError> {
    if password.is_empty() {
        return Err(ApiError::required("password"));
    }
    reauth_open(state, me.id).await?;
    let ok = state
        .hasher
        .verify(SecretString::from(password), &me.password_hash)
        .await?;
    if !ok {
        return Err(reauth_failed(state, me.id).await);
    }
    if !me.totp_enabled {
        return Ok(None);
    }
    match check_code(state, me, code) {
        Ok(step) => Ok(Some(step)),
        Err(_) => Err(reauth_failed(state, me.id).await),
    }
}

/// The second factor of an org action that needs one (ExportWorkspace):
/// nothing for an account without TOTP; otherwise a current code, counted
/// toward the re-authentication lock when wrong. Returns the step to
/// record.
pub(crate) async fn current_code(
    state: &AppState,
    me: &UserRow,
    code: &str,
) -> Result<Option<i64>, ApiError> {
    if !me.totp_enabled {
        return Ok(None);
    }
    reauth_open(state, me.id).await?;
    if code.trim().is_empty() {
        return Err(code_required());
    }
    match check_code(state, me, code) {
        Ok(step) => Ok(Some(step)),
        Err(_) => Err(reauth_failed(state, me.id).await),
    }
}
