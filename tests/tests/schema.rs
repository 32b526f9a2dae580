//! The schema lint and row-level security on the foundation tables, checked
//! with catalog queries and with real connections as `ochre_app`.

#![allow(clippy::unwrap_used)]

use ochre_tests::{cluster::cluster, lint::schema_findings};
use sea_orm::{
    ConnectionTrait as _, DatabaseConnection, DbBackend, Statement, TransactionTrait as _,
};
use uuid::Uuid;

async fn fresh_db_as_owner() -> (String, DatabaseConnection) {
    let c = cluster().await;
    let name = c.fresh_database(true).await;
    let owner = c.connect(ochre_server::pg::OWNER_ROLE, &name).await;
    (name, owner)
}

#[tokio::test]
async fn the_migrated_schema_passes_the_lint() {
    let (_, owner) = fresh_db_as_owner().await;
    assert_eq!(schema_findings(&owner).await, Vec::<String>::new());
}

#[tokio::test]
async fn the_lint_fails_when_a_tenant_table_loses_forced_rls() {
    let (_, owner) = fresh_db_as_owner().await;
    owner
        .execute_unprepared("ALTER TABLE orgs NO FORCE ROW LEVEL SECURITY")
        .await
        .unwrap();
    assert_eq!(
        schema_findings(&owner).await,
        ["orgs: row level security is not forced"]
    );
}

#[tokio::test]
async fn the_lint_covers_a_new_table_without_being_edited() {
    let (_, owner) = fresh_db_as_owner().await;
    owner
        .execute_unprepared("CREATE TABLE widgets (org_id uuid NOT NULL, id uuid NOT NULL)")
        .await
        .unwrap();
    let findings = schema_findings(&owner).await;
    assert!(
        findings.contains(&"widgets: row level security is not enabled".to_owned()),
        "{findings:?}"
    );
    assert!(
        findings.contains(&"widgets: row level security is not forced".to_owned()),
        "{findings:?}"
    );
    assert!(
        findings.contains(&"widgets: has no row level security policy".to_owned()),
        "{findings:?}"
    );
}

#[tokio::test]
async fn the_lint_fails_on_a_grant_to_public() {
    let (_, owner) = fresh_db_as_owner().await;
    owner
        .execute_unprepared("GRANT SELECT ON orgs TO PUBLIC")
        .await
        .unwrap();
    assert_eq!(
        schema_findings(&owner).await,
        ["orgs: grants a privilege to PUBLIC"]
    );
}

#[tokio::test]
async fn the_lint_fails_on_a_security_definer_function_without_a_pinned_search_path() {
    let (_, owner) = fresh_db_as_owner().await;
    owner
        .execute_unprepared(
            "CREATE FUNCTION leaky() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'; \
             REVOKE ALL ON FUNCTION leaky() FROM PUBLIC;",
        )
        .await
        .unwrap();
    assert_eq!(
        schema_findings(&owner).await,
        ["leaky: is SECURITY DEFINER without a pinned search_path"]
    );
    owner
        .execute_unprepared("ALTER FUNCTION leaky() SET search_path = pg_catalog")
        .await
        .unwrap();
    assert_eq!(schema_findings(&owner).await, Vec::<String>::new());
}

#[tokio::test]
async fn the_lint_fails_when_the_runtime_role_owns_a_table_or_bypasses_rls() {
    let c = cluster().await;
    let (name, _) = fresh_db_as_owner().await;
    let su = c.connect_superuser(&name).await;
    su.execute_unprepared(
        "CREATE TABLE owned_by_app (id int); ALTER TABLE owned_by_app OWNER TO ochre_app;",
    )
    .await
    .unwrap();
    let findings = schema_findings(&su).await;
    assert!(
        findings.contains(
            &"owned_by_app: is owned by a runtime role (ochre_app/ochre_service must own nothing)"
                .to_owned()
        ),
        "{findings:?}"
    );
}

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

async fn as_tenant(
    db: &DatabaseConnection,
    org: Option<Uuid>,
    sql: &str,
) -> Result<u64, sea_orm::DbErr> {
    let tx = db.begin().await?;
    if let Some(org) = org {
        tx.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT set_config('app.org_id', $1, true)",
            [org.to_string().into()],
        ))
        .await?;
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

#[tokio::test]
async fn the_app_role_sees_and_writes_only_the_org_it_is_set_to() {
    let c = cluster().await;
    let (name, _) = fresh_db_as_owner().await;
    let app = c.connect(ochre_server::pg::APP_ROLE, &name).await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let insert = |id: Uuid| format!("INSERT INTO orgs (id, name) VALUES ('{id}', 'org')");

    assert_eq!(as_tenant(&app, Some(a), &insert(a)).await.unwrap(), 1);
    assert_eq!(as_tenant(&app, Some(b), &insert(b)).await.unwrap(), 1);
    // Writing a row of another org is refused by WITH CHECK.
    let cross = as_tenant(&app, Some(a), &insert(Uuid::now_v7())).await;
    assert!(
        cross
            .unwrap_err()
            .to_string()
            .contains("row-level security")
    );
    // Without a tenant, nothing is visible and nothing can be written.
    assert_eq!(
        as_tenant(&app, None, "SELECT id FROM orgs").await.unwrap(),
        0
    );
    assert!(
        as_tenant(&app, None, &insert(Uuid::now_v7()))
            .await
            .is_err()
    );
    // With a tenant, exactly its own row.
    assert_eq!(
        as_tenant(&app, Some(a), "SELECT id FROM orgs")
            .await
            .unwrap(),
        1
    );
    let other = format!("UPDATE orgs SET name = 'x' WHERE id = '{b}'");
    assert_eq!(
        as_tenant(&app, Some(a), &other).await.unwrap(),
        0,
        "b is invisible to a"
    );
    // The app role has no DELETE on orgs at all (purge is a gated path).
    let delete = as_tenant(&app, Some(a), &format!("DELETE FROM orgs WHERE id = '{a}'")).await;
    assert!(
        delete
            .unwrap_err()
            .to_string()
            .contains("permission denied")
    );
}

#[tokio::test]
async fn an_empty_tenant_setting_on_a_reused_connection_sees_nothing() {
    let c = cluster().await;
    let (name, _) = fresh_db_as_owner().await;
    let app = c.connect(ochre_server::pg::APP_ROLE, &name).await;
    let a = Uuid::now_v7();
    as_tenant(
        &app,
        Some(a),
        &format!("INSERT INTO orgs (id, name) VALUES ('{a}', 'org')"),
    )
    .await
    .unwrap();
    // set_config(..., true) reverts to '' (not NULL) after the transaction.
    let tx = app.begin().await.unwrap();
    tx.execute_unprepared("SELECT set_config('app.org_id', '', true)")
        .await
        .unwrap();
    let rows = tx
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT id FROM orgs",
        ))
        .await
        .unwrap();
    assert!(rows.is_empty());
}

#[tokio::test]
async fn the_owner_role_is_also_bound_by_forced_rls() {
    let (_, owner) = fresh_db_as_owner().await;
    let a = Uuid::now_v7();
    let err = owner
        .execute_unprepared(&format!(
            "INSERT INTO orgs (id, name) VALUES ('{a}', 'org')"
        ))
        .await
        .expect_err("no policy lets the owner write without a tenant");
    assert!(err.to_string().contains("row-level security"), "{err}");
}
