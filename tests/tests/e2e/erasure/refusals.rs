//! Who may erase, and what every other caller and id gets.

use ochre_tests::support::random_id;
use sea_orm::ConnectionTrait as _;

use super::erase;
use ochre_tests::prelude::*;

#[tokio::test]
async fn agents_and_light_agents_are_refused_and_unknown_foreign_or_erased_ids_get_the_same_not_found()
 {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Erasure refusals").await;
    let agent = add_member(&app, &owner, &org, Role::Agent).await;
    let light = add_member(&app, &owner, &org, Role::LightAgent).await;
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    let customer = Caller::user(&app, &owner, &org)
        .customer("kept@example.com")
        .await;
    let outsider = signup_and_login(&app, &unique_email()).await;
    let elsewhere = create_org(&app, &outsider, "Elsewhere").await;
    let foreign = Caller::user(&app, &outsider, &elsewhere)
        .customer("kept@example.com")
        .await;

    for (who, s) in [("agent", &agent), ("light agent", &light)] {
        let err = erase(&app, &s.access_token, &org, &customer.id)
            .await
            .expect_err(who);
        assert_eq!(err.code(), Code::PermissionDenied, "{who}: {err:?}");
    }
    let key = create_api_key(&app, &owner, &org, Role::Agent)
        .await
        .unwrap();
    let err = erase(&app, &key.secret, &org, &customer.id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "agent key: {err:?}");

    let unknown = erase(&app, &owner.access_token, &org, &random_id())
        .await
        .unwrap_err();
    let other = erase(&app, &owner.access_token, &org, &foreign.id)
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(other.code(), Code::NotFound);
    assert_eq!(unknown.message(), other.message());
    assert!(!other.message().contains(&foreign.id), "{other:?}");
    let bad = erase(&app, &owner.access_token, &org, "not-a-uuid")
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument, "{bad:?}");

    // Nothing refused removed anything; the other org's customer is there.
    let api = Caller::user(&app, &owner, &org);
    assert!(api.customer_by_id(&customer.id).await.is_ok());
    let theirs = Caller::user(&app, &outsider, &elsewhere);
    assert!(theirs.customer_by_id(&foreign.id).await.is_ok());

    let receipt = erase(&app, &admin.access_token, &org, &customer.id)
        .await
        .expect("an admin erases")
        .receipt
        .unwrap();
    assert_eq!(receipt.customer_id, customer.id);
    assert_eq!(receipt.customers, 1);
    let again = erase(&app, &owner.access_token, &org, &customer.id)
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::NotFound);
    assert_eq!(again.message(), unknown.message());
}

#[tokio::test]
async fn erase_customer_in_sql_refuses_a_pinned_agent_and_forged_settings_and_erases_nothing() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Erasure in SQL").await;
    let agent = add_member(&app, &owner, &org, Role::Agent).await;
    let customer = Caller::user(&app, &owner, &org)
        .customer("sql@example.com")
        .await;
    let db = app.app_db().await;
    let call = format!("SELECT * FROM erase_customer('{}', '', 'sql')", customer.id);

    let tx = begin_as(&db, &agent, &org).await;
    let err = tx.execute_unprepared(&call).await.expect_err("an agent");
    assert!(err.to_string().contains("only owners and admins"), "{err}");
    drop(tx);

    let owner_id = uuid::Uuid::parse_str(&owner.user_id).unwrap();
    let tx = sea_orm::TransactionTrait::begin(&db).await.unwrap();
    forge_settings(&tx, org_of(&org), Some(owner_id), None).await;
    let err = tx.execute_unprepared(&call).await.expect_err("forged");
    assert!(err.to_string().contains("only owners and admins"), "{err}");
    let _ = tx.commit().await;

    let api = Caller::user(&app, &owner, &org);
    assert!(api.customer_by_id(&customer.id).await.is_ok());
    let su = app.superuser_db().await;
    let events = super::texts(
        &su,
        &format!(
            "SELECT count(*)::text FROM audit_log WHERE org_id = '{org}' AND action = 'customer.erased'"
        ),
    )
    .await;
    assert_eq!(events, ["0"]);
}
