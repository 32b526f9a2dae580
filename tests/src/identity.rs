//! Identity helpers for the end-to-end tests: accounts and sessions, orgs,
//! members and API keys made through the real RPCs, credentials attached as
//! request metadata, and TOTP codes computed as an authenticator app would.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ochre_sdk::{
    ORG_HEADER,
    v1::{
        AcceptInvitationRequest, AcceptInvitationResponse, CreateApiKeyRequest,
        CreateApiKeyResponse, CreateInvitationRequest, CreateInvitationResponse, CreateOrgRequest,
        GetOrgRequest, GetOrgResponse, LoginRequest, LoginResponse, LogoutRequest, Role,
        SignUpRequest, SignUpResponse, WhoAmIRequest, WhoAmIResponse,
        api_key_service_client::ApiKeyServiceClient, auth_service_client::AuthServiceClient,
        member_service_client::MemberServiceClient, org_service_client::OrgServiceClient,
    },
};
use tonic::{Code, Request, Status, metadata::MetadataValue, transport::Channel};

use crate::TestApp;

/// A signed-in user: the account and the tokens of one session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub email: String,
    pub password: String,
    pub access_token: String,
    pub refresh_token: String,
}

/// An email address no other test uses.
pub fn unique_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// A long random password that no strength check refuses.
pub fn strong_password() -> String {
    format!("Ochre-{}-tangerine!", crate::random_secret(12))
}

/// `message` as a request carrying `authorization: Bearer <token>` and, when
/// given, the org header.
pub fn with_auth<T>(message: T, token: &str, org: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    let bearer = MetadataValue::try_from(format!("Bearer {token}")).expect("tokens are ASCII");
    request.metadata_mut().insert("authorization", bearer);
    if let Some(org) = org {
        let org = MetadataValue::try_from(org).expect("org ids are ASCII");
        request.metadata_mut().insert(ORG_HEADER, org);
    }
    request
}

/// The code of a call's outcome: `Code::Ok` for a success.
pub fn code_of<T>(result: &Result<T, Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

pub fn auth_client(app: &TestApp) -> AuthServiceClient<Channel> {
    AuthServiceClient::new(app.channel.clone())
}

pub fn org_client(app: &TestApp) -> OrgServiceClient<Channel> {
    OrgServiceClient::new(app.channel.clone())
}

pub fn member_client(app: &TestApp) -> MemberServiceClient<Channel> {
    MemberServiceClient::new(app.channel.clone())
}

pub fn api_key_client(app: &TestApp) -> ApiKeyServiceClient<Channel> {
    ApiKeyServiceClient::new(app.channel.clone())
}

pub async fn sign_up(app: &TestApp, email: &str, password: &str) -> Result<SignUpResponse, Status> {
    let request = SignUpRequest {
        email: email.to_owned(),
        password: password.to_owned(),
        display_name: "Test User".to_owned(),
    };
    auth_client(app)
        .sign_up(request)
        .await
        .map(tonic::Response::into_inner)
}

pub async fn login(app: &TestApp, email: &str, password: &str) -> Result<LoginResponse, Status> {
    let request = LoginRequest {
        email: email.to_owned(),
        password: password.to_owned(),
    };
    auth_client(app)
        .login(request)
        .await
        .map(tonic::Response::into_inner)
}

fn session_of(email: &str, password: &str, response: LoginResponse) -> Session {
    let tokens = response.tokens.expect("login returns tokens");
    Session {
        user_id: response.user.expect("login returns the user").id,
        email: email.to_owned(),
        password: password.to_owned(),
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
    }
}

/// Signs up `email` with a strong password and logs in.
pub async fn signup_and_login(app: &TestApp, email: &str) -> Session {
    let password = strong_password();
    sign_up(app, email, &password).await.expect("sign up");
    let response = login(app, email, &password).await.expect("log in");
    session_of(email, &password, response)
}

/// A second, independent session of the same account.
pub async fn login_again(app: &TestApp, session: &Session) -> Session {
    let response = login(app, &session.email, &session.password)
        .await
        .expect("log in again");
    session_of(&session.email, &session.password, response)
}

pub async fn logout(app: &TestApp, token: &str) -> Result<(), Status> {
    auth_client(app)
        .logout(with_auth(LogoutRequest {}, token, None))
        .await
        .map(|_| ())
}

pub async fn who_am_i(app: &TestApp, token: &str) -> Result<WhoAmIResponse, Status> {
    auth_client(app)
        .who_am_i(with_auth(WhoAmIRequest {}, token, None))
        .await
        .map(tonic::Response::into_inner)
}

/// Creates an org as `session` (who becomes its owner); returns its id.
pub async fn create_org(app: &TestApp, session: &Session, name: &str) -> String {
    let request = CreateOrgRequest {
        name: name.to_owned(),
    };
    org_client(app)
        .create_org(with_auth(request, &session.access_token, None))
        .await
        .expect("create org")
        .into_inner()
        .org
        .expect("the created org")
        .id
}

pub async fn get_org(
    app: &TestApp,
    token: &str,
    org: Option<&str>,
) -> Result<GetOrgResponse, Status> {
    org_client(app)
        .get_org(with_auth(GetOrgRequest {}, token, org))
        .await
        .map(tonic::Response::into_inner)
}

pub async fn invite(
    app: &TestApp,
    inviter: &Session,
    org: &str,
    email: &str,
    role: Role,
) -> Result<CreateInvitationResponse, Status> {
    let request = CreateInvitationRequest {
        email: email.to_owned(),
        role: role.into(),
    };
    member_client(app)
        .create_invitation(with_auth(request, &inviter.access_token, Some(org)))
        .await
        .map(tonic::Response::into_inner)
}

pub async fn accept(
    app: &TestApp,
    session: &Session,
    token: &str,
) -> Result<AcceptInvitationResponse, Status> {
    let request = AcceptInvitationRequest {
        token: token.to_owned(),
    };
    member_client(app)
        .accept_invitation(with_auth(request, &session.access_token, None))
        .await
        .map(tonic::Response::into_inner)
}

/// A new user who joined `org` with `role` through an invitation from `inviter`.
pub async fn add_member(app: &TestApp, inviter: &Session, org: &str, role: Role) -> Session {
    let email = unique_email();
    let invitation = invite(app, inviter, org, &email, role)
        .await
        .expect("create invitation");
    let session = signup_and_login(app, &email).await;
    accept(app, &session, &invitation.token)
        .await
        .expect("accept invitation");
    session
}

pub async fn create_api_key(
    app: &TestApp,
    creator: &Session,
    org: &str,
    role: Role,
) -> Result<CreateApiKeyResponse, Status> {
    let request = CreateApiKeyRequest {
        name: format!("{} key", role.as_str_name()),
        role: role.into(),
    };
    api_key_client(app)
        .create_api_key(with_auth(request, &creator.access_token, Some(org)))
        .await
        .map(tonic::Response::into_inner)
}

/// Connects to the test database as the superuser and runs one statement
/// (setup that no RPC offers).
pub async fn superuser_execute(app: &TestApp, sql: &str) {
    use sea_orm::ConnectionTrait as _;
    app.superuser_db()
        .await
        .execute_unprepared(sql)
        .await
        .expect("superuser statement");
}

/// TOTP step length in seconds (RFC 6238 default).
pub const TOTP_STEP_SECS: u64 = 30;

/// The 6-digit RFC 6238 code (HMAC-SHA1, 30-second steps) of a base32
/// secret at `unix_secs`.
pub fn totp_code(secret_base32: &str, unix_secs: u64) -> String {
    use hmac::{Hmac, Mac as _};
    let cleaned = secret_base32.trim_end_matches('=').to_ascii_uppercase();
    let key = data_encoding::BASE32_NOPAD
        .decode(cleaned.as_bytes())
        .expect("a base32 secret");
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(&(unix_secs / TOTP_STEP_SECS).to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let value = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!("{:06}", value % 1_000_000)
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Sleeps until just after the next TOTP step begins, so that the current
/// code is one the server has not seen yet.
pub async fn sleep_until_next_totp_step() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis();
    let step_ms = u128::from(TOTP_STEP_SECS) * 1000;
    let wait = (now / step_ms + 1) * step_ms - now + 500;
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(wait).expect("less than a step"),
    ))
    .await;
}
