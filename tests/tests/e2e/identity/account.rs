//! Containing a stolen credential: ChangePassword (the current password, a
//! code when enrolled) revokes every other session; ListSessions shows the
//! account's sign-ins; RevokeSession ends one of them, never another user's.

use ochre_sdk::v1::{
    ChangePasswordRequest, ListSessionsRequest, RefreshRequest, RevokeSessionRequest, WhoAmIRequest,
};
use ochre_tests::{
    identity::{login, login_again, strong_password},
    prelude::*,
};

async fn change(app: &TestApp, s: &Session, current: &str, new: &str) -> Code {
    let request = ChangePasswordRequest {
        current_password: current.to_owned(),
        new_password: new.to_owned(),
        totp_code: String::new(),
    };
    let answer = app
        .client::<AuthClient>()
        .change_password(with_auth(request, &s.access_token, None))
        .await;
    code_of(&answer)
}

async fn still_signed_in(app: &TestApp, s: &Session) -> Code {
    let answer = app
        .client::<AuthClient>()
        .who_am_i(with_auth(WhoAmIRequest {}, &s.access_token, None))
        .await;
    code_of(&answer)
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_every_other_session() {
    let app = spawn_app().await;
    let first = signup_and_login(&app, &unique_email()).await;
    let second = login_again(&app, &first).await;
    let new = strong_password();
    assert_eq!(change(&app, &first, "", &new).await, Code::InvalidArgument);
    let wrong = format!("{}-wrong", first.password);
    assert_eq!(
        change(&app, &first, &wrong, &new).await,
        Code::Unauthenticated
    );
    assert_eq!(
        change(&app, &first, &first.password, "short").await,
        Code::InvalidArgument,
        "the new password meets the policy"
    );
    assert_eq!(
        still_signed_in(&app, &second).await,
        Code::Ok,
        "nothing changed yet"
    );

    assert_eq!(change(&app, &first, &first.password, &new).await, Code::Ok);
    assert_eq!(
        still_signed_in(&app, &first).await,
        Code::Ok,
        "the caller stays"
    );
    assert_eq!(still_signed_in(&app, &second).await, Code::Unauthenticated);
    let refresh = app
        .client::<AuthClient>()
        .refresh(RefreshRequest {
            refresh_token: second.refresh_token.clone(),
        })
        .await;
    assert_eq!(
        code_of(&refresh),
        Code::Unauthenticated,
        "its refresh token too"
    );
    let old = login(&app, &first.email, &first.password).await;
    assert_eq!(code_of(&old), Code::Unauthenticated);
    assert!(login(&app, &first.email, &new).await.is_ok());
}

#[tokio::test]
async fn a_user_lists_their_sessions_and_revokes_one_but_never_another_users() {
    let app = spawn_app().await;
    let first = signup_and_login(&app, &unique_email()).await;
    let second = login_again(&app, &first).await;
    let stranger = signup_and_login(&app, &unique_email()).await;
    let listed = app
        .client::<AuthClient>()
        .list_sessions(with_auth(
            ListSessionsRequest::default(),
            &first.access_token,
            None,
        ))
        .await
        .unwrap()
        .into_inner()
        .sessions;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let current: Vec<_> = listed.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1, "one is the caller's");
    assert!(listed.iter().all(|s| s.revoked_at.is_none()));
    let other = listed.iter().find(|s| !s.current).unwrap().id.clone();

    let revoke = |token: &str, id: &str| {
        let request = RevokeSessionRequest {
            session_id: id.to_owned(),
        };
        let request = with_auth(request, token, None);
        let mut client = app.client::<AuthClient>();
        async move { code_of(&client.revoke_session(request).await) }
    };
    assert_eq!(revoke(&stranger.access_token, &other).await, Code::NotFound);
    assert_eq!(
        still_signed_in(&app, &second).await,
        Code::Ok,
        "a stranger ends nothing"
    );
    assert_eq!(
        revoke(&first.access_token, "not-an-id").await,
        Code::InvalidArgument
    );
    assert_eq!(revoke(&first.access_token, &other).await, Code::Ok);
    assert_eq!(still_signed_in(&app, &second).await, Code::Unauthenticated);
    assert_eq!(
        revoke(&first.access_token, &other).await,
        Code::NotFound,
        "once"
    );
    assert_eq!(still_signed_in(&app, &first).await, Code::Ok);
    // API keys manage no sessions: the gate refuses them.
    let org = create_org(&app, &first, "Keys").await;
    let key = create_api_key(&app, &first, &org, Role::Admin)
        .await
        .unwrap()
        .secret;
    let by_key = app
        .client::<AuthClient>()
        .list_sessions(with_auth(ListSessionsRequest::default(), &key, Some(&org)))
        .await;
    assert_eq!(code_of(&by_key), Code::PermissionDenied);
}
