//! Accounts and sessions end to end: sign-up rules, login and its lockout,
//! refresh-token rotation with theft detection, logout, which credentials
//! authenticate, TOTP, and account deletion.

use ochre_sdk::v1::{DeleteAccountRequest, DisableTotpRequest, RefreshRequest, RefreshResponse};
use ochre_tests::{
    identity::{
        confirm_totp, enroll_totp, invite, login, login_again, logout, sign_up,
        sleep_until_next_totp_step, strong_password, totp_code, who_am_i,
    },
    prelude::*,
};
use tonic::Status;

async fn refresh(app: &TestApp, refresh_token: &str) -> Result<RefreshResponse, Status> {
    let request = RefreshRequest {
        refresh_token: refresh_token.to_owned(),
    };
    app.client::<AuthClient>()
        .refresh(request)
        .await
        .map(tonic::Response::into_inner)
}

async fn delete_account(app: &TestApp, session: &Session, totp: &str) -> Result<(), Status> {
    let request = DeleteAccountRequest {
        password: session.password.clone(),
        totp_code: totp.to_owned(),
    };
    app.client::<AuthClient>()
        .delete_account(with_auth(request, &session.access_token, None))
        .await
        .map(|_| ())
}

#[test]
fn the_test_totp_generator_matches_the_rfc_6238_vectors() {
    // RFC 6238 appendix B, SHA-1 seed "12345678901234567890", last 6 digits.
    let secret = data_encoding::BASE32_NOPAD.encode(b"12345678901234567890");
    assert_eq!(totp_code(&secret, 59), "287082");
    assert_eq!(totp_code(&secret, 1_111_111_109), "081804");
    assert_eq!(totp_code(&secret, 2_000_000_000), "279037");
}

#[tokio::test]
async fn signing_up_and_logging_in_returns_prefixed_tokens_that_name_the_user() {
    let app = spawn_app().await;
    let email = unique_email();
    let password = strong_password();
    let user = sign_up(&app, &email, &password)
        .await
        .unwrap()
        .user
        .unwrap();
    assert_eq!(user.email, email);
    let login = login(&app, &email, &password).await.unwrap();
    let tokens = login.tokens.unwrap();
    assert!(tokens.access_token.starts_with("ochre_at_v1."));
    assert!(tokens.refresh_token.starts_with("ochre_rt_"));
    assert!(tokens.access_token_expires_at.is_some());
    assert!(tokens.refresh_token_expires_at.is_some());
    let me = who_am_i(&app, &tokens.access_token).await.unwrap();
    let me = me.user.unwrap();
    assert_eq!(me.id, user.id);
    assert_eq!(me.email, email);
    assert!(!me.totp_enabled);
}

#[tokio::test]
async fn emails_are_normalised_and_a_duplicate_in_any_case_already_exists() {
    let app = spawn_app().await;
    let local = uuid::Uuid::new_v4().simple().to_string();
    let password = strong_password();
    let mixed = format!("  Mixed.{local}@Example.COM ");
    let user = sign_up(&app, &mixed, &password)
        .await
        .unwrap()
        .user
        .unwrap();
    let normal = format!("mixed.{local}@example.com");
    assert_eq!(user.email, normal);
    let again = sign_up(&app, &normal, &strong_password()).await;
    assert_eq!(code_of(&again), Code::AlreadyExists);
    let upper = sign_up(&app, &normal.to_uppercase(), &strong_password()).await;
    assert_eq!(code_of(&upper), Code::AlreadyExists);
    let login = login(&app, &format!(" MIXED.{local}@example.com"), &password).await;
    assert_eq!(code_of(&login), Code::Ok, "login normalises the email too");
}

#[tokio::test]
async fn short_and_common_passwords_are_refused_with_a_reason() {
    let app = spawn_app().await;
    for weak in ["Sh0rt-pw!", "elevenchars", "password1234", "qwertyuiop123"] {
        let err = sign_up(&app, &unique_email(), weak).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{weak}");
        assert!(!err.message().is_empty(), "{weak}: no reason given");
        assert!(!err.message().contains(weak), "{weak}: echoed the password");
    }
}

#[tokio::test]
async fn an_invalid_email_is_refused() {
    let app = spawn_app().await;
    for email in [
        "",
        "not-an-email",
        "two@@example.com",
        "nobody@",
        "@example.com",
    ] {
        let result = sign_up(&app, email, &strong_password()).await;
        assert_eq!(code_of(&result), Code::InvalidArgument, "{email:?}");
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    let known = signup_and_login(&app, &unique_email()).await;
    let wrong = login(&app, &known.email, "Wrong-password-123!")
        .await
        .unwrap_err();
    let unknown = login(&app, &unique_email(), "Wrong-password-123!")
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(unknown.code(), Code::Unauthenticated);
    assert_eq!(wrong.message(), unknown.message());
}

#[tokio::test]
async fn refresh_returns_a_new_pair_that_works() {
    let app = spawn_app().await;
    let session = signup_and_login(&app, &unique_email()).await;
    let first = refresh(&app, &session.refresh_token).await.unwrap();
    let first = first.tokens.unwrap();
    assert!(first.access_token.starts_with("ochre_at_v1."));
    assert!(first.refresh_token.starts_with("ochre_rt_"));
    assert_ne!(first.refresh_token, session.refresh_token);
    let me = who_am_i(&app, &first.access_token).await.unwrap();
    assert_eq!(me.user.unwrap().id, session.user_id);
    let second = refresh(&app, &first.refresh_token).await;
    assert_eq!(
        code_of(&second),
        Code::Ok,
        "the new refresh token rotates again"
    );
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_whole_session_but_not_the_others() {
    let app = spawn_app().await;
    let session = signup_and_login(&app, &unique_email()).await;
    let other_session = login_again(&app, &session).await;
    let rotated = refresh(&app, &session.refresh_token).await.unwrap();
    let rotated = rotated.tokens.unwrap();
    let replay = refresh(&app, &session.refresh_token).await;
    assert_eq!(code_of(&replay), Code::Unauthenticated);
    let newest = refresh(&app, &rotated.refresh_token).await;
    assert_eq!(
        code_of(&newest),
        Code::Unauthenticated,
        "newest refresh token"
    );
    for access in [&rotated.access_token, &session.access_token] {
        let result = who_am_i(&app, access).await;
        assert_eq!(code_of(&result), Code::Unauthenticated, "access token");
    }
    let other = who_am_i(&app, &other_session.access_token).await;
    assert_eq!(code_of(&other), Code::Ok, "another session of the user");
}

#[tokio::test]
async fn logout_ends_the_access_and_refresh_tokens_of_the_session() {
    let app = spawn_app().await;
    let session = signup_and_login(&app, &unique_email()).await;
    logout(&app, &session.access_token).await.unwrap();
    let me = who_am_i(&app, &session.access_token).await;
    assert_eq!(code_of(&me), Code::Unauthenticated);
    let renewed = refresh(&app, &session.refresh_token).await;
    assert_eq!(code_of(&renewed), Code::Unauthenticated);
    let again = logout(&app, &session.access_token).await;
    assert_eq!(code_of(&again), Code::Unauthenticated);
}

#[tokio::test]
async fn refresh_and_invitation_tokens_garbage_and_a_missing_bearer_scheme_do_not_authenticate() {
    let app = spawn_app().await;
    let session = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &session, "Tokens").await;
    let invitation = invite(&app, &session, &org, &unique_email(), Role::Agent)
        .await
        .unwrap();
    assert!(invitation.token.starts_with("ochre_inv_"));
    let mut auth = app.client::<AuthClient>();
    let not_access_tokens = [
        session.refresh_token.clone(),
        invitation.token.clone(),
        "ochre_at_v1.".to_owned(),
        "ochre_sk_not-a-real-key".to_owned(),
        "not-a-token".to_owned(),
    ];
    for token in &not_access_tokens {
        let result = who_am_i(&app, token).await;
        assert_eq!(code_of(&result), Code::Unauthenticated, "{token}");
    }
    for header in [
        session.access_token.clone(),
        format!("Basic {}", session.access_token),
    ] {
        let mut request = tonic::Request::new(ochre_sdk::v1::WhoAmIRequest {});
        let value = header.parse().unwrap();
        request.metadata_mut().insert("authorization", value);
        let result = auth.who_am_i(request).await;
        assert_eq!(code_of(&result), Code::Unauthenticated, "without Bearer");
    }
}

#[tokio::test]
async fn deleting_an_account_needs_its_password_and_ends_its_logins() {
    let app = spawn_app().await;
    let session = signup_and_login(&app, &unique_email()).await;
    let wrong = Session {
        password: "Not-the-password-42".to_owned(),
        ..session.clone()
    };
    let refused = delete_account(&app, &wrong, "").await;
    assert_ne!(code_of(&refused), Code::Ok, "wrong password");
    assert_eq!(
        code_of(&who_am_i(&app, &session.access_token).await),
        Code::Ok
    );
    delete_account(&app, &session, "").await.unwrap();
    let again = login(&app, &session.email, &session.password).await;
    assert_eq!(code_of(&again), Code::Unauthenticated);
    let me = who_am_i(&app, &session.access_token).await;
    assert_eq!(code_of(&me), Code::Unauthenticated);
}

/// Enrols and confirms TOTP for `session`, checking each step: the
/// `otpauth://` URI, TOTP still off while pending, a wrong code refused, TOTP
/// on once confirmed. Returns the secret and the code that confirmed it.
async fn enable_totp_checking_each_step(app: &TestApp, session: &Session) -> (String, String) {
    let token = &session.access_token;
    let enrolled = enroll_totp(app, session).await;
    let secret = enrolled.secret_base32;
    assert!(enrolled.otpauth_uri.starts_with("otpauth://totp/"));
    assert!(enrolled.otpauth_uri.contains(&format!("secret={secret}")));
    assert!(
        !who_am_i(app, token)
            .await
            .unwrap()
            .user
            .unwrap()
            .totp_enabled
    );
    let now = unix_now();
    let near: Vec<String> = [now - 30, now, now + 30]
        .iter()
        .map(|t| totp_code(&secret, *t))
        .collect();
    let wrong = (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|c| !near.contains(c))
        .unwrap();
    let refused = confirm_totp(app, session, &wrong).await;
    assert_ne!(code_of(&refused), Code::Ok, "a wrong code confirms nothing");
    let code = totp_code(&secret, unix_now());
    confirm_totp(app, session, &code).await.unwrap();
    assert!(
        who_am_i(app, token)
            .await
            .unwrap()
            .user
            .unwrap()
            .totp_enabled
    );
    (secret, code)
}

#[tokio::test]
async fn a_totp_code_is_accepted_once_and_account_deletion_needs_a_fresh_one() {
    let app = spawn_app().await;
    let session = signup_and_login(&app, &unique_email()).await;
    let (secret, used) = enable_totp_checking_each_step(&app, &session).await;
    let disable = DisableTotpRequest {
        code: used.clone(),
        password: session.password.clone(),
    };
    let replayed = app
        .client::<AuthClient>()
        .disable_totp(with_auth(disable, &session.access_token, None))
        .await;
    assert_ne!(
        code_of(&replayed),
        Code::Ok,
        "a replayed code disables nothing"
    );
    let without = delete_account(&app, &session, "").await;
    assert_eq!(code_of(&without), Code::Unauthenticated, "no code");
    let replayed = delete_account(&app, &session, &used).await;
    assert_ne!(
        code_of(&replayed),
        Code::Ok,
        "a replayed code deletes nothing"
    );
    assert_eq!(
        code_of(&who_am_i(&app, &session.access_token).await),
        Code::Ok
    );
    sleep_until_next_totp_step().await;
    let fresh = totp_code(&secret, unix_now());
    delete_account(&app, &session, &fresh).await.unwrap();
    let login = login(&app, &session.email, &session.password).await;
    assert_eq!(code_of(&login), Code::Unauthenticated);
}

#[tokio::test]
async fn disabling_totp_needs_the_password_and_a_fresh_code_and_lifts_the_code_requirement() {
    let app = spawn_app().await;
    let session = signup_and_login(&app, &unique_email()).await;
    let (secret, _) = enable_totp_checking_each_step(&app, &session).await;
    sleep_until_next_totp_step().await;
    let code = totp_code(&secret, unix_now());
    // The code alone (a stolen session) does not turn the second factor off.
    let disable = |code: &str, password: &str| {
        let request = DisableTotpRequest {
            code: code.to_owned(),
            password: password.to_owned(),
        };
        let request = with_auth(request, &session.access_token, None);
        let mut client = app.client::<AuthClient>();
        async move { client.disable_totp(request).await }
    };
    assert_eq!(code_of(&disable(&code, "").await), Code::InvalidArgument);
    let wrong = format!("{}-wrong", session.password);
    assert_eq!(
        code_of(&disable(&code, &wrong).await),
        Code::Unauthenticated
    );
    let me = who_am_i(&app, &session.access_token).await.unwrap();
    assert!(me.user.unwrap().totp_enabled, "still enrolled");
    disable(&code, &session.password).await.unwrap();
    let me = who_am_i(&app, &session.access_token).await.unwrap();
    assert!(!me.user.unwrap().totp_enabled);
    delete_account(&app, &session, "").await.unwrap();
}
