//! Sessions: single-flight refresh across an access-token expiry, one
//! refresh after an UNAUTHENTICATED answer, a reused refresh token ends in
//! `SignedOut`, and a sign-in that needs a second factor.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use ochre_sdk::{
    client::{OchreClient, OchreError},
    v1::{ChangePasswordRequest, ListSessionsRequest, RefreshRequest, WhoAmIRequest},
};
use ochre_tests::{
    clock::unix_now,
    identity::{enable_totp, totp_code},
    prelude::*,
};

use super::{refreshes_of, tokens_expiring, url};

#[tokio::test]
async fn sixteen_tasks_ride_out_an_access_token_expiry_with_exactly_one_refresh() {
    let app = spawn_app().await;
    let user = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &user, "Sessions").await;
    let tokens = tokens_expiring(&app, &user, Duration::from_secs(2)).await;
    let rotations = Arc::new(AtomicUsize::new(0));
    let counter = rotations.clone();
    let client = OchreClient::builder(url(&app))
        .session(tokens.clone())
        .org(&org)
        .refresh_margin(Duration::from_secs(1))
        .on_tokens(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .await
        .expect("a session client");
    let before = refreshes_of(&app, &user.email).await;

    let until = Instant::now() + Duration::from_secs(3);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut calls = 0;
                while Instant::now() < until {
                    client.auth().who_am_i(WhoAmIRequest::default()).await?;
                    client
                        .orgs()
                        .get_org(Default::default())
                        .await
                        .map(|_| calls += 1)?;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok::<_, OchreError>(calls)
            })
        })
        .collect();
    for task in tasks {
        let calls = task.await.expect("the task").expect("every call succeeds");
        assert!(calls > 0, "each task called");
    }

    assert_eq!(rotations.load(Ordering::SeqCst), 1, "one new token pair");
    assert_eq!(
        refreshes_of(&app, &user.email).await - before,
        1,
        "the server saw exactly one Refresh"
    );
    let now = client.session_tokens().expect("a session");
    assert_ne!(now.refresh_token, tokens.refresh_token, "rotated");
    let sessions = client
        .auth()
        .list_sessions(ListSessionsRequest::default())
        .await
        .expect("list sessions")
        .sessions;
    let current: Vec<_> = sessions.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1, "{sessions:?}");
    assert!(current[0].revoked_at.is_none(), "still signed in");
}

#[tokio::test]
async fn an_unauthenticated_answer_triggers_one_refresh_and_the_call_goes_through() {
    let app = spawn_app().await;
    let user = signup_and_login(&app, &unique_email()).await;
    let mut tokens = tokens_expiring(&app, &user, Duration::from_secs(600)).await;
    tokens.access_token = "FAKE-access-token-the-server-refuses".to_owned();
    let client = OchreClient::builder(url(&app))
        .session(tokens)
        .build()
        .await
        .expect("a session client");
    let me = client
        .auth()
        .who_am_i(WhoAmIRequest::default())
        .await
        .expect("refreshed, then answered");
    assert_eq!(me.user.map(|u| u.email), Some(user.email.clone()));
    assert_eq!(refreshes_of(&app, &user.email).await, 1);
}

#[tokio::test]
async fn a_wrong_password_is_answered_once_without_a_refresh() {
    let app = spawn_app().await;
    let user = signup_and_login(&app, &unique_email()).await;
    let client = OchreClient::builder(url(&app))
        .session(tokens_expiring(&app, &user, Duration::from_secs(600)).await)
        .build()
        .await
        .expect("a session client");
    let err = client
        .auth()
        .change_password(ChangePasswordRequest {
            current_password: "FAKE-not-the-password".to_owned(),
            new_password: ochre_tests::identity::strong_password(),
            totp_code: String::new(),
        })
        .await
        .expect_err("a wrong current password");
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    assert!(!err.is_signed_out(), "the session is fine: {err:?}");
    assert_eq!(
        refreshes_of(&app, &user.email).await,
        0,
        "the token was not refreshed"
    );
    client
        .auth()
        .who_am_i(WhoAmIRequest::default())
        .await
        .expect("still signed in");
}

#[tokio::test]
async fn a_reused_refresh_token_signs_the_client_out() {
    let app = spawn_app().await;
    let user = signup_and_login(&app, &unique_email()).await;
    let tokens = tokens_expiring(&app, &user, Duration::ZERO).await;
    // Someone else (a second copy of the partner) spends the refresh token.
    let rotated = app
        .client::<AuthClient>()
        .refresh(RefreshRequest {
            refresh_token: tokens.refresh_token.clone(),
        })
        .await
        .expect("the first refresh")
        .into_inner()
        .tokens
        .expect("tokens");
    let client = OchreClient::builder(url(&app))
        .session(tokens)
        .build()
        .await
        .expect("a session client");

    let err = client
        .auth()
        .who_am_i(WhoAmIRequest::default())
        .await
        .expect_err("the reused refresh token is refused");
    assert!(err.is_signed_out(), "{err:?}");
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.to_string().contains("already used"), "{err}");
    assert!(err.to_string().contains("sign in again"), "{err}");
    let again = client.auth().who_am_i(WhoAmIRequest::default()).await;
    assert!(matches!(again, Err(OchreError::SignedOut(_))), "{again:?}");
    // The reuse revoked the whole session, the other copy's tokens too.
    let other = ochre_tests::identity::who_am_i(&app, &rotated.access_token).await;
    assert_eq!(code_of(&other), Code::Unauthenticated);
}

#[tokio::test]
async fn sign_in_needs_the_second_factor_of_an_account_that_has_one() {
    let app = spawn_app().await;
    let user = signup_and_login(&app, &unique_email()).await;
    let totp = enable_totp(&app, &user).await;

    let refused = OchreClient::builder(url(&app))
        .sign_in(&user.email, &user.password)
        .build()
        .await;
    assert!(
        matches!(refused, Err(OchreError::SecondFactorRequired)),
        "{refused:?}"
    );
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("totp_code"), "{message}");

    ochre_tests::identity::sleep_until_next_totp_step().await;
    let secret = totp.secret_base32.clone();
    let client = OchreClient::builder(url(&app))
        .sign_in(&user.email, &user.password)
        .totp_with(move || totp_code(&secret, unix_now()))
        .build()
        .await
        .expect("signed in with the second factor");
    let me = client
        .auth()
        .who_am_i(WhoAmIRequest::default())
        .await
        .expect("who am I");
    assert_eq!(me.user.map(|u| u.email), Some(user.email));
}
