//! The committed schema snapshot (`migrations/schema.snapshot`) is what the
//! migrations produce: a schema change that was not regenerated with
//! `make schema-snapshot` fails here, naming what differs.

use ochre_tests::{
    cluster::cluster,
    snapshot::{SNAPSHOT_FILE, schema_snapshot, snapshot_path, unified_diff},
};
use sea_orm::{ConnectionTrait as _, DatabaseConnection};

async fn fresh_db_as_owner() -> DatabaseConnection {
    let c = cluster().await;
    let name = c.fresh_database(true).await;
    c.connect(ochre_server::pg::OWNER_ROLE, &name).await
}

fn committed_snapshot() -> String {
    std::fs::read_to_string(snapshot_path())
        .unwrap_or_else(|e| panic!("read {SNAPSHOT_FILE} (make schema-snapshot writes it): {e}"))
}

#[tokio::test]
async fn the_migrated_schema_matches_the_committed_snapshot() {
    let db = fresh_db_as_owner().await;
    let diff = unified_diff(&committed_snapshot(), &schema_snapshot(&db).await);
    assert!(
        diff.is_empty(),
        "the migrated schema differs from {SNAPSHOT_FILE}; if the change is intended, run \
         `make schema-snapshot` and commit the file.\n\
         '-' lines are only in the snapshot, '+' lines only in the database:\n{diff}"
    );
}

#[tokio::test]
async fn changing_a_policy_without_regenerating_the_snapshot_fails_the_snapshot_test() {
    let db = fresh_db_as_owner().await;
    db.execute_unprepared("ALTER POLICY customers_read ON customers USING (org_id = app_org())")
        .await
        .expect("alter the policy");
    let diff = unified_diff(&committed_snapshot(), &schema_snapshot(&db).await);
    assert!(
        diff.contains("@@ table customers: owner ochre_owner, row level security enabled and forced > policy customers_read: PERMISSIVE FOR SELECT TO ochre_app\n"),
        "the diff does not name the policy:\n{diff}"
    );
    assert!(
        diff.contains("\n-     USING (org_id = ( SELECT app_org() AS app_org))\n"),
        "the diff does not show the committed USING clause:\n{diff}"
    );
    assert!(
        diff.contains("\n+     USING (org_id = app_org())\n"),
        "the diff does not show the altered USING clause:\n{diff}"
    );
}
