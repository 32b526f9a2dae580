//! `ochre.v1.AuthService`: sign-up, the signed-in account, and (in the
//! child modules) sessions and TOTP.

mod account;
pub(crate) mod reauth;
mod sessions;
mod totp;

use ochre_sdk::v1::{
    ChangePasswordRequest, ChangePasswordResponse, CompleteLoginRequest, CompleteLoginResponse,
    ConfirmTotpRequest, ConfirmTotpResponse, DeleteAccountRequest, DeleteAccountResponse,
    DisableTotpRequest, DisableTotpResponse, EnrollTotpRequest, EnrollTotpResponse,
    ListSessionsRequest, ListSessionsResponse, LoginRequest, LoginResponse, LogoutRequest,
    LogoutResponse, RefreshRequest, RefreshResponse, RevokeSessionRequest, RevokeSessionResponse,
    SignUpRequest, SignUpResponse, User, WhoAmIRequest, WhoAmIResponse,
    auth_service_server::AuthService,
};
use secrecy::SecretString;
use tonic::{Request, Response, Status};

use super::convert::{membership, parse_id, ts, user_message};
use crate::ids::UserId;
use crate::{
    crypto::password::check_strength,
    db::store::{sessions as session_store, users},
    error::{ApiError, Reason},
    gate::principal,
    rpc::{
        state::AppState,
        validate::{self, normalize_email},
    },
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

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn sign_up(
        &self,
        request: Request<SignUpRequest>,
    ) -> Result<Response<SignUpResponse>, Status> {
        let req = request.into_inner();
        let email = normalize_email(&req.email)
            .ok_or_else(|| ApiError::invalid_field("email", "email is not a valid address"))?;
        let display_name = validate::display_name(&req.display_name)?;
        check_strength(&req.password, &[&email, &display_name]).map_err(|weak| {
            ApiError::invalid_field("password", format!("password refused: {}", weak.reason()))
        })?;
        let phc = self
            .state
            .hasher
            .hash(SecretString::from(req.password))
            .await?;
        let id = UserId::generate();
        let created_at = self
            .state
            .db
            .sign_up(id, &email, &display_name, &phc)
            .await
            .map_err(|e| match ApiError::from(e) {
                ApiError::AlreadyExists(..) => ApiError::AlreadyExists(
                    Reason::EmailTaken,
                    "an account with this email already exists".into(),
                ),
                other => other,
            })?;
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

    async fn complete_login(
        &self,
        request: Request<CompleteLoginRequest>,
    ) -> Result<Response<CompleteLoginResponse>, Status> {
        Ok(Response::new(
            sessions::complete_login(&self.state, request).await?,
        ))
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
        let session = p.session_id().ok_or(ApiError::denied())?;
        let tx = p.tenant(&self.state.db).await?;
        session_store::revoke(&tx, session, "logout").await?;
        tx.commit().await?;
        Ok(Response::new(LogoutResponse {}))
    }

    async fn who_am_i(
        &self,
        request: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        let p = principal(&request)?;
        p.require_user()?;
        let tx = p.tenant(&self.state.db).await?;
        let me = users::me(&tx).await?.ok_or(ApiError::unauthenticated())?;
        let memberships = users::memberships(&tx, None, u64::MAX).await?;
        tx.finish_read().await?;
        Ok(Response::new(WhoAmIResponse {
            user: Some(user_message(&me)),
            memberships: memberships.iter().map(membership).collect(),
        }))
    }

    async fn enroll_totp(
        &self,
        request: Request<EnrollTotpRequest>,
    ) -> Result<Response<EnrollTotpResponse>, Status> {
        Ok(Response::new(totp::enroll(&self.state, request).await?))
    }

    async fn confirm_totp(
        &self,
        request: Request<ConfirmTotpRequest>,
    ) -> Result<Response<ConfirmTotpResponse>, Status> {
        totp::confirm(&self.state, request).await?;
        Ok(Response::new(ConfirmTotpResponse {}))
    }

    async fn disable_totp(
        &self,
        request: Request<DisableTotpRequest>,
    ) -> Result<Response<DisableTotpResponse>, Status> {
        totp::disable(&self.state, request).await?;
        Ok(Response::new(DisableTotpResponse {}))
    }

    async fn delete_account(
        &self,
        request: Request<DeleteAccountRequest>,
    ) -> Result<Response<DeleteAccountResponse>, Status> {
        totp::delete_account(&self.state, request).await?;
        Ok(Response::new(DeleteAccountResponse {}))
    }

    async fn change_password(
        &self,
        request: Request<ChangePasswordRequest>,
    ) -> Result<Response<ChangePasswordResponse>, Status> {
        let p = principal(&request)?;
        let changed = account::change_password(&self.state, p, request.into_inner()).await?;
        Ok(Response::new(changed))
    }

    async fn list_sessions(
        &self,
        request: Request<ListSessionsRequest>,
    ) -> Result<Response<ListSessionsResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        Ok(Response::new(
            account::list_sessions(&self.state, p, req).await?,
        ))
    }

    async fn revoke_session(
        &self,
        request: Request<RevokeSessionRequest>,
    ) -> Result<Response<RevokeSessionResponse>, Status> {
        let p = principal(&request)?;
        let id = parse_id("session_id", &request.get_ref().session_id)?;
        account::revoke_session(&self.state, p, id).await?;
        Ok(Response::new(RevokeSessionResponse {}))
    }
}
