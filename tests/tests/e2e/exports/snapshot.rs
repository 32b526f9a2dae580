//! One snapshot: an export holds the rows committed before it began and
//! none committed while it was reading, even in the tables it reads last.

use std::time::Duration;

use ochre_tests::prelude::*;
use sea_orm::{ConnectionTrait as _, DbBackend, Statement, TransactionTrait as _};

use super::{export, unzip};
use crate::vault::connect;

#[tokio::test]
async fn rows_committed_while_an_export_reads_are_not_in_it() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Acme").await;
    connect(
        &app,
        &owner,
        &org,
        "openai",
        &[("api_key", &random_secret(24))],
    )
    .await;

    // Hold the export up at `surveys` (read after `integrations` and before
    // `audit_log`) while another integration is connected and committed.
    let su = app.superuser_db().await;
    let lock = su.begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE surveys IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let exporting = export(&app, &owner.access_token, &org, "");
    let meanwhile = async {
        let waiting = Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM pg_locks \
              WHERE NOT granted AND relation = 'surveys'::regclass",
        );
        for _ in 0..200 {
            let row = su.query_one_raw(waiting.clone()).await.unwrap().unwrap();
            if row.try_get_by::<i64, _>("n").unwrap() > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        connect(
            &app,
            &owner,
            &org,
            "anthropic",
            &[("api_key", &random_secret(24))],
        )
        .await;
        lock.rollback().await.unwrap();
    };
    let (bytes, ()) = tokio::join!(exporting, meanwhile);
    let archive = unzip(&bytes.unwrap());
    archive.assert_consistent(&org);

    let providers: Vec<_> = archive
        .rows("integrations")
        .into_iter()
        .map(|r| r["provider"].clone())
        .collect();
    assert_eq!(providers, ["openai"]);
    let connected = archive
        .rows("audit_log")
        .into_iter()
        .filter(|e| e["action"] == "integration.connected")
        .count();
    assert_eq!(connected, 1, "the audit chain is read in the same snapshot");
    let now = su
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT count(*) AS n FROM audit_log \
                  WHERE org_id = '{org}' AND action = 'integration.connected'"
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        now.try_get_by::<i64, _>("n").unwrap(),
        2,
        "both are committed"
    );
}
