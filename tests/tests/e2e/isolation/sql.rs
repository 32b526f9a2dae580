//! SQL-level isolation, generated from the catalog: every tenant table (every
//! table of schema `public` with an `org_id` column) × every caller of an org
//! (a member of each role, an API key of each role) × {own org, another org,
//! no org set, another org claimed without membership} × SELECT, INSERT,
//! UPDATE, DELETE, run as `ochre_app` in rolled-back transactions. What each
//! cell must answer comes from `sqlmatrix::expected_policy`; a new table gets
//! the default expectation and must be seeded in `sqlmatrix::seed_org`.

use ochre_tests::{
    cluster::cluster,
    sqlmatrix::{
        Access, Expect, Op, Outcome, SeedOrg, Settings, as_written_by, expected_policy, fresh_row,
        insert_columns, run, seed_org, statement, tenant_tables, unseeded_tables, update_column,
    },
};
use sea_orm::{ConnectionTrait as _, DatabaseConnection};

struct Db {
    su: DatabaseConnection,
    app: DatabaseConnection,
    a: SeedOrg,
    b: SeedOrg,
}

/// A fresh database with orgs A and B seeded, every tenant table covered.
async fn seeded() -> Db {
    let c = cluster().await;
    let name = c.fresh_database(true).await;
    let su = c.connect_superuser(&name).await;
    let (a, b) = (seed_org(&su, "a").await, seed_org(&su, "b").await);
    let missing = unseeded_tables(&su, &[a.id, b.id]).await;
    assert!(
        missing.is_empty(),
        "tenant tables without a seed row for both orgs (add one in sqlmatrix::seed_org): {missing:?}"
    );
    let app = c.connect(ochre_server::pg::APP_ROLE, &name).await;
    Db { su, app, a, b }
}

#[derive(Debug, Clone, Copy)]
enum Context {
    /// The caller's own org, its rows.
    Own,
    /// The caller's own org set, the rows of org B.
    OtherOrg,
    /// Nothing set, the rows of org A.
    NoOrg,
    /// Org B set by a member (or key) of A only, the rows of B.
    ClaimedOrg,
}

const CONTEXTS: [Context; 4] = [
    Context::Own,
    Context::OtherOrg,
    Context::NoOrg,
    Context::ClaimedOrg,
];

/// Runs the matrix on `tables` for every caller of org A; returns the
/// number of failed cells and a report line per table × caller × context.
async fn run_matrix(db: &Db, tables: &[String]) -> (usize, String) {
    let (mut failures, mut report) = (0, String::new());
    for table in tables {
        let policy = expected_policy(table);
        let column = update_column(&db.su, table).await;
        let insert_cols = insert_columns(&db.su, table).await;
        let row_a = fresh_row(&db.su, table, db.a.id).await;
        let row_b = fresh_row(&db.su, table, db.b.id).await;
        for (label, role, own) in db.a.callers() {
            for ctx in CONTEXTS {
                let (settings, target, row) = match ctx {
                    Context::Own => (own, db.a.id, &row_a),
                    Context::OtherOrg => (own, db.b.id, &row_b),
                    Context::NoOrg => (Settings::default(), db.a.id, &row_a),
                    Context::ClaimedOrg => (
                        Settings {
                            org: Some(db.b.id),
                            ..own
                        },
                        db.b.id,
                        &row_b,
                    ),
                };
                let mut line = format!("{table:<20} {label:<16} {:<11}", format!("{ctx:?}"));
                for op in Op::ALL {
                    let key = label.ends_with(" key");
                    let expect = Expect::of(&policy, op, role, matches!(ctx, Context::Own), key);
                    let row = as_written_by(row, settings);
                    let (sql, values) = statement(op, table, target, &row, &insert_cols, &column);
                    let got = run(&db.app, settings, &sql, values).await;
                    line += &format!(" | {:?} {got}", op);
                    if !expect.matches(&got) {
                        failures += 1;
                        line += &format!(" !! expected {expect:?}");
                    }
                }
                report += &line;
                report.push('\n');
            }
        }
    }
    (failures, report)
}

#[tokio::test]
async fn every_tenant_table_isolates_every_statement_by_org_and_role() {
    let db = seeded().await;
    let tables = tenant_tables(&db.su).await;
    for known in [
        "api_keys",
        "conversations",
        "customers",
        "invitations",
        "memberships",
        "messages",
    ] {
        assert!(
            tables.iter().any(|t| t == known),
            "{known} not discovered: {tables:?}"
        );
    }
    let (failures, report) = run_matrix(&db, &tables).await;
    assert_eq!(failures, 0, "{failures} cells failed:\n{report}");
}

#[tokio::test]
async fn a_light_agent_reads_but_every_write_is_refused_on_every_tenant_table() {
    let db = seeded().await;
    let light = db.a.callers().into_iter().filter(|c| c.1 == "light_agent");
    let light: Vec<_> = light.collect();
    assert_eq!(light.len(), 2, "a light agent member and a light agent key");
    let mut failures = Vec::new();
    for table in tenant_tables(&db.su).await {
        let policy = expected_policy(&table);
        let column = update_column(&db.su, &table).await;
        let insert_cols = insert_columns(&db.su, &table).await;
        let row = fresh_row(&db.su, &table, db.a.id).await;
        for (label, _, settings) in &light {
            let row = as_written_by(&row, *settings);
            for op in Op::ALL {
                let (sql, values) = statement(op, &table, db.a.id, &row, &insert_cols, &column);
                let got = run(&db.app, *settings, &sql, values).await;
                let ok = match op {
                    Op::Select => match policy.select {
                        Access::Roles(r) | Access::UsersOnly(r) if r.contains(&"light_agent") => {
                            Expect::SeesOnlyOwn.matches(&got)
                        }
                        Access::NotGranted => matches!(got, Outcome::PermissionDenied),
                        _ => Expect::SeesNone.matches(&got),
                    },
                    _ => matches!(
                        got,
                        Outcome::PermissionDenied | Outcome::RlsViolation | Outcome::Affected(0)
                    ),
                };
                if !ok {
                    failures.push(format!("{table} {label} {op:?}: {got}"));
                }
            }
        }
    }
    assert_eq!(failures, Vec::<String>::new());
}

#[tokio::test]
async fn a_new_tenant_table_is_covered_by_the_matrix_once_it_is_seeded() {
    let db = seeded().await;
    db.su
        .execute_unprepared(
            "CREATE TABLE widgets (org_id uuid NOT NULL REFERENCES orgs (id), id uuid NOT NULL, \
               label text NOT NULL, PRIMARY KEY (org_id, id), UNIQUE (org_id, label)); \
             ALTER TABLE widgets OWNER TO ochre_owner; \
             ALTER TABLE widgets ENABLE ROW LEVEL SECURITY; ALTER TABLE widgets FORCE ROW LEVEL SECURITY; \
             CREATE POLICY widgets_read ON widgets FOR SELECT TO ochre_app \
               USING (org_id = app_org() AND (SELECT app_role()) IS NOT NULL); \
             CREATE POLICY widgets_write ON widgets FOR INSERT TO ochre_app \
               WITH CHECK (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin', 'agent')); \
             CREATE POLICY widgets_update ON widgets FOR UPDATE TO ochre_app \
               USING (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin', 'agent')); \
             GRANT SELECT, INSERT, UPDATE ON widgets TO ochre_app;",
        )
        .await
        .unwrap();
    let orgs = [db.a.id, db.b.id];
    assert_eq!(unseeded_tables(&db.su, &orgs).await, ["widgets"]);
    db.su
        .execute_unprepared(&format!(
            "INSERT INTO widgets VALUES ('{}', gen_random_uuid(), 'w'), ('{}', gen_random_uuid(), 'w')",
            db.a.id, db.b.id
        ))
        .await
        .unwrap();
    assert_eq!(unseeded_tables(&db.su, &orgs).await, Vec::<String>::new());
    let (failures, report) = run_matrix(&db, &["widgets".to_owned()]).await;
    assert_eq!(failures, 0, "{report}");

    // A light agent able to write it is caught.
    db.su
        .execute_unprepared(
            "ALTER POLICY widgets_write ON widgets WITH CHECK (org_id = app_org() AND (SELECT app_role()) IS NOT NULL)",
        )
        .await
        .unwrap();
    let (failures, report) = run_matrix(&db, &["widgets".to_owned()]).await;
    assert_eq!(failures, 2, "{report}");
    let caught = report
        .matches("Insert rows 1 !! expected RlsViolation")
        .count();
    assert_eq!(caught, 2, "the light agent member and key: {report}");
}

#[tokio::test]
async fn a_stray_delete_grant_fails_the_matrix() {
    let db = seeded().await;
    db.su
        .execute_unprepared("GRANT DELETE ON customers TO ochre_app")
        .await
        .unwrap();
    let (failures, report) = run_matrix(&db, &["customers".to_owned()]).await;
    // No DELETE policy: every caller now gets "0 rows" instead of a denial.
    assert_eq!(failures, db.a.callers().len() * CONTEXTS.len(), "{report}");
    assert!(
        report.contains("Delete rows 0 !! expected PermissionDenied"),
        "{report}"
    );
}
