//! The schema lint (`ochre_tests::lint`): the migrated schema passes it,
//! and each of its checks fails on the mistake it exists for and passes
//! again once the mistake is fixed.

use ochre_tests::{cluster::cluster, lint::schema_findings};
use sea_orm::{ConnectionTrait as _, DatabaseConnection};

/// A fresh migrated database, connected as the owner role.
pub(crate) async fn fresh_db_as_owner() -> (String, DatabaseConnection) {
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
async fn the_lint_fails_on_a_policy_that_reads_the_role_apart_from_the_org() {
    let (_, owner) = fresh_db_as_owner().await;
    owner
        .execute_unprepared(
            "CREATE POLICY split_role ON api_keys FOR SELECT TO ochre_app \
               USING (org_id = (SELECT app_org()) AND (SELECT app_role()) = 'owner')",
        )
        .await
        .unwrap();
    assert_eq!(
        schema_findings(&owner).await,
        [
            "api_keys.split_role: reads the caller in more than one evaluation (one sublink per policy)",
            "api_keys.split_role: reads the caller's role apart from its org (use app_org_as)"
        ]
    );
    owner
        .execute_unprepared(
            "ALTER POLICY split_role ON api_keys \
               USING (org_id = (SELECT app_org_as(ARRAY['owner'])))",
        )
        .await
        .unwrap();
    assert_eq!(schema_findings(&owner).await, Vec::<String>::new());
}

#[tokio::test]
async fn the_lint_fails_on_a_read_policy_that_reads_the_caller_in_two_evaluations() {
    let (_, owner) = fresh_db_as_owner().await;
    owner
        .execute_unprepared(
            "CREATE POLICY own_keys ON api_keys FOR SELECT TO ochre_app \
               USING (org_id = (SELECT app_org()) AND created_by = (SELECT app_user()))",
        )
        .await
        .unwrap();
    assert_eq!(
        schema_findings(&owner).await,
        [
            "api_keys.own_keys: reads the caller in more than one evaluation (one sublink per policy)"
        ]
    );
    // The org and the user in one row subquery: one evaluation.
    owner
        .execute_unprepared(
            "ALTER POLICY own_keys ON api_keys \
               USING ((org_id, created_by) = (SELECT app_org(), app_user()))",
        )
        .await
        .unwrap();
    assert_eq!(schema_findings(&owner).await, Vec::<String>::new());
}

/// Every sublink counts, whatever its form (an EXISTS on another table
/// reads the caller through that table's policy), and a policy for PUBLIC
/// applies to the app role as much as one naming it.
#[tokio::test]
async fn the_lint_counts_every_sublink_of_a_read_policy_and_policies_for_public_too() {
    let (_, owner) = fresh_db_as_owner().await;
    owner
        .execute_unprepared(
            "CREATE POLICY with_exists ON api_keys FOR SELECT TO ochre_app \
               USING (org_id = (SELECT app_org()) AND EXISTS \
                 (SELECT 1 FROM memberships m WHERE m.user_id = api_keys.created_by)); \
             CREATE POLICY for_public ON customers FOR ALL TO PUBLIC \
               USING (org_id IN (SELECT app_org()) AND email = ANY (SELECT app_user()::text))",
        )
        .await
        .unwrap();
    assert_eq!(
        schema_findings(&owner).await,
        [
            "api_keys.with_exists: reads the caller in more than one evaluation (one sublink per policy)",
            "customers.for_public: reads the caller in more than one evaluation (one sublink per policy)",
        ]
    );
    owner
        .execute_unprepared(
            "DROP POLICY with_exists ON api_keys; \
             ALTER POLICY for_public ON customers USING (org_id IN (SELECT app_org()))",
        )
        .await
        .unwrap();
    assert_eq!(schema_findings(&owner).await, Vec::<String>::new());
}

#[tokio::test]
async fn the_lint_fails_on_a_security_definer_function_without_a_search_path_ending_in_pg_temp() {
    let (_, owner) = fresh_db_as_owner().await;
    owner
        .execute_unprepared(
            "CREATE FUNCTION leaky() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'; \
             REVOKE ALL ON FUNCTION leaky() FROM PUBLIC;",
        )
        .await
        .unwrap();
    let finding = ["leaky: is SECURITY DEFINER without a pinned search_path ending in pg_temp"];
    assert_eq!(schema_findings(&owner).await, finding);
    // Pinned, but pg_temp unlisted (so searched first): still a finding.
    owner
        .execute_unprepared("ALTER FUNCTION leaky() SET search_path = pg_catalog, public")
        .await
        .unwrap();
    assert_eq!(schema_findings(&owner).await, finding);
    owner
        .execute_unprepared("ALTER FUNCTION leaky() SET search_path = pg_catalog, public, pg_temp")
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
