//! TOTP two-step verification and account deletion. The TOTP secret is
//! stored only as vault ciphertext bound to the user and the field; a code
//! is accepted once (its time step is recorded).

use ochre_sdk::v1::{
    ConfirmTotpRequest, DeleteAccountRequest, DisableTotpRequest, EnrollTotpRequest,
    EnrollTotpResponse,
};
use tonic::Request;

use super::reauth::{code_required, open, reauthenticate};
use crate::clock::unix_now;
use crate::{
    crypto::contexts::{TotpField, totp_context},
    crypto::totp,
    db::store::{audit, users},
    error::{ApiError, Reason},
    gate::principal,
    rpc::state::AppState,
};

pub async fn enroll(
    state: &AppState,
    request: Request<EnrollTotpRequest>,
) -> Result<EnrollTotpResponse, ApiError> {
    let (tx, me) = open(state, principal(&request)?).await?;
    if me.totp_enabled {
        return Err(ApiError::FailedPrecondition(
            Reason::TotpAlreadyEnabled,
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
        return Err(ApiError::required("code"));
    }
    let ctx = p.audit();
    let (tx, me) = open(state, p).await?;
    if me.totp_enabled {
        return Err(ApiError::FailedPrecondition(
            Reason::TotpAlreadyEnabled,
            "two-step verification is already enabled".into(),
        ));
    }
    let pending = me.totp_pending_secret.as_deref().ok_or_else(|| {
        ApiError::FailedPrecondition(
            Reason::TotpNotEnrolling,
            "no enrollment in progress: call EnrollTotp first".into(),
        )
    })?;
    let secret = state
        .vault
        .decrypt(&totp_context(me.id, TotpField::Pending), pending)?;
    let last = me.totp_last_step.and_then(|s| u64::try_from(s).ok());
    let step = totp::verify(&secret, code.trim(), unix_now(), last).ok_or_else(|| {
        ApiError::invalid_field("code", "the code is not valid: check the device's clock")
    })?;
    let blob = state
        .vault
        .encrypt(&totp_context(me.id, TotpField::Secret), &secret)?;
    users::enable_totp(&tx, blob, i64::try_from(step).unwrap_or(i64::MAX)).await?;
    audit::record_account(&tx, "totp.enabled", &ctx).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn disable(
    state: &AppState,
    request: Request<DisableTotpRequest>,
) -> Result<(), ApiError> {
    let p = principal(&request)?;
    let req = request.into_inner();
    let ctx = p.audit();
    let (tx, me) = open(state, p).await?;
    if !me.totp_enabled {
        return Err(ApiError::FailedPrecondition(
            Reason::TotpNotEnabled,
            "two-step verification is not enabled".into(),
        ));
    }
    let step = reauthenticate(state, &me, req.password, &req.code)
        .await?
        .ok_or_else(code_required)?;
    users::disable_totp(&tx, step).await?;
    audit::record_account(&tx, "totp.disabled", &ctx).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn delete_account(
    state: &AppState,
    request: Request<DeleteAccountRequest>,
) -> Result<(), ApiError> {
    let p = principal(&request)?;
    let req = request.into_inner();
    let (tx, me) = open(state, p).await?;
    if let Some(step) = reauthenticate(state, &me, req.password, &req.totp_code).await? {
        users::set_totp_last_step(&tx, step).await?;
    }
    let sole = users::sole_owner_orgs(&tx).await?;
    if !sole.is_empty() {
        return Err(ApiError::FailedPrecondition(
            Reason::SoleOwner,
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
