//! API keys and invitation tokens name their org (32 random bytes, then the
//! org id's 16 bytes), so the database finds them by (org, hash) and every key
//! of their tables starts with org_id (`sharding.rs`). Editing the org part
//! of a credential, or copying its stored hash under another org, moves it
//! nowhere; a key in the old form (no org) opens nothing.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use ochre_tests::{
    identity::{accept, get_org, invite, superuser_count, superuser_execute},
    prelude::*,
};

use super::app_with_org;

/// `token` (`prefix` + base64url(random ‖ org)) edited to name `org`.
fn naming(prefix: &str, token: &str, org: &str) -> String {
    let mut bytes = URL_SAFE_NO_PAD
        .decode(token.strip_prefix(prefix).unwrap())
        .unwrap();
    assert_eq!(bytes.len(), 48, "32 random bytes, then the org id");
    bytes[32..].copy_from_slice(uuid::Uuid::parse_str(org).unwrap().as_bytes());
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

#[tokio::test]
async fn an_api_key_names_its_org_and_edited_or_copied_elsewhere_it_opens_nothing() {
    let (app, owner, org) = app_with_org().await;
    let other = create_org(&app, &owner, "Attacker's own").await;
    let key = create_api_key(&app, &owner, &org, Role::Admin)
        .await
        .unwrap()
        .secret;
    assert_eq!(key, naming("ochre_sk_", &key, &org), "it names its org");
    // The same random part under another org's id: another hash, found nowhere.
    let edited = naming("ochre_sk_", &key, &other);
    for header in [None, Some(other.as_str()), Some(org.as_str())] {
        let got = get_org(&app, &edited, header).await;
        assert_eq!(code_of(&got), Code::Unauthenticated, "{header:?}");
    }
    // The stored row copied under the other org (a superuser's write): the
    // key still acts in its own org only, and the edited key still nowhere.
    superuser_execute(
        &app,
        &format!(
            "INSERT INTO api_keys (org_id, id, name, role, key_hash, prefix, created_by) \
             SELECT '{other}', gen_random_uuid(), name, role, key_hash, prefix, created_by \
               FROM api_keys WHERE org_id = '{org}'"
        ),
    )
    .await;
    let got = get_org(&app, &key, None).await.unwrap();
    assert_eq!(got.org.unwrap().id, org);
    let elsewhere = get_org(&app, &key, Some(&other)).await;
    assert_eq!(code_of(&elsewhere), Code::PermissionDenied);
    let edited = get_org(&app, &edited, None).await;
    assert_eq!(code_of(&edited), Code::Unauthenticated);
    // A key in the old form (32 random bytes, no org), stored by hand: the
    // server cannot tell its org, so it is refused before the database.
    let old = format!("ochre_sk_{}", URL_SAFE_NO_PAD.encode([9u8; 32]));
    superuser_execute(
        &app,
        &format!(
            "INSERT INTO api_keys (org_id, id, name, role, key_hash, prefix, created_by) \
             VALUES ('{org}', gen_random_uuid(), 'old', 'admin', \
                     sha256(convert_to('{old}', 'UTF8')), 'ochre_sk_', '{}')",
            owner.user_id
        ),
    )
    .await;
    assert_eq!(
        code_of(&get_org(&app, &old, Some(&org)).await),
        Code::Unauthenticated
    );
}

#[tokio::test]
async fn an_invitation_token_names_its_org_and_edited_to_name_another_it_finds_nothing() {
    let (app, owner, org) = app_with_org().await;
    let email = unique_email();
    let invitee = signup_and_login(&app, &email).await;
    let other = create_org(&app, &invitee, "Invitee's own").await;
    let token = invite(&app, &owner, &org, &email, Role::Agent)
        .await
        .unwrap()
        .token;
    assert_eq!(
        token,
        naming("ochre_inv_", &token, &org),
        "it names its org"
    );
    let edited = accept(&app, &invitee, &naming("ochre_inv_", &token, &other)).await;
    assert_eq!(code_of(&edited), Code::NotFound);
    let cut = accept(&app, &invitee, &token[..token.len() - 2]).await;
    assert_eq!(code_of(&cut), Code::NotFound);
    let memberships = format!(
        "SELECT count(*) FROM memberships WHERE user_id = '{}'",
        invitee.user_id
    );
    assert_eq!(
        superuser_count(&app, &memberships).await,
        1,
        "its own org only"
    );
    let joined = accept(&app, &invitee, &token).await.unwrap();
    let membership = joined.membership.unwrap();
    let role = membership.role();
    assert_eq!((membership.org.unwrap().id, role), (org, Role::Agent));
}
