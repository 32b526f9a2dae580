//! The column classification registry against the catalog of a migrated
//! database: every column of every tenant table is classified, and every
//! classified column exists. A new column fails the check by name.

use ochre_server::{
    exports::drift::{CATALOG_QUERY, drift},
    pg,
};
use sea_orm::{ConnectionTrait as _, DatabaseConnection, DbBackend, Statement};

use ochre_tests::cluster::cluster;

async fn tenant_columns(db: &DatabaseConnection) -> Vec<(String, String)> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, CATALOG_QUERY))
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.try_get_by("table_name").unwrap(),
                r.try_get_by("column_name").unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_column_of_every_tenant_table_is_classified_for_export() {
    let cluster = cluster().await;
    let name = cluster.fresh_database(true).await;
    let db = cluster.connect(pg::OWNER_ROLE, &name).await;
    let columns = tenant_columns(&db).await;
    assert!(columns.iter().any(|(t, c)| t == "orgs" && c == "name"));
    assert!(columns.iter().any(|(t, c)| t == "messages" && c == "body"));
    let found = drift(&columns);
    assert!(
        found.is_empty(),
        "the export registry (server/src/exports/registry.rs) and the schema disagree:\n\
         unclassified columns: {:?}\nclassified but gone: {:?}",
        found.unclassified,
        found.missing
    );
}

#[tokio::test]
async fn a_new_or_renamed_column_fails_the_registry_check_by_name() {
    let cluster = cluster().await;
    let name = cluster.fresh_database(true).await;
    let db = cluster.connect(pg::OWNER_ROLE, &name).await;
    db.execute_unprepared("ALTER TABLE customers ADD COLUMN loyalty_tier text")
        .await
        .unwrap();
    db.execute_unprepared("ALTER TABLE invitations RENAME COLUMN token_hash TO token_digest")
        .await
        .unwrap();
    let found = drift(&tenant_columns(&db).await);
    assert_eq!(
        found.unclassified,
        ["customers.loyalty_tier", "invitations.token_digest"]
    );
    assert_eq!(found.missing, ["invitations.token_hash"]);
}
