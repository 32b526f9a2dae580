//! What a stolen database password buys. Connected as `ochre_app` with its
//! password, an attacker sets every setting the old design read (`app.*`)
//! and a made-up pinned caller in a custom setting, or tries to write the
//! owner's caller into the parameter that does hold it (refused): every
//! table of the schema (found in the catalog, so a new one is covered)
//! shows no row and takes no write. Connected as `ochre_service`, it is
//! refused every table outright. Every route to that parameter is attacked
//! in `pinned.rs`; the review's impersonation chain is in
//! `impersonation.rs`.

use ochre_server::pg::PINNED_CALLER_PARAMETER;
use ochre_tests::{
    cluster::cluster,
    prelude::{Credential, become_caller, forge_settings},
    sqlmatrix::{
        Op, Outcome, SeedOrg, fresh_row, ident, insert_columns, public_tables, run_in, seed_org,
        statement, tenant_tables, update_column,
    },
};
use sea_orm::{
    ConnectionTrait as _, DatabaseConnection, DatabaseTransaction, DbBackend, Statement,
    TransactionTrait as _,
};
use uuid::Uuid;

/// How the attacker tries to become a caller in one transaction.
#[derive(Debug, Clone, Copy)]
enum Forgery {
    /// `app.org_id`/`app.user_id` of the victim org's owner, and a made-up
    /// pinned caller naming them.
    OwnerSettings,
    /// `app.org_id`/`app.api_key_id` of the victim's admin API key.
    KeySettings,
    /// The owner's caller written into the parameter that does hold the
    /// pinned caller: refused, so the statement runs as nobody.
    PinnedParameter,
}

const FORGERIES: [Forgery; 3] = [
    Forgery::OwnerSettings,
    Forgery::KeySettings,
    Forgery::PinnedParameter,
];

/// Opens a transaction on `app` and applies `forgery` against `victim`.
async fn forged(
    app: &DatabaseConnection,
    victim: &SeedOrg,
    forgery: Forgery,
) -> DatabaseTransaction {
    let tx = app.begin().await.unwrap();
    match forgery {
        Forgery::OwnerSettings => {
            forge_settings(&tx, Some(victim.id), Some(victim.user("owner")), None).await
        }
        Forgery::KeySettings => {
            let key = victim.keys.iter().find(|(r, _)| *r == "admin").unwrap().1;
            forge_settings(&tx, Some(victim.id), None, Some(key)).await
        }
        Forgery::PinnedParameter => {
            let owner = victim.user("owner").simple();
            let set = format!(
                "SELECT set_config('{PINNED_CALLER_PARAMETER}', 'ochre_v1,{},{owner},,{owner},owner', true)",
                victim.id.simple()
            );
            tx.execute_unprepared("SAVEPOINT forging").await.unwrap();
            let refused = tx
                .execute_unprepared(&set)
                .await
                .err()
                .map(|e| e.to_string());
            assert!(
                refused
                    .as_deref()
                    .is_some_and(|e| e.contains("permission denied")),
                "{refused:?}"
            );
            tx.execute_unprepared("ROLLBACK TO SAVEPOINT forging")
                .await
                .unwrap();
        }
    }
    tx
}

/// The one table both runtime roles may read: migration names (the server
/// checks at startup that the schema is current). It holds no tenant data.
const SCHEMA_VERSIONS: &str = "seaql_migrations";

/// Whether `got` is a refusal of `op` on `table`: no row seen of any org,
/// no row written (zero rows, an RLS violation, or no privilege at all).
fn refused(table: &str, op: Op, got: &Outcome) -> bool {
    match (op, got) {
        (Op::Select, Outcome::Seen { .. }) if table == SCHEMA_VERSIONS => true,
        (Op::Select, Outcome::Seen { target, others }) => *target == 0 && *others == 0,
        (_, Outcome::Affected(n)) => *n == 0,
        (_, Outcome::PermissionDenied | Outcome::RlsViolation) => true,
        _ => false,
    }
}

/// The statements of every op against `table` for `victim`'s rows. Tables
/// without `org_id` get a plain count, an update of every row and a delete
/// of every row.
async fn statements(
    su: &DatabaseConnection,
    table: &str,
    tenant: bool,
    victim: Uuid,
) -> Vec<(Op, String, Vec<sea_orm::Value>)> {
    if tenant {
        let row = fresh_row(su, table, victim).await;
        let cols = insert_columns(su, table).await;
        let set = update_column(su, table).await;
        return Op::ALL
            .iter()
            .map(|&op| {
                let (sql, values) = statement(op, table, victim, &row, &cols, &set);
                (op, sql, values)
            })
            .collect();
    }
    let t = ident(table);
    let first = su
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT attname::text AS c FROM pg_attribute WHERE attrelid = $1::regclass AND attnum = 1",
            [format!("public.{t}").into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "c")
        .unwrap();
    let c = ident(&first);
    vec![
        (
            Op::Select,
            format!("SELECT count(*) AS target, 0::bigint AS others FROM {t}"),
            vec![],
        ),
        (Op::Update, format!("UPDATE {t} SET {c} = {c}"), vec![]),
        (Op::Delete, format!("DELETE FROM {t}"), vec![]),
    ]
}

#[tokio::test]
async fn forged_settings_see_and_write_nothing_in_any_table() {
    let c = cluster().await;
    let name = c.fresh_database(true).await;
    let su = c.connect_superuser(&name).await;
    let victim = seed_org(&su, "victim").await;
    let _other = seed_org(&su, "other").await;
    let app = c.connect(ochre_server::pg::APP_ROLE, &name).await;
    let tables = public_tables(&su).await;
    let tenant = tenant_tables(&su).await;
    for known in [
        "customers",
        "users",
        "sessions",
        "integration_secrets",
        "audit_log",
    ] {
        assert!(tables.iter().any(|t| t == known), "{known}: {tables:?}");
    }
    // The control: the owner's own credential does see the victim's rows.
    let customers = statements(&su, "customers", true, victim.id).await;
    let tx = app.begin().await.unwrap();
    let owner = Credential::seeded_user(victim.user("owner"));
    become_caller(&tx, &owner, Some(victim.id)).await;
    let seen = run_in(&tx, &customers[0].1, customers[0].2.clone()).await;
    tx.rollback().await.unwrap();
    assert!(
        matches!(seen, Outcome::Seen { target, others: 0 } if target > 0),
        "{seen}"
    );
    let mut wrong = Vec::new();
    let mut cells = 0;
    for table in &tables {
        let ops = statements(&su, table, tenant.contains(table), victim.id).await;
        for forgery in FORGERIES {
            for (op, sql, values) in &ops {
                let tx = forged(&app, &victim, forgery).await;
                let got = run_in(&tx, sql, values.clone()).await;
                tx.rollback().await.ok();
                cells += 1;
                if !refused(table, *op, &got) {
                    wrong.push(format!("{table} {forgery:?} {op:?}: {got}"));
                }
            }
        }
    }
    assert!(cells > 100, "the attack ran: {cells} cells");
    assert!(wrong.is_empty(), "forgeries that worked: {wrong:#?}");
}

#[tokio::test]
async fn the_service_role_is_refused_every_table_whatever_it_sets() {
    let c = cluster().await;
    let name = c.fresh_database(true).await;
    let su = c.connect_superuser(&name).await;
    let victim = seed_org(&su, "victim").await;
    let service = c.connect(ochre_server::pg::SERVICE_ROLE, &name).await;
    let tenant = tenant_tables(&su).await;
    let mut wrong = Vec::new();
    for table in public_tables(&su).await {
        for (op, sql, values) in statements(&su, &table, tenant.contains(&table), victim.id).await {
            let tx = service.begin().await.unwrap();
            forge_settings(&tx, Some(victim.id), Some(victim.user("owner")), None).await;
            let got = run_in(&tx, &sql, values).await;
            tx.rollback().await.ok();
            let readable = table == SCHEMA_VERSIONS && op == Op::Select;
            if got != Outcome::PermissionDenied && !readable {
                wrong.push(format!("{table} {op:?}: {got}"));
            }
        }
    }
    assert!(wrong.is_empty(), "ochre_service reached tables: {wrong:#?}");
}
