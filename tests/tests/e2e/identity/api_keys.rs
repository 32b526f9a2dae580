//! API keys end to end: shown once, acting with their role in their own org
//! only, never above their creator, and revocable.

use ochre_sdk::v1::{ListApiKeysRequest, RevokeApiKeyRequest};
use ochre_tests::{
    identity::{get_org, who_am_i},
    prelude::*,
};

use super::app_with_org;

#[tokio::test]
async fn an_api_key_is_shown_once_and_acts_with_its_role_in_its_own_org_only() {
    let (app, owner, org) = app_with_org().await;
    let other_org = create_org(&app, &owner, "Other").await;
    let created = create_api_key(&app, &owner, &org, Role::Agent)
        .await
        .unwrap();
    let secret = created.secret;
    assert!(secret.starts_with("ochre_sk_"));
    let request = with_auth(
        ListApiKeysRequest::default(),
        &owner.access_token,
        Some(&org),
    );
    let listed = app
        .client::<ApiKeyClient>()
        .list_api_keys(request)
        .await
        .unwrap();
    let listed = listed.into_inner();
    assert!(
        !format!("{listed:?}").contains(&secret),
        "a secret was listed"
    );
    let key = &listed.api_keys[0];
    assert_eq!(listed.api_keys.len(), 1);
    assert_eq!(
        (key.role(), key.created_by_user_id.as_str()),
        (Role::Agent, owner.user_id.as_str())
    );
    assert!(!key.prefix.is_empty() && key.prefix.len() < secret.len());
    assert!(secret.starts_with(&key.prefix));
    let got = get_org(&app, &secret, None).await.unwrap();
    assert_eq!(got.role(), Role::Agent);
    assert_eq!(got.org.unwrap().id, org);
    assert_eq!(code_of(&get_org(&app, &secret, Some(&org)).await), Code::Ok);
    let elsewhere = get_org(&app, &secret, Some(&other_org)).await;
    assert_eq!(code_of(&elsewhere), Code::PermissionDenied);
    let request = with_auth(ListApiKeysRequest::default(), &secret, None);
    let above_role = app.client::<ApiKeyClient>().list_api_keys(request).await;
    assert_eq!(code_of(&above_role), Code::PermissionDenied);
    assert_eq!(
        code_of(&who_am_i(&app, &secret).await),
        Code::PermissionDenied
    );
}

#[tokio::test]
async fn an_api_key_is_never_owner_nor_above_its_creator_and_needs_a_role() {
    let (app, owner, org) = app_with_org().await;
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    for creator in [&owner, &admin] {
        let as_owner = create_api_key(&app, creator, &org, Role::Owner).await;
        assert_eq!(code_of(&as_owner), Code::PermissionDenied);
        let unspecified = create_api_key(&app, creator, &org, Role::Unspecified).await;
        assert_eq!(code_of(&unspecified), Code::InvalidArgument);
        let as_admin = create_api_key(&app, creator, &org, Role::Admin).await;
        assert_eq!(code_of(&as_admin), Code::Ok);
    }
}

#[tokio::test]
async fn a_revoked_api_key_is_unauthenticated_and_listed_as_revoked() {
    let (app, owner, org) = app_with_org().await;
    let created = create_api_key(&app, &owner, &org, Role::Admin)
        .await
        .unwrap();
    assert_eq!(
        code_of(&get_org(&app, &created.secret, None).await),
        Code::Ok
    );
    let id = created.api_key.unwrap().id;
    let request = RevokeApiKeyRequest {
        api_key_id: id.clone(),
    };
    let request = with_auth(request, &owner.access_token, Some(&org));
    app.client::<ApiKeyClient>()
        .revoke_api_key(request)
        .await
        .unwrap();
    let after = get_org(&app, &created.secret, None).await;
    assert_eq!(code_of(&after), Code::Unauthenticated);
    let request = with_auth(
        ListApiKeysRequest::default(),
        &owner.access_token,
        Some(&org),
    );
    let listed = app
        .client::<ApiKeyClient>()
        .list_api_keys(request)
        .await
        .unwrap();
    let listed = listed.into_inner().api_keys;
    let key = listed.iter().find(|k| k.id == id).unwrap();
    assert!(key.revoked_at.is_some());
}

#[tokio::test]
async fn api_key_names_refuse_control_and_bidi_control_characters() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Names").await;
    for name in ["", "  ", "key\0", "key\u{202E}yek", &"k".repeat(101)] {
        let request = ochre_sdk::v1::CreateApiKeyRequest {
            name: name.to_owned(),
            role: Role::Agent.into(),
            ..Default::default()
        };
        let answer = app
            .client::<ApiKeyClient>()
            .create_api_key(with_auth(request, &owner.access_token, Some(&org)))
            .await;
        assert_eq!(code_of(&answer), Code::InvalidArgument, "{name:?}");
    }
}

#[tokio::test]
async fn a_read_made_with_an_api_key_records_the_keys_last_use() {
    let (app, owner, org) = app_with_org().await;
    let created = create_api_key(&app, &owner, &org, Role::Agent)
        .await
        .unwrap();
    let last_used = || async {
        let request = with_auth(
            ListApiKeysRequest::default(),
            &owner.access_token,
            Some(&org),
        );
        let listed = app.client::<ApiKeyClient>().list_api_keys(request).await;
        listed.unwrap().into_inner().api_keys[0].last_used_at
    };
    assert_eq!(last_used().await, None, "never used yet");
    // GetOrg only reads: its transaction is not committed, except that the
    // identity call recorded the key's use, which must survive.
    let got = get_org(&app, &created.secret, Some(&org)).await.unwrap();
    assert_eq!(got.org.unwrap().id, org);
    assert!(
        last_used().await.is_some(),
        "the key's use was not recorded"
    );
}
