//! TOTP two-step verification and account deletion. The TOTP secret is
//! stored only as vault ciphertext bound to the user and the field; a code
//! is accepted once (its time step is recorded).

use ochre_sdk::v1::{
    ConfirmTotpRequest, DeleteAccountRequest, DisableTotpRequest, EnrollTotpRequest,
    EnrollTotpResponse,
};
use secrecy::SecretString;
use tonic::Request;

use crate::clock::unix_now;
use crate::ids::UserId;
use crate::{
    crypto::contexts::{TotpField, totp_context},
    crypto::totp,
    db::TenantTx,
    db::store::users::{self, UserRow},
    error::ApiError,
    gate::principal,
    rpc::state::AppState,
};

fn code_required() -> ApiError {
    ApiError::Unauthenticated("a current two-step verification code is required".into())
}

async fn open(
    state: &AppState,
    request_principal: crate::gate::Principal,
) -> Result<(TenantTx, UserRow), ApiError> {
    request_principal.require_user()?;
    let tx = state.db.scoped(request_principal.scope()).await?;
    let me = users::me(&tx).await?.ok_or(ApiError::unauthenticated())?;
    Ok((tx, me))
}

/// Checks a code against the enabled secret; returns the step to record.
fn check_code(state: &AppState, me: &UserRow, code: &str) -> Result<i64, ApiError> {
    let blob = me.totp_secret.as_deref().ok_or_else(code_required)?;
    let secret = state
        .vault
        .decrypt(&totp_context(me.id, TotpField::Secret), blob)?;
    let last = me.totp_last_step.and_then(|s| u64::try_from(s).ok());
    let step = totp::verify(&secret, code.trim(), unix_now(), last).ok_or_else(code_required)?;
    i64::try_from(step).map_err(|_| code_required())
}

pub async fn enroll(
    state: &AppState,
    request: Request<EnrollTotpRequest>,
) -> Result<EnrollTotpResponse, ApiError> {
    let (tx, me) = open(state, principal(&request)?).await?;
    if me.totp_enabled {
        return Err(ApiError::FailedPrecondition(
            "two-step verification is already enabled".into(),
        ));
    }
    let secret = totp::new_secret();
    let blob = state
        .vault
        .encrypt(&totp_context(me.id, TotpField::Pending), secret.as_ref())?;
    users::set_totp_pending(&tx, Some(blob)).await?;
    tx.commit().await?;
    Ok(EnrollTotpResponse {
        otpauth_uri: totp::otpauth_uri(&me.email, secret.as_ref()),
        secret_base32: totp::encode_secret(secret.as_ref()),
    })
}

pub async fn confirm(
    state: &AppState,
    request: Request<ConfirmTotpRequest>,
) -> Result<(), ApiError> {
    let p = principal(&request)?;
    let code = request.into_inner().code;
    if code.trim().is_empty() {
        return Err(ApiError::InvalidArgument("code is required".into()));
    }
    let (tx, me) = open(state, p).await?;
    if me.totp_enabled {
        return Err(ApiError::FailedPrecondition(
            "two-step verification is already enabled".into(),
        ));
    }
    let pending = me.totp_pending_secret.as_deref().ok_or_else(|| {
        ApiError::FailedPrecondition("no enrollment in progress: call EnrollTotp first".into())
    })?;
    let secret = state
        .vault
        .decrypt(&totp_context(me.id, TotpField::Pending), pending)?;
    let last = me.totp_last_step.and_then(|s| u64::try_from(s).ok());
    let step = totp::verify(&secret, code.trim(), unix_now(), last).ok_or_else(|| {
        ApiError::InvalidArgument("the code is not valid: check the device's clock".into())
    })?;
    let blob = state
        .vault
        .encrypt(&totp_context(me.id, TotpField::Secret), &secret)?;
    users::enable_totp(&tx, blob, i64::try_from(step).unwrap_or(i64::MAX)).await?;
    tx.commit().await?;
    Ok(())
}

/// Failed re-authentications (password or code) per user before a lock.
pub const REAUTH_LOCK_THRESHOLD: i32 = 5;

fn reauth_key(user: UserId) -> String {
    format!("reauth:{user}")
}

/// Refuses at once while the user's re-authentication is locked.
async fn reauth_open(state: &AppState, user: UserId) -> Result<(), ApiError> {
    if state.db.throttle_locked(&[reauth_key(user)]).await? {
        return Err(ApiError::ResourceExhausted(
            "too many failed attempts: try again later".into(),
        ));
    }
    Ok(())
}

/// Counts a failed re-authentication and answers with ONE message for a
/// wrong password and a wrong code (no oracle for either).
async fn reauth_failed(state: &AppState, user: UserId) -> ApiError {
    if let Err(e) = state
        .db
        .throttle_fail(&reauth_key(user), REAUTH_LOCK_THRESHOLD)
        .await
    {
        return ApiError::from(e);
    }
    ApiError::Unauthenticated("the password or the two-step verification code is not valid".into())
}

pub async fn disable(
    state: &AppState,
    request: Request<DisableTotpRequest>,
) -> Result<(), ApiError> {
    let p = principal(&request)?;
    let req = request.into_inner();
    if req.password.is_empty() {
        return Err(ApiError::InvalidArgument("password is required".into()));
    }
    let (tx, me) = open(state, p).await?;
    if !me.totp_enabled {
        return Err(ApiError::FailedPrecondition(
            "two-step verification is not enabled".into(),
        ));
    }
    let step = reauthenticate(state, &me, req.password, &req.code)
        .await?
        .ok_or_else(code_required)?;
    users::disable_totp(&tx, step).await?;
    tx.commit().await?;
    Ok(())
}

/// Checks the password and, when the account is enrolled, a current code:
/// one answer for either failing, counted toward the re-authentication
/// lock. The accepted code's step (None when not enrolled).
async fn reauthenticate(
    state: &AppState,
    me: &UserRow,
    password: String,
    code: &str,
) -> Result<Option<i64>, ApiError> {
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

pub async fn delete_account(
    state: &AppState,
    request: Request<DeleteAccountRequest>,
) -> Result<(), ApiError> {
    let p = principal(&request)?;
    let req = request.into_inner();
    if req.password.is_empty() {
        return Err(ApiError::InvalidArgument("password is required".into()));
    }
    let (tx, me) = open(state, p).await?;
    if let Some(step) = reauthenticate(state, &me, req.password, &req.totp_code).await? {
        users::set_totp_last_step(&tx, step).await?;
    }
    let sole = users::sole_owner_orgs(&tx).await?;
    if !sole.is_empty() {
        return Err(ApiError::FailedPrecondition(
            format!(
                "you are the only owner of {} org(s): transfer ownership first",
                sole.len()
            )
            .into(),
        ));
    }
    users::delete_me(&tx).await?;
    tx.commit().await?;
    tracing::info!(user_id = %me.id, "account deleted");
    Ok(())
}
