//! Who writes the audit log: only SECURITY DEFINER functions: the app role
//! has no INSERT on it whoever it claims to be, a light agent cannot append
//! an event through `record_audit()`, and an owner's event names the owner.

use sea_orm::{ConnectionTrait as _, DbBackend, DbErr, Statement};

use ochre_tests::prelude::*;

/// Runs `sql` as `ochre_app` with `who` verified as the caller in `org`,
/// rolled back.
async fn as_member(app: &TestApp, org: &str, who: &Session, sql: &str) -> Result<u64, DbErr> {
    let tx = begin_as(&app.app_db().await, who, org).await;
    let result = tx.execute_unprepared(sql).await.map(|r| r.rows_affected());
    tx.rollback().await?;
    result
}

#[tokio::test]
async fn only_definer_functions_write_audit_rows_and_light_agents_write_none() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Acme").await;
    let light = add_member(&app, &owner, &org, Role::LightAgent).await;
    let insert = format!(
        "INSERT INTO audit_log (org_id, id, actor_user_id, action) \
         VALUES ('{org}', gen_random_uuid(), '{}', 'forged')",
        owner.user_id
    );
    for who in [&owner, &light] {
        let refused = as_member(&app, &org, who, &insert).await;
        let message = refused.expect_err("no INSERT grant").to_string();
        assert!(message.contains("permission denied"), "{message}");
    }
    let record = "SELECT record_audit('integration.connected', 'integration', NULL, '{}', '', '')";
    let refused = as_member(&app, &org, &light, record).await;
    let message = refused
        .expect_err("a light agent records nothing")
        .to_string();
    assert!(
        message.contains("cannot be recorded by this caller"),
        "{message}"
    );
    assert!(as_member(&app, &org, &owner, record).await.is_ok());

    // An owner's event through the RPC is recorded with the owner as actor.
    let request = ochre_sdk::v1::ConnectIntegrationRequest {
        provider: "github".into(),
        external_account: "acme".into(),
        secrets: [("webhook_signing_secret".to_owned(), "s3cret".to_owned())].into(),
        ..Default::default()
    };
    app.client::<IntegrationClient>()
        .connect_integration(with_auth(request, &owner.access_token, Some(&org)))
        .await
        .unwrap();
    let su = app.superuser_db().await;
    let row = su
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT actor_user_id::text AS actor FROM audit_log WHERE action = 'integration.connected'",
        ))
        .await
        .unwrap()
        .expect("the connect is audited");
    let actor: String = row.try_get_by("actor").unwrap();
    assert_eq!(actor, owner.user_id);
}
