//! The server behind PgBouncer in transaction pooling mode (the replicas
//! through it are in `replicas::through_pgbouncer`).

use ochre_tests::{bouncer::PgBouncer, cluster::cluster};

/// Why `OCHRE_DB_TRANSACTION_POOLING` exists: behind PgBouncer in
/// transaction mode a statement prepared in one transaction is gone
/// (`DEALLOCATE ALL` at release) when the next one binds it.
#[tokio::test]
async fn behind_pgbouncer_the_pools_work_only_with_transaction_pooling_on() {
    use ochre_server::db::Db;
    use secrecy::SecretString;
    let database = cluster().await.fresh_database(true).await;
    let bouncer = PgBouncer::start(&database).await;
    let urls = bouncer.urls();
    let (app, service) = (
        SecretString::from(urls.app),
        SecretString::from(urls.service),
    );
    let off = Db::connect(&app, &service, 1, false)
        .await
        .expect("connects");
    let failed = async {
        for _ in 0..3 {
            off.migrations_current().await?;
        }
        Ok::<_, sea_orm::DbErr>(())
    }
    .await
    .expect_err("the Bind misses");
    assert!(
        failed.to_string().contains("prepared statement"),
        "{failed}"
    );
    let logged = ochre_server::db::safe_text(&failed);
    assert!(
        logged.contains("set OCHRE_DB_TRANSACTION_POOLING=true"),
        "the log line names the setting: {logged}"
    );
    let on = Db::connect(&app, &service, 1, true)
        .await
        .expect("connects");
    for _ in 0..3 {
        assert_eq!(on.migrations_current().await.ok(), Some(true));
    }
}
