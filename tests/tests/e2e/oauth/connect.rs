//! OAuth connect end to end against a small OAuth provider started on
//! loopback: authorize URL with a signed single-use state and PKCE S256, the
//! code exchange, tokens stored encrypted, and every refusal.

use std::collections::HashMap;

use ochre_sdk::v1::GetIntegrationTokenRequest;
use ochre_server::integrations::oauth_state::{StateClaims, StateSigner};
use ochre_tests::prelude::*;

use super::provider::{complete, setup, start};

#[tokio::test]
async fn the_full_flow_stores_the_providers_tokens_encrypted_and_returns_the_validated_return_to() {
    let (app, p, owner, org) = setup().await;
    let (url, state) = start(
        &app,
        &owner,
        &org,
        "github",
        "/settings/integrations?tab=github",
    )
    .await
    .unwrap();
    let code = p.approve(&url);
    let done = complete(&app, &owner, &org, &state, &code).await.unwrap();
    assert_eq!(
        done.return_to,
        "https://app.ochre.test/settings/integrations?tab=github"
    );
    let integration = done.integration.unwrap();
    let fields: Vec<&str> = integration
        .secret_fields
        .iter()
        .map(|f| f.field.as_str())
        .collect();
    assert_eq!(fields, ["access_token", "refresh_token"]);
    let req = GetIntegrationTokenRequest {
        integration_id: integration.id.clone(),
        field: "access_token".into(),
    };
    let token = app
        .client::<IntegrationClient>()
        .get_integration_token(with_auth(req, &owner.access_token, Some(&org)))
        .await
        .unwrap();
    assert!(token.into_inner().value.starts_with("prov-access-"));
}

#[tokio::test]
async fn a_state_is_single_use_even_when_the_first_exchange_failed() {
    let (app, p, owner, org) = setup().await;
    let (url, state) = start(&app, &owner, &org, "github", "/").await.unwrap();
    let code = p.approve(&url);
    complete(&app, &owner, &org, &state, &code).await.unwrap();
    let replay = complete(&app, &owner, &org, &state, &code).await;
    assert_eq!(code_of(&replay), Code::FailedPrecondition);

    let (_, state) = start(&app, &owner, &org, "github", "/").await.unwrap();
    let refused = complete(
        &app,
        &owner,
        &org,
        &state,
        "a-code-the-provider-never-issued",
    )
    .await;
    assert_eq!(
        code_of(&refused),
        Code::FailedPrecondition,
        "the provider refuses the code"
    );
    let again = complete(&app, &owner, &org, &state, "another").await;
    assert_eq!(
        code_of(&again),
        Code::FailedPrecondition,
        "and the state is spent"
    );
}

#[tokio::test]
async fn a_tampered_expired_or_foreign_state_is_refused() {
    let (app, p, owner, org) = setup().await;
    let (url, state) = start(&app, &owner, &org, "github", "/").await.unwrap();
    let code = p.approve(&url);
    let mut tampered = state.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        code_of(&complete(&app, &owner, &org, &tampered, &code).await),
        Code::InvalidArgument
    );
    assert_eq!(
        code_of(&complete(&app, &owner, &org, "garbage", &code).await),
        Code::InvalidArgument
    );
    // Correctly signed with the server's secret, but expired.
    let signer =
        StateSigner::new(&secrecy::SecretString::from(app.oauth_state_secret.clone())).unwrap();
    let user = uuid::Uuid::parse_str(&owner.user_id).unwrap();
    let org_id = uuid::Uuid::parse_str(&org).unwrap();
    let old = StateClaims::new(
        user.into(),
        org_id.into(),
        "github",
        "https://app.ochre.test/",
        1_000_000,
        600,
    );
    let expired = complete(&app, &owner, &org, &signer.sign(&old), &code)
        .await
        .unwrap_err();
    assert_eq!(expired.code(), Code::InvalidArgument);
    assert!(expired.message().contains("expired"));
    // Another admin of the same org cannot complete the owner's state.
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    assert_eq!(
        code_of(&complete(&app, &admin, &org, &state, &code).await),
        Code::PermissionDenied
    );
    // Nor can the same owner complete it under another of their orgs.
    let other = create_org(&app, &owner, "Elsewhere").await;
    assert_ne!(
        code_of(&complete(&app, &owner, &other, &state, &code).await),
        Code::Ok
    );
    let listed = app
        .client::<IntegrationClient>()
        .list_integrations(with_auth(
            ochre_sdk::v1::ListIntegrationsRequest::default(),
            &owner.access_token,
            Some(&other),
        ))
        .await
        .unwrap()
        .into_inner()
        .integrations;
    assert!(listed.is_empty(), "nothing was connected in the other org");
    // The owner still can: the refusals above did not spend it.
    complete(&app, &owner, &org, &state, &code).await.unwrap();
}

#[tokio::test]
async fn a_return_to_outside_the_public_origin_is_refused_at_start() {
    let (app, _p, owner, org) = setup().await;
    for bad in [
        "https://evil.com/",
        "//evil.com/",
        "/\\evil.com",
        "\\\\evil.com",
        "javascript:alert(1)",
        " javascript:alert(1)",
        "https://app.ochre.test@evil.com/",
        "https://app.ochre.test.evil.com/",
        "/%2F%2Fevil.com",
        "/%5Cevil.com",
        "http://app.ochre.test/",
        "https://app.ochre.test:8443/",
        "settings",
    ] {
        let r = start(&app, &owner, &org, "github", bad).await;
        assert_eq!(code_of(&r), Code::InvalidArgument, "{bad:?}");
        assert!(
            !r.unwrap_err().message().contains("evil"),
            "the input is not echoed"
        );
    }
}

#[tokio::test]
async fn an_unconfigured_or_non_oauth_provider_cannot_start() {
    let (app, _p, owner, org) = setup().await;
    assert_eq!(
        code_of(&start(&app, &owner, &org, "slack", "/").await),
        Code::FailedPrecondition
    );
    assert_eq!(
        code_of(&start(&app, &owner, &org, "openai", "/").await),
        Code::InvalidArgument
    );
    assert_eq!(
        code_of(&start(&app, &owner, &org, "nope", "/").await),
        Code::InvalidArgument
    );
}

#[tokio::test]
async fn a_reconnect_replaces_the_grants_tokens_and_keeps_pasted_secrets() {
    let (app, p, owner, org) = setup().await;
    let pasted = ochre_sdk::v1::ConnectIntegrationRequest {
        provider: "github".into(),
        external_account: String::new(),
        secrets: HashMap::from([(
            "webhook_signing_secret".to_owned(),
            "whsec-pasted".to_owned(),
        )]),
        ..Default::default()
    };
    app.client::<IntegrationClient>()
        .connect_integration(with_auth(pasted, &owner.access_token, Some(&org)))
        .await
        .unwrap();
    let fields = |done: ochre_sdk::v1::CompleteOAuthConnectResponse| -> Vec<String> {
        done.integration
            .unwrap()
            .secret_fields
            .into_iter()
            .map(|f| f.field)
            .collect()
    };
    let (url, state) = start(&app, &owner, &org, "github", "/").await.unwrap();
    let first = complete(&app, &owner, &org, &state, &p.approve(&url))
        .await
        .unwrap();
    assert_eq!(
        fields(first),
        ["access_token", "refresh_token", "webhook_signing_secret"]
    );

    // The provider's new grant has no refresh token: the old one must not survive.
    p.memory.lock().unwrap().omit_refresh = true;
    let (url, state) = start(&app, &owner, &org, "github", "/").await.unwrap();
    let second = complete(&app, &owner, &org, &state, &p.approve(&url))
        .await
        .unwrap();
    let id = second.integration.as_ref().unwrap().id.clone();
    assert_eq!(fields(second), ["access_token", "webhook_signing_secret"]);
    let req = GetIntegrationTokenRequest {
        integration_id: id,
        field: "webhook_signing_secret".into(),
    };
    let kept = app
        .client::<IntegrationClient>()
        .get_integration_token(with_auth(req, &owner.access_token, Some(&org)))
        .await;
    assert_eq!(kept.unwrap().into_inner().value, "whsec-pasted");
}

#[tokio::test]
async fn an_absurd_expires_in_from_the_provider_is_clamped_to_a_year_not_an_error() {
    use ochre_sdk::v1::ListIntegrationsRequest;
    let (app, _p, owner, org, id) = super::provider::connected(i64::MAX).await;
    let listed = app
        .client::<IntegrationClient>()
        .list_integrations(with_auth(
            ListIntegrationsRequest::default(),
            &owner.access_token,
            Some(&org),
        ))
        .await
        .unwrap()
        .into_inner()
        .integrations;
    let integration = listed.iter().find(|i| i.id == id).unwrap();
    let expires = integration.token_expires_at.unwrap().seconds;
    let year = 365 * 24 * 3600;
    let now = i64::try_from(unix_now()).unwrap();
    assert!(
        (now + year - 120..=now + year + 120).contains(&expires),
        "expires {expires}, now {now}"
    );
    assert!(
        !super::provider::access_token(&app, &owner, &org, &id)
            .await
            .is_empty()
    );
}
