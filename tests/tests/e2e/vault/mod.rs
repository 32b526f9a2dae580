//! The integration token vault end to end; helpers shared by its modules.

mod at_rest;
mod store;

use std::collections::HashMap;

use ochre_sdk::v1::{ConnectIntegrationRequest, GetIntegrationTokenRequest};
use ochre_tests::prelude::*;
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};

pub fn canary() -> String {
    format!("sk-live-canary-{}", uuid::Uuid::new_v4().simple())
}

pub async fn connect(
    app: &TestApp,
    s: &Session,
    org: &str,
    provider: &str,
    secrets: &[(&str, &str)],
) -> String {
    let secrets: HashMap<String, String> = secrets
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    let req = ConnectIntegrationRequest {
        provider: provider.into(),
        external_account: "acct_1".into(),
        secrets,
        ..Default::default()
    };
    app.client::<IntegrationClient>()
        .connect_integration(with_auth(req, &s.access_token, Some(org)))
        .await
        .unwrap()
        .into_inner()
        .integration
        .unwrap()
        .id
}

pub async fn read(
    app: &TestApp,
    s: &Session,
    org: &str,
    id: &str,
    field: &str,
) -> Result<String, tonic::Status> {
    let req = GetIntegrationTokenRequest {
        integration_id: id.into(),
        field: field.into(),
    };
    app.client::<IntegrationClient>()
        .get_integration_token(with_auth(req, &s.access_token, Some(org)))
        .await
        .map(|r| r.into_inner().value)
}

pub async fn audit_reads(app: &TestApp, integration: &str) -> Vec<(String, String)> {
    let su = app.superuser_db().await;
    su.query_all_raw(Statement::from_string(
        DbBackend::Postgres,
        format!(
            "SELECT actor_user_id::text AS actor, detail->>'field' AS field FROM audit_log \
              WHERE action = 'integration.token.read' AND target_id = '{integration}' ORDER BY seq"
        ),
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.try_get("", "actor").unwrap(),
            r.try_get("", "field").unwrap(),
        )
    })
    .collect()
}

pub async fn ciphertexts(app: &TestApp) -> Vec<Vec<u8>> {
    let su = app.superuser_db().await;
    let rows = su
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT ciphertext FROM integration_secrets ORDER BY field",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get("", "ciphertext").unwrap())
        .collect()
}

pub async fn owner_and_org(app: &TestApp) -> (Session, String) {
    let owner = signup_and_login(app, &unique_email()).await;
    let org = create_org(app, &owner, "Vault").await;
    (owner, org)
}
