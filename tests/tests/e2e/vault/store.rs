//! The integration token vault end to end: pasted secrets stored as bound
//! ciphertext the app role cannot even SELECT, the one privileged read with
//! its audit row, and disconnect.

use std::collections::HashMap;

use ochre_sdk::v1::{
    ConnectIntegrationRequest, DisconnectIntegrationRequest, ListIntegrationsRequest,
};
use ochre_tests::prelude::*;
use prost::Message as _;
use sea_orm::{ConnectionTrait as _, DbBackend, Statement, TransactionTrait as _};

use super::{audit_reads, canary, ciphertexts, connect, owner_and_org, read};

#[tokio::test]
async fn an_owner_or_admin_reads_a_pasted_secret_and_every_read_is_audited() {
    let app = spawn_app().await;
    let (owner, org) = owner_and_org(&app).await;
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    let secret = canary();
    let id = connect(&app, &owner, &org, "openai", &[("api_key", &secret)]).await;
    assert_eq!(
        read(&app, &owner, &org, &id, "api_key").await.unwrap(),
        secret
    );
    assert_eq!(
        read(&app, &admin, &org, &id, "api_key").await.unwrap(),
        secret
    );
    let reads = audit_reads(&app, &id).await;
    assert_eq!(
        reads,
        vec![
            (owner.user_id.clone(), "api_key".into()),
            (admin.user_id.clone(), "api_key".into())
        ]
    );
}

#[tokio::test]
async fn agents_light_agents_and_other_orgs_are_refused_and_leave_no_audit_row() {
    let app = spawn_app().await;
    let (owner, org) = owner_and_org(&app).await;
    let agent = add_member(&app, &owner, &org, Role::Agent).await;
    let light = add_member(&app, &owner, &org, Role::LightAgent).await;
    let (stranger, other_org) = owner_and_org(&app).await;
    let id = connect(&app, &owner, &org, "anthropic", &[("api_key", &canary())]).await;
    assert_eq!(
        code_of(&read(&app, &agent, &org, &id, "api_key").await),
        Code::PermissionDenied
    );
    assert_eq!(
        code_of(&read(&app, &light, &org, &id, "api_key").await),
        Code::PermissionDenied
    );
    let foreign = read(&app, &stranger, &other_org, &id, "api_key")
        .await
        .unwrap_err();
    let unknown = read(
        &app,
        &stranger,
        &other_org,
        &uuid::Uuid::now_v7().to_string(),
        "api_key",
    )
    .await
    .unwrap_err();
    assert_eq!(
        (foreign.code(), foreign.message()),
        (Code::NotFound, unknown.message())
    );
    assert_eq!(
        code_of(&read(&app, &owner, &org, &id, "no_such_field").await),
        Code::NotFound
    );
    assert!(
        audit_reads(&app, &id).await.is_empty(),
        "refused reads write no audit row"
    );
}

#[tokio::test]
async fn listing_integrations_shows_which_secrets_are_set_never_their_values() {
    let app = spawn_app().await;
    let (owner, org) = owner_and_org(&app).await;
    let agent = add_member(&app, &owner, &org, Role::Agent).await;
    let (key, signing) = (canary(), canary());
    connect(
        &app,
        &owner,
        &org,
        "resend",
        &[("api_key", &key), ("webhook_signing_secret", &signing)],
    )
    .await;
    let list = app
        .client::<IntegrationClient>()
        .list_integrations(with_auth(
            ListIntegrationsRequest::default(),
            &agent.access_token,
            Some(&org),
        ))
        .await
        .unwrap()
        .into_inner();
    let fields: Vec<&str> = list.integrations[0]
        .secret_fields
        .iter()
        .map(|f| f.field.as_str())
        .collect();
    assert_eq!(fields, ["api_key", "webhook_signing_secret"]);
    assert_eq!(
        list.integrations[0].status,
        ochre_sdk::v1::IntegrationStatus::Connected as i32
    );
    let bytes = list.encode_to_vec();
    for secret in [&key, &signing] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
}

#[tokio::test]
async fn the_app_role_cannot_select_the_ciphertext_column() {
    let app = spawn_app().await;
    let (owner, org) = owner_and_org(&app).await;
    connect(&app, &owner, &org, "openai", &[("api_key", &canary())]).await;
    let db = app.app_db().await;
    let tx = db.begin().await.unwrap();
    let org_id = uuid::Uuid::parse_str(&org).unwrap();
    become_caller(
        &tx,
        &Credential::of_access_token(&owner.access_token),
        Some(org_id),
    )
    .await;
    let fields = tx
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT field FROM integration_secrets",
        ))
        .await
        .unwrap();
    assert_eq!(fields.len(), 1, "metadata columns are readable");
    let err = tx
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT ciphertext FROM integration_secrets",
        ))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
}

#[tokio::test]
async fn stored_bytes_hold_no_plaintext_and_a_repaste_replaces_them_with_fresh_ciphertext() {
    let app = spawn_app().await;
    let (owner, org) = owner_and_org(&app).await;
    let secret = canary();
    let id = connect(&app, &owner, &org, "openai", &[("api_key", &secret)]).await;
    let first = ciphertexts(&app).await;
    assert_eq!(first.len(), 1);
    assert!(
        !first[0]
            .windows(secret.len())
            .any(|w| w == secret.as_bytes())
    );
    assert_eq!(
        connect(&app, &owner, &org, "openai", &[("api_key", &secret)]).await,
        id,
        "same integration"
    );
    let second = ciphertexts(&app).await;
    assert_eq!(second.len(), 1, "the old row is replaced, not kept");
    assert_ne!(first[0], second[0], "a fresh nonce every time");
    let newer = canary();
    connect(&app, &owner, &org, "openai", &[("api_key", &newer)]).await;
    assert_eq!(
        read(&app, &owner, &org, &id, "api_key").await.unwrap(),
        newer
    );
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_integration_does_not_decrypt_and_is_not_audited() {
    let app = spawn_app().await;
    let (owner, org) = owner_and_org(&app).await;
    let a = connect(&app, &owner, &org, "openai", &[("api_key", &canary())]).await;
    let b = connect(&app, &owner, &org, "anthropic", &[("api_key", &canary())]).await;
    let su = app.superuser_db().await;
    su.execute_unprepared(&format!(
        "UPDATE integration_secrets SET ciphertext = (SELECT ciphertext FROM integration_secrets \
           WHERE integration_id = '{a}') WHERE integration_id = '{b}'"
    ))
    .await
    .unwrap();
    let err = read(&app, &owner, &org, &b, "api_key").await.unwrap_err();
    assert_eq!(err.code(), Code::Internal);
    assert_eq!(err.message(), "internal error", "no detail leaks");
    assert!(audit_reads(&app, &b).await.is_empty());
}

#[tokio::test]
async fn an_integration_and_its_secret_cloned_into_another_org_do_not_decrypt_there() {
    let app = spawn_app().await;
    let (owner, org) = owner_and_org(&app).await;
    let other = create_org(&app, &owner, "Elsewhere").await;
    let secret = canary();
    let id = connect(&app, &owner, &org, "openai", &[("api_key", &secret)]).await;
    // A database-level attacker moves the rows, ciphertext and all, under
    // the other org with the same integration id and field: the vault's
    // associated data binds the ciphertext to its org.
    let su = app.superuser_db().await;
    su.execute_unprepared(&format!(
        "CREATE TEMP TABLE ci AS SELECT * FROM integrations WHERE id = '{id}'; \
         CREATE TEMP TABLE cs AS SELECT * FROM integration_secrets WHERE integration_id = '{id}'; \
         DELETE FROM integration_secrets WHERE integration_id = '{id}'; \
         DELETE FROM integrations WHERE id = '{id}'; \
         UPDATE ci SET org_id = '{other}'; UPDATE cs SET org_id = '{other}'; \
         INSERT INTO integrations SELECT * FROM ci; \
         INSERT INTO integration_secrets SELECT * FROM cs;"
    ))
    .await
    .unwrap();
    let err = read(&app, &owner, &other, &id, "api_key")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Internal);
    assert_eq!(err.message(), "internal error", "no detail leaks");
    assert!(
        audit_reads(&app, &id).await.is_empty(),
        "a failed read is not audited"
    );
    let stored = ciphertexts(&app).await;
    assert_eq!(stored.len(), 1, "the moved row is there");
    assert!(
        !stored[0]
            .windows(secret.len())
            .any(|w| w == secret.as_bytes())
    );
}

#[tokio::test]
async fn disconnecting_deletes_the_secret_rows_and_the_token_is_gone() {
    let app = spawn_app().await;
    let (owner, org) = owner_and_org(&app).await;
    let id = connect(
        &app,
        &owner,
        &org,
        "paddle",
        &[
            ("api_key", &canary()),
            ("webhook_signing_secret", &canary()),
        ],
    )
    .await;
    app.client::<IntegrationClient>()
        .disconnect_integration(with_auth(
            DisconnectIntegrationRequest {
                integration_id: id.clone(),
            },
            &owner.access_token,
            Some(&org),
        ))
        .await
        .unwrap();
    assert!(
        ciphertexts(&app).await.is_empty(),
        "rows are deleted, not blanked"
    );
    assert_eq!(
        code_of(&read(&app, &owner, &org, &id, "api_key").await),
        Code::NotFound
    );
}

#[tokio::test]
async fn bad_connect_requests_are_invalid_arguments() {
    let app = spawn_app().await;
    let (owner, org) = owner_and_org(&app).await;
    for (provider, field, value) in [
        ("nope", "api_key", "x".to_owned()),
        ("openai", "access_token", "x".to_owned()),
        ("openai", "api_key", String::new()),
        ("openai", "api_key", "x".repeat(8193)),
    ] {
        let req = ConnectIntegrationRequest {
            provider: provider.into(),
            external_account: String::new(),
            secrets: HashMap::from([(field.to_owned(), value)]),
            ..Default::default()
        };
        let r = app
            .client::<IntegrationClient>()
            .connect_integration(with_auth(req, &owner.access_token, Some(&org)))
            .await;
        assert_eq!(code_of(&r), Code::InvalidArgument, "{provider}/{field}");
    }
}
