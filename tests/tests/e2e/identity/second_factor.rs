//! TOTP is asked for at sign-in: for an enrolled account the password step
//! returns a short-lived, single-use ticket and never a session; the ticket
//! and a current code open the session; a spent, forged or wrong-code
//! ticket opens nothing.

use ochre_sdk::v1::{CompleteLoginRequest, WhoAmIRequest};
use ochre_tests::{
    identity::{enable_totp, login, sleep_until_next_totp_step, totp_code},
    prelude::*,
};
use tonic::Status;

async fn complete(
    app: &TestApp,
    ticket: &str,
    code: &str,
) -> Result<ochre_sdk::v1::CompleteLoginResponse, Status> {
    let request = CompleteLoginRequest {
        second_factor_ticket: ticket.to_owned(),
        code: code.to_owned(),
    };
    app.client::<AuthClient>()
        .complete_login(request)
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn an_enrolled_account_signs_in_with_a_ticket_and_a_code_never_the_password_alone() {
    let app = spawn_app().await;
    let session = signup_and_login(&app, &unique_email()).await;
    let totp = enable_totp(&app, &session).await;

    let first = login(&app, &session.email, &session.password)
        .await
        .unwrap();
    assert!(first.tokens.is_none(), "no session from the password alone");
    assert!(first.user.is_none());
    assert!(first.second_factor_ticket.starts_with("ochre_tk_"));
    assert!(first.second_factor_expires_at.is_some());

    // A wrong code spends the ticket: the password step must be redone.
    let wrong = complete(&app, &first.second_factor_ticket, "000000").await;
    assert_eq!(code_of(&wrong), Code::Unauthenticated);
    sleep_until_next_totp_step().await;
    let code = totp_code(&totp.secret_base32, unix_now());
    let spent = complete(&app, &first.second_factor_ticket, &code).await;
    assert_eq!(code_of(&spent), Code::Unauthenticated, "single use");

    let second = login(&app, &session.email, &session.password)
        .await
        .unwrap();
    let opened = complete(&app, &second.second_factor_ticket, &code)
        .await
        .unwrap();
    let tokens = opened.tokens.unwrap();
    assert_eq!(opened.user.unwrap().email, session.email);
    let me = app
        .client::<AuthClient>()
        .who_am_i(with_auth(WhoAmIRequest {}, &tokens.access_token, None))
        .await;
    assert_eq!(code_of(&me), Code::Ok);
    // The same code again (a replay within its step) opens nothing.
    let third = login(&app, &session.email, &session.password)
        .await
        .unwrap();
    let replay = complete(&app, &third.second_factor_ticket, &code).await;
    assert_eq!(code_of(&replay), Code::Unauthenticated);
    for forged in ["", "ochre_tk_", "ochre_tk_forged", "ochre_rt_abc"] {
        let answer = complete(&app, forged, &code).await;
        assert_ne!(code_of(&answer), Code::Ok, "{forged:?}");
    }
}

#[tokio::test]
async fn an_account_without_totp_still_gets_its_session_from_the_password() {
    let app = spawn_app().await;
    let session = signup_and_login(&app, &unique_email()).await;
    let again = login(&app, &session.email, &session.password)
        .await
        .unwrap();
    assert!(again.tokens.is_some());
    assert!(again.second_factor_ticket.is_empty());
}

#[tokio::test]
async fn an_expired_ticket_opens_nothing_and_a_password_change_of_an_enrolled_account_needs_a_code()
{
    use ochre_sdk::v1::ChangePasswordRequest;
    use ochre_tests::identity::{strong_password, superuser_execute};
    let app = spawn_app().await;
    let session = signup_and_login(&app, &unique_email()).await;
    let totp = enable_totp(&app, &session).await;
    let first = login(&app, &session.email, &session.password)
        .await
        .unwrap();
    superuser_execute(
        &app,
        "UPDATE login_tickets SET expires_at = now() - interval '1 second'",
    )
    .await;
    sleep_until_next_totp_step().await;
    let code = totp_code(&totp.secret_base32, unix_now());
    let expired = complete(&app, &first.second_factor_ticket, &code).await;
    assert_eq!(code_of(&expired), Code::Unauthenticated);

    // The password alone does not change the password of an enrolled account.
    let change = |totp_code: &str| ChangePasswordRequest {
        current_password: session.password.clone(),
        new_password: strong_password(),
        totp_code: totp_code.to_owned(),
    };
    let without = app
        .client::<AuthClient>()
        .change_password(with_auth(change(""), &session.access_token, None))
        .await;
    assert_eq!(code_of(&without), Code::Unauthenticated);
    let with = app
        .client::<AuthClient>()
        .change_password(with_auth(change(&code), &session.access_token, None))
        .await;
    assert_eq!(code_of(&with), Code::Ok);
}
