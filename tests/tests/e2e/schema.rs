//! Row-level security on the foundation tables and the runtime roles,
//! checked with catalog queries and with real connections as `ochre_app`
//! (the schema lint itself: `schema_lint`).

use ochre_tests::{
    cluster::cluster,
    prelude::{Credential, seed_session_sql, verify},
};
use sea_orm::{
    ConnectionTrait as _, DatabaseConnection, DbBackend, Statement, TransactionTrait as _,
};
use uuid::Uuid;

use crate::schema_lint::fresh_db_as_owner;

#[tokio::test]
async fn the_runtime_roles_are_not_superusers_and_cannot_bypass_rls() {
    let (_, owner) = fresh_db_as_owner().await;
    let row = owner
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT bool_or(rolsuper OR rolbypassrls) AS privileged, count(*) AS n FROM pg_roles \
             WHERE rolname IN ('ochre_app','ochre_service','ochre_owner')",
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(!row.try_get::<bool>("", "privileged").unwrap());
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 3);
}

async fn as_caller(
    db: &DatabaseConnection,
    org: Option<Uuid>,
    user: Option<Uuid>,
    sql: &str,
) -> Result<u64, sea_orm::DbErr> {
    let tx = db.begin().await?;
    // The caller presents the session seeded for `user` (none: nobody).
    if let Some(u) = user {
        verify(&tx, &Credential::seeded_user(u), org, "").await;
    }
    let n = if sql.trim_start().to_uppercase().starts_with("SELECT") {
        tx.query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await?
            .len() as u64
    } else {
        tx.execute_unprepared(sql).await?.rows_affected()
    };
    tx.commit().await?;
    Ok(n)
}

/// Two orgs and one user who is an agent of the first (set up as superuser).
async fn two_orgs_one_agent(name: &str) -> (Uuid, Uuid, Uuid) {
    let c = cluster().await;
    let su = c.connect_superuser(name).await;
    let (a, b, u) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    su.execute_unprepared(&format!(
        "INSERT INTO orgs (id, name) VALUES ('{a}', 'a'), ('{b}', 'b'); \
         INSERT INTO users (id, email, password_hash) VALUES ('{u}', '{u}@example.com', 'x'); \
         INSERT INTO memberships (org_id, user_id, role) VALUES ('{a}', '{u}', 'agent'); {}",
        seed_session_sql(u)
    ))
    .await
    .unwrap();
    (a, b, u)
}

#[tokio::test]
async fn the_app_role_sees_an_org_only_as_its_member_and_writes_it_only_as_owner() {
    let c = cluster().await;
    let (name, _) = fresh_db_as_owner().await;
    let app = c.connect(ochre_server::pg::APP_ROLE, &name).await;
    let (a, b, u) = two_orgs_one_agent(&name).await;

    assert_eq!(
        as_caller(&app, Some(a), Some(u), "SELECT id FROM orgs")
            .await
            .unwrap(),
        1
    );
    // Acting in another org without a membership there shows nothing.
    assert_eq!(
        as_caller(&app, Some(b), Some(u), "SELECT id FROM orgs")
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        as_caller(&app, None, None, "SELECT id FROM orgs")
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        as_caller(&app, Some(a), None, "SELECT id FROM orgs")
            .await
            .unwrap(),
        0
    );
    // Neither an agent nor an admin can update the org; an owner can.
    let rename = "UPDATE orgs SET name = 'renamed'";
    assert_eq!(as_caller(&app, Some(a), Some(u), rename).await.unwrap(), 0);
    let su = c.connect_superuser(&name).await;
    for (role, updated) in [("admin", 0), ("owner", 1)] {
        su.execute_unprepared(&format!(
            "UPDATE memberships SET role = '{role}' WHERE user_id = '{u}'"
        ))
        .await
        .unwrap();
        let rows = as_caller(&app, Some(a), Some(u), rename).await.unwrap();
        assert_eq!(rows, updated, "{role}");
    }
    assert_eq!(
        as_caller(&app, Some(b), Some(u), rename).await.unwrap(),
        0,
        "b stays invisible"
    );
    // No INSERT or DELETE on orgs for the app role: creation is gated, purge too.
    let insert = as_caller(
        &app,
        Some(a),
        Some(u),
        &format!(
            "INSERT INTO orgs (id, name) VALUES ('{}', 'x')",
            Uuid::now_v7()
        ),
    )
    .await;
    assert!(
        insert
            .unwrap_err()
            .to_string()
            .contains("permission denied")
    );
    let delete = as_caller(&app, Some(a), Some(u), "DELETE FROM orgs").await;
    assert!(
        delete
            .unwrap_err()
            .to_string()
            .contains("permission denied")
    );
}

#[tokio::test]
async fn a_membership_write_outside_the_gated_functions_is_refused() {
    let c = cluster().await;
    let (name, _) = fresh_db_as_owner().await;
    let app = c.connect(ochre_server::pg::APP_ROLE, &name).await;
    let (a, _, u) = two_orgs_one_agent(&name).await;
    let promote = "UPDATE memberships SET role = 'owner'";
    assert!(
        as_caller(&app, Some(a), Some(u), promote)
            .await
            .unwrap_err()
            .to_string()
            .contains("permission denied")
    );
    // Through the gated function, an agent is refused too.
    let gated = format!("SELECT set_member_role('{u}', 'owner')");
    assert!(as_caller(&app, Some(a), Some(u), &gated).await.is_err());
}

#[tokio::test]
async fn an_empty_tenant_setting_on_a_reused_connection_sees_nothing() {
    let c = cluster().await;
    let (name, _) = fresh_db_as_owner().await;
    let app = c.connect(ochre_server::pg::APP_ROLE, &name).await;
    let (a, _, u) = two_orgs_one_agent(&name).await;
    assert_eq!(
        as_caller(&app, Some(a), Some(u), "SELECT id FROM orgs")
            .await
            .unwrap(),
        1
    );
    // The verified caller is pinned for one transaction only: the next one
    // on a reused connection is nobody until it presents a credential.
    let tx = app.begin().await.unwrap();
    let row = tx
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT app_org() IS NULL AND app_user() IS NULL AS nobody, \
                    (SELECT count(*) FROM orgs) AS n",
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(row.try_get::<bool>("", "nobody").unwrap());
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 0);
}

#[tokio::test]
async fn the_owner_role_is_also_bound_by_forced_rls() {
    let c = cluster().await;
    let (name, owner) = fresh_db_as_owner().await;
    let (a, _, _) = two_orgs_one_agent(&name).await;
    let su = c.connect_superuser(&name).await;
    su.execute_unprepared(&format!(
        "INSERT INTO customers (org_id, id, email) VALUES ('{a}', '{}', 'c@example.com')",
        Uuid::now_v7()
    ))
    .await
    .unwrap();
    // No policy names the owner on customers (only the identity tables the
    // definer functions write have owner policies) but `ochre export`'s,
    // which needs the org named in `ochre.export_org`: it sees and writes
    // nothing.
    let rows = owner
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT id FROM customers",
        ))
        .await
        .unwrap();
    assert!(rows.is_empty());
    let err = owner
        .execute_unprepared(&format!(
            "INSERT INTO customers (org_id, id, email) VALUES ('{a}', '{}', 'd@example.com')",
            Uuid::now_v7()
        ))
        .await
        .expect_err("forced RLS binds the owner");
    assert!(err.to_string().contains("row-level security"), "{err}");
}
