//! The purge after the grace, run as an operator runs it (`ochre purge`):
//! complete (every table with an org_id column, found in the catalog, holds
//! no row of the workspace; a table without seed rows fails the test),
//! confined to that workspace, resumable, idempotent, a no-op for a
//! workspace restored meanwhile, and leaving a receipt.

use std::collections::BTreeMap;

use ochre_sdk::v1::MessageKind;
use ochre_tests::{
    identity::superuser_execute,
    ochre_against,
    prelude::*,
    sqlmatrix::{seed_org, tenant_tables, unseeded_tables},
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use uuid::Uuid;

use super::{restore, schedule};

async fn scalar(db: &impl ConnectionTrait, sql: String) -> String {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<String>(0).unwrap()
}

/// Rows of `org` per tenant table.
async fn counts(db: &impl ConnectionTrait, tables: &[String], org: Uuid) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for t in tables {
        let n = scalar(
            db,
            format!("SELECT count(*)::text FROM {t} WHERE org_id = '{org}'"),
        )
        .await;
        out.insert(t.clone(), n.parse().unwrap());
    }
    out
}

/// A digest of `org`'s rows per tenant table (every column of every row).
async fn digests(
    db: &impl ConnectionTrait,
    tables: &[String],
    org: Uuid,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for t in tables {
        let sql = format!(
            "SELECT md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) \
               FROM {t} r WHERE org_id = '{org}'"
        );
        out.insert(t.clone(), scalar(db, sql).await);
    }
    out
}

/// Runs `ochre` with `args` against the app's database; its stdout.
async fn ochre(app: &TestApp, args: &[&str]) -> String {
    let output = ochre_against(app)
        .args(args)
        .output()
        .await
        .expect("run ochre");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "ochre {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The `workspaces` part of an `ochre purge` report.
fn report(stdout: &str) -> serde_json::Value {
    let json = stdout
        .trim()
        .strip_prefix("ochre purge: ")
        .expect("a report");
    serde_json::from_str::<serde_json::Value>(json).unwrap()["workspaces"].clone()
}

/// The receipt of `org` from `ochre purge --receipts`.
async fn receipt(app: &TestApp, org: &str) -> Option<serde_json::Value> {
    ochre(app, &["purge", "--receipts"])
        .await
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["purged_org_id"] == org)
}

#[tokio::test]
async fn the_purge_deletes_every_row_of_a_workspace_past_its_grace_from_every_table_and_nothing_else()
 {
    let app = spawn_app().await;
    let su = app.superuser_db().await;
    let doomed = seed_org(&su, "Doomed").await;
    let kept = seed_org(&su, "Kept").await;
    let tables = tenant_tables(&su).await;
    let unseeded = unseeded_tables(&su, &[doomed.id, kept.id]).await;
    assert!(unseeded.is_empty(), "seed rows for {unseeded:?}");
    let seeded = counts(&su, &tables, doomed.id).await;
    let kept_before = digests(&su, &tables, kept.id).await;
    superuser_execute(
        &app,
        &format!(
            "UPDATE orgs SET deleted_at = now() - interval '31 days', \
               purge_after = now() - interval '1 day' WHERE id = '{}'",
            doomed.id
        ),
    )
    .await;

    let done = report(&ochre(&app, &["purge", "--batch-size", "2"]).await);
    assert_eq!(done["purged"], serde_json::json!([doomed.id]), "{done}");
    let left: BTreeMap<_, _> = counts(&su, &tables, doomed.id)
        .await
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(left.is_empty(), "rows of the purged org remain: {left:?}");
    let org_rows = scalar(
        &su,
        format!("SELECT count(*)::text FROM orgs WHERE id = '{}'", doomed.id),
    )
    .await;
    assert_eq!(org_rows, "0");
    assert_eq!(
        digests(&su, &tables, kept.id).await,
        kept_before,
        "the other org changed"
    );

    let r = receipt(&app, &doomed.id.to_string())
        .await
        .expect("a receipt");
    assert!(r["completed_at"].is_string(), "{r}");
    for (table, n) in &seeded {
        assert_eq!(
            r["deleted"][table].as_i64().unwrap_or(0),
            *n,
            "{table} in {r}"
        );
    }
    assert_eq!(r["deleted"]["orgs"], 1, "{r}");
    let mut verified: Vec<String> = serde_json::from_value(r["tables_verified"].clone()).unwrap();
    verified.sort();
    let mut expected = tables.clone();
    expected.sort();
    assert_eq!(verified, expected, "every tenant table was checked");
    let text = r.to_string();
    assert!(
        !text.contains("@example.com"),
        "no personal data in the receipt: {text}"
    );
}

#[tokio::test]
async fn an_interrupted_purge_finishes_when_run_again_and_the_workspace_cannot_be_restored_meanwhile()
 {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Doomed").await;
    let api = Caller::user(&app, &owner, &org);
    let customer = api.customer("gone@example.com").await;
    let conversation = api.conversation(&customer.id, "Bye").await;
    for body in ["one", "two", "three"] {
        api.message(&conversation.id, MessageKind::InboundEmail, body)
            .await;
    }
    schedule(&app, &owner.access_token, &org, &owner.password, "")
        .await
        .expect("schedule");

    let early = report(&ochre(&app, &["purge"]).await);
    assert_eq!(
        early["purged"],
        serde_json::json!([]),
        "not due yet: {early}"
    );
    let later = (chrono::Utc::now() + chrono::Duration::days(31)).to_rfc3339();
    let args = ["purge", "--as-of", &later, "--batch-size", "1"];
    let cut = report(&ochre(&app, &[&args[..], &["--max-steps", "2"]].concat()).await);
    assert_eq!(cut["unfinished"], serde_json::json!([org]), "{cut}");
    let partial = receipt(&app, &org)
        .await
        .expect("a receipt from the first step");
    assert!(partial["completed_at"].is_null(), "{partial}");
    let deleted: i64 = partial["deleted"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_i64().unwrap())
        .sum();
    assert_eq!(deleted, 2, "two steps of one row: {partial}");
    let r = restore(&app, &owner.access_token, &org).await;
    assert_eq!(code_of(&r), Code::FailedPrecondition, "{r:?}");
    let r = ochre_tests::identity::get_org(&app, &owner.access_token, Some(&org)).await;
    assert_eq!(code_of(&r), Code::FailedPrecondition, "{r:?}");

    let rest = report(&ochre(&app, &args).await);
    assert_eq!(rest["purged"], serde_json::json!([org]), "{rest}");
    let su = app.superuser_db().await;
    let tables = tenant_tables(&su).await;
    let id: Uuid = org.parse().unwrap();
    assert!(counts(&su, &tables, id).await.values().all(|n| *n == 0));
    let done = receipt(&app, &org).await.unwrap();
    assert!(done["completed_at"].is_string(), "{done}");
    assert_eq!(done["deleted"]["messages"], 3, "{done}");
    let again = report(&ochre(&app, &args).await);
    assert_eq!(again["steps"], 0, "nothing left to do: {again}");
}

#[tokio::test]
async fn a_restored_workspace_is_never_purged_whatever_the_date() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Saved").await;
    let api = Caller::user(&app, &owner, &org);
    let customer = api.customer("saved@example.com").await;
    schedule(&app, &owner.access_token, &org, &owner.password, "")
        .await
        .expect("schedule");
    restore(&app, &owner.access_token, &org)
        .await
        .expect("restore");
    let far = (chrono::Utc::now() + chrono::Duration::days(400)).to_rfc3339();
    let run = report(&ochre(&app, &["purge", "--as-of", &far]).await);
    assert_eq!(run["steps"], 0, "{run}");
    // Even a step aimed at it directly (a stale list of due orgs) does nothing.
    let service = app.service_db().await;
    let outcome = scalar(
        &service,
        format!("SELECT purge_org_step('{org}', now() + interval '400 days', 100)"),
    )
    .await;
    assert_eq!(outcome, "not_due");
    assert_eq!(
        api.customer_by_id(&customer.id).await.unwrap().id,
        customer.id
    );
    assert!(receipt(&app, &org).await.is_none());
}

#[tokio::test]
async fn a_new_tenant_table_without_a_purge_policy_stops_the_purge_before_it_begins() {
    let app = spawn_app().await;
    let su = app.superuser_db().await;
    let doomed = seed_org(&su, "Doomed").await;
    let id = doomed.id;
    superuser_execute(
        &app,
        &format!(
            "CREATE TABLE ticket_tags (org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE, \
                                       tag text NOT NULL); \
             ALTER TABLE ticket_tags OWNER TO ochre_owner; \
             ALTER TABLE ticket_tags ENABLE ROW LEVEL SECURITY; \
             ALTER TABLE ticket_tags FORCE ROW LEVEL SECURITY; \
             INSERT INTO ticket_tags VALUES ('{id}', 'vip'); \
             UPDATE orgs SET deleted_at = now() - interval '31 days', \
               purge_after = now() - interval '1 day' WHERE id = '{id}'"
        ),
    )
    .await;
    let output = ochre_against(&app).arg("purge").output().await.unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "the purge must fail: {said}");
    assert!(
        said.contains("ticket_tags"),
        "the operator is told which table: {said}"
    );
    let state = scalar(
        &su,
        format!(
            "SELECT (SELECT count(*) FROM ticket_tags)::text || '/' || \
                    (purge_started_at IS NULL)::text FROM orgs WHERE id = '{id}'"
        ),
    )
    .await;
    assert_eq!(state, "1/true", "nothing was touched: {said}");
    assert!(receipt(&app, &id.to_string()).await.is_none());
}
