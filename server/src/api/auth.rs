//! `ochre.v1.AuthService`: accounts, sessions, TOTP.

use ochre_sdk::v1::{
    ConfirmTotpRequest, ConfirmTotpResponse, DeleteAccountRequest, DeleteAccountResponse,
    DisableTotpRequest, DisableTotpResponse, EnrollTotpRequest, EnrollTotpResponse, LoginRequest,
    LoginResponse, LogoutRequest, LogoutResponse, RefreshRequest, RefreshResponse, SessionTokens,
    SignUpRequest, SignUpResponse, User, WhoAmIRequest, WhoAmIResponse,
    auth_service_server::AuthService,
};
use secrecy::SecretString;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    convert::{membership, ts, unix_now},
    sessions,
};
use crate::{
    auth::principal,
    db::Scope,
    error::ApiError,
    identity::{
        normalize_email,
        password::{HashError, check_strength},
    },
    state::AppState,
    store::users::{self, UserRow},
};

/// The handler of `AuthService`.
#[derive(Debug, Clone)]
pub struct AuthApi {
    pub(super) state: AppState,
}

impl AuthApi {
    pub fn new(state: AppState) -> Self {
        AuthApi { state }
    }
}

pub(super) fn hash_error(err: HashError) -> ApiError {
    match err {
        HashError::Busy => ApiError::ResourceExhausted(
            "too many sign-ins in progress: retry in a moment".to_owned(),
        ),
        other => ApiError::Internal(anyhow::anyhow!("password hashing: {other:?}")),
    }
}

pub(super) fn user_message(row: &UserRow) -> User {
    User {
        id: row.id.to_string(),
        email: row.email.clone(),
        display_name: row.display_name.clone(),
        totp_enabled: row.totp_enabled,
        created_at: Some(ts(row.created_at)),
    }
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn sign_up(
        &self,
        request: Request<SignUpRequest>,
    ) -> Result<Response<SignUpResponse>, Status> {
        let req = request.into_inner();
        let email = normalize_email(&req.email)
            .ok_or_else(|| ApiError::InvalidArgument("email is not a valid address".to_owned()))?;
        let display_name = req.display_name.trim().to_owned();
        if display_name.chars().count() > 200 {
            return Err(ApiError::InvalidArgument(
                "display_name is too long (200 at most)".to_owned(),
            )
            .into());
        }
        check_strength(&req.password, &[&email, &display_name]).map_err(|weak| {
            ApiError::InvalidArgument(format!("password refused: {}", weak.reason()))
        })?;
        let phc = self
            .state
            .hasher
            .hash(SecretString::from(req.password))
            .await
            .map_err(hash_error)?;
        let id = Uuid::now_v7();
        let tx = self.state.db.scoped(Scope::signing_up(id)).await?;
        let created_at = users::insert(&tx, id, &email, &display_name, &phc)
            .await
            .map_err(|e| match ApiError::from(e) {
                ApiError::AlreadyExists(_) => {
                    ApiError::AlreadyExists("an account with this email already exists".to_owned())
                }
                other => other,
            })?;
        tx.commit().await?;
        tracing::info!(user_id = %id, "account created");
        Ok(Response::new(SignUpResponse {
            user: Some(User {
                id: id.to_string(),
                email,
                display_name,
                totp_enabled: false,
                created_at: Some(ts(created_at)),
            }),
        }))
    }

    async fn login(
        &self,
        request: Request<LoginRequest>,
    ) -> Result<Response<LoginResponse>, Status> {
        Ok(Response::new(sessions::login(&self.state, request).await?))
    }

    async fn refresh(
        &self,
        request: Request<RefreshRequest>,
    ) -> Result<Response<RefreshResponse>, Status> {
        Ok(Response::new(
            sessions::refresh(&self.state, request.into_inner()).await?,
        ))
    }

    async fn logout(
        &self,
        request: Request<LogoutRequest>,
    ) -> Result<Response<LogoutResponse>, Status> {
        let p = principal(&request)?;
        let session = p.session_id().ok_or(ApiError::PermissionDenied)?;
        let tx = self.state.db.scoped(p.scope()).await?;
        users::revoke_session(&tx, session, "logout").await?;
        tx.commit().await?;
        Ok(Response::new(LogoutResponse {}))
    }

    async fn who_am_i(
        &self,
        request: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        let p = principal(&request)?;
        p.require_user()?;
        let tx = self.state.db.scoped(p.scope()).await?;
        let me = users::me(&tx).await?.ok_or(ApiError::Unauthenticated)?;
        let memberships = users::memberships(&tx).await?;
        tx.commit().await?;
        Ok(Response::new(WhoAmIResponse {
            user: Some(user_message(&me)),
            memberships: memberships.iter().map(membership).collect(),
        }))
    }

    async fn enroll_totp(
        &self,
        request: Request<EnrollTotpRequest>,
    ) -> Result<Response<EnrollTotpResponse>, Status> {
        Ok(Response::new(
            super::totp::enroll(&self.state, request).await?,
        ))
    }

    async fn confirm_totp(
        &self,
        request: Request<ConfirmTotpRequest>,
    ) -> Result<Response<ConfirmTotpResponse>, Status> {
        super::totp::confirm(&self.state, request).await?;
        Ok(Response::new(ConfirmTotpResponse {}))
    }

    async fn disable_totp(
        &self,
        request: Request<DisableTotpRequest>,
    ) -> Result<Response<DisableTotpResponse>, Status> {
        super::totp::disable(&self.state, request).await?;
        Ok(Response::new(DisableTotpResponse {}))
    }

    async fn delete_account(
        &self,
        request: Request<DeleteAccountRequest>,
    ) -> Result<Response<DeleteAccountResponse>, Status> {
        super::totp::delete_account(&self.state, request).await?;
        Ok(Response::new(DeleteAccountResponse {}))
    }
}

/// Builds the token pair of a session.
pub(super) fn tokens(
    state: &AppState,
    user_id: Uuid,
    session_id: Uuid,
    refresh_token: String,
    refresh_expires_at: chrono::DateTime<chrono::Utc>,
) -> SessionTokens {
    let now = unix_now();
    let claims = crate::identity::tokens::Claims::new(user_id, session_id, now);
    let access_expires = chrono::DateTime::from_timestamp(claims.exp as i64, 0).unwrap_or_default();
    SessionTokens {
        access_token: state.signer.sign(&claims),
        access_token_expires_at: Some(ts(access_expires)),
        refresh_token,
        refresh_token_expires_at: Some(ts(refresh_expires_at)),
    }
}
