//! Identity helpers for the end-to-end tests: accounts and sessions, orgs,
//! members and API keys made through the real RPCs, credentials attached as
//! request metadata, and TOTP codes computed as an authenticator app would.

use std::time::Duration;

use ochre_sdk::{
    ORG_HEADER,
    v1::{
        AcceptInvitationRequest, AcceptInvitationResponse, ConfirmTotpRequest, CreateApiKeyRequest,
        CreateApiKeyResponse, CreateInvitationRequest, CreateInvitationResponse, CreateOrgRequest,
        EnrollTotpRequest, EnrollTotpResponse, GetOrgRequest, GetOrgResponse, LoginRequest,
        LoginResponse, LogoutRequest, Role, SignUpRequest, SignUpResponse, WhoAmIRequest,
        WhoAmIResponse,
    },
};
use tonic::{Code, Request, Status, metadata::MetadataValue};

use crate::{
    TestApp,
    clients::{ApiKeyClient, AuthClient, MemberClient, OrgClient},
    clock::{unix_now, unix_now_ms},
};

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

pub async fn sign_up(app: &TestApp, email: &str, password: &str) -> Result<SignUpResponse, Status> {
    let request = SignUpRequest {
        email: email.to_owned(),
        password: password.to_owned(),
        display_name: "Test User".to_owned(),
    };
    app.client::<AuthClient>()
        .sign_up(request)
        .await
        .map(tonic::Response::into_inner)
}

pub async fn login(app: &TestApp, email: &str, password: &str) -> Result<LoginResponse, Status> {
    let request = LoginRequest {
        email: email.to_owned(),
        password: password.to_owned(),
    };
    app.client::<AuthClient>()
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
    app.client::<AuthClient>()
        .logout(with_auth(LogoutRequest {}, token, None))
        .await
        .map(|_| ())
}

pub async fn who_am_i(app: &TestApp, token: &str) -> Result<WhoAmIResponse, Status> {
    app.client::<AuthClient>()
        .who_am_i(with_auth(WhoAmIRequest {}, token, None))
        .await
        .map(tonic::Response::into_inner)
}

/// Creates an org as `session` (who becomes its owner); returns its id.
pub async fn create_org(app: &TestApp, session: &Session, name: &str) -> String {
    let request = CreateOrgRequest {
        name: name.to_owned(),
        ..Default::default()
    };
    app.client::<OrgClient>()
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
    app.client::<OrgClient>()
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
        ..Default::default()
    };
    app.client::<MemberClient>()
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
    app.client::<MemberClient>()
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
        ..Default::default()
    };
    app.client::<ApiKeyClient>()
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

/// Connects to the test database as the superuser and reads one count
/// (the first column of the one row of `sql`).
pub async fn superuser_count(app: &TestApp, sql: &str) -> i64 {
    use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
    let row = app
        .superuser_db()
        .await
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .expect("superuser query")
        .expect("one row");
    row.try_get_by_index::<i64>(0).expect("a count")
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

/// Sleeps until just after the next TOTP step begins, so that the current
/// code is one the server has not seen yet.
pub async fn sleep_until_next_totp_step() {
    let now = unix_now_ms();
    let step_ms = TOTP_STEP_SECS * 1000;
    let wait = (now / step_ms + 1) * step_ms - now + 500;
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

/// Starts TOTP enrolment for `session`: the pending secret and its
/// `otpauth://` URI.
pub async fn enroll_totp(app: &TestApp, session: &Session) -> EnrollTotpResponse {
    let request = with_auth(EnrollTotpRequest {}, &session.access_token, None);
    app.client::<AuthClient>()
        .enroll_totp(request)
        .await
        .expect("enroll TOTP")
        .into_inner()
}

/// Confirms a pending TOTP enrolment with `code`.
pub async fn confirm_totp(app: &TestApp, session: &Session, code: &str) -> Result<(), Status> {
    let confirm = ConfirmTotpRequest {
        code: code.to_owned(),
    };
    app.client::<AuthClient>()
        .confirm_totp(with_auth(confirm, &session.access_token, None))
        .await
        .map(|_| ())
}

/// TOTP turned on for a session.
#[derive(Debug, Clone)]
pub struct Totp {
    /// The shared secret, base32 as an authenticator app is given it.
    pub secret_base32: String,
    /// The code that confirmed the enrolment (now spent).
    pub code: String,
}

/// Enrols `session` in TOTP and confirms it with the current code.
pub async fn enable_totp(app: &TestApp, session: &Session) -> Totp {
    let secret_base32 = enroll_totp(app, session).await.secret_base32;
    let code = totp_code(&secret_base32, unix_now());
    confirm_totp(app, session, &code)
        .await
        .expect("confirm TOTP");
    Totp {
        secret_base32,
        code,
    }
}
